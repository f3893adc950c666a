package drm

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
)

// The mode-setting state (drm_mode_config and the committed state of
// every CRTC, plane and connector), the mode objects created at run time
// (framebuffers and property blobs), and what the driver learnt about
// each output at probe: its display's size, its EDID and its modes.

// kmsState is the driver's mode-setting state. mu guards all of it and
// the fbs and blobs lists of every file.
type kmsState struct {
	drv *Driver
	// modeset is the modeset locks: held by a commit from reading the
	// state until the new one is swapped in and, for a blocking commit,
	// on screen.
	modeset sleepLock

	mu   sync.Mutex
	objs map[uint32]any // *framebuffer and *propBlob, by mode object id
	next uint32         // the first id after the static objects
	cfg  kmsConfig      // the committed state
	outs []*crtc
	// dead are GEM objects whose last framebuffer went away while mu was
	// held, to be put once it is released (see reap).
	dead []*gemObject
	// serial numbers the commits swapped in, from 1, for the timeline.
	serial uint64
}

// planeState is a struct drm_plane_state: the framebuffer, the CRTC it
// is on (an output index, -1 for none), where it lands on the CRTC and
// which part of the framebuffer it shows (16.16 fixed point), and a
// cursor's hotspot. inFence and damage belong to one commit only.
type planeState struct {
	fb                     *framebuffer
	crtc                   int
	crtcX, crtcY           int32
	crtcW, crtcH           uint32
	srcX, srcY, srcW, srcH uint32
	hotX, hotY             int32
	inFence                *fence.Fence
	damage                 *propBlob
}

// crtcState is a struct drm_crtc_state: ACTIVE, the mode (its MODE_ID
// blob; a CRTC is enabled exactly when it has one), VRR_ENABLED, and for
// one commit the OUT_FENCE_PTR it was given.
type crtcState struct {
	active      bool
	mode        *propBlob
	vrr         bool
	outFencePtr uint64
}

// kmsConfig is every object's state: CRTC o, its primary plane at 2o and
// its cursor at 2o+1, and the CRTC each connector is routed to (-1 for
// none).
type kmsConfig struct {
	crtcs  []crtcState
	planes []planeState
	conns  []int
}

func (c kmsConfig) clone() kmsConfig {
	return kmsConfig{slices.Clone(c.crtcs), slices.Clone(c.planes), slices.Clone(c.conns)}
}

// crtc is what the driver keeps per output beside its state: the display
// the device reported, the EDID and modes read at probe, the vblank
// clock, the out-fence timeline, and the commit not yet on screen.
type crtc struct {
	o       output
	width   uint32 // the display's size, from GET_DISPLAY_INFO
	height  uint32
	enabled bool
	edid    *propBlob // nil without F_EDID or a valid EDID
	modes   [][]byte  // struct drm_mode_modeinfo each, sorted as Linux sorts
	mmW     uint32    // physical size from the EDID
	mmH     uint32
	dpms    uint64 // connector->dpms, set by commits

	// The vblank clock runs while the CRTC is active: vblanks fall at
	// vbStart + k·vbPeriod and are counted from vbBase.
	vbOn     bool
	vbStart  int64
	vbPeriod int64
	vbBase   uint32
	landed   int64 // when the last commit reached the device

	fenceCtx     uint64 // drm_crtc's fence_context
	fenceSeq     uint64
	needsModeset bool // virtio_gpu_output's needs_modeset
	busy         *commit
}

// count is the vblank counter at time t.
func (c *crtc) count(t int64) uint32 {
	if !c.vbOn || t < c.vbStart {
		return c.vbBase
	}
	return c.vbBase + uint32((t-c.vbStart)/c.vbPeriod)
}

// nextVblank is the first vblank at or after t.
func (c *crtc) nextVblank(t int64) int64 {
	if !c.vbOn || t <= c.vbStart {
		return max(t, c.vbStart)
	}
	k := (t - c.vbStart + c.vbPeriod - 1) / c.vbPeriod
	return c.vbStart + k*c.vbPeriod
}

// newID is the lowest free mode object id (drm_mode_object_add's
// idr_alloc); the caller stores the object under it before unlocking.
func (k *kmsState) newID() uint32 { return lowestFree(k.objs, k.next) }

