/*
 * conformance: the subtests of IGT's syncobj_basic, syncobj_wait,
 * syncobj_timeline and syncobj_eventfd, and those of drm_virtgpu, run
 * against fencelab's guest kernel through the render node, as one program
 * written against Linux's UAPI headers (kernel-semantics.md §5).
 *
 *	fencelab run conformance
 *
 * It prints a line per subtest, "ok   BINARY/SUBTEST" or
 * "FAIL BINARY/SUBTEST : why", then "N passed, N failed", and exits 0
 * when nothing failed.
 *
 * IGT runs a few subtests with a second thread: a timer that signals
 * while the test waits, a waiter thread the test signals, a checker that
 * queries while the test signals. A fencelab process has one thread, so
 * the same module runs a second time with the argument "helper" (the
 * built guest's recipe in guests/guests.go does that) and plays IGT's
 * waiter: this process hands it the DRM fd (the same open file, so the
 * same syncobj handles) through the channel /run/fencelab/conformance,
 * asks it over an eventfd to make a blocking wait, acts as IGT's timer or
 * main thread would, then collects the wait's result. Each wait starts
 * at the virtual time this process asked for it, so a delay here is a
 * delay seen by the waiter, exactly.
 *
 * Fences that signal later are sw_sync points (sw_sync has no UAPI
 * header; its two ioctls are declared below in Linux 6.12's layout).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fencelab.h"

/* --- UAPI that Debian 12's libdrm-dev headers lack (Linux 6.12 layouts) --- */

/* drivers/dma-buf/sw_sync.c: a debugfs file, each open a timeline. */
struct sw_sync_create_fence_data {
	uint32_t value;
	char name[32];
	int32_t fence;
};
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC          _IOW('W', 1, uint32_t)

/* include/uapi/drm/drm.h since Linux 6.6. */
#ifndef DRM_IOCTL_SYNCOBJ_EVENTFD
struct drm_syncobj_eventfd {
	__u32 handle;
	__u32 flags;
	__u64 point;
	__s32 fd;
	__u32 pad;
};
#define DRM_IOCTL_SYNCOBJ_EVENTFD DRM_IOWR(0xCF, struct drm_syncobj_eventfd)
#endif

/* include/uapi/drm/virtgpu_drm.h. */
#ifndef DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB
#define VIRTGPU_BLOB_MEM_GUEST          0x0001
#define VIRTGPU_BLOB_FLAG_USE_MAPPABLE  0x0001
#define VIRTGPU_BLOB_FLAG_USE_SHAREABLE 0x0002
struct drm_virtgpu_resource_create_blob {
	__u32 blob_mem;
	__u32 blob_flags;
	__u32 bo_handle;
	__u32 res_handle;
	__u64 size;
	__u32 pad;
	__u32 cmd_size;
	__u64 cmd;
	__u64 blob_id;
};
#define DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB \
	DRM_IOWR(DRM_COMMAND_BASE + 0x0a, struct drm_virtgpu_resource_create_blob)
#endif
#ifndef VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs
#define VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs 7
#endif
#ifndef VIRTGPU_CONTEXT_PARAM_DEBUG_NAME
#define VIRTGPU_CONTEXT_PARAM_DEBUG_NAME 4
#endif

#define RENDER_NODE "/dev/dri/renderD128"
#define SW_SYNC     "/sys/kernel/debug/sync/sw_sync"
#define CHANNEL     "/run/fencelab/conformance"

#define MS          1000000LL
#define SHORT       (100 * MS) /* IGT's SHORT_TIME_NSEC */
#define UINT64_MAX_ (-1LL)     /* IGT's UINT64_MAX timeout, as the kernel's s64: a time in the past */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- reporting --- */

static const char *suite;      /* the IGT binary being run */
static char fixture_why[160];  /* why its fixture failed, or "" */
static char why[480];          /* the running subtest's first failure, or "" */
static int passed, failed;

/* fail records the running subtest's first failure; later ones are
 * consequences and are not reported. */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	if (why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (!why[0])
		strcpy(why, "failed");
}

#define CHECK(cond, ...)                   \
	do {                               \
		if (!(cond))               \
			fail(__VA_ARGS__); \
	} while (0)

static int failing(void) { return why[0] != 0; }

static void subtest(const char *name, void (*fn)(int), int arg)
{
	why[0] = 0;
	if (fixture_why[0])
		snprintf(why, sizeof why, "fixture: %s", fixture_why);
	else
		fn(arg);
	if (why[0]) {
		printf("FAIL %s/%s : %s\n", suite, name, why);
		failed++;
	} else {
		printf("ok   %s/%s\n", suite, name);
		passed++;
	}
}


/* scratch is a buffer for a name that a message prints: a few in turn,
 * so that one printf can show several. */
static char *scratch(void)
{
	static char bufs[6][64];
	static unsigned next;
	return bufs[next++ % 6];
}

/* ename names a wasi-libc errno value the way Linux spells it. */
static const char *ename(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ENOSYS: return "ENOSYS";
	case ETIME: return "ETIME";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EIO: return "EIO";
	}
	char *buf = scratch();
	snprintf(buf, 64, "errno %d", e);
	return buf;
}

/* rname names a result that is 0 or -errno. */
static const char *rname(int r)
{
	char *buf = scratch();
	if (r >= 0)
		snprintf(buf, 64, "%d", r);
	else
		snprintf(buf, 64, "-%s", ename(-r));
	return buf;
}

/* ioctl_err is the ioctl's result as 0 or -errno (IGT's __ helpers). */
static int ioctl_err(int fd, unsigned long req, void *arg)
{
	return drmIoctl(fd, req, arg) ? -errno : 0;
}

static const char *wflags(uint32_t f)
{
	char *buf = scratch();
	if (!f)
		return "0";
	buf[0] = 0;
	if (f & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL)
		strcat(buf, "|ALL");
	if (f & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)
		strcat(buf, "|FOR_SUBMIT");
	if (f & DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE)
		strcat(buf, "|AVAILABLE");
	if (f & ~7u)
		snprintf(buf + strlen(buf), 64 - strlen(buf), "|%#x", f & ~7u);
	return buf + 1;
}

/* --- time --- */

static int64_t now_ns(void) { return fl_monotonic_ns(); }
static int64_t short_timeout(void) { return now_ns() + SHORT; }

/* sleep_ns parks this process for ns of virtual time. */
static void sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	CHECK(nanosleep(&ts, NULL) == 0, "nanosleep: %s", ename(errno));
}

/* --- the suite's DRM fd and IGT's syncobj helpers (lib/igt_syncobj.c) --- */

static int fd = -1;

/* The suite's wait: binary WAIT (syncobj_wait) or TIMELINE_WAIT at point
 * 1 (syncobj_timeline); the point where its subtests attach and signal. */
static int tl;
static uint64_t pt;

static uint32_t sobj_create(uint32_t flags)
{
	uint32_t h = 0;
	CHECK(drmSyncobjCreate(fd, flags, &h) == 0, "SYNCOBJ_CREATE: %s", ename(errno));
	return h;
}

static void sobj_destroy(uint32_t h)
{
	CHECK(drmSyncobjDestroy(fd, h) == 0, "SYNCOBJ_DESTROY(%u): %s", h, ename(errno));
}

static void sobj_reset(uint32_t *h, uint32_t n)
{
	CHECK(drmSyncobjReset(fd, h, n) == 0, "SYNCOBJ_RESET: %s", ename(errno));
}

static void sobj_timeline_signal(uint32_t *h, uint64_t *p, uint32_t n)
{
	CHECK(drmSyncobjTimelineSignal(fd, h, p, n) == 0, "SYNCOBJ_TIMELINE_SIGNAL: %s", ename(errno));
}

static uint64_t sobj_query(uint32_t h)
{
	uint64_t v = 0;
	CHECK(drmSyncobjQuery(fd, &h, &v, 1) == 0, "SYNCOBJ_QUERY(%u): %s", h, ename(errno));
	return v;
}

static int sobj_transfer(uint32_t dst, uint64_t dst_point, uint32_t src, uint64_t src_point, uint32_t flags)
{
	return drmSyncobjTransfer(fd, dst, dst_point, src, src_point, flags) ? -errno : 0;
}

static void sobj_import_sync_file(uint32_t h, int sync_file)
{
	struct drm_syncobj_handle a = { .handle = h, .fd = sync_file,
		.flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE };
	CHECK(drmIoctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &a) == 0, "import of a sync_file: %s", ename(errno));
}

/* binary_to_timeline moves binary syncobj src's fence to point on dst. */
static void binary_to_timeline(uint32_t dst, uint64_t point, uint32_t src)
{
	int r = sobj_transfer(dst, point, src, 0, 0);
	CHECK(r == 0, "TRANSFER(%u:0 -> %u:%" PRIu64 ") = %s", src, dst, point, rname(r));
}

/* wait_on is syncobj_wait_err (WAIT) or syncobj_timeline_wait_err
 * (TIMELINE_WAIT): 0 or -errno; first_signaled is stored on success. */
static int wait_on(int timeline, uint32_t *h, uint64_t *p, uint32_t n, int64_t timeout, uint32_t flags, uint32_t *first)
{
	if (timeline)
		return drmSyncobjTimelineWait(fd, h, p, n, timeout, flags, first);
	return drmSyncobjWait(fd, h, n, timeout, flags, first);
}

/* swait waits on n syncobjs at the suite's point. */
static int swait(uint32_t *h, uint32_t n, int64_t timeout, uint32_t flags)
{
	uint64_t p[8] = { pt, pt, pt, pt, pt, pt, pt, pt };
	return wait_on(tl, h, p, n, timeout, flags, NULL);
}

static const char *wname(int timeline) { return timeline ? "TIMELINE_WAIT" : "WAIT"; }

static int sw_timeline(void)
{
	int t = fl_open(SW_SYNC, FL_O_RDWR);
	CHECK(t >= 0, "open %s: %s", SW_SYNC, ename(errno));
	return t;
}

static int sw_fence(int timeline, uint32_t value)
{
	struct sw_sync_create_fence_data d = { .value = value, .fence = -1 };
	strcpy(d.name, "conformance");
	CHECK(drmIoctl(timeline, SW_SYNC_IOC_CREATE_FENCE, &d) == 0, "SW_SYNC_IOC_CREATE_FENCE: %s", ename(errno));
	return d.fence;
}

static void sw_inc(int timeline, uint32_t n)
{
	CHECK(drmIoctl(timeline, SW_SYNC_IOC_INC, &n) == 0, "SW_SYNC_IOC_INC: %s", ename(errno));
}

