// Package fence models the Linux dma-fence family and DRM sync objects:
// fences and their contexts, fence chains (timeline points), fence arrays,
// unwrap and merge, sync_file, sw_sync timelines, syncobjs with every ioctl of
// drivers/gpu/drm/drm_syncobj.c, and waits with absolute deadlines against an
// injected clock.
//
// The semantics are Linux 6.12's, down to the errno of each failure and the
// order in which arguments are checked; each exported name says which kernel
// function it mirrors. Where fencelab is faster than the kernel (timeline
// queries are logarithmic rather than linear in the number of pending
// points), it returns the same answers; the package tests hold it to that.
//
// # Concurrency
//
// Everything here is safe for concurrent use. A fence's state is one-way
// (pending → signalled); callbacks run in registration order on the
// goroutine that signals, after the fence's lock is dropped, so a callback
// may call back into this package. Blocking calls take a [context.Context]
// whose cancellation stands for a pending signal: they return
// [errno.ERESTARTSYS], as the kernel's interruptible waits do. A nil
// context is never interrupted.
//
// # Time
//
// No code here reads the wall clock. Timestamps and deadlines come from the
// [Clock] of the fence's [Domain]: CLOCK_MONOTONIC nanoseconds, virtual in a
// machine, manual or synctest-driven in tests.
package fence

import (
	"context"
	"sync"
	"sync/atomic"

	"fencelab/errno"
)

type kind uint8

const (
	kindPlain kind = iota
	kindChain
	kindArray
)

const (
	statePending uint32 = iota
	stateSignaled
)

// Fence is a dma_fence: a one-shot completion event identified by a fence
// context and a sequence number within it. A fence is plain (made by a
// driver, sw_sync or a stub), a chain node (a timeline point, see
// [Syncobj.AddPoint]) or an array (the result of a merge).
//
// The zero Fence is not usable; fences come from [Domain.NewFence], the
// stubs, chains, merges and sw_sync. Fences must not be copied.
type Fence struct {
	d        *Domain
	context  uint64
	seqno    atomic.Uint64
	kind     kind
	seqno64  bool // 64-bit seqno compare (chain nodes); else the legacy 32-bit wrap-around compare
	driver   string
	timeline string

	state atomic.Uint32 // statePending → stateSignaled, once

	// mu guards the fields below it.
	mu      sync.Mutex
	err     errno.Errno // set before signalling; 0 = OK
	ts      int64       // signal timestamp; valid once signalled
	cbs     cbList
	enabled bool // chain: its internal callback is armed

	chain *chainPart
	array *arrayPart
	sw    *swPoint // sw_sync points only
}

// NewFence returns a pending plain fence on context with sequence number
// seqno, as dma_fence_init does. driver and timeline are the names a
// sync_file reports for it (for virtio-gpu: "virtio_gpu", "controlq"). The
// fence uses the legacy 32-bit seqno comparison, as every fence but a chain
// node does.
func (d *Domain) NewFence(context, seqno uint64, driver, timeline string) *Fence {
	f := &Fence{d: d, context: context, kind: kindPlain, driver: driver, timeline: timeline}
	f.seqno.Store(seqno)
	return f
}

// Domain returns the domain f belongs to.
func (f *Fence) Domain() *Domain { return f.d }

// Context returns f's fence context.
func (f *Fence) Context() uint64 { return f.context }

// Seqno returns f's sequence number within its context.
func (f *Fence) Seqno() uint64 { return f.seqno.Load() }

// SetSeqno sets the sequence number of a plain fence before it is published,
// as virtio-gpu does when it emits a fence into the virtqueue (its seqno is
// the device-wide fence id, unknown until then). It panics for a chain node
// or an array, whose seqnos are fixed.
func (f *Fence) SetSeqno(seqno uint64) {
	if f.kind != kindPlain {
		panic("fence: SetSeqno on a container fence")
	}
	f.seqno.Store(seqno)
}

// DriverName returns the name of the driver that made f
// (dma_fence_ops.get_driver_name).
func (f *Fence) DriverName() string { return f.driver }

// TimelineName returns the name of f's timeline
// (dma_fence_ops.get_timeline_name).
func (f *Fence) TimelineName() string { return f.timeline }

// IsChain reports whether f is a fence-chain node (to_dma_fence_chain != NULL).
func (f *Fence) IsChain() bool { return f.kind == kindChain }