// reap puts the GEM objects the last framebuffers left behind. With
// nowait (on the clock's goroutine, which must never block on the
// device) an object whose RESOURCE_UNREF finds no room in the queue stays
// for the next reap.
func (k *kmsState) reap(nowait bool) {
	k.mu.Lock()
	dead := k.dead
	k.dead = nil
	k.mu.Unlock()
	var left []*gemObject
	for _, o := range dead {
		switch {
		case !nowait:
			o.put()
		case !o.tryPut():
			left = append(left, o)
		}
	}
	if len(left) > 0 {
		k.mu.Lock()
		k.dead = append(k.dead, left...)
		k.mu.Unlock()
	}
}

// propBlob is a struct drm_property_blob. refs counts the file that
// created it (until DESTROYPROPBLOB or close) and each state using it.
type propBlob struct {
	id   uint32
	data []byte
	refs int
}

func (k *kmsState) refBlob(b *propBlob) *propBlob {
	if b != nil {
		b.refs++
	}
	return b
}

func (k *kmsState) unrefBlob(b *propBlob) {
	if b == nil {
		return
	}
	if b.refs--; b.refs == 0 {
		delete(k.objs, b.id)
	}
}

func (k *kmsState) newBlob(data []byte) *propBlob {
	b := &propBlob{id: k.newID(), data: data, refs: 1}
	k.objs[b.id] = b
	return b
}

// blob finds a property blob by id (drm_property_lookup_blob).
func (k *kmsState) blob(id uint32) *propBlob {
	b, _ := k.objs[id].(*propBlob)
	return b
}

// fb finds a framebuffer by id (drm_framebuffer_lookup).
func (k *kmsState) fb(id uint32) *framebuffer {
	fb, _ := k.objs[id].(*framebuffer)
	return fb
}

// Blob ioctl structs.
const (
	createBlobSize  = 16 // struct drm_mode_create_blob: u64 data, u32 length, u32 blob_id
	destroyBlobSize = 4  // struct drm_mode_destroy_blob
	getBlobSize     = 16 // struct drm_mode_get_blob: u32 blob_id, u32 length, u64 data
)

// Allocation caps Linux lacks: one blob holds at most 1 MiB (Linux only
// refuses lengths past INT_MAX, or fails the allocation), and a file
// holds at most 4096 blobs; beyond either CREATEPROPBLOB is ENOMEM.
const (
	maxBlobLen        = 1 << 20
	maxBlobsPerFile   = 4096
	drmModeInfoSize   = 68 // struct drm_mode_modeinfo
	drmModeNameLen    = 32
	drmModeNameOff    = 36
	drmModeFlagsOff   = 28
	drmModeTypeOff    = 32
	drmModeVrefresOff = 24
)

