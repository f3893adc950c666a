package fence

import (
	"context"
	"sync"
	"sync/atomic"

	"fencelab/errno"
)

// WaitForSubmitTimeout is how long a lookup with WAIT_FOR_SUBMIT (TRANSFER's
// source) sleeps for its point to appear: DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT,
// 5 s.
const WaitForSubmitTimeout int64 = 5_000_000_000

// Syncobj is a DRM sync object (struct drm_syncobj): a reference-counted
// holder of one fence pointer, which may be nil, a plain fence (a "binary"
// syncobj) or the head of a fence chain (a "timeline" syncobj). The kernel
// does not record which kind a syncobj is; it is whatever the operations
// applied to it made it.
//
// Waiters that need a fence to appear (WAIT_FOR_SUBMIT, WAIT_AVAILABLE) and
// eventfd registrations are re-evaluated whenever the fence pointer changes.
//
// Syncobjs come from [Domain.NewSyncobj] with one reference; handles
// ([SyncobjTable]), syncobj fds ([SyncobjFile]) and callers in the middle
// of an operation each hold one.
type Syncobj struct {
	d    *Domain
	id   uint32
	refs atomic.Int64

	// mu guards the fields below it.
	mu       sync.Mutex
	fence    *Fence
	waiters  []*syncobjWaiter // cb_list, in registration order
	eventfds []*eventfdEntry  // ev_fd_list, in registration order
}

// NewSyncobj returns a syncobj with one reference, empty or (signaled)
// holding a new private stub stamped now, as drm_syncobj_create.
func (d *Domain) NewSyncobj(signaled bool) *Syncobj {
	s := &Syncobj{d: d, id: d.nextSyncobj.Add(1)}
	s.refs.Store(1)
	d.live.syncobjs.Add(1)
	if signaled {
		s.ReplaceFence(d.NewStub(d.Now()))
	}
	return s
}

// ID returns the syncobj's id: unique in its domain, numbered from 1 in
// creation order, so the same run numbers its syncobjs the same. (A
// syncobj has a different handle in each file holding it; a timeline
// names it by this.)
func (s *Syncobj) ID() uint32 { return s.id }

// Get takes a reference (drm_syncobj_get).
func (s *Syncobj) Get() { s.refs.Add(1) }

// Put drops a reference (drm_syncobj_put). The last one frees the syncobj
// as drm_syncobj_free does: the fence is dropped and eventfd registrations
// that never captured a fence are discarded without signalling.
func (s *Syncobj) Put() {
	switch n := s.refs.Add(-1); {
	case n < 0:
		panic("fence: Syncobj reference count below zero")
	case n > 0:
		return
	}
	s.ReplaceFence(nil)
	s.mu.Lock()
	evs := s.eventfds
	s.eventfds = nil
	s.mu.Unlock()
	for _, ev := range evs {
		s.d.live.eventfds.Add(-1)
		ev.free()
	}
	s.d.live.syncobjs.Add(-1)
}

// Fence returns the current fence, or nil (drm_syncobj_fence_get).
func (s *Syncobj) Fence() *Fence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fence
}

// ReplaceFence makes f (possibly nil) the syncobj's fence, as
// drm_syncobj_replace_fence: if that changes the pointer, every waiter and
// eventfd registration is re-evaluated, in registration order. A timeline
// chain is discarded whole. O(w) for w registrations.
func (s *Syncobj) ReplaceFence(f *Fence) {
	s.mu.Lock()
	old := s.fence
	s.fence = f
	var fire []func()
	if f != old {
		fire = s.reevaluateLocked()
	}
	s.mu.Unlock()
	for _, fn := range fire {
		fn()
	}
}

// AddPoint appends timeline point point, waiting for f, as
// drm_syncobj_add_point: the new chain node (see newChainNode for the
// ordered and unordered cases) becomes the syncobj's fence, waiters and
// eventfds are re-evaluated, and signalled nodes below it are unlinked.
// f must not itself be a chain node. Point 0 also adds a node; it does not
// replace. It cannot fail. Amortised O(log n).
func (s *Syncobj) AddPoint(f *Fence, point uint64) {
	s.mu.Lock()
	node := s.d.newChainNode(s.fence, f, point)
	s.fence = node
	fire := s.reevaluateLocked()
	s.mu.Unlock()
	for _, fn := range fire {
		fn()
	}
	// The kernel means to walk the chain once for garbage collection here;
	// one step bounds memory for timelines that nobody queries.
	node.walk()
}

