package fence

import (
	"sync/atomic"
)

// Domain is one kernel's worth of fence state: the clock every timestamp and
// deadline is read from, the fence-context allocator, the global signalled
// stub, and counters of live objects. Every fence, syncobj, sync_file and
// sw_sync timeline belongs to exactly one Domain; objects of different
// domains must not be mixed.
//
// Linux has a single, system-wide context counter (dma_fence_context_alloc).
// fencelab gives each machine its own, so that two machines in one process
// (tests, a browser tab that resets) number their contexts identically and
// their timelines stay byte-for-byte reproducible. See RATIONALE.md.
//
// A Domain is safe for concurrent use. Create one with [NewDomain].
type Domain struct {
	clock       Clock
	nextContext atomic.Uint64
	stub        *Fence
	blocker     atomic.Pointer[func() Waiter]
	tracer      atomic.Pointer[Tracer]
	nextSyncobj atomic.Uint32 // the last syncobj id handed out

	live liveCounters
}

// NewDomain returns a domain reading time from clock. Its first allocated
// context is 1; context 0 belongs to stub fences.
func NewDomain(clock Clock) *Domain {
	if clock == nil {
		panic("fence: NewDomain with a nil Clock")
	}
	d := &Domain{clock: clock}
	d.nextContext.Store(1)
	// The global stub (dma_fence_get_stub) is signalled at creation, as the
	// kernel initialises it; its timestamp is the domain's birth.
	d.stub = d.newStub(clock.Now())
	return d
}

// SetBlocker makes newWaiter the source of every Waiter the domain hands
// out from now on (nil restores the default, a goroutine sleeping on a
// channel). A machine sets it once, before anything waits.
func (d *Domain) SetBlocker(newWaiter func() Waiter) {
	if newWaiter == nil {
		d.blocker.Store(nil)
		return
	}
	d.blocker.Store(&newWaiter)
}

// NewChannelWaiter returns the default Waiter: a goroutine sleeping on a
// channel, with deadlines read from clock (which may be nil for a waiter
// only ever asked to wait Forever).
func NewChannelWaiter(clock Clock) Waiter {
	return &chanWaiter{ch: make(chan struct{}, 1), clock: clock}
}

// NewWaiter returns a Waiter for one blocking call.
func (d *Domain) NewWaiter() Waiter {
	if b := d.blocker.Load(); b != nil {
		return (*b)()
	}
	return NewChannelWaiter(d.clock)
}

// Clock returns the domain's clock.
func (d *Domain) Clock() Clock { return d.clock }

// Now returns the domain clock's current time in nanoseconds.
func (d *Domain) Now() int64 { return d.clock.Now() }

// AllocContexts reserves n consecutive fence contexts and returns the first,
// as dma_fence_context_alloc does. It panics if n is 0.
func (d *Domain) AllocContexts(n uint32) uint64 {
	if n == 0 {
		panic("fence: AllocContexts(0)")
	}
	return d.nextContext.Add(uint64(n)) - uint64(n)
}

// Stub returns the domain's global, always-signalled stub fence (context 0,
// seqno 0), as dma_fence_get_stub does.
func (d *Domain) Stub() *Fence { return d.stub }

// NewStub returns a new, already-signalled private stub fence (context 0,
// seqno 0) whose timestamp is ts, as dma_fence_allocate_private_stub does.
// Syncobj CREATE(SIGNALED), SIGNAL and TIMELINE_SIGNAL use one stamped with
// the current time; a merge of signalled fences uses the latest timestamp.
func (d *Domain) NewStub(ts int64) *Fence { return d.newStub(ts) }

func (d *Domain) newStub(ts int64) *Fence {
	f := &Fence{d: d, driver: "stub", timeline: "stub", kind: kindPlain}
	f.state.Store(stateSignaled)
	f.ts = ts
	return f
}

// Live is a snapshot of the objects of a [Domain] that hold resources and
// must all be released by an orderly teardown. Tests assert that it returns
// to zero.
type Live struct {
	Syncobjs   int64 // syncobjs with at least one reference
	SyncFiles  int64 // sync_file objects not yet released
	Timelines  int64 // sw_sync timelines not yet released
	Callbacks  int64 // callbacks registered on pending fences
	Waiters    int64 // syncobj waiters (WAIT_FOR_SUBMIT / AVAILABLE, find_fence)
	EventfdReg int64 // eventfd registrations still attached to a syncobj
}

// Zero reports whether every counter is zero.
func (l Live) Zero() bool { return l == Live{} }

type liveCounters struct {
	syncobjs, syncFiles, timelines, callbacks, waiters, eventfds atomic.Int64
}

// Live returns a snapshot of the domain's live-object counters.
func (d *Domain) Live() Live {
	return Live{
		Syncobjs:   d.live.syncobjs.Load(),
		SyncFiles:  d.live.syncFiles.Load(),
		Timelines:  d.live.timelines.Load(),
		Callbacks:  d.live.callbacks.Load(),
		Waiters:    d.live.waiters.Load(),
		EventfdReg: d.live.eventfds.Load(),
	}
}