static void close_fd(int f)
{
	if (f >= 0)
		fl_close(f);
}

/* attach gives syncobj h an unsignalled sw_sync fence at point (IGT's
 * syncobj_attach_sw_sync: imported directly at point 0, through a
 * temporary binary syncobj and TRANSFER otherwise) and returns the
 * timeline that signals it. */
static int attach(uint32_t h, uint64_t point)
{
	int timeline = sw_timeline();
	int fence = sw_fence(timeline, 1);
	if (point == 0) {
		sobj_import_sync_file(h, fence);
	} else {
		uint32_t tmp = sobj_create(0);
		sobj_import_sync_file(tmp, fence);
		binary_to_timeline(h, point, tmp);
		sobj_destroy(tmp);
	}
	close_fd(fence);
	return timeline;
}

/* trigger attaches a fence at point and signals it. */
static void trigger(uint32_t h, uint64_t point)
{
	int timeline = attach(h, point);
	sw_inc(timeline, 1);
	close_fd(timeline);
}

/* --- the helper process: IGT's second thread --- */

/*
 * The two processes talk over three eventfds this one makes and sends on
 * the channel: cmd (requests, word by word), ack (the helper has taken a
 * word: eventfd counters add up, so a word is only written once the last
 * one was read) and res (what the helper answers). A word travels as its
 * value plus one, so that 0 can be sent. A request is a header word (the
 * operation in the low byte) and its arguments; the DRM fd it acts on is
 * sent on the channel just before it.
 */
enum {
	OP_WAIT = 1,  /* header | timeline << 8 | count << 16 | flags << 24; deadline; count × (handle | point << 32) */
	OP_CHECK = 2, /* header; handle: QUERY it every ms until OP_STOP */
	OP_STOP = 3,
	OP_EXIT = 4,
};

static struct {
	int ch, cmd, ack, res;
	int present;
} hl = { -1, -1, -1, -1, 0 };

static void put(int efd, uint64_t v)
{
	uint64_t w = v + 1;
	if (fl_write(efd, &w, 8) != 8)
		fail("eventfd write: %s", ename(errno));
}

static uint64_t get(int efd)
{
	uint64_t w = 0;
	if (fl_read(efd, &w, 8) != 8) {
		fail("eventfd read: %s", ename(errno));
		return 0;
	}
	return w - 1;
}

static void send_word(uint64_t v)
{
	put(hl.cmd, v);
	get(hl.ack);
}

static uint64_t recv_word(void)
{
	uint64_t v = get(hl.cmd);
	put(hl.ack, 0);
	return v;
}

/* helper_connect sends the eventfds and waits up to a second of virtual
 * time for the helper to say it has them. */
static void helper_connect(void)
{
	hl.ch = fl_open(CHANNEL, FL_O_RDWR);
	hl.cmd = fl_eventfd(0, 0);
	hl.ack = fl_eventfd(0, 0);
	hl.res = fl_eventfd(0, 0);
	if (hl.ch < 0 || hl.cmd < 0 || hl.ack < 0 || hl.res < 0 || fl_sendfd(hl.ch, hl.cmd) || fl_sendfd(hl.ch, hl.ack) ||
	    fl_sendfd(hl.ch, hl.res))
		return;
	struct fl_pollfd p = { .fd = hl.res, .events = FL_POLLIN };
	if (fl_poll(&p, 1, 1000) == 1) {
		get(hl.res);
		hl.present = 1;
	}
}

/* need_helper fails the subtest if there is no helper process. */
static int need_helper(void)
{
	if (!hl.present)
		fail("needs the helper process: the module again, with the argument helper "
		     "(`fencelab run conformance` starts both)");
	return hl.present;
}

/* helper_wait has the helper start a wait on n syncobjs at the suite's
 * point, with an absolute deadline; helper_join returns its result (0 or
 * -errno) and first_signaled. */
static void helper_wait(uint32_t *h, uint32_t n, int64_t deadline, uint32_t flags)
{
	if (fl_sendfd(hl.ch, fd))
		fail("sendfd: %s", ename(errno));
	send_word(OP_WAIT | (uint64_t)tl << 8 | (uint64_t)n << 16 | (uint64_t)flags << 24);
	send_word((uint64_t)deadline);
	for (uint32_t i = 0; i < n; i++)
		send_word(h[i] | pt << 32);
}

static int helper_join(uint32_t *first)
{
	uint64_t v = get(hl.res);
	*first = (uint32_t)(v >> 32);
	return -(int)(uint32_t)v;
}

static int helper_main(void)
{
	hl.ch = fl_open(CHANNEL, FL_O_RDWR);
	struct fl_pollfd p = { .fd = hl.ch, .events = FL_POLLIN };
	if (hl.ch < 0 || fl_poll(&p, 1, 1000) != 1) {
		printf("helper: no conformance process sent its eventfds on %s\n", CHANNEL);
		return 1;
	}
	hl.cmd = fl_recvfd(hl.ch, 0);
	hl.ack = fl_recvfd(hl.ch, 0);
	hl.res = fl_recvfd(hl.ch, 0);
	put(hl.res, 0);
	for (;;) {
		uint64_t hdr = recv_word();
		switch (hdr & 0xff) {
		case OP_WAIT: {
			int timeline = (hdr >> 8) & 1;
			uint32_t n = (hdr >> 16) & 0xff, flags = (hdr >> 24) & 0xff, h[8];
			uint64_t pts[8];
			int64_t deadline = (int64_t)recv_word();
			for (uint32_t i = 0; i < n && i < 8; i++) {
				uint64_t w = recv_word();
				h[i] = (uint32_t)w;
				pts[i] = w >> 32;
			}
			fd = fl_recvfd(hl.ch, FL_O_NONBLOCK);
			uint32_t first = 0;
			int r = fd < 0 ? -errno : n > 8 ? -EINVAL : wait_on(timeline, h, pts, n, deadline, flags, &first);
			close_fd(fd);
			put(hl.res, (uint64_t)first << 32 | (uint32_t)-r);
			break;
		}
		case OP_CHECK: {
			uint32_t h = (uint32_t)recv_word();
			fd = fl_recvfd(hl.ch, FL_O_NONBLOCK);
			uint64_t last = 0, queries = 0, bad = 0;
			for (;;) {
				uint64_t v = 0;
				if (drmSyncobjQuery(fd, &h, &v, 1)) {
					printf("helper: QUERY(%u): %s\n", h, ename(errno));
					bad = 1;
				} else if (v < last) {
					printf("helper: QUERY(%u) = %" PRIu64 " after %" PRIu64 "\n", h, v, last);
					bad = 1;
				}
				last = v;
				if (queries++ == 0)
					put(hl.res, 0); /* started */
				struct fl_pollfd c = { .fd = hl.cmd, .events = FL_POLLIN };
				if (fl_poll(&c, 1, 1) == 1) {
					recv_word(); /* OP_STOP */
					break;
				}
			}
			close_fd(fd);
			put(hl.res, bad << 63 | queries);
			break;
		}
		case OP_EXIT:
			return 0;
		default:
			printf("helper: unknown request %#" PRIx64 "\n", hdr);
			return 1;
		}
	}
}

/* --- fixtures --- */

/* begin opens the render node for the IGT binary name; fixture_why says
 * why its fixture failed, if it did. */
static void begin(const char *name, int timeline)
{
	suite = name;
	tl = timeline;
	pt = timeline ? 1 : 0;
	fixture_why[0] = 0;
	fd = fl_open(RENDER_NODE, FL_O_RDWR);
	if (fd < 0)
		snprintf(fixture_why, sizeof fixture_why, "open %s: %s", RENDER_NODE, ename(errno));
}

static void end(void)
{
	close_fd(fd);
	fd = -1;
}

static void require_cap(uint64_t cap, const char *name)
{
	struct drm_get_cap c = { .capability = cap };
	if (fixture_why[0])
		return;
	if (drmIoctl(fd, DRM_IOCTL_GET_CAP, &c) || !c.value)
		snprintf(fixture_why, sizeof fixture_why, "%s is not offered", name);
}

/* require_sw_sync is igt_require_sw_sync: a timeline opens and makes a
 * fence. */
static void require_sw_sync(void)
{
	if (fixture_why[0])
		return;
	int t = fl_open(SW_SYNC, FL_O_RDWR);
	struct sw_sync_create_fence_data d = { .value = 1, .fence = -1 };
	if (t < 0 || drmIoctl(t, SW_SYNC_IOC_CREATE_FENCE, &d))
		snprintf(fixture_why, sizeof fixture_why, "sw_sync: %s", ename(errno));
	close_fd(d.fence);
	close_fd(t);
}

/* ======================= syncobj_basic ======================= */

static void basic_bad_destroy(int unused)
{
	struct drm_syncobj_destroy d = { .handle = 0xdeadbeef };
	int r = fl_ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d) ? -errno : 0;
	CHECK(r == -EINVAL, "DESTROY(0xdeadbeef) = %s; want -EINVAL", rname(r));
}

static void basic_bad_create_flags(int unused)
{
	struct drm_syncobj_create c = { .flags = 0xdeadbeef };
	int r = fl_ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &c) ? -errno : 0;
	CHECK(r == -EINVAL, "CREATE(flags 0xdeadbeef) = %s; want -EINVAL", rname(r));
}

/* handle_ioctl_einval runs HANDLE_TO_FD or FD_TO_HANDLE on a, which is
 * wrong in one field, and expects EINVAL. */
static void handle_ioctl_einval(unsigned long req, struct drm_syncobj_handle a, const char *what)
{
	int r = ioctl_err(fd, req, &a);
	CHECK(r == -EINVAL, "%s = %s; want -EINVAL", what, rname(r));
	if (r == 0 && req == DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD)
		close_fd(a.fd);
}

static void basic_bad_handle_to_fd(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, (struct drm_syncobj_handle){ .handle = 0xdeadbeef },
			    "HANDLE_TO_FD(handle 0xdeadbeef)");
}

static void basic_bad_fd_to_handle(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, (struct drm_syncobj_handle){ .fd = -1 },
			    "FD_TO_HANDLE(fd -1)");
}

static void basic_illegal_fd_to_handle(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, (struct drm_syncobj_handle){ .fd = fd },
			    "FD_TO_HANDLE(the DRM fd)");
}

static void basic_bad_flags_fd_to_handle(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, (struct drm_syncobj_handle){ .flags = 0xdeadbeef },
			    "FD_TO_HANDLE(flags 0xdeadbeef)");
}

static void basic_bad_flags_handle_to_fd(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, (struct drm_syncobj_handle){ .flags = 0xdeadbeef },
			    "HANDLE_TO_FD(flags 0xdeadbeef)");
}

