package drm

import (
	"slices"
	"sync"
	"sync/atomic"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
)

// GEM and resource request numbers.
var (
	DRM_IOCTL_GEM_CLOSE                    = IOW(DRM_IOCTL_BASE, 0x09, 8)
	DRM_IOCTL_VIRTGPU_MAP                  = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x01, 16)
	DRM_IOCTL_VIRTGPU_RESOURCE_CREATE      = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x04, 56)
	DRM_IOCTL_VIRTGPU_RESOURCE_INFO        = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x05, 16)
	DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST   = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x06, 44)
	DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST     = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x07, 44)
	DRM_IOCTL_VIRTGPU_WAIT                 = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x08, 8)
	DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x0a, 48)
)

// Blob memory types and flags (virtgpu_drm.h).
const (
	VIRTGPU_BLOB_MEM_GUEST        = 1
	VIRTGPU_BLOB_MEM_HOST3D       = 2
	VIRTGPU_BLOB_MEM_HOST3D_GUEST = 3

	VIRTGPU_BLOB_FLAG_USE_MAPPABLE     = 1
	VIRTGPU_BLOB_FLAG_USE_SHAREABLE    = 2
	VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE = 4
)

const (
	// VIRTGPU_WAIT_NOWAIT makes VIRTGPU_WAIT a poll.
	VIRTGPU_WAIT_NOWAIT = 1
	pageSize            = 4096
	// maxGEMHandles bounds one file's GEM handles (ENOMEM past it).
	maxGEMHandles = 1 << 16
	// waitTimeout is VIRTGPU_WAIT's 15 s (virtual).
	waitTimeout = 15_000_000_000
	// fakeOffsetBase is DRM_FILE_PAGE_OFFSET_START: where mmap offsets
	// handed out by MAP begin.
	fakeOffsetBase = 0x100000000
)

// gemObject is a virtio-gpu buffer object (struct virtio_gpu_object): a
// host resource and its guest backing, with the fences of the work that
// last wrote it (its reservation object, simplified to write fences).
type gemObject struct {
	drv     *Driver
	refs    atomic.Int32
	resID   uint32
	size    uint64
	backing uint64 // guest address of the contiguous backing
	blobMem uint32 // VIRTGPU_BLOB_MEM_*, 0 for a classic resource
	dumb    bool   // made by CREATE_DUMB: scanout copies it to the host

	// mu guards fences and dmabuf.
	mu     sync.Mutex
	fences []*fence.Fence
	dmabuf *DmaBuf // its exported dma-buf, if any
}

func (o *gemObject) get() { o.refs.Add(1) }

// tryGet takes a reference unless the last one is already gone and the
// object is on its way out (kref_get_unless_zero).
func (o *gemObject) tryGet() bool {
	for {
		n := o.refs.Load()
		if n == 0 {
			return false
		}
		if o.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// put drops a reference; the last one unrefs the host resource and frees
// the backing (virtio_gpu_cleanup_object).
func (o *gemObject) put() {
	if o.refs.Add(-1) != 0 {
		return
	}
	o.drv.gpu.queueCmd(nil, o.unrefCmd(), nil, device.CtrlHdrSize, nil, -1, nil)
	o.free()
}

func (o *gemObject) unrefCmd() []byte {
	return cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_UNREF, words(o.resID, 0))
}

func (o *gemObject) free() {
	o.drv.offMu.Lock()
	if o.drv.offsets[o.mmapOffset()] == o {
		delete(o.drv.offsets, o.mmapOffset()) // drm_gem_free_mmap_offset
	}
	o.drv.offMu.Unlock()
	o.drv.gpu.putMem(o.backing)
	o.drv.dropID(o.drv.resIDs, o.resID)
}

// tryPut is put for code that must not wait for room in the control
// queue (it runs on the clock's goroutine): if the last reference cannot
// send its RESOURCE_UNREF at once, it is kept and tryPut reports false.
// The last reference is claimed (1 → 0) before the UNREF is queued, so
// that an mmap looking the object up by its offset (tryGet) cannot take
// a new one meanwhile; if the queue has no room it is given back.
func (o *gemObject) tryPut() bool {
	for {
		n := o.refs.Load()
		if n > 1 {
			if o.refs.CompareAndSwap(n, n-1) {
				return true
			}
			continue
		}
		if !o.refs.CompareAndSwap(1, 0) {
			continue
		}
		queued, notify := o.drv.tryQueueAll([]queuedCmd{{req: o.unrefCmd()}}, nil)
		if !queued {
			o.refs.Store(1)
			return false
		}
		o.free()
		if notify {
			o.drv.gpu.tr.Notify(device.ControlQ)
		}
		return true
	}
}

// addFence records f as the latest work writing the object, dropping the
// fences that have signalled.
func (o *gemObject) addFence(f *fence.Fence) {
	o.mu.Lock()
	defer o.mu.Unlock()
	kept := o.fences[:0]
	for _, x := range o.fences {
		if !x.IsSignaled() {
			kept = append(kept, x)
		}
	}
	o.fences = append(kept, f)
}

// idle reports whether every recorded fence has signalled
// (dma_resv_test_signaled).
func (o *gemObject) idle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.fences {
		if !f.IsSignaled() {
			return false
		}
	}
	return true
}

