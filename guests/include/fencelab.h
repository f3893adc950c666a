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
#include <stdlib.h>
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
FL_IMPORT("mmap") int32_t __fl_mmap(void *addr, int32_t length, int32_t prot, int32_t flags, int32_t fd, int64_t offset);
FL_IMPORT("munmap") int32_t __fl_munmap(void *addr, int32_t length);
FL_IMPORT("sigtimer") int32_t __fl_sigtimer(int32_t interval_us);

/* Linux's flag values (wasi-libc's O_* are WASI's, not these). */
#define FL_O_RDWR     02
#define FL_O_NONBLOCK 04000
#define FL_O_CLOEXEC  02000000
#define FL_EFD_SEMAPHORE 1
#define FL_EFD_NONBLOCK  04000
#define FL_POLLIN  0x1
#define FL_POLLOUT 0x4
#define FL_PROT_READ  0x1
#define FL_PROT_WRITE 0x2
#define FL_MAP_SHARED 0x01
#define FL_MAP_PRIVATE 0x02
#define FL_MAP_FIXED  0x10

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
static inline int fl_munmap(void *addr, size_t length) { return fl_ret(__fl_munmap(addr, (int32_t)length)); }

/* fl_sigtimer delivers a signal to the process every interval_us of
 * virtual time (at least 100; 0: stop), as an interval timer with an
 * empty handler installed without SA_RESTART: a system call it finds
 * asleep returns EINTR (drmIoctl restarts it). It returns how many
 * signals were delivered so far, or -1 and errno. */
static inline int fl_sigtimer(int interval_us) { return fl_ret(__fl_sigtimer(interval_us)); }

#define FL_MAP_FAILED ((void *)-1)

/* fl_mmap is mmap(2) as fencelab's ABI gives it: addr must be a
 * page-aligned buffer of the guest's own, and flags include FL_MAP_FIXED
 * (see guests/ABI.md, "Mapping buffers"). FL_MAP_FAILED and errno on
 * failure. */
static inline void *fl_mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)
{
	int32_t r = __fl_mmap(addr, (int32_t)length, prot, flags, fd, offset);
	if (r < 0 && r >= -4095) {
		errno = fl_errno(-r);
		return FL_MAP_FAILED;
	}
	return (void *)(uintptr_t)(uint32_t)r;
}

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

/*
 * KMS: libdrm's names for the calls a program that shows frames makes
 * (drmSetClientCap, drmModeAddFB2, drmModeRmFB, drmModeCreatePropertyBlob,
 * the drmModeAtomic* request builder), with libdrm's conventions (0 or -1
 * and errno; drmModeAtomicAddProperty returns the request's length), and
 * fencelab's helpers for the boilerplate around them: fl_output_find
 * (a connector, its CRTC and primary plane, their property ids and the
 * preferred mode), fl_output_modeset/fl_output_flip (the properties of a
 * first commit and of a flip), fl_dumb_create/fl_dumb_map, and
 * fl_read_event (one DRM event, waiting for it).
 */
static inline int drmSetClientCap(int fd, uint64_t capability, uint64_t value)
{
	struct drm_set_client_cap cap = { .capability = capability, .value = value };
	return drmIoctl(fd, DRM_IOCTL_SET_CLIENT_CAP, &cap);
}

static inline int drmModeAddFB2(int fd, uint32_t width, uint32_t height, uint32_t pixel_format,
				const uint32_t bo_handles[4], const uint32_t pitches[4],
				const uint32_t offsets[4], uint32_t *buf_id, uint32_t flags)
{
	struct drm_mode_fb_cmd2 f = { .width = width, .height = height, .pixel_format = pixel_format, .flags = flags };
	memcpy(f.handles, bo_handles, sizeof f.handles);
	memcpy(f.pitches, pitches, sizeof f.pitches);
	memcpy(f.offsets, offsets, sizeof f.offsets);
	if (drmIoctl(fd, DRM_IOCTL_MODE_ADDFB2, &f))
		return -1;
	*buf_id = f.fb_id;
	return 0;
}

static inline int drmModeRmFB(int fd, uint32_t buffer_id)
{
	return drmIoctl(fd, DRM_IOCTL_MODE_RMFB, &buffer_id);
}

static inline int drmModeCreatePropertyBlob(int fd, const void *data, size_t length, uint32_t *id)
{
	struct drm_mode_create_blob b = { .data = (uintptr_t)data, .length = (uint32_t)length };
	if (drmIoctl(fd, DRM_IOCTL_MODE_CREATEPROPBLOB, &b))
		return -1;
	*id = b.blob_id;
	return 0;
}

