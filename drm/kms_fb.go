package drm

import (
	"slices"

	"fencelab/errno"
)

// Framebuffers: ADDFB2 and RMFB (drm_framebuffer.c over
// virtio_gpu_user_framebuffer_create), and the reaping of a file's
// framebuffers when it closes.

// fourcc packs a DRM format code from its four characters.
func fourcc(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// formatInfo is the part of struct drm_format_info framebuffer_check
// reads: planes, bytes per pixel of each, and chroma subsampling.
type formatInfo struct {
	planes     int
	cpp        [3]uint32
	hsub, vsub uint32
}

// formats is Linux 6.12's __drm_format_info table for the formats it
// describes with bytes per pixel (drm_fourcc.c). The sub-byte and tiled
// formats (C1..C4, D1..D4, R1..R4, the Y0L0 family, the 10-bit packed
// YUVs and the block formats) are left out: fencelab answers EINVAL
// ("bad framebuffer format") for them, where Linux would go on to check
// their planes and then answer ENOENT, as virtio_gpu scans out only
// XRGB8888 and ARGB8888 anyway.
var formats = func() map[uint32]formatInfo {
	m := map[uint32]formatInfo{}
	rgb := func(cpp uint32, names ...string) {
		for _, n := range names {
			m[fourcc(n)] = formatInfo{planes: 1, cpp: [3]uint32{cpp}, hsub: 1, vsub: 1}
		}
	}
	rgb(1, "C8  ", "D8  ", "R8  ", "RGB8", "BGR8")
	rgb(2, "R10 ", "R12 ", "XR12", "XB12", "RX12", "BX12", "AR12", "AB12", "RA12", "BA12",
		"XR15", "XB15", "RX15", "BX15", "AR15", "AB15", "RA15", "BA15", "RG16", "BG16",
		"RG88", "GR88", "R16 ")
	rgb(3, "RG24", "BG24")
	rgb(4, "XR24", "XB24", "RX24", "BX24", "AR24", "AB24", "RA24", "BA24",
		"XR30", "XB30", "RX30", "BX30", "AR30", "AB30", "RA30", "BA30", "RG32", "GR32")
	rgb(8, "XR4H", "XB4H", "AR4H", "AB4H", "XR48", "XB48", "AR48", "AB48")
	alpha := func(cpp uint32, names ...string) {
		for _, n := range names {
			m[fourcc(n)] = formatInfo{planes: 2, cpp: [3]uint32{cpp, 1}, hsub: 1, vsub: 1}
		}
	}
	alpha(2, "R5A8", "B5A8")
	alpha(3, "R8A8", "B8A8")
	alpha(4, "XRA8", "XBA8", "RXA8", "BXA8")
	yuv := func(planes int, cpp [3]uint32, hsub, vsub uint32, names ...string) {
		for _, n := range names {
			m[fourcc(n)] = formatInfo{planes: planes, cpp: cpp, hsub: hsub, vsub: vsub}
		}
	}
	yuv(3, [3]uint32{1, 1, 1}, 4, 4, "YUV9", "YVU9")
	yuv(3, [3]uint32{1, 1, 1}, 4, 1, "YU11", "YV11")
	yuv(3, [3]uint32{1, 1, 1}, 2, 2, "YU12", "YV12")
	yuv(3, [3]uint32{1, 1, 1}, 2, 1, "YU16", "YV16")
	yuv(3, [3]uint32{1, 1, 1}, 1, 1, "YU24", "YV24")
	yuv(2, [3]uint32{1, 2}, 2, 2, "NV12", "NV21")
	yuv(2, [3]uint32{1, 2}, 2, 1, "NV16", "NV61")
	yuv(2, [3]uint32{1, 2}, 1, 1, "NV24", "NV42")
	yuv(1, [3]uint32{2}, 2, 1, "YUYV", "YVYU", "UYVY", "VYUY")
	yuv(1, [3]uint32{4}, 1, 1, "XYUV", "AYUV", "Y410", "XV30")
	yuv(1, [3]uint32{3}, 1, 1, "VU24")
	yuv(1, [3]uint32{4}, 2, 1, "Y210", "Y212", "Y216")
	yuv(1, [3]uint32{8}, 1, 1, "Y412", "Y416", "XV36", "XV48")
	return m
}()

// struct drm_mode_fb_cmd2 (104 bytes): fb_id, width, height,
// pixel_format, flags, handles[4], pitches[4], offsets[4], then (8-byte
// aligned) modifier[4].
const (
	fbCmd2Size     = 104
	fbCmd2Handles  = 20
	fbCmd2Pitches  = 36
	fbCmd2Offsets  = 52
	fbCmd2Modifier = 72
	rmFBSize       = 4
)

// ADDFB2 flags.
const (
	DRM_MODE_FB_INTERLACED = 1 << 0
	DRM_MODE_FB_MODIFIERS  = 1 << 1
)

// framebuffer is a struct drm_framebuffer: a view of plane 0 of a GEM
// object, which it keeps alive. refs counts the file that created it
// (until RMFB or close) and every KMS state that scans it out.
type framebuffer struct {
	id                    uint32
	width, height, format uint32
	pitch, offset         uint32
	obj                   *gemObject
	refs                  int // guarded by kmsState.mu
}

// ref and unref are drm_framebuffer_get and _put, under kmsState.mu; the
// last unref drops the id and hands back the object to put once the lock
// is released (putting it queues a device request).
func (k *kmsState) ref(fb *framebuffer) *framebuffer {
	if fb != nil {
		fb.refs++
	}
	return fb
}

func (k *kmsState) unref(fb *framebuffer) {
	if fb == nil {
		return
	}
	if fb.refs--; fb.refs == 0 {
		delete(k.objs, fb.id)
		k.dead = append(k.dead, fb.obj)
	}
}

// drmModeAddFB2 is drm_mode_addfb2: the core's checks (flags, size
// limits, no modifiers since virtio_gpu has none, then framebuffer_check
// on every plane of the format), then virtio_gpu's: only XRGB8888 and
// ARGB8888 (ENOENT otherwise), handles[0] must name a GEM object of this
// file (EINVAL). Linux does not check that the object is large enough
// for the framebuffer, and neither does fencelab; the device refuses a
// scanout rectangle outside the resource. The new framebuffer belongs to
// the file (reaped when it closes) and its id is the lowest free mode
// object id.
func drmModeAddFB2(f *File, t *Task, data []byte) errno.Errno {
	width, height, format, flags := le.Uint32(data[4:]), le.Uint32(data[8:]), le.Uint32(data[12:]), le.Uint32(data[16:])
	u32 := func(base, i int) uint32 { return le.Uint32(data[base+4*i:]) }
	modifier := func(i int) uint64 { return le.Uint64(data[fbCmd2Modifier+8*i:]) }
	if flags&^(DRM_MODE_FB_INTERLACED|DRM_MODE_FB_MODIFIERS) != 0 ||
		width < kmsMinSize || width > kmsMaxSize || height < kmsMinSize || height > kmsMaxSize ||
		flags&DRM_MODE_FB_MODIFIERS != 0 {
		return errno.EINVAL
	}
	info, ok := formats[format]
	if !ok {
		return errno.EINVAL
	}
	for i := range info.planes {
		w, h := width, height
		if i > 0 {
			w, h = (width+info.hsub-1)/info.hsub, (height+info.vsub-1)/info.vsub
		}
		minPitch := uint64(w) * uint64(info.cpp[i])
		switch {
		case u32(fbCmd2Handles, i) == 0:
			return errno.EINVAL
		case minPitch > 1<<32-1 || uint64(h)*uint64(u32(fbCmd2Pitches, i))+uint64(u32(fbCmd2Offsets, i)) > 1<<32-1:
			return errno.ERANGE
		case uint64(u32(fbCmd2Pitches, i)) < minPitch, modifier(i) != 0:
			return errno.EINVAL
		}
	}
	for i := info.planes; i < 4; i++ {
		if modifier(i) != 0 {
			return errno.EINVAL
		}
	}
	if format != DRM_FORMAT_XRGB8888 && format != DRM_FORMAT_ARGB8888 {
		return errno.ENOENT
	}
	o := f.gem.lookup(u32(fbCmd2Handles, 0))
	if o == nil {
		return errno.EINVAL
	}
	k := f.drv.kms
	k.mu.Lock()
	defer k.mu.Unlock()
	fb := &framebuffer{id: k.newID(), width: width, height: height, format: format,
		pitch: u32(fbCmd2Pitches, 0), offset: u32(fbCmd2Offsets, 0), obj: o, refs: 1}
	k.objs[fb.id] = fb
	f.fbs = append(f.fbs, fb)
	le.PutUint32(data, fb.id)
	return 0
}

// drmModeRmFB is drm_mode_rmfb: ENOENT unless id is a framebuffer this
// file created. A framebuffer still scanned out is first taken off every
// plane showing it, with a blocking commit that also turns off the CRTC
// of a primary plane, as drm_framebuffer_remove does.
func drmModeRmFB(f *File, t *Task, data []byte) errno.Errno {
	k := f.drv.kms
	id := le.Uint32(data)
	k.mu.Lock()
	i := slices.IndexFunc(f.fbs, func(fb *framebuffer) bool { return fb.id == id })
	if i < 0 {
		k.mu.Unlock()
		return errno.ENOENT
	}
	fb := f.fbs[i]
	f.fbs = slices.Delete(f.fbs, i, i+1)
	k.mu.Unlock()
	f.drv.removeFB(fb)
	return 0
}

// reapFBs is drm_fb_release: a closing file's framebuffers are removed
// as RMFB removes them.
func (f *File) reapFBs() {
	k := f.drv.kms
	k.mu.Lock()
	fbs := f.fbs
	f.fbs = nil
	k.mu.Unlock()
	for i := len(fbs) - 1; i >= 0; i-- { // newest first, as the file's list runs
		f.drv.removeFB(fbs[i])
	}
}

// removeFB drops the creating file's reference to fb, first turning off
// whatever shows it if anything else holds it (drm_mode_rmfb: only a
// framebuffer with more than its file's reference is in use).
func (drv *Driver) removeFB(fb *framebuffer) {
	k := drv.kms
	k.mu.Lock()
	inUse := fb.refs > 1
	k.mu.Unlock()
	if inUse {
		drv.disableFB(fb)
	}
	k.mu.Lock()
	k.unref(fb)
	k.mu.Unlock()
	k.reap(false)
}