func (o *gemObject) pendingFences() []*fence.Fence {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*fence.Fence(nil), o.fences...)
}

// gemHandles is a file's GEM handle table: lowest free handle ≥ 1.
type gemHandles struct {
	mu   sync.Mutex
	objs map[uint32]*gemObject
}

func (h *gemHandles) install(o *gemObject) (uint32, errno.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.objs) >= maxGEMHandles {
		return 0, errno.ENOMEM
	}
	if h.objs == nil {
		h.objs = map[uint32]*gemObject{}
	}
	id := lowestFree(h.objs, 1)
	o.get()
	h.objs[id] = o
	return id, 0
}

// lookup returns the object with a reference, or nil.
func (h *gemHandles) lookup(id uint32) *gemObject {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objs[id]
	if o != nil {
		o.get()
	}
	return o
}

// holds reports whether some handle of this table names o: whether its
// file may map o (drm_vma_node_is_allowed; the kernel allows a file on
// each handle it gets and revokes on each it closes).
func (h *gemHandles) holds(o *gemObject) bool {
	_, ok := h.handleOf(o)
	return ok
}

// has reports whether handle id still names o.
func (h *gemHandles) has(id uint32, o *gemObject) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.objs[id] == o
}

// handleOf returns a handle this table has for o, the lowest.
func (h *gemHandles) handleOf(o *gemObject) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	best, found := uint32(0), false
	for id, x := range h.objs {
		if x == o && (!found || id < best) {
			best, found = id, true
		}
	}
	return best, found
}

func (h *gemHandles) remove(id uint32) *gemObject {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objs[id]
	delete(h.objs, id)
	return o
}

func (h *gemHandles) closeAll() {
	h.mu.Lock()
	objs := h.objs
	h.objs = nil
	h.mu.Unlock()
	// In handle order: a last reference sends RESOURCE_UNREF, and the
	// device must see the same order every run.
	ids := make([]uint32, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		objs[id].put()
	}
}

func init() {
	coreIoctls[iocNr(DRM_IOCTL_GEM_CLOSE)] = ioctlDesc{"DRM_IOCTL_GEM_CLOSE", DRM_IOCTL_GEM_CLOSE, DRM_RENDER_ALLOW, gemClose}
	reg := func(name string, cmd uint32, fn handler) {
		driverIoctls[iocNr(cmd)-DRM_COMMAND_BASE] = ioctlDesc{name, cmd, DRM_RENDER_ALLOW, fn}
	}
	reg("DRM_IOCTL_VIRTGPU_MAP", DRM_IOCTL_VIRTGPU_MAP, virtgpuMap)
	reg("DRM_IOCTL_VIRTGPU_RESOURCE_CREATE", DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, resourceCreate)
	reg("DRM_IOCTL_VIRTGPU_RESOURCE_INFO", DRM_IOCTL_VIRTGPU_RESOURCE_INFO, resourceInfo)
	reg("DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST", DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST, transferFromHost)
	reg("DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST", DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, transferToHost)
	reg("DRM_IOCTL_VIRTGPU_WAIT", DRM_IOCTL_VIRTGPU_WAIT, virtgpuWait)
	reg("DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB", DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, resourceCreateBlob)
}

// gemClose is drm_gem_close_ioctl: an unknown handle is EINVAL. Linux
// 6.12 does not look at pad (the oracle's prime probe shows it).
func gemClose(f *File, t *Task, data []byte) errno.Errno {
	o := f.gem.remove(le.Uint32(data))
	if o == nil {
		return errno.EINVAL
	}
	f.prime.forget(o)
	o.put()
	return 0
}

