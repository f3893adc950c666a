package device

import (
	"bytes"
	"encoding/binary"
)

// Body sizes of the 3D requests after the header.
const (
	ctxCreateSize        = 72 // nlen, context_init, debug_name[64]
	ctxResourceSize      = 8  // resource_id, padding
	resourceCreate3DSize = 48 // resource_id, target, format, bind, width, height, depth, array_size, last_level, nr_samples, flags, padding
	transfer3DSize       = 48 // box{x,y,z,w,h,d}, offset, resource_id, level, stride, layer_stride
	submit3DSize         = 8  // size, padding; then the stream
	assignUUIDSize       = 8
)

// maxContexts caps the contexts a guest may hold at once (Linux makes one
// per DRM file).
const maxContexts = 1024

// Gallium texture targets RESOURCE_CREATE_3D accepts.
const (
	pipeBuffer    = 0
	pipeTexture2D = 2
)

// fencelabCapset is the capset data GET_CAPSET returns for
// VIRTIO_GPU_CAPSET_FENCELAB: le32 magic "FLAB", version, and the largest
// resource side the renderer takes.
func fencelabCapset() []byte {
	b := make([]byte, 0, 16)
	b = append(b, 'F', 'L', 'A', 'B')
	b = binary.LittleEndian.AppendUint32(b, FencelabCapsetVersion)
	b = binary.LittleEndian.AppendUint32(b, maxDisplaySide)
	b = binary.LittleEndian.AppendUint32(b, maxDisplaySide)
	return b
}

// numCapsets is how many capsets the device reports: fencelab's, with 3D.
func (d *Device) numCapsets() uint32 {
	if d.cfg.Features&(1<<VIRTIO_GPU_F_VIRGL) != 0 {
		return 1
	}
	return 0
}

// getCapsetInfo is GET_CAPSET_INFO. An index past the last capset is
// answered as QEMU does: OK, every field zero.
func (d *Device) getCapsetInfo(b []byte) []byte {
	if len(b) < getCapsetInfoSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	resp := responseSized(VIRTIO_GPU_RESP_OK_CAPSET_INFO, respCapsetInfoSize)
	if le.Uint32(b) < d.numCapsets() {
		p := resp[CtrlHdrSize:]
		le.PutUint32(p[0:], VIRTIO_GPU_CAPSET_FENCELAB)
		le.PutUint32(p[4:], FencelabCapsetVersion)
		le.PutUint32(p[8:], uint32(len(fencelabCapset())))
	}
	return resp
}

