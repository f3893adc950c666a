package drm

import (
	"fencelab/device"
	"fencelab/errno"
)

// The KMS subset on card0 (issue 4), first part: the objects a client
// enumerates, the client capabilities that change what it sees, and dumb
// buffers. Every
// value here was read off Linux 6.12's virtio_gpu (testdata/oracle/kms.*).
//
// Object ids are allocated as Linux allocates them: ids 1 to 31 are the
// standard properties drm_mode_config_init creates, then each output, in
// scanout order, takes seven: its primary plane, its cursor plane, the
// cursor's HOTSPOT_X and HOTSPOT_Y properties, its CRTC, its connector and
// its encoder (a 2-output device gives CRTCs 36 and 43). Unlike the oracle
// machine, fencelab has no fbcon: every CRTC starts off, with no
// framebuffer, until a client sets a mode.
const (
	kmsFirstOutputID = 32
	kmsIDsPerOutput  = 7
)

// output is one scanout's KMS objects.
type output uint32

func (o output) id(offset uint32) uint32 {
	return kmsFirstOutputID + kmsIDsPerOutput*uint32(o) + offset
}
func (o output) primary() uint32   { return o.id(0) }
func (o output) cursor() uint32    { return o.id(1) }
func (o output) crtc() uint32      { return o.id(4) }
func (o output) connector() uint32 { return o.id(5) }
func (o output) encoder() uint32   { return o.id(6) }
func (o output) mask() uint32      { return 1 << o } // its CRTC's (and encoder's) index bit

// kmsOff reports a probed device with no scanouts: Linux's virtio_gpu
// then drops DRIVER_MODESET and DRIVER_ATOMIC, and the KMS ioctls answer
// EOPNOTSUPP. An unprobed driver (the ioctl layer's own tests) counts as
// a KMS driver with no outputs.
func (drv *Driver) kmsOff() bool { return drv.gpu != nil && drv.gpu.scanouts == 0 }

// kmsOnly guards a KMS ioctl with the drm_core_check_feature(dev,
// DRIVER_MODESET) test it starts with.
func kmsOnly(fn handler) handler {
	return func(f *File, t *Task, data []byte) errno.Errno {
		if f.drv.kmsOff() {
			return errno.EOPNOTSUPP
		}
		return fn(f, t, data)
	}
}

// outputs is how many scanouts the device has (none before Probe).
func (drv *Driver) outputs() output {
	if drv.gpu == nil {
		return 0
	}
	return output(drv.gpu.scanouts)
}

// findOutput finds the output one of whose objects is id, checking the
// object's kind as drm_mode_object_find does: any other id is not found.
func (drv *Driver) findOutput(id uint32, which func(output) uint32) (output, bool) {
	for o := range drv.outputs() {
		if which(o) == id {
			return o, true
		}
	}
	return 0, false
}

// Mode-config limits of virtio_gpu_modeset_init.
const (
	kmsMinSize = 32
	kmsMaxSize = 8192
)

// DRM_MODE_ENCODER_VIRTUAL is virtio_gpu's encoder type.
const DRM_MODE_ENCODER_VIRTUAL = 5

// Plane formats (drm_fourcc.h): the primary plane scans out XRGB8888, the
// cursor ARGB8888, as virtio_gpu_plane_init registers them on a
// little-endian guest.
const (
	DRM_FORMAT_XRGB8888 = 'X' | 'R'<<8 | '2'<<16 | '4'<<24
	DRM_FORMAT_ARGB8888 = 'A' | 'R'<<8 | '2'<<16 | '4'<<24
)

// Client capabilities (DRM_IOCTL_SET_CLIENT_CAP).
const (
	DRM_CLIENT_CAP_STEREO_3D            = 1
	DRM_CLIENT_CAP_UNIVERSAL_PLANES     = 2
	DRM_CLIENT_CAP_ATOMIC               = 3
	DRM_CLIENT_CAP_ASPECT_RATIO         = 4
	DRM_CLIENT_CAP_WRITEBACK_CONNECTORS = 5
	DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT = 6
)

// clientCaps is what a file has told SET_CLIENT_CAP (the drm_file bits).
type clientCaps struct {
	stereo, universalPlanes, aspectRatio, writeback, virtCursor bool
	atomic                                                      uint64 // 0, 1 or 2
}

