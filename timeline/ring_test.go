package timeline

import (
	"sync"
	"testing"
)

func times(evs []Event) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.Time)
	}
	return out
}

func equalTimes(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRingKeepsTheNewest(t *testing.T) {
	r := NewRing(3)
	for i := range 2 {
		r.Emit(Event{Time: int64(i), Kind: Vblank})
	}
	if got := r.Events(); !equalTimes(times(got), []int64{0, 1}) {
		t.Errorf("Events under capacity = %v; want [0 1]", times(got))
	}
	for i := 2; i < 7; i++ {
		r.Emit(Event{Time: int64(i), Kind: Vblank})
	}
	got := r.Events()
	if len(got) != 4 || got[0] != (Event{Time: 3, Kind: Dropped, Count: 4}) || !equalTimes(times(got[1:]), []int64{4, 5, 6}) {
		t.Errorf("Events after overflow = %+v; want a Dropped of 4 at time 3, then 4 5 6", got)
	}
	if n, c := r.Len(), r.Cap(); n != 3 || c != 3 {
		t.Errorf("Len, Cap = %d, %d; want 3, 3", n, c)
	}
	if e, d := r.Stats(); e != 7 || d != 4 {
		t.Errorf("Stats = %d, %d; want 7, 4", e, d)
	}
	// Events does not consume.
	if again := r.Events(); len(again) != 4 {
		t.Errorf("second Events = %d events; want 4", len(again))
	}
}

func TestRingDrain(t *testing.T) {
	r := NewRing(2)
	for i := range 5 {
		r.Emit(Event{Time: int64(i), Kind: Vblank})
	}
	got := r.Drain(nil)
	if len(got) != 3 || got[0].Kind != Dropped || got[0].Count != 3 || got[0].Time != 2 {
		t.Fatalf("Drain = %+v; want Dropped{3 at 2}, 3, 4", got)
	}
	if r.Len() != 0 || len(r.Drain(nil)) != 0 {
		t.Error("the ring is not empty after Drain")
	}
	// Drops after a drain are reported once, at the next drain.
	r.Emit(Event{Time: 10, Kind: Vblank})
	got = r.Drain(got[:0])
	if len(got) != 1 || got[0].Time != 10 {
		t.Errorf("Drain after Drain = %+v; want the one event", got)
	}
	for i := 20; i < 25; i++ {
		r.Emit(Event{Time: int64(i), Kind: Vblank})
	}
	got = r.Drain(nil)
	if len(got) != 3 || got[0].Count != 3 || !equalTimes(times(got[1:]), []int64{23, 24}) {
		t.Errorf("Drain = %+v; want Dropped{3}, 23, 24", got)
	}
	if e, d := r.Stats(); e != 11 || d != 6 {
		t.Errorf("Stats = %d, %d; want 11, 6", e, d)
	}
}

func TestRingZeroValue(t *testing.T) {
	var r Ring
	if r.Cap() != DefaultCapacity || NewRing(-1).Cap() != DefaultCapacity {
		t.Errorf("zero Ring capacity = %d; want %d", r.Cap(), DefaultCapacity)
	}
	for i := range DefaultCapacity + 1 {
		r.Emit(Event{Time: int64(i), Kind: Vblank})
	}
	got := r.Events()
	if len(got) != DefaultCapacity+1 || got[0].Kind != Dropped || got[1].Time != 1 {
		t.Errorf("zero Ring after overflow: %d events, first %+v", len(got), got[0])
	}
	if c := cap(r.buf); c != DefaultCapacity {
		t.Errorf("the ring allocated room for %d events; want %d", c, DefaultCapacity)
	}
	var s Sink = &r // a Ring is a Sink
	_ = s
}

// A streamer draining while the machine emits sees every event once, or
// counted in a Dropped event, in order.
func TestRingConcurrentDrain(t *testing.T) {
	r := NewRing(64)
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			r.Emit(Event{Time: int64(i), Kind: Vblank})
		}
	}()
	var seen, lost uint64
	next := int64(0)
	drain := func() {
		for _, e := range r.Drain(nil) {
			if e.Kind == Dropped {
				lost += e.Count
				next += int64(e.Count)
				continue
			}
			if e.Time != next {
				t.Fatalf("got event %d; want %d", e.Time, next)
			}
			next++
			seen++
		}
	}
	for {
		drain()
		if seen+lost == n {
			break
		}
	}
	wg.Wait()
	if _, d := r.Stats(); d != lost {
		t.Errorf("Stats dropped = %d; the Dropped events counted %d", d, lost)
	}
}
