package drm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// tracedMachine is newMachine with the driver tracing into the device's
// recorder; its process is pid 7.
func tracedMachine(t *testing.T, cfg device.Config) *testMachine {
	m := newMachine(t, cfg)
	m.task.Pid = 7
	m.drv.SetTrace(m.rec, func() *Task { return m.task })
	return m
}

// match is an expected event: its kind, and what else must hold.
type match struct {
	kind timeline.Kind
	ok   func(timeline.Event) bool
	what string
}

func ev(kind timeline.Kind, what string, ok func(timeline.Event) bool) match {
	return match{kind, ok, what}
}

// inOrder checks that events hold the matches in order (others may come
// between) and returns the index of each.
func inOrder(t *testing.T, events []timeline.Event, ms ...match) []int {
	t.Helper()
	var at []int
	i := 0
	for _, m := range ms {
		for i < len(events) && (events[i].Kind != m.kind || m.ok != nil && !m.ok(events[i])) {
			i++
		}
		if i == len(events) {
			var b strings.Builder
			for j, e := range events {
				fmt.Fprintf(&b, "\t%d: %+v\n", j, e)
			}
			t.Fatalf("no %v (%s) after the events matched so far %v; events:\n%s", m.kind, m.what, at, b.String())
		}
		at = append(at, i)
		i++
	}
	return at
}

// Every ioctl, failed ones included, is an enter and an exit naming the
// caller's pid, the fd, the request and the errno.
func TestTraceIoctls(t *testing.T) {
	m := tracedMachine(t, device.Config{})
	fd := m.open(PathRender)
	n := len(m.rec.Events)
	calls := []struct {
		fd   int32
		req  uint32
		arg  []byte
		want errno.Errno
	}{
		{fd, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0), 0},
		{fd, DRM_IOCTL_SYNCOBJ_DESTROY, u32s(99, 0), errno.EINVAL},
		{42, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0), errno.EBADF},
		{fd, fence.SYNC_IOC_MERGE, make([]byte, 48), errno.ENOTTY},
	}
	for _, c := range calls {
		if e, _ := m.ioctl(c.fd, c.req, c.arg); e != c.want {
			t.Fatalf("ioctl(%d, %#x) = %v; want %v", c.fd, c.req, e, c.want)
		}
	}
	got := m.rec.Events[n:]
	if len(got) != 2*len(calls) {
		t.Fatalf("%d events for %d ioctls: %+v", len(got), len(calls), got)
	}
	for i, c := range calls {
		enter, exit := got[2*i], got[2*i+1]
		wantEnter := timeline.Event{Time: enter.Time, Kind: timeline.IoctlEnter, Pid: 7, FD: c.fd, Ioctl: c.req}
		wantExit := timeline.Event{Time: exit.Time, Kind: timeline.IoctlExit, Pid: 7, FD: c.fd, Ioctl: c.req, Errno: uint16(c.want)}
		if enter != wantEnter || exit != wantExit {
			t.Errorf("ioctl %d: %+v, %+v; want %+v, %+v", i, enter, exit, wantEnter, wantExit)
		}
	}
	if err := m.rec.Check(); err != nil {
		t.Error(err)
	}
	m.teardown()
}

