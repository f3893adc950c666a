package drm

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// lockedTransport serialises every touch of the device, as the machine's
// scheduler will: a guest thread woken by a fence must not kick the device
// while the clock is still driving it.
type lockedTransport struct {
	transport
	mu *sync.Mutex
}

func (t lockedTransport) Notify(q int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.transport.Notify(q)
}

// newLockedMachine is newMachine with the device behind a lock.
func newLockedMachine(t testing.TB, cfg device.Config) (*testMachine, *sync.Mutex) {
	t.Helper()
	mu := &sync.Mutex{}
	m := newMachineWith(t, cfg, machineMem, func(tr Transport) Transport {
		return lockedTransport{tr.(transport), mu}
	})
	return m, mu
}

// runLocked is run with the lock held around each step.
func (m *testMachine) runLocked(mu *sync.Mutex) {
	for range 100_000 {
		mu.Lock()
		next, ok := m.dev.NextEvent()
		if ok {
			m.clock.AdvanceTo(next)
			m.dev.Advance(next)
		}
		mu.Unlock()
		if !ok {
			return
		}
	}
	m.t.Fatal("the device never went idle")
}

func (p *proc) getParam(fd int32, param uint64) (uint32, errno.Errno) {
	out := p.mem.put(make([]byte, 4))
	e, _ := p.ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, u64s(param, out))
	return binary.LittleEndian.Uint32(p.mem.get(out, 4)), e
}

// contextInit sends CONTEXT_INIT with (param, value) pairs.
func (p *proc) contextInit(fd int32, params ...uint64) errno.Errno {
	var arr []byte
	for _, v := range params {
		arr = binary.LittleEndian.AppendUint64(arr, v)
	}
	addr := uint64(0)
	if len(arr) > 0 {
		addr = p.mem.put(arr)
	}
	e, _ := p.ioctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, cat(u32s(uint32(len(params)/2), 0), u64s(addr)))
	return e
}

// exec describes an EXECBUFFER call.
type exec struct {
	flags    uint32
	cmd      []byte
	cmdAddr  uint64 // overrides cmd's address when set
	bos      []uint32
	boAddr   uint64
	fenceFd  int32
	ring     uint32
	stride   uint32
	in, out  [][3]uint64 // handle, flags, point
	inAddr   uint64
	outAddr  uint64
	numIn    uint32 // overrides len(in) when set
	numOut   uint32
	rawCount bool
	numBo    uint32 // overrides the BO count when set
}

func descs(ds [][3]uint64) []byte {
	var b []byte
	for _, d := range ds {
		b = cat(b, u32s(uint32(d[0]), uint32(d[1])), u64s(d[2]))
	}
	return b
}

// execbuf runs EXECBUFFER and returns the errno and the fence_fd field.
func (p *proc) execbuf(fd int32, x exec) (errno.Errno, int32) {
	cmdAddr := x.cmdAddr
	if cmdAddr == 0 && len(x.cmd) > 0 {
		cmdAddr = p.mem.put(x.cmd)
	}
	boAddr := x.boAddr
	if boAddr == 0 && len(x.bos) > 0 {
		boAddr = p.mem.put(u32s(x.bos...))
	}
	inAddr, outAddr := x.inAddr, x.outAddr
	if inAddr == 0 && len(x.in) > 0 {
		inAddr = p.mem.put(descs(x.in))
	}
	if outAddr == 0 && len(x.out) > 0 {
		outAddr = p.mem.put(descs(x.out))
	}
	numIn, numOut := uint32(len(x.in)), uint32(len(x.out))
	if x.rawCount {
		numIn, numOut = x.numIn, x.numOut
	}
	numBo := uint32(len(x.bos))
	if x.boAddr != 0 && numBo == 0 {
		numBo = 1
	}
	if x.numBo != 0 {
		numBo = x.numBo
	}
	stride := x.stride
	if stride == 0 && !x.rawCount {
		stride = syncobjDescSize
	}
	e, out := p.ioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, cat(u32s(x.flags, uint32(len(x.cmd))), u64s(cmdAddr, boAddr),
		u32s(numBo, uint32(x.fenceFd), x.ring, stride, numIn, numOut), u64s(inAddr, outAddr)))
	return e, int32(binary.LittleEndian.Uint32(out[28:]))
}

