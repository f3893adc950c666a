package drm

import (
	"runtime"
	"testing"

	"fencelab/device"
	"fencelab/timeline"
	"fencelab/virtio"
)

// testMachine is a driver and a device joined by real virtqueues in guest
// memory, on a manual clock, with one guest process.
type testMachine struct {
	*proc
	mem *virtio.Memory
	dev *device.Device
	rec *timeline.Recorder
}

// transport is the machine's glue: device registers, and notifications
// delivered at the clock's time.
type transport struct {
	*device.Device
	m *testMachine
}

func (t transport) Notify(q int) { t.Device.Kick(q, t.m.clock.Now()) }

const (
	machineMem = 32 << 20
	arenaBase  = 1 << 20
	arenaSize  = 2 << 20
)

func newMachine(t testing.TB, cfg device.Config) *testMachine {
	t.Helper()
	return newMachineSized(t, cfg, machineMem)
}

// newMachineSized is newMachine with size bytes of guest memory (at
// least arenaBase+arenaSize).
func newMachineSized(t testing.TB, cfg device.Config, size int) *testMachine {
	t.Helper()
	return newMachineWith(t, cfg, size, func(tr Transport) Transport { return tr })
}

// newMachineWith builds a machine whose driver reaches the device through
// wrap(the plain transport).
func newMachineWith(t testing.TB, cfg device.Config, size int, wrap func(Transport) Transport) *testMachine {
	t.Helper()
	return newMachineArena(t, cfg, size, arenaSize, wrap)
}

// newMachineArena is newMachineWith with an arena (the driver's guest
// memory for requests and GEM backing) of arena bytes.
func newMachineArena(t testing.TB, cfg device.Config, size int, arena uint64, wrap func(Transport) Transport) *testMachine {
	t.Helper()
	m := &testMachine{proc: newProc(t), mem: virtio.NewMemory(size), rec: &timeline.Recorder{}}
	if cfg.Sink == nil {
		cfg.Sink = m.rec
	}
	cfg.Interrupt = func(q int) { m.drv.Interrupt(q) }
	dev, err := device.New(m.mem, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.dev = dev
	if err := m.drv.Probe(wrap(transport{dev, m}), m.mem, arenaBase, arena); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if m.drv.gpu != nil {
		m.snap = m.snapshot
	}
	return m
}

// requests counts the device's requests of command cmd so far.
func (m *testMachine) requests(cmd uint32) int {
	n := 0
	for _, e := range m.rec.Of(timeline.Request) {
		if e.Cmd == cmd {
			n++
		}
	}
	return n
}

// run advances virtual time until the device has nothing left to do.
func (m *testMachine) run() {
	for range 100_000 {
		next, ok := m.dev.NextEvent()
		if !ok {
			return
		}
		m.clock.AdvanceTo(next)
		m.dev.Advance(next)
	}
	m.t.Fatal("the device never went idle")
}

func TestProbe(t *testing.T) {
	m := newMachine(t, device.Config{})
	g := m.drv.gpu
	if !g.has(device.VIRTIO_GPU_F_VIRGL) || !g.has(device.VIRTIO_GPU_F_CONTEXT_INIT) {
		t.Errorf("negotiated %#x; want VIRGL and CONTEXT_INIT", g.features)
	}
	if len(g.capsets) != 1 || g.capsets[0].id != device.VIRTIO_GPU_CAPSET_FENCELAB || g.capsets[0].maxVersion != 1 {
		t.Errorf("capsets = %+v; want fencelab's", g.capsets)
	}
	if g.scanouts != 1 {
		t.Errorf("scanouts = %d; want 1", g.scanouts)
	}
	if n := g.alloc.inUse(); n == 0 {
		t.Error("the queues take no guest memory?")
	}
	before := g.alloc.inUse()
	// A synchronous request frees its buffers once answered.
	var got uint32
	if e := g.sync(nil, cmdBuf(device.VIRTIO_GPU_CMD_GET_DISPLAY_INFO, nil), 408, func(r []byte) { got = le.Uint32(r) }); e != 0 || got != device.VIRTIO_GPU_RESP_OK_DISPLAY_INFO {
		t.Errorf("GET_DISPLAY_INFO = %v, %#x", e, got)
	}
	if after := g.alloc.inUse(); after != before {
		t.Errorf("guest memory in use went from %d to %d bytes", before, after)
	}
}

func TestGuestAlloc(t *testing.T) {
	a := newGuestAlloc(0x1003, 0x1000)
	x, _ := a.get(10)
	y, _ := a.get(100)
	z, _ := a.get(1)
	if x != 0x1010 || y != 0x1020 || z != 0x1090 {
		t.Fatalf("allocations at %#x %#x %#x", x, y, z)
	}
	a.put(y)
	if w, _ := a.get(50); w != y {
		t.Errorf("first fit = %#x; want %#x", w, y)
	}
	a.put(x)
	a.put(z)
	if _, ok := a.get(0x1000); ok {
		t.Error("allocated more than the arena")
	}
	a.put(y)
	if n := a.inUse(); n != 0 {
		t.Errorf("in use after freeing everything: %d", n)
	}
	if w, ok := a.get(0xff0); !ok || w != 0x1010 {
		t.Errorf("after freeing everything, the whole arena = %#x, %v", w, ok)
	}
}

// silentTransport never tells the device about new requests.
type silentTransport struct{ transport }

func (silentTransport) Notify(int) {}

// A device that never answers GET_CAPSET_INFO does not hang the probe: it
// gives up after 5 s of virtual time and carries on without capsets.
func TestProbeCapsetTimeout(t *testing.T) {
	p := newProc(t)
	mem := virtio.NewMemory(machineMem)
	dev, err := device.New(mem, device.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := &testMachine{proc: p, mem: mem, dev: dev}
	done := make(chan error, 1)
	go func() { done <- p.drv.Probe(silentTransport{transport{dev, m}}, mem, arenaBase, arenaSize) }()
	// Each wait (the capsets, then the display info) gives up after 5 s.
	err = nil
wait:
	for {
		select {
		case err = <-done:
			break wait
		default:
		}
		if p.clock.Pending() > 0 {
			p.clock.Advance(capsReplyTimeout)
		}
		yieldGoroutine()
	}
	if err != nil {
		t.Fatalf("Probe = %v; want it to carry on", err)
	}
	if n := len(p.drv.gpu.capsets); n != 0 {
		t.Errorf("%d capsets after the timeout; want none", n)
	}
	if _, e := p.getParam(p.open(PathRender), VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs); e != 0 {
		t.Errorf("GETPARAM after a capset timeout = %v", e)
	}
}

func yieldGoroutine() { runtime.Gosched() }