// An EXECBUFFER's out-fence is on the timeline before the device sees the
// request, and the device's job and retirement name the same fence id;
// out-syncobjs get it (a point, a replace), in-syncobjs are reset, the
// out-fence fd is a sync_file, and the fence is signalled when retired.
// In-fences that are not waited say why.
func TestTraceExecbuffer(t *testing.T) {
	m := tracedMachine(t, device.Config{Threading: device.WorkerPerRing})
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2)
	tl, bin := m.syncobj(fd), m.syncobj(fd)
	n := len(m.rec.Events)
	e, outFd := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX | VIRTGPU_EXECBUF_FENCE_FD_OUT, ring: 1, cmd: work(2_000_000),
		out: [][3]uint64{{uint64(tl), 0, 3}, {uint64(bin), 0, 0}}})
	if e != 0 {
		t.Fatal(e)
	}
	m.run()
	evs := m.rec.Events[n:]
	var emitted timeline.Event
	at := inOrder(t, evs,
		ev(timeline.IoctlEnter, "EXECBUFFER", func(e timeline.Event) bool { return e.Ioctl == DRM_IOCTL_VIRTGPU_EXECBUFFER }),
		ev(timeline.FenceEmitted, "its out-fence, by pid 7 on its fd, on ring 1", func(e timeline.Event) bool {
			emitted = e
			return e.Pid == 7 && e.FD == fd && e.FenceID != 0 && e.RingIdx == 1 && e.CtxID != 0 && e.Fence.Seqno == e.FenceID
		}),
		ev(timeline.QueueAdd, "SUBMIT_3D with that fence id", func(e timeline.Event) bool {
			return e.Cmd == device.VIRTIO_GPU_CMD_SUBMIT_3D && e.FenceID == emitted.FenceID && e.RingIdx == 1
		}),
		ev(timeline.Request, "the device's request", func(e timeline.Event) bool { return e.FenceID == emitted.FenceID }),
		ev(timeline.JobStart, "the job", func(e timeline.Event) bool { return e.FenceID == emitted.FenceID }),
		ev(timeline.SyncFileCreated, "the out-fence fd", func(e timeline.Event) bool {
			return e.Pid == 7 && e.FD == outFd && e.Fence == emitted.Fence
		}),
		ev(timeline.SyncobjAddPoint, "the timeline's point 3", func(e timeline.Event) bool {
			return e.Pid == 7 && e.Handle == tl && e.Syncobj == 1 && e.Point == 3 && e.Fence == emitted.Fence
		}),
		ev(timeline.SyncobjReplace, "the binary syncobj", func(e timeline.Event) bool {
			return e.Handle == bin && e.Syncobj == 2 && e.Fence == emitted.Fence && e.SrcFD == 0
		}),
		ev(timeline.IoctlExit, "EXECBUFFER", func(e timeline.Event) bool { return e.Errno == 0 }),
		ev(timeline.JobEnd, "the job", func(e timeline.Event) bool { return e.FenceID == emitted.FenceID }),
		ev(timeline.FenceSignalled, "the out-fence", func(e timeline.Event) bool { return e.Fence == emitted.Fence }),
	)
	if t0, t1 := evs[at[0]].Time, evs[at[len(at)-1]].Time; t1-t0 != 2_000_000 {
		t.Errorf("out-fence signalled %d ns after the submission; want the job's 2 ms", t1-t0)
	}

	// In-fences: on the submission's own ring, already signalled, and
	// (with host waits) another ring's, pending. The binary one is reset.
	n = len(m.rec.Events)
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 1, in: [][3]uint64{{uint64(tl), 0, 3}}}); e != 0 {
		t.Fatal(e)
	}
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 0, in: [][3]uint64{{uint64(bin), VIRTGPU_EXECBUF_SYNCOBJ_RESET, 0}}}); e != 0 {
		t.Fatal(e)
	}
	m.drv.SetHostWaits(true)
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 1, cmd: work(1_000_000), out: [][3]uint64{{uint64(tl), 0, 4}}}); e != 0 {
		t.Fatal(e)
	}
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 0, in: [][3]uint64{{uint64(tl), 0, 4}}}); e != 0 {
		t.Fatal(e)
	}
	m.run()
	skipped := func(reason timeline.SkipReason, h uint32, point uint64) func(timeline.Event) bool {
		return func(e timeline.Event) bool {
			return e.Reason == reason && e.Pid == 7 && e.FD == fd && e.Handle == h && e.Point == point && !e.Fence.IsZero()
		}
	}
	inOrder(t, m.rec.Events[n:],
		ev(timeline.WaitSkipped, "own ring", skipped(timeline.SkipOwnContext, tl, 3)),
		ev(timeline.WaitSkipped, "signalled", skipped(timeline.SkipSignalled, bin, 0)),
		ev(timeline.SyncobjReset, "the RESET in-syncobj", func(e timeline.Event) bool { return e.Handle == bin && e.Syncobj == 2 }),
		ev(timeline.WaitSkipped, "handed to the host", skipped(timeline.SkipHost, tl, 4)),
	)
	for _, e := range m.rec.Events[n:] {
		if e.Kind == timeline.WaitBlocked {
			t.Errorf("a wait blocked: %+v", e)
		}
	}
	if err := m.rec.Check(); err != nil {
		t.Error(err)
	}
	m.teardown()
}

