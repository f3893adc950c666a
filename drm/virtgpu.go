package drm

import (
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"sync"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/virtio"
)

// Transport is how the driver reaches its virtio device, as virtio-pci or
// virtio-mmio registers would: features, status, config space, queue
// placement and notification. Everything else goes through the queues in
// guest memory. device.Device provides all of it but Notify, which the
// machine supplies (it knows the virtual time).
type Transport interface {
	DeviceFeatures() uint64
	SetDriverFeatures(f uint64)
	Status() uint8
	SetStatus(s uint8)
	ReadConfig(off uint32, b []byte)
	SetQueue(q int, l virtio.Layout) error
	Notify(q int)
}

// driverFeatures are the features the guest driver wants, as Linux's
// virtio_gpu driver table lists them (plus the ring features it uses).
const driverFeatures = 1<<device.VIRTIO_GPU_F_VIRGL | 1<<device.VIRTIO_GPU_F_EDID |
	1<<device.VIRTIO_GPU_F_RESOURCE_UUID | 1<<device.VIRTIO_GPU_F_RESOURCE_BLOB |
	1<<device.VIRTIO_GPU_F_CONTEXT_INIT |
	1<<virtio.VIRTIO_F_INDIRECT_DESC | 1<<virtio.VIRTIO_F_EVENT_IDX | 1<<virtio.VIRTIO_F_VERSION_1

// capset is a capset the device reported at probe.
type capset struct{ id, maxVersion, maxSize uint32 }

// gpu is the driver's view of its device (struct virtio_gpu_device): the
// negotiated features, the control queue, the fence driver, the capsets.
type gpu struct {
	drv      *Driver
	tr       Transport
	mem      *virtio.Memory
	features uint64
	capsets  []capset
	scanouts uint32

	alloc    *guestAlloc
	capacity uint64 // the arena left for requests

	// qmu guards the control queue and its outstanding requests (the
	// kernel's ctrlq.qlock); roomWaiters are kicked whenever answered
	// requests give back queue slots and guest memory (the kernel's
	// ack_queue).
	d           *fence.Domain
	qmu         sync.Mutex
	roomWaiters waitList
	ctrl        *virtio.DriverQueue
	pending     map[uint16]*vbuf

	// curMu guards the cursor queue and the guest buffers of its
	// outstanding requests (the kernel's cursorq.qlock).
	curMu      sync.Mutex
	cursor     *virtio.DriverQueue
	cursorBufs map[uint16]uint64

	fences fenceDriver

	// capMu guards capCache, capsets fetched by GET_CAPS by (id, version).
	capMu    sync.Mutex
	capCache map[[2]uint32][]byte
}

// vbuf is an outstanding request (struct virtio_gpu_vbuffer).
type vbuf struct {
	bufs     []uint64 // guest allocations to free when answered
	resp     uint64
	respSize uint32
	fence    *fence.Fence
	done     func(resp []byte) // runs when answered, with the response bytes
}

