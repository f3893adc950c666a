package fence

import (
	"container/heap"
	"math"
	"sync"
)

// Forever is a deadline that never passes: a wait with it blocks until its
// condition holds or it is interrupted.
const Forever int64 = math.MaxInt64

// Clock is the time source of a [Domain]: CLOCK_MONOTONIC in nanoseconds.
// fence never reads the wall clock; the machine supplies a virtual clock, and
// tests supply a [ManualClock] or a clock running inside a synctest bubble.
//
// Implementations must be safe for concurrent use. AfterFunc must not call f
// synchronously from within AfterFunc itself, even when when ≤ Now().
type Clock interface {
	// Now returns the current time in nanoseconds.
	Now() int64
	// AfterFunc arranges for f to run, on some goroutine, once the clock
	// reaches when. The returned stop function cancels the call and reports
	// whether it did so before f started.
	AfterFunc(when int64, f func()) (stop func() bool)
}

// ManualClock is a deterministic [Clock] that moves only when told to. Timers
// due at the same instant fire in the order they were set. The zero value is
// a clock at time 0, ready to use.
type ManualClock struct {
	mu     sync.Mutex
	now    int64
	seq    uint64
	timers timerHeap
}

// NewManualClock returns a clock that reads start.
func NewManualClock(start int64) *ManualClock { return &ManualClock{now: start} }

// Now implements [Clock.Now].
func (c *ManualClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements [Clock.AfterFunc]. A timer due at or before Now fires
// on the next [ManualClock.Advance] or [ManualClock.AdvanceTo], never inside
// AfterFunc.
func (c *ManualClock) AfterFunc(when int64, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{when: when, seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.index < 0 {
			return false
		}
		heap.Remove(&c.timers, t.index)
		return true
	}
}

// Advance moves the clock forward by d nanoseconds (d < 0 is treated as 0),
// firing due timers in order. See [ManualClock.AdvanceTo].
func (c *ManualClock) Advance(d int64) {
	c.mu.Lock()
	to := c.now
	if d > 0 {
		if to > math.MaxInt64-d {
			to = math.MaxInt64
		} else {
			to += d
		}
	}
	c.mu.Unlock()
	c.AdvanceTo(to)
}

// AdvanceTo moves the clock to t (never backwards). Each due timer fires with
// the clock reading its own due time, earliest first, on the calling
// goroutine and without the clock's lock held, so a timer may set new
// timers; those fire too if they fall due by t.
func (c *ManualClock) AdvanceTo(t int64) {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when > t {
			if t > c.now {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		tm := heap.Pop(&c.timers).(*manualTimer)
		if tm.when > c.now {
			c.now = tm.when
		}
		c.mu.Unlock()
		tm.f()
	}
}

// Pending reports how many timers are set and not yet fired or stopped.
// Tests use it to know that a waiter has armed its deadline.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextDeadline reports the earliest pending timer's due time.
func (c *ManualClock) NextDeadline() (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0, false
	}
	return c.timers[0].when, true
}

type manualTimer struct {
	when  int64
	seq   uint64
	f     func()
	index int
}

type timerHeap []*manualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*manualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