func (p *proc) syncobj(fd int32) uint32 {
	p.t.Helper()
	e, out := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
	if e != 0 {
		p.t.Fatalf("SYNCOBJ_CREATE = %v", e)
	}
	return binary.LittleEndian.Uint32(out)
}

func (p *proc) timelineSignal(fd int32, h uint32, point uint64) {
	p.t.Helper()
	if e, _ := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, cat(u64s(p.mem.put(u32s(h)), p.mem.put(u64s(point))), u32s(1, 0))); e != 0 {
		p.t.Fatalf("TIMELINE_SIGNAL = %v", e)
	}
}

func (p *proc) query(fd int32, h uint32) uint64 {
	p.t.Helper()
	q := p.mem.put(u64s(0))
	if e, _ := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_QUERY, cat(u64s(p.mem.put(u32s(h)), q), u32s(1, 0))); e != 0 {
		p.t.Fatalf("QUERY = %v", e)
	}
	return binary.LittleEndian.Uint64(p.mem.get(q, 8))
}

// work is a fencelab command stream of ns nanoseconds of modelled work.
var work = device.WorkCommand

func TestGetParam(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	want := map[uint64]uint32{1: 1, 2: 1, 3: 1, 4: 0, 5: 1, 6: 1, 7: 1 << device.VIRTIO_GPU_CAPSET_FENCELAB, 8: 1}
	for param, w := range want {
		if v, e := m.getParam(fd, param); e != 0 || v != w {
			t.Errorf("GETPARAM(%d) = %d, %v; want %d", param, v, e, w)
		}
	}
	if _, e := m.getParam(fd, 9); e != errno.EINVAL {
		t.Errorf("GETPARAM(9) = %v; want EINVAL", e)
	}
	if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, u64s(1, 0x10)); e != errno.EFAULT {
		t.Errorf("GETPARAM with a bad value pointer = %v; want EFAULT", e)
	}
	m.teardown()
}

func TestContextInit(t *testing.T) {
	m := newMachine(t, device.Config{})
	const capset, rings, mask, name = VIRTGPU_CONTEXT_PARAM_CAPSET_ID, VIRTGPU_CONTEXT_PARAM_NUM_RINGS,
		VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, VIRTGPU_CONTEXT_PARAM_DEBUG_NAME
	fl := uint64(device.VIRTIO_GPU_CAPSET_FENCELAB)
	tests := []struct {
		name  string
		calls [][]uint64 // successive calls on one fresh file
		want  []errno.Errno
	}{
		{"five params", [][]uint64{{capset, fl, rings, 1, rings, 1, rings, 1, rings, 1}}, []errno.Errno{errno.EINVAL}},
		{"no params creates the context", [][]uint64{{}, {}}, []errno.Errno{0, errno.EEXIST}},
		{"capset not advertised", [][]uint64{{capset, 1}}, []errno.Errno{errno.EINVAL}},
		{"capset past 63", [][]uint64{{capset, 64}}, []errno.Errno{errno.EINVAL}},
		{"rings past 64", [][]uint64{{rings, 65}}, []errno.Errno{errno.EINVAL}},
		{"unknown param", [][]uint64{{9, 0}}, []errno.Errno{errno.EINVAL}},
		{"poll mask past the rings", [][]uint64{{rings, 2, mask, 4}}, []errno.Errno{errno.EINVAL}},
		// No rollback: the first call recorded the rings, so the retry fails.
		{"partial state survives a failure", [][]uint64{{rings, 2, capset, 1}, {rings, 2}}, []errno.Errno{errno.EINVAL, errno.EINVAL}},
		// 0 rings still counts as set (base_fence_ctx != 0 in the kernel).
		{"rings 0 then 2", [][]uint64{{rings, 0, rings, 2}}, []errno.Errno{errno.EINVAL}},
		{"ok", [][]uint64{{capset, fl, rings, 2, mask, 3}}, []errno.Errno{0}},
	}
	for _, tt := range tests {
		fd := m.open(PathRender)
		for i, call := range tt.calls {
			if e := m.contextInit(fd, call...); e != tt.want[i] {
				t.Errorf("%s: call %d = %v; want %v", tt.name, i, e, tt.want[i])
			}
		}
		m.task.FDs.Close(fd)
	}
	// A debug name is read from user memory; a bad pointer is EFAULT.
	fd := m.open(PathRender)
	if e := m.contextInit(fd, name, 0x10); e != errno.EFAULT {
		t.Errorf("DEBUG_NAME at a bad address = %v; want EFAULT", e)
	}
	// An EXECBUFFER creates the context lazily; CONTEXT_INIT is then EEXIST.
	fd2 := m.open(PathRender)
	if e, _ := m.execbuf(fd2, exec{}); e != 0 {
		t.Fatalf("EXECBUFFER = %v", e)
	}
	if e := m.contextInit(fd2); e != errno.EEXIST {
		t.Errorf("CONTEXT_INIT after an EXECBUFFER = %v; want EEXIST", e)
	}
	creates := m.requests(device.VIRTIO_GPU_CMD_CTX_CREATE)
	// Contexts were created by: "no params" (1), "ok" (1), and the lazy
	// EXECBUFFER (1); every failed CONTEXT_INIT created none.
	if creates != 3 {
		t.Errorf("the device saw %d CTX_CREATE; want exactly 3, one per created context", creates)
	}
	m.teardown()
}