// reevaluateLocked runs syncobj_wait_syncobj_func and
// syncobj_eventfd_entry_func for every registration and returns what must
// be done once the lock is dropped (eventfd signals, wake-ups).
func (s *Syncobj) reevaluateLocked() []func() {
	var fire []func()
	if len(s.waiters) > 0 {
		kept := s.waiters[:0]
		for _, w := range s.waiters {
			if f, ok := s.resolveLocked(w.point); ok {
				w.capture(f)
				s.d.live.waiters.Add(-1)
				fire = append(fire, w.wake.Kick)
			} else {
				kept = append(kept, w)
			}
		}
		clear(s.waiters[len(kept):])
		s.waiters = kept
	}
	if len(s.eventfds) > 0 {
		kept := s.eventfds[:0]
		for _, ev := range s.eventfds {
			if f, ok := s.resolveLocked(ev.point); ok {
				s.d.live.eventfds.Add(-1)
				fire = append(fire, func() { ev.arm(f) })
			} else {
				kept = append(kept, ev)
			}
		}
		clear(s.eventfds[len(kept):])
		s.eventfds = kept
	}
	return fire
}

// resolveLocked resolves point against the current fence: the fence to
// wait on and true, or false when there is no fence or the point has not
// been submitted. A point already signalled and collected resolves to the
// global stub.
func (s *Syncobj) resolveLocked(point uint64) (*Fence, bool) {
	if s.fence == nil {
		return nil, false
	}
	f, ok := findSeqno(s.fence, point)
	if !ok {
		return nil, false
	}
	if f == nil {
		f = s.d.stub
	}
	return f, true
}

// Resolve resolves point without waiting: the fence covering it, the
// global stub if it has signalled and been collected, or ok == false when
// there is no fence or the point has not been submitted.
func (s *Syncobj) Resolve(point uint64) (f *Fence, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolveLocked(point)
}

// Query returns the payload DRM_IOCTL_SYNCOBJ_QUERY reports: 0 unless the
// fence is a chain; with lastSubmitted the head's seqno; otherwise the
// highest point known signalled on the head's context (see queryPayload).
// O(log n) for n pending points.
func (s *Syncobj) Query(lastSubmitted bool) uint64 {
	head := s.Fence()
	if head == nil || head.chain == nil {
		return 0
	}
	if lastSubmitted {
		return head.Seqno()
	}
	return queryPayload(head)
}

// syncobjWaiter is struct syncobj_wait_entry: a task waiting for point to
// become available on a syncobj. fence is captured once, under the
// syncobj's lock, and never changes after.
type syncobjWaiter struct {
	point uint64
	wake  Waiter

	mu    sync.Mutex
	fence *Fence
}

func (w *syncobjWaiter) capture(f *Fence) {
	w.mu.Lock()
	w.fence = f
	w.mu.Unlock()
}

func (w *syncobjWaiter) captured() *Fence {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fence
}

// addWait is drm_syncobj_fence_add_wait: it tries once more under the lock
// and otherwise queues w on the syncobj.
func (s *Syncobj) addWait(w *syncobjWaiter) {
	if w.captured() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.resolveLocked(w.point); ok {
		w.capture(f)
		return
	}
	s.waiters = append(s.waiters, w)
	s.d.live.waiters.Add(1)
}

// removeWait is drm_syncobj_remove_wait.
func (s *Syncobj) removeWait(w *syncobjWaiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			s.waiters = s.waiters[:len(s.waiters):len(s.waiters)]
			s.d.live.waiters.Add(-1)
			return
		}
	}
}

// FindFence resolves point on s, as the second half of
// drm_syncobj_find_fence. Without waitForSubmit a missing fence or
// unsubmitted point is EINVAL. With it, the caller sleeps until a
// replace or add_point makes the point available (0), until
// [WaitForSubmitTimeout] passes (ETIME), or until ctx is done (ERESTARTSYS).
// A point already signalled and collected gives the global stub.
// O(log p) for p pending points, plus the wait.
func (s *Syncobj) FindFence(ctx context.Context, point uint64, waitForSubmit bool) (*Fence, errno.Errno) {
	return s.findFence(ctx, point, waitForSubmit, 0)
}

