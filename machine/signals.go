package machine

import (
	"context"
)

// signals is a WebAssembly process's signal timer: the guest ABI's
// sigtimer, fencelab's stand-in for the interval timer and empty signal
// handler IGT's igt_while_interruptible sets up. Every interval of
// virtual time a signal is delivered; one that finds the process asleep
// in an interruptible system call ends that call with EINTR (Linux's
// ERESTARTSYS reaching a handler installed without SA_RESTART). A signal
// that finds it running changes nothing, as a handler that returns
// would not. Delivery happens on the machine's loop, between steps, so
// it is as deterministic as everything else.
type signals struct {
	p         *Process
	cancel    context.CancelFunc // ends the task's current Ctx: the call in progress
	interval  int64
	next      int64 // when the next signal is due; 0: no timer
	delivered int32
}

// SetTimer implements guest.Signals: signals every intervalNS from now
// (0 stops them); it returns how many were delivered so far.
func (s *signals) SetTimer(intervalNS int64) int32 {
	s.interval, s.next = intervalNS, 0
	if intervalNS > 0 {
		s.next = s.p.m.clock.Now() + intervalNS
	}
	return s.delivered
}

// EnterCall implements guest.Signals: a signal that ended a call, or
// came while the process slept in nanosleep (which is not cut short),
// leaves the task's context done; each call starts with a fresh one, so
// only a signal during the call interrupts it.
func (s *signals) EnterCall() {
	if s.p.task.Ctx.Err() != nil && !s.p.m.closed {
		s.p.task.Ctx, s.cancel = context.WithCancel(context.Background())
	}
}

// deliver sends the signal due at now and sets the next. Expirations
// the process slept through (it was running) coalesce into this one, as
// a pending signal does.
func (s *signals) deliver(now int64) {
	s.delivered++
	s.next += s.interval
	if s.next <= now {
		s.next = now + s.interval
	}
	sc := s.p.m.s
	sc.mu.Lock()
	w := s.p.a.parked
	sc.mu.Unlock()
	if w != nil {
		s.cancel()
		w.Kick() // now, not from context.AfterFunc's goroutine
	}
}

// nextSignal is the earliest signal due among the live processes.
func (m *Machine) nextSignal() (int64, bool) {
	var t int64
	ok := false
	for _, p := range m.procs {
		if s := p.sig; s != nil && s.next > 0 && !p.done && (!ok || s.next < t) {
			t, ok = s.next, true
		}
	}
	return t, ok
}

// deliverSignals delivers every signal due at or before now, in spawn
// order.
func (m *Machine) deliverSignals(now int64) {
	for _, p := range m.procs {
		if s := p.sig; s != nil && s.next > 0 && s.next <= now && !p.done {
			s.deliver(now)
		}
	}
}