// Struct sizes, all free of pointers-as-longs, so one layout for 32- and
// 64-bit callers.
const (
	setClientCapSize = 16 // u64 capability, u64 value
	cardResSize      = 64 // struct drm_mode_card_res
	getEncoderSize   = 20 // struct drm_mode_get_encoder
	planeResSize     = 16 // struct drm_mode_get_plane_res (u64, u32, padding)
	getPlaneSize     = 32 // struct drm_mode_get_plane
)

// drmSetClientCap is drm_setclientcap for a KMS driver with atomic and
// virtualized-cursor support. ATOMIC also turns universal planes and
// aspect-ratio modes on or off; a process whose name starts with 'X' is
// refused atomic 1, as Linux refuses the modesetting DDX.
func drmSetClientCap(f *File, t *Task, data []byte) errno.Errno {
	capability, value := le.Uint64(data), le.Uint64(data[8:])
	f.kmsMu.Lock()
	defer f.kmsMu.Unlock()
	c := &f.caps
	switch capability {
	case DRM_CLIENT_CAP_STEREO_3D:
		if value > 1 {
			return errno.EINVAL
		}
		c.stereo = value == 1
	case DRM_CLIENT_CAP_UNIVERSAL_PLANES:
		if value > 1 {
			return errno.EINVAL
		}
		c.universalPlanes = value == 1
	case DRM_CLIENT_CAP_ATOMIC:
		if len(t.Comm) > 0 && t.Comm[0] == 'X' && value == 1 {
			return errno.EOPNOTSUPP
		}
		if value > 2 {
			return errno.EINVAL
		}
		c.atomic = value
		c.universalPlanes = value != 0
		c.aspectRatio = value != 0
	case DRM_CLIENT_CAP_ASPECT_RATIO:
		if value > 1 {
			return errno.EINVAL
		}
		c.aspectRatio = value == 1
	case DRM_CLIENT_CAP_WRITEBACK_CONNECTORS:
		if c.atomic == 0 || value > 1 {
			return errno.EINVAL
		}
		c.writeback = value == 1
	case DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT:
		if c.atomic == 0 || value > 1 {
			return errno.EINVAL
		}
		c.virtCursor = value == 1
	default:
		return errno.EINVAL
	}
	return 0
}

// putIDs is the put_user loop of the KMS getters: it stores the ids that
// fit in room entries at addr and returns how many there are, or EFAULT
// as soon as one store faults.
func putIDs(t *Task, addr uint64, room uint32, ids []uint32) (uint32, errno.Errno) {
	for i, id := range ids {
		if uint32(i) < room {
			if e := t.Mem.CopyOut(addr+4*uint64(i), le.AppendUint32(nil, id)); e != 0 {
				return 0, errno.EFAULT
			}
		}
	}
	return uint32(len(ids)), 0
}

// collect lists one kind of object, in output order.
func (drv *Driver) collect(which ...func(output) uint32) []uint32 {
	var ids []uint32
	for o := range drv.outputs() {
		for _, w := range which {
			ids = append(ids, w(o))
		}
	}
	return ids
}

// drmModeGetResources is drm_mode_getresources: this file's framebuffers
// (newest first), the size limits, then CRTCs, encoders and connectors.
// Each list is written only as far as the caller's count allows, and its
// count is set to the full length; a fault stops the ioctl there, with
// the counts already set kept (the struct is copied back).
func drmModeGetResources(f *File, t *Task, data []byte) errno.Errno {
	k := f.drv.kms
	k.mu.Lock()
	var fbs []uint32
	for i := len(f.fbs) - 1; i >= 0; i-- {
		fbs = append(fbs, f.fbs[i].id)
	}
	k.mu.Unlock()
	n, e := putIDs(t, le.Uint64(data), le.Uint32(data[32:]), fbs)
	if e != 0 {
		return e
	}
	le.PutUint32(data[32:], n)
	le.PutUint32(data[48:], kmsMinSize)
	le.PutUint32(data[52:], kmsMaxSize)
	le.PutUint32(data[56:], kmsMinSize)
	le.PutUint32(data[60:], kmsMaxSize)
	// No writeback connectors exist, so the WRITEBACK cap hides nothing.
	for _, l := range []struct {
		ptr, count int
		which      func(output) uint32
	}{{8, 36, output.crtc}, {24, 44, output.encoder}, {16, 40, output.connector}} {
		n, e := putIDs(t, le.Uint64(data[l.ptr:]), le.Uint32(data[l.count:]), f.drv.collect(l.which))
		if e != 0 {
			return e
		}
		le.PutUint32(data[l.count:], n)
	}
	return 0
}