// findFence is FindFence by a caller holding s as handle, which a wait
// names in its traces.
func (s *Syncobj) findFence(ctx context.Context, point uint64, waitForSubmit bool, handle uint32) (*Fence, errno.Errno) {
	if f, ok := s.Resolve(point); ok {
		return f, 0
	}
	if !waitForSubmit {
		return nil, errno.EINVAL
	}
	w := &syncobjWaiter{point: point, wake: s.d.NewWaiter()}
	s.addWait(w)
	defer s.removeWait(w)
	deadline := s.d.Now() + WaitForSubmitTimeout
	available := func() bool { return w.captured() != nil }
	tr := s.d.tracing()
	if tr != nil && !available() {
		tr.Trace(Trace{Op: TraceWaitBlocked, Syncobj: s.id, Handle: handle, Point: point})
	} else {
		tr = nil
	}
	e := s.d.block(ctx, deadline, w.wake, available)
	if tr != nil {
		woken := Trace{Op: TraceWaitWoken, Errno: e}
		if e == 0 {
			woken.Syncobj, woken.Handle, woken.Point, woken.Fence = s.id, handle, point, w.captured()
		}
		tr.Trace(woken)
	}
	if e != 0 {
		return nil, e
	}
	return w.captured(), 0
}

// eventfdEntry is struct syncobj_eventfd_entry, with what its trace
// names: the syncobj, and the handle and eventfd fd it was registered
// with, and by whom.
type eventfdEntry struct {
	ev        Eventfd
	point     uint64
	flags     uint32
	d         *Domain
	syncobj   uint32
	handle    uint32
	fd        int32
	registrar int32
}

// arm is the second half of syncobj_eventfd_entry_func, once the point is
// available: with WAIT_AVAILABLE signal now; otherwise signal when f does
// (at once if it already has). The registration fires at most once.
func (ev *eventfdEntry) arm(f *Fence) {
	if ev.flags&DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE != 0 {
		ev.fire(f)
		return
	}
	if _, ok := f.AddCallback(func(*Fence) { ev.fire(f) }); !ok {
		ev.fire(f)
	}
}

func (ev *eventfdEntry) fire(f *Fence) {
	if ev.d != nil {
		if tr := ev.d.tracing(); tr != nil {
			tr.Trace(Trace{Op: TraceEventfd, Eventfd: ev.ev, FD: ev.fd, Registrar: ev.registrar, Syncobj: ev.syncobj,
				Handle: ev.handle, Point: ev.point, Fence: f})
		}
	}
	ev.ev.Signal(1)
	ev.free()
}

// free drops the registration's hold on the eventfd.
func (ev *eventfdEntry) free() { ev.ev.DecRef() }

// addEventfd is drm_syncobj_add_eventfd: queue the entry and evaluate it.
func (s *Syncobj) addEventfd(ev *eventfdEntry) {
	s.mu.Lock()
	f, ok := s.resolveLocked(ev.point)
	if !ok {
		s.eventfds = append(s.eventfds, ev)
		s.d.live.eventfds.Add(1)
	}
	s.mu.Unlock()
	if ok {
		ev.arm(f)
	}
}

// SyncobjFile is the file behind a syncobj fd (anon inode "syncobj_file"):
// it holds one reference to the syncobj, dropped when the file is released.
type SyncobjFile struct {
	s    *Syncobj
	refs atomic.Int32
}

// NewSyncobjFile returns a file with one reference that holds a new
// reference to s.
func NewSyncobjFile(s *Syncobj) *SyncobjFile {
	s.Get()
	f := &SyncobjFile{s: s}
	f.refs.Store(1)
	return f
}

// Syncobj returns the syncobj the file refers to.
func (f *SyncobjFile) Syncobj() *Syncobj { return f.s }

// IncRef implements [File].
func (f *SyncobjFile) IncRef() { f.refs.Add(1) }

// DecRef implements [File]; the last reference drops the syncobj's.
func (f *SyncobjFile) DecRef() {
	switch n := f.refs.Add(-1); {
	case n == 0:
		f.s.Put()
	case n < 0:
		panic("fence: SyncobjFile reference count below zero")
	}
}