// leakCheck snapshots everything an ioctl could leak.
type leakCheck struct {
	live     fence.Live
	fds      int
	gem      int // GEM objects (resource ids in use)
	handles  int // GEM handles, summed over the open DRM files
	contexts int // context ids in use
	guest    uint64
	pending  int // fences emitted and not signalled
	events   int // DRM event space left, summed over the open DRM files
	modeObjs int // framebuffers and property blobs
	kmsBusy  int // CRTCs with a commit not yet on screen
}

// snapshot counts the driver side; a machine adds the device side.
func (p *proc) snapshot() leakCheck {
	events, handles := 0, 0
	for fd := int32(0); fd < 64; fd++ {
		if f, e := p.task.FDs.Get(fd); e == 0 {
			if df, ok := f.(*File); ok {
				df.evMu.Lock()
				events += df.evSpace
				df.evMu.Unlock()
				df.gem.mu.Lock()
				handles += len(df.gem.objs)
				df.gem.mu.Unlock()
			}
			f.DecRef()
		}
	}
	p.drv.idMu.Lock()
	gem, contexts := len(p.drv.resIDs), len(p.drv.ctxIDs)
	p.drv.idMu.Unlock()
	k := p.drv.kms
	k.mu.Lock()
	modeObjs, busy := len(k.objs), 0
	for _, c := range k.outs {
		if c.busy != nil {
			busy++
		}
	}
	k.mu.Unlock()
	return leakCheck{live: p.drv.Domain().Live(), fds: p.task.FDs.Len(), gem: gem, handles: handles, contexts: contexts,
		events: events, modeObjs: modeObjs, kmsBusy: busy}
}

func (m *testMachine) snapshot() leakCheck {
	c := m.proc.snapshot()
	g := m.drv.gpu
	g.fences.mu.Lock()
	c.pending = len(g.fences.pending)
	g.fences.mu.Unlock()
	c.guest = g.alloc.inUse()
	return c
}

