package drm

import (
	"encoding/binary"

	"fencelab/errno"
	"fencelab/fence"
)

// Ioctl flags (include/drm/drm_ioctl.h enum drm_ioctl_flags).
const (
	DRM_AUTH         = 0x1
	DRM_MASTER       = 0x2
	DRM_ROOT_ONLY    = 0x4
	DRM_RENDER_ALLOW = 0x20
)

// coreIoctlCount is DRM_CORE_IOCTL_COUNT in Linux 6.12: core numbers
// 0x00..0xD0 (DRM_IOCTL_MODE_CLOSEFB is the last).
const coreIoctlCount = 0xD1

// driverIoctlCount is DRM_VIRTIO_NUM_IOCTLS: driver numbers 0x40..0x4b.
const driverIoctlCount = 12

// handler runs an ioctl on its argument struct, already copied in (and
// zero-filled past what the caller passed); what it leaves in data is
// copied back.
type handler func(f *File, t *Task, data []byte) errno.Errno

// ioctlDesc is one entry of an ioctl table (struct drm_ioctl_desc).
type ioctlDesc struct {
	name  string
	cmd   uint32 // the kernel's request word: its size is the kernel's struct
	flags uint32
	fn    handler
}

// coreIoctls is drm_ioctls[], indexed by number. Entries fencelab does not
// implement are zero: their ioctls are EINVAL, as an ioctl without a
// function is in Linux.
var coreIoctls = func() (t [coreIoctlCount]ioctlDesc) {
	add := func(name string, cmd, flags uint32, fn handler) { t[iocNr(cmd)] = ioctlDesc{name, cmd, flags, fn} }
	add("DRM_IOCTL_VERSION", DRM_IOCTL_VERSION, DRM_RENDER_ALLOW, drmVersion)
	add("DRM_IOCTL_GET_UNIQUE", DRM_IOCTL_GET_UNIQUE, 0, drmGetUnique)
	add("DRM_IOCTL_GET_CAP", DRM_IOCTL_GET_CAP, DRM_RENDER_ALLOW, drmGetCap)
	add("DRM_IOCTL_SET_CLIENT_CAP", DRM_IOCTL_SET_CLIENT_CAP, 0, kmsOnly(drmSetClientCap))
	add("DRM_IOCTL_MODE_GETRESOURCES", DRM_IOCTL_MODE_GETRESOURCES, 0, kmsOnly(drmModeGetResources))
	add("DRM_IOCTL_MODE_GETPROPERTY", DRM_IOCTL_MODE_GETPROPERTY, 0, kmsOnly(drmModeGetProperty))
	add("DRM_IOCTL_MODE_OBJ_GETPROPERTIES", DRM_IOCTL_MODE_OBJ_GETPROPERTIES, 0, kmsOnly(drmModeObjGetProperties))
	add("DRM_IOCTL_MODE_GETCRTC", DRM_IOCTL_MODE_GETCRTC, 0, kmsOnly(drmModeGetCRTC))
	add("DRM_IOCTL_MODE_GETENCODER", DRM_IOCTL_MODE_GETENCODER, 0, kmsOnly(drmModeGetEncoder))
	add("DRM_IOCTL_MODE_GETPLANERESOURCES", DRM_IOCTL_MODE_GETPLANERESOURCES, 0, kmsOnly(drmModeGetPlaneResources))
	add("DRM_IOCTL_MODE_GETPLANE", DRM_IOCTL_MODE_GETPLANE, 0, kmsOnly(drmModeGetPlane))
	add("DRM_IOCTL_MODE_CREATE_DUMB", DRM_IOCTL_MODE_CREATE_DUMB, 0, drmModeCreateDumb)
	add("DRM_IOCTL_MODE_MAP_DUMB", DRM_IOCTL_MODE_MAP_DUMB, 0, drmModeMapDumb)
	// drm_mode_destroy_dumb is drm_gem_handle_delete, as GEM_CLOSE is.
	add("DRM_IOCTL_MODE_DESTROY_DUMB", DRM_IOCTL_MODE_DESTROY_DUMB, 0, gemClose)
	add("DRM_IOCTL_MODE_SETCRTC", DRM_IOCTL_MODE_SETCRTC, DRM_MASTER, kmsOnly(drmModeSetCRTC))
	add("DRM_IOCTL_MODE_GETCONNECTOR", DRM_IOCTL_MODE_GETCONNECTOR, 0, kmsOnly(drmModeGetConnector))
	add("DRM_IOCTL_MODE_GETPROPBLOB", DRM_IOCTL_MODE_GETPROPBLOB, 0, kmsOnly(drmModeGetPropBlob))
	add("DRM_IOCTL_MODE_RMFB", DRM_IOCTL_MODE_RMFB, 0, kmsOnly(drmModeRmFB))
	add("DRM_IOCTL_MODE_PAGE_FLIP", DRM_IOCTL_MODE_PAGE_FLIP, DRM_MASTER, kmsOnly(drmModePageFlip))
	add("DRM_IOCTL_MODE_ADDFB2", DRM_IOCTL_MODE_ADDFB2, 0, kmsOnly(drmModeAddFB2))
	add("DRM_IOCTL_MODE_ATOMIC", DRM_IOCTL_MODE_ATOMIC, DRM_MASTER, kmsOnly(drmModeAtomic))
	add("DRM_IOCTL_MODE_CREATEPROPBLOB", DRM_IOCTL_MODE_CREATEPROPBLOB, 0, kmsOnly(drmModeCreatePropBlob))
	add("DRM_IOCTL_MODE_DESTROYPROPBLOB", DRM_IOCTL_MODE_DESTROYPROPBLOB, 0, kmsOnly(drmModeDestroyPropBlob))
	add("DRM_IOCTL_SYNCOBJ_CREATE", DRM_IOCTL_SYNCOBJ_CREATE, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, _ *Task, a *fence.DrmSyncobjCreate) errno.Errno { return f.syncobjs.Create(a) }))
	add("DRM_IOCTL_SYNCOBJ_DESTROY", DRM_IOCTL_SYNCOBJ_DESTROY, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, _ *Task, a *fence.DrmSyncobjDestroy) errno.Errno { return f.syncobjs.Destroy(a) }))
	add("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD", DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjHandle) errno.Errno { return f.syncobjs.HandleToFD(t.FDs, a) }))
	add("DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE", DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjHandle) errno.Errno { return f.syncobjs.FDToHandle(t.FDs, a) }))
	add("DRM_IOCTL_SYNCOBJ_WAIT", DRM_IOCTL_SYNCOBJ_WAIT, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjWait) errno.Errno { return f.syncobjs.Wait(t.Ctx, t.Mem, a) }))
	add("DRM_IOCTL_SYNCOBJ_RESET", DRM_IOCTL_SYNCOBJ_RESET, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjArray) errno.Errno { return f.syncobjs.Reset(t.Mem, a) }))
	add("DRM_IOCTL_SYNCOBJ_SIGNAL", DRM_IOCTL_SYNCOBJ_SIGNAL, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjArray) errno.Errno { return f.syncobjs.Signal(t.Mem, a) }))
	add("DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT", DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjTimelineWait) errno.Errno {
			return f.syncobjs.TimelineWait(t.Ctx, t.Mem, a)
		}))
	add("DRM_IOCTL_SYNCOBJ_QUERY", DRM_IOCTL_SYNCOBJ_QUERY, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjTimelineArray) errno.Errno {
			return f.syncobjs.Query(t.Mem, a)
		}))
	add("DRM_IOCTL_SYNCOBJ_TRANSFER", DRM_IOCTL_SYNCOBJ_TRANSFER, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjTransfer) errno.Errno { return f.syncobjs.Transfer(t.Ctx, a) }))
	add("DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL", DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjTimelineArray) errno.Errno {
			return f.syncobjs.TimelineSignal(t.Mem, a)
		}))
	add("DRM_IOCTL_SYNCOBJ_EVENTFD", DRM_IOCTL_SYNCOBJ_EVENTFD, DRM_RENDER_ALLOW,
		structIoctl(func(f *File, t *Task, a *fence.DrmSyncobjEventfd) errno.Errno {
			return f.syncobjs.Eventfd(t.FDs, a, t.Pid)
		}))
	return t
}()

