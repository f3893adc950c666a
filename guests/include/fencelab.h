/*
 * fencelab.h: the guest side of fencelab's guest ABI for C programs built
 * with clang --target=wasm32-wasi (see guests/ABI.md).
 *
 * It declares the `linux` module's system calls, turns their Linux error
 * numbers into wasi-libc's errno values (so `errno == EINVAL` means what
 * it means on Linux), and offers libdrm's names for the DRM calls a
 * fencing program makes: drmIoctl and the drmSyncobj* family, with
 * libdrm's return conventions. Include it after nothing else it needs:
 * it brings in drm.h and virtgpu_drm.h from the UAPI headers (build with
 * -I/usr/include/libdrm, from Debian's libdrm-dev, and -Iguests/include).
 *
 *	int fd = fl_open("/dev/dri/renderD128", FL_O_RDWR);
 *	uint32_t s;
 *	drmSyncobjCreate(fd, 0, &s);
 *	int r = drmSyncobjWait(fd, &s, 1, fl_monotonic_ns() + 5000000,
 *			       DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, NULL);
 *	// r == -ETIME after 5 ms of virtual time
 */
#ifndef FENCELAB_H
#define FENCELAB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <drm.h>
#include <virtgpu_drm.h>

/* WASI has no ETIME (a syncobj wait's timeout); fencelab gives it a value
 * past WASI's error numbers. */
#ifndef ETIME
#define ETIME 1062
#endif

#define FL_IMPORT(name) __attribute__((import_module("linux"), import_name(name)))

FL_IMPORT("open") int32_t __fl_open(const char *path, int32_t len, int32_t flags);
FL_IMPORT("close") int32_t __fl_close(int32_t fd);
FL_IMPORT("dup") int32_t __fl_dup(int32_t fd);
FL_IMPORT("ioctl") int32_t __fl_ioctl(int32_t fd, uint32_t request, void *arg);
FL_IMPORT("read") int32_t __fl_read(int32_t fd, void *buf, int32_t len);
FL_IMPORT("write") int32_t __fl_write(int32_t fd, const void *buf, int32_t len);
FL_IMPORT("poll") int32_t __fl_poll(void *fds, int32_t nfds, int32_t timeout_ms);
FL_IMPORT("eventfd") int32_t __fl_eventfd(int32_t initval, int32_t flags);
FL_IMPORT("sendfd") int32_t __fl_sendfd(int32_t channel, int32_t fd);
FL_IMPORT("recvfd") int32_t __fl_recvfd(int32_t channel, int32_t flags);

/* Linux's flag values (wasi-libc's O_* are WASI's, not these). */
#define FL_O_RDWR     02
#define FL_O_NONBLOCK 04000
#define FL_O_CLOEXEC  02000000
#define FL_EFD_SEMAPHORE 1
#define FL_EFD_NONBLOCK  04000
#define FL_POLLIN  0x1
#define FL_POLLOUT 0x4

struct fl_pollfd {
	int32_t fd;
	int16_t events;
	int16_t revents;
};

/* fl_errno is the wasi-libc errno value for a Linux error number. */
static inline int fl_errno(int linux_errno)
{
	switch (linux_errno) {
	case 1: return EPERM;
	case 2: return ENOENT;
	case 4: return EINTR;
	case 9: return EBADF;
	case 11: return EAGAIN;
	case 12: return ENOMEM;
	case 13: return EACCES;
	case 14: return EFAULT;
	case 16: return EBUSY;
	case 17: return EEXIST;
	case 19: return ENODEV;
	case 22: return EINVAL;
	case 24: return EMFILE;
	case 25: return ENOTTY;
	case 28: return ENOSPC;
	case 34: return ERANGE;
	case 36: return ENAMETOOLONG;
	case 38: return ENOSYS;
	case 62: return ETIME;
	case 88: return ENOTSOCK;
	case 95: return EOPNOTSUPP;
	case 110: return ETIMEDOUT;
	default: return EIO;
	}
}

/* fl_ret turns a system call's result into the C convention: -1 with
 * errno set, or the result. */
static inline int fl_ret(int32_t r)
{
	if (r < 0) {
		errno = fl_errno(-r);
		return -1;
	}
	return r;
}