// Every errno row of kernel-semantics §2.2 that fencelab can reach today,
// each checked for leaks.
func TestExecbufferErrors(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	ringed := m.open(PathRender)
	if e := m.contextInit(ringed, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2); e != 0 {
		t.Fatal(e)
	}
	s := m.syncobj(fd)   // no fence
	sig := m.syncobj(fd) // signalled at point 1
	m.timelineSignal(fd, sig, 1)
	null := m.open(PathNull)
	const bad = 0x10 // unmapped
	tests := []struct {
		name string
		fd   int32
		x    exec
		want errno.Errno
	}{
		{"unknown flags", fd, exec{flags: 8}, errno.EINVAL},
		{"RING_IDX without rings", fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX}, errno.EINVAL},
		{"ring past num_rings", ringed, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 2}, errno.EINVAL},
		{"BO handles fault", fd, exec{boAddr: bad}, errno.EFAULT},
		{"unknown BO", fd, exec{bos: []uint32{1}}, errno.ENOENT},
		{"command fault", fd, exec{cmd: make([]byte, 8), cmdAddr: bad}, errno.EFAULT},
		{"out-syncobj flags", fd, exec{out: [][3]uint64{{uint64(s), 1, 0}}}, errno.EINVAL},
		{"out-syncobj unknown", fd, exec{out: [][3]uint64{{99, 0, 0}}}, errno.EINVAL},
		{"out-syncobj descriptor fault", fd, exec{rawCount: true, numOut: 1, stride: 16, outAddr: bad}, errno.EFAULT},
		{"in-syncobj flags", fd, exec{in: [][3]uint64{{uint64(sig), 2, 1}}}, errno.EINVAL},
		{"in-syncobj unknown", fd, exec{in: [][3]uint64{{99, 0, 0}}}, errno.ENOENT},
		{"in-syncobj without a fence", fd, exec{in: [][3]uint64{{uint64(s), 0, 0}}}, errno.EINVAL},
		{"in-syncobj point not submitted", fd, exec{in: [][3]uint64{{uint64(sig), 0, 2}}}, errno.EINVAL},
		{"stride 0 reads handle 0 (in)", fd, exec{rawCount: true, numIn: 1, inAddr: bad}, errno.ENOENT},
		{"stride 0 reads handle 0 (out)", fd, exec{rawCount: true, numOut: 1, outAddr: bad}, errno.EINVAL},
		// Out-syncobjs are parsed first: both bad, the out error wins.
		{"outs before ins", fd, exec{in: [][3]uint64{{99, 0, 0}}, out: [][3]uint64{{99, 0, 0}}}, errno.EINVAL},
		{"FENCE_FD_IN not a sync_file", fd, exec{flags: VIRTGPU_EXECBUF_FENCE_FD_IN, fenceFd: null}, errno.EINVAL},
		{"huge BO count", fd, exec{numBo: 0x7fffffff, boAddr: bad}, errno.ENOMEM},
		{"huge in count", fd, exec{rawCount: true, numIn: 0x7fffffff, stride: 16, inAddr: bad}, errno.ENOMEM},
		{"huge out count", fd, exec{rawCount: true, numOut: 0x7fffffff, stride: 16, outAddr: bad}, errno.ENOMEM},
		// 3 MiB does not fit the driver's 2 MiB arena: refused at the copy
		// step, before the (unmapped) command is even read.
		{"command larger than the arena", fd, exec{cmd: make([]byte, 3<<20), cmdAddr: bad}, errno.ENOMEM},
		// With FENCE_FD_OUT the fd is reserved early: every later failure
		// must give it back and leave fence_fd as passed.
		{"FENCE_FD_OUT then out-syncobj unknown", fd, exec{flags: VIRTGPU_EXECBUF_FENCE_FD_OUT, fenceFd: -7, out: [][3]uint64{{99, 0, 0}}}, errno.EINVAL},
		{"FENCE_FD_OUT then in-syncobj unknown", fd, exec{flags: VIRTGPU_EXECBUF_FENCE_FD_OUT, fenceFd: -7, in: [][3]uint64{{99, 0, 0}}}, errno.ENOENT},
		{"FENCE_FD_OUT then FENCE_FD_IN bad", fd, exec{flags: VIRTGPU_EXECBUF_FENCE_FD_OUT | VIRTGPU_EXECBUF_FENCE_FD_IN, fenceFd: null}, errno.EINVAL},
	}
	for _, tt := range tests {
		before := m.snapshot()
		e, fenceFd := m.execbuf(tt.fd, tt.x)
		if e != tt.want {
			t.Errorf("%s: EXECBUFFER = %v; want %v", tt.name, e, tt.want)
		}
		if fenceFd != tt.x.fenceFd {
			t.Errorf("%s: fence_fd written (%d) on failure", tt.name, fenceFd)
		}
		if after := m.snapshot(); after != before {
			t.Errorf("%s: leaked: before %+v, after %+v", tt.name, before, after)
		}
	}
	// EMFILE: the out fd is reserved before the syncobjs are parsed.
	small := &Task{Mem: m.task.Mem, FDs: NewFDTable(1), Ctx: m.task.Ctx, Comm: "small"}
	sfd, _ := m.drv.Open(small, PathRender, O_RDWR)
	outs := m.proc.mem.put(descs([][3]uint64{{99, 0, 0}})) // also bad, but parsed later
	addr := m.proc.mem.put(cat(u32s(VIRTGPU_EXECBUF_FENCE_FD_OUT, 0), u64s(0, 0), u32s(0, 0, 0, 16, 0, 1), u64s(0, outs)))
	if e := m.drv.Ioctl(small, sfd, DRM_IOCTL_VIRTGPU_EXECBUFFER, addr); e != errno.EMFILE {
		t.Errorf("FENCE_FD_OUT with a full fd table = %v; want EMFILE", e)
	}
	small.FDs.CloseAll()
	// Without 3D, EXECBUFFER is ENOSYS before anything else.
	m2 := newMachine(t, device.Config{Features: device.DefaultFeatures &^ (1 << device.VIRTIO_GPU_F_VIRGL)})
	fd3 := m2.open(PathRender)
	if e, _ := m2.execbuf(fd3, exec{flags: 0xff}); e != errno.ENOSYS {
		t.Errorf("EXECBUFFER without 3D = %v; want ENOSYS", e)
	}
	m2.teardown()
	m.teardown()
}

