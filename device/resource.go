package device

import (
	"fencelab/timeline"
	"fencelab/virtio"
)

// resource is a host resource: its pixels live on the host; guest pages
// attached as backing are where TRANSFER_TO_HOST copies from.
type resource struct {
	id            uint32
	format        uint32
	width, height uint32
	data          []byte       // width × height × 4 bytes, row-major
	backing       []virtio.Buf // nil when no backing is attached
	blob          bool         // a guest blob: its bytes live in backing
	blobSize      uint64
}

func (r *resource) stride() uint64 { return uint64(r.width) * 4 }

// scanout is one output's state.
type scanout struct {
	resource uint32 // 0: disabled
	rect     Rect
	damage   []Rect  // flushed since the display last took them
	blob     *blobFB // set by SET_SCANOUT_BLOB
}

// Cursor is the state of the hardware cursor.
type Cursor struct {
	Scanout      uint32
	X, Y         int32
	Resource     uint32 // 0: hidden
	HotX, HotY   uint32
	Updates      uint64 // UPDATE_CURSOR commands taken
	ImageVersion uint64 // bumps whenever the image may have changed
}

// bytesPerPixel is 4 for every virtio-gpu format.
const bytesPerPixel = 4

func (d *Device) lookup(id uint32) *resource { return d.resources[id] }

// resourceCreate2D is virtio_gpu_resource_create_2d.
func (d *Device) resourceCreate2D(b []byte) []byte {
	if len(b) < resourceCreate2DSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	id, format, w, h := le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])
	switch {
	case id == 0 || d.lookup(id) != nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	case !validFormat(format):
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	return d.createResource(id, format, w, h)
}