// getCapset is GET_CAPSET: an unknown capset is ERR_INVALID_PARAMETER.
func (d *Device) getCapset(b []byte) []byte {
	if len(b) < getCapsetSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	if le.Uint32(b) != VIRTIO_GPU_CAPSET_FENCELAB || d.numCapsets() == 0 {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	data := fencelabCapset()
	resp := responseSized(VIRTIO_GPU_RESP_OK_CAPSET, CtrlHdrSize+len(data))
	copy(resp[CtrlHdrSize:], data)
	return resp
}

// ctxCreate is CTX_CREATE. Context id 0 and an id in use are
// ERR_INVALID_CONTEXT_ID; a context_init naming a capset other than
// fencelab's is ERR_INVALID_PARAMETER, and any context_init without the
// CONTEXT_INIT feature ERR_UNSPEC. Capset 0 means the default, fencelab's.
func (d *Device) ctxCreate(h CtrlHdr, b []byte) []byte {
	if len(b) < ctxCreateSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	nlen, init := le.Uint32(b[0:]), le.Uint32(b[4:])
	switch {
	case h.CtxID == 0 || d.contexts[h.CtxID] != nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID)
	case len(d.contexts) >= maxContexts:
		return response(VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY)
	case init != 0 && !d.has(VIRTIO_GPU_F_CONTEXT_INIT):
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	capset := init & 0xff
	if capset == 0 {
		capset = VIRTIO_GPU_CAPSET_FENCELAB
	}
	if capset != VIRTIO_GPU_CAPSET_FENCELAB {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	name := b[8 : 8+min(nlen, 64)]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	d.contexts[h.CtxID] = &context3D{id: h.CtxID, capset: capset, name: string(name), resources: map[uint32]bool{}}
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// ctxDestroy is CTX_DESTROY. Work already queued for the context still
// runs and its fences still retire.
func (d *Device) ctxDestroy(h CtrlHdr) []byte {
	if d.contexts[h.CtxID] == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID)
	}
	delete(d.contexts, h.CtxID)
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// ctxResource is CTX_ATTACH_RESOURCE and CTX_DETACH_RESOURCE.
func (d *Device) ctxResource(h CtrlHdr, b []byte, attach bool) []byte {
	if len(b) < ctxResourceSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	ctx := d.contexts[h.CtxID]
	if ctx == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID)
	}
	rid := le.Uint32(b)
	if d.lookup(rid) == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	if attach {
		ctx.resources[rid] = true
	} else {
		delete(ctx.resources, rid)
	}
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// resourceCreate3D is RESOURCE_CREATE_3D. fencelab's renderer draws into
// single-level 2D textures and buffers (height 1); other shapes are
// ERR_INVALID_PARAMETER.
func (d *Device) resourceCreate3D(b []byte) []byte {
	if len(b) < resourceCreate3DSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	f := func(i int) uint32 { return le.Uint32(b[4*i:]) }
	id, target, format, w, h := f(0), f(1), f(2), f(4), f(5)
	depth, arraySize, lastLevel, samples := f(6), f(7), f(8), f(9)
	switch {
	case id == 0 || d.lookup(id) != nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	case !validFormat(format),
		target != pipeTexture2D && target != pipeBuffer,
		target == pipeBuffer && h != 1,
		depth != 1, arraySize != 1, lastLevel != 0, samples > 1:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	return d.createResource(id, format, w, h)
}

// maxResources caps how many resources exist at once, whatever their size.
const maxResources = 1 << 16

// createResource allocates a host resource within the memory budget.
// pixman refuses images whose stride overflows an int32; QEMU reports that,
// like an exhausted budget, as out of memory.
func (d *Device) createResource(id, format, w, h uint32) []byte {
	size := uint64(w) * uint64(h) * bytesPerPixel
	if uint64(w)*bytesPerPixel > 1<<31-1 || size > d.cfg.HostMem-d.hostmem || len(d.resources) >= maxResources {
		return response(VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY)
	}
	d.resources[id] = &resource{id: id, format: format, width: w, height: h, data: make([]byte, size)}
	d.hostmem += size
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// transfer3D is a decoded TRANSFER_TO_HOST_3D or TRANSFER_FROM_HOST_3D.
type transfer3D struct {
	toHost bool
	res    uint32
	box    Rect
	offset uint64
	stride uint64
}

// transfer3DCmd checks a 3D transfer and turns it into a job for the
// context's worker, so it is ordered after the context's earlier
// submissions: a FROM_HOST reads what they rendered.
func (d *Device) transfer3DCmd(h CtrlHdr, b []byte, toHost bool) ([]byte, *job) {
	if len(b) < transfer3DSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC), nil
	}
	f := func(i int) uint32 { return le.Uint32(b[4*i:]) }
	box := Rect{f(0), f(1), f(3), f(4)}
	z, depth := f(2), f(5)
	offset := le.Uint64(b[24:])
	rid, level, stride := f(8), f(9), f(10)
	res := d.lookup(rid)
	switch {
	case d.contexts[h.CtxID] == nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID), nil
	case res == nil || res.backing == nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID), nil
	case level != 0 || z != 0 || depth > 1 || !box.insideOf(res.width, res.height):
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER), nil
	}
	s := uint64(stride)
	if s == 0 {
		s = res.stride()
	}
	x := &transfer3D{toHost: toHost, res: rid, box: box, offset: offset, stride: s}
	key := keyOf(h)
	return response(VIRTIO_GPU_RESP_OK_NODATA), &job{key: key, ctx: h.CtxID, ring: key.ring, xfer: x}
}

// runTransfer copies between a resource and its guest backing when the
// job runs, and returns its modelled cost: 1 µs plus 1 ns per 16 bytes.
func (d *Device) runTransfer(x *transfer3D) int64 {
	res := d.lookup(x.res)
	if res == nil || res.backing == nil {
		return 1000
	}
	rowBytes := uint64(x.box.Width) * bytesPerPixel
	for row := uint64(0); row < uint64(x.box.Height); row++ {
		guest := x.offset + x.stride*row
		host := (uint64(x.box.Y)+row)*res.stride() + uint64(x.box.X)*bytesPerPixel
		copyBacking(d.mem, res.backing, guest, res.data[host:host+rowBytes], !x.toHost)
	}
	return 1000 + int64(rowBytes*uint64(x.box.Height)/16)
}

// submit3D is SUBMIT_3D: the context must exist, size must fit in what
// the request carries, and the stream must parse; then it becomes a job.
func (d *Device) submit3D(h CtrlHdr, b []byte) ([]byte, *job) {
	if len(b) < submit3DSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC), nil
	}
	size := le.Uint32(b)
	if d.contexts[h.CtxID] == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID), nil
	}
	if uint64(size) > uint64(len(b)-submit3DSize) {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER), nil
	}
	ops, err := ParseStream(b[submit3DSize : submit3DSize+int(size)])
	if err != nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER), nil
	}
	key := keyOf(h)
	return response(VIRTIO_GPU_RESP_OK_NODATA), &job{key: key, ctx: h.CtxID, ring: key.ring, ops: ops}
}

// assignUUID is RESOURCE_ASSIGN_UUID: a UUID derived from the resource id,
// stable across runs (a version-8 UUID, RFC 9562).
func (d *Device) assignUUID(b []byte) []byte {
	if len(b) < assignUUIDSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	rid := le.Uint32(b)
	if d.lookup(rid) == nil {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	}
	resp := responseSized(VIRTIO_GPU_RESP_OK_RESOURCE_UUID, CtrlHdrSize+16)
	u := resp[CtrlHdrSize:]
	copy(u, "fencelab")
	binary.BigEndian.PutUint32(u[12:], rid)
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return resp
}