// driverIoctls is the virtgpu table (virtio_gpu_ioctls[]), indexed by
// number − DRM_COMMAND_BASE. Its entries arrive with the virtgpu ioctls.
var driverIoctls [driverIoctlCount]ioctlDesc

// uapiStruct is a UAPI struct that fence knows how to encode.
type uapiStruct[T any] interface {
	*T
	Unmarshal([]byte)
	Marshal([]byte)
}

// structIoctl adapts a handler on a decoded struct: decode, run, encode,
// the encoding happening whatever the result, as the kernel handlers work
// in place on the copied-in struct.
func structIoctl[T any, P uapiStruct[T]](fn func(f *File, t *Task, a P) errno.Errno) handler {
	return func(f *File, t *Task, data []byte) errno.Errno {
		var a T
		P(&a).Unmarshal(data)
		e := fn(f, t, &a)
		P(&a).Marshal(data)
		return e
	}
}

// Ioctl runs one DRM ioctl for t, as drm_ioctl does (see the package doc
// for the order of checks).
func (f *File) Ioctl(t *Task, cmd uint32, arg uint64) errno.Errno {
	if iocType(cmd) != DRM_IOCTL_BASE {
		return errno.ENOTTY
	}
	nr := iocNr(cmd)
	var desc *ioctlDesc
	if nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END {
		i := nr - DRM_COMMAND_BASE
		if i >= driverIoctlCount {
			return errno.EINVAL
		}
		desc = &driverIoctls[i]
	} else {
		if nr >= coreIoctlCount {
			return errno.EINVAL
		}
		desc = &coreIoctls[nr]
	}
	if desc.fn == nil {
		return errno.EINVAL
	}
	inSize, outSize := iocSize(cmd), iocSize(cmd)
	if cmd&desc.cmd&iocIn == 0 {
		inSize = 0
	}
	if cmd&desc.cmd&iocOut == 0 {
		outSize = 0
	}
	var stack [128]byte
	var kdata []byte
	if ksize := max(inSize, outSize, iocSize(desc.cmd)); ksize <= uint32(len(stack)) {
		kdata = stack[:ksize]
	} else {
		kdata = make([]byte, ksize)
	}
	if inSize > 0 {
		if e := t.Mem.CopyIn(arg, kdata[:inSize]); e != 0 {
			return errno.EFAULT
		}
	}
	e := f.permit(desc.flags)
	if e == 0 {
		e = desc.fn(f, t, kdata)
	}
	if outSize > 0 {
		if t.Mem.CopyOut(arg, kdata[:outSize]) != 0 {
			e = errno.EFAULT
		}
	}
	return e
}