// Probe brings the device up as virtio_gpu_init does: negotiate
// features, place the control and cursor queues in guest memory (taken
// from [arena, arena+size), which the driver also uses for its request
// buffers), set DRIVER_OK, and read the capsets (a device that does not
// answer within 5 s of virtual time leaves the driver without capsets).
// It fails if the device cannot be driven.
func (drv *Driver) Probe(tr Transport, mem *virtio.Memory, arena, size uint64) error {
	g := &gpu{drv: drv, tr: tr, mem: mem, d: drv.d, alloc: newGuestAlloc(arena, size), pending: map[uint16]*vbuf{}}
	tr.SetStatus(0)
	tr.SetStatus(virtio.VIRTIO_CONFIG_S_ACKNOWLEDGE | virtio.VIRTIO_CONFIG_S_DRIVER)
	g.features = tr.DeviceFeatures() & driverFeatures
	if g.features&(1<<virtio.VIRTIO_F_VERSION_1) == 0 {
		return errors.New("drm: the device is not virtio 1.x")
	}
	tr.SetDriverFeatures(g.features)
	tr.SetStatus(tr.Status() | virtio.VIRTIO_CONFIG_S_FEATURES_OK)
	if tr.Status()&virtio.VIRTIO_CONFIG_S_FEATURES_OK == 0 {
		return errors.New("drm: the device refused the features")
	}
	var err error
	if g.ctrl, err = g.queue(device.ControlQ, 256); err != nil {
		return err
	}
	if g.cursor, err = g.queue(device.CursorQ, 16); err != nil {
		return err
	}
	g.cursorBufs = map[uint16]uint64{}
	var cfg [16]byte
	tr.ReadConfig(0, cfg[:])
	// What is left once the queues are placed is all requests can use.
	g.capacity = g.alloc.largestFree()
	// At most 16 scanouts; none turns KMS off (virtio_gpu_init).
	g.scanouts = min(le.Uint32(cfg[8:]), device.VIRTIO_GPU_MAX_SCANOUTS)
	ncapsets := le.Uint32(cfg[12:])
	g.fences.context = drv.d.AllocContexts(1)
	g.fences.drv = drv
	drv.gpu = g
	drv.kms = drv.newKMS(int(g.scanouts))
	tr.SetStatus(tr.Status() | virtio.VIRTIO_CONFIG_S_DRIVER_OK)
	// Like virtio_gpu_get_capsets: wait up to 5 s (virtual) for each
	// answer; on a timeout carry on without capsets.
	for i := range min(ncapsets, 64) {
		var info capset
		ctx, cancel := context.WithCancel(context.Background())
		stop := drv.d.Clock().AfterFunc(drv.d.Now()+capsReplyTimeout, cancel)
		err := g.sync(ctx, cmdBuf(device.VIRTIO_GPU_CMD_GET_CAPSET_INFO, words(i, 0)), 40, func(r []byte) {
			if le.Uint32(r) == device.VIRTIO_GPU_RESP_OK_CAPSET_INFO {
				info = capset{le.Uint32(r[24:]), le.Uint32(r[28:]), le.Uint32(r[32:])}
			}
		})
		stop()
		cancel()
		if err != 0 {
			g.capsets = nil // "timed out waiting for cap set"
			break
		}
		if info.id != 0 {
			g.capsets = append(g.capsets, info)
		}
	}
	drv.probeOutputs()
	return nil
}

func (g *gpu) has(bit uint) bool { return g.features&(1<<bit) != 0 }

// queue lays out queue q of n entries in the arena.
func (g *gpu) queue(q int, n uint16) (*virtio.DriverQueue, error) {
	l := virtio.Layout{Size: n}
	var ok [3]bool
	l.Desc, ok[0] = g.alloc.get(uint64(n) * virtio.DescSize)
	l.Avail, ok[1] = g.alloc.get(virtio.AvailBytes(n))
	l.Used, ok[2] = g.alloc.get(virtio.UsedBytes(n))
	if !ok[0] || !ok[1] || !ok[2] {
		return nil, errors.New("drm: no guest memory for the queues")
	}
	dq, err := virtio.NewDriverQueue(g.mem, l, g.features)
	if err != nil {
		return nil, err
	}
	if err := g.tr.SetQueue(q, l); err != nil {
		return nil, err
	}
	return dq, nil
}

var le = binary.LittleEndian

// words encodes little-endian u32s.
func words(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = le.AppendUint32(b, v)
	}
	return b
}

// cmdBuf returns a request: a header of type typ, then body.
func cmdBuf(typ uint32, body []byte) []byte {
	b := make([]byte, device.CtrlHdrSize, device.CtrlHdrSize+len(body))
	le.PutUint32(b, typ)
	return append(b, body...)
}

