package fence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fencelab/errno"
)

// TestHammer runs signallers, waiters, resetters, transferrers and eventfd
// registrations on shared syncobjs at once. Run under -race it checks the
// locking; at the end it checks that every eventfd registration fired
// exactly once (none lost, none twice), that a final wait succeeds, and
// that teardown releases every object.
func TestHammer(t *testing.T) {
	f := newDRMFile(t)
	const (
		nobjs   = 8
		workers = 12
		rounds  = 1500
	)
	handles := make([]uint32, nobjs)
	for i := range handles {
		handles[i] = f.mustCreate(0)
	}
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		errMu    sync.Mutex
		failures []string
		evMu     sync.Mutex
		evs      []*testEventfd
		outcomes [2]atomic.Int64 // waits that succeeded, waits that timed out
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		errMu.Unlock()
	}

	// The clock keeps moving so that finite deadlines expire.
	clockDone := make(chan struct{})
	go func() {
		defer close(clockDone)
		for !stop.Load() {
			f.clock.Advance(ms)
			time.Sleep(10 * time.Microsecond)
		}
	}()

	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			tl := f.d.NewTimeline(fmt.Sprintf("hammer%d", w))
			defer tl.DecRef()
			value := uint32(0)
			for range rounds {
				h := handles[r.IntN(nobjs)]
				s := f.tab.Find(h)
				switch r.IntN(9) {
				case 0, 1: // attach a pending fence, binary or as a point
					value++
					fence := tl.CreateFence(value)
					if r.IntN(2) == 0 {
						s.ReplaceFence(fence)
					} else {
						s.AddPoint(fence, s.Query(true)+1)
					}
				case 2: // signal the next fence of this worker's timeline
					tl.Inc(1)
				case 3:
					if e := f.reset(h); e != 0 {
						fail("Reset(%d) = %v", h, e)
					}
				case 4:
					if e := f.timelineSignal([]uint32{h}, []uint64{s.Query(true) + 1}); e != 0 {
						fail("TimelineSignal(%d) = %v", h, e)
					}
				case 5: // transfer between syncobjs, both directions
					dst := handles[r.IntN(nobjs)]
					e := f.transfer(dst, uint64(r.IntN(2))*(s.Query(true)+1), h, 0, 0)
					if e != 0 && e != errno.EINVAL {
						fail("Transfer = %v", e)
					}
				case 6, 7: // wait on a few syncobjs with a near deadline
					hs := []uint32{h, handles[r.IntN(nobjs)]}
					flags := uint32(DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)
					if r.IntN(2) == 0 {
						flags |= DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
					}
					e, _ := f.wait(hs, f.now()+int64(r.IntN(3))*ms, flags)
					switch e {
					case 0:
						outcomes[0].Add(1)
					case errno.ETIME:
						outcomes[1].Add(1)
					default:
						fail("Wait(%v, %#x) = %v", hs, flags, e)
					}
				case 8: // an eventfd registration on point 0
					ev := newTestEventfd()
					fd := f.fds.open(ev)
					if e := f.eventfd(h, 0, fd, 0); e != 0 {
						fail("Eventfd(%d) = %v", h, e)
					}
					f.fds.close(fd)
					evMu.Lock()
					evs = append(evs, ev)
					evMu.Unlock()
				}
				s.Put()
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	<-clockDone
	for _, msg := range failures {
		t.Error(msg)
	}
	if outcomes[0].Load() == 0 || outcomes[1].Load() == 0 {
		t.Errorf("waits: %d succeeded, %d timed out; the mix should produce both",
			outcomes[0].Load(), outcomes[1].Load())
	}

	// Every timeline is closed (pending points signalled with ENOENT);
	// SIGNAL now gives each syncobj a signalled fence, so every point-0
	// registration must have fired, and exactly once.
	if e := f.signal(handles...); e != 0 {
		t.Fatalf("Signal(all) = %v", e)
	}
	if e, _ := f.wait(handles, 0, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL); e != 0 {
		t.Errorf("final Wait(all) = %v; want 0", e)
	}
	for i, ev := range evs {
		if n := ev.count.Load(); n != 1 {
			t.Errorf("eventfd registration %d fired %d times; want exactly 1", i, n)
		}
		if r := ev.refs.Load(); r != 0 {
			t.Errorf("eventfd registration %d still holds %d references", i, r)
		}
	}
	if len(evs) == 0 {
		t.Error("no eventfd registration was made; the hammer tested nothing there")
	}
	f.teardown()
}

// TestHammerSignalWake has many goroutines block on fences that other
// goroutines signal, with no deadline: every waiter must wake exactly once.
func TestHammerSignalWake(t *testing.T) {
	d := NewDomain(NewManualClock(0))
	const n = 200
	fences := make([]*Fence, n)
	for i := range fences {
		fences[i] = d.NewFence(d.AllocContexts(1), 1, "test", "wake")
	}
	var woke atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if e := fences[i].Wait(context.Background(), Forever); e != 0 {
					t.Errorf("Wait = %v", e)
				}
				woke.Add(1)
			}()
		}
	}
	for i := range n {
		go fences[i].Signal()
	}
	wg.Wait()
	if got := woke.Load(); got != 3*n {
		t.Errorf("%d waiters woke; want %d", got, 3*n)
	}
	if l := d.Live(); !l.Zero() {
		t.Errorf("Live() = %+v; want zero", l)
	}
}