// A submission through the device: in-fence, out-syncobj at a timeline
// point, an out sync_file, RESET of the in-syncobj, and retirement.
func TestExecbufferEndToEnd(t *testing.T) {
	m := newMachine(t, device.Config{Threading: device.WorkerPerRing})
	fd := m.open(PathRender)
	if e := m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_CAPSET_ID, device.VIRTIO_GPU_CAPSET_FENCELAB, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2); e != 0 {
		t.Fatal(e)
	}
	in, out := m.syncobj(fd), m.syncobj(fd)
	m.timelineSignal(fd, in, 1)
	e, fenceFd := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX | VIRTGPU_EXECBUF_FENCE_FD_OUT, ring: 1, cmd: work(2_000_000),
		in: [][3]uint64{{uint64(in), VIRTGPU_EXECBUF_SYNCOBJ_RESET, 1}}, out: [][3]uint64{{uint64(out), 0, 7}}})
	if e != 0 || fenceFd < 0 {
		t.Fatalf("EXECBUFFER = %v, fence_fd %d", e, fenceFd)
	}
	// The in-syncobj was reset after the submit; the out point exists but has not signalled.
	if q := m.query(fd, in); q != 0 {
		t.Errorf("in-syncobj QUERY after RESET = %d; want 0", q)
	}
	f, ok := fence.SyncFileFence(m.task.FDs, fenceFd)
	if !ok || f.IsSignaled() || f.Seqno() == 0 {
		t.Fatalf("out fence: ok %v, signalled %v, seqno %d; want pending with its fence id", ok, f.IsSignaled(), f.Seqno())
	}
	if q := m.query(fd, out); q != 0 {
		t.Errorf("out QUERY before the device ran = %d; want 0", q)
	}
	m.run()
	if !f.IsSignaled() {
		t.Error("out fence not signalled after the device retired it")
	}
	if q := m.query(fd, out); q != 7 {
		t.Errorf("out QUERY = %d; want 7", q)
	}
	if now := m.clock.Now(); now != 1_000_000_000+2_000_000 {
		t.Errorf("retired at %d; want the 2 ms of modelled work after start", now)
	}
	m.teardown()
}

// In-fences of the submission's own ring are left to the host; others are
// waited in the guest (kernel-semantics §2.3).
func TestExecbufferSameContextSkip(t *testing.T) {
	m, mu := newLockedMachine(t, device.Config{Threading: device.WorkerPerRing})
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2)
	s := m.syncobj(fd)
	submit := func(ring uint32, x exec) (errno.Errno, int32) {
		x.flags |= VIRTGPU_EXECBUF_RING_IDX
		x.ring = ring
		return m.execbuf(fd, x)
	}
	// A: 5 ms on ring 0, out → s.
	if e, _ := submit(0, exec{cmd: work(5_000_000), out: [][3]uint64{{uint64(s), 0, 0}}}); e != 0 {
		t.Fatal(e)
	}
	// B on ring 0 waiting for s: same context, not waited in the guest.
	if e, _ := submit(0, exec{in: [][3]uint64{{uint64(s), 0, 0}}}); e != 0 {
		t.Fatalf("same-ring submit = %v", e)
	}
	// C on ring 1 waiting for s: blocks until the device retires A.
	done := make(chan errno.Errno, 1)
	go func() {
		e, _ := submit(1, exec{in: [][3]uint64{{uint64(s), 0, 0}}})
		done <- e
	}()
	// It must still be waiting a while later (if it were not waiting, it
	// would have returned within microseconds).
	select {
	case e := <-done:
		t.Fatalf("cross-ring submit returned (%v) before its in-fence signalled", e)
	case <-time.After(20 * time.Millisecond):
	}
	m.runLocked(mu)
	if e := <-done; e != 0 {
		t.Errorf("cross-ring submit = %v after the in-fence signalled", e)
	}
	m.runLocked(mu)
	m.teardown()
}