static void basic_bad_pad_handle_to_fd(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, (struct drm_syncobj_handle){ .pad = 0xdeadbeef },
			    "HANDLE_TO_FD(pad 0xdeadbeef)");
}

static void basic_bad_pad_fd_to_handle(int unused)
{
	handle_ioctl_einval(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, (struct drm_syncobj_handle){ .pad = 0xdeadbeef },
			    "FD_TO_HANDLE(pad 0xdeadbeef)");
}

static void basic_bad_destroy_pad(int unused)
{
	struct drm_syncobj_destroy d = { .handle = sobj_create(0), .pad = 0xdeadbeef };
	int r = fl_ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d) ? -errno : 0;
	CHECK(r == -EINVAL, "DESTROY(valid handle, pad 0xdeadbeef) = %s; want -EINVAL", rname(r));
	sobj_destroy(d.handle);
}

static void basic_create_signaled(int unused)
{
	uint32_t h = sobj_create(DRM_SYNCOBJ_CREATE_SIGNALED);
	int r = wait_on(0, &h, NULL, 1, 0, 0, NULL);
	CHECK(r == 0, "WAIT on a syncobj created signalled = %s; want 0", rname(r));
	sobj_destroy(h);
}

static void basic_valid_cycle(int unused)
{
	uint32_t first = sobj_create(0), second = 0;
	int sfd = -1;
	CHECK(drmSyncobjHandleToFD(fd, first, &sfd) == 0, "HANDLE_TO_FD: %s", ename(errno));
	CHECK(drmSyncobjFDToHandle(fd, sfd, &second) == 0 && second, "FD_TO_HANDLE: %s", ename(errno));
	close_fd(sfd);
	CHECK(first != second, "FD_TO_HANDLE(HANDLE_TO_FD(%u)) = %u; want a new handle", first, second);
	sobj_destroy(first);
	sobj_destroy(second);
}

static void syncobj_basic(void)
{
	begin("syncobj_basic", 0);
	require_cap(DRM_CAP_SYNCOBJ, "DRM_CAP_SYNCOBJ");
	subtest("bad-destroy", basic_bad_destroy, 0);
	subtest("bad-create-flags", basic_bad_create_flags, 0);
	subtest("bad-handle-to-fd", basic_bad_handle_to_fd, 0);
	subtest("bad-fd-to-handle", basic_bad_fd_to_handle, 0);
	subtest("bad-flags-handle-to-fd", basic_bad_flags_handle_to_fd, 0);
	subtest("bad-flags-fd-to-handle", basic_bad_flags_fd_to_handle, 0);
	subtest("bad-pad-handle-to-fd", basic_bad_pad_handle_to_fd, 0);
	subtest("bad-pad-fd-to-handle", basic_bad_pad_fd_to_handle, 0);
	subtest("illegal-fd-to-handle", basic_illegal_fd_to_handle, 0);
	subtest("bad-destroy-pad", basic_bad_destroy_pad, 0);
	subtest("create-signaled", basic_create_signaled, 0);
	subtest("test-valid-cycle", basic_valid_cycle, 0);
	end();
}

/* ============ syncobj_wait and syncobj_timeline, shared ============ */

/* The bits of IGT's test flags: the wait flags, then the state the
 * syncobjs start in. syncobj_wait has no AVAILABLE bit. */
enum {
	T_FOR_SUBMIT = 1 << 0,
	T_ALL = 1 << 1,
	T_AVAILABLE = 1 << 2,
	T_UNSUBMITTED = 1 << 3,
	T_SUBMITTED = 1 << 4,
	T_SIGNALED = 1 << 5,
	T_STATES = T_UNSUBMITTED | T_SUBMITTED | T_SIGNALED,
};

static uint32_t kflags(unsigned t)
{
	uint32_t f = 0;
	if (t & T_FOR_SUBMIT)
		f |= DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
	if (t & T_ALL)
		f |= DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL;
	if (t & T_AVAILABLE)
		f |= DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE;
	return f;
}

/* matrix_expect is the result IGT's subtest loop expects (spec §3.6): a
 * syncobj without a fence is EINVAL unless FOR_SUBMIT or AVAILABLE;
 * otherwise an entry counts when signalled or, with AVAILABLE, submitted,
 * and the wait succeeds when all (ALL) or one of them count. */
static int matrix_expect(unsigned t, int multi)
{
	int u = t & T_UNSUBMITTED, s = t & T_SUBMITTED, g = t & T_SIGNALED, av = t & T_AVAILABLE;
	if (u && !(t & (T_FOR_SUBMIT | T_AVAILABLE)))
		return -EINVAL;
	if (multi && (t & T_ALL)) {
		if (u || (s && !av))
			return -ETIME;
		return 0;
	}
	if (!g && !(s && av))
		return -ETIME;
	return 0;
}

static void matrix_name(char *buf, size_t n, unsigned t, int multi)
{
	int e = matrix_expect(t, multi);
	snprintf(buf, n, "%s%s%s%s%s%s%s%s", e == -EINVAL ? "invalid-" : e == -ETIME && tl ? "etime-" : "",
		 multi ? "multi-wait" : "single-wait", t & T_ALL ? "-all" : "", t & T_FOR_SUBMIT ? "-for-submit" : "",
		 t & T_AVAILABLE ? "-available" : "", t & T_UNSUBMITTED ? "-unsubmitted" : "",
		 t & T_SUBMITTED ? "-submitted" : "", t & T_SIGNALED ? "-signaled" : "");
}

/* test_matrix is test_single_wait / test_multi_wait: one syncobj, or
 * three (syncobj_wait) or five (syncobj_timeline, two of them binary), in
 * the states of arg's test flags; the wait with timeout 0, now+SHORT and,
 * unless ETIME is expected, UINT64_MAX gives the expected result. */
static void test_matrix(int arg)
{
	unsigned t = arg & 0xff;
	int multi = arg >> 8, expect = matrix_expect(t, multi);
	uint32_t flags = kflags(t), h[5];
	uint64_t p[5] = { pt, pt, pt, pt, pt };
	int timelines[5] = { -1, -1, -1, -1, -1 };
	uint32_t n = !multi ? 1 : tl ? 5 : 3;
	if (multi && tl) {
		p[0] = 1 + rand() % 1000;
		p[1] = 0; /* binary */
		p[2] = 1 + rand() % 1000;
		p[3] = 1 + rand() % 1000;
		p[4] = 0; /* binary */
	}
	/* Each syncobj takes the lowest state left; the last one the rest. */
	unsigned states = t & T_STATES;
	for (uint32_t i = 0; i < n; i++) {
		unsigned st = states & -states;
		if (states & ~st)
			states &= ~st;
		h[i] = sobj_create(0);
		if (st & (T_SUBMITTED | T_SIGNALED))
			timelines[i] = attach(h[i], p[i]);
		if (st & T_SIGNALED)
			sw_inc(timelines[i], 1);
	}
	for (int k = 0; k < 3 && !failing(); k++) {
		if (k == 2 && expect == -ETIME)
			break;
		int64_t timeout = k == 0 ? 0 : k == 1 ? short_timeout() : UINT64_MAX_;
		int r = wait_on(tl, h, p, n, timeout, flags, NULL);
		CHECK(r == expect, "%s(timeout %s, flags %s) = %s; want %s", wname(tl),
		      k == 0 ? "0" : k == 1 ? "now+SHORT" : "UINT64_MAX", wflags(flags), rname(r), rname(expect));
	}
	for (uint32_t i = 0; i < n; i++) {
		sobj_destroy(h[i]);
		close_fd(timelines[i]);
	}
}

static void run_matrix(int multi)
{
	for (unsigned t = 0; t < 64; t++) {
		if (!tl && ((t & T_AVAILABLE) || t == (T_FOR_SUBMIT | T_ALL | T_STATES)))
			continue; /* syncobj_wait's loop: 5 bits, stopping short of all set */
		if (tl && t == 63)
			continue; /* syncobj_timeline's: 6 bits, the same */
		int modes = __builtin_popcount(t & T_STATES);
		if (multi ? modes == 0 : modes != 1)
			continue;
		char name[96];
		matrix_name(name, sizeof name, t, multi);
		subtest(name, test_matrix, (int)t | multi << 8);
	}
}

/* test_delayed_signal: the fence (with FOR_SUBMIT, the syncobj's first
 * fence) signals SHORT after a wait with deadline 2·SHORT starts; the wait
 * succeeds. IGT's timer acts here while the helper waits. */
static void test_delayed_signal(int t)
{
	if (!need_helper())
		return;
	uint32_t h = sobj_create(0), first;
	int timeline = -1;
	if (!(t & T_FOR_SUBMIT))
		timeline = attach(h, pt);
	helper_wait(&h, 1, now_ns() + 2 * SHORT, kflags(t));
	sleep_ns(SHORT);
	if (t & T_FOR_SUBMIT)
		trigger(h, pt);
	else
		sw_inc(timeline, 1);
	int r = helper_join(&first);
	CHECK(r == 0, "%s(deadline now+2·SHORT, flags %s), signalled at +SHORT = %s; want 0", wname(tl),
	      wflags(kflags(t)), rname(r));
	close_fd(timeline);
	sobj_destroy(h);
}

static void test_reset_unsignaled(int unused)
{
	uint32_t h = sobj_create(0);
	int r = swait(&h, 1, 0, 0);
	CHECK(r == -EINVAL, "%s on a fresh syncobj = %s; want -EINVAL", wname(tl), rname(r));
	sobj_reset(&h, 1);
	r = swait(&h, 1, 0, 0);
	CHECK(r == -EINVAL, "%s after RESET = %s; want -EINVAL", wname(tl), rname(r));
	sobj_destroy(h);
}

static void test_reset_signaled(int unused)
{
	uint32_t h = sobj_create(0);
	trigger(h, pt);
	int r = swait(&h, 1, 0, 0);
	CHECK(r == 0, "%s on a triggered syncobj = %s; want 0", wname(tl), rname(r));
	sobj_reset(&h, 1);
	r = swait(&h, 1, 0, 0);
	CHECK(r == -EINVAL, "%s after RESET = %s; want -EINVAL", wname(tl), rname(r));
	sobj_destroy(h);
}