// queueCmd puts a request on the control queue, as
// virtio_gpu_queue_fenced_ctrl_buffer: req (its header's fence fields are
// filled here when f is given), then data if any, both device-readable,
// then respSize bytes for the response. The fence gets its id the moment
// the request enters the ring. done, if given, runs with the response.
//
// Like the kernel, it cannot fail once a request fits at all: while the
// queue or the guest-memory arena is full it waits for answered requests
// to give room back (a hung device therefore blocks the caller, as it
// does on Linux). A request larger than the whole arena is ENOMEM, before
// anything happens.
//
// t is the task the request is made for (nil: the kernel's own), which
// the timeline names as the emitter of its fence.
func (g *gpu) queueCmd(t *Task, req, data []byte, respSize uint32, f *fence.Fence, ring int, done func([]byte)) errno.Errno {
	if !g.fits(len(req), len(data), respSize) {
		return errno.ENOMEM
	}
	ndesc := 2
	if len(data) > 0 {
		ndesc = 3
	}
	v := &vbuf{respSize: respSize, fence: f, done: done}
	g.qmu.Lock()
	var reqAddr, dataAddr uint64
	for {
		if g.ctrl.NumFree() >= ndesc {
			if bufs, ok := g.alloc.getAll(uint64(len(req)), uint64(len(data)), uint64(respSize)); ok {
				reqAddr, dataAddr, v.resp = bufs[0], bufs[1], bufs[2]
				v.bufs = []uint64{bufs[0], bufs[2]}
				if len(data) > 0 {
					v.bufs = append(v.bufs, bufs[1])
				} else {
					g.alloc.put(bufs[1])
				}
				break
			}
		}
		// Wait for room, uninterruptibly, as the kernel's wait_event does,
		// unless nothing in flight could give any back: the arena is full
		// of buffers, and this request cannot have its memory (ENOMEM, as
		// a failed allocation of the kernel's request buffer is).
		if len(g.pending) == 0 {
			g.qmu.Unlock()
			return errno.ENOMEM
		}
		w := g.d.NewWaiter()
		g.roomWaiters.add(w)
		g.qmu.Unlock()
		w.Wait(nil, fence.Forever)
		g.qmu.Lock()
	}
	g.mem.Write(reqAddr, req)
	g.mem.Write(dataAddr, data)
	readable := []virtio.Buf{{Addr: reqAddr, Len: uint32(len(req))}}
	if len(data) > 0 {
		readable = append(readable, virtio.Buf{Addr: dataAddr, Len: uint32(len(data))})
	}
	if f != nil {
		g.fences.emit(g.mem, reqAddr, f, ring)
		if g.drv.tracing() {
			g.drv.emitFence(t, f, reqAddr)
		}
	}
	head, err := g.ctrl.Add(readable, []virtio.Buf{{Addr: v.resp, Len: respSize}})
	if err != nil {
		panic("drm: a control queue with room refused a chain: " + err.Error())
	}
	g.pending[head] = v
	if g.drv.tracing() {
		g.drv.emitQueueAdd(device.ControlQ, head, reqAddr)
	}
	notify := g.ctrl.Kick()
	g.qmu.Unlock()
	if notify {
		g.tr.Notify(device.ControlQ)
	}
	return 0
}

// tryQueueAll queues reqs on the control queue, in order, if there is
// room for all of them now, and reports whether it did; it never waits
// (the display's commits run on the clock's goroutine, which the device
// needs to make room). A fenced request gets a fence on the device's
// global timeline that calls onFenced when it signals. notify says the
// device must be told: the caller does so once it holds no lock a
// completion callback could want.
func (drv *Driver) tryQueueAll(reqs []queuedCmd, onFenced func()) (queued, notify bool) {
	g := drv.gpu
	var sizes []uint64
	for _, r := range reqs {
		sizes = append(sizes, uint64(len(r.req)), device.CtrlHdrSize)
	}
	if len(reqs) == 0 {
		return true, false
	}
	g.qmu.Lock()
	defer g.qmu.Unlock()
	if g.ctrl.NumFree() < 2*len(reqs) {
		return false, false
	}
	bufs, ok := g.alloc.getAll(sizes...)
	if !ok {
		return false, false
	}
	for i, r := range reqs {
		reqAddr, resp := bufs[2*i], bufs[2*i+1]
		g.mem.Write(reqAddr, r.req)
		v := &vbuf{bufs: []uint64{reqAddr, resp}, resp: resp, respSize: device.CtrlHdrSize}
		if r.fenced {
			v.fence = g.fences.newFence(drv.d, 0, -1)
			g.fences.emit(g.mem, reqAddr, v.fence, -1)
			if drv.tracing() {
				drv.emitFence(nil, v.fence, reqAddr)
			}
			v.fence.AddCallback(func(*fence.Fence) { onFenced() })
		}
		head, err := g.ctrl.Add([]virtio.Buf{{Addr: reqAddr, Len: uint32(len(r.req))}}, []virtio.Buf{{Addr: resp, Len: device.CtrlHdrSize}})
		if err != nil {
			panic("drm: a control queue with room refused a chain: " + err.Error())
		}
		g.pending[head] = v
		if drv.tracing() {
			drv.emitQueueAdd(device.ControlQ, head, reqAddr)
		}
	}
	return true, g.ctrl.Kick()
}

// tryCursor queues a cursor request (virtio_gpu_queue_cursor: the request
// alone, no response) if the cursor queue and the arena have room now,
// and says whether it did and whether the device must be told.
func (g *gpu) tryCursor(req []byte) (queued, notify bool) {
	g.curMu.Lock()
	defer g.curMu.Unlock()
	g.reclaimCursorLocked()
	if g.cursor.NumFree() < 1 {
		return false, false
	}
	addr, ok := g.alloc.get(uint64(len(req)))
	if !ok {
		return false, false
	}
	g.mem.Write(addr, req)
	head, err := g.cursor.Add([]virtio.Buf{{Addr: addr, Len: uint32(len(req))}}, nil)
	if err != nil {
		panic("drm: a cursor queue with room refused a chain: " + err.Error())
	}
	g.cursorBufs[head] = addr
	if g.drv.tracing() {
		g.drv.emitQueueAdd(device.CursorQ, head, addr)
	}
	return true, g.cursor.Kick()
}