// resourceCreate is virtio_gpu_resource_create_ioctl. With 3D every field
// goes to the host (which may refuse it; the guest does not wait to hear);
// without, only single-level 2D textures are accepted (EINVAL). Size 0
// means one page. The creation is fenced on the global context and the
// fence becomes the object's first write fence.
func resourceCreate(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil {
		return errno.ENODEV
	}
	w := func(i int) uint32 { return le.Uint32(data[4*i:]) }
	target, format, bind, width, height := w(0), w(1), w(2), w(3), w(4)
	depth, arraySize, lastLevel, samples, flags, size := w(5), w(6), w(7), w(8), w(9), w(12)
	is3D := g.has(device.VIRTIO_GPU_F_VIRGL)
	if is3D {
		f.createContext(t)
	} else if depth > 1 || samples > 1 || lastLevel > 1 || target != 2 || arraySize > 1 {
		return errno.EINVAL
	}
	if size == 0 {
		size = pageSize
	}
	bytes := (uint64(size) + pageSize - 1) &^ (pageSize - 1)
	h, resID, e := f.newObject(t, bytes, 0, true, func(resID uint32, _ uint64) []byte {
		if is3D {
			return cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_CREATE_3D,
				words(resID, target, format, bind, width, height, depth, arraySize, lastLevel, samples, flags, 0))
		}
		return cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, words(resID, format, width, height))
	})
	if e != 0 {
		return e
	}
	le.PutUint32(data[40:], h)
	le.PutUint32(data[44:], resID)
	return 0
}

// newObject is the common tail of the object-creating ioctls
// (virtio_gpu_object_create, then the handle): it backs a new object with
// bytes of guest memory, asks the host to create its resource with the
// request create builds from the resource id and backing address, and
// gives the caller a handle. A classic resource (blobMem 0) gets its
// backing attached after the create; a blob carries it in the create.
// If fenced (RESOURCE_CREATE's classic resources only), the create is
// fenced and the fence becomes the object's first write fence.
func (f *File) newObject(t *Task, bytes uint64, blobMem uint32, fenced bool, create func(resID uint32, backing uint64) []byte) (handle, resID uint32, _ errno.Errno) {
	g := f.drv.gpu
	backing, ok := g.alloc.get(bytes)
	if !ok {
		return 0, 0, errno.ENOMEM
	}
	o := &gemObject{drv: f.drv, resID: f.drv.takeID(f.drv.resIDs), size: bytes, backing: backing, blobMem: blobMem}
	o.refs.Store(1)
	var fc *fence.Fence
	if fenced {
		fc = g.fences.newFence(f.drv.d, 0, -1)
	}
	if e := g.queueCmd(t, create(o.resID, backing), nil, device.CtrlHdrSize, fc, -1, nil); e != 0 {
		// No memory left for the request: undo, as a failed create does.
		if fc != nil {
			fc.Signal()
		}
		o.free()
		return 0, 0, e
	}
	if fc != nil {
		o.addFence(fc)
	}
	o.createMmapOffset() // as drm_gem_shmem_create does: MAP only reads it
	if blobMem == 0 {
		attach := cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, words(o.resID, 1))
		attach = append(attach, memEntry(backing, bytes)...)
		g.queueCmd(nil, attach, nil, device.CtrlHdrSize, nil, -1, nil)
	}
	h, e := f.gem.install(o)
	if e != 0 {
		o.put()
		return 0, 0, e
	}
	f.attachToContext(t, o)
	o.put() // the handle owns the object now
	return h, o.resID, 0
}

// memEntry is one struct virtio_gpu_mem_entry: the guest backing of a
// resource, in one piece.
func memEntry(addr, length uint64) []byte {
	return words(uint32(addr), uint32(addr>>32), uint32(length), 0)
}

// blobCreateCmd is RESOURCE_CREATE_BLOB for a blob of size bytes whose
// guest backing is the bytes at backing.
func blobCreateCmd(resID, mem, flags uint32, blobID, size, backing, bytes uint64) []byte {
	req := cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, words(resID, mem, flags, 1))
	req = append(req, le.AppendUint64(le.AppendUint64(nil, blobID), size)...)
	return append(req, memEntry(backing, bytes)...)
}

// attachToContext is virtio_gpu_gem_object_open: with 3D the resource is
// attached to the file's context (creating it first only on devices
// without CONTEXT_INIT).
func (f *File) attachToContext(t *Task, o *gemObject) {
	g := f.drv.gpu
	if !g.has(device.VIRTIO_GPU_F_VIRGL) {
		return
	}
	f.ctxMu.lock(f.drv.d, nil)
	if !g.has(device.VIRTIO_GPU_F_CONTEXT_INIT) {
		f.ensureContextLocked(t)
	}
	created, ctx := f.virt.created, f.virt.ctxID
	f.ctxMu.unlock()
	if created {
		req := cmdBuf(device.VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, words(o.resID, 0))
		le.PutUint32(req[16:], ctx)
		g.queueCmd(nil, req, nil, device.CtrlHdrSize, nil, -1, nil)
	}
}

