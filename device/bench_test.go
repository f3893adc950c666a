package device

import (
	"testing"

	"fencelab/timeline"

	"fencelab/virtio"
)

// BenchmarkFencedSubmitRoundTrip is one fenced no-op SUBMIT_3D through the
// control queue: the driver adds the chain and kicks, the device decodes it,
// queues the job, runs it, retires the fence and answers, and the driver
// takes the answer from the used ring. The goal is 200,000 a second.
func BenchmarkFencedSubmitRoundTrip(b *testing.B) {
	g := newGuest(b, Config{Sink: timeline.Discard})
	g.ctxCreate(1)
	req := submit(stream{}.op(OpNop)).ctx(1).ring(0).bytes()
	reqAddr := g.put(req)
	respAddr := g.alloc(64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		le.PutUint64(req[8:], uint64(i+1)) // fence id
		le.PutUint32(req[4:], VIRTIO_GPU_FLAG_FENCE|VIRTIO_GPU_FLAG_INFO_RING_IDX)
		g.mem.Write(reqAddr, req[:CtrlHdrSize])
		if _, err := g.ctrl.Add([]virtio.Buf{{Addr: reqAddr, Len: uint32(len(req))}}, []virtio.Buf{{Addr: respAddr, Len: 64}}); err != nil {
			b.Fatal(err)
		}
		g.ctrl.Kick()
		g.dev.Kick(ControlQ, 0)
		if _, _, ok, err := g.ctrl.PopUsed(); !ok || err != nil {
			b.Fatalf("no answer (ok %v, err %v)", ok, err)
		}
	}
}

// BenchmarkRenderFrame720p renders one 1280x720 frame: a clear, then 64
// triangles with per-vertex colour covering the screen.
func BenchmarkRenderFrame720p(b *testing.B) {
	const w, h = 1280, 720
	surf := &Surface{Width: w, Height: h, Format: VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, Pix: make([]byte, w*h*4)}
	s := stream{}.op(OpClear, 1, 0xff202020)
	for i := uint32(0); i < 64; i++ {
		x0, y0 := (i%8)*160*16, (i/8)*90*16
		s = s.op(OpTriangles, 1, 1,
			x0, y0, 0xff0000ff,
			x0+160*16, y0, 0xff00ff00,
			x0, y0+90*16, 0xffff0000)
	}
	ops, err := ParseStream(s)
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(uint32) *Surface { return surf }
	b.ReportAllocs()
	for b.Loop() {
		for _, op := range ops {
			Execute(op, lookup)
		}
	}
}