// drmModeGetEncoder is drm_mode_getencoder: the CRTC its connector is
// routed to (none until a commit routes it); each encoder can drive only
// its own output's CRTC and is cloneable only with itself.
func drmModeGetEncoder(f *File, t *Task, data []byte) errno.Errno {
	o, ok := f.drv.findOutput(le.Uint32(data), output.encoder)
	if !ok {
		return errno.ENOENT
	}
	k := f.drv.kms
	k.mu.Lock()
	routed := k.cfg.conns[o] == int(o)
	k.mu.Unlock()
	le.PutUint32(data[4:], DRM_MODE_ENCODER_VIRTUAL)
	le.PutUint32(data[8:], 0)
	if routed {
		le.PutUint32(data[8:], o.crtc())
	}
	le.PutUint32(data[12:], o.mask())
	le.PutUint32(data[16:], o.mask())
	return 0
}

// drmModeGetPlaneResources is drm_mode_getplane_res. Without
// UNIVERSAL_PLANES a client sees only overlay planes (virtio_gpu has
// none); an atomic client that has not said it handles virtualized
// cursor planes (CURSOR_PLANE_HOTSPOT) does not see the cursor planes,
// whose hotspot it would not set.
func drmModeGetPlaneResources(f *File, t *Task, data []byte) errno.Errno {
	f.kmsMu.Lock()
	c := f.caps
	f.kmsMu.Unlock()
	var ids []uint32
	switch {
	case !c.universalPlanes:
	case c.atomic != 0 && !c.virtCursor:
		ids = f.drv.collect(output.primary)
	default:
		ids = f.drv.collect(output.primary, output.cursor)
	}
	n, e := putIDs(t, le.Uint64(data), le.Uint32(data[8:]), ids)
	if e != 0 {
		return e
	}
	le.PutUint32(data[8:], n)
	return 0
}

// drmModeGetPlane is drm_mode_getplane: the plane's CRTC and framebuffer
// as committed, the CRTCs it can use, and its formats, copied only if all
// of them fit.
func drmModeGetPlane(f *File, t *Task, data []byte) errno.Errno {
	id := le.Uint32(data)
	format := uint32(DRM_FORMAT_XRGB8888)
	o, ok := f.drv.findOutput(id, output.primary)
	if !ok {
		if o, ok = f.drv.findOutput(id, output.cursor); !ok {
			return errno.ENOENT
		}
		format = DRM_FORMAT_ARGB8888
	}
	p := 2 * int(o)
	if format == DRM_FORMAT_ARGB8888 {
		p++
	}
	k := f.drv.kms
	k.mu.Lock()
	s := k.cfg.planes[p]
	k.mu.Unlock()
	le.PutUint32(data[4:], 0) // crtc_id
	le.PutUint32(data[8:], 0) // fb_id
	if s.crtc >= 0 {
		le.PutUint32(data[4:], output(s.crtc).crtc())
	}
	if s.fb != nil {
		le.PutUint32(data[8:], s.fb.id)
	}
	le.PutUint32(data[12:], o.mask())
	le.PutUint32(data[16:], 0) // gamma_size
	if le.Uint32(data[20:]) >= 1 {
		if t.Mem.CopyOut(le.Uint64(data[24:]), le.AppendUint32(nil, format)) != 0 {
			return errno.EFAULT
		}
	}
	le.PutUint32(data[20:], 1)
	return 0
}

// Dumb buffers (drm_dumb_buffers.c over virtio_gpu_mode_dumb_create).
const (
	createDumbSize  = 32 // struct drm_mode_create_dumb
	mapDumbSize     = 16 // struct drm_mode_map_dumb
	destroyDumbSize = 4  // struct drm_mode_destroy_dumb
)