// resourceInfo is virtio_gpu_resource_info_ioctl: ENOENT for an unknown
// handle; res_handle and size written, and blob_mem for blobs only.
func resourceInfo(f *File, t *Task, data []byte) errno.Errno {
	o := f.gem.lookup(le.Uint32(data))
	if o == nil {
		return errno.ENOENT
	}
	defer o.put()
	le.PutUint32(data[4:], o.resID)
	le.PutUint32(data[8:], uint32(o.size))
	if o.blobMem != 0 {
		le.PutUint32(data[12:], o.blobMem)
	}
	return 0
}

// virtgpuMap is virtio_gpu_map_ioctl: the fake mmap offset of the object
// (ENOENT for an unknown handle).
func virtgpuMap(f *File, t *Task, data []byte) errno.Errno {
	o := f.gem.lookup(le.Uint32(data[8:]))
	if o == nil {
		return errno.ENOENT
	}
	defer o.put()
	le.PutUint64(data, o.mmapOffset())
	return 0
}

// mmapOffset is the object's fake offset for mmap on its DRM file (its
// drm_vma_offset_node): 4 GiB apart per resource, so unique and
// page-aligned.
func (o *gemObject) mmapOffset() uint64 { return fakeOffsetBase + uint64(o.resID)<<32 }

// createMmapOffset is drm_gem_create_mmap_offset: mmap finds the object
// at its offset from then on (Driver.Map), until it is freed.
func (o *gemObject) createMmapOffset() {
	o.drv.offMu.Lock()
	o.drv.offsets[o.mmapOffset()] = o
	o.drv.offMu.Unlock()
}

// virtgpuWait is virtio_gpu_wait_ioctl: ENOENT for an unknown handle; with
// NOWAIT, EBUSY while the object's fences are pending; otherwise wait up
// to 15 s for them (EBUSY on timeout, ERESTARTSYS on a signal).
func virtgpuWait(f *File, t *Task, data []byte) errno.Errno {
	o := f.gem.lookup(le.Uint32(data))
	if o == nil {
		return errno.ENOENT
	}
	defer o.put()
	if le.Uint32(data[4:])&VIRTGPU_WAIT_NOWAIT != 0 {
		if o.idle() {
			return 0
		}
		return errno.EBUSY
	}
	deadline := f.drv.d.Now() + waitTimeout
	for _, fc := range o.pendingFences() {
		switch e := f.drv.waitFence(t, fc, fenceSource{}, deadline); e {
		case 0:
		case errno.ETIME:
			return errno.EBUSY
		default:
			return e
		}
	}
	return 0
}

// transferFromHost and transferToHost are virtio_gpu_transfer_from_host_ioctl
// and virtio_gpu_transfer_to_host_ioctl, in the kernel's order:
//
//   - FROM_HOST: ENOSYS without 3D; the context is created; ENOENT for an
//     unknown handle; EINVAL for a guest-only blob; EINVAL for a non-zero
//     stride or layer_stride on an object that is not a host3d blob; then
//     the 3D transfer, fenced on the global context.
//   - TO_HOST: ENOENT for an unknown handle; EINVAL for a guest-only blob;
//     without 3D a 2D transfer of the box (unfenced); with 3D the context
//     is created, then the stride rule and the fenced 3D transfer.
//
// The transfer's fence is recorded on the object.
func transferFromHost(f *File, t *Task, data []byte) errno.Errno { return f.transfer(t, data, false) }
func transferToHost(f *File, t *Task, data []byte) errno.Errno   { return f.transfer(t, data, true) }