// permit is drm_ioctl_permit: render nodes run only DRM_RENDER_ALLOW
// ioctls, MASTER ones need the master, AUTH ones an authenticated file
// (fencelab's guests are never root, so ROOT_ONLY is refused).
func (f *File) permit(flags uint32) errno.Errno {
	switch {
	case flags&DRM_ROOT_ONLY != 0:
		return errno.EACCES
	case flags&DRM_AUTH != 0 && f.node != NodeRender && !f.master:
		return errno.EACCES
	case flags&DRM_MASTER != 0 && !f.master:
		return errno.EACCES
	case flags&DRM_RENDER_ALLOW == 0 && f.node == NodeRender:
		return errno.EACCES
	}
	return 0
}

// The 32-bit struct drm_version (drm_version32_t in drm_ioc32.c):
// int major, minor, patchlevel; then u32 name_len, name, date_len, date,
// desc_len, desc.
const drmVersion32Size = 36

// Driver identity (virtgpu_drv.h), as Linux 6.12 reports it.
const (
	driverName  = "virtio_gpu"
	driverDate  = "0"
	driverDesc  = "virtio GPU"
	driverMajor = 0
	driverMinor = 1
	driverPatch = 0
)

// drmVersion is drm_version through compat_drm_version: each string is
// copied up to the caller's length, and each length set to the string's
// full length (drm_copy_field).
func drmVersion(f *File, t *Task, data []byte) errno.Errno {
	le := binary.LittleEndian
	le.PutUint32(data[0:], driverMajor)
	le.PutUint32(data[4:], driverMinor)
	le.PutUint32(data[8:], driverPatch)
	for i, s := range []string{driverName, driverDate, driverDesc} {
		lenAt := 12 + 8*i
		bufLen, buf := le.Uint32(data[lenAt:]), le.Uint32(data[lenAt+4:])
		n := min(uint32(len(s)), bufLen)
		le.PutUint32(data[lenAt:], uint32(len(s)))
		if n > 0 && buf != 0 {
			if e := t.Mem.CopyOut(uint64(buf), []byte(s[:n])); e != 0 {
				return errno.EFAULT
			}
		}
	}
	return 0
}

// drmUnique32Size is sizeof(struct drm_unique32): u32 unique_len, u32
// unique (a guest pointer).
const drmUnique32Size = 8

// drmGetUnique is drm_getunique through compat_drm_getunique: it copies
// the master's bus id if the caller's buffer holds all of it, and reports
// its length. A master's bus id is set only by SET_VERSION 1.1 or later,
// which fencelab does not offer, so it is always empty: unique_len becomes
// 0 and nothing is copied (a zero-byte copy never faults), as Linux 6.12
// answers on a fresh card0 (testdata/oracle/kms.linux.txt). It is not
// render-allowed: a render node gets EACCES from the ioctl layer.
func drmGetUnique(_ *File, _ *Task, data []byte) errno.Errno {
	binary.LittleEndian.PutUint32(data, 0)
	return 0
}

// getCapSize is sizeof(struct drm_get_cap): u64 capability, u64 value.
const getCapSize = 16