static inline int drmModeDestroyPropertyBlob(int fd, uint32_t id)
{
	struct drm_mode_destroy_blob b = { .blob_id = id };
	return drmIoctl(fd, DRM_IOCTL_MODE_DESTROYPROPBLOB, &b);
}

/* An atomic request: (object, property, value) triples in the order
 * added. */
struct fl_atomic_item {
	uint32_t object, property;
	uint64_t value;
};
typedef struct _drmModeAtomicReq {
	uint32_t count, cap;
	struct fl_atomic_item *items;
} drmModeAtomicReq, *drmModeAtomicReqPtr;

static inline drmModeAtomicReqPtr drmModeAtomicAlloc(void)
{
	return calloc(1, sizeof(drmModeAtomicReq));
}

static inline void drmModeAtomicFree(drmModeAtomicReqPtr req)
{
	if (req) {
		free(req->items);
		free(req);
	}
}

static inline int drmModeAtomicGetCursor(drmModeAtomicReqPtr req) { return req ? (int)req->count : 0; }
static inline void drmModeAtomicSetCursor(drmModeAtomicReqPtr req, int cursor) { if (req) req->count = (uint32_t)cursor; }

static inline int drmModeAtomicAddProperty(drmModeAtomicReqPtr req, uint32_t object_id, uint32_t property_id, uint64_t value)
{
	if (!req)
		return -EINVAL;
	if (req->count == req->cap) {
		uint32_t cap = req->cap ? 2 * req->cap : 16;
		struct fl_atomic_item *items = realloc(req->items, cap * sizeof *items);
		if (!items)
			return -ENOMEM;
		req->items = items;
		req->cap = cap;
	}
	req->items[req->count++] = (struct fl_atomic_item){ object_id, property_id, value };
	return (int)req->count;
}

/* drmModeAtomicCommit groups the request by object as the ioctl wants
 * it; a property set twice takes the last value, as in libdrm. */
static inline int drmModeAtomicCommit(int fd, drmModeAtomicReqPtr req, uint32_t flags, void *user_data)
{
	if (!req)
		return -EINVAL; /* as libdrm: -errno here, -1 and errno from the ioctl */
	if (req->count == 0)
		return 0; /* libdrm sends nothing for an empty request */
	uint32_t n = req->count, nobj = 0, nprop = 0;
	uint32_t *objs = calloc(n + 1, 4), *counts = calloc(n + 1, 4), *props = calloc(n + 1, 4);
	uint64_t *values = calloc(n + 1, 8);
	uint32_t *order = calloc(n + 1, 4);
	int ret = -1;
	if (!objs || !counts || !props || !values || !order) {
		errno = ENOMEM;
		goto out;
	}
	/* A stable insertion sort by (object, property). */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;
		const struct fl_atomic_item *it = &req->items[i];
		while (j > 0) {
			const struct fl_atomic_item *p = &req->items[order[j - 1]];
			if (p->object < it->object || (p->object == it->object && p->property <= it->property))
				break;
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct fl_atomic_item *it = &req->items[order[i]];
		if (i + 1 < n) {
			const struct fl_atomic_item *next = &req->items[order[i + 1]];
			if (next->object == it->object && next->property == it->property)
				continue; /* the later value wins */
		}
		if (nobj == 0 || objs[nobj - 1] != it->object)
			objs[nobj++] = it->object;
		counts[nobj - 1]++;
		props[nprop] = it->property;
		values[nprop++] = it->value;
	}
	struct drm_mode_atomic a = {
		.flags = flags, .count_objs = nobj, .objs_ptr = (uintptr_t)objs,
		.count_props_ptr = (uintptr_t)counts, .props_ptr = (uintptr_t)props,
		.prop_values_ptr = (uintptr_t)values, .user_data = (uintptr_t)user_data,
	};
	ret = drmIoctl(fd, DRM_IOCTL_MODE_ATOMIC, &a);
out:
	free(objs);
	free(counts);
	free(props);
	free(values);
	free(order);
	return ret;
}

/* fl_prop_id is the id of the property called name on a mode object
 * (type DRM_MODE_OBJECT_*), 0 if it has none (errno ENOENT), and its
 * current value in *value if value is not NULL. */
static inline uint32_t fl_prop_id(int fd, uint32_t object, uint32_t type, const char *name, uint64_t *value)
{
	uint32_t ids[64];
	uint64_t values[64];
	struct drm_mode_obj_get_properties o = {
		.props_ptr = (uintptr_t)ids, .prop_values_ptr = (uintptr_t)values,
		.count_props = 64, .obj_id = object, .obj_type = type,
	};
	if (drmIoctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &o))
		return 0;
	for (uint32_t i = 0; i < o.count_props && i < 64; i++) {
		struct drm_mode_get_property p = { .prop_id = ids[i] };
		if (drmIoctl(fd, DRM_IOCTL_MODE_GETPROPERTY, &p))
			return 0;
		if (strncmp(p.name, name, DRM_PROP_NAME_LEN) == 0) {
			if (value)
				*value = values[i];
			return ids[i];
		}
	}
	errno = ENOENT;
	return 0;
}