static void test_reset_multiple_signaled(int unused)
{
	uint32_t h[3];
	for (int i = 0; i < 3; i++) {
		h[i] = sobj_create(0);
		trigger(h[i], pt);
	}
	int r = swait(h, 3, 0, 0);
	CHECK(r == 0, "%s on three triggered syncobjs = %s; want 0", wname(tl), rname(r));
	sobj_reset(h, 3);
	for (int i = 0; i < 3; i++) {
		r = swait(&h[i], 1, 0, 0);
		CHECK(r == -EINVAL, "%s on syncobj %d after RESET = %s; want -EINVAL", wname(tl), i, rname(r));
		sobj_destroy(h[i]);
	}
}

/* test_reset_during_wait_for_submit: a FOR_SUBMIT wait survives a RESET
 * (no fence, so nothing to capture) followed by a trigger, SHORT in. */
static void test_reset_during_wait_for_submit(int unused)
{
	if (!need_helper())
		return;
	uint32_t h = sobj_create(0), first;
	uint32_t flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
	helper_wait(&h, 1, now_ns() + 2 * SHORT, flags);
	sleep_ns(SHORT);
	sobj_reset(&h, 1);
	trigger(h, pt);
	int r = helper_join(&first);
	CHECK(r == 0, "%s(FOR_SUBMIT) with a RESET then a trigger during it = %s; want 0", wname(tl), rname(r));
	sobj_destroy(h);
}

static void test_signal(int unused)
{
	uint32_t h = sobj_create(0);
	uint32_t flags = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
	int r = swait(&h, 1, 0, 0);
	CHECK(r == -EINVAL, "%s on a fresh syncobj = %s; want -EINVAL", wname(tl), rname(r));
	r = swait(&h, 1, 0, flags);
	CHECK(r == -ETIME, "%s(FOR_SUBMIT, timeout 0) on a fresh syncobj = %s; want -ETIME", wname(tl), rname(r));
	if (tl)
		sobj_timeline_signal(&h, &pt, 1);
	else
		CHECK(drmSyncobjSignal(fd, &h, 1) == 0, "SIGNAL: %s", ename(errno));
	r = swait(&h, 1, 0, 0);
	CHECK(r == 0, "%s after signalling = %s; want 0", wname(tl), rname(r));
	r = swait(&h, 1, 0, flags);
	CHECK(r == 0, "%s(FOR_SUBMIT) after signalling = %s; want 0", wname(tl), rname(r));
	sobj_destroy(h);
}

/* test_wait_snapshot: a wait on two syncobjs keeps the fences it took
 * when it started (or, with FOR_SUBMIT, the first ones submitted), even
 * when syncobj 0 is then reset and given a fence that never signals. */
static void test_wait_snapshot(int t)
{
	if (!need_helper())
		return;
	uint32_t h[2] = { sobj_create(0), sobj_create(0) }, first = 0;
	int timelines[3] = { -1, -1, -1 };
	if (!(t & T_FOR_SUBMIT)) {
		timelines[0] = attach(h[0], pt);
		timelines[1] = attach(h[1], pt);
	}
	helper_wait(h, 2, short_timeout(), kflags(t));
	sleep_ns(SHORT / 5);
	/* Try to fool the kernel by signalling, or half-signalling, the
	 * first one. */
	if (t & T_ALL) {
		if (timelines[0] == -1)
			trigger(h[0], pt);
		else
			sw_inc(timelines[0], 1);
	} else if (t & T_FOR_SUBMIT) {
		timelines[0] = attach(h[0], pt);
	}
	sleep_ns(SHORT / 5);
	sobj_reset(&h[0], 1);
	sleep_ns(SHORT / 5);
	/* A fence that never signals: a wait that took it would time out. */
	timelines[2] = attach(h[0], pt);
	sleep_ns(SHORT / 5);
	if (timelines[1] == -1)
		trigger(h[1], pt);
	else
		sw_inc(timelines[1], 1);
	int r = helper_join(&first);
	CHECK(r == 0, "the waiter's %s(flags %s) = %s; want 0", wname(tl), wflags(kflags(t)), rname(r));
	if (!(t & T_ALL))
		CHECK(r != 0 || first == 1, "first_signaled = %u; want 1", first);
	for (int i = 0; i < 3; i++)
		close_fd(timelines[i]);
	sobj_destroy(h[0]);
	sobj_destroy(h[1]);
}

/* IGT's shuffled_0_7_x4: 0..7, four times each, in a fixed shuffle. */
static const unsigned shuffled[] = {
	2, 0, 6, 1, 1, 4, 5, 2, 0, 7, 1, 7, 6, 3, 4, 5,
	0, 2, 7, 3, 5, 4, 0, 6, 7, 3, 2, 5, 6, 1, 4, 3,
};

/* test_wait_complex: eight syncobjs go through unsubmitted → submitted →
 * signalled → reset → resubmitted in a shuffled order, 10 ms a step,
 * while a wait watches the first two (deadline +1 s). */
static void test_wait_complex(int t)
{
	enum { UNSUBMITTED, SUBMITTED, SIGNALED, RESET, RESUBMITTED };
	if (!need_helper())
		return;
	uint32_t h[8], first_signaled = (uint32_t)-1, num_signaled = 0, first = 0;
	int stage[8], timelines[8];
	for (int i = 0; i < 8; i++) {
		stage[i] = UNSUBMITTED;
		h[i] = sobj_create(0);
		timelines[i] = t & T_FOR_SUBMIT ? -1 : attach(h[i], pt);
	}
	helper_wait(h, 2, now_ns() + 1000 * MS, kflags(t));
	sleep_ns(20 * MS);
	for (size_t j = 0; j < ARRAY_LEN(shuffled); j++) {
		unsigned i = shuffled[j];
		switch (stage[i]++) {
		case UNSUBMITTED:
			if (!(t & T_FOR_SUBMIT)) {
				CHECK(timelines[i] != -1, "syncobj %u has no fence attached", i);
				break; /* attached up front */
			}
			timelines[i] = attach(h[i], pt);
			break;
		case SUBMITTED:
			CHECK(timelines[i] != -1, "syncobj %u has no fence to signal", i);
			sw_inc(timelines[i], 1);
			close_fd(timelines[i]);
			timelines[i] = -1;
			if (num_signaled == 0)
				first_signaled = i;
			num_signaled++;
			break;
		case SIGNALED:
			sobj_reset(&h[i], 1);
			break;
		case RESET:
			timelines[i] = attach(h[i], pt);
			break;
		case RESUBMITTED:
			fail("syncobj %u reached the resubmitted stage", i);
			break;
		}
		if (t & T_ALL ? num_signaled == 8 : num_signaled > 0)
			break;
		sleep_ns(10 * MS);
	}
	int r = helper_join(&first);
	CHECK(r == 0, "the waiter's %s(flags %s) = %s; want 0", wname(tl), wflags(kflags(t)), rname(r));
	if (t & T_ALL) {
		CHECK(num_signaled == 8, "%u syncobjs signalled; want 8", num_signaled);
	} else {
		CHECK(num_signaled == 1, "%u syncobjs signalled; want 1", num_signaled);
		CHECK(first == first_signaled, "first_signaled = %u; want %u", first, first_signaled);
	}
	for (int i = 0; i < 8; i++) {
		close_fd(timelines[i]);
		sobj_destroy(h[i]);
	}
}


/* The subtests syncobj_wait and syncobj_timeline share, from the single
 * waits to the signal subtest. */
static void shared_first_half(void)
{
	run_matrix(0);
	subtest("wait-delayed-signal", test_delayed_signal, 0);
	subtest("wait-for-submit-delayed-submit", test_delayed_signal, T_FOR_SUBMIT);
	subtest("wait-all-delayed-signal", test_delayed_signal, T_ALL);
	subtest("wait-all-for-submit-delayed-submit", test_delayed_signal, T_ALL | T_FOR_SUBMIT);
	subtest("reset-unsignaled", test_reset_unsignaled, 0);
	subtest("reset-signaled", test_reset_signaled, 0);
	subtest("reset-multiple-signaled", test_reset_multiple_signaled, 0);
	subtest("reset-during-wait-for-submit", test_reset_during_wait_for_submit, 0);
	subtest("signal", test_signal, 0);
}

/* test_wait_interrupted is IGT's: a wait that cannot succeed, under a
 * storm of signals (igt_while_interruptible; fencelab's sigtimer, every
 * 1 ms), ends with ETIME at its deadline: every interruption returns
 * EINTR to drmIoctl, which restarts it with the same absolute deadline.
 * The signals must really have interrupted it, and the restarts must not
 * have stretched it past the deadline. */
static void test_wait_interrupted(int t)
{
	uint32_t h = sobj_create(0);
	uint32_t flags = kflags(t);
	int timeline = attach(h, pt);
	int before = fl_sigtimer(1000);
	CHECK(before >= 0, "sigtimer: %s", ename(errno));
	int64_t start = now_ns(), deadline = start + SHORT;
	int r = swait(&h, 1, deadline, flags);
	int64_t end = now_ns();
	int delivered = fl_sigtimer(0) - before;
	CHECK(r == -ETIME, "%s(flags %s) under signals = %s; want -ETIME", wname(tl), wflags(flags), rname(r));
	CHECK(delivered >= 50, "%d signals in %" PRId64 " ms; want one a millisecond", delivered, (end - start) / MS);
	CHECK(end == deadline, "the wait ended at +%" PRId64 " ns; want its deadline, +%lld", end - start, (long long)SHORT);
	close_fd(timeline);
	sobj_destroy(h);
}

/* ... and from the multi waits to the interrupted ones. */
static void shared_second_half(void)
{
	run_matrix(1);
	subtest("wait-any-snapshot", test_wait_snapshot, 0);
	subtest("wait-all-snapshot", test_wait_snapshot, T_ALL);
	subtest("wait-for-submit-snapshot", test_wait_snapshot, T_FOR_SUBMIT);
	subtest("wait-all-for-submit-snapshot", test_wait_snapshot, T_ALL | T_FOR_SUBMIT);
	subtest("wait-any-complex", test_wait_complex, 0);
	subtest("wait-all-complex", test_wait_complex, T_ALL);
	subtest("wait-for-submit-complex", test_wait_complex, T_FOR_SUBMIT);
	subtest("wait-all-for-submit-complex", test_wait_complex, T_ALL | T_FOR_SUBMIT);
	subtest("wait-any-interrupted", test_wait_interrupted, 0);
	subtest("wait-all-interrupted", test_wait_interrupted, T_ALL);
}

/* ======================= syncobj_wait ======================= */

/* array_err runs RESET or SIGNAL on count handles with pad. */
static int array_err(unsigned long req, uint32_t *h, uint32_t count, uint32_t pad)
{
	struct drm_syncobj_array a = { .handles = (uintptr_t)h, .count_handles = count, .pad = pad };
	return ioctl_err(fd, req, &a);
}