// With host waits on, an in-fence from another ring is not waited in the
// guest: the submission returns at once, and the device holds its job
// until the other ring's fence retires (the seed's announced next step).
// An in-fence that is not the device's (sw_sync) is still waited in the
// guest.
func TestExecbufferHostWaits(t *testing.T) {
	m := newMachine(t, device.Config{Threading: device.WorkerPerRing})
	m.drv.SetHostWaits(true)
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2)
	s, done := m.syncobj(fd), m.syncobj(fd)
	start := m.clock.Now()
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 0, cmd: work(5_000_000), out: [][3]uint64{{uint64(s), 0, 0}}}); e != 0 {
		t.Fatal(e)
	}
	// This would block without host waits (TestExecbufferSameContextSkip).
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, ring: 1, cmd: work(1_000_000),
		in: [][3]uint64{{uint64(s), 0, 0}}, out: [][3]uint64{{uint64(done), 0, 1}}}); e != 0 {
		t.Fatalf("cross-ring submit with host waits = %v", e)
	}
	m.run()
	if q := m.query(fd, done); q != 1 {
		t.Fatalf("second submission's point = %d; want 1", q)
	}
	// Its job started only when ring 0's fence retired, at 5 ms.
	var ring1Start int64 = -1
	for _, e := range m.rec.Of(timeline.JobEnd) {
		if e.RingIdx == 1 {
			ring1Start = e.Time - 1_000_000
		}
	}
	if ring1Start != start+5_000_000 {
		t.Errorf("ring 1's job ran from %d; want from %d, when ring 0 retired", ring1Start-start, 5_000_000)
	}
	m.teardown()
}

// The control queue has room for about 85 requests; more submissions wait
// for the device to answer some, and none fails (the kernel's step 10
// cannot fail).
func TestExecbufferWaitsForQueueRoom(t *testing.T) {
	m, mu := newLockedMachine(t, device.Config{})
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 1)
	s := m.syncobj(fd)
	const n = 200
	done := make(chan errno.Errno, 1)
	go func() {
		for i := range n {
			e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX, cmd: work(1_000_000), out: [][3]uint64{{uint64(s), 0, uint64(i + 1)}}})
			if e != 0 {
				done <- e
				return
			}
		}
		done <- 0
	}()
	for {
		select {
		case e := <-done:
			if e != 0 {
				t.Fatalf("a submission failed: %v", e)
			}
			m.runLocked(mu)
			if q := m.query(fd, s); q != n {
				t.Errorf("QUERY = %d; want %d", q, n)
			}
			m.teardown()
			return
		default:
			m.runLocked(mu)
			time.Sleep(time.Millisecond)
		}
	}
}

// RESET happens in cleanup: after a failure that comes once the
// in-syncobjs are parsed (a bad FENCE_FD_IN), the syncobj is reset even
// though nothing was submitted; and when a syncobj is both an out-syncobj
// and a RESET in-syncobj, the reset wins (kernel-semantics §2.4).
func TestExecbufferResetInCleanup(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	null := m.open(PathNull)
	s := m.syncobj(fd)
	m.timelineSignal(fd, s, 1)
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_FENCE_FD_IN, fenceFd: null,
		in: [][3]uint64{{uint64(s), VIRTGPU_EXECBUF_SYNCOBJ_RESET, 1}}}); e != errno.EINVAL {
		t.Fatalf("EXECBUFFER with a bad FENCE_FD_IN = %v; want EINVAL", e)
	}
	obj := m.fileOf(fd).syncobjs.Find(s)
	if obj.Fence() != nil {
		t.Error("RESET did not happen in cleanup after a failure past the in-syncobjs")
	}
	obj.Put()
	m.timelineSignal(fd, s, 1)
	if e, _ := m.execbuf(fd, exec{in: [][3]uint64{{uint64(s), VIRTGPU_EXECBUF_SYNCOBJ_RESET, 1}}, out: [][3]uint64{{uint64(s), 0, 0}}}); e != 0 {
		t.Fatalf("EXECBUFFER = %v", e)
	}
	obj = m.fileOf(fd).syncobjs.Find(s)
	if obj.Fence() != nil {
		t.Error("out-syncobj that is also a RESET in-syncobj kept a fence; the reset must win")
	}
	obj.Put()
	m.run()
	m.teardown()
}

