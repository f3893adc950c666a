package device

import (
	"math"
	"strconv"

	"fencelab/timeline"
	"fencelab/virtio"
)

// Threading says how the modelled GPU runs jobs: how many host workers
// there are and which jobs share one. Jobs on one worker run one after
// another in submission order; jobs on different workers overlap in
// virtual time.
type Threading uint8

const (
	// OneWorker: every context's work on one host worker, as QEMU's virgl
	// path runs all GL on its main loop.
	OneWorker Threading = iota
	// WorkerPerContext: one worker per context, as gfxstream's render
	// threads.
	WorkerPerContext
	// WorkerPerRing: one worker per (context, ring), as Venus's per-queue
	// threads.
	WorkerPerRing
)

// String names the model.
func (t Threading) String() string {
	switch t {
	case OneWorker:
		return "one-worker"
	case WorkerPerContext:
		return "worker-per-context"
	case WorkerPerRing:
		return "worker-per-ring"
	}
	return "threading(" + strconv.Itoa(int(t)) + ")"
}

// FaultKind is a fault to inject into jobs on one device timeline.
type FaultKind uint8

const (
	// FaultDelay adds Delay nanoseconds to each affected job.
	FaultDelay FaultKind = iota + 1
	// FaultHang makes the job never complete: its worker and timeline
	// stall until the device is reset.
	FaultHang
	// FaultError completes the job but answers its request with
	// ERR_UNSPEC (the fence still retires, as Linux expects).
	FaultError
	// FaultDrop completes the job but never returns its request to the
	// used ring; a later fence on the same timeline retires past it.
	FaultDrop
)

// Fault injects Kind into jobs of one device timeline: the global one
// (Global), or context Ctx's ring Ring. Count limits it to the next Count
// jobs there; 0 means every job.
type Fault struct {
	Global bool
	Ctx    uint32
	Ring   uint8
	Kind   FaultKind
	Delay  int64
	Count  int
}

// timelineKey names a device fence timeline: the global one, or a
// (context, ring) with INFO_RING_IDX (§A.7).
type timelineKey struct {
	ctx    uint32
	ring   uint8
	ringed bool
}

func keyOf(h CtrlHdr) timelineKey {
	if h.Flags&VIRTIO_GPU_FLAG_INFO_RING_IDX != 0 {
		return timelineKey{ctx: h.CtxID, ring: h.RingIdx, ringed: true}
	}
	return timelineKey{}
}

// fenceTimeline holds one timeline's fenced requests in queue order and
// how far it has completed.
type fenceTimeline struct {
	order     []*parked
	completed uint64
}

// parked is a fenced request waiting to be answered.
type parked struct {
	key     timelineKey
	hdr     CtrlHdr
	chain   *virtio.Chain
	resp    []byte
	done    bool // its work has finished
	dropped bool // FaultDrop: never returned
}

// context3D is a rendering context created by CTX_CREATE.
type context3D struct {
	id        uint32
	capset    uint32
	name      string
	resources map[uint32]bool
}

// maxQueuedJobs caps the jobs waiting or running on all workers.
const maxQueuedJobs = 4096

// maxDropped caps the list of chains FaultDrop kept from the used ring.
const maxDropped = 1024

// admit accounts for a job of size request bytes, or reports that the
// device has no room for it.
func (d *Device) admit(j *job, size int) bool {
	if d.queuedJobs >= maxQueuedJobs || uint64(size) > d.cfg.MaxQueued-d.queued {
		return false
	}
	j.size = uint64(size)
	d.queued += j.size
	d.queuedJobs++
	return true
}

// job is work for a GPU worker: a SUBMIT_3D stream or a 3D transfer.
type job struct {
	size    uint64 // request bytes accounted by admit
	key     timelineKey
	ctx     uint32
	ring    uint8
	ops     []Op
	pc      int
	xfer    *transfer3D // non-nil for a transfer
	item    *parked     // nil for an unfenced request
	fault   FaultKind
	delay   int64
	started bool
}

// worker is one modelled host thread.
type worker struct {
	index   int32
	jobs    []*job
	running bool
	until   int64 // when the running segment ends
	blocked *waitTarget
}

type waitTarget struct {
	key   timelineKey
	fence uint64
}

