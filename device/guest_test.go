package device

import (
	"encoding/binary"
	"fmt"
	"testing"

	"fencelab/timeline"
	"fencelab/virtio"
)

// testGuest is a stand-in for the guest driver: it negotiates features,
// lays out both virtqueues in guest memory with virtio.DriverQueue, and
// sends requests as a Linux guest would, one descriptor chain each (the
// request readable, the response writable).
type testGuest struct {
	t      testing.TB
	mem    *virtio.Memory
	dev    *Device
	ctrl   *virtio.DriverQueue
	cursor *virtio.DriverQueue
	rec    *timeline.Recorder
	irqs   []int
	next   uint64 // bump allocator over guest memory
	now    int64
}

const guestMemSize = 16 << 20

func newGuest(t testing.TB, cfg Config) *testGuest {
	t.Helper()
	return newGuestSized(t, cfg, guestMemSize)
}

// newGuestSized is newGuest with size bytes of guest memory.
func newGuestSized(t testing.TB, cfg Config, size int) *testGuest {
	t.Helper()
	g := &testGuest{t: t, mem: virtio.NewMemory(size), rec: &timeline.Recorder{}, next: 0x1000}
	if cfg.Sink == nil {
		cfg.Sink = g.rec
	}
	cfg.Interrupt = func(q int) { g.irqs = append(g.irqs, q) }
	dev, err := New(g.mem, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.dev = dev
	dev.SetStatus(virtio.VIRTIO_CONFIG_S_ACKNOWLEDGE | virtio.VIRTIO_CONFIG_S_DRIVER)
	dev.SetDriverFeatures(dev.DeviceFeatures())
	dev.SetStatus(dev.Status() | virtio.VIRTIO_CONFIG_S_FEATURES_OK)
	if dev.Status()&virtio.VIRTIO_CONFIG_S_FEATURES_OK == 0 {
		t.Fatal("device refused FEATURES_OK for the features it offered")
	}
	g.ctrl = g.queue(ControlQ, 64)
	g.cursor = g.queue(CursorQ, 16)
	dev.SetStatus(dev.Status() | virtio.VIRTIO_CONFIG_S_DRIVER_OK)
	return g
}

// queue lays out and registers queue q of size n.
func (g *testGuest) queue(q int, n uint16) *virtio.DriverQueue {
	g.t.Helper()
	l := virtio.Layout{Size: n, Desc: g.alloc(uint64(n) * virtio.DescSize),
		Avail: g.alloc(virtio.AvailBytes(n)), Used: g.alloc(virtio.UsedBytes(n))}
	dq, err := virtio.NewDriverQueue(g.mem, l, g.dev.Negotiated())
	if err != nil {
		g.t.Fatalf("NewDriverQueue: %v", err)
	}
	if err := g.dev.SetQueue(q, l); err != nil {
		g.t.Fatalf("SetQueue(%d): %v", q, err)
	}
	return dq
}

// alloc returns n bytes of guest memory, 16-byte aligned.
func (g *testGuest) alloc(n uint64) uint64 {
	a := (g.next + 15) &^ 15
	if a+n > g.mem.Len() {
		g.t.Fatalf("guest memory exhausted")
	}
	g.next = a + n
	return a
}

// put copies b into fresh guest memory and returns its address.
func (g *testGuest) put(b []byte) uint64 {
	a := g.alloc(uint64(len(b)))
	g.mem.Write(a, b)
	return a
}

// send makes req available on the controlq with respCap bytes for the
// response, without kicking; it returns the chain head and response address.
func (g *testGuest) send(req []byte, respCap uint32) (uint16, uint64) {
	g.t.Helper()
	resp := g.alloc(uint64(respCap))
	head, err := g.ctrl.Add([]virtio.Buf{{Addr: g.put(req), Len: uint32(len(req))}},
		[]virtio.Buf{{Addr: resp, Len: respCap}})
	if err != nil {
		g.t.Fatalf("Add: %v", err)
	}
	return head, resp
}

// kick publishes the controlq and notifies the device.
func (g *testGuest) kick() {
	g.ctrl.Kick()
	g.dev.Kick(ControlQ, g.now)
}

// used pops one used element of the controlq.
func (g *testGuest) used() (uint16, uint32, bool) {
	g.t.Helper()
	head, n, ok, err := g.ctrl.PopUsed()
	if err != nil {
		g.t.Fatalf("PopUsed: %v", err)
	}
	return head, n, ok
}

// do sends one request, kicks, and returns the response bytes the device
// wrote. The request must complete at once.
func (g *testGuest) do(req []byte) []byte {
	g.t.Helper()
	head, addr := g.send(req, 2048)
	g.kick()
	h, n, ok := g.used()
	if !ok || h != head {
		g.t.Fatalf("request %#x: no response (used %d, %v; want head %d)", le.Uint32(req), h, ok, head)
	}
	out := make([]byte, n)
	g.mem.Read(addr, out)
	return out
}

// respType sends req and returns the response type.
func (g *testGuest) respType(req []byte) uint32 {
	g.t.Helper()
	resp := g.do(req)
	if len(resp) < CtrlHdrSize {
		g.t.Fatalf("request %#x: response of %d bytes", le.Uint32(req), len(resp))
	}
	return le.Uint32(resp)
}

// req builds a request: a header, then little-endian fields.
type req struct{ b []byte }

func cmd(typ uint32) *req {
	r := &req{b: make([]byte, CtrlHdrSize)}
	le.PutUint32(r.b, typ)
	return r
}

func (r *req) fence(id uint64) *req {
	le.PutUint32(r.b[4:], le.Uint32(r.b[4:])|VIRTIO_GPU_FLAG_FENCE)
	le.PutUint64(r.b[8:], id)
	return r
}

func (r *req) ctx(id uint32) *req { le.PutUint32(r.b[16:], id); return r }

func (r *req) ring(idx uint8) *req {
	le.PutUint32(r.b[4:], le.Uint32(r.b[4:])|VIRTIO_GPU_FLAG_INFO_RING_IDX)
	r.b[20] = idx
	return r
}

func (r *req) u32(vs ...uint32) *req {
	for _, v := range vs {
		r.b = binary.LittleEndian.AppendUint32(r.b, v)
	}
	return r
}

func (r *req) u64(v uint64) *req { r.b = binary.LittleEndian.AppendUint64(r.b, v); return r }

func (r *req) raw(b []byte) *req { r.b = append(r.b, b...); return r }

func (r *req) bytes() []byte { return r.b }

// create2D makes a resource and attaches one contiguous backing of the
// right size, returning the backing's address.
func (g *testGuest) create2D(id, format, w, h uint32) uint64 {
	g.t.Helper()
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(id, format, w, h).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		g.t.Fatalf("RESOURCE_CREATE_2D(%d) = %#x", id, got)
	}
	size := uint32(w * h * 4)
	addr := g.alloc(uint64(size))
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(id, 1).u64(addr).u32(size, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		g.t.Fatalf("RESOURCE_ATTACH_BACKING(%d) = %#x", id, got)
	}
	return addr
}

func respName(t uint32) string {
	names := map[uint32]string{
		VIRTIO_GPU_RESP_OK_NODATA: "OK_NODATA", VIRTIO_GPU_RESP_OK_DISPLAY_INFO: "OK_DISPLAY_INFO",
		VIRTIO_GPU_RESP_OK_CAPSET_INFO: "OK_CAPSET_INFO", VIRTIO_GPU_RESP_OK_CAPSET: "OK_CAPSET",
		VIRTIO_GPU_RESP_OK_EDID: "OK_EDID", VIRTIO_GPU_RESP_ERR_UNSPEC: "ERR_UNSPEC",
		VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY: "ERR_OUT_OF_MEMORY", VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID: "ERR_INVALID_SCANOUT_ID",
		VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID: "ERR_INVALID_RESOURCE_ID", VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID: "ERR_INVALID_CONTEXT_ID",
		VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER: "ERR_INVALID_PARAMETER",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("resp(%#x)", t)
}