static void wait_bad_flags(int unused)
{
	struct drm_syncobj_wait w = { .flags = 0xdeadbeef };
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w);
	CHECK(r == -EINVAL, "WAIT(flags 0xdeadbeef) = %s; want -EINVAL", rname(r));
}

static void wait_zero_handles(int unused)
{
	struct drm_syncobj_wait w = { 0 };
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w);
	CHECK(r == 0, "WAIT(no handles) = %s; want 0 (Linux ≥ 6.6)", rname(r));
}

static void wait_illegal_handle(int unused)
{
	uint32_t h = 0;
	int r = wait_on(0, &h, NULL, 1, 0, 0, NULL);
	CHECK(r == -ENOENT, "WAIT({0}) = %s; want -ENOENT", rname(r));
}

/* array_invalid: RESET or SIGNAL with no handles, handle 0, or a pad. */
static void array_invalid(int arg)
{
	unsigned long req = arg & 1 ? DRM_IOCTL_SYNCOBJ_SIGNAL : DRM_IOCTL_SYNCOBJ_RESET;
	const char *what = arg & 1 ? "SIGNAL" : "RESET";
	uint32_t h = 0;
	int r, want;
	switch (arg >> 1) {
	case 0:
		r = array_err(req, NULL, 0, 0), want = -EINVAL;
		CHECK(r == want, "%s(no handles) = %s; want %s", what, rname(r), rname(want));
		break;
	case 1:
		r = array_err(req, &h, 1, 0), want = -ENOENT;
		CHECK(r == want, "%s({0}) = %s; want %s", what, rname(r), rname(want));
		break;
	case 2:
		r = array_err(req, &h, 1, 0xdeadbeef), want = -EINVAL;
		CHECK(r == want, "%s({0}, pad 0xdeadbeef) = %s; want %s", what, rname(r), rname(want));
		break;
	}
}

/* array_one_illegal: RESET {signalled, 0, signalled} or SIGNAL
 * {fresh, 0, fresh} is ENOENT and changes neither valid syncobj. */
static void array_one_illegal(int is_signal)
{
	uint32_t h[3] = { sobj_create(is_signal ? 0 : DRM_SYNCOBJ_CREATE_SIGNALED), 0,
			  sobj_create(is_signal ? 0 : DRM_SYNCOBJ_CREATE_SIGNALED) };
	int want = is_signal ? -EINVAL : 0;
	for (int i = 0; i < 3; i += 2) {
		int r = wait_on(0, &h[i], NULL, 1, 0, 0, NULL);
		CHECK(r == want, "WAIT on syncobj %d before = %s; want %s", i, rname(r), rname(want));
	}
	int r = array_err(is_signal ? DRM_IOCTL_SYNCOBJ_SIGNAL : DRM_IOCTL_SYNCOBJ_RESET, h, 3, 0);
	CHECK(r == -ENOENT, "%s({%u, 0, %u}) = %s; want -ENOENT", is_signal ? "SIGNAL" : "RESET", h[0], h[2], rname(r));
	for (int i = 0; i < 3; i += 2) {
		r = wait_on(0, &h[i], NULL, 1, 0, 0, NULL);
		CHECK(r == want, "WAIT on syncobj %d after the failed call = %s; want %s (unchanged)", i, rname(r),
		      rname(want));
	}
	sobj_destroy(h[0]);
	sobj_destroy(h[2]);
}

static void syncobj_wait(void)
{
	begin("syncobj_wait", 0);
	require_cap(DRM_CAP_SYNCOBJ, "DRM_CAP_SYNCOBJ");
	if (!fixture_why[0]) {
		uint32_t h = 0;
		if (wait_on(0, &h, NULL, 1, 0, 0, NULL) != -ENOENT)
			snprintf(fixture_why, sizeof fixture_why, "WAIT({0}) is not ENOENT");
	}
	require_sw_sync();
	subtest("invalid-wait-bad-flags", wait_bad_flags, 0);
	subtest("wait-zero-handles", wait_zero_handles, 0);
	subtest("invalid-wait-illegal-handle", wait_illegal_handle, 0);
	subtest("invalid-reset-zero-handles", array_invalid, 0 << 1);
	subtest("invalid-reset-illegal-handle", array_invalid, 1 << 1);
	subtest("invalid-reset-one-illegal-handle", array_one_illegal, 0);
	subtest("invalid-reset-bad-pad", array_invalid, 2 << 1);
	subtest("invalid-signal-zero-handles", array_invalid, 0 << 1 | 1);
	subtest("invalid-signal-illegal-handle", array_invalid, 1 << 1 | 1);
	subtest("invalid-signal-one-illegal-handle", array_one_illegal, 1);
	subtest("invalid-signal-bad-pad", array_invalid, 2 << 1 | 1);
	shared_first_half();
	shared_second_half();
	end();
}

/* ======================= syncobj_timeline ======================= */

/* IGT passes its own flag bits raw in a few subtests: its WAIT_FOR_SUBMIT
 * (1 << 0) is the kernel's WAIT_ALL, its WAIT_ALL (1 << 1) the kernel's
 * WAIT_FOR_SUBMIT. Kept as IGT has them. */
#define RAW_IGT_FOR_SUBMIT 1u
#define RAW_IGT_ALL        2u

/* tl_array_err runs QUERY or TIMELINE_SIGNAL. */
static int tl_array_err(unsigned long req, uint32_t *h, uint64_t *p, uint32_t count, uint32_t flags)
{
	struct drm_syncobj_timeline_array a = { .handles = (uintptr_t)h, .points = (uintptr_t)p,
		.count_handles = count, .flags = flags };
	return ioctl_err(fd, req, &a);
}

static void tl_wait_bad_flags(int unused)
{
	struct drm_syncobj_timeline_wait w = { .flags = 0xdeadbeef };
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
	CHECK(r == -EINVAL, "TIMELINE_WAIT(flags 0xdeadbeef) = %s; want -EINVAL", rname(r));
}

static void tl_wait_zero_handles(int unused)
{
	struct drm_syncobj_timeline_wait w = { 0 };
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
	CHECK(r == 0, "TIMELINE_WAIT(no handles) = %s; want 0 (Linux ≥ 6.6)", rname(r));
}

static void tl_wait_illegal_handle(int unused)
{
	struct drm_syncobj_timeline_wait w = { 0 };
	uint32_t h = 0;
	w.count_handles = 1;
	w.handles = (uintptr_t)&h;
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
	CHECK(r == -ENOENT, "TIMELINE_WAIT({0}) = %s; want -ENOENT", rname(r));
}

/* tl_array_invalid: QUERY (arg bit 0 clear) or TIMELINE_SIGNAL with no
 * handles, handle 0, or bad flags; for TIMELINE_SIGNAL also handle 1,
 * which a file whose earlier syncobjs were all destroyed does not have. */
static void tl_array_invalid(int arg)
{
	unsigned long req = arg & 1 ? DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL : DRM_IOCTL_SYNCOBJ_QUERY;
	const char *what = arg & 1 ? "TIMELINE_SIGNAL" : "QUERY";
	uint32_t h = 0;
	uint64_t p = 0;
	int r, want;
	switch (arg >> 1) {
	case 0:
		r = tl_array_err(req, NULL, NULL, 0, 0), want = -EINVAL;
		CHECK(r == want, "%s(no handles) = %s; want %s", what, rname(r), rname(want));
		break;
	case 1:
		r = tl_array_err(req, &h, NULL, 1, 0), want = -ENOENT;
		CHECK(r == want, "%s({0}) = %s; want %s", what, rname(r), rname(want));
		break;
	case 2:
		r = tl_array_err(req, &h, NULL, 1, 0xdeadbeef), want = -EINVAL;
		CHECK(r == want, "%s({0}, flags 0xdeadbeef) = %s; want %s", what, rname(r), rname(want));
		break;
	case 3:
		h = 1;
		r = tl_array_err(req, &h, &p, 1, 0), want = -ENOENT;
		CHECK(r == want, "%s({1}, points {0}) = %s; want %s", what, rname(r), rname(want));
		break;
	}
}

/* tl_array_one_illegal: QUERY or TIMELINE_SIGNAL {valid, 0, valid}, both
 * valid ones signalled at point 1 first, is ENOENT. */
static void tl_array_one_illegal(int is_signal)
{
	uint32_t h[3] = { sobj_create(0), 0, sobj_create(0) };
	uint64_t one = 1;
	for (int i = 0; i < 3; i += 2) {
		sobj_timeline_signal(&h[i], &one, 1);
		int r = wait_on(1, &h[i], &one, 1, 0, 0, NULL);
		CHECK(r == 0, "TIMELINE_WAIT(syncobj %d, point 1) = %s; want 0", i, rname(r));
	}
	int r = tl_array_err(is_signal ? DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL : DRM_IOCTL_SYNCOBJ_QUERY, h, NULL, 3, 0);
	CHECK(r == -ENOENT, "%s({%u, 0, %u}) = %s; want -ENOENT", is_signal ? "TIMELINE_SIGNAL" : "QUERY", h[0], h[2],
	      rname(r));
	sobj_destroy(h[0]);
	sobj_destroy(h[2]);
}

static void tl_signal_array(int unused)
{
	uint32_t h[4];
	uint64_t p[4] = { 1, 1, 1, 0 };
	for (int i = 0; i < 4; i++)
		h[i] = sobj_create(0);
	sobj_timeline_signal(h, p, 4);
	int r = wait_on(1, h, p, 3, 0, 0, NULL);
	CHECK(r == 0, "TIMELINE_WAIT(the first three, point 1) = %s; want 0", rname(r));
	r = wait_on(0, &h[3], NULL, 1, 0, 0, NULL);
	CHECK(r == 0, "WAIT(the fourth, signalled at point 0) = %s; want 0", rname(r));
	for (int i = 0; i < 4; i++)
		sobj_destroy(h[i]);
}

static void tl_transfer_illegal_handle(int unused)
{
	uint32_t h = 0;
	/* As IGT: the address of a handle, as a handle. */
	struct drm_syncobj_transfer a = { .src_handle = (uint32_t)(uintptr_t)&h, .dst_handle = (uint32_t)(uintptr_t)&h,
		.src_point = 1 };
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_TRANSFER, &a);
	CHECK(r == -ENOENT, "TRANSFER(garbage handles) = %s; want -ENOENT", rname(r));
}

