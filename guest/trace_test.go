package guest

import (
	"testing"
	"time"

	"fencelab/drm"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// has reports whether the ring holds an event of kind k.
func has(r *timeline.Ring, k timeline.Kind) bool {
	for _, e := range r.Events() {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// A poll that sleeps on sync_files is a wait on their fences: blocked on
// each pending one, then woken by the first that signals, or at the
// timeout. One that does not sleep, or sleeps on no sync_file, is none.
func TestPollTrace(t *testing.T) {
	s := newShim(t)
	sink := timeline.NewRing(1 << 16) // shared with a blocked guest call: a Ring is safe for that
	s.p.Sink, s.p.Task.Pid = sink, 5
	clock := s.d.Clock().(*fence.ManualClock)
	s.put(100, []byte(drm.PathSwSync))
	tlfd := s.call("open", 100, uint32(len(drm.PathSwSync)), drm.O_RDWR)
	tl, _ := s.p.Task.FDs.Get(tlfd)
	defer tl.DecRef()
	// Two points of the timeline, as sync_files.
	point := func(v uint32) (int32, timeline.Fence) {
		s.put(200, cat(u32s(v), make([]byte, 36)))
		if r := s.call("ioctl", uint32(tlfd), fence.SW_SYNC_IOC_CREATE_FENCE, 200); r != 0 {
			t.Fatalf("CREATE_FENCE = %d", r)
		}
		fd, _ := s.mod.Memory().ReadUint32Le(236)
		f, _ := fence.SyncFileFence(s.p.Task.FDs, int32(fd))
		return int32(fd), timeline.Fence{Context: f.Context(), Seqno: f.Seqno()}
	}
	fd1, f1 := point(1)
	fd2, f2 := point(2)
	efd := s.call("eventfd", 0, drm.EFD_NONBLOCK)
	pollfds := func(fds ...int32) []byte {
		var b []byte
		for _, fd := range fds {
			b = cat(b, u32s(uint32(fd)), []byte{drm.POLLIN, 0, 0, 0})
		}
		return b
	}
	poll := func(timeout int32, fds ...int32) <-chan int32 {
		s.put(600, pollfds(fds...))
		done := make(chan int32, 1)
		go func() { done <- s.call("poll", 600, uint32(len(fds)), uint32(timeout)) }()
		return done
	}
	waitFor := func(cond func() bool) {
		for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatal("the poll never slept")
			}
		}
	}
	want := func(what string, got []timeline.Event, want ...timeline.Event) {
		t.Helper()
		for i := range got {
			got[i].Time = 0
		}
		if len(got) != len(want) {
			t.Fatalf("%s: events %+v; want %+v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: event %d %+v; want %+v", what, i, got[i], want[i])
			}
		}
	}

	// Timing out on both points.
	done := poll(10, fd1, fd2, efd)
	waitFor(func() bool { return clock.Pending() > 0 })
	clock.Advance(10_000_000)
	if r := <-done; r != 0 {
		t.Fatalf("poll = %d; want a timeout", r)
	}
	want("a timeout", sink.Drain(nil),
		timeline.Event{Kind: timeline.WaitBlocked, Pid: 5, FD: fd1, Fence: f1},
		timeline.Event{Kind: timeline.WaitBlocked, Pid: 5, FD: fd2, Fence: f2},
		timeline.Event{Kind: timeline.WaitWoken, Pid: 5, FD: fd1, Errno: uint16(errno.ETIME)})

	// Woken by the first point.
	done = poll(-1, fd1, fd2)
	waitFor(func() bool { return has(sink, timeline.WaitBlocked) })
	tl.(*fence.Timeline).Inc(1)
	if r := <-done; r != 1 {
		t.Fatalf("poll = %d; want one ready", r)
	}
	want("a wake-up", sink.Drain(nil),
		timeline.Event{Kind: timeline.WaitBlocked, Pid: 5, FD: fd1, Fence: f1},
		timeline.Event{Kind: timeline.WaitBlocked, Pid: 5, FD: fd2, Fence: f2},
		timeline.Event{Kind: timeline.WaitWoken, Pid: 5, FD: fd1, Fence: f1})

	// Ready at once, or sleeping on an eventfd only: no wait.
	if r := <-poll(-1, fd1, fd2); r != 1 {
		t.Fatalf("poll = %d; want one ready", r)
	}
	done = poll(10, efd)
	waitFor(func() bool { return clock.Pending() > 0 })
	clock.Advance(10_000_000)
	if r := <-done; r != 0 {
		t.Fatalf("poll of an eventfd = %d; want a timeout", r)
	}
	want("polls that wait on no fence", sink.Drain(nil))
	tl.(*fence.Timeline).Inc(1)
	s.p.Task.FDs.CloseAll()
}
