package device

import "fencelab/virtio"

// Blob constants (virtio_gpu.h).
const (
	VIRTIO_GPU_BLOB_MEM_GUEST        = 1
	VIRTIO_GPU_BLOB_MEM_HOST3D       = 2
	VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST = 3

	VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE     = 1
	VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE    = 2
	VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE = 4
)

// Body sizes after the header.
const (
	createBlobSize     = 32 // resource_id, blob_mem, blob_flags, nr_entries, blob_id, size; then entries
	setScanoutBlobSize = 72 // rect, scanout_id, resource_id, width, height, format, padding, strides[4], offsets[4]
)

// blobFB is the framebuffer a SET_SCANOUT_BLOB describes inside a guest
// blob, and the host copy the display reads, refreshed on every flush.
type blobFB struct {
	format, width, height uint32
	stride                uint64
	offset                uint64 // of pixel (0,0) in the blob
	pix                   []byte // width × height × 4, stride width × 4
}

// resourceCreateBlob is virtio_gpu_resource_create_blob for guest-memory
// blobs: resource id 0, then a blob that is not in guest memory
// (fencelab's renderer has no host blobs), then an id in use, then the
// entries (as RESOURCE_ATTACH_BACKING).
func (d *Device) resourceCreateBlob(b []byte) []byte {
	if len(b) < createBlobSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	id, mem, n, size := le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[12:]), le.Uint64(b[24:])
	switch {
	case id == 0:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	case mem != VIRTIO_GPU_BLOB_MEM_GUEST:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	case d.lookup(id) != nil:
		return response(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID)
	case len(d.resources) >= maxResources:
		return response(VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY)
	}
	backing, ok := d.mapEntries(b[createBlobSize:], n)
	if !ok {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	d.resources[id] = &resource{id: id, blob: true, blobSize: size, backing: backing}
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// mapEntries decodes n memory entries {le64 addr, le32 length, le32
// padding} and checks each lies in guest memory, as QEMU's
// virtio_gpu_create_mapping_iov: at most 16384 entries, all present.
func (d *Device) mapEntries(b []byte, n uint32) ([]virtio.Buf, bool) {
	if n > maxBackingEntries || uint64(len(b)) < uint64(n)*memEntrySize {
		return nil, false
	}
	backing := make([]virtio.Buf, n)
	for i := range backing {
		e := b[i*memEntrySize:]
		addr, length := le.Uint64(e[0:]), le.Uint32(e[8:])
		if _, ok := d.mem.Range(addr, uint64(length)); !ok {
			return nil, false
		}
		backing[i] = virtio.Buf{Addr: addr, Len: length}
	}
	return backing, true
}

// setScanoutBlob is virtio_gpu_set_scanout_blob: the framebuffer (format,
// size, strides[0], offsets[0]) must lie within the blob and the rectangle
// within the framebuffer.
func (d *Device) setScanoutBlob(b []byte) []byte {
	if len(b) < setScanoutBlobSize {
		return response(VIRTIO_GPU_RESP_ERR_UNSPEC)
	}
	r := rectAt(b)
	f := func(i int) uint32 { return le.Uint32(b[16+4*i:]) }
	sid, rid, w, h, format := f(0), f(1), f(2), f(3), f(4)
	stride, offset := uint64(f(6)), uint64(f(10))
	res, done := d.scanoutTarget(sid, rid)
	if done != nil {
		return done
	}
	if !validFormat(format) || w > maxDisplaySide || h > maxDisplaySide {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	// The last byte the rectangle reads, as QEMU computes fbend; a rect
	// of height 0 reads nothing below its first row.
	start := offset + uint64(r.X)*bytesPerPixel + uint64(r.Y)*stride
	end := start + uint64(r.Width)*bytesPerPixel
	if r.Height > 0 {
		end += stride * uint64(r.Height-1)
	}
	if !res.blob || end > res.blobSize || r.Width < 16 || r.Height < 16 || !r.insideOf(w, h) {
		return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
	}
	fb := &blobFB{format: format, width: w, height: h, stride: stride, offset: offset,
		pix: make([]byte, uint64(w)*uint64(h)*bytesPerPixel)}
	d.scanouts[sid] = scanout{resource: rid, rect: r, blob: fb}
	d.markChanged(sid)
	d.refreshBlob(res, fb, r)
	d.emit(scanoutSetEvent(sid, rid, r))
	return response(VIRTIO_GPU_RESP_OK_NODATA)
}

// refreshBlob copies the part r of a blob framebuffer from guest memory
// into its host copy.
func (d *Device) refreshBlob(res *resource, fb *blobFB, r Rect) {
	r = r.intersect(Rect{0, 0, fb.width, fb.height})
	row := uint64(r.Width) * bytesPerPixel
	for y := uint64(r.Y); y < uint64(r.Y)+uint64(r.Height); y++ {
		src := fb.offset + y*fb.stride + uint64(r.X)*bytesPerPixel
		dst := (y*uint64(fb.width) + uint64(r.X)) * bytesPerPixel
		copyBacking(d.mem, res.backing, src, fb.pix[dst:dst+row], false)
	}
}
