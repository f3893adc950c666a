package device

import (
	"encoding/binary"
	"reflect"
	"testing"

	"fencelab/timeline"
)

const ms = int64(1_000_000)

// stream builds a SUBMIT_3D command stream for fencelab's capset.
type stream []byte

func (s stream) op(code uint16, args ...uint32) stream {
	s = binary.LittleEndian.AppendUint32(s, uint32(code)|uint32(len(args))<<16)
	for _, a := range args {
		s = binary.LittleEndian.AppendUint32(s, a)
	}
	return s
}

func (s stream) work(ns int64) stream {
	return s.op(OpWork, uint32(ns), uint32(uint64(ns)>>32))
}

func (s stream) wait(ctx uint32, ring uint8, fence uint64) stream {
	return s.op(OpWait, ctx, uint32(ring), uint32(fence), uint32(fence>>32))
}

// submit builds a SUBMIT_3D request around s.
func submit(s stream) *req { return cmd(VIRTIO_GPU_CMD_SUBMIT_3D).u32(uint32(len(s)), 0).raw(s) }

// ctxCreate creates context id with the default capset.
func (g *testGuest) ctxCreate(id uint32) {
	g.t.Helper()
	name := make([]byte, 64)
	copy(name, "test")
	if got := g.respType(cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(id).u32(4, 0).raw(name).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		g.t.Fatalf("CTX_CREATE(%d) = %s", id, respName(got))
	}
}

// answered collects (fence id, response type, time) as requests come back.
type answer struct {
	fence uint64
	resp  uint32
	at    int64
}

// drain pops every used element and returns the answers in order.
func (g *testGuest) drain(heads map[uint16]uint64, addrs map[uint16]uint64) []answer {
	var out []answer
	for {
		h, _, ok := g.used()
		if !ok {
			return out
		}
		var hdr CtrlHdr
		b := make([]byte, CtrlHdrSize)
		g.mem.Read(addrs[h], b)
		hdr.Unmarshal(b)
		out = append(out, answer{fence: heads[h], resp: hdr.Type, at: g.dev.now})
		if hdr.FenceID != heads[h] {
			g.t.Errorf("response for head %d echoes fence %d; want %d", h, hdr.FenceID, heads[h])
		}
	}
}

// run sends the fenced requests (each with its fence id) in one kick and
// runs the device until it is idle, collecting answers as virtual time
// passes.
func (g *testGuest) run(reqs []*req, fences []uint64) []answer {
	g.t.Helper()
	heads, addrs := map[uint16]uint64{}, map[uint16]uint64{}
	for i, r := range reqs {
		h, a := g.send(r.fence(fences[i]).bytes(), 64)
		heads[h], addrs[h] = fences[i], a
	}
	g.kick()
	out := g.drain(heads, addrs)
	for range 1000 {
		t, ok := g.dev.NextEvent()
		if !ok {
			break
		}
		g.dev.Advance(t)
		out = append(out, g.drain(heads, addrs)...)
	}
	return out
}