static void tl_transfer_bad_pad(int unused)
{
	uint32_t h = 0;
	struct drm_syncobj_transfer a = { .src_handle = (uint32_t)(uintptr_t)&h, .dst_handle = (uint32_t)(uintptr_t)&h,
		.pad = 0xdeadbeef };
	int r = ioctl_err(fd, DRM_IOCTL_SYNCOBJ_TRANSFER, &a);
	CHECK(r == -EINVAL, "TRANSFER(pad 0xdeadbeef) = %s; want -EINVAL", rname(r));
}

/* tl_transfer_nonexistent_point: despite IGT's name, point 63 exists and
 * moving it to 74 on the same syncobj succeeds. */
static void tl_transfer_nonexistent_point(int unused)
{
	uint32_t h = sobj_create(0);
	uint64_t v = 63;
	sobj_timeline_signal(&h, &v, 1);
	int r = sobj_transfer(h, v + 11, h, v, 0);
	CHECK(r == 0, "TRANSFER(h:63 -> h:74) = %s; want 0", rname(r));
	sobj_destroy(h);
}

static void tl_transfer_point(int unused)
{
	int timeline = sw_timeline();
	uint32_t h = sobj_create(0), tmp = sobj_create(0);
	int fence = sw_fence(timeline, 1);
	sobj_import_sync_file(tmp, fence);
	binary_to_timeline(h, 1, tmp);
	close_fd(fence);
	sobj_destroy(tmp);
	uint64_t v = sobj_query(h);
	CHECK(v == 0, "QUERY with point 1 pending = %" PRIu64 "; want 0", v);
	v = 1;
	int r = wait_on(1, &h, &v, 1, 0, RAW_IGT_ALL, NULL);
	CHECK(r == -ETIME, "TIMELINE_WAIT(point 1, flags %s) pending = %s; want -ETIME", wflags(RAW_IGT_ALL), rname(r));
	sw_inc(timeline, 1);
	v = sobj_query(h);
	CHECK(v == 1, "QUERY with point 1 signalled = %" PRIu64 "; want 1", v);
	r = wait_on(1, &h, &v, 1, 0, RAW_IGT_ALL, NULL);
	CHECK(r == 0, "TIMELINE_WAIT(point 1, flags %s) signalled = %s; want 0", wflags(RAW_IGT_ALL), rname(r));
	v = 2;
	sobj_timeline_signal(&h, &v, 1);
	r = sobj_transfer(h, 3, h, 2, 0);
	CHECK(r == 0, "TRANSFER(h:2 -> h:3) = %s; want 0", rname(r));
	v = sobj_query(h);
	CHECK(v == 3, "QUERY after TRANSFER 2 -> 3 = %" PRIu64 "; want 3", v);
	sobj_destroy(h);
	close_fd(timeline);
}

static void tl_signal_point_0(int unused)
{
	uint32_t h = sobj_create(0);
	uint64_t p = 0;
	sobj_timeline_signal(&h, &p, 1);
	int r = wait_on(1, &h, &p, 1, 0, 0, NULL);
	CHECK(r == 0, "TIMELINE_WAIT(point 0) = %s; want 0", rname(r));
	r = wait_on(0, &h, NULL, 1, 0, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, NULL);
	CHECK(r == 0, "WAIT(FOR_SUBMIT) = %s; want 0", rname(r));
	sobj_destroy(h);
}

/* tl_wait_twice is the pair of timeout-0 waits IGT's point tests end
 * with, on point v, with its raw flags 1 and 2. */
static void tl_wait_twice(uint32_t h, uint64_t v, const char *when)
{
	uint32_t raw[2] = { RAW_IGT_FOR_SUBMIT, RAW_IGT_ALL };
	for (int i = 0; i < 2; i++) {
		int r = wait_on(1, &h, &v, 1, 0, raw[i], NULL);
		CHECK(r == 0, "%s: TIMELINE_WAIT(point %" PRIu64 ", timeout 0, flags %s) = %s; want 0", when, v,
		      wflags(raw[i]), rname(r));
	}
}

static void tl_host_signal_points(int unused)
{
	uint32_t h = sobj_create(0);
	uint64_t value = 0;
	char when[48];
	for (int i = 0; i < 100 && !failing(); i++) {
		value += rand();
		sobj_timeline_signal(&h, &value, 1);
		uint64_t q = sobj_query(h);
		CHECK(q == value, "iteration %d: QUERY after TIMELINE_SIGNAL(%" PRIu64 ") = %" PRIu64, i, value, q);
		snprintf(when, sizeof when, "iteration %d", i);
		uint64_t p = q;
		int r = wait_on(1, &h, &p, 1, 0, RAW_IGT_FOR_SUBMIT, NULL);
		CHECK(r == 0, "%s: TIMELINE_WAIT(point %" PRIu64 ", flags %s) = %s; want 0", when, p,
		      wflags(RAW_IGT_FOR_SUBMIT), rname(r));
		p = q - 1;
		r = wait_on(1, &h, &p, 1, 0, RAW_IGT_ALL, NULL);
		CHECK(r == 0, "%s: TIMELINE_WAIT(point %" PRIu64 ", flags %s) = %s; want 0", when, p, wflags(RAW_IGT_ALL),
		      rname(r));
	}
	sobj_destroy(h);
}

/* attach_fence puts sync_file fence at point on h, as IGT's point tests
 * do: into a temporary binary syncobj, then TRANSFER. */
static void attach_fence(uint32_t h, uint64_t point, int fence)
{
	uint32_t tmp = sobj_create(0);
	sobj_import_sync_file(tmp, fence);
	binary_to_timeline(h, point, tmp);
	sobj_destroy(tmp);
}

static void tl_device_signal_unordered(int unused)
{
	uint32_t h = sobj_create(0);
	/* Point order[i]+1 gets sw_sync value i+1, so the increments
	 * signal points 1, 3, 2, 5, 4. */
	static const int order[5] = { 0, 2, 1, 4, 3 };
	int signaled[5] = { 0 }, fences[5];
	int timeline = sw_timeline();
	uint64_t value = 0;
	for (int i = 0; i < 5; i++)
		fences[order[i]] = sw_fence(timeline, i + 1);
	for (int i = 0; i < 5; i++)
		attach_fence(h, i + 1, fences[i]);
	for (int i = 0; i < 5; i++) {
		sw_inc(timeline, 1);
		signaled[order[i]] = 1;
		/* IGT's lower bound: the index of the last point of the
		 * signalled prefix. */
		uint64_t min_value = 0;
		for (int j = 0; j < 5 && signaled[j]; j++)
			min_value = j;
		uint64_t q = sobj_query(h);
		CHECK(q >= min_value, "after signalling point %d: QUERY = %" PRIu64 "; want ≥ %" PRIu64, order[i] + 1, q,
		      min_value);
		CHECK(q >= value, "after signalling point %d: QUERY = %" PRIu64 ", down from %" PRIu64, order[i] + 1, q,
		      value);
		value = q > value ? q : value;
		tl_wait_twice(h, q, "after a signal");
	}
	for (int i = 0; i < 5; i++)
		close_fd(fences[i]);
	sobj_destroy(h);
	close_fd(timeline);
}

static void tl_device_submit_unordered(int unused)
{
	uint32_t h = sobj_create(0);
	static const uint64_t points[5] = { 1, 5, 3, 6, 7 };
	int timeline = sw_timeline();
	for (int i = 0; i < 5; i++) {
		int fence = sw_fence(timeline, i + 1);
		attach_fence(h, points[i], fence);
		close_fd(fence);
	}
	/* Points 1, 5 and 3 signal: nothing at or below 5 is pending. */
	sw_inc(timeline, 3);
	uint64_t q = sobj_query(h);
	CHECK(q == 5, "QUERY after points 1, 5, 3 signalled = %" PRIu64 "; want 5", q);
	tl_wait_twice(h, q, "points 1, 5, 3 signalled");
	sobj_destroy(h);
	close_fd(timeline);
}

static void tl_host_signal_ordered(int unused)
{
	uint32_t h = sobj_create(0);
	int timeline = sw_timeline();
	uint64_t host = 8;
	for (int i = 0; i < 5; i++) {
		int fence = sw_fence(timeline, i + 1);
		attach_fence(h, i + 1, fence);
		close_fd(fence);
	}
	sw_inc(timeline, 3);
	uint64_t q = sobj_query(h);
	CHECK(q == 3, "QUERY with points 1-3 of 1-5 signalled = %" PRIu64 "; want 3", q);
	sobj_timeline_signal(&h, &host, 1);
	q = sobj_query(h);
	CHECK(q == 3, "QUERY after the host signalled point 8, 4 and 5 pending = %" PRIu64 "; want 3", q);
	sw_inc(timeline, 5);
	q = sobj_query(h);
	CHECK(q == 8, "QUERY with everything signalled = %" PRIu64 "; want 8", q);
	sobj_destroy(h);
	close_fd(timeline);
}

/* tl_32bits_limit: points on either side of 2^31 signalled in order;
 * QUERY never goes down, here nor in the helper, which queries every
 * millisecond throughout (IGT's checker thread; this process sleeps 2 ms
 * after each signal so that the checker sees every state). */
static void tl_32bits_limit(int unused)
{
	if (!need_helper())
		return;
	uint32_t h = sobj_create(0);
	int timeline = sw_timeline();
	const uint64_t limit_diff = (1ull << 31) - 1;
	const uint64_t points[5] = { 1, 5, limit_diff + 5, limit_diff + 6, limit_diff * 2 };
	if (fl_sendfd(hl.ch, fd))
		fail("sendfd: %s", ename(errno));
	send_word(OP_CHECK);
	send_word(h);
	get(hl.res); /* the checker has made its first query */
	for (int i = 0; i < 5; i++) {
		int fence = sw_fence(timeline, i + 1);
		attach_fence(h, points[i], fence);
		close_fd(fence);
	}
	uint64_t last = 0;
	for (int i = 0; i < 5; i++) {
		sw_inc(timeline, 1);
		uint64_t v = sobj_query(h);
		CHECK(last <= v, "after signalling point %" PRIu64 ": QUERY = %" PRIu64 ", down from %" PRIu64, points[i], v,
		      last);
		last = v;
		sleep_ns(2 * MS);
	}
	send_word(OP_STOP);
	uint64_t res = get(hl.res);
	CHECK(!(res >> 63), "the checker's QUERY went down or failed (its output says how)");
	CHECK((res & 0xffffffff) >= 5, "the checker queried %" PRIu64 " times; want one per signal at least",
	      res & 0xffffffff);
	sobj_destroy(h);
	close_fd(timeline);
}

