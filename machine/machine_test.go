package machine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"fencelab/device"
	"fencelab/drm"
	"fencelab/errno"
	"fencelab/internal/wire"
	"fencelab/timeline"
)

var le = binary.LittleEndian

// Struct builders (internal/wire), by their short names.
var u32s, u64s, cat = wire.U32s, wire.U64s, wire.Cat

// work is a command stream of one OpWork costing ns of modelled GPU time.
var work = device.WorkCommand

// gpuProc is a process with a render fd, a 3D context with two rings,
// and a timeline syncobj.
type gpuProc struct {
	*Process
	t      *testing.T
	fd     int32
	syncob uint32
}

func setup(t *testing.T, p *Process) *gpuProc {
	g := &gpuProc{Process: p, t: t}
	var e errno.Errno
	if g.fd, e = p.Open(drm.PathRender); e != 0 {
		t.Errorf("%s: open = %v", p.Name, e)
	}
	params := p.Mem.Put(u64s(drm.VIRTGPU_CONTEXT_PARAM_CAPSET_ID, device.VIRTIO_GPU_CAPSET_FENCELAB, drm.VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2))
	if e, _ := p.IoctlBytes(g.fd, drm.DRM_IOCTL_VIRTGPU_CONTEXT_INIT, cat(u32s(2, 0), u64s(params))); e != 0 {
		t.Errorf("%s: CONTEXT_INIT = %v", p.Name, e)
	}
	_, c := p.IoctlBytes(g.fd, drm.DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
	g.syncob = le.Uint32(c)
	return g
}

// submit runs cost of GPU work on ring, signalling the syncobj at point.
func (g *gpuProc) submit(ring uint32, cost int64, point uint64) {
	cmd := g.Mem.Put(work(cost))
	out := g.Mem.Put(cat(u32s(g.syncob, 0), u64s(point)))
	arg := cat(u32s(drm.VIRTGPU_EXECBUF_RING_IDX, uint32(len(work(0)))), u64s(cmd, 0), u32s(0, 0, ring, 16, 0, 1), u64s(0, out))
	if e, _ := g.IoctlBytes(g.fd, drm.DRM_IOCTL_VIRTGPU_EXECBUFFER, arg); e != 0 {
		g.t.Errorf("%s: EXECBUFFER = %v", g.Name, e)
	}
}

// wait is TIMELINE_WAIT (WAIT_FOR_SUBMIT) on one point with an absolute
// timeout.
func (g *gpuProc) wait(fd int32, handle uint32, point uint64, timeout int64) errno.Errno {
	const waitForSubmit = 1 << 1
	h, pt := g.Mem.Put(u32s(handle)), g.Mem.Put(u64s(point))
	e, _ := g.IoctlBytes(fd, drm.DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, cat(u64s(h, pt, uint64(timeout)), u32s(1, waitForSubmit, 0, 0), u64s(0)))
	return e
}

const forever = 1<<63 - 1

// A process blocked on a point parks; the machine jumps to the moment
// the GPU job signalling it ends, and the process resumes exactly then.
func TestWaitParksUntilTheJobEnds(t *testing.T) {
	m, err := New(Config{Device: device.Config{Threading: device.WorkerPerRing}})
	if err != nil {
		t.Fatal(err)
	}
	var woke int64
	var e errno.Errno
	m.Spawn("renderer", func(p *Process) int {
		g := setup(t, p)
		g.submit(0, 5_000_000, 1)
		e = g.wait(g.fd, g.syncob, 1, forever)
		woke = p.Now()
		return 0
	})
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	if e != 0 || woke < Boot+5_000_000 || woke > Boot+5_100_000 {
		t.Errorf("wait = %v at %d; want 0 just after the 5 ms job (%d)", e, woke, Boot+5_000_000)
	}
}

// A timed wait on a point nobody will signal returns ETIME at exactly
// its deadline, virtual time having jumped there.
func TestTimedWaitJumpsToTheDeadline(t *testing.T) {
	m, _ := New(Config{})
	var e errno.Errno
	var at int64
	m.Spawn("waiter", func(p *Process) int {
		fd, _ := p.Open(drm.PathRender)
		_, c := p.IoctlBytes(fd, drm.DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
		g := &gpuProc{Process: p, t: t}
		e = g.wait(fd, le.Uint32(c), 1, Boot+7_000_000)
		at = p.Now()
		return 0
	})
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	if e != errno.ETIME || at != Boot+7_000_000 {
		t.Errorf("wait = %v at %d; want ETIME at %d", e, at, Boot+7_000_000)
	}
}

// Blocked with nothing due that could wake it: Run says so, naming it.
func TestDeadlockIsReported(t *testing.T) {
	m, _ := New(Config{})
	m.Spawn("stuck", func(p *Process) int {
		fd, _ := p.Open(drm.PathRender)
		_, c := p.IoctlBytes(fd, drm.DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
		(&gpuProc{Process: p, t: t}).wait(fd, le.Uint32(c), 1, forever)
		return 0
	})
	err := m.Run(forever)
	if !errors.Is(err, ErrDeadlock) || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("Run = %v; want a deadlock naming the stuck process", err)
	}
}

// prodcons is two processes sharing a timeline syncobj through fd
// passing on a channel: a producer submitting work on two rings at increasing points,
// a consumer waiting for each point. It returns what the consumer saw and
// the machine's timeline (the device's sink gets every layer's events).
func prodcons(t *testing.T) ([]string, []timeline.Event) {
	rec := &timeline.Recorder{}
	m, err := New(Config{Device: device.Config{Threading: device.WorkerPerRing, Sink: rec}})
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	m.Spawn("producer", func(p *Process) int {
		g := setup(t, p)
		ch, _ := p.Open(drm.PathChannels + "timeline")
		_, h := p.IoctlBytes(g.fd, drm.DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, u32s(g.syncob, 0, 0, 0))
		if e := p.SendFD(ch, int32(le.Uint32(h[8:]))); e != 0 {
			t.Errorf("SendFD = %v", e)
		}
		for i, cost := range []int64{3_000_000, 1_000_000, 4_000_000, 2_000_000} {
			g.submit(uint32(i%2), cost, uint64(i+1))
		}
		return 0
	})
	m.Spawn("consumer", func(p *Process) int {
		fd, _ := p.Open(drm.PathRender)
		ch, _ := p.Open(drm.PathChannels + "timeline")
		sfd, e := p.RecvFD(ch)
		if e != 0 {
			t.Errorf("RecvFD = %v", e)
		}
		_, h := p.IoctlBytes(fd, drm.DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, u32s(0, 0, uint32(sfd), 0))
		handle := le.Uint32(h)
		g := &gpuProc{Process: p, t: t}
		for point := uint64(1); point <= 4; point++ {
			e := g.wait(fd, handle, point, forever)
			log = append(log, fmt.Sprintf("point %d: %v at %d", point, e, p.Now()))
		}
		return 0
	})
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	return log, rec.Events
}

// The same processes give the same run: what the consumer saw, when, and
// every event of every layer, identical across runs.
func TestRunsAreDeterministic(t *testing.T) {
	log1, ev1 := prodcons(t)
	for range 5 {
		log2, ev2 := prodcons(t)
		if !reflect.DeepEqual(log1, log2) || !reflect.DeepEqual(ev1, ev2) {
			t.Fatalf("two runs differ:\n%v\n%v\n(%d and %d device events)", log1, log2, len(ev1), len(ev2))
		}
	}
	if len(log1) != 4 || len(ev1) == 0 {
		t.Fatalf("consumer saw %v, %d events", log1, len(ev1))
	}
	// The comparison covers the driver's, the syncobjs' and the
	// scheduler's events too.
	kinds := map[timeline.Kind]bool{}
	for _, e := range ev1 {
		kinds[e.Kind] = true
	}
	for _, k := range []timeline.Kind{timeline.JobStart, timeline.IoctlEnter, timeline.FenceEmitted, timeline.SyncobjAddPoint,
		timeline.WaitBlocked, timeline.WaitWoken, timeline.FenceSignalled, timeline.ProcessStart, timeline.ProcessExit} {
		if !kinds[k] {
			t.Errorf("no %v event in the run", k)
		}
	}
	// Ring 0 runs 3 ms then 4 ms, ring 1 1 ms then 2 ms, in parallel:
	// point 2 is done before point 1, and waiting for 2 also waits for 1
	// (a timeline point is signalled when it and all before it are).
	for i, want := range []int64{3_000_000, 3_000_000, 7_000_000, 7_000_000} {
		var at int64
		fmt.Sscanf(log1[i][strings.LastIndex(log1[i], " ")+1:], "%d", &at)
		if at-Boot < want || at-Boot > want+200_000 {
			t.Errorf("%s; want point %d just after %d ns", log1[i], i+1, want)
		}
	}
}

// atomicArg encodes a DRM_IOCTL_MODE_ATOMIC request in p's memory: props
// are (object, property, value) triples, grouped by object in order.
func atomicArg(p *Process, flags uint32, props [][3]uint64) []byte {
	var objs, counts, ids, vals []byte
	for i := 0; i < len(props); {
		j := i
		for j < len(props) && props[j][0] == props[i][0] {
			ids = le.AppendUint32(ids, uint32(props[j][1]))
			vals = le.AppendUint64(vals, props[j][2])
			j++
		}
		objs = le.AppendUint32(objs, uint32(props[i][0]))
		counts = le.AppendUint32(counts, uint32(j-i))
		i = j
	}
	return cat(u32s(flags, uint32(len(objs)/4)), u64s(p.Mem.Put(objs), p.Mem.Put(counts), p.Mem.Put(ids), p.Mem.Put(vals), 0, 0))
}

// KMS object and property ids of a one-display machine (Linux's).
const (
	kmsPrimary, kmsCRTC, kmsConn                                                           = 32, 36, 37
	propFbID, propCrtcID, propActive, propModeID, propSrcW, propSrcH, propCrtcW, propCrtcH = 17, 20, 22, 23, 11, 12, 15, 16
)

// lightScreen is a process lighting a w×h display with the first of n
// dumb framebuffers by a blocking atomic modeset; it returns the card fd
// and the framebuffer ids.
func lightScreen(t *testing.T, p *Process, w, h uint32, n int) (int32, []uint64) {
	fd, _ := p.Open(drm.PathCard)
	p.IoctlBytes(fd, drm.DRM_IOCTL_SET_CLIENT_CAP, u64s(drm.DRM_CLIENT_CAP_ATOMIC, 1))
	modes := p.Mem.Put(make([]byte, 4*68))
	p.IoctlBytes(fd, drm.DRM_IOCTL_MODE_GETCONNECTOR, cat(u64s(0, modes, 0, 0), u32s(4, 0, 0, 0, kmsConn), make([]byte, 28)))
	_, cb := p.IoctlBytes(fd, drm.DRM_IOCTL_MODE_CREATEPROPBLOB, cat(u64s(modes), u32s(68, 0)))
	fbs := make([]uint64, n)
	for i := range fbs {
		_, d := p.IoctlBytes(fd, drm.DRM_IOCTL_MODE_CREATE_DUMB, u32s(h, w, 32, 0, 0, 0, 0, 0))
		_, f := p.IoctlBytes(fd, drm.DRM_IOCTL_MODE_ADDFB2, cat(u32s(0, w, h, drm.DRM_FORMAT_XRGB8888, 0, le.Uint32(d[16:]), 0, 0, 0, le.Uint32(d[20:])), make([]byte, 64)))
		fbs[i] = uint64(le.Uint32(f))
	}
	set := atomicArg(p, drm.DRM_MODE_ATOMIC_ALLOW_MODESET, [][3]uint64{
		{kmsCRTC, propActive, 1}, {kmsCRTC, propModeID, uint64(le.Uint32(cb[12:]))}, {kmsConn, propCrtcID, kmsCRTC},
		{kmsPrimary, propFbID, fbs[0]}, {kmsPrimary, propCrtcID, kmsCRTC}, {kmsPrimary, propSrcW, uint64(w) << 16},
		{kmsPrimary, propSrcH, uint64(h) << 16}, {kmsPrimary, propCrtcW, uint64(w)}, {kmsPrimary, propCrtcH, uint64(h)}})
	if e, _ := p.IoctlBytes(fd, drm.DRM_IOCTL_MODE_ATOMIC, set); e != 0 {
		t.Errorf("modeset = %v", e)
	}
	return fd, fbs
}

// A process flipping with blocking commits is paced by the display: each
// flip returns at the next vblank, one refresh after the last.
func TestBlockingFlipsFollowVblank(t *testing.T) {
	m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: 640, Height: 480}}}})
	if err != nil {
		t.Fatal(err)
	}
	var times []int64
	m.Spawn("compositor", func(p *Process) int {
		fd, fbs := lightScreen(t, p, 640, 480, 2)
		times = append(times, p.Now())
		for i := range 4 {
			if e, _ := p.IoctlBytes(fd, drm.DRM_IOCTL_MODE_ATOMIC, atomicArg(p, 0, [][3]uint64{{kmsPrimary, propFbID, fbs[(i+1)%2]}})); e != 0 {
				t.Errorf("flip %d = %v", i, e)
			}
			times = append(times, p.Now())
		}
		return 0
	})
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	if len(times) != 5 {
		t.Fatalf("flip times %v", times)
	}
	period := times[2] - times[1]
	if period < 16_000_000 || period > 17_000_000 {
		t.Errorf("a refresh of %d ns; want about 16.7 ms", period)
	}
	for i := 2; i < len(times); i++ {
		if d := times[i] - times[i-1]; d < period-1_000_000 || d > period+1_000_000 {
			t.Errorf("flip %d came %d ns after the one before; want one refresh (%d)", i, d, period)
		}
	}
}