static inline int fl_open(const char *path, int flags) { return fl_ret(__fl_open(path, (int32_t)strlen(path), flags)); }
static inline int fl_close(int fd) { return fl_ret(__fl_close(fd)); }
static inline int fl_dup(int fd) { return fl_ret(__fl_dup(fd)); }
static inline int fl_ioctl(int fd, unsigned long request, void *arg) { return fl_ret(__fl_ioctl(fd, (uint32_t)request, arg)); }
static inline int fl_read(int fd, void *buf, int len) { return fl_ret(__fl_read(fd, buf, len)); }
static inline int fl_write(int fd, const void *buf, int len) { return fl_ret(__fl_write(fd, buf, len)); }
static inline int fl_poll(struct fl_pollfd *fds, int nfds, int timeout_ms) { return fl_ret(__fl_poll(fds, nfds, timeout_ms)); }
static inline int fl_eventfd(unsigned initval, int flags) { return fl_ret(__fl_eventfd((int32_t)initval, flags)); }
static inline int fl_sendfd(int channel, int fd) { return fl_ret(__fl_sendfd(channel, fd)); }
static inline int fl_recvfd(int channel, int flags) { return fl_ret(__fl_recvfd(channel, flags)); }

/* fl_monotonic_ns is CLOCK_MONOTONIC: the clock of the kernel's absolute
 * timeouts (virtual time in fencelab). */
static inline int64_t fl_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* drmIoctl is libdrm's: the ioctl, restarted while interrupted. */
static inline int drmIoctl(int fd, unsigned long request, void *arg)
{
	int ret;
	do {
		ret = fl_ioctl(fd, request, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret;
}

/* The drmSyncobj* family, with libdrm's conventions: -1 and errno, but
 * -errno from the waits. */
static inline int drmSyncobjCreate(int fd, uint32_t flags, uint32_t *handle)
{
	struct drm_syncobj_create args = { .flags = flags };
	int ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &args);
	if (ret)
		return ret;
	*handle = args.handle;
	return 0;
}

static inline int drmSyncobjDestroy(int fd, uint32_t handle)
{
	struct drm_syncobj_destroy args = { .handle = handle };
	return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &args);
}

static inline int drmSyncobjHandleToFD(int fd, uint32_t handle, int *obj_fd)
{
	struct drm_syncobj_handle args = { .handle = handle, .fd = -1 };
	int ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &args);
	if (ret)
		return ret;
	*obj_fd = args.fd;
	return 0;
}

static inline int drmSyncobjFDToHandle(int fd, int obj_fd, uint32_t *handle)
{
	struct drm_syncobj_handle args = { .fd = obj_fd };
	int ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &args);
	if (ret)
		return ret;
	*handle = args.handle;
	return 0;
}

static inline int drmSyncobjWait(int fd, uint32_t *handles, unsigned num_handles, int64_t timeout_nsec,
				 unsigned flags, uint32_t *first_signaled)
{
	struct drm_syncobj_wait args = { .handles = (uintptr_t)handles, .timeout_nsec = timeout_nsec,
		.count_handles = num_handles, .flags = flags };
	int ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, &args);
	if (ret < 0)
		return -errno;
	if (first_signaled)
		*first_signaled = args.first_signaled;
	return ret;
}

static inline int drmSyncobjReset(int fd, const uint32_t *handles, uint32_t count)
{
	struct drm_syncobj_array args = { .handles = (uintptr_t)handles, .count_handles = count };
	return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_RESET, &args);
}

static inline int drmSyncobjSignal(int fd, const uint32_t *handles, uint32_t count)
{
	struct drm_syncobj_array args = { .handles = (uintptr_t)handles, .count_handles = count };
	return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_SIGNAL, &args);
}

static inline int drmSyncobjTimelineSignal(int fd, const uint32_t *handles, uint64_t *points, uint32_t count)
{
	struct drm_syncobj_timeline_array args = { .handles = (uintptr_t)handles, .points = (uintptr_t)points,
		.count_handles = count };
	return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, &args);
}

static inline int drmSyncobjTimelineWait(int fd, uint32_t *handles, uint64_t *points, unsigned num_handles,
					 int64_t timeout_nsec, unsigned flags, uint32_t *first_signaled)
{
	struct drm_syncobj_timeline_wait args = { .handles = (uintptr_t)handles, .points = (uintptr_t)points,
		.timeout_nsec = timeout_nsec, .count_handles = num_handles, .flags = flags };
	int ret = drmIoctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &args);
	if (ret < 0)
		return -errno;
	if (first_signaled)
		*first_signaled = args.first_signaled;
	return ret;
}

static inline int drmSyncobjQuery(int fd, uint32_t *handles, uint64_t *points, uint32_t count)
{
	struct drm_syncobj_timeline_array args = { .handles = (uintptr_t)handles, .points = (uintptr_t)points,
		.count_handles = count };
	return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_QUERY, &args);
}