// reclaimCursor frees the buffers of cursor requests the device has used.
func (g *gpu) reclaimCursor() {
	g.curMu.Lock()
	defer g.curMu.Unlock()
	g.reclaimCursorLocked()
}

func (g *gpu) reclaimCursorLocked() {
	for {
		head, _, ok, err := g.cursor.PopUsed()
		if err != nil || !ok {
			return
		}
		if addr, found := g.cursorBufs[head]; found {
			delete(g.cursorBufs, head)
			g.putMem(addr)
		}
	}
}

// fits reports whether a request of these sizes can ever be queued: all
// its pieces, rounded up, in the arena left for requests.
func (g *gpu) fits(req, data int, resp uint32) bool {
	round := func(n uint64) uint64 { return max((n+15)&^15, 16) }
	return round(uint64(req))+round(uint64(data))+round(uint64(resp)) <= g.capacity
}

// sync sends a request and waits for its answer (virtio_gpu's
// wait_event on resp_cb); the answer is handed to done.
func (g *gpu) sync(ctx context.Context, req []byte, respSize uint32, done func([]byte)) errno.Errno {
	var answered completion
	e := g.queueCmd(nil, req, nil, respSize, nil, -1, func(r []byte) { done(r); answered.complete() })
	if e != 0 {
		return e
	}
	return answered.wait(g.d, ctx)
}

func (g *gpu) free(v *vbuf) {
	for _, a := range v.bufs {
		g.alloc.put(a)
	}
}

// putMem gives guest memory back to the arena and wakes requests waiting
// for room (GEM backing and cursor buffers share the arena with them).
func (g *gpu) putMem(addr uint64) {
	g.alloc.put(addr)
	g.kickRoom()
}

// kickRoom wakes the requests waiting for queue slots or memory.
func (g *gpu) kickRoom() {
	g.qmu.Lock()
	ws := g.roomWaiters.take()
	g.qmu.Unlock()
	ws.kick()
}

// Interrupt is the device's used-buffer notification for queue q: answered
// requests are taken from the used ring (virtio_gpu_dequeue_ctrl_func),
// their fences processed, their callbacks run and their buffers freed.
func (drv *Driver) Interrupt(q int) {
	g := drv.gpu
	if g != nil && q == device.CursorQ {
		g.reclaimCursor()
		return
	}
	if g == nil || q != device.ControlQ {
		return
	}
	var answered []*vbuf
	g.qmu.Lock()
	for {
		head, _, ok, err := g.ctrl.PopUsed()
		if err != nil || !ok {
			break
		}
		if v := g.pending[head]; v != nil {
			delete(g.pending, head)
			answered = append(answered, v)
		}
	}
	g.qmu.Unlock()
	for _, v := range answered {
		resp := make([]byte, v.respSize)
		g.mem.Read(v.resp, resp)
		var h device.CtrlHdr
		h.Unmarshal(resp)
		if h.Flags&device.VIRTIO_GPU_FLAG_FENCE != 0 {
			g.fences.process(h.FenceID)
		}
		if v.done != nil {
			v.done(resp)
		}
		g.free(v)
	}
	if len(answered) > 0 {
		g.kickRoom()
	}
}

// fenceDriver is struct virtio_gpu_fence_driver: one device-wide fence id
// counter, the global fence context, and the fences emitted and not yet
// signalled, in emission order.
type fenceDriver struct {
	drv     *Driver
	mu      sync.Mutex
	context uint64 // the device-global dma-fence context
	counter uint64
	last    uint64 // last_fence_id
	pending []*emitted
}

type emitted struct {
	f  *fence.Fence
	id uint64
}

// newFence is virtio_gpu_fence_alloc: a fence on the global context, or on
// the ring's context for ring ≥ 0 of a context whose first fence context
// is base.
func (fd *fenceDriver) newFence(d *fence.Domain, base uint64, ring int) *fence.Fence {
	ctx := fd.context
	if ring >= 0 {
		ctx = base + uint64(ring)
	}
	return d.NewFence(ctx, 0, "virtio_gpu", "controlq")
}