// IsArray reports whether f is a fence array (to_dma_fence_array != NULL).
func (f *Fence) IsArray() bool { return f.kind == kindArray }

// Signal signals f with no error at the current time and runs its callbacks,
// as dma_fence_signal does. It returns false, changing nothing, if f was
// already signalled (the kernel's -EINVAL). It panics for a chain node or an
// array, which signal only through their members. O(c) for c callbacks.
func (f *Fence) Signal() bool { return f.SignalError(0) }

// SignalError sets f's error to e and signals it, as dma_fence_set_error
// followed by dma_fence_signal. With e == 0 it is [Fence.Signal].
func (f *Fence) SignalError(e errno.Errno) bool {
	if f.kind != kindPlain {
		panic("fence: Signal on a container fence")
	}
	return f.signal(e, f.d.Now())
}

// signal performs the one-way transition and runs the callbacks outside the
// lock, in registration order, each at most once.
func (f *Fence) signal(e errno.Errno, ts int64) bool {
	f.mu.Lock()
	if f.state.Load() == stateSignaled {
		f.mu.Unlock()
		return false
	}
	f.err = e
	f.ts = ts
	f.state.Store(stateSignaled)
	cbs := f.cbs.takeAll()
	f.mu.Unlock()
	for cb := cbs; cb != nil; {
		next := cb.next
		cb.next = nil
		f.d.live.callbacks.Add(-1)
		cb.fn(f)
		cb = next
	}
	return true
}

// IsSignaled reports whether f has signalled, as dma_fence_is_signaled. For
// a chain node it checks, and if so records, completion of everything the
// node depends on (dma_fence_chain_signaled); that check walks the chain
// and unlinks signalled nodes, amortised O(1) per node over the chain's
// life.
func (f *Fence) IsSignaled() bool {
	if f.state.Load() == stateSignaled {
		return true
	}
	if f.kind == kindChain && f.chainComplete() {
		f.signal(0, f.d.Now())
		return true
	}
	return false
}

