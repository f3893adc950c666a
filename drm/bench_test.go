package drm

import (
	"testing"

	"fencelab/device"
	"fencelab/timeline"
)

// BenchmarkExecbufferWait is one EXECBUFFER on a ring with one in-syncobj
// (the previous submission's point) and one out-syncobj at the next
// timeline point, then a TIMELINE_WAIT on that point: the guest's round
// trip through the ioctl layer, the syncobjs, the control queue, the
// device's worker and fence retirement. The goal is 100,000 a
// second.
func BenchmarkExecbufferWait(b *testing.B) { benchExecbufferWait(b, nil) }

// BenchmarkExecbufferWaitTraced is BenchmarkExecbufferWait with the whole
// timeline (the driver's, fence's and the device's events) recorded in a
// bounded Ring, as a long run in the browser records it: the cost of
// tracing on the hottest path.
func BenchmarkExecbufferWaitTraced(b *testing.B) { benchExecbufferWait(b, timeline.NewRing(1<<12)) }

// benchExecbufferWait runs the loop with sink as the timeline (nil: the
// driver untraced, the device's events discarded).
func benchExecbufferWait(b *testing.B, sink timeline.Sink) {
	dev := sink
	if dev == nil {
		dev = timeline.Discard
	}
	m := newMachine(b, device.Config{Sink: dev})
	if sink != nil {
		m.drv.SetTrace(sink, func() *Task { return m.task })
	}
	fd := m.open(PathRender)
	if e := m.contextInit(fd, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 1); e != 0 {
		b.Fatal(e)
	}
	s := m.syncobj(fd)
	m.timelineSignal(fd, s, 1)
	mem := m.proc.mem
	handle := mem.put(u32s(s))
	point := mem.put(u64s(0))
	in := mem.put(descs([][3]uint64{{uint64(s), 0, 1}}))
	out := mem.put(descs([][3]uint64{{uint64(s), 0, 2}}))
	ex := mem.put(make([]byte, execbufSize))
	wait := mem.put(make([]byte, 48))
	b.ReportAllocs()
	for i := uint64(1); b.Loop(); i++ {
		mem.CopyOut(in+8, u64s(i))
		mem.CopyOut(out+8, u64s(i+1))
		mem.CopyOut(ex, cat(u32s(VIRTGPU_EXECBUF_RING_IDX, 0), u64s(0, 0), u32s(0, 0, 0, 16, 1, 1), u64s(in, out)))
		if e := m.drv.Ioctl(m.task, fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, ex); e != 0 {
			b.Fatalf("EXECBUFFER = %v", e)
		}
		mem.CopyOut(point, u64s(i+1))
		mem.CopyOut(wait, cat(u64s(handle, point, uint64(m.clock.Now()+1_000_000_000)), u32s(1, 0, 0, 0), u64s(0)))
		if e := m.drv.Ioctl(m.task, fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, wait); e != 0 {
			b.Fatalf("TIMELINE_WAIT = %v", e)
		}
	}
}

// BenchmarkAtomicFlip is one nonblocking ATOMIC page flip with an event
// on a lit 1024×768 display, then the vblank, the device's transfer,
// scanout and flush, and reading the flip event: what a compositor does
// per frame, minus drawing. Virtual time does not count; the figure is
// the host cost of the whole path.
func BenchmarkAtomicFlip(b *testing.B) {
	s := newScreen(b, device.Config{Sink: timeline.Discard})
	f := s.fileOf(s.card)
	reqs := [2]uint64{}
	for i := range reqs {
		reqs[i] = s.proc.mem.put(s.atomic(atomicReq{}.with(scrPrimary, propFbID, uint64(s.fb[i])),
			DRM_MODE_ATOMIC_NONBLOCK|DRM_MODE_PAGE_FLIP_EVENT, 1))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if e := s.drv.Ioctl(s.task, s.card, DRM_IOCTL_MODE_ATOMIC, reqs[(i+1)%2]); e != 0 {
			b.Fatalf("ATOMIC = %v", e)
		}
		s.settle()
		if ev, e := f.ReadEvents(vblankEventSize); e != 0 || len(ev) != vblankEventSize {
			b.Fatalf("no flip event (%v)", e)
		}
	}
}
