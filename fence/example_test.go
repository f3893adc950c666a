package fence_test

import (
	"context"
	"fmt"

	"fencelab/fence"
)

// A timeline syncobj: points 1, 2 and 3 wait for three CPU-signalled
// fences. QUERY reports the highest point up to which everything has
// signalled, so a fence that completes out of order does not move it.
func ExampleSyncobj_AddPoint() {
	d := fence.NewDomain(fence.NewManualClock(0))
	tl := d.NewTimeline("demo") // an sw_sync timeline
	defer tl.DecRef()
	s := d.NewSyncobj(false)
	defer s.Put()

	for point := uint64(1); point <= 3; point++ {
		s.AddPoint(tl.CreateFence(uint32(point)), point)
	}
	fmt.Println("submitted up to", s.Query(true), "- signalled up to", s.Query(false))
	tl.Inc(1)
	fmt.Println("after one increment:", s.Query(false))
	tl.Inc(2)
	fmt.Println("after three:", s.Query(false))
	// Output:
	// submitted up to 3 - signalled up to 0
	// after one increment: 1
	// after three: 3
}

// Waiting for a timeline point that has not been submitted yet: with
// WAIT_FOR_SUBMIT the waiter sleeps until some submission adds the point,
// then waits for its fence. Time is virtual; nothing here sleeps for real.
func ExampleSyncobj_FindFence() {
	clock := fence.NewManualClock(0)
	d := fence.NewDomain(clock)
	s := d.NewSyncobj(false)
	defer s.Put()

	if _, e := s.FindFence(context.Background(), 5, false); e != 0 {
		fmt.Println("point 5 without WAIT_FOR_SUBMIT:", e.Name())
	}
	go func() {
		// A producer submits points 1..5 a little later.
		for p := uint64(1); p <= 5; p++ {
			s.AddPoint(d.Stub(), p)
		}
	}()
	f, e := s.FindFence(context.Background(), 5, true)
	fmt.Println("point 5 with WAIT_FOR_SUBMIT:", e.Name(), f.IsSignaled())
	// Output:
	// point 5 without WAIT_FOR_SUBMIT: EINVAL
	// point 5 with WAIT_FOR_SUBMIT: OK true
}

// Merging fences from two timelines into one, as SYNC_IOC_MERGE does:
// pending fences become an array that signals when both have.
func ExampleDomain_Merge() {
	d := fence.NewDomain(fence.NewManualClock(0))
	gfx, compute := d.NewTimeline("gfx"), d.NewTimeline("compute")
	defer gfx.DecRef()
	defer compute.DecRef()

	both := d.Merge(gfx.CreateFence(1), compute.CreateFence(1))
	fmt.Println("array:", both.IsArray(), "members:", len(both.Members()))
	gfx.Inc(1)
	fmt.Println("after gfx:", both.IsSignaled())
	compute.Inc(1)
	fmt.Println("after compute:", both.IsSignaled())
	// Output:
	// array: true members: 2
	// after gfx: false
	// after compute: true
}