// workerFor returns (creating on first use) the worker a job of ctx on
// ring key runs on under the device's threading model.
func (d *Device) workerFor(ctx uint32, key timelineKey) *worker {
	var wk workerKey
	switch d.cfg.Threading {
	case WorkerPerContext:
		wk = workerKey{ctx: ctx}
	case WorkerPerRing:
		wk = workerKey{ctx: ctx, ring: key.ring, ringed: key.ringed}
	}
	if w, ok := d.workerIndex[wk]; ok {
		return d.workers[w]
	}
	w := &worker{index: int32(len(d.workers))}
	d.workerIndex[wk] = len(d.workers)
	d.workers = append(d.workers, w)
	return w
}

type workerKey struct {
	ctx    uint32
	ring   uint8
	ringed bool
}

// park records a fenced request on its timeline; done says whether its
// work is already finished. It returns the record.
func (d *Device) park(h CtrlHdr, c *virtio.Chain, resp []byte, done bool) *parked {
	key := keyOf(h)
	tl := d.timeline(key)
	p := &parked{key: key, hdr: h, chain: c, resp: resp, done: done}
	tl.order = append(tl.order, p)
	return p
}

func (d *Device) timeline(key timelineKey) *fenceTimeline {
	tl := d.fences[key]
	if tl == nil {
		tl = &fenceTimeline{}
		d.fences[key] = tl
	}
	return tl
}

// retire answers, in queue order, the finished requests at the front of
// key's timeline, and with each completed id every still-parked request on
// it with fence_id ≤ that id, as the spec and crosvm require. It reports
// whether it answered anything.
func (d *Device) retire(key timelineKey) bool {
	tl := d.fences[key]
	if tl == nil {
		return false
	}
	answered := false
	for len(tl.order) > 0 && tl.order[0].done {
		p := tl.order[0]
		tl.order = tl.order[1:]
		if p.hdr.FenceID > tl.completed {
			tl.completed = p.hdr.FenceID
		}
		d.emit(timeline.Event{Kind: timeline.FenceRetired, FenceID: p.hdr.FenceID, CtxID: key.ctx,
			RingIdx: key.ring, Flags: p.hdr.Flags})
		if p.dropped {
			if len(d.dropped) < maxDropped {
				d.dropped = append(d.dropped, p.chain.Head)
			}
		} else {
			d.respond(d.queues[ControlQ], p.chain, p.hdr, p.resp)
			answered = true
		}
		// Anything still parked with an id ≤ completed is answered too.
		kept := tl.order[:0]
		for _, q := range tl.order {
			if q.hdr.FenceID <= tl.completed {
				d.respond(d.queues[ControlQ], q.chain, q.hdr, q.resp)
				answered = true
				continue
			}
			kept = append(kept, q)
		}
		tl.order = kept
	}
	if answered {
		d.unblock(key)
	}
	return answered
}

// unblock lets workers waiting on key re-check their wait.
func (d *Device) unblock(key timelineKey) {
	for _, w := range d.workers {
		if w.blocked != nil && w.blocked.key == key && d.fences[key].completed >= w.blocked.fence {
			w.blocked = nil
		}
	}
}

// satisfied reports whether a host-side wait is over.
func (d *Device) satisfied(t waitTarget) bool {
	tl := d.fences[t.key]
	return tl != nil && tl.completed >= t.fence
}

// enqueue adds a job to its worker, with the faults that apply to it:
// each one applied is a FaultInjected event.
func (d *Device) enqueue(j *job) {
	w := d.workerFor(j.ctx, j.key)
	for i := range d.cfg.Faults {
		f := &d.cfg.Faults[i]
		if f.Count < 0 {
			continue
		}
		match := (f.Global && !j.key.ringed) || (!f.Global && j.key.ringed && f.Ctx == j.key.ctx && f.Ring == j.key.ring)
		if !match {
			continue
		}
		applied := true
		if f.Kind == FaultDelay {
			j.delay += f.Delay
		} else if j.fault == 0 {
			j.fault = f.Kind
		} else {
			applied = false // a job gets one fault of the other kinds
		}
		if applied {
			d.emit(timeline.Event{Kind: timeline.FaultInjected, CtxID: j.ctx, RingIdx: j.ring, FenceID: fenceOf(j),
				Worker: w.index, Fault: uint8(f.Kind)})
		}
		if f.Count > 0 {
			if f.Count--; f.Count == 0 {
				f.Count = -1 // used up
			}
		}
	}
	w.jobs = append(w.jobs, j)
}