// drmModeCreatePropBlob is drm_mode_createblob_ioctl: EINVAL for length
// 0, then the blob takes an id, then the data is copied in (EFAULT drops
// it again). The blob belongs to the file until it is destroyed or the
// file closes; any file may read or use it by id meanwhile.
func drmModeCreatePropBlob(f *File, t *Task, data []byte) errno.Errno {
	ptr, length := le.Uint64(data), le.Uint32(data[8:])
	if length == 0 || length > 1<<31-1-64 {
		return errno.EINVAL
	}
	k := f.drv.kms
	k.mu.Lock()
	full := len(f.blobs) >= maxBlobsPerFile
	k.mu.Unlock()
	if length > maxBlobLen || full {
		return errno.ENOMEM
	}
	buf := make([]byte, length)
	if t.Mem.CopyIn(ptr, buf) != 0 {
		return errno.EFAULT
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.newBlob(buf)
	f.blobs = append(f.blobs, b)
	le.PutUint32(data[12:], b.id)
	return 0
}

// drmModeDestroyPropBlob is drm_mode_destroyblob_ioctl: ENOENT for an
// id that is not a blob, EPERM for another file's (or the kernel's, or
// one this file already destroyed that a state still uses).
// States using the blob keep it until they are replaced.
func drmModeDestroyPropBlob(f *File, t *Task, data []byte) errno.Errno {
	k := f.drv.kms
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.blob(le.Uint32(data))
	if b == nil {
		return errno.ENOENT
	}
	i := slices.Index(f.blobs, b)
	if i < 0 {
		return errno.EPERM
	}
	f.blobs = slices.Delete(f.blobs, i, i+1)
	k.unrefBlob(b)
	return 0
}

// drmModeGetPropBlob is drm_mode_getblob_ioctl: ENOENT for an unknown
// blob; the data is copied out only if the caller's length is exactly
// the blob's, and length is set to the blob's either way.
func drmModeGetPropBlob(f *File, t *Task, data []byte) errno.Errno {
	k := f.drv.kms
	k.mu.Lock()
	b := k.blob(le.Uint32(data))
	var blob []byte
	if b != nil {
		blob = b.data
	}
	k.mu.Unlock()
	if b == nil {
		return errno.ENOENT
	}
	if le.Uint32(data[4:]) == uint32(len(blob)) && t.Mem.CopyOut(le.Uint64(data[8:]), blob) != 0 {
		return errno.EFAULT
	}
	le.PutUint32(data[4:], uint32(len(blob)))
	return 0
}

// releaseKMS is what closing a file does to mode setting
// (drm_fb_release, then drm_property_destroy_user_blobs).
func (f *File) releaseKMS() {
	f.reapFBs()
	k := f.drv.kms
	k.mu.Lock()
	for _, b := range f.blobs {
		k.unrefBlob(b)
	}
	f.blobs = nil
	k.mu.Unlock()
}

// newKMS sets up the mode-setting state of a device with n outputs, as
// virtio_gpu_modeset_init and drm_mode_config_reset leave it: every
// CRTC off, every plane unused, no connector routed.
func (drv *Driver) newKMS(n int) *kmsState {
	k := &kmsState{drv: drv, objs: map[uint32]any{}, next: kmsFirstOutputID + kmsIDsPerOutput*uint32(n)}
	k.cfg = kmsConfig{crtcs: make([]crtcState, n), planes: make([]planeState, 2*n), conns: make([]int, n)}
	for i := range k.cfg.planes {
		k.cfg.planes[i].crtc = -1
	}
	for i := range k.cfg.conns {
		k.cfg.conns[i] = -1
	}
	var ctx uint64
	if n > 0 {
		ctx = drv.d.AllocContexts(uint32(n))
	}
	for o := range n {
		k.outs = append(k.outs, &crtc{o: output(o), fenceCtx: ctx + uint64(o), width: 1024, height: 768, enabled: o == 0})
	}
	return k
}

// probeOutputs is the display part of virtio_gpu_init: GET_EDID for
// every scanout (with F_EDID), then GET_DISPLAY_INFO, awaited up to 5 s
// of virtual time. Each valid EDID that arrives becomes its connector's
// EDID blob (ids in scanout order after the static objects), and its
// modes the connector's modes.
func (drv *Driver) probeOutputs() {
	g, k := drv.gpu, drv.kms
	if len(k.outs) == 0 {
		return
	}
	edids := make([][]byte, len(k.outs))
	var mu sync.Mutex
	if g.has(device.VIRTIO_GPU_F_EDID) {
		for _, c := range k.outs {
			g.queueCmd(nil, cmdBuf(device.VIRTIO_GPU_CMD_GET_EDID, words(uint32(c.o), 0)), nil, device.CtrlHdrSize+8+1024, nil, -1, func(r []byte) {
				if le.Uint32(r) != device.VIRTIO_GPU_RESP_OK_EDID {
					return
				}
				n := min(le.Uint32(r[device.CtrlHdrSize:]), 1024)
				mu.Lock()
				edids[c.o] = slices.Clone(r[device.CtrlHdrSize+8 : device.CtrlHdrSize+8+n])
				mu.Unlock()
			})
		}
	}
	const pmodeSize = 24 // struct virtio_gpu_display_one
	ctx, cancel := context.WithCancel(context.Background())
	stop := drv.d.Clock().AfterFunc(drv.d.Now()+capsReplyTimeout, cancel)
	g.sync(ctx, cmdBuf(device.VIRTIO_GPU_CMD_GET_DISPLAY_INFO, nil), device.CtrlHdrSize+device.VIRTIO_GPU_MAX_SCANOUTS*pmodeSize, func(r []byte) {
		if le.Uint32(r) != device.VIRTIO_GPU_RESP_OK_DISPLAY_INFO {
			return
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, c := range k.outs {
			p := r[device.CtrlHdrSize+pmodeSize*int(c.o):]
			c.width, c.height, c.enabled = le.Uint32(p[8:]), le.Uint32(p[12:]), le.Uint32(p[16:]) != 0
		}
	})
	stop()
	cancel()
	mu.Lock()
	defer mu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.outs {
		edid := edids[c.o]
		if validEDID(edid) {
			// The blob holds the base block and the extensions it announces.
			c.edid = k.newBlob(edid[:min(len(edid), 128*(1+int(edid[126])))])
			c.mmW, c.mmH = uint32(edid[21])*10, uint32(edid[22])*10
		}
		c.modes = connectorModes(c, edid)
	}
}

// validEDID checks an EDID base block's header and checksum.
func validEDID(e []byte) bool {
	if len(e) < 128 || string(e[:8]) != "\x00\xff\xff\xff\xff\xff\xff\x00" {
		return false
	}
	var sum byte
	for _, b := range e[:128] {
		sum += b
	}
	return sum == 0
}

// Mode flags and types (drm_mode.h).
const (
	DRM_MODE_FLAG_PHSYNC    = 1 << 0
	DRM_MODE_FLAG_NHSYNC    = 1 << 1
	DRM_MODE_FLAG_PVSYNC    = 1 << 2
	DRM_MODE_FLAG_NVSYNC    = 1 << 3
	DRM_MODE_FLAG_INTERLACE = 1 << 4
	DRM_MODE_FLAG_DBLSCAN   = 1 << 5
	DRM_MODE_FLAG_3D_MASK   = 0x1f << 14
	DRM_MODE_FLAG_3D_MAX    = 8 << 14
	drmModeFlagAll          = 0x3ff | 0x3000 | DRM_MODE_FLAG_3D_MASK

	DRM_MODE_TYPE_PREFERRED = 1 << 3
	DRM_MODE_TYPE_USERDEF   = 1 << 5
	DRM_MODE_TYPE_DRIVER    = 1 << 6
	drmModeTypeAll          = DRM_MODE_TYPE_PREFERRED | DRM_MODE_TYPE_USERDEF | DRM_MODE_TYPE_DRIVER
)

// connectorModes is virtio_gpu_conn_get_modes and the probe helper's
// validation and sort for one output. With an EDID its detailed timings
// are the modes (drm_mode_detailed; fencelab's device describes its
// display with one detailed timing and nothing else, so established and
// standard timings are not decoded); without one (or with an EDID giving
// none) the DMT modes and a CVT mode of the display (kms_modes.go). A
// preferred mode must be 1024×768 or within 16 pixels of the display's
// size (virtio_gpu_conn_mode_valid), and no side may pass 8192.
func connectorModes(c *crtc, edid []byte) [][]byte {
	var modes [][]byte
	if validEDID(edid) {
		for i := range 4 {
			if m := detailedMode(edid[54+18*i : 72+18*i]); m != nil {
				if i == 0 && edid[24]&0x02 != 0 {
					le.PutUint32(m[drmModeTypeOff:], le.Uint32(m[drmModeTypeOff:])|DRM_MODE_TYPE_PREFERRED)
				}
				modes = append(modes, m)
			}
		}
	}
	if len(modes) == 0 {
		modes = noEDIDModes(c.width, c.height)
	}
	modes = slices.DeleteFunc(modes, func(m []byte) bool {
		h, v := uint32(le.Uint16(m[4:])), uint32(le.Uint16(m[14:]))
		if h > kmsMaxSize || v > kmsMaxSize || validateMode(m) != 0 {
			return true
		}
		if le.Uint32(m[drmModeTypeOff:])&DRM_MODE_TYPE_PREFERRED == 0 || h == 1024 && v == 768 {
			return false
		}
		return !(h <= c.width && h+16 >= c.width && v <= c.height && v+16 >= c.height)
	})
	sortModes(modes)
	return modes
}

// detailedMode decodes an 18-byte detailed timing descriptor as
// drm_mode_detailed does, or returns nil for a descriptor that is not a
// usable timing (a display descriptor, a tiny, stereo or interlaced mode
// — the probe helper drops interlaced modes on virtio_gpu's connectors —
// or zero sync widths).
func detailedMode(d []byte) []byte {
	clock := uint32(le.Uint16(d))
	if clock == 0 {
		return nil
	}
	hactive := uint32(d[4]&0xf0)<<4 | uint32(d[2])
	hblank := uint32(d[4]&0x0f)<<8 | uint32(d[3])
	vactive := uint32(d[7]&0xf0)<<4 | uint32(d[5])
	vblank := uint32(d[7]&0x0f)<<8 | uint32(d[6])
	hso := uint32(d[11]&0xc0)<<2 | uint32(d[8])
	hsp := uint32(d[11]&0x30)<<4 | uint32(d[9])
	vso := uint32(d[11]&0x0c)<<2 | uint32(d[10]>>4)
	vsp := uint32(d[11]&0x03)<<4 | uint32(d[10]&0x0f)
	misc := d[17]
	if hactive < 64 || vactive < 64 || misc&0x20 != 0 || misc&0x80 != 0 || hsp == 0 || vsp == 0 {
		return nil
	}
	m := make([]byte, drmModeInfoSize)
	hss, vss := hactive+hso, vactive+vso
	hse, vse := hss+hsp, vss+vsp
	htotal, vtotal := hactive+hblank, vactive+vblank
	if hse > htotal {
		htotal = hse + 1
	}
	if vse > vtotal {
		vtotal = vse + 1
	}
	le.PutUint32(m, clock*10)
	for i, v := range []uint32{hactive, hss, hse, htotal, 0, vactive, vss, vse, vtotal, 0} {
		le.PutUint16(m[4+2*i:], uint16(v))
	}
	flags := uint32(DRM_MODE_FLAG_NHSYNC | DRM_MODE_FLAG_NVSYNC)
	if misc&0x02 != 0 {
		flags ^= DRM_MODE_FLAG_NHSYNC | DRM_MODE_FLAG_PHSYNC
	}
	if misc&0x04 != 0 {
		flags ^= DRM_MODE_FLAG_NVSYNC | DRM_MODE_FLAG_PVSYNC
	}
	le.PutUint32(m[drmModeFlagsOff:], flags)
	le.PutUint32(m[drmModeTypeOff:], DRM_MODE_TYPE_DRIVER)
	le.PutUint32(m[drmModeVrefresOff:], modeVrefresh(m))
	copy(m[drmModeNameOff:drmModeNameOff+drmModeNameLen-1], fmt.Sprintf("%dx%d", hactive, vactive))
	return m
}

// modeVrefresh is drm_mode_vrefresh: the refresh rate in Hz, rounded.
func modeVrefresh(m []byte) uint32 {
	num, den := modeRate(m)
	if den == 0 {
		return 0
	}
	return uint32((num*1000 + den/2) / den)
}

// modeRate is the mode's refresh rate as clock (kHz) over pixels per
// frame, with drm_mode_vrefresh's adjustments for interlace, double scan
// and vscan.
func modeRate(m []byte) (num, den uint64) {
	num = uint64(le.Uint32(m))
	den = uint64(le.Uint16(m[10:])) * uint64(le.Uint16(m[20:]))
	flags := le.Uint32(m[drmModeFlagsOff:])
	if flags&DRM_MODE_FLAG_INTERLACE != 0 {
		num *= 2
	}
	if flags&DRM_MODE_FLAG_DBLSCAN != 0 {
		den *= 2
	}
	if vscan := uint64(le.Uint16(m[22:])); vscan > 1 {
		den *= vscan
	}
	return num, den
}

// modePeriod is the time from one vblank to the next, in nanoseconds,
// kept between 1 µs and 10 s: a guest may set any mode the checks let
// through, a 1×1 mode at 2 THz included, and the vblank clock must still
// tick.
func modePeriod(m []byte) int64 {
	num, den := modeRate(m)
	hi, lo := bits.Mul64(den, 1_000_000)
	if hi >= num { // the quotient would not fit in 64 bits
		return 10e9
	}
	q, _ := bits.Div64(hi, lo, num)
	return int64(min(max(q, 1_000), 10e9))
}

// validateMode is drm_mode_convert_umode's checks of a user mode: ERANGE
// for a clock or refresh past INT_MAX, EINVAL for an unknown aspect
// ratio, unknown flags, a bad 3D mode, a zero clock or timings out of
// order (drm_mode_validate_basic).
func validateMode(m []byte) errno.Errno {
	if le.Uint32(m) > 1<<31-1 || le.Uint32(m[drmModeVrefresOff:]) > 1<<31-1 {
		return errno.ERANGE
	}
	flags := le.Uint32(m[drmModeFlagsOff:])
	if flags&DRM_MODE_FLAG_PIC_AR_MASK > 4<<19 {
		return errno.EINVAL
	}
	flags &^= DRM_MODE_FLAG_PIC_AR_MASK
	u := func(off int) uint16 { return le.Uint16(m[off:]) }
	switch {
	case flags&^drmModeFlagAll != 0, flags&DRM_MODE_FLAG_3D_MASK > DRM_MODE_FLAG_3D_MAX, le.Uint32(m) == 0,
		u(4) == 0 || u(6) < u(4) || u(8) < u(6) || u(10) < u(8),
		u(14) == 0 || u(16) < u(14) || u(18) < u(16) || u(20) < u(18):
		return errno.EINVAL
	}
	return 0
}

// modesEqual is drm_mode_equal on two user modes: the timings, the flags
// and the aspect ratio, not the name, type or refresh rate.
func modesEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return string(a[:24]) == string(b[:24]) && le.Uint32(a[drmModeFlagsOff:]) == le.Uint32(b[drmModeFlagsOff:])
}

// userMode is drm_mode_convert_to_umode of a mode set through a blob: the
// blob's mode with its refresh recomputed and its type masked.
func userMode(blob []byte) []byte {
	m := slices.Clone(blob)
	le.PutUint32(m[drmModeVrefresOff:], modeVrefresh(m))
	le.PutUint32(m[drmModeTypeOff:], le.Uint32(m[drmModeTypeOff:])&drmModeTypeAll)
	name := m[drmModeNameOff : drmModeNameOff+drmModeNameLen]
	if i := slices.Index(name, 0); i >= 0 {
		clear(name[i:])
	}
	name[drmModeNameLen-1] = 0
	return m
}

// struct drm_mode_get_connector (80 bytes).
const (
	getConnectorSize           = 80
	DRM_MODE_CONNECTOR_VIRTUAL = 15
)

// Connector status values.
const (
	connectorConnected    = 1
	connectorDisconnected = 2
)

// drmModeGetConnector is drm_mode_getconnector: the one possible encoder
// (written only if the caller's count has room), the connector's type,
// then its modes (all copied, or none, when count_modes is too small),
// the encoder in use (none until the connector is routed to its CRTC),
// and its properties. fencelab's connectors were probed at boot, as
// fbcon probes them on Linux, so every caller sees their modes.
func drmModeGetConnector(f *File, t *Task, data []byte) errno.Errno {
	o, ok := f.drv.findOutput(le.Uint32(data[48:]), output.connector)
	if !ok {
		return errno.ENOENT
	}
	if le.Uint32(data[40:]) >= 1 {
		if t.Mem.CopyOut(le.Uint64(data), le.AppendUint32(nil, o.encoder())) != 0 {
			return errno.EFAULT
		}
	}
	le.PutUint32(data[40:], 1)
	le.PutUint32(data[52:], DRM_MODE_CONNECTOR_VIRTUAL)
	le.PutUint32(data[56:], uint32(o)+1)
	k := f.drv.kms
	k.mu.Lock()
	c := k.outs[o]
	modes, mmW, mmH, status, routed := c.modes, c.mmW, c.mmH, uint32(connectorDisconnected), k.cfg.conns[o] >= 0
	if c.enabled {
		status = connectorConnected
	}
	k.mu.Unlock()
	le.PutUint32(data[64:], mmW)
	le.PutUint32(data[68:], mmH)
	le.PutUint32(data[72:], 0) // SubPixelUnknown
	le.PutUint32(data[60:], status)
	f.kmsMu.Lock()
	aspect := f.caps.aspectRatio
	f.kmsMu.Unlock()
	if n := le.Uint32(data[32:]); n >= uint32(len(modes)) && len(modes) > 0 {
		for i, m := range modes {
			u := slices.Clone(m)
			if !aspect {
				le.PutUint32(u[drmModeFlagsOff:], le.Uint32(u[drmModeFlagsOff:])&^DRM_MODE_FLAG_PIC_AR_MASK)
			}
			if t.Mem.CopyOut(le.Uint64(data[8:])+uint64(i)*drmModeInfoSize, u) != 0 {
				return errno.EFAULT
			}
		}
	}
	le.PutUint32(data[32:], uint32(len(modes)))
	le.PutUint32(data[44:], 0)
	if routed {
		le.PutUint32(data[44:], o.encoder())
	}
	return f.objectProperties(t, o.connector(), le.Uint64(data[16:]), le.Uint64(data[24:]), data[36:40])
}