/* An output: a connected connector, the CRTC that drives it, that
 * CRTC's primary plane, the properties an atomic program sets on them,
 * and the connector's preferred mode. */
struct fl_output {
	uint32_t connector, crtc, plane;
	struct drm_mode_modeinfo mode;
	struct {
		uint32_t crtc_id;
	} connector_props;
	struct {
		uint32_t active, mode_id, out_fence_ptr;
	} crtc_props;
	struct {
		uint32_t fb_id, crtc_id, in_fence_fd, fb_damage_clips;
		uint32_t src_x, src_y, src_w, src_h, crtc_x, crtc_y, crtc_w, crtc_h;
	} plane_props;
};

/* fl_output_find fills out for the index-th connected connector (from 0)
 * of a primary node fd, first turning on the atomic client cap (which
 * brings universal planes). 0, or -1 and errno (ENOENT: no such
 * output). */
static inline int fl_output_find(int fd, int index, struct fl_output *out)
{
	uint32_t crtcs[8], connectors[8];
	memset(out, 0, sizeof *out);
	if (drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1))
		return -1;
	struct drm_mode_card_res res = {
		.crtc_id_ptr = (uintptr_t)crtcs, .connector_id_ptr = (uintptr_t)connectors,
		.count_crtcs = 8, .count_connectors = 8,
	};
	if (drmIoctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res))
		return -1;
	for (uint32_t i = 0; i < res.count_connectors && i < 8; i++) {
		struct drm_mode_modeinfo modes[64];
		uint32_t encoders[8];
		struct drm_mode_get_connector c = {
			.connector_id = connectors[i], .modes_ptr = (uintptr_t)modes, .count_modes = 64,
			.encoders_ptr = (uintptr_t)encoders, .count_encoders = 8,
		};
		if (drmIoctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c))
			return -1;
		if (c.connection != 1 || c.count_modes == 0 || index-- > 0)
			continue;
		out->connector = c.connector_id;
		out->mode = modes[0];
		for (uint32_t m = 0; m < c.count_modes && m < 64; m++)
			if (modes[m].type & DRM_MODE_TYPE_PREFERRED) {
				out->mode = modes[m];
				break;
			}
		struct drm_mode_get_encoder e = { .encoder_id = c.encoder_id ? c.encoder_id : encoders[0] };
		if (drmIoctl(fd, DRM_IOCTL_MODE_GETENCODER, &e))
			return -1;
		uint32_t crtc_index = 0;
		for (; crtc_index < res.count_crtcs && crtc_index < 8; crtc_index++)
			if (e.crtc_id ? crtcs[crtc_index] == e.crtc_id : (e.possible_crtcs >> crtc_index) & 1)
				break;
		if (crtc_index == res.count_crtcs || crtc_index == 8) {
			errno = ENOENT;
			return -1;
		}
		out->crtc = crtcs[crtc_index];
		uint32_t planes[16];
		struct drm_mode_get_plane_res pr = { .plane_id_ptr = (uintptr_t)planes, .count_planes = 16 };
		if (drmIoctl(fd, DRM_IOCTL_MODE_GETPLANERESOURCES, &pr))
			return -1;
		for (uint32_t p = 0; p < pr.count_planes && p < 16 && !out->plane; p++) {
			struct drm_mode_get_plane gp = { .plane_id = planes[p] };
			uint64_t type = 0;
			if (drmIoctl(fd, DRM_IOCTL_MODE_GETPLANE, &gp))
				return -1;
			if ((gp.possible_crtcs >> crtc_index) & 1 &&
			    fl_prop_id(fd, planes[p], DRM_MODE_OBJECT_PLANE, "type", &type) && type == 1 /* primary */)
				out->plane = planes[p];
		}
		if (!out->plane) {
			errno = ENOENT;
			return -1;
		}