// An in-fence of another ring is waited in the guest: blocked until the
// other ring's job retires, then woken by that fence.
func TestTraceExecbufferWaits(t *testing.T) {
	sink := timeline.NewRing(1 << 16) // safe for the test's goroutines
	m, mu := newLockedMachine(t, device.Config{Threading: device.WorkerPerRing, Sink: sink})
	m.task.Pid = 3
	m.drv.SetTrace(sink, func() *Task { return m.task })
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2)
	s := m.syncobj(fd)
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 0, cmd: work(5_000_000), out: [][3]uint64{{uint64(s), 0, 1}}}); e != 0 {
		t.Fatal(e)
	}
	done := make(chan errno.Errno, 1)
	go func() {
		e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 1, in: [][3]uint64{{uint64(s), 0, 1}}})
		done <- e
	}()
	blocked := func() bool {
		for _, e := range sink.Events() {
			if e.Kind == timeline.WaitBlocked {
				return true
			}
		}
		return false
	}
	for start := time.Now(); !blocked(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the cross-ring submission never blocked")
		}
	}
	m.runLocked(mu)
	if e := <-done; e != 0 {
		t.Fatal(e)
	}
	m.runLocked(mu)
	evs := sink.Events()
	var out timeline.Fence
	at := inOrder(t, evs,
		ev(timeline.FenceEmitted, "ring 0's fence", func(e timeline.Event) bool { out = e.Fence; return e.RingIdx == 0 }),
		ev(timeline.WaitBlocked, "on it", func(e timeline.Event) bool {
			return e.Pid == 3 && e.FD == fd && e.Fence == out && e.Syncobj == 1 && e.Handle == s && e.Point == 1
		}),
		ev(timeline.JobEnd, "ring 0's job", nil),
		ev(timeline.FenceSignalled, "ring 0's fence", func(e timeline.Event) bool { return e.Fence == out }),
		ev(timeline.WaitWoken, "by it", func(e timeline.Event) bool {
			return e.Pid == 3 && e.Fence == out && e.Errno == 0 && e.Handle == s && e.Point == 1
		}),
		ev(timeline.QueueAdd, "then the submission", func(e timeline.Event) bool { return e.Cmd == device.VIRTIO_GPU_CMD_SUBMIT_3D }),
	)
	if d := evs[at[4]].Time - evs[at[1]].Time; d != 5_000_000 {
		t.Errorf("blocked for %d ns; want ring 0's 5 ms", d)
	}
	m.teardown()
}

// An eventfd registered on a point fires when the point signals, naming
// the process that registered it and its fd: not the one that made the
// eventfd (it may have been passed on), nor the one that signals.
func TestTraceEventfd(t *testing.T) {
	m := tracedMachine(t, device.Config{})
	fd := m.open(PathRender)
	s := m.syncobj(fd)
	evfd, e := m.drv.Eventfd(m.task, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	m.task.Pid = 9 // the fd table is shared: as if the eventfd had been passed on
	if e, _ := m.ioctl(fd, DRM_IOCTL_SYNCOBJ_EVENTFD, cat(u32s(s, 0), u64s(2), u32s(uint32(evfd), 0))); e != 0 {
		t.Fatalf("SYNCOBJ_EVENTFD = %v", e)
	}
	m.task.Pid = 8 // someone else signals it
	m.timelineSignal(fd, s, 2)
	inOrder(t, m.rec.Events,
		ev(timeline.SyncobjSignal, "point 2, by pid 8", func(e timeline.Event) bool { return e.Pid == 8 && e.Point == 2 && e.Handle == s }),
		ev(timeline.EventfdFired, "the eventfd pid 9 registered", func(e timeline.Event) bool {
			return e.Pid == 9 && e.FD == evfd && e.Syncobj == 1 && e.Handle == s && e.Point == 2
		}))
	if err := m.rec.Check(); err != nil {
		t.Error(err)
	}
	m.teardown()
}

// Without SetTrace the driver emits nothing: the recorder holds only the
// device's events.
func TestTraceOff(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 1)
	s := m.syncobj(fd)
	m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, cmd: work(1000), out: [][3]uint64{{uint64(s), 0, 1}}})
	m.run()
	for _, e := range m.rec.Events {
		if e.Kind >= timeline.IoctlEnter {
			t.Fatalf("untraced driver emitted %+v", e)
		}
	}
	m.teardown()
}

// IoctlName knows the driver's ioctls (whose numbers fall inside the core
// table's range), the core's, and sync_file's and sw_sync's.
func TestIoctlName(t *testing.T) {
	for _, tt := range []struct {
		req  uint32
		want string
	}{
		{DRM_IOCTL_VIRTGPU_EXECBUFFER, "DRM_IOCTL_VIRTGPU_EXECBUFFER"},
		{DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT"},
		{DRM_IOCTL_MODE_ATOMIC, "DRM_IOCTL_MODE_ATOMIC"},
		{fence.SYNC_IOC_MERGE, "SYNC_IOC_MERGE"},
		{fence.SW_SYNC_IOC_INC, "SW_SYNC_IOC_INC"},
		{IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x0f, 8), ""},
		{0x5401, ""}, // TCGETS
	} {
		if got := IoctlName(tt.req); got != tt.want {
			t.Errorf("IoctlName(%#x) = %q; want %q", tt.req, got, tt.want)
		}
	}
}