static void syncobj_timeline(void)
{
	begin("syncobj_timeline", 1);
	require_cap(DRM_CAP_SYNCOBJ_TIMELINE, "DRM_CAP_SYNCOBJ_TIMELINE");
	if (!fixture_why[0]) {
		struct drm_syncobj_timeline_wait w = { 0 };
		uint32_t h = 0;
		w.count_handles = 1;
		w.handles = (uintptr_t)&h;
		if (ioctl_err(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w) != -ENOENT)
			snprintf(fixture_why, sizeof fixture_why, "TIMELINE_WAIT({0}) is not ENOENT");
	}
	require_sw_sync();
	subtest("invalid-wait-bad-flags", tl_wait_bad_flags, 0);
	subtest("wait-zero-handles", tl_wait_zero_handles, 0);
	subtest("invalid-wait-illegal-handle", tl_wait_illegal_handle, 0);
	subtest("invalid-query-zero-handles", tl_array_invalid, 0 << 1);
	subtest("invalid-query-illegal-handle", tl_array_invalid, 1 << 1);
	subtest("invalid-query-one-illegal-handle", tl_array_one_illegal, 0);
	subtest("invalid-query-bad-pad", tl_array_invalid, 2 << 1);
	subtest("invalid-signal-zero-handles", tl_array_invalid, 0 << 1 | 1);
	subtest("invalid-signal-illegal-handle", tl_array_invalid, 1 << 1 | 1);
	subtest("invalid-signal-illegal-point", tl_array_invalid, 3 << 1 | 1);
	subtest("invalid-signal-one-illegal-handle", tl_array_one_illegal, 1);
	subtest("invalid-signal-bad-pad", tl_array_invalid, 2 << 1 | 1);
	subtest("signal-array", tl_signal_array, 0);
	subtest("invalid-transfer-illegal-handle", tl_transfer_illegal_handle, 0);
	subtest("invalid-transfer-bad-pad", tl_transfer_bad_pad, 0);
	subtest("invalid-transfer-non-existent-point", tl_transfer_nonexistent_point, 0);
	subtest("transfer-timeline-point", tl_transfer_point, 0);
	shared_first_half();
	subtest("signal-point-0", tl_signal_point_0, 0);
	shared_second_half();
	subtest("host-signal-points", tl_host_signal_points, 0);
	subtest("device-signal-unordered", tl_device_signal_unordered, 0);
	subtest("device-submit-unordered", tl_device_submit_unordered, 0);
	subtest("host-signal-ordered", tl_host_signal_ordered, 0);
	subtest("32bits-limit", tl_32bits_limit, 0);
	end();
}

/* ======================= syncobj_eventfd ======================= */

static int eventfd_err(uint32_t h, uint64_t point, uint32_t flags, int evfd, uint32_t pad)
{
	struct drm_syncobj_eventfd a = { .handle = h, .flags = flags, .point = point, .fd = evfd, .pad = pad };
	return ioctl_err(fd, DRM_IOCTL_SYNCOBJ_EVENTFD, &a);
}

/* ev_signaled and ev_unsignaled are IGT's checks of an eventfd: fired is
 * POLLIN within 5 s and an 8-byte read; not fired is no POLLIN for 10 ms
 * and a read that is EAGAIN. */
static void ev_signaled(int ev, const char *what)
{
	struct fl_pollfd p = { .fd = ev, .events = FL_POLLIN };
	int r = fl_poll(&p, 1, 5000);
	CHECK(r >= 0 && (p.revents & FL_POLLIN), "%s: no POLLIN within 5 s", what);
	uint64_t v;
	r = fl_read(ev, &v, 8);
	CHECK(r == 8, "%s: read = %s; want 8 bytes", what, rname(r < 0 ? -errno : r));
}

static void ev_unsignaled(int ev, const char *what)
{
	struct fl_pollfd p = { .fd = ev, .events = FL_POLLIN };
	int r = fl_poll(&p, 1, 10);
	CHECK(r == 0, "%s: poll = %s (revents %#x); want nothing for 10 ms", what, rname(r < 0 ? -errno : r), p.revents);
	uint64_t v;
	r = fl_read(ev, &v, 8);
	CHECK(r == -1 && errno == EAGAIN, "%s: read = %s; want -EAGAIN", what, rname(r < 0 ? -errno : r));
}

static void ev_bad_flags(int unused)
{
	uint32_t h = sobj_create(DRM_SYNCOBJ_CREATE_SIGNALED);
	int ev = fl_eventfd(0, FL_EFD_NONBLOCK);
	int r = eventfd_err(h, 0, 0xdeadbeef, ev, 0);
	CHECK(r == -EINVAL, "EVENTFD(flags 0xdeadbeef) = %s; want -EINVAL", rname(r));
	close_fd(ev);
	sobj_destroy(h);
}

static void ev_illegal_handle(int unused)
{
	int ev = fl_eventfd(0, FL_EFD_NONBLOCK);
	int r = eventfd_err(0, 0, 0, ev, 0);
	CHECK(r == -ENOENT, "EVENTFD(handle 0) = %s; want -ENOENT", rname(r));
	close_fd(ev);
}

static void ev_illegal_eventfd(int unused)
{
	uint32_t h = sobj_create(DRM_SYNCOBJ_CREATE_SIGNALED);
	int null = fl_open("/dev/null", FL_O_RDWR);
	CHECK(null >= 0, "open /dev/null: %s", ename(errno));
	int r = eventfd_err(h, 0, 0, null, 0);
	CHECK(r == -EINVAL, "EVENTFD(fd of /dev/null) = %s; want -EINVAL", rname(r));
	close_fd(null);
	sobj_destroy(h);
}

static void ev_bad_pad(int unused)
{
	uint32_t h = sobj_create(DRM_SYNCOBJ_CREATE_SIGNALED);
	int ev = fl_eventfd(0, FL_EFD_NONBLOCK);
	int r = eventfd_err(h, 0, 0, ev, 0xdeadbeef);
	CHECK(r == -EINVAL, "EVENTFD(pad 0xdeadbeef) = %s; want -EINVAL", rname(r));
	close_fd(ev);
	sobj_destroy(h);
}

/* ev_register registers a plain and a WAIT_AVAILABLE eventfd on
 * (h, point). */
static void ev_register(uint32_t h, uint64_t point, int *wait, int *avail)
{
	*wait = fl_eventfd(0, FL_EFD_NONBLOCK);
	*avail = fl_eventfd(0, FL_EFD_NONBLOCK);
	int r = eventfd_err(h, point, 0, *wait, 0);
	CHECK(r == 0, "EVENTFD(point %" PRIu64 ") = %s; want 0", point, rname(r));
	r = eventfd_err(h, point, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, *avail, 0);
	CHECK(r == 0, "EVENTFD(point %" PRIu64 ", WAIT_AVAILABLE) = %s; want 0", point, rname(r));
}

/* ev_wait: registered on an attached, unsignalled fence. */
static void ev_wait(int timeline_kind)
{
	uint64_t point = timeline_kind ? 1 : 0;
	uint32_t h = sobj_create(0);
	int wait, avail, timeline = attach(h, point);
	ev_register(h, point, &wait, &avail);
	ev_unsignaled(wait, "plain eventfd, fence pending");
	ev_signaled(avail, "WAIT_AVAILABLE eventfd, fence pending");
	sw_inc(timeline, 1);
	ev_signaled(wait, "plain eventfd, fence signalled");
	close_fd(wait);
	close_fd(avail);
	close_fd(timeline);
	sobj_destroy(h);
}

/* ev_wait_before_signal: registered before the syncobj has a fence. */
static void ev_wait_before_signal(int timeline_kind)
{
	uint64_t point = timeline_kind ? 1 : 0;
	uint32_t h = sobj_create(0);
	int wait, avail;
	ev_register(h, point, &wait, &avail);
	ev_unsignaled(wait, "plain eventfd, no fence");
	ev_unsignaled(avail, "WAIT_AVAILABLE eventfd, no fence");
	int timeline = attach(h, point);
	ev_unsignaled(wait, "plain eventfd, fence pending");
	ev_signaled(avail, "WAIT_AVAILABLE eventfd, fence pending");
	sw_inc(timeline, 1);
	ev_signaled(wait, "plain eventfd, fence signalled");
	close_fd(wait);
	close_fd(avail);
	close_fd(timeline);
	sobj_destroy(h);
}

/* ev_wait_signaled: registered after the fence signalled. */
static void ev_wait_signaled(int timeline_kind)
{
	uint64_t point = timeline_kind ? 1 : 0;
	uint32_t h = sobj_create(0);
	int wait, avail, timeline = attach(h, point);
	sw_inc(timeline, 1);
	ev_register(h, point, &wait, &avail);
	ev_signaled(wait, "plain eventfd, fence already signalled");
	ev_signaled(avail, "WAIT_AVAILABLE eventfd, fence already signalled");
	close_fd(wait);
	close_fd(avail);
	close_fd(timeline);
	sobj_destroy(h);
}

static void syncobj_eventfd(void)
{
	begin("syncobj_eventfd", 0);
	require_cap(DRM_CAP_SYNCOBJ_TIMELINE, "DRM_CAP_SYNCOBJ_TIMELINE");
	if (!fixture_why[0] && eventfd_err(0, 0, 0, -1, 0) != -ENOENT)
		snprintf(fixture_why, sizeof fixture_why, "EVENTFD(handle 0, fd -1) is not ENOENT");
	require_sw_sync();
	subtest("invalid-bad-flags", ev_bad_flags, 0);
	subtest("invalid-illegal-handle", ev_illegal_handle, 0);
	subtest("invalid-illegal-eventfd", ev_illegal_eventfd, 0);
	subtest("invalid-bad-pad", ev_bad_pad, 0);
	for (int i = 0; i < 2; i++) {
		char name[48];
		const char *kind = i ? "timeline" : "binary";
		snprintf(name, sizeof name, "%s-wait", kind);
		subtest(name, ev_wait, i);
		snprintf(name, sizeof name, "%s-wait-before-signal", kind);
		subtest(name, ev_wait_before_signal, i);
		snprintf(name, sizeof name, "%s-wait-signaled", kind);
		subtest(name, ev_wait_signaled, i);
	}
	end();
}

/* ======================= drm_virtgpu ======================= */

/* IGT opens the first card node whose driver is virtio_gpu; its ioctls
 * are all render-node ioctls, so here they run on the render node. Its
 * shared resource: target 2, format 67, bind 1, 64×64, depth and array
 * size 1, made by the first subtest that needs it. */
static struct drm_virtgpu_resource_create res;
static int res_made;