// Advance runs the modelled GPU up to virtual time now: segments of work
// end, jobs complete, fences retire and their requests are answered, in
// time order (ties by worker creation order).
func (d *Device) Advance(now int64) {
	if d.NeedsReset() {
		return
	}
	answered := false
	for {
		w, t := d.nextWorker()
		if w == nil || t > now {
			break
		}
		if t > d.now {
			d.now = t
		}
		if d.step(w) {
			answered = true
		}
	}
	if now > d.now {
		d.now = now
	}
	if answered && d.queues[ControlQ] != nil && d.queues[ControlQ].NeedInterrupt() && d.cfg.Interrupt != nil {
		d.cfg.Interrupt(ControlQ)
	}
}

// NextEvent reports the virtual time of the device's next piece of work,
// if any: the machine advances the clock to it.
func (d *Device) NextEvent() (int64, bool) {
	w, t := d.nextWorker()
	return t, w != nil
}

// nextWorker returns the worker with the earliest pending event.
func (d *Device) nextWorker() (*worker, int64) {
	var best *worker
	bestT := int64(math.MaxInt64)
	for _, w := range d.workers {
		t, ok := d.eventTime(w)
		if ok && t < bestT {
			best, bestT = w, t
		}
	}
	return best, bestT
}

// eventTime is when worker w next does something, if it can.
func (d *Device) eventTime(w *worker) (int64, bool) {
	if len(w.jobs) == 0 {
		return 0, false
	}
	if w.running {
		if w.until == math.MaxInt64 {
			return 0, false // hung
		}
		return w.until, true
	}
	if w.blocked != nil && !d.satisfied(*w.blocked) {
		return 0, false
	}
	return max(w.until, d.now), true
}

// step performs worker w's next event at d.now: it ends the running
// segment (completing the job if nothing is left), or starts the next
// segment of the head job. It reports whether a request was answered.
func (d *Device) step(w *worker) bool {
	j := w.jobs[0]
	if w.running {
		w.running = false
		if j.pc < len(j.ops) || (j.xfer != nil && !j.started) {
			return false // stopped at a host-side wait
		}
		w.jobs = w.jobs[1:]
		d.queued -= j.size
		d.queuedJobs--
		d.emit(timeline.Event{Kind: timeline.JobEnd, Worker: w.index, CtxID: j.ctx, RingIdx: j.ring, FenceID: fenceOf(j)})
		return d.finish(j)
	}
	w.blocked = nil
	start := d.now
	if !j.started {
		j.started = true
		d.emit(timeline.Event{Kind: timeline.JobStart, Worker: w.index, CtxID: j.ctx, RingIdx: j.ring, FenceID: fenceOf(j)})
	}
	var cost int64
	if j.xfer != nil {
		cost = d.runTransfer(j.xfer)
	}
	for j.pc < len(j.ops) {
		op := j.ops[j.pc]
		if op.Code == OpWait {
			t := waitOn(op)
			if !d.satisfied(t) {
				w.blocked = &t
				break
			}
			j.pc++
			continue
		}
		c, _ := Execute(op, d.surface)
		cost += c
		j.pc++
	}
	if j.pc == len(j.ops) {
		cost += j.delay
		j.delay = 0
	}
	w.running = true
	w.until = start + cost
	if j.fault == FaultHang && j.pc == len(j.ops) {
		w.until = math.MaxInt64
	}
	return false
}

// waitOn turns a WAIT op into a target: ctx 0 names the global timeline.
func waitOn(op Op) waitTarget {
	ctx, ring, fence := op.WaitTarget()
	if ctx == 0 {
		return waitTarget{fence: fence}
	}
	return waitTarget{key: timelineKey{ctx: ctx, ring: ring, ringed: true}, fence: fence}
}

func fenceOf(j *job) uint64 {
	if j.item == nil {
		return 0
	}
	return j.item.hdr.FenceID
}

// finish marks a completed job's request done and retires its timeline.
func (d *Device) finish(j *job) bool {
	if j.item == nil {
		return false
	}
	switch j.fault {
	case FaultError:
		le.PutUint32(j.item.resp, VIRTIO_GPU_RESP_ERR_UNSPEC)
	case FaultDrop:
		j.item.dropped = true
	}
	j.item.done = true
	return d.retire(j.key)
}

// surface is the renderer's view of a resource.
func (d *Device) surface(id uint32) *Surface {
	r := d.resources[id]
	if r == nil {
		return nil
	}
	return &Surface{Width: r.width, Height: r.height, Format: r.format, Pix: r.data}
}

// Dropped returns the heads of requests a FaultDrop kept from the used
// ring, for tests and the timeline view.
func (d *Device) Dropped() []uint16 { return d.dropped }