// drmModeCreateDumb is drm_mode_create_dumb, then virtio_gpu's
// dumb_create. The core refuses a zero or 32-bit-overflowing size before
// touching the struct, then zeroes handle, pitch and size; virtio_gpu
// takes only 32 bpp, makes a linear XRGB8888 object of width×4-byte rows
// rounded up to a page, and writes size before it creates, pitch after.
// flags is not looked at. On a device with blob resources but no 3D the
// object is a shareable guest blob, otherwise a classic 2D resource (even
// on a 3D device); either way the create is not fenced
// (virtio_gpu_gem_create passes no fence), so the buffer is idle at once.
// Its pages come from the driver's guest-memory arena: a buffer larger
// than what is free there is ENOMEM, as a failed shmem allocation is.
func drmModeCreateDumb(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil {
		return errno.ENODEV
	}
	height, width, bpp := le.Uint32(data), le.Uint32(data[4:]), le.Uint32(data[8:])
	if width == 0 || height == 0 || bpp == 0 || bpp > 1<<32-1-8 {
		return errno.EINVAL
	}
	cpp := (bpp + 7) / 8
	if cpp > (1<<32-1)/width {
		return errno.EINVAL
	}
	stride := cpp * width
	if height > (1<<32-1)/stride || uint32((uint64(height*stride)+pageSize-1)&^(pageSize-1)) == 0 {
		return errno.EINVAL
	}
	clear(data[16:32]) // handle, pitch, size
	if bpp != 32 {
		return errno.EINVAL
	}
	pitch := width * 4
	size := (uint64(pitch)*uint64(height) + pageSize - 1) &^ (pageSize - 1)
	le.PutUint64(data[24:], size)
	blobMem := uint32(0)
	if g.has(device.VIRTIO_GPU_F_RESOURCE_BLOB) && !g.has(device.VIRTIO_GPU_F_VIRGL) {
		blobMem = VIRTGPU_BLOB_MEM_GUEST
	}
	h, resID, e := f.newObject(t, size, blobMem, false, func(resID uint32, backing uint64) []byte {
		if blobMem == 0 {
			return cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, words(resID, device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, width, height))
		}
		return blobCreateCmd(resID, VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_SHAREABLE, 0, size, backing, size)
	})
	if e != 0 {
		return e
	}
	if o := f.gem.lookup(h); o != nil {
		if o.resID == resID {
			o.dumb = true
		}
		o.put()
	}
	le.PutUint32(data[16:], h)
	le.PutUint32(data[20:], pitch)
	return 0
}

// drmModeMapDumb is drm_gem_dumb_map_offset: the object's fake mmap
// offset, the one VIRTGPU_MAP gives; ENOENT for an unknown handle. pad is
// not looked at (Linux 6.12, testdata/oracle/kms.linux.txt). Linux also
// refuses an imported foreign dma-buf (EINVAL); fencelab has none yet.
func drmModeMapDumb(f *File, t *Task, data []byte) errno.Errno {
	o := f.gem.lookup(le.Uint32(data))
	if o == nil {
		return errno.ENOENT
	}
	defer o.put()
	le.PutUint64(data[8:], o.mmapOffset())
	return 0
}

// getCRTCSize is sizeof(struct drm_mode_crtc); its mode (a struct
// drm_mode_modeinfo) starts at byte 36, with the mode's flags at +28.
const (
	getCRTCSize    = 104
	crtcModeOffset = 36
	modeFlagsOff   = 28
)

// DRM_MODE_FLAG_PIC_AR_MASK is the aspect-ratio field of a mode's flags.
const DRM_MODE_FLAG_PIC_AR_MASK = 0x0f << 19

// drmModeGetCRTC is drm_mode_getcrtc: the primary plane's framebuffer
// and the integer part of its source position, and the mode if the CRTC
// is enabled (as set, with its refresh rate recomputed). A CRTC that is
// not enabled has mode_valid 0 and leaves the caller's mode as it came
// (testdata/oracle/kms.linux.txt "getcrtc off"), except that the
// aspect-ratio bits of its flags are cleared for a client that has not
// allowed them, as the kernel does on every return.
func drmModeGetCRTC(f *File, t *Task, data []byte) errno.Errno {
	o, ok := f.drv.findOutput(le.Uint32(data[12:]), output.crtc)
	if !ok {
		return errno.ENOENT
	}
	k := f.drv.kms
	k.mu.Lock()
	p, c := k.cfg.planes[2*o], k.cfg.crtcs[o]
	k.mu.Unlock()
	le.PutUint32(data[28:], 0) // gamma_size
	le.PutUint32(data[16:], 0) // fb_id
	if p.fb != nil {
		le.PutUint32(data[16:], p.fb.id)
	}
	le.PutUint32(data[20:], p.srcX>>16)
	le.PutUint32(data[24:], p.srcY>>16)
	le.PutUint32(data[32:], 0) // mode_valid
	if c.mode != nil {
		copy(data[crtcModeOffset:], userMode(c.mode.data))
		le.PutUint32(data[32:], 1)
	}
	f.kmsMu.Lock()
	aspect := f.caps.aspectRatio
	f.kmsMu.Unlock()
	if !aspect {
		flags := data[crtcModeOffset+modeFlagsOff:]
		le.PutUint32(flags, le.Uint32(flags)&^DRM_MODE_FLAG_PIC_AR_MASK)
	}
	return 0
}