static void make_resource(void)
{
	if (res_made)
		return;
	memset(&res, 0, sizeof res);
	res.target = 2;
	res.format = 67;
	res.bind = 1;
	res.width = 64;
	res.height = 64;
	res.depth = 1;
	res.array_size = 1;
	int r = ioctl_err(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &res);
	CHECK(r == 0 && res.res_handle, "RESOURCE_CREATE = %s, res_handle %u", rname(r), res.res_handle);
	res_made = r == 0;
}

static uint8_t mapping[4096] __attribute__((aligned(4096)));

static void vg_map(int unused)
{
	make_resource();
	struct drm_virtgpu_map m = { .handle = res.bo_handle };
	int r = ioctl_err(fd, DRM_IOCTL_VIRTGPU_MAP, &m);
	CHECK(r == 0 && m.offset, "MAP = %s, offset %#" PRIx64 "; want 0 and an offset", rname(r), (uint64_t)m.offset);
	if (failing())
		return;
	/* fencelab's mmap shadows the object in a buffer of ours
	 * (guests/ABI.md): MAP_FIXED at its address. */
	void *p = fl_mmap(mapping, 4096, FL_PROT_READ | FL_PROT_WRITE, FL_MAP_SHARED | FL_MAP_FIXED, fd, (int64_t)m.offset);
	CHECK(p == mapping, "mmap: %s", ename(errno));
	memset(mapping, 0xaa, sizeof mapping);
	CHECK(mapping[0] == 0xaa, "the mapping does not hold what was written");
	CHECK(fl_munmap(mapping, 4096) == 0, "munmap: %s", ename(errno));
	/* Beyond IGT: the writes reached the object; a new mapping sees
	 * them. */
	memset(mapping, 0, sizeof mapping);
	p = fl_mmap(mapping, 4096, FL_PROT_READ, FL_MAP_SHARED | FL_MAP_FIXED, fd, (int64_t)m.offset);
	CHECK(p == mapping, "second mmap: %s", ename(errno));
	CHECK(mapping[0] == 0xaa && mapping[4095] == 0xaa, "a second mapping reads %#x, %#x; want 0xaa",
	      mapping[0], mapping[4095]);
	CHECK(fl_munmap(mapping, 4096) == 0, "munmap: %s", ename(errno));
}

static void vg_execbuffer(int unused)
{
	make_resource();
	uint32_t bo = res.bo_handle;
	/* Linux 6.12's struct, as IGT builds it: no command, one BO. */
	struct fl_virtgpu_execbuffer e = { .bo_handles = (uintptr_t)&bo, .num_bo_handles = 1, .fence_fd = -1 };
	int r = ioctl_err(fd, FL_IOCTL_VIRTGPU_EXECBUFFER, &e);
	CHECK(r == 0, "EXECBUFFER(no command, one BO) = %s; want 0", rname(r));
}

static void vg_resource_info(int unused)
{
	make_resource();
	struct drm_virtgpu_resource_info i = { .bo_handle = res.bo_handle };
	int r = ioctl_err(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &i);
	CHECK(r == 0 && i.res_handle == res.res_handle && i.size > 0,
	      "RESOURCE_INFO = %s, res_handle %u, size %u; want 0, %u, > 0", rname(r), i.res_handle, i.size,
	      res.res_handle);
}

static void vg_transfer(int from_host)
{
	make_resource();
	/* Debian's struct ends at offset; stride and layer_stride, zero in
	 * IGT, are the zeros the kernel fills a short struct with. */
	struct drm_virtgpu_3d_transfer_to_host x = { .bo_handle = res.bo_handle,
		.box = { .w = res.width, .h = res.height, .d = 1 } };
	int r = ioctl_err(fd, from_host ? DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST : DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, &x);
	CHECK(r == 0, "TRANSFER_%s_HOST(the whole box) = %s; want 0", from_host ? "FROM" : "TO", rname(r));
}

static void vg_wait(int unused)
{
	/* IGT only reports the answer; a blocking WAIT on a device that
	 * completes its work is 0 in Linux, so that is checked. */
	struct drm_virtgpu_3d_wait w = { .handle = res.bo_handle };
	int r = ioctl_err(fd, DRM_IOCTL_VIRTGPU_WAIT, &w);
	CHECK(r == 0, "WAIT on the BO = %s; want 0", rname(r));
}

static void vg_resource_create(int unused)
{
	make_resource();
	/* IGT's subtest reuses the shared resource; a second one is made
	 * here, so that the subtest checks something of its own. */
	struct drm_virtgpu_resource_create c = res;
	c.bo_handle = c.res_handle = 0;
	int r = ioctl_err(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &c);
	CHECK(r == 0 && c.res_handle && c.bo_handle, "RESOURCE_CREATE = %s, res_handle %u, bo_handle %u", rname(r),
	      c.res_handle, c.bo_handle);
	CHECK(c.res_handle != res.res_handle, "a second resource has the first one's res_handle %u", c.res_handle);
}

static void vg_resource_create_blob(int unused)
{
	struct drm_virtgpu_resource_create_blob b = { .blob_mem = VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE | VIRTGPU_BLOB_FLAG_USE_SHAREABLE, .size = 4096 };
	int r = ioctl_err(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &b);
	CHECK(r == 0 && b.res_handle, "RESOURCE_CREATE_BLOB(guest, 4096) = %s, res_handle %u", rname(r), b.res_handle);
}

static int getparam(uint64_t param, uint64_t *value)
{
	*value = 0;
	struct drm_virtgpu_getparam g = { .param = param, .value = (uintptr_t)value };
	return ioctl_err(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &g);
}

static int get_caps(uint32_t id)
{
	static uint8_t buf[4096];
	struct drm_virtgpu_get_caps c = { .cap_set_id = id, .addr = (uintptr_t)buf, .size = sizeof buf };
	return ioctl_err(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &c);
}

/* vg_get_caps: IGT expects virgl's capsets 1 and 2 to answer and 3 (but
 * for gfxstream) and 9999 not: that is "the capsets the device offers
 * answer, no other does" on a virgl host. fencelab's device offers its
 * own capset instead, so the offer is read from GETPARAM
 * SUPPORTED_CAPSET_IDs and the same ids are checked against it. */
static void vg_get_caps(int unused)
{
	uint64_t mask;
	int r = getparam(VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, &mask);
	mask &= 0xffffffff; /* the kernel writes an int */
	CHECK(r == 0 && mask, "GETPARAM(SUPPORTED_CAPSET_IDs) = %s, mask %#" PRIx64 "; want a capset", rname(r), mask);
	uint32_t ids[36];
	int n = 0;
	for (uint32_t id = 1; id < 32; id++)
		if (mask & 1ull << id)
			ids[n++] = id;
	ids[n++] = 1;
	ids[n++] = 2;
	ids[n++] = 3;
	ids[n++] = 9999;
	for (int i = 0; i < n; i++) {
		int offered = ids[i] < 32 && (mask & 1ull << ids[i]);
		r = get_caps(ids[i]);
		CHECK(offered ? r == 0 : r != 0, "GET_CAPS(capset %u) = %s; want %s", ids[i], rname(r),
		      offered ? "0 (offered)" : "an error (not offered)");
	}
}

static int context_init(int f, uint64_t capset)
{
	static const char name[] = "IGT-Test-Context";
	struct fl_virtgpu_context_set_param p[2] = {
		{ FL_CONTEXT_PARAM_CAPSET_ID, capset },
		{ VIRTGPU_CONTEXT_PARAM_DEBUG_NAME, (uintptr_t)name },
	};
	struct fl_virtgpu_context_init c = { .num_params = 2, .ctx_set_params = (uintptr_t)p };
	return ioctl_err(f, FL_IOCTL_VIRTGPU_CONTEXT_INIT, &c);
}

/* vg_context_init: IGT's CONTEXT_INIT (virgl's capset 1 and a debug
 * name) on its file, 0 or EEXIST (the file has a context from
 * EXECBUFFER). Beyond IGT, on fresh files: an offered capset is 0, one
 * not offered EINVAL. */
static void vg_context_init(int unused)
{
	int r = context_init(fd, 1);
	CHECK(r == 0 || r == -EEXIST, "CONTEXT_INIT(capset 1, debug name) = %s; want 0 or -EEXIST", rname(r));
	uint64_t mask;
	getparam(VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, &mask);
	for (uint32_t id = 1; id < 32; id++) {
		int fresh = fl_open(RENDER_NODE, FL_O_RDWR), offered = (mask & 1ull << id) != 0;
		r = context_init(fresh, id);
		close_fd(fresh);
		CHECK(offered ? r == 0 : r == -EINVAL, "CONTEXT_INIT(capset %u) on a fresh file = %s; want %s", id,
		      rname(r), offered ? "0" : "-EINVAL");
	}
}

static void vg_getparam(int unused)
{
	int found = 0;
	for (uint64_t p = 1; p <= 8; p++) {
		uint64_t v;
		if (getparam(p, &v) == 0)
			found++;
	}
	CHECK(found, "no GETPARAM from 1 to 8 answered");
}

static void drm_virtgpu(void)
{
	begin("drm_virtgpu", 0);
	if (!fixture_why[0]) {
		char name[32] = { 0 };
		struct drm_version v = { .name_len = sizeof name - 1, .name = name };
		if (drmIoctl(fd, DRM_IOCTL_VERSION, &v) || strcmp(name, "virtio_gpu") != 0)
			snprintf(fixture_why, sizeof fixture_why, "the render node's driver is not virtio_gpu");
	}
	subtest("drm-virtgpu-map", vg_map, 0);
	subtest("drm-virtgpu-execbuffer", vg_execbuffer, 0);
	subtest("drm-virtgpu-resource-info", vg_resource_info, 0);
	subtest("drm-virtgpu-3d-transfer-to-host", vg_transfer, 0);
	subtest("drm-virtgpu-3d-transfer-from-host", vg_transfer, 1);
	subtest("drm-virtgpu-3d-wait", vg_wait, 0);
	subtest("drm-virtgpu-resource-create", vg_resource_create, 0);
	subtest("drm-virtgpu-resource-create-blob", vg_resource_create_blob, 0);
	subtest("drm-virtgpu-get-caps", vg_get_caps, 0);
	subtest("drm-virtgpu-context-init", vg_context_init, 0);
	subtest("drm-virtgpu-getparam", vg_getparam, 0);
	end();
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "helper") == 0)
		return helper_main();
	setvbuf(stdout, NULL, _IOLBF, 0);
	helper_connect();
	syncobj_basic();
	syncobj_wait();
	syncobj_timeline();
	syncobj_eventfd();
	drm_virtgpu();
	if (hl.present)
		send_word(OP_EXIT);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