static inline int drmSyncobjTransfer(int fd, uint32_t dst_handle, uint64_t dst_point, uint32_t src_handle,
				     uint64_t src_point, uint32_t flags)
{
	struct drm_syncobj_transfer args = { .src_handle = src_handle, .dst_handle = dst_handle,
		.src_point = src_point, .dst_point = dst_point, .flags = flags };
	return drmIoctl(fd, DRM_IOCTL_SYNCOBJ_TRANSFER, &args);
}

/*
 * The seed's execbuffer and CONTEXT_INIT, in Linux 6.12's layout, under
 * fencelab's own names: the virtgpu_drm.h of older libdrm-dev packages
 * (Debian 12's) lacks the sync-object fields and CONTEXT_INIT.
 */
struct fl_virtgpu_execbuffer_syncobj {
	uint32_t handle;
	uint32_t flags; /* FL_EXECBUF_SYNCOBJ_RESET */
	uint64_t point;
};

struct fl_virtgpu_execbuffer {
	uint32_t flags; /* FL_EXECBUF_* */
	uint32_t size;
	uint64_t command; /* address of the command stream */
	uint64_t bo_handles;
	uint32_t num_bo_handles;
	int32_t fence_fd;
	uint32_t ring_idx;
	uint32_t syncobj_stride; /* sizeof(struct fl_virtgpu_execbuffer_syncobj) */
	uint32_t num_in_syncobjs;
	uint32_t num_out_syncobjs;
	uint64_t in_syncobjs;
	uint64_t out_syncobjs;
};

struct fl_virtgpu_context_set_param {
	uint64_t param;
	uint64_t value;
};

struct fl_virtgpu_context_init {
	uint32_t num_params;
	uint32_t pad;
	uint64_t ctx_set_params;
};

#define FL_EXECBUF_FENCE_FD_IN   0x01
#define FL_EXECBUF_FENCE_FD_OUT  0x02
#define FL_EXECBUF_RING_IDX      0x04
#define FL_EXECBUF_SYNCOBJ_RESET 0x01
#define FL_CONTEXT_PARAM_CAPSET_ID       1
#define FL_CONTEXT_PARAM_NUM_RINGS       2
#define FL_CONTEXT_PARAM_POLL_RINGS_MASK 3
#define FL_CAPSET_FENCELAB 31 /* fencelab's renderer (device/render.go) */

#define FL_IOCTL_VIRTGPU_EXECBUFFER   _IOWR('d', 0x42, struct fl_virtgpu_execbuffer)
#define FL_IOCTL_VIRTGPU_CONTEXT_INIT _IOWR('d', 0x4b, struct fl_virtgpu_context_init)

/* fl_context_init gives the file a context of fencelab's capset with
 * num_rings rings (CONTEXT_INIT). */
static inline int fl_context_init(int fd, uint32_t num_rings)
{
	struct fl_virtgpu_context_set_param params[2] = {
		{ FL_CONTEXT_PARAM_CAPSET_ID, FL_CAPSET_FENCELAB },
		{ FL_CONTEXT_PARAM_NUM_RINGS, num_rings },
	};
	struct fl_virtgpu_context_init args = { .num_params = 2, .ctx_set_params = (uintptr_t)params };
	return drmIoctl(fd, FL_IOCTL_VIRTGPU_CONTEXT_INIT, &args);
}

/* fl_work fills cmd with fencelab's renderer command for ns of modelled
 * GPU time. */
static inline void fl_work(uint32_t cmd[3], uint64_t ns)
{
	cmd[0] = 6 | 2 << 16; /* OpWork, two words follow */
	cmd[1] = (uint32_t)ns;
	cmd[2] = (uint32_t)(ns >> 32);
}

/* fl_submit runs a command stream on ring, after the in sync objects
 * (handle, point; point 0 for a binary one) and signalling the out ones
 * when it is done: EXECBUFFER as the seed's series defines it. */
static inline int fl_submit(int fd, uint32_t ring, const void *cmd, uint32_t size,
			    const struct fl_virtgpu_execbuffer_syncobj *in, uint32_t num_in,
			    const struct fl_virtgpu_execbuffer_syncobj *out, uint32_t num_out)
{
	struct fl_virtgpu_execbuffer args = {
		.flags = FL_EXECBUF_RING_IDX, .size = size, .command = (uintptr_t)cmd, .fence_fd = -1,
		.ring_idx = ring, .syncobj_stride = sizeof(struct fl_virtgpu_execbuffer_syncobj),
		.num_in_syncobjs = num_in, .num_out_syncobjs = num_out,
		.in_syncobjs = (uintptr_t)in, .out_syncobjs = (uintptr_t)out,
	};
	return drmIoctl(fd, FL_IOCTL_VIRTGPU_EXECBUFFER, &args);
}

#endif