// A process that leaves its lit card fd in a channel nobody reads: when
// every process is done, the machine closes it from a process of its own
// (closing it turns the framebuffer off, a blocking commit), and Run
// ends instead of hanging.
func TestUnreadChannelIsClosedByTheMachine(t *testing.T) {
	m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: 640, Height: 480}}}})
	if err != nil {
		t.Fatal(err)
	}
	m.Spawn("leaver", func(p *Process) int {
		fd, _ := lightScreen(t, p, 640, 480, 1)
		ch, _ := p.Open(drm.PathChannels + "nobody")
		p.SendFD(ch, fd)
		return 0
	})
	done := make(chan error, 1)
	go func() { done <- m.Run(forever) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if m.Device().Scanout(0).Enabled {
		t.Error("the screen is still on after the machine closed the last card fd")
	}
}

// A guest's output is kept up to MaxOutput bytes a stream; the rest is
// counted, not kept.
func TestOutputCapped(t *testing.T) {
	var c capped
	c.Write([]byte(strings.Repeat("x", MaxOutput-3)))
	if n, err := c.Write([]byte("abcdef")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v; want all taken", n, err)
	}
	c.Write([]byte("more"))
	s := c.String()
	if !strings.HasPrefix(s[MaxOutput-3:], "abc\n[fencelab: 7 more bytes not kept]") {
		t.Errorf("end of output: %q", s[MaxOutput-10:])
	}
}

// Close stops guests that would run for ever, asleep in a system call or
// not yet started, and leaves no goroutine of the machine behind.
func TestClose(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/triangle.wasm")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../guests/bin/scenario.wasm")
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	for range 3 {
		m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: 64, Height: 48}}}})
		if err != nil {
			t.Fatal(err)
		}
		tri, _ := m.SpawnWasm("triangle", wasm, "0")
		waiter, _ := m.SpawnWasm("scenario", script)
		waiter.Stdin = []byte("syncobj a\nwait a for-submit\n") // asleep for good
		if err := m.Run(Boot + 100_000_000); err != nil {
			t.Fatal(err)
		}
		late, _ := m.SpawnWasm("scenario", script) // never started
		m.Close()
		for _, p := range []*Process{tri, waiter, late} {
			if _, done := p.Exit(); !done || !errors.Is(p.Err(), errClosed) {
				t.Errorf("%s after Close: done %v, err %v", p.Name, done, p.Err())
			}
		}
	}
	for start := time.Now(); runtime.NumGoroutine() > base+2; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d goroutines after closing three machines; %d before", runtime.NumGoroutine(), base)
		}
	}
}