// emit is virtio_gpu_fence_emit: the next device-wide id becomes the
// fence's seqno and goes into the request header, with the ring for a
// ring fence. Called under the queue lock, so ids follow queue order.
func (fd *fenceDriver) emit(m *virtio.Memory, hdr uint64, f *fence.Fence, ring int) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.counter++
	f.SetSeqno(fd.counter)
	flags := uint32(device.VIRTIO_GPU_FLAG_FENCE)
	if ring >= 0 {
		flags |= device.VIRTIO_GPU_FLAG_INFO_RING_IDX
		b, _ := m.Range(hdr+20, 1)
		b[0] = uint8(ring)
	}
	old, _ := m.U32(hdr + 4)
	m.PutU32(hdr+4, old|flags)
	m.PutU64(hdr+8, fd.counter)
	fd.pending = append(fd.pending, &emitted{f: f, id: fd.counter})
}

// unemit forgets a fence whose request never reached the ring.
func (fd *fenceDriver) unemit(f *fence.Fence) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	for i, e := range fd.pending {
		if e.f == f {
			fd.pending = append(fd.pending[:i], fd.pending[i+1:]...)
			return
		}
	}
}

// process is virtio_gpu_fence_event_process: find the fence with exactly
// this id; signal, in list order, every other pending fence of the same
// dma-fence context that it is later than, then it. Fences of other
// contexts with smaller ids are not touched.
func (fd *fenceDriver) process(id uint64) {
	fd.mu.Lock()
	fd.last = id
	var target *emitted
	for _, e := range fd.pending {
		if e.id == id {
			target = e
			break
		}
	}
	if target == nil {
		fd.mu.Unlock()
		return
	}
	var signal []*fence.Fence
	kept := fd.pending[:0]
	for _, e := range fd.pending {
		if e == target || (e.f.Context() == target.f.Context() && fence.IsLater(target.f, e.f)) {
			if e != target {
				signal = append(signal, e.f)
			}
			continue
		}
		kept = append(kept, e)
	}
	clear(fd.pending[len(kept):])
	fd.pending = kept
	fd.mu.Unlock()
	for _, f := range signal {
		fd.drv.signalFence(f)
	}
	fd.drv.signalFence(target.f)
}

// guestAlloc hands out 16-byte-aligned pieces of a guest-memory arena,
// first fit, merging freed neighbours. O(n) in the free pieces.
type guestAlloc struct {
	total uint64
	mu    sync.Mutex
	free  []span // sorted by address, never adjacent
	sizes map[uint64]uint64
}

type span struct{ addr, size uint64 }

func newGuestAlloc(base, size uint64) *guestAlloc {
	start := (base + 15) &^ 15
	if start-base >= size {
		return &guestAlloc{sizes: map[uint64]uint64{}}
	}
	total := (size - (start - base)) &^ 15
	return &guestAlloc{total: total, free: []span{{start, total}}, sizes: map[uint64]uint64{}}
}

// largestFree is the largest piece the arena could hand out now.
func (a *guestAlloc) largestFree() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n uint64
	for _, s := range a.free {
		n = max(n, s.size)
	}
	return n
}

// getAll allocates several pieces, or none.
func (a *guestAlloc) getAll(ns ...uint64) ([]uint64, bool) {
	out := make([]uint64, 0, len(ns))
	for _, n := range ns {
		addr, ok := a.get(n)
		if !ok {
			for _, x := range out {
				a.put(x)
			}
			return nil, false
		}
		out = append(out, addr)
	}
	return out, true
}

func (a *guestAlloc) get(n uint64) (uint64, bool) {
	if n > a.total {
		return 0, false
	}
	n = max((n+15)&^15, 16)
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, s := range a.free {
		if s.size < n {
			continue
		}
		if s.size == n {
			a.free = append(a.free[:i], a.free[i+1:]...)
		} else {
			a.free[i] = span{s.addr + n, s.size - n}
		}
		a.sizes[s.addr] = n
		return s.addr, true
	}
	return 0, false
}

func (a *guestAlloc) put(addr uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, ok := a.sizes[addr]
	if !ok {
		panic("drm: freeing guest memory that was not allocated")
	}
	delete(a.sizes, addr)
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].addr > addr })
	a.free = append(a.free, span{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = span{addr, n}
	if i+1 < len(a.free) && addr+n == a.free[i+1].addr { // merge with the next
		a.free[i].size += a.free[i+1].size
		a.free = append(a.free[:i+1], a.free[i+2:]...)
	}
	if i > 0 && a.free[i-1].addr+a.free[i-1].size == addr { // and the previous
		a.free[i-1].size += a.free[i].size
		a.free = append(a.free[:i], a.free[i+1:]...)
	}
}

// inUse returns the bytes handed out and not freed.
func (a *guestAlloc) inUse() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n uint64
	for _, s := range a.sizes {
		n += s
	}
	return n
}