// Retirement order: each (context, ring) is its own timeline under
// INFO_RING_IDX, and the threading model decides what overlaps.
func TestRetirementAcrossRingsAndThreading(t *testing.T) {
	tests := []struct {
		threading Threading
		want      []answer
	}{
		// Ring 0's 5 ms job and ring 1's 1 ms job share one worker: in order.
		{OneWorker, []answer{{1, VIRTIO_GPU_RESP_OK_NODATA, 5 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 6 * ms}}},
		{WorkerPerContext, []answer{{1, VIRTIO_GPU_RESP_OK_NODATA, 5 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 6 * ms}}},
		// One worker per ring: they overlap and ring 1 finishes first.
		{WorkerPerRing, []answer{{2, VIRTIO_GPU_RESP_OK_NODATA, 1 * ms}, {1, VIRTIO_GPU_RESP_OK_NODATA, 5 * ms}}},
	}
	for _, tt := range tests {
		t.Run(tt.threading.String(), func(t *testing.T) {
			g := newGuest(t, Config{Threading: tt.threading})
			g.ctxCreate(1)
			got := g.run([]*req{
				submit(stream{}.work(5 * ms)).ctx(1).ring(0),
				submit(stream{}.work(1 * ms)).ctx(1).ring(1),
			}, []uint64{1, 2})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("answers = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// Without INFO_RING_IDX every context shares the global timeline, which
// retires in order: a fast context's fence waits behind a slow one's even
// on separate workers. With per-ring timelines it does not.
func TestGlobalTimelineHeadOfLine(t *testing.T) {
	for _, ringed := range []bool{false, true} {
		g := newGuest(t, Config{Threading: WorkerPerContext})
		g.ctxCreate(1)
		g.ctxCreate(2)
		slow, fast := submit(stream{}.work(5*ms)).ctx(1), submit(stream{}.work(1*ms)).ctx(2)
		if ringed {
			slow, fast = slow.ring(0), fast.ring(0)
		}
		got := g.run([]*req{slow, fast}, []uint64{1, 2})
		want := []answer{{1, VIRTIO_GPU_RESP_OK_NODATA, 5 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 5 * ms}}
		if ringed {
			want = []answer{{2, VIRTIO_GPU_RESP_OK_NODATA, 1 * ms}, {1, VIRTIO_GPU_RESP_OK_NODATA, 5 * ms}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ringed=%v: answers = %+v; want %+v", ringed, got, want)
		}
		// The fast job itself ended at 1 ms either way.
		for _, e := range g.rec.Of(timeline.JobEnd) {
			if e.CtxID == 2 && e.Time != 1*ms {
				t.Errorf("ringed=%v: context 2's job ended at %d; want %d", ringed, e.Time, 1*ms)
			}
		}
	}
}

// A retirement answers every parked request on the timeline with a
// fence id ≤ the retired one, even one whose own job is not done yet.
func TestRetireAnswersLowerFenceIDs(t *testing.T) {
	g := newGuest(t, Config{Threading: WorkerPerContext})
	g.ctxCreate(1)
	g.ctxCreate(2)
	got := g.run([]*req{
		submit(stream{}.work(1 * ms)).ctx(1).ring(0), // fence 10, done at 1 ms
		submit(stream{}.work(9 * ms)).ctx(2).ring(0), // another timeline
		submit(stream{}.work(3 * ms)).ctx(1).ring(0), // fence 5 on ctx 1 ring 0: answered with 10
	}, []uint64{10, 20, 5})
	want := []answer{{10, VIRTIO_GPU_RESP_OK_NODATA, 1 * ms}, {5, VIRTIO_GPU_RESP_OK_NODATA, 1 * ms}, {20, VIRTIO_GPU_RESP_OK_NODATA, 9 * ms}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answers = %+v; want %+v", got, want)
	}
}

// A host-side WAIT holds a job until another timeline reaches the fence.
func TestHostSideWait(t *testing.T) {
	g := newGuest(t, Config{Threading: WorkerPerRing})
	g.ctxCreate(1)
	got := g.run([]*req{
		submit(stream{}.work(3 * ms)).ctx(1).ring(0),
		submit(stream{}.wait(1, 0, 1).work(1 * ms)).ctx(1).ring(1),
	}, []uint64{1, 2})
	want := []answer{{1, VIRTIO_GPU_RESP_OK_NODATA, 3 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 4 * ms}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answers = %+v; want %+v", got, want)
	}
}

func TestFaults(t *testing.T) {
	two := func() []*req {
		return []*req{
			submit(stream{}.work(1 * ms)).ctx(1).ring(0),
			submit(stream{}.work(1 * ms)).ctx(1).ring(0),
		}
	}
	tests := []struct {
		name  string
		fault Fault
		want  []answer
	}{
		{"delay", Fault{Ctx: 1, Kind: FaultDelay, Delay: 2 * ms, Count: 1},
			[]answer{{1, VIRTIO_GPU_RESP_OK_NODATA, 3 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 4 * ms}}},
		{"error", Fault{Ctx: 1, Kind: FaultError, Count: 1},
			[]answer{{1, VIRTIO_GPU_RESP_ERR_UNSPEC, 1 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 2 * ms}}},
		// The first request is never returned; the second retires past it.
		{"drop", Fault{Ctx: 1, Kind: FaultDrop, Count: 1},
			[]answer{{2, VIRTIO_GPU_RESP_OK_NODATA, 2 * ms}}},
		// The first job never ends; nothing after it on the worker runs.
		{"hang", Fault{Ctx: 1, Kind: FaultHang, Count: 1}, nil},
		// A fault on another ring changes nothing here.
		{"other ring", Fault{Ctx: 1, Ring: 1, Kind: FaultHang},
			[]answer{{1, VIRTIO_GPU_RESP_OK_NODATA, 1 * ms}, {2, VIRTIO_GPU_RESP_OK_NODATA, 2 * ms}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuest(t, Config{Faults: []Fault{tt.fault}})
			g.ctxCreate(1)
			got := g.run(two(), []uint64{1, 2})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("answers = %+v; want %+v", got, tt.want)
			}
			if tt.name == "drop" && len(g.dev.Dropped()) != 1 {
				t.Errorf("Dropped() = %v; want one head", g.dev.Dropped())
			}
			if tt.name == "hang" {
				if _, ok := g.dev.NextEvent(); ok {
					t.Error("a hung device still reports a next event")
				}
			}
		})
	}
}

// Each fault applied to a job is a FaultInjected event naming the job
// (its context, ring, fence id and worker) and the fault; a job takes at
// most one fault besides delays, and the others are not applied.
func TestFaultEvents(t *testing.T) {
	ev := func(id uint64, k FaultKind) timeline.Event {
		return timeline.Event{Kind: timeline.FaultInjected, CtxID: 1, FenceID: id, Fault: uint8(k)}
	}
	tests := []struct {
		name   string
		faults []Fault
		want   []timeline.Event
	}{
		{"error once", []Fault{{Ctx: 1, Kind: FaultError, Count: 1}}, []timeline.Event{ev(1, FaultError)}},
		{"delay always", []Fault{{Ctx: 1, Kind: FaultDelay, Delay: ms}}, []timeline.Event{ev(1, FaultDelay), ev(2, FaultDelay)}},
		{"delay and drop", []Fault{{Ctx: 1, Kind: FaultDelay, Delay: ms, Count: 1}, {Ctx: 1, Kind: FaultDrop, Count: 1}},
			[]timeline.Event{ev(1, FaultDelay), ev(1, FaultDrop)}},
		{"one kind a job", []Fault{{Ctx: 1, Kind: FaultError, Count: 1}, {Ctx: 1, Kind: FaultDrop, Count: 2}},
			[]timeline.Event{ev(1, FaultError), ev(2, FaultDrop)}},
		{"other ring", []Fault{{Ctx: 1, Ring: 1, Kind: FaultHang}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuest(t, Config{Faults: tt.faults})
			g.ctxCreate(1)
			g.run([]*req{submit(stream{}.work(ms)).ctx(1).ring(0), submit(stream{}.work(ms)).ctx(1).ring(0)}, []uint64{1, 2})
			var got []timeline.Event
			for _, e := range g.rec.Of(timeline.FaultInjected) {
				e.Time = 0
				got = append(got, e)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events %+v; want %+v", got, tt.want)
			}
			if err := g.rec.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func Test3DErrorResponses(t *testing.T) {
	name := make([]byte, 64)
	tests := []struct {
		name string
		req  []byte
		want uint32
	}{
		{"CTX_CREATE ctx 0", cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(0).u32(0, 0).raw(name).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID},
		{"CTX_CREATE exists", cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(1).u32(0, 0).raw(name).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID},
		{"CTX_CREATE other capset", cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(2).u32(0, 1).raw(name).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"CTX_CREATE fencelab capset", cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(3).u32(0, VIRTIO_GPU_CAPSET_FENCELAB).raw(name).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		{"CTX_CREATE short", cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(4).u32(0, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
		{"CTX_DESTROY unknown", cmd(VIRTIO_GPU_CMD_CTX_DESTROY).ctx(9).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID},
		{"CTX_ATTACH unknown ctx", cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE).ctx(9).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID},
		{"CTX_ATTACH unknown resource", cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE).ctx(1).u32(9, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"CTX_ATTACH ok", cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE).ctx(1).u32(1, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		{"CTX_DETACH ok", cmd(VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE).ctx(1).u32(1, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		{"CREATE_3D id exists", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(1, 2, 67, 1, 64, 64, 1, 1, 0, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"CREATE_3D bad target", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(2, 4, 67, 1, 64, 64, 1, 1, 0, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"CREATE_3D depth 2", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(2, 2, 67, 1, 64, 64, 2, 1, 0, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"CREATE_3D bad format", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(2, 2, 5, 1, 64, 64, 1, 1, 0, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"CREATE_3D ok", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(2, 2, 67, 1, 64, 64, 1, 1, 0, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		{"SUBMIT_3D unknown ctx", submit(stream{}.op(OpNop)).ctx(9).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID},
		{"SUBMIT_3D size past payload", cmd(VIRTIO_GPU_CMD_SUBMIT_3D).ctx(1).u32(8, 0).u32(0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SUBMIT_3D bad stream", submit(stream{}.op(0x77)).ctx(1).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SUBMIT_3D ok", submit(stream{}.op(OpNop)).ctx(1).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		{"TRANSFER_FROM_HOST_3D no backing", cmd(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D).ctx(1).u32(0, 0, 0, 64, 64, 1).u64(0).u32(2, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"TRANSFER_FROM_HOST_3D level 1", cmd(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D).ctx(1).u32(0, 0, 0, 64, 64, 1).u64(0).u32(1, 1, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"TRANSFER_FROM_HOST_3D unknown ctx", cmd(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D).ctx(9).u32(0, 0, 0, 64, 64, 1).u64(0).u32(1, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID},
		{"ASSIGN_UUID unknown", cmd(VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID).u32(9, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"ASSIGN_UUID ok", cmd(VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID).u32(1, 0).bytes(), VIRTIO_GPU_RESP_OK_RESOURCE_UUID},
		{"GET_CAPSET unknown", cmd(VIRTIO_GPU_CMD_GET_CAPSET).u32(1, 1).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"GET_CAPSET fencelab", cmd(VIRTIO_GPU_CMD_GET_CAPSET).u32(VIRTIO_GPU_CAPSET_FENCELAB, 1).bytes(), VIRTIO_GPU_RESP_OK_CAPSET},
	}
	g := newGuest(t, Config{})
	g.create2D(1, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 64, 64)
	g.ctxCreate(1)
	for _, tt := range tests {
		if got := g.respType(tt.req); got != tt.want {
			t.Errorf("%s: response %s; want %s", tt.name, respName(got), respName(tt.want))
		}
	}
	// Without VIRGL the 3D commands are unknown.
	g2 := newGuest(t, Config{Features: DefaultFeatures &^ (1 << VIRTIO_GPU_F_VIRGL)})
	if got := g2.respType(cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(1).u32(0, 0).raw(name).bytes()); got != VIRTIO_GPU_RESP_ERR_UNSPEC {
		t.Errorf("CTX_CREATE without VIRGL: %s; want ERR_UNSPEC", respName(got))
	}
}

func TestCapsetInfo(t *testing.T) {
	g := newGuest(t, Config{})
	var cfg [16]byte
	g.dev.ReadConfig(0, cfg[:])
	if n := le.Uint32(cfg[12:]); n != 1 {
		t.Fatalf("num_capsets = %d; want 1", n)
	}
	resp := g.do(cmd(VIRTIO_GPU_CMD_GET_CAPSET_INFO).u32(0, 0).bytes())
	p := resp[CtrlHdrSize:]
	if id, ver, size := le.Uint32(p), le.Uint32(p[4:]), le.Uint32(p[8:]); id != VIRTIO_GPU_CAPSET_FENCELAB || ver != FencelabCapsetVersion || size != 16 {
		t.Errorf("capset info = id %d version %d size %d", id, ver, size)
	}
	resp = g.do(cmd(VIRTIO_GPU_CMD_GET_CAPSET_INFO).u32(1, 0).bytes())
	if le.Uint32(resp) != VIRTIO_GPU_RESP_OK_CAPSET_INFO || le.Uint32(resp[CtrlHdrSize:]) != 0 {
		t.Errorf("capset info past the last: % x; want OK with zeros (QEMU)", resp)
	}
	resp = g.do(cmd(VIRTIO_GPU_CMD_GET_CAPSET).u32(VIRTIO_GPU_CAPSET_FENCELAB, 1).bytes())
	if string(resp[CtrlHdrSize:CtrlHdrSize+4]) != "FLAB" {
		t.Errorf("capset data = % x", resp[CtrlHdrSize:])
	}
}

// Rendering lands in the resource when the job runs, and a later
// TRANSFER_FROM_HOST_3D on the same context reads it into guest memory.
func TestRenderThenTransferFromHost(t *testing.T) {
	g := newGuest(t, Config{})
	g.ctxCreate(1)
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(5, 2, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 1, 8, 4, 1, 1, 0, 0, 0, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("RESOURCE_CREATE_3D = %s", respName(got))
	}
	backing := g.alloc(8 * 4 * 4)
	g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(5, 1).u64(backing).u32(8*4*4, 0).bytes())
	got := g.run([]*req{
		submit(stream{}.op(OpClear, 5, 0x80402010)).ctx(1),
		cmd(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D).ctx(1).u32(0, 0, 0, 8, 4, 1).u64(0).u32(5, 0, 0, 0),
	}, []uint64{1, 2})
	if len(got) != 2 || got[1].resp != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("answers = %+v", got)
	}
	px := make([]byte, 8*4*4)
	g.mem.Read(backing, px)
	for i := 0; i < len(px); i += 4 {
		if px[i] != 0x10 || px[i+1] != 0x20 || px[i+2] != 0x40 || px[i+3] != 0x80 {
			t.Fatalf("guest pixel %d = % x; want 10 20 40 80", i/4, px[i:i+4])
		}
	}
}

// The same requests give the same events, time for time.
func TestDeterministicTimeline(t *testing.T) {
	record := func() []timeline.Event {
		g := newGuest(t, Config{Threading: WorkerPerRing})
		g.ctxCreate(1)
		g.ctxCreate(2)
		g.run([]*req{
			submit(stream{}.work(2 * ms)).ctx(1).ring(0),
			submit(stream{}.wait(1, 0, 1).work(1 * ms)).ctx(2).ring(1),
			submit(stream{}.work(1 * ms)).ctx(1).ring(0),
		}, []uint64{1, 2, 3})
		return g.rec.Events
	}
	a, b := record(), record()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two identical runs recorded different events:\n%+v\n%+v", a, b)
	}
	if len(a) < 10 {
		t.Errorf("only %d events recorded", len(a))
	}
}

// Queued GPU work is capped: past MaxQueued bytes a submission is refused
// with ERR_OUT_OF_MEMORY instead of growing without bound behind a hung
// worker, and room comes back as jobs finish.
func TestQueuedWorkIsCapped(t *testing.T) {
	g := newGuest(t, Config{MaxQueued: 200, Faults: []Fault{{Ctx: 1, Kind: FaultHang, Count: 1}}})
	g.ctxCreate(1)
	s := submit(stream{}.work(ms)).ctx(1).bytes() // 24 + 8 + 12 = 44 bytes
	var got []uint32
	for range 6 {
		got = append(got, g.respType(s))
	}
	want := []uint32{VIRTIO_GPU_RESP_OK_NODATA, VIRTIO_GPU_RESP_OK_NODATA, VIRTIO_GPU_RESP_OK_NODATA,
		VIRTIO_GPU_RESP_OK_NODATA, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("responses = %v; want %v (4 × 44 bytes fit in 200)", got, want)
	}
}

// A ring fence on a context that does not exist is refused before the
// command runs: nothing happens and the guest is told so. A ring-fenced
// CTX_DESTROY of a live context succeeds.
func TestRingFenceOnUnknownContextHasNoEffect(t *testing.T) {
	g := newGuest(t, Config{})
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).fence(1).ctx(5).ring(0).u32(7, 2, 16, 16).bytes()); got != VIRTIO_GPU_RESP_ERR_UNSPEC {
		t.Errorf("RESOURCE_CREATE_2D fenced on a ring of a missing context = %s; want ERR_UNSPEC", respName(got))
	}
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(7, 2, 16, 16).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Errorf("resource 7 afterwards = %s; want OK (the refused request created nothing)", respName(got))
	}
	g.ctxCreate(1)
	if got := g.respType(cmd(VIRTIO_GPU_CMD_CTX_DESTROY).fence(2).ctx(1).ring(0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Errorf("CTX_DESTROY fenced on its own ring = %s; want OK", respName(got))
	}
	name := make([]byte, 64)
	if got := g.respType(cmd(VIRTIO_GPU_CMD_CTX_CREATE).fence(3).ctx(2).ring(0).u32(0, 0).raw(name).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Errorf("CTX_CREATE fenced on the new context's ring = %s; want OK", respName(got))
	}
}