// Status returns 0 while f is pending, 1 once signalled without error, or
// the negated error, as dma_fence_get_status.
func (f *Fence) Status() int32 {
	if !f.IsSignaled() {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != 0 {
		return f.err.Neg()
	}
	return 1
}

// Error returns the error f signalled with, or 0 (also while pending).
func (f *Fence) Error() errno.Errno {
	if f.state.Load() != stateSignaled {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Timestamp returns when f signalled and true, or 0 and false while it is
// pending (dma_fence_timestamp).
func (f *Fence) Timestamp() (int64, bool) {
	if !f.IsSignaled() {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ts, true
}

// IsLater reports whether a is later than b on their common context, as
// dma_fence_is_later: a plain 64-bit compare for chain nodes, the legacy
// 32-bit wrap-around compare for every other fence. Fences of different
// contexts are not ordered; IsLater returns false for them (the kernel warns).
func IsLater(a, b *Fence) bool {
	if a.context != b.context {
		return false
	}
	return seqnoLater(a.Seqno(), b.Seqno(), a.seqno64)
}

// IsLaterOrSame is [IsLater] or the same fence (dma_fence_is_later_or_same).
func IsLaterOrSame(a, b *Fence) bool { return a == b || IsLater(a, b) }

// seqnoLater is __dma_fence_is_later.
func seqnoLater(a, b uint64, is64 bool) bool {
	if is64 {
		return a > b
	}
	return int32(uint32(a)-uint32(b)) > 0
}

// Callback is a registration made by [Fence.AddCallback].
type Callback struct {
	f          *Fence
	fn         func(*Fence)
	prev, next *Callback
}

// AddCallback arranges for fn to run once f signals, on the signalling
// goroutine, and returns the registration and true. If f has already
// signalled it returns nil and false and fn never runs, as
// dma_fence_add_callback returns -ENOENT. For a chain node this enables
// signalling: the node arms itself on the first fence it still waits for.
// O(1), amortised over the chain for a chain node.
func (f *Fence) AddCallback(fn func(*Fence)) (*Callback, bool) {
	if f.IsSignaled() {
		return nil, false
	}
	if f.kind == kindChain && !f.chainEnable() {
		return nil, false
	}
	cb := &Callback{f: f, fn: fn}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state.Load() == stateSignaled {
		return nil, false
	}
	f.cbs.pushBack(cb)
	f.d.live.callbacks.Add(1)
	return cb, true
}

// Remove unregisters cb and reports whether it was still registered, as
// dma_fence_remove_callback. After Remove returns, fn is not running and
// will not run, unless Remove returned false because f signalled first. O(1).
func (cb *Callback) Remove() bool {
	if cb == nil {
		return false
	}
	f := cb.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cbs.remove(cb) {
		return false
	}
	f.d.live.callbacks.Add(-1)
	return true
}

// Wait blocks until f signals (0, whatever its error), the absolute
// deadline passes (ETIME), or ctx is done (ERESTARTSYS), as an
// interruptible dma_fence_wait_timeout. A deadline at or before now polls.
func (f *Fence) Wait(ctx context.Context, deadline int64) errno.Errno {
	if f.IsSignaled() {
		return 0
	}
	w := f.d.NewWaiter()
	cb, _ := f.AddCallback(func(*Fence) { w.Kick() })
	defer cb.Remove()
	return f.d.block(ctx, deadline, w, f.IsSignaled)
}

// Waiter is one blocked call's doorbell. Every blocking wait in fencelab's
// kernel (fence and syncobj waits, and the driver's) parks on a Waiter
// from its Domain, so that a machine can decide how waiting happens: by
// default a goroutine sleeps on a channel; a machine whose scheduler runs
// one actor at a time installs waiters that hand control back to it
// ([Domain.SetBlocker]).
type Waiter interface {
	// Kick wakes the waiter. A kick before or during a Wait is not lost;
	// several coalesce. Safe from any goroutine; never blocks.
	Kick()
	// Wait returns after a Kick (one not yet consumed), once ctx is done,
	// or once the clock reaches deadline ([Forever]: never). It may return
	// early; callers recheck their condition.
	Wait(ctx context.Context, deadline int64)
}

// chanWaiter is the default Waiter: a one-slot channel, and a clock timer
// for the deadline.
type chanWaiter struct {
	ch    chan struct{}
	clock Clock
}

func (w *chanWaiter) Kick() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

func (w *chanWaiter) Wait(ctx context.Context, deadline int64) {
	if deadline != Forever {
		stop := w.clock.AfterFunc(deadline, w.Kick)
		defer stop()
	}
	var interrupted <-chan struct{}
	if ctx != nil {
		interrupted = ctx.Done()
	}
	select {
	case <-w.ch:
	case <-interrupted:
	}
}

// block waits on w until done reports true (0), the deadline passes (ETIME)
// or ctx is done (ERESTARTSYS), checking in that order after every wake, as
// the kernel's wait loops check the condition, then the timeout, then
// signal_pending. done must be cheap and safe to call repeatedly.
func (d *Domain) block(ctx context.Context, deadline int64, w Waiter, done func() bool) errno.Errno {
	if done() {
		return 0
	}
	if deadline <= d.Now() {
		return errno.ETIME
	}
	for {
		w.Wait(ctx, deadline)
		if done() {
			return 0
		}
		if deadline <= d.Now() {
			return errno.ETIME
		}
		if ctx != nil && ctx.Err() != nil {
			return errno.ERESTARTSYS
		}
	}
}

// cbList is an intrusive doubly-linked FIFO of callbacks.
type cbList struct{ head, tail *Callback }

func (l *cbList) pushBack(cb *Callback) {
	cb.prev = l.tail
	if l.tail != nil {
		l.tail.next = cb
	} else {
		l.head = cb
	}
	l.tail = cb
}

// remove unlinks cb if it is on l. A callback is on l iff it is the head or
// has a prev pointer; takeAll clears both for the callbacks it takes.
func (l *cbList) remove(cb *Callback) bool {
	if cb.prev == nil && l.head != cb {
		return false
	}
	if cb.prev != nil {
		cb.prev.next = cb.next
	} else {
		l.head = cb.next
	}
	if cb.next != nil {
		cb.next.prev = cb.prev
	} else {
		l.tail = cb.prev
	}
	cb.prev, cb.next = nil, nil
	return true
}

// takeAll empties l and returns its callbacks as a singly-linked list
// through next, in registration order.
func (l *cbList) takeAll() *Callback {
	h := l.head
	for cb := h; cb != nil; cb = cb.next {
		cb.prev = nil
	}
	l.head, l.tail = nil, nil
	return h
}