// A submission on a poll ring delivers a VIRTGPU_EVENT_FENCE_SIGNALED
// event when its fence signals; events take space from the file's 4096
// bytes until read, and a submission that cannot reserve one is ENOMEM.
func TestExecbufferPollRingEvents(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	if e := m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 1, VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, 1); e != 0 {
		t.Fatal(e)
	}
	f := m.fileOf(fd)
	if _, e := f.ReadEvents(64); e != errno.EAGAIN {
		t.Errorf("read with no event = %v; want EAGAIN", e)
	}
	for i := range eventSpace / drmEventSize {
		if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX}); e != 0 {
			t.Fatalf("submission %d = %v", i, e)
		}
	}
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX}); e != errno.ENOMEM {
		t.Errorf("submission past the event budget = %v; want ENOMEM", e)
	}
	m.run()
	ev, e := f.ReadEvents(16)
	if e != 0 || len(ev) != 16 || le32(ev, 0) != VIRTGPU_EVENT_FENCE_SIGNALED || le32(ev, 1) != drmEventSize {
		t.Fatalf("ReadEvents(16) = % x, %v; want two 8-byte fence events", ev, e)
	}
	if e, _ := m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX}); e != 0 {
		t.Errorf("submission after reading two events = %v; want room again", e)
	}
	m.run()
	m.teardown()
}

// fileOf returns the DRM file behind fd.
func (m *testMachine) fileOf(fd int32) *File {
	m.t.Helper()
	f, e := m.task.FDs.Get(fd)
	if e != 0 {
		m.t.Fatalf("fd %d: %v", fd, e)
	}
	f.DecRef()
	return f.(*File)
}

// GET_CAPS (kernel-semantics §1.7) against the device's one capset.
func TestGetCaps(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	buf := m.proc.mem.put(make([]byte, 64))
	caps := func(id, ver, size uint32, addr uint64) errno.Errno {
		e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, cat(u32s(id, ver), u64s(addr), u32s(size, 0)))
		return e
	}
	fl := uint32(device.VIRTIO_GPU_CAPSET_FENCELAB)
	tests := []struct {
		name          string
		id, ver, size uint32
		addr          uint64
		want          errno.Errno
	}{
		{"size 0", fl, 1, 0, buf, errno.EINVAL},
		{"capset not advertised", 1, 0, 64, buf, errno.EINVAL},
		{"version past the maximum", fl, 2, 64, buf, errno.EINVAL},
		{"bad address", fl, 1, 64, 0x10, errno.EFAULT},
		{"ok", fl, 1, 64, buf, 0},
		{"ok, from the cache", fl, 1, 3, buf, 0},
	}
	for _, tt := range tests {
		if e := caps(tt.id, tt.ver, tt.size, tt.addr); e != tt.want {
			t.Errorf("%s: GET_CAPS = %v; want %v", tt.name, e, tt.want)
		}
	}
	// min(size, max_size) bytes were copied: the magic, then the version.
	if got := m.proc.mem.get(buf, 8); string(got[:4]) != "FLAB" || le32(got, 1) != 1 {
		t.Errorf("capset bytes % x; want FLAB and version 1", got)
	}
	gets := m.requests(device.VIRTIO_GPU_CMD_GET_CAPSET)
	// The bad-address call fetched and cached the capset before its copy
	// failed (the kernel's cache entry is made first); the cache served
	// both later calls.
	if gets != 1 {
		t.Errorf("the device saw %d GET_CAPSET; want exactly 1", gets)
	}
	m.teardown()
}

// A DRM file polls readable while events wait to be read.
func TestDRMFilePoll(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 1, VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, 1)
	f := m.fileOf(fd)
	if f.Poll()&POLLIN != 0 {
		t.Error("POLLIN with no event")
	}
	m.execbuf(fd, exec{flags: VIRTGPU_EXECBUF_RING_IDX})
	m.run()
	if f.Poll()&POLLIN == 0 {
		t.Error("no POLLIN with an event waiting")
	}
	f.ReadEvents(8)
	if f.Poll()&POLLIN != 0 {
		t.Error("POLLIN after the event was read")
	}
	m.teardown()
}