// resourceUnref is virtio_gpu_resource_unref: scanouts showing the
// resource are disabled first; the cursor is not.
func (d *Device) resourceUnref(b []byte) []byte {
	if len(b) < resourceUnrefSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	res := d.lookup(le.Uint32(b))
	if res == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	for i := range d.scanouts {
		if d.scanouts[i].resource == res.id {
			d.disableScanout(i)
		}
	}
	// The cursor keeps showing its copy of the picture, as QEMU's does:
	// the copy was taken at UPDATE_CURSOR, and only the next one changes
	// or hides it. (Linux turns the cursor plane off before it frees the
	// buffer, so its guests never see the difference.)
	d.hostmem -= uint64(len(res.data))
	delete(d.resources, res.id)
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

func (d *Device) disableScanout(i int) {
	if d.scanouts[i].resource != 0 { // an output already off shows nothing new
		d.markChanged(uint32(i))
	}
	d.scanouts[i] = scanout{}
	d.emit(timeline.Event{Kind: timeline.ScanoutSet, Scanout: uint32(i)})
}

// setScanout is virtio_gpu_set_scanout. As in current QEMU, a scanout
// rectangle must be at least 16×16 and lie inside the resource.
func (d *Device) setScanout(b []byte) []byte {
	if len(b) < setScanoutSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	r, sid, rid := rectAt(b), le.Uint32(b[16:]), le.Uint32(b[20:])
	res, done := d.scanoutTarget(sid, rid)
	if done != nil {
		return done
	}
	if r.Width < 16 || r.Height < 16 || !r.insideOf(res.width, res.height) {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	d.scanouts[sid] = scanout{resource: rid, rect: r}
	d.markChanged(sid)
	d.emit(scanoutSetEvent(sid, rid, r))
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// scanoutTarget is the start SET_SCANOUT and SET_SCANOUT_BLOB share: a
// scanout that does not exist is ERR_INVALID_SCANOUT_ID, resource 0
// disables the scanout (OK), an unknown resource is
// ERR_INVALID_RESOURCE_ID. A non-nil response ends the command.
func (d *Device) scanoutTarget(sid, rid uint32) (*resource, []byte) {
	if sid >= uint32(len(d.scanouts)) {
		return nil, response(VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID)
	}
	if rid == 0 {
		d.disableScanout(int(sid))
		return nil, response(VIRTIO_GPU_RESP_OK_NODATA)
	}
	res := d.lookup(rid)
	if res == nil {
		return nil, response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	return res, nil
}

func scanoutSetEvent(sid, rid uint32, r Rect) timeline.Event {
	return timeline.Event{Kind: timeline.ScanoutSet, Scanout: sid, Resource: rid, Rect: r.event()}
}

func (r Rect) event() timeline.Rect { return timeline.Rect{X: r.X, Y: r.Y, W: r.Width, H: r.Height} }

// resourceFlush is virtio_gpu_resource_flush: every scanout showing the
// resource gets the part of the rectangle it shows as damage.
func (d *Device) resourceFlush(b []byte) []byte {
	if len(b) < resourceFlushSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	r, rid := rectAt(b), le.Uint32(b[16:])
	res := d.lookup(rid)
	if res == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	// A blob has no size of its own; QEMU checks the rectangle only for
	// other resources.
	if !res.blob && !r.insideOf(res.width, res.height) {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	for i := range d.scanouts {
		s := &d.scanouts[i]
		if s.resource != rid {
			continue
		}
		if dmg := r.intersect(s.rect); dmg.Width > 0 {
			if s.blob != nil {
				d.refreshBlob(res, s.blob, dmg)
			}
			if len(s.damage) < maxDamage {
				s.damage = append(s.damage, dmg)
			} else {
				s.damage = []Rect{s.rect} // too many pieces: the whole scanout
			}
			d.emit(timeline.Event{Kind: timeline.Flush, Scanout: uint32(i), Resource: rid, Rect: dmg.event()})
		}
	}
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// maxDamage bounds the damage list a display has not collected yet.
const maxDamage = 64

// transferToHost2D is virtio_gpu_transfer_to_host_2d: copy a rectangle from
// the guest backing (at offset, rows a resource stride apart) into the
// resource. Backing shorter than the copy leaves the rest unchanged, as
// QEMU's iov_to_buf does.
func (d *Device) transferToHost2D(b []byte) []byte {
	if len(b) < transferToHost2DSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	r, offset, rid := rectAt(b), le.Uint64(b[16:]), le.Uint32(b[24:])
	res := d.lookup(rid)
	if res == nil || res.backing == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	if !r.insideOf(res.width, res.height) {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	stride := res.stride()
	rowBytes := uint64(r.Width) * bytesPerPixel
	for row := uint64(0); row < uint64(r.Height); row++ {
		src := offset + stride*row // QEMU's src_offset; wraps like C's size_t
		dst := (uint64(r.Y)+row)*stride + uint64(r.X)*bytesPerPixel
		copyBacking(d.mem, res.backing, src, res.data[dst:dst+rowBytes], false)
	}
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// copyBacking copies between buf and the bytes at offset off of the guest
// buffers taken end to end: into buf, or out of it into guest memory when
// toGuest. It stops where the backing ends, as QEMU's iov_to_buf and
// iov_from_buf do.
func copyBacking(m *virtio.Memory, backing []virtio.Buf, off uint64, buf []byte, toGuest bool) {
	for _, b := range backing {
		if len(buf) == 0 {
			return
		}
		if off >= uint64(b.Len) {
			off -= uint64(b.Len)
			continue
		}
		guest, ok := m.Range(b.Addr+off, uint64(b.Len)-off)
		if !ok {
			return
		}
		var n int
		if toGuest {
			n = copy(guest, buf)
		} else {
			n = copy(buf, guest)
		}
		buf = buf[n:]
		off = 0
	}
}

// attachBacking is virtio_gpu_resource_attach_backing with
// virtio_gpu_create_mapping_iov: unknown resource, then backing already
// attached, then too many entries, a short entry list, or an entry outside
// guest memory.
func (d *Device) attachBacking(b []byte) []byte {
	if len(b) < attachBackingSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	rid, n := le.Uint32(b[0:]), le.Uint32(b[4:])
	res := d.lookup(rid)
	switch {
	case res == nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	case res.backing != nil:
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	backing, ok := d.mapEntries(b[attachBackingSize:], n)
	if !ok {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	res.backing = backing
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// detachBacking is virtio_gpu_resource_detach_backing.
func (d *Device) detachBacking(b []byte) []byte {
	if len(b) < detachBackingSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	res := d.lookup(le.Uint32(b))
	if res == nil || res.backing == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	res.backing = nil
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// getDisplayInfo is virtio_gpu_get_display_info: every output, enabled,
// at its size.
func (d *Device) getDisplayInfo() []byte {
	resp := responseSized(VIRTIO_GPU_RESP_OK_DISPLAY_INFO, respDisplayInfoSize)
	for i, disp := range d.cfg.Displays {
		p := resp[CtrlHdrSize+i*24:]
		putRect(p, Rect{0, 0, disp.Width, disp.Height})
		le.PutUint32(p[16:], 1) // enabled
	}
	return resp
}

// getEDID is virtio_gpu_get_edid: an EDID 1.3 block for the output.
func (d *Device) getEDID(b []byte) []byte {
	if len(b) < getEDIDSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	sid := le.Uint32(b)
	if sid >= uint32(len(d.cfg.Displays)) {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	edid := makeEDID(d.cfg.Displays[sid])
	resp := responseSized(VIRTIO_GPU_RESP_OK_EDID, respEDIDSize)
	le.PutUint32(resp[CtrlHdrSize:], uint32(len(edid)))
	copy(resp[CtrlHdrSize+8:], edid)
	return resp
}

// cursorUpdate is update_cursor: a command for a scanout that does not
// exist is ignored; UPDATE_CURSOR sets the image (resource 0 hides the
// cursor) and the hot spot, MOVE_CURSOR only the position.
func (d *Device) cursorUpdate(cmd uint32, b []byte) {
	sid, x, y := le.Uint32(b[0:]), int32(le.Uint32(b[4:])), int32(le.Uint32(b[8:]))
	if sid >= uint32(len(d.scanouts)) {
		return
	}
	c := &d.cursor
	d.markChanged(c.Scanout) // where it was
	switch cmd {
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
		c.Resource, c.HotX, c.HotY = le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[24:])
		c.Updates++
		c.ImageVersion++
		d.takeCursorImage(c.Resource)
	case VIRTIO_GPU_CMD_MOVE_CURSOR:
	default:
		return
	}
	c.Scanout, c.X, c.Y = sid, x, y
	d.markChanged(sid)
	d.emit(timeline.Event{Kind: timeline.Cursor, Scanout: sid, X: x, Y: y, Resource: c.Resource})
}

// Scanout is what the display needs to show one output. For a blob
// scanout, Pixels is a host copy of the guest framebuffer, refreshed by
// RESOURCE_FLUSH.
type Scanout struct {
	Enabled  bool
	Resource uint32
	Format   uint32
	Rect     Rect   // the part of the resource shown
	Width    uint32 // the resource's size
	Height   uint32
	Pixels   []byte // the resource's pixels, Width×4 bytes a row; read only
}

// Scanout returns output i's state. Pixels aliases the resource: valid
// until the next command.
func (d *Device) Scanout(i int) Scanout {
	if i < 0 || i >= len(d.scanouts) || d.scanouts[i].resource == 0 {
		return Scanout{}
	}
	s := d.scanouts[i]
	if fb := s.blob; fb != nil {
		return Scanout{Enabled: true, Resource: s.resource, Format: fb.format, Rect: s.rect,
			Width: fb.width, Height: fb.height, Pixels: fb.pix}
	}
	res := d.resources[s.resource]
	return Scanout{Enabled: true, Resource: s.resource, Format: res.format, Rect: s.rect,
		Width: res.width, Height: res.height, Pixels: res.data}
}

// TakeDamage returns and forgets the rectangles flushed to output i since
// the last call.
func (d *Device) TakeDamage(i int) []Rect {
	if i < 0 || i >= len(d.scanouts) {
		return nil
	}
	dmg := d.scanouts[i].damage
	d.scanouts[i].damage = nil
	d.changed &^= 1 << i
	return dmg
}

// Damaged returns a mask of the outputs whose picture may have changed
// since their damage was last taken (bit i for output i): rectangles
// flushed to them, a scanout set or disabled, the cursor moved onto,
// off or over them or given a new image. As a display would, the device
// shows a new scanout without waiting for a flush.
func (d *Device) Damaged() uint32 {
	mask := d.changed
	for i := range d.scanouts {
		if len(d.scanouts[i].damage) > 0 {
			mask |= 1 << i
		}
	}
	return mask
}

// markChanged notes that output i's picture changed other than by
// flushed damage.
func (d *Device) markChanged(i uint32) {
	if i < uint32(len(d.scanouts)) {
		d.changed |= 1 << i
	}
}

// CursorImage returns the cursor's picture (as a Scanout with Rect the
// whole image), false while the cursor is hidden or its resource had no
// pixels. As QEMU does, the picture is taken from the resource when
// UPDATE_CURSOR names it: what the guest writes to the resource later
// shows only at the next UPDATE_CURSOR. Pixels is the device's copy:
// read it, do not keep it past the next command.
func (d *Device) CursorImage() (Scanout, bool) {
	img := d.cursorImage
	if d.cursor.Resource == 0 || img.Pixels == nil {
		return Scanout{}, false
	}
	return img, true
}

// takeCursorImage copies resource id's pixels as the cursor's picture.
func (d *Device) takeCursorImage(id uint32) {
	res := d.resources[id]
	if res == nil || res.blob {
		d.cursorImage = Scanout{}
		return
	}
	pix := append(d.cursorImage.Pixels[:0], res.data...)
	d.cursorImage = Scanout{Enabled: true, Resource: id, Format: res.format, Rect: Rect{Width: res.width, Height: res.height},
		Width: res.width, Height: res.height, Pixels: pix}
}

// Cursor returns the cursor state.
func (d *Device) Cursor() Cursor { return d.cursor }
