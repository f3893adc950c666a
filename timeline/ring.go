package timeline

import "sync"

// DefaultCapacity is the capacity of a [Ring] made with a capacity of 0,
// and of the zero Ring: 1<<16 events, 11 MiB.
const DefaultCapacity = 1 << 16

// Ring is a bounded [Sink] for long runs: it keeps the newest events up to
// its capacity, and when a new event finds it full it drops the oldest one.
// Drops are not silent: a reader ([Ring.Events], [Ring.Drain]) gets a
// [Dropped] event first, counting the events lost since the last drain and
// stamped with the time of the newest of them, exactly where the gap is.
//
// Memory grows with use up to the capacity, never beyond. The zero Ring
// has [DefaultCapacity]. A Ring is safe for concurrent use: the machine
// emits into it while a streamer drains it. A Ring must not be copied
// after first use.
type Ring struct {
	mu       sync.Mutex
	capacity int
	buf      []Event // grows by append to capacity, then wraps
	head     int     // index of the oldest event once buf is full
	lost     uint64  // dropped since the last Drain
	lostTime int64   // Time of the newest event dropped since the last Drain
	emitted  uint64  // events ever emitted
	dropped  uint64  // events ever dropped
}

// NewRing returns an empty Ring holding at most capacity events (0 or less:
// [DefaultCapacity]).
func NewRing(capacity int) *Ring {
	return &Ring{capacity: capacity}
}

func (r *Ring) capLocked() int {
	if r.capacity <= 0 {
		return DefaultCapacity
	}
	return r.capacity
}

// Emit implements [Sink].
func (r *Ring) Emit(e Event) {
	r.mu.Lock()
	r.emitted++
	if c := r.capLocked(); len(r.buf) < c {
		if len(r.buf) == cap(r.buf) { // grow, but never past the capacity
			nb := make([]Event, len(r.buf), min(max(2*len(r.buf), 64), c))
			copy(nb, r.buf)
			r.buf = nb
		}
		r.buf = append(r.buf, e)
		r.mu.Unlock()
		return
	}
	old := &r.buf[r.head]
	r.lost++
	r.dropped++
	r.lostTime = old.Time
	*old = e
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.mu.Unlock()
}

// Len returns how many events the ring holds (not counting a [Dropped]
// notice).
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

// Cap returns the ring's capacity.
func (r *Ring) Cap() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.capLocked()
}

// Stats returns how many events were ever emitted into the ring and how
// many of them it dropped.
func (r *Ring) Stats() (emitted, dropped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emitted, r.dropped
}

// Events returns a copy of what the ring holds, oldest first, preceded by
// a [Dropped] event if any were lost since the last [Ring.Drain]. The ring
// is unchanged.
func (r *Ring) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.appendLocked(make([]Event, 0, len(r.buf)+1))
}

// Drain appends what the ring holds to dst, as [Ring.Events] returns it,
// empties the ring and returns the extended slice. Successive drains see
// every event exactly once, or a [Dropped] event in place of those lost.
func (r *Ring) Drain(dst []Event) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	dst = r.appendLocked(dst)
	r.buf = r.buf[:0]
	r.head = 0
	r.lost = 0
	r.lostTime = 0
	return dst
}

func (r *Ring) appendLocked(dst []Event) []Event {
	if r.lost > 0 {
		dst = append(dst, Event{Time: r.lostTime, Kind: Dropped, Count: r.lost})
	}
	dst = append(dst, r.buf[r.head:]...)
	return append(dst, r.buf[:r.head]...)
}
