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
func BenchmarkExecbufferWait(b *testing.B) {
	m := newMachine(b, device.Config{Sink: timeline.Discard})
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
