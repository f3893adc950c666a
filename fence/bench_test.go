package fence

import (
	"context"
	"fmt"
	"testing"
)

// The figures these produce are recorded in BENCHMARKS.md (`make bench`).

// BenchmarkFenceCreateSignal creates and signals one plain fence per op;
// 10^6 fences cost 10^6 × ns/op.
func BenchmarkFenceCreateSignal(b *testing.B) {
	d := NewDomain(NewManualClock(0))
	ctx := d.AllocContexts(1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := d.NewFence(ctx, uint64(i), "bench", "bench")
		f.Signal()
	}
}

// BenchmarkSignalWake measures signal → wake of a blocked waiter: two
// goroutines hand control back and forth through pairs of fences.
func BenchmarkSignalWake(b *testing.B) {
	d := NewDomain(NewManualClock(0))
	ctx := d.AllocContexts(1)
	ping := make(chan *Fence)
	pong := make(chan *Fence)
	go func() {
		for f := range ping {
			f.Wait(context.Background(), Forever)
			g := d.NewFence(ctx, 0, "bench", "pong")
			pong <- g
			g.Signal()
		}
	}()
	defer close(ping)
	for b.Loop() {
		f := d.NewFence(ctx, 0, "bench", "ping")
		ping <- f
		f.Signal()
		(<-pong).Wait(context.Background(), Forever)
	}
}

// BenchmarkWaitAll64 is DRM_IOCTL_SYNCOBJ_WAIT with WAIT_ALL over 64
// syncobjs whose fences have signalled: copy-in, lookup, scan.
func BenchmarkWaitAll64(b *testing.B) {
	f := newDRMFile(b)
	handles := make([]uint32, 64)
	for i := range handles {
		handles[i] = f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	}
	a := DrmSyncobjWait{Handles: f.mem.u32s(handles...), CountHandles: 64, Flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL}
	b.ReportAllocs()
	for b.Loop() {
		if e := f.tab.Wait(context.Background(), f.mem, &a); e != 0 {
			b.Fatal(e)
		}
	}
}

// BenchmarkWaitAll64Blocking is WAIT_ALL over 64 syncobjs, one of which is
// pending and is signalled by another goroutine while the wait blocks.
func BenchmarkWaitAll64Blocking(b *testing.B) {
	f := newDRMFile(b)
	handles := make([]uint32, 64)
	for i := range handles {
		handles[i] = f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	}
	last := f.tab.Find(handles[63])
	defer last.Put()
	fctx := f.d.AllocContexts(1)
	a := DrmSyncobjWait{Handles: f.mem.u32s(handles...), CountHandles: 64,
		Flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, TimeoutNsec: Forever}
	for b.Loop() {
		pending := f.d.NewFence(fctx, 0, "bench", "blocking")
		last.ReplaceFence(pending)
		go pending.Signal()
		if e := f.tab.Wait(context.Background(), f.mem, &a); e != 0 {
			b.Fatal(e)
		}
	}
}

// pendingTimeline returns a syncobj with n pending points 1..n.
func pendingTimeline(d *Domain, n int) *Syncobj {
	s := d.NewSyncobj(false)
	for i := 1; i <= n; i++ {
		s.AddPoint(d.NewFence(d.AllocContexts(1), 1, "bench", "pending"), uint64(i))
	}
	return s
}

// benchTimelines runs op, b.N times, on timelines of 10^3, 10^4 and 10^5
// unsignalled points; i counts the iterations.
func benchTimelines(b *testing.B, op func(b *testing.B, s *Syncobj, head *Fence, n, i int)) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) {
			s := pendingTimeline(NewDomain(NewManualClock(0)), n)
			head := s.Fence()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				op(b, s, head, n, i)
			}
		})
	}
}

// BenchmarkTimelineQuery is QUERY on a timeline of n unsignalled points,
// whose answer (the lowest pending node) lies at the far end of the chain.
func BenchmarkTimelineQuery(b *testing.B) {
	benchTimelines(b, func(b *testing.B, s *Syncobj, _ *Fence, _, _ int) {
		if s.Query(false) != 0 {
			b.Fatal("unexpected payload")
		}
	})
}

// BenchmarkTimelineQueryKernelWalk is the kernel's linear walk on the same
// timelines, for comparison.
func BenchmarkTimelineQueryKernelWalk(b *testing.B) {
	benchTimelines(b, func(_ *testing.B, _ *Syncobj, head *Fence, _, _ int) { refQuery(head) })
}

// BenchmarkTimelineFindSeqno resolves the oldest pending point of a
// timeline of n unsignalled points: the kernel's worst case, where its
// iteration visits every node. This is the figure the issue bounds.
func BenchmarkTimelineFindSeqno(b *testing.B) {
	benchTimelines(b, func(b *testing.B, _ *Syncobj, head *Fence, _, _ int) {
		if f, ok := findSeqno(head, 1); !ok || f.Seqno() != 1 {
			b.Fatal("wrong node")
		}
	})
}

// BenchmarkTimelineFindSeqnoKernelWalk is the kernel's linear walk for the
// oldest pending point, for comparison.
func BenchmarkTimelineFindSeqnoKernelWalk(b *testing.B) {
	benchTimelines(b, func(_ *testing.B, _ *Syncobj, head *Fence, _, _ int) { refFindSeqno(head, 1) })
}

// BenchmarkTimelineFindSeqnoScattered resolves points spread over the
// whole timeline, so each lookup lands on a node that is cold in cache:
// at 10^5 points this measures memory latency as much as the search.
func BenchmarkTimelineFindSeqnoScattered(b *testing.B) {
	benchTimelines(b, func(b *testing.B, _ *Syncobj, head *Fence, n, i int) {
		p := uint64(1 + (i*7919)%n)
		if f, ok := findSeqno(head, p); !ok || f.Seqno() != p {
			b.Fatal("wrong node")
		}
	})
}

// BenchmarkAddPoint appends an ordered pending point to a timeline.
func BenchmarkAddPoint(b *testing.B) {
	d := NewDomain(NewManualClock(0))
	s := d.NewSyncobj(false)
	ctx := d.AllocContexts(1)
	b.ReportAllocs()
	for i := 1; b.Loop(); i++ {
		s.AddPoint(d.NewFence(ctx, uint64(i), "bench", "add"), uint64(i))
	}
}