func (f *File) transfer(t *Task, data []byte, toHost bool) errno.Errno {
	g := f.drv.gpu
	if g == nil {
		return errno.ENODEV
	}
	is3D := g.has(device.VIRTIO_GPU_F_VIRGL)
	if !toHost {
		if !is3D {
			return errno.ENOSYS
		}
		f.createContext(t)
	}
	w := func(i int) uint32 { return le.Uint32(data[4*i:]) }
	o := f.gem.lookup(w(0))
	if o == nil {
		return errno.ENOENT
	}
	defer o.put()
	host3D := o.blobMem == VIRTGPU_BLOB_MEM_HOST3D || o.blobMem == VIRTGPU_BLOB_MEM_HOST3D_GUEST
	if o.blobMem == VIRTGPU_BLOB_MEM_GUEST {
		return errno.EINVAL // a guest-only blob has nothing on the host
	}
	x, y, z, bw, bh, bd := w(1), w(2), w(3), w(4), w(5), w(6)
	level, offset, stride, layerStride := w(7), w(8), w(9), w(10)
	if !is3D {
		req := cmdBuf(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, words(x, y, bw, bh, offset, 0, o.resID, 0))
		g.queueCmd(nil, req, nil, device.CtrlHdrSize, nil, -1, nil)
		return 0
	}
	if toHost {
		f.createContext(t)
	}
	if !host3D && (stride != 0 || layerStride != 0) {
		return errno.EINVAL
	}
	typ := uint32(device.VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D)
	if toHost {
		typ = device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D
	}
	req := cmdBuf(typ, words(x, y, z, bw, bh, bd, offset, 0, o.resID, level, stride, layerStride))
	f.ctxMu.lock(f.drv.d, nil)
	le.PutUint32(req[16:], f.virt.ctxID)
	f.ctxMu.unlock()
	fc := g.fences.newFence(f.drv.d, 0, -1)
	g.queueCmd(t, req, nil, device.CtrlHdrSize, fc, -1, nil)
	o.addFence(fc)
	return 0
}

// createContext is virtio_gpu_create_context: the host context, lazily.
func (f *File) createContext(t *Task) {
	f.ctxMu.lock(f.drv.d, nil)
	defer f.ctxMu.unlock()
	f.ensureContextLocked(t)
}

// resourceCreateBlob is virtio_gpu_resource_create_blob_ioctl. Every
// validation failure is EINVAL (kernel-semantics §1.7): no blob feature,
// unknown flags, CROSS_DEVICE without resource UUIDs, an unknown blob_mem,
// host blobs without 3D or with cmd_size not a multiple of 4, a guest blob
// with a blob_id or a command. fencelab's device keeps only guest blobs,
// so host blobs go to the host and are refused there. The object's pages
// are the blob's guest memory.
func resourceCreateBlob(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil {
		return errno.ENODEV
	}
	mem, flags, size := le.Uint32(data[0:]), le.Uint32(data[4:]), le.Uint64(data[16:])
	cmdSize, cmd, blobID := le.Uint32(data[28:]), le.Uint64(data[32:]), le.Uint64(data[40:])
	const allFlags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE | VIRTGPU_BLOB_FLAG_USE_SHAREABLE | VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE
	is3D := g.has(device.VIRTIO_GPU_F_VIRGL)
	switch {
	case !g.has(device.VIRTIO_GPU_F_RESOURCE_BLOB),
		flags&^allFlags != 0,
		flags&VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE != 0 && !g.has(device.VIRTIO_GPU_F_RESOURCE_UUID):
		return errno.EINVAL
	}
	switch mem {
	case VIRTGPU_BLOB_MEM_GUEST:
		if blobID != 0 || cmdSize != 0 {
			return errno.EINVAL
		}
	case VIRTGPU_BLOB_MEM_HOST3D, VIRTGPU_BLOB_MEM_HOST3D_GUEST:
		if !is3D || cmdSize%4 != 0 {
			return errno.EINVAL
		}
	default:
		return errno.EINVAL
	}
	if is3D {
		f.createContext(t)
	}
	if cmdSize > 0 {
		if uint64(cmdSize) > kvmallocMax || !g.fits(device.CtrlHdrSize+8, int(cmdSize), device.CtrlHdrSize) {
			return errno.ENOMEM
		}
		stream := make([]byte, cmdSize)
		if t.Mem.CopyIn(cmd, stream) != 0 {
			return errno.EFAULT
		}
		req := cmdBuf(device.VIRTIO_GPU_CMD_SUBMIT_3D, words(cmdSize, 0))
		f.ctxMu.lock(f.drv.d, nil)
		le.PutUint32(req[16:], f.virt.ctxID)
		f.ctxMu.unlock()
		g.queueCmd(nil, req, stream, device.CtrlHdrSize, nil, -1, nil)
	}
	bytes := (size + pageSize - 1) &^ (pageSize - 1)
	if bytes == 0 || bytes > kvmallocMax {
		return errno.ENOMEM
	}
	h, resID, e := f.newObject(t, bytes, mem, false, func(resID uint32, backing uint64) []byte {
		return blobCreateCmd(resID, mem, flags, blobID, size, backing, bytes)
	})
	if e != 0 {
		return e
	}
	le.PutUint32(data[8:], h)
	le.PutUint32(data[12:], resID)
	return 0
}
