package machine

import (
	"context"
	"sync"

	"fencelab/drm"
	"fencelab/fence"
)

// The scheduler runs a machine's actors one at a time. An actor is a
// guest process: its code runs on a goroutine of its own, but only while
// it holds the baton, which the scheduler hands to one runnable actor at
// a time and gets back when that actor blocks or exits. Every blocking
// call in the guest kernel parks on a fence.Waiter (fence.Domain's
// NewWaiter); the machine's waiters park the calling actor and make it
// runnable again when kicked. Kicks happen on the goroutine that holds
// the baton (an actor, or the scheduler while it advances time), so the
// order in which actors become runnable, and therefore run, is a function
// of the machine's inputs alone.

// actor is one guest process as the scheduler sees it.
type actor struct {
	name string
	task *drm.Task // its kernel task; nil for the machine's own

	watchdog func()        // stops the actor when it runs too long (WebAssembly guests)
	refill   func()        // gives it its loop budget again when it resumes (WebAssembly guests)
	run      chan struct{} // the baton, handed to this actor
	exited   bool
	parked   *waiter // the waiter it sleeps on, while parked
}

type sched struct {
	clock fence.Clock

	// mu guards runnable, current and every waiter's state.
	mu       sync.Mutex
	runnable []*actor
	current  *actor
	all      []*actor      // every actor started
	back     chan struct{} // the baton, handed back to the scheduler
}

func newSched(clock fence.Clock) *sched {
	return &sched{clock: clock, back: make(chan struct{})}
}

// start makes an actor for fn and queues it; fn runs when first resumed,
// and its return ends the actor.
func (s *sched) start(name string, task *drm.Task, fn func()) *actor {
	a := &actor{name: name, task: task, run: make(chan struct{})}
	s.mu.Lock()
	s.runnable = append(s.runnable, a)
	s.all = append(s.all, a)
	s.mu.Unlock()
	go func() {
		<-a.run
		defer func() {
			s.mu.Lock()
			a.exited = true
			s.mu.Unlock()
			s.back <- struct{}{}
		}()
		fn()
	}()
	return a
}

// next pops the first runnable actor, or nil.
func (s *sched) next() *actor {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.runnable) == 0 {
		return nil
	}
	a := s.runnable[0]
	s.runnable = s.runnable[1:]
	return a
}

// resume runs a until it parks or exits.
func (s *sched) resume(a *actor) {
	s.mu.Lock()
	s.current = a
	s.mu.Unlock()
	a.run <- struct{}{}
	<-s.back
	s.mu.Lock()
	s.current = nil
	s.mu.Unlock()
}

// currentTask is the task of the actor holding the baton: nil between
// actors, when the clock and the device run, and for the machine's own.
func (s *sched) currentTask() *drm.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	return s.current.task
}

// isCurrent reports whether a holds the baton.
func (s *sched) isCurrent(a *actor) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current == a
}

// newWaiter is the machine's fence.Domain blocker. A call that blocks
// outside any actor (the machine setting itself up) sleeps on a channel
// as it would anywhere else.
func (s *sched) newWaiter() fence.Waiter {
	s.mu.Lock()
	a := s.current
	s.mu.Unlock()
	if a == nil {
		return fence.NewChannelWaiter(s.clock)
	}
	return &waiter{s: s}
}

// waiter parks the actor that waits on it.
type waiter struct {
	s      *sched
	owner  *actor // the actor parked on it, while parked
	kicked bool
}

// Kick implements fence.Waiter: the parked actor becomes runnable, at the
// back of the queue; a kick before the wait is kept for it.
func (w *waiter) Kick() {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.kicked {
		return
	}
	w.kicked = true
	if a := w.owner; a != nil && a.parked == w {
		a.parked = nil
		s.runnable = append(s.runnable, a)
	}
}

// Wait implements fence.Waiter: it parks the calling actor (the one
// holding the baton) until a kick, the deadline on the machine's clock,
// or ctx's end.
func (w *waiter) Wait(ctx context.Context, deadline int64) {
	s := w.s
	s.mu.Lock()
	a := s.current
	// An interrupted call returns at once: parking would leave its wake-up
	// to context.AfterFunc's goroutine, at a moment of the host's choosing.
	if w.kicked || a == nil || (ctx != nil && ctx.Err() != nil) {
		w.kicked = false
		s.mu.Unlock()
		return
	}
	w.owner, a.parked = a, w
	s.mu.Unlock()
	if deadline != fence.Forever {
		stop := s.clock.AfterFunc(deadline, w.Kick)
		defer stop()
	}
	if ctx != nil {
		stop := context.AfterFunc(ctx, w.Kick)
		defer stop()
	}
	// Hand the baton back and sleep until the scheduler resumes us.
	s.back <- struct{}{}
	<-a.run
	s.mu.Lock()
	w.kicked, w.owner = false, nil
	s.mu.Unlock()
	if a.refill != nil { // it blocked: it may loop as long again
		a.refill()
	}
}

// wakeAll makes every parked actor runnable (for Machine.Close).
func (s *sched) wakeAll() {
	s.mu.Lock()
	var ws []*waiter
	for _, a := range s.all {
		if a.parked != nil {
			ws = append(ws, a.parked)
		}
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.Kick()
	}
}

// blocked lists the actors parked with nothing due to wake them.
func (s *sched) blocked(all []*actor) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, a := range all {
		if !a.exited && a.parked != nil {
			names = append(names, a.name)
		}
	}
	return names
}
