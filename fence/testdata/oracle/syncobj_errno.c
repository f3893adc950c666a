#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <drm.h>
#ifndef DRM_IOCTL_SYNCOBJ_EVENTFD
struct drm_syncobj_eventfd { __u32 handle; __u32 flags; __u64 point; __s32 fd; __u32 pad; };
#define DRM_IOCTL_SYNCOBJ_EVENTFD DRM_IOWR(0xCF, struct drm_syncobj_eventfd)
#endif

static int fd;
static int X(unsigned long req, void *arg) { int r = ioctl(fd, req, arg); return r < 0 ? errno : 0; }
static uint32_t mk(void) { struct drm_syncobj_create c = {0}; X(DRM_IOCTL_SYNCOBJ_CREATE, &c); return c.handle; }

int main(void)
{
	fd = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	if (fd < 0) { printf("open -> errno=%d\n", errno); return 1; }
	uint32_t h = mk(), h2 = mk(), bad = 0xdead;
	uint64_t pt;
	struct drm_syncobj_wait w;
	struct drm_syncobj_timeline_wait tw;
	struct drm_syncobj_timeline_array ta;
	struct drm_syncobj_transfer tr;
	struct drm_syncobj_handle hd;

	memset(&w, 0, sizeof w); w.handles = 0x1000; w.count_handles = 0x100000;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_WAIT, &w); printf("wait count=2^20 handles=unmapped -> errno=%d\n", e_); }
	w.count_handles = 0x100001;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_WAIT, &w); printf("wait count=2^20+1 handles=unmapped -> errno=%d\n", e_); }
	w.count_handles = 0x80000;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_WAIT, &w); printf("wait count=2^19 handles=unmapped -> errno=%d\n", e_); }
	memset(&ta, 0, sizeof ta); ta.handles = 0x1000; ta.count_handles = 0x100000;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_QUERY, &ta); printf("query count=2^20 handles=unmapped -> errno=%d\n", e_); }

	pt = 5; memset(&ta, 0, sizeof ta); ta.handles = (uintptr_t)&h; ta.points = (uintptr_t)&pt; ta.count_handles = 1;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &ta); printf("timeline_signal h@5 -> errno=%d\n", e_); }
	pt = 3; { int e_ = X(DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &ta); printf("timeline_signal h@3 -> errno=%d\n", e_); }
	pt = 0; { int e_ = X(DRM_IOCTL_SYNCOBJ_QUERY, &ta); printf("query h -> errno=%d point=%llu\n", e_, (unsigned long long)pt); }
	ta.flags = 1; pt = 0; { int e_ = X(DRM_IOCTL_SYNCOBJ_QUERY, &ta); printf("query h LAST_SUBMITTED -> errno=%d point=%llu\n", e_, (unsigned long long)pt); }
	ta.flags = 0; ta.points = 0x1000;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_QUERY, &ta); printf("query points=unmapped -> errno=%d\n", e_); }

	memset(&tr, 0, sizeof tr); tr.src_handle = h; tr.dst_handle = h2; tr.src_point = 5; tr.flags = 1;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_TRANSFER, &tr); printf("transfer flags=WAIT_ALL valid -> errno=%d\n", e_); }
	tr.src_handle = bad; { int e_ = X(DRM_IOCTL_SYNCOBJ_TRANSFER, &tr); printf("transfer flags=WAIT_ALL unknown src -> errno=%d\n", e_); }
	tr.src_handle = h; tr.dst_handle = bad; tr.flags = 0; { int e_ = X(DRM_IOCTL_SYNCOBJ_TRANSFER, &tr); printf("transfer unknown dst -> errno=%d\n", e_); }
	tr.dst_handle = h2; tr.src_point = 7; { int e_ = X(DRM_IOCTL_SYNCOBJ_TRANSFER, &tr); printf("transfer src point 7 unsubmitted -> errno=%d\n", e_); }
	tr.src_point = 5; tr.dst_point = 9; { int e_ = X(DRM_IOCTL_SYNCOBJ_TRANSFER, &tr); printf("transfer 5 -> h2@9 -> errno=%d\n", e_); }
	ta.handles = (uintptr_t)&h2; ta.points = (uintptr_t)&pt; pt = 0;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_QUERY, &ta); printf("query h2 -> errno=%d point=%llu\n", e_, (unsigned long long)pt); }

	memset(&hd, 0, sizeof hd); hd.handle = h; hd.flags = 3;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &hd); printf("handle_to_fd flags=3 -> errno=%d\n", e_); }
	hd.flags = 0; hd.handle = bad; { int e_ = X(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &hd); printf("handle_to_fd unknown -> errno=%d\n", e_); }
	hd.flags = 1; { int e_ = X(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &hd); printf("handle_to_fd EXPORT unknown -> errno=%d\n", e_); }
	uint32_t e = mk(); hd.handle = e; { int e_ = X(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &hd); printf("handle_to_fd EXPORT fenceless -> errno=%d\n", e_); }
	hd.handle = bad; hd.fd = -1; { int e_ = X(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &hd); printf("fd_to_handle IMPORT fd=-1 unknown handle -> errno=%d\n", e_); }

	memset(&tw, 0, sizeof tw); uint32_t hs[2] = {h, bad}; tw.handles = (uintptr_t)hs; tw.count_handles = 2; tw.points = 0x1000;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw); printf("timeline_wait unknown handle + points unmapped -> errno=%d\n", e_); }
	tw.count_handles = 1; { int e_ = X(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw); printf("timeline_wait points unmapped -> errno=%d\n", e_); }
	pt = 10; tw.points = (uintptr_t)&pt; tw.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT; tw.first_signaled = 0xdead;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw); printf("timeline_wait h@10 FOR_SUBMIT timeout 0 -> errno=%d first=%#x\n", e_, tw.first_signaled); }
	pt = 4; tw.flags = 0;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &tw); printf("timeline_wait h@4 -> errno=%d first=%#x\n", e_, tw.first_signaled); }
	memset(&w, 0, sizeof w); w.handles = (uintptr_t)&h; w.count_handles = 1; w.flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_WAIT, &w); printf("wait flags=AVAILABLE -> errno=%d\n", e_); }

	struct drm_syncobj_eventfd ev = { .handle = h, .fd = -1 };
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_EVENTFD, &ev); printf("eventfd fd=-1 -> errno=%d\n", e_); }
	int nul = open("/dev/null", O_RDWR); ev.fd = nul;
	{ int e_ = X(DRM_IOCTL_SYNCOBJ_EVENTFD, &ev); printf("eventfd /dev/null(%s) -> errno=%d\n", nul >= 0 ? "valid" : "-1", e_); }
	ev.handle = bad; ev.fd = -1; { int e_ = X(DRM_IOCTL_SYNCOBJ_EVENTFD, &ev); printf("eventfd unknown handle fd=-1 -> errno=%d\n", e_); }
	return 0;
}