// DRM capabilities (drm.h).
const (
	DRM_CAP_DUMB_BUFFER            = 0x1
	DRM_CAP_VBLANK_HIGH_CRTC       = 0x2
	DRM_CAP_DUMB_PREFERRED_DEPTH   = 0x3
	DRM_CAP_DUMB_PREFER_SHADOW     = 0x4
	DRM_CAP_PRIME                  = 0x5
	DRM_CAP_TIMESTAMP_MONOTONIC    = 0x6
	DRM_CAP_ASYNC_PAGE_FLIP        = 0x7
	DRM_CAP_CURSOR_WIDTH           = 0x8
	DRM_CAP_CURSOR_HEIGHT          = 0x9
	DRM_CAP_ADDFB2_MODIFIERS       = 0x10
	DRM_CAP_PAGE_FLIP_TARGET       = 0x11
	DRM_CAP_CRTC_IN_VBLANK_EVENT   = 0x12
	DRM_CAP_SYNCOBJ                = 0x13
	DRM_CAP_SYNCOBJ_TIMELINE       = 0x14
	DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP = 0x15
)

// capValues are virtio_gpu's answers on Linux 6.12 (read off the oracle):
// PRIME is import|export, the cursor 64×64, no preferred depth, shadow,
// async flips, flip targets or modifiers.
var capValues = map[uint64]uint64{
	DRM_CAP_DUMB_BUFFER: 1, DRM_CAP_VBLANK_HIGH_CRTC: 1, DRM_CAP_DUMB_PREFERRED_DEPTH: 0,
	DRM_CAP_DUMB_PREFER_SHADOW: 0, DRM_CAP_PRIME: 3, DRM_CAP_TIMESTAMP_MONOTONIC: 1,
	DRM_CAP_ASYNC_PAGE_FLIP: 0, DRM_CAP_CURSOR_WIDTH: 64, DRM_CAP_CURSOR_HEIGHT: 64,
	DRM_CAP_ADDFB2_MODIFIERS: 0, DRM_CAP_PAGE_FLIP_TARGET: 0, DRM_CAP_CRTC_IN_VBLANK_EVENT: 1,
	DRM_CAP_SYNCOBJ: 1, DRM_CAP_SYNCOBJ_TIMELINE: 1, DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP: 0,
}

// drmGetCap is drm_getcap: value is zeroed first, unknown capabilities are
// EINVAL.
func drmGetCap(f *File, t *Task, data []byte) errno.Errno {
	le := binary.LittleEndian
	le.PutUint64(data[8:], 0)
	c := le.Uint64(data)
	// Without KMS only the caps a render-only driver has are answered.
	switch c {
	case DRM_CAP_TIMESTAMP_MONOTONIC, DRM_CAP_PRIME, DRM_CAP_SYNCOBJ, DRM_CAP_SYNCOBJ_TIMELINE:
	default:
		if f.drv.kmsOff() {
			return errno.EOPNOTSUPP
		}
	}
	v, ok := capValues[c]
	if !ok {
		return errno.EINVAL
	}
	le.PutUint64(data[8:], v)
	return 0
}

// IoctlName is the name of an ioctl request number fencelab knows: a DRM
// one ("DRM_IOCTL_SYNCOBJ_WAIT") or a sync_file or sw_sync one
// ("SYNC_IOC_MERGE"); "" for one it does not.
func IoctlName(request uint32) string {
	switch request {
	case fence.SYNC_IOC_MERGE:
		return "SYNC_IOC_MERGE"
	case fence.SYNC_IOC_FILE_INFO:
		return "SYNC_IOC_FILE_INFO"
	case fence.SYNC_IOC_SET_DEADLINE:
		return "SYNC_IOC_SET_DEADLINE"
	case fence.SW_SYNC_IOC_CREATE_FENCE:
		return "SW_SYNC_IOC_CREATE_FENCE"
	case fence.SW_SYNC_IOC_INC:
		return "SW_SYNC_IOC_INC"
	case fence.SW_SYNC_GET_DEADLINE:
		return "SW_SYNC_GET_DEADLINE"
	}
	if iocType(request) != DRM_IOCTL_BASE {
		return ""
	}
	// Driver numbers (0x40..0x9f) sit inside the core table's range;
	// they are looked up first, as drm_ioctl does.
	nr := iocNr(request)
	if nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END {
		if int(nr-DRM_COMMAND_BASE) < len(driverIoctls) {
			return driverIoctls[nr-DRM_COMMAND_BASE].name
		}
		return ""
	}
	if nr < coreIoctlCount {
		return coreIoctls[nr].name
	}
	return ""
}