#define FL_PROP(obj, type, field, name) \
	if (!(out->field = fl_prop_id(fd, out->obj, type, name, NULL))) \
		return -1;
		FL_PROP(connector, DRM_MODE_OBJECT_CONNECTOR, connector_props.crtc_id, "CRTC_ID")
		FL_PROP(crtc, DRM_MODE_OBJECT_CRTC, crtc_props.active, "ACTIVE")
		FL_PROP(crtc, DRM_MODE_OBJECT_CRTC, crtc_props.mode_id, "MODE_ID")
		FL_PROP(crtc, DRM_MODE_OBJECT_CRTC, crtc_props.out_fence_ptr, "OUT_FENCE_PTR")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.fb_id, "FB_ID")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.crtc_id, "CRTC_ID")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.in_fence_fd, "IN_FENCE_FD")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.fb_damage_clips, "FB_DAMAGE_CLIPS")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.src_x, "SRC_X")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.src_y, "SRC_Y")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.src_w, "SRC_W")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.src_h, "SRC_H")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.crtc_x, "CRTC_X")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.crtc_y, "CRTC_Y")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.crtc_w, "CRTC_W")
		FL_PROP(plane, DRM_MODE_OBJECT_PLANE, plane_props.crtc_h, "CRTC_H")
#undef FL_PROP
		return 0;
	}
	errno = ENOENT;
	return -1;
}

/* fl_output_modeset adds to req what lights the output with its mode
 * (mode_blob: a property blob of out->mode) showing fb full screen:
 * commit it with DRM_MODE_ATOMIC_ALLOW_MODESET. */
static inline void fl_output_modeset(drmModeAtomicReqPtr req, const struct fl_output *out, uint32_t mode_blob, uint32_t fb)
{
	uint32_t w = out->mode.hdisplay, h = out->mode.vdisplay;
	drmModeAtomicAddProperty(req, out->connector, out->connector_props.crtc_id, out->crtc);
	drmModeAtomicAddProperty(req, out->crtc, out->crtc_props.mode_id, mode_blob);
	drmModeAtomicAddProperty(req, out->crtc, out->crtc_props.active, 1);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.crtc_id, out->crtc);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.src_x, 0);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.src_y, 0);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.src_w, (uint64_t)w << 16);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.src_h, (uint64_t)h << 16);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.crtc_x, 0);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.crtc_y, 0);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.crtc_w, w);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.crtc_h, h);
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.fb_id, fb);
}

/* fl_output_flip adds to req a flip of the output's primary plane to fb:
 * held back until in_fence_fd signals (-1: none), with the commit's
 * out-fence written to *out_fence (NULL: none). */
static inline void fl_output_flip(drmModeAtomicReqPtr req, const struct fl_output *out, uint32_t fb,
				  int in_fence_fd, int32_t *out_fence)
{
	drmModeAtomicAddProperty(req, out->plane, out->plane_props.fb_id, fb);
	if (in_fence_fd >= 0)
		drmModeAtomicAddProperty(req, out->plane, out->plane_props.in_fence_fd, (uint64_t)in_fence_fd);
	if (out_fence)
		drmModeAtomicAddProperty(req, out->crtc, out->crtc_props.out_fence_ptr, (uintptr_t)out_fence);
}

/* fl_dumb_create makes a dumb buffer of width×height at 32 bits a pixel. */
static inline int fl_dumb_create(int fd, uint32_t width, uint32_t height, uint32_t *handle, uint32_t *pitch, uint64_t *size)
{
	struct drm_mode_create_dumb c = { .width = width, .height = height, .bpp = 32 };
	if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c))
		return -1;
	*handle = c.handle;
	*pitch = c.pitch;
	*size = c.size;
	return 0;
}

/* fl_dumb_map maps size bytes of a dumb buffer shared and writable into
 * fresh page-aligned memory: the pointer, or NULL and errno. Release it
 * with fl_munmap then free. */
static inline void *fl_dumb_map(int fd, uint32_t handle, uint64_t size)
{
	struct drm_mode_map_dumb m = { .handle = handle };
	if (drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &m))
		return NULL;
	void *p = aligned_alloc(4096, (size + 4095) & ~(uint64_t)4095);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	if (fl_mmap(p, size, FL_PROT_READ | FL_PROT_WRITE, FL_MAP_SHARED | FL_MAP_FIXED, fd, (int64_t)m.offset) == FL_MAP_FAILED) {
		int e = errno;
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

/* fl_read_event waits for the next DRM event on fd (timeout_ms < 0:
 * for ever) and reads it into ev: 0, or -1 and errno (ETIME when the
 * timeout passes). A flip's event is a struct drm_event_vblank. */
static inline int fl_read_event(int fd, struct drm_event_vblank *ev, int timeout_ms)
{
	struct fl_pollfd p = { .fd = fd, .events = FL_POLLIN };
	int n = fl_poll(&p, 1, timeout_ms);
	if (n < 0)
		return -1;
	if (n == 0) {
		errno = ETIME;
		return -1;
	}
	return fl_read(fd, ev, sizeof *ev) < 0 ? -1 : 0;
}

#endif
