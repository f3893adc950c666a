package fence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"fencelab/errno"
)

// This file mirrors IGT's tests/syncobj_timeline.c and
// tests/syncobj_eventfd.c (spec §5.3, §5.4), one t.Run per IGT subtest,
// named exactly as IGT names it. The subtests syncobj_timeline copies from
// syncobj_wait (the wait matrices, delayed signal, reset, signal, snapshot,
// complex, interrupted) run the shared implementation in
// igt_common_test.go with igtTimeline: DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
// every syncobj at point 1 except in the multi-wait matrix. No subtest
// sleeps. Helpers are prefixed igtt.

// igttSeed seeds the PCG that stands for IGT's rand(), so that the points
// of the multi-wait matrix and host-signal-points are reproducible.
const igttSeed = 0x5eed_1917

// igttSingleWaitMatrix is spec §5.3's single-wait matrix (point 1).
var igttSingleWaitMatrix = []igtMatrixRow{
	{"invalid-single-wait-unsubmitted", "U", 0, errno.EINVAL},
	{"etime-single-wait-for-submit-unsubmitted", "U", igtFS, errno.ETIME},
	{"invalid-single-wait-all-unsubmitted", "U", igtAll, errno.EINVAL},
	{"etime-single-wait-all-for-submit-unsubmitted", "U", igtAll | igtFS, errno.ETIME},
	{"etime-single-wait-available-unsubmitted", "U", igtAV, errno.ETIME},
	{"etime-single-wait-for-submit-available-unsubmitted", "U", igtFS | igtAV, errno.ETIME},
	{"etime-single-wait-all-available-unsubmitted", "U", igtAll | igtAV, errno.ETIME},
	{"etime-single-wait-all-for-submit-available-unsubmitted", "U", igtAll | igtFS | igtAV, errno.ETIME},
	{"etime-single-wait-submitted", "S", 0, errno.ETIME},
	{"etime-single-wait-for-submit-submitted", "S", igtFS, errno.ETIME},
	{"etime-single-wait-all-submitted", "S", igtAll, errno.ETIME},
	{"etime-single-wait-all-for-submit-submitted", "S", igtAll | igtFS, errno.ETIME},
	{"single-wait-available-submitted", "S", igtAV, 0},
	{"single-wait-for-submit-available-submitted", "S", igtFS | igtAV, 0},
	{"single-wait-all-available-submitted", "S", igtAll | igtAV, 0},
	{"single-wait-all-for-submit-available-submitted", "S", igtAll | igtFS | igtAV, 0},
	{"single-wait-signaled", "G", 0, 0},
	{"single-wait-for-submit-signaled", "G", igtFS, 0},
	{"single-wait-all-signaled", "G", igtAll, 0},
	{"single-wait-all-for-submit-signaled", "G", igtAll | igtFS, 0},
	{"single-wait-available-signaled", "G", igtAV, 0},
	{"single-wait-for-submit-available-signaled", "G", igtFS | igtAV, 0},
	{"single-wait-all-available-signaled", "G", igtAll | igtAV, 0},
	{"single-wait-all-for-submit-available-signaled", "G", igtAll | igtFS | igtAV, 0},
}

// igttMultiWaitPoints is test_multi_wait's points for the row at idx of
// igttMultiWaitMatrix: {1 + rand() % 1000, 0, 1 + rand() % 1000,
// 1 + rand() % 1000, 0}; entries 1 and 4 are binary syncobjs. One PCG
// stream per row keeps the points the same whichever subtests run.
func igttMultiWaitPoints(idx int) []uint64 {
	rng := rand.New(rand.NewPCG(igttSeed, uint64(idx)))
	return []uint64{1 + rng.Uint64()%1000, 0, 1 + rng.Uint64()%1000, 1 + rng.Uint64()%1000, 0}
}

// igttMultiWaitMatrix is spec §5.3's multi-wait matrix: five syncobjs, the
// state string giving each one's state. IGT's loop stops short of the
// all-flags entry ("…-all-for-submit-available-unsubmitted-submitted-
// signaled"), so there are 55.
var igttMultiWaitMatrix = []igtMatrixRow{
	{"invalid-multi-wait-unsubmitted", "UUUUU", 0, errno.EINVAL},
	{"etime-multi-wait-for-submit-unsubmitted", "UUUUU", igtFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted", "UUUUU", igtAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted", "UUUUU", igtAll | igtFS, errno.ETIME},
	{"etime-multi-wait-available-unsubmitted", "UUUUU", igtAV, errno.ETIME},
	{"etime-multi-wait-for-submit-available-unsubmitted", "UUUUU", igtFS | igtAV, errno.ETIME},
	{"etime-multi-wait-all-available-unsubmitted", "UUUUU", igtAll | igtAV, errno.ETIME},
	{"etime-multi-wait-all-for-submit-available-unsubmitted", "UUUUU", igtAll | igtFS | igtAV, errno.ETIME},

	{"etime-multi-wait-submitted", "SSSSS", 0, errno.ETIME},
	{"etime-multi-wait-for-submit-submitted", "SSSSS", igtFS, errno.ETIME},
	{"etime-multi-wait-all-submitted", "SSSSS", igtAll, errno.ETIME},
	{"etime-multi-wait-all-for-submit-submitted", "SSSSS", igtAll | igtFS, errno.ETIME},
	{"multi-wait-available-submitted", "SSSSS", igtAV, 0},
	{"multi-wait-for-submit-available-submitted", "SSSSS", igtFS | igtAV, 0},
	{"multi-wait-all-available-submitted", "SSSSS", igtAll | igtAV, 0},
	{"multi-wait-all-for-submit-available-submitted", "SSSSS", igtAll | igtFS | igtAV, 0},

	{"invalid-multi-wait-unsubmitted-submitted", "USSSS", 0, errno.EINVAL},
	{"etime-multi-wait-for-submit-unsubmitted-submitted", "USSSS", igtFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted-submitted", "USSSS", igtAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted-submitted", "USSSS", igtAll | igtFS, errno.ETIME},
	{"multi-wait-available-unsubmitted-submitted", "USSSS", igtAV, 0},
	{"multi-wait-for-submit-available-unsubmitted-submitted", "USSSS", igtFS | igtAV, 0},
	{"etime-multi-wait-all-available-unsubmitted-submitted", "USSSS", igtAll | igtAV, errno.ETIME},
	{"etime-multi-wait-all-for-submit-available-unsubmitted-submitted", "USSSS", igtAll | igtFS | igtAV, errno.ETIME},

	{"multi-wait-signaled", "GGGGG", 0, 0},
	{"multi-wait-for-submit-signaled", "GGGGG", igtFS, 0},
	{"multi-wait-all-signaled", "GGGGG", igtAll, 0},
	{"multi-wait-all-for-submit-signaled", "GGGGG", igtAll | igtFS, 0},
	{"multi-wait-available-signaled", "GGGGG", igtAV, 0},
	{"multi-wait-for-submit-available-signaled", "GGGGG", igtFS | igtAV, 0},
	{"multi-wait-all-available-signaled", "GGGGG", igtAll | igtAV, 0},
	{"multi-wait-all-for-submit-available-signaled", "GGGGG", igtAll | igtFS | igtAV, 0},

	{"invalid-multi-wait-unsubmitted-signaled", "UGGGG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-signaled", "UGGGG", igtFS, 0},
	{"invalid-multi-wait-all-unsubmitted-signaled", "UGGGG", igtAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted-signaled", "UGGGG", igtAll | igtFS, errno.ETIME},
	{"multi-wait-available-unsubmitted-signaled", "UGGGG", igtAV, 0},
	{"multi-wait-for-submit-available-unsubmitted-signaled", "UGGGG", igtFS | igtAV, 0},
	{"etime-multi-wait-all-available-unsubmitted-signaled", "UGGGG", igtAll | igtAV, errno.ETIME},
	{"etime-multi-wait-all-for-submit-available-unsubmitted-signaled", "UGGGG", igtAll | igtFS | igtAV, errno.ETIME},

	{"multi-wait-submitted-signaled", "SGGGG", 0, 0},
	{"multi-wait-for-submit-submitted-signaled", "SGGGG", igtFS, 0},
	{"etime-multi-wait-all-submitted-signaled", "SGGGG", igtAll, errno.ETIME},
	{"etime-multi-wait-all-for-submit-submitted-signaled", "SGGGG", igtAll | igtFS, errno.ETIME},
	{"multi-wait-available-submitted-signaled", "SGGGG", igtAV, 0},
	{"multi-wait-for-submit-available-submitted-signaled", "SGGGG", igtFS | igtAV, 0},
	{"multi-wait-all-available-submitted-signaled", "SGGGG", igtAll | igtAV, 0},
	{"multi-wait-all-for-submit-available-submitted-signaled", "SGGGG", igtAll | igtFS | igtAV, 0},

	{"invalid-multi-wait-unsubmitted-submitted-signaled", "USGGG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-submitted-signaled", "USGGG", igtFS, 0},
	{"invalid-multi-wait-all-unsubmitted-submitted-signaled", "USGGG", igtAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted-submitted-signaled", "USGGG", igtAll | igtFS, errno.ETIME},
	{"multi-wait-available-unsubmitted-submitted-signaled", "USGGG", igtAV, 0},
	{"multi-wait-for-submit-available-unsubmitted-submitted-signaled", "USGGG", igtFS | igtAV, 0},
	{"etime-multi-wait-all-available-unsubmitted-submitted-signaled", "USGGG", igtAll | igtAV, errno.ETIME},
}

// --- invalid-argument and transfer subtests ---

func igttInvalidWaitBadFlags(t *testing.T) {
	f := newDRMFile(t)
	e, _ := f.timelineWait(nil, nil, 0, 0xdeadbeef)
	check(t, "TimelineWait(count 0, flags 0xdeadbeef)", e, errno.EINVAL)
	f.teardown()
}

func igttWaitZeroHandles(t *testing.T) {
	// Newest behaviour (Linux ≥ 6.6, IGT ≥ 2025): a wait on no handles
	// succeeds at once. IGT ≤ 2024 named this subtest
	// invalid-wait-zero-handles and expected EINVAL, as older kernels did.
	f := newDRMFile(t)
	e, _ := f.timelineWait(nil, nil, 0, 0)
	check(t, "TimelineWait(count 0)", e, 0)
	f.teardown()
}

func igttInvalidWaitIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	e, _ := f.timelineWait([]uint32{0}, nil, 0, 0)
	check(t, "TimelineWait(handles [0])", e, errno.ENOENT)
	f.teardown()
}

func igttInvalidQueryZeroHandles(t *testing.T) {
	f := newDRMFile(t)
	_, e := f.query(0)
	check(t, "Query(count 0)", e, errno.EINVAL)
	f.teardown()
}

func igttInvalidQueryIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	_, e := f.query(0, 0)
	check(t, "Query(handles [0])", e, errno.ENOENT)
	f.teardown()
}

// igttSignalTwoAtPoint1 creates two syncobjs, signals point 1 on each and
// checks that point 1 is waitable: the set-up of IGT's *-one-illegal-handle
// subtests.
func igttSignalTwoAtPoint1(t *testing.T, f *drmFile) (uint32, uint32) {
	t.Helper()
	h0, h2 := f.mustCreate(0), f.mustCreate(0)
	for _, h := range []uint32{h0, h2} {
		check(t, fmt.Sprintf("TimelineSignal([%d], [1])", h), f.timelineSignal([]uint32{h}, []uint64{1}), 0)
		e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
		check(t, fmt.Sprintf("TimelineWait([%d], [1], timeout 0)", h), e, 0)
	}
	return h0, h2
}

func igttInvalidQueryOneIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	h0, h2 := igttSignalTwoAtPoint1(t, f)
	_, e := f.query(0, h0, 0, h2)
	check(t, fmt.Sprintf("Query(handles [%d 0 %d])", h0, h2), e, errno.ENOENT)
	f.destroy(h0)
	f.destroy(h2)
	f.teardown()
}

func igttInvalidQueryBadPad(t *testing.T) {
	f := newDRMFile(t)
	_, e := f.query(0xdeadbeef, 0)
	check(t, "Query(handles [0], flags 0xdeadbeef)", e, errno.EINVAL)
	f.teardown()
}

func igttInvalidSignalZeroHandles(t *testing.T) {
	f := newDRMFile(t)
	check(t, "TimelineSignal(count 0)", f.timelineSignal(nil, nil), errno.EINVAL)
	f.teardown()
}

func igttInvalidSignalIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	check(t, "TimelineSignal(handles [0])", f.timelineSignal([]uint32{0}, nil), errno.ENOENT)
	f.teardown()
}

func igttInvalidSignalIllegalPoint(t *testing.T) {
	// IGT names handle 1, which does not exist in its fresh DRM file, and
	// point 0: the lookup fails first.
	f := newDRMFile(t)
	check(t, "TimelineSignal(handles [1], points [0])", f.timelineSignal([]uint32{1}, []uint64{0}), errno.ENOENT)
	f.teardown()
}

func igttInvalidSignalOneIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	h0, h2 := igttSignalTwoAtPoint1(t, f)
	check(t, fmt.Sprintf("TimelineSignal(handles [%d 0 %d])", h0, h2),
		f.timelineSignal([]uint32{h0, 0, h2}, nil), errno.ENOENT)
	f.destroy(h0)
	f.destroy(h2)
	f.teardown()
}

func igttInvalidSignalBadPad(t *testing.T) {
	f := newDRMFile(t)
	e := f.tab.TimelineSignal(f.mem, &DrmSyncobjTimelineArray{Handles: f.mem.u32s(0), CountHandles: 1, Flags: 0xdeadbeef})
	check(t, "TimelineSignal(handles [0], flags 0xdeadbeef)", e, errno.EINVAL)
	f.teardown()
}

func igttSignalArray(t *testing.T) {
	f := newDRMFile(t)
	handles := []uint32{f.mustCreate(0), f.mustCreate(0), f.mustCreate(0), f.mustCreate(0)}
	points := []uint64{1, 1, 1, 0}
	check(t, fmt.Sprintf("TimelineSignal(%v, %v)", handles, points), f.timelineSignal(handles, points), 0)
	e, first := f.timelineWait(handles[:3], points[:3], 0, 0)
	check(t, igtTimeline.call(f, handles[:3], points[:3], 0, 0), e, 0)
	if e == 0 && first != 0 {
		t.Errorf("%s: first_signaled = %d; want 0", igtTimeline.call(f, handles[:3], points[:3], 0, 0), first)
	}
	e, _ = f.wait(handles[3:], 0, 0)
	check(t, fmt.Sprintf("Wait([%d], timeout 0)", handles[3]), e, 0)
	for _, h := range handles {
		f.destroy(h)
	}
	f.teardown()
}

// igttGarbageHandle stands for the user-space address IGT passes, cast to
// u32, as a handle: not a handle the file has.
const igttGarbageHandle = 0x7ffc_d1e8

func igttInvalidTransferIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	e := f.transfer(igttGarbageHandle, 0, igttGarbageHandle, 1, 0)
	check(t, "Transfer(src garbage:1 -> dst garbage:0)", e, errno.ENOENT)
	f.teardown()
}

func igttInvalidTransferBadPad(t *testing.T) {
	f := newDRMFile(t)
	e := f.tab.Transfer(context.Background(), &DrmSyncobjTransfer{SrcHandle: igttGarbageHandle, DstHandle: igttGarbageHandle, Pad: 0xdeadbeef})
	check(t, "Transfer(pad 0xdeadbeef)", e, errno.EINVAL)
	f.teardown()
}

func igttInvalidTransferNonExistentPoint(t *testing.T) {
	// Despite its name IGT expects success: point 63 exists.
	f := newDRMFile(t)
	h := f.mustCreate(0)
	check(t, "TimelineSignal([h], [63])", f.timelineSignal([]uint32{h}, []uint64{63}), 0)
	check(t, "Transfer(h:63 -> h:74)", f.transfer(h, 74, h, 63, 0), 0)
	// Not asserted by IGT: the transferred fence is signalled, so the
	// whole timeline is (spec §3.5, §4.4).
	if q := f.query1(h); q != 74 {
		t.Errorf("Query(h) after the transfer = %d; want 74", q)
	}
	f.destroy(h)
	f.teardown()
}

func igttTransferTimelinePoint(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	tl := f.attach(h, 1)
	if q := f.query1(h); q != 0 {
		t.Errorf("Query(h) with point 1 unsignalled = %d; want 0", q)
	}
	// IGT passes its own WAIT_ALL bit (1<<1), which is the kernel's
	// WAIT_FOR_SUBMIT.
	const rawFlags = 2
	e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, rawFlags)
	check(t, igtTimeline.call(f, []uint32{h}, []uint64{1}, 0, rawFlags), e, errno.ETIME)
	f.swInc(tl, 1)
	if q := f.query1(h); q != 1 {
		t.Errorf("Query(h) with point 1 signalled = %d; want 1", q)
	}
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, rawFlags)
	check(t, igtTimeline.call(f, []uint32{h}, []uint64{1}, 0, rawFlags), e, 0)
	check(t, "TimelineSignal([h], [2])", f.timelineSignal([]uint32{h}, []uint64{2}), 0)
	check(t, "Transfer(h:2 -> h:3)", f.transfer(h, 3, h, 2, 0), 0)
	if q := f.query1(h); q != 3 {
		t.Errorf("Query(h) after TRANSFER 2 -> 3 = %d; want 3", q)
	}
	f.destroy(h)
	f.fds.close(tl)
	f.teardown()
}

// --- behavioural subtests ---

func igttSignalPoint0(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	check(t, "TimelineSignal([h], [0])", f.timelineSignal([]uint32{h}, []uint64{0}), 0)
	e, _ := f.timelineWait([]uint32{h}, []uint64{0}, 0, 0)
	check(t, "TimelineWait([h], [0], timeout 0)", e, 0)
	e, _ = f.wait([]uint32{h}, 0, igtFS)
	check(t, "Wait([h], timeout 0, FOR_SUBMIT)", e, 0)
	f.destroy(h)
	f.teardown()
}

func igttHostSignalPoints(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	rng := rand.New(rand.NewPCG(igttSeed, 1000))
	// IGT passes its own flag bits raw: its WAIT_FOR_SUBMIT (1<<0) is the
	// kernel's WAIT_ALL and its WAIT_ALL (1<<1) the kernel's
	// WAIT_FOR_SUBMIT (spec §5.3).
	const rawForSubmit, rawAll = 1, 2
	var value uint64
	for i := 0; i < 100; i++ {
		value += uint64(rng.Uint32() >> 1) // rand(): 0..RAND_MAX (2^31-1)
		if e := f.timelineSignal([]uint32{h}, []uint64{value}); e != 0 {
			t.Fatalf("iteration %d: TimelineSignal([h], [%d]) = %v; want OK", i, value, e)
		}
		q := f.query1(h)
		if q != value {
			t.Errorf("iteration %d: Query(h) after TimelineSignal(%d) = %d; want %d", i, value, q, value)
		}
		e, _ := f.timelineWait([]uint32{h}, []uint64{q}, 0, rawForSubmit)
		check(t, fmt.Sprintf("iteration %d: %s", i, igtTimeline.call(f, []uint32{h}, []uint64{q}, 0, rawForSubmit)), e, 0)
		e, _ = f.timelineWait([]uint32{h}, []uint64{q - 1}, 0, rawAll)
		check(t, fmt.Sprintf("iteration %d: %s", i, igtTimeline.call(f, []uint32{h}, []uint64{q - 1}, 0, rawAll)), e, 0)
	}
	f.destroy(h)
	f.teardown()
}

// igttAttachFence imports the sync_file ffd into a temporary binary
// syncobj and transfers it to point on h (IGT's
// syncobj_binary_to_timeline).
func igttAttachFence(t *testing.T, f *drmFile, h uint32, point uint64, ffd int32) {
	t.Helper()
	tmp := f.mustCreate(0)
	f.importSyncFile(tmp, ffd)
	if e := f.transfer(h, point, tmp, 0, 0); e != 0 {
		t.Fatalf("Transfer(%d:0 -> %d:%d) = %v; want OK", tmp, h, point, e)
	}
	f.destroy(tmp)
}

func igttDeviceSignalUnordered(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	_, tlfd := f.swTimeline()
	// The fence for point pointIndices[i]+1 gets sw_sync value i+1, so the
	// increments signal points 1, 3, 2, 5, 4.
	pointIndices := []int{0, 2, 1, 4, 3}
	fences := make([]int32, len(pointIndices))
	for i := range pointIndices {
		fences[pointIndices[i]] = f.swFence(tlfd, uint32(i+1))
	}
	for i, ffd := range fences {
		igttAttachFence(t, f, h, uint64(i+1), ffd)
	}
	// Not asserted by IGT, which only bounds the value: with points 1..5
	// on one context, QUERY is the point just below the oldest unsignalled
	// one, or 5 once all have signalled (spec §3.5).
	wantQuery := []uint64{1, 1, 3, 3, 5}
	const rawForSubmit, rawAll = 1, 2 // see host-signal-points
	signaled := make([]bool, len(pointIndices))
	var value uint64
	for i := range pointIndices {
		f.swInc(tlfd, 1)
		signaled[pointIndices[i]] = true
		// IGT's lower bound: the index of the last entry of the contiguous
		// signalled prefix.
		var minValue uint64
		for j := range signaled {
			if !signaled[j] {
				break
			}
			minValue = uint64(j)
		}
		q := f.query1(h)
		if q < minValue {
			t.Errorf("after signalling point %d: Query(h) = %d; want ≥ %d", pointIndices[i]+1, q, minValue)
		}
		if q < value {
			t.Errorf("after signalling point %d: Query(h) = %d; went down from %d", pointIndices[i]+1, q, value)
		}
		if q != wantQuery[i] {
			t.Errorf("after signalling point %d: Query(h) = %d; want %d", pointIndices[i]+1, q, wantQuery[i])
		}
		value = max(value, q)
		e, _ := f.timelineWait([]uint32{h}, []uint64{q}, 0, rawForSubmit)
		check(t, igtTimeline.call(f, []uint32{h}, []uint64{q}, 0, rawForSubmit), e, 0)
		e, _ = f.timelineWait([]uint32{h}, []uint64{q}, 0, rawAll)
		check(t, igtTimeline.call(f, []uint32{h}, []uint64{q}, 0, rawAll), e, 0)
	}
	for _, ffd := range fences {
		f.fds.close(ffd)
	}
	f.destroy(h)
	f.fds.close(tlfd)
	f.teardown()
}

func igttDeviceSubmitUnordered(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	_, tlfd := f.swTimeline()
	points := []uint64{1, 5, 3, 6, 7}
	for i, p := range points {
		ffd := f.swFence(tlfd, uint32(i+1))
		igttAttachFence(t, f, h, p, ffd)
		f.fds.close(ffd)
	}
	// Signal points 1, 5 and 3: nothing ≤ 5 is left pending.
	f.swInc(tlfd, 3)
	q := f.query1(h)
	if q != 5 {
		t.Errorf("Query(h) after signalling points 1, 5, 3 = %d; want 5", q)
	}
	const rawForSubmit, rawAll = 1, 2 // see host-signal-points
	e, _ := f.timelineWait([]uint32{h}, []uint64{q}, 0, rawForSubmit)
	check(t, igtTimeline.call(f, []uint32{h}, []uint64{q}, 0, rawForSubmit), e, 0)
	e, _ = f.timelineWait([]uint32{h}, []uint64{q}, 0, rawAll)
	check(t, igtTimeline.call(f, []uint32{h}, []uint64{q}, 0, rawAll), e, 0)
	f.destroy(h)
	f.fds.close(tlfd)
	f.teardown()
}

func igttHostSignalOrdered(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	_, tlfd := f.swTimeline()
	for i := 0; i < 5; i++ {
		ffd := f.swFence(tlfd, uint32(i+1))
		igttAttachFence(t, f, h, uint64(i+1), ffd)
		f.fds.close(ffd)
	}
	f.swInc(tlfd, 3)
	if q := f.query1(h); q != 3 {
		t.Errorf("Query(h) with points 1-3 of 1-5 signalled = %d; want 3", q)
	}
	check(t, "TimelineSignal([h], [8])", f.timelineSignal([]uint32{h}, []uint64{8}), 0)
	if q := f.query1(h); q != 3 {
		t.Errorf("Query(h) after host signal of point 8 with points 4, 5 pending = %d; want 3", q)
	}
	f.swInc(tlfd, 5)
	if q := f.query1(h); q != 8 {
		t.Errorf("Query(h) with everything signalled = %d; want 8", q)
	}
	f.destroy(h)
	f.fds.close(tlfd)
	f.teardown()
}

func igtt32BitsLimit(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	_, tlfd := f.swTimeline()
	const limitDiff = uint64(1)<<31 - 1
	points := []uint64{1, 5, limitDiff + 5, limitDiff + 6, limitDiff * 2}

	// The checker queries h in a loop and reports the first decrease. It
	// uses the ioctl directly with preallocated arguments, so that it does
	// not exhaust the test memory.
	hAddr, pAddr := f.mem.u32s(h), f.mem.alloc(8)
	var running atomic.Bool
	var queries atomic.Int64
	running.Store(true)
	checker := background(func() string {
		var last uint64
		for running.Load() {
			a := DrmSyncobjTimelineArray{Handles: hAddr, Points: pAddr, CountHandles: 1}
			if e := f.tab.Query(f.mem, &a); e != 0 {
				return fmt.Sprintf("checker: Query(h) = %v; want OK", e)
			}
			v := f.mem.readU64s(pAddr, 1)[0]
			queries.Add(1)
			if v < last {
				return fmt.Sprintf("checker: Query(h) = %d after %d; the timeline value went down", v, last)
			}
			last = v
			yield()
		}
		return ""
	})
	// waitQueries lets the checker observe the current state at least
	// once more: two further queries include one started after now.
	waitQueries := func() {
		target := queries.Load() + 2
		for i := 0; queries.Load() < target && running.Load(); i++ {
			if i > 5_000_000 {
				t.Errorf("checker made no progress")
				return
			}
			yield()
		}
	}
	waitQueries()

	for i, p := range points {
		ffd := f.swFence(tlfd, uint32(i+1))
		igttAttachFence(t, f, h, p, ffd)
		f.fds.close(ffd)
	}
	var last uint64
	for i := range points {
		f.swInc(tlfd, 1)
		v := f.query1(h)
		if v < last {
			t.Errorf("after signalling point %d: Query(h) = %d; went down from %d", points[i], v, last)
		}
		// Not asserted by IGT: points signalled in order, so QUERY is the
		// newest signalled one, across the 2^31 boundary (spec §3.5).
		if v != points[i] {
			t.Errorf("after signalling point %d: Query(h) = %d; want %d", points[i], v, points[i])
		}
		last = v
		waitQueries()
	}
	running.Store(false)
	if msg := <-checker; msg != "" {
		t.Error(msg)
	}
	f.destroy(h)
	f.fds.close(tlfd)
	f.teardown()
}

// TestIGTSyncobjTimeline mirrors every subtest of IGT's syncobj_timeline.
func TestIGTSyncobjTimeline(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"invalid-wait-bad-flags", igttInvalidWaitBadFlags},
		{"wait-zero-handles", igttWaitZeroHandles},
		{"invalid-wait-illegal-handle", igttInvalidWaitIllegalHandle},
		{"invalid-query-zero-handles", igttInvalidQueryZeroHandles},
		{"invalid-query-illegal-handle", igttInvalidQueryIllegalHandle},
		{"invalid-query-one-illegal-handle", igttInvalidQueryOneIllegalHandle},
		{"invalid-query-bad-pad", igttInvalidQueryBadPad},
		{"invalid-signal-zero-handles", igttInvalidSignalZeroHandles},
		{"invalid-signal-illegal-handle", igttInvalidSignalIllegalHandle},
		{"invalid-signal-illegal-point", igttInvalidSignalIllegalPoint},
		{"invalid-signal-one-illegal-handle", igttInvalidSignalOneIllegalHandle},
		{"invalid-signal-bad-pad", igttInvalidSignalBadPad},
		{"signal-array", igttSignalArray},
		{"invalid-transfer-illegal-handle", igttInvalidTransferIllegalHandle},
		{"invalid-transfer-bad-pad", igttInvalidTransferBadPad},
		{"invalid-transfer-non-existent-point", igttInvalidTransferNonExistentPoint},
		{"transfer-timeline-point", igttTransferTimelinePoint},
	} {
		t.Run(tc.name, tc.fn)
	}

	igtCheckTable(t, igtTimeline, "single-wait", 1, igttSingleWaitMatrix)
	igtCheckTable(t, igtTimeline, "multi-wait", 5, igttMultiWaitMatrix)
	for _, row := range igttSingleWaitMatrix {
		t.Run(row.name, func(t *testing.T) { igtRunMatrix(t, igtTimeline, "single-wait", row, igtTimeline.points(1)) })
	}

	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"wait-delayed-signal", func(t *testing.T) { igtDelayedSignal(t, igtTimeline, 0) }},
		{"wait-for-submit-delayed-submit", func(t *testing.T) { igtDelayedSignal(t, igtTimeline, igtFS) }},
		{"wait-all-delayed-signal", func(t *testing.T) { igtDelayedSignal(t, igtTimeline, igtAll) }},
		{"wait-all-for-submit-delayed-submit", func(t *testing.T) { igtDelayedSignal(t, igtTimeline, igtAll|igtFS) }},
		{"reset-unsignaled", func(t *testing.T) { igtResetUnsignaled(t, igtTimeline) }},
		{"reset-signaled", func(t *testing.T) { igtResetSignaled(t, igtTimeline) }},
		{"reset-multiple-signaled", func(t *testing.T) { igtResetMultipleSignaled(t, igtTimeline) }},
		{"reset-during-wait-for-submit", func(t *testing.T) { igtResetDuringWaitForSubmit(t, igtTimeline) }},
		{"signal", func(t *testing.T) { igtSignal(t, igtTimeline) }},
		{"signal-point-0", igttSignalPoint0},
	} {
		t.Run(tc.name, tc.fn)
	}

	for i, row := range igttMultiWaitMatrix {
		t.Run(row.name, func(t *testing.T) { igtRunMatrix(t, igtTimeline, "multi-wait", row, igttMultiWaitPoints(i)) })
	}

	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"wait-any-snapshot", func(t *testing.T) { igtSnapshot(t, igtTimeline, 0) }},
		{"wait-all-snapshot", func(t *testing.T) { igtSnapshot(t, igtTimeline, igtAll) }},
		{"wait-for-submit-snapshot", func(t *testing.T) { igtSnapshot(t, igtTimeline, igtFS) }},
		{"wait-all-for-submit-snapshot", func(t *testing.T) { igtSnapshot(t, igtTimeline, igtAll|igtFS) }},
		{"wait-any-complex", func(t *testing.T) { igtComplex(t, igtTimeline, 0) }},
		{"wait-all-complex", func(t *testing.T) { igtComplex(t, igtTimeline, igtAll) }},
		{"wait-for-submit-complex", func(t *testing.T) { igtComplex(t, igtTimeline, igtFS) }},
		{"wait-all-for-submit-complex", func(t *testing.T) { igtComplex(t, igtTimeline, igtAll|igtFS) }},
		{"wait-any-interrupted", func(t *testing.T) { igtInterrupted(t, igtTimeline, 0) }},
		{"wait-all-interrupted", func(t *testing.T) { igtInterrupted(t, igtTimeline, igtAll) }},
		{"host-signal-points", igttHostSignalPoints},
		{"device-signal-unordered", igttDeviceSignalUnordered},
		{"device-submit-unordered", igttDeviceSubmitUnordered},
		{"host-signal-ordered", igttHostSignalOrdered},
		{"32bits-limit", igtt32BitsLimit},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// --- syncobj_eventfd ---

// igttEventfd opens a counting eventfd and returns it with its fd.
func igttEventfd(f *drmFile) (*testEventfd, int32) {
	ev := newTestEventfd()
	return ev, f.fds.open(ev)
}

// igttFired checks how often an eventfd registration has fired: 0 for IGT's
// "unsignaled", 1 for "signaled" (a registration fires at most once).
func igttFired(t *testing.T, what string, ev *testEventfd, want uint64) {
	t.Helper()
	if got := ev.count.Load(); got != want {
		t.Errorf("%s: eventfd count = %d; want %d", what, got, want)
	}
}

// igttEventfdReleased checks, after teardown, that no registration kept a
// reference to the eventfd.
func igttEventfdReleased(t *testing.T, evs ...*testEventfd) {
	t.Helper()
	for i, ev := range evs {
		if n := ev.refs.Load(); n != 0 {
			t.Errorf("eventfd %d: %d references left after teardown; want 0", i, n)
		}
	}
}

func igttEventfdInvalidBadFlags(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	ev, evfd := igttEventfd(f)
	check(t, "Eventfd(h, point 0, eventfd, flags 0xdeadbeef)", f.eventfd(h, 0, evfd, 0xdeadbeef), errno.EINVAL)
	igttFired(t, "after the rejected registration", ev, 0)
	f.destroy(h)
	f.teardown()
	igttEventfdReleased(t, ev)
}

func igttEventfdInvalidIllegalHandle(t *testing.T) {
	f := newDRMFile(t)
	// The fixture's probe: handle 0 with fd -1 is ENOENT, the handle being
	// checked before the fd.
	check(t, "Eventfd(handle 0, fd -1)", f.eventfd(0, 0, -1, 0), errno.ENOENT)
	ev, evfd := igttEventfd(f)
	check(t, "Eventfd(handle 0, eventfd)", f.eventfd(0, 0, evfd, 0), errno.ENOENT)
	f.teardown()
	igttEventfdReleased(t, ev)
}

func igttEventfdInvalidIllegalEventfd(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	devNull := f.fds.open(nullFile{})
	check(t, "Eventfd(h, fd of /dev/null)", f.eventfd(h, 0, devNull, 0), errno.EINVAL)
	f.fds.close(devNull)
	f.destroy(h)
	f.teardown()
}

func igttEventfdInvalidBadPad(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	ev, evfd := igttEventfd(f)
	e := f.tab.Eventfd(f.fds, &DrmSyncobjEventfd{Handle: h, Fd: evfd, Pad: 0xdeadbeef}, 0)
	check(t, "Eventfd(h, eventfd, pad 0xdeadbeef)", e, errno.EINVAL)
	igttFired(t, "after the rejected registration", ev, 0)
	f.destroy(h)
	f.teardown()
	igttEventfdReleased(t, ev)
}

// igttEventfdRegister registers a plain and a WAIT_AVAILABLE eventfd on
// (h, point).
func igttEventfdRegister(t *testing.T, f *drmFile, h uint32, point uint64) (wait, avail *testEventfd) {
	t.Helper()
	wait, waitFD := igttEventfd(f)
	avail, availFD := igttEventfd(f)
	check(t, fmt.Sprintf("Eventfd(h, point %d, flags 0)", point), f.eventfd(h, point, waitFD, 0), 0)
	check(t, fmt.Sprintf("Eventfd(h, point %d, WAIT_AVAILABLE)", point), f.eventfd(h, point, availFD, igtAV), 0)
	return wait, avail
}

// igttEventfdNoRefire signals (h, point) again and checks that neither
// registration fires a second time.
func igttEventfdNoRefire(t *testing.T, f *drmFile, h uint32, point uint64, wait, avail *testEventfd) {
	t.Helper()
	f.trigger(h, point)
	if point == 0 {
		check(t, "Signal(h)", f.signal(h), 0)
	} else {
		check(t, fmt.Sprintf("TimelineSignal([h], [%d])", point+1), f.timelineSignal([]uint32{h}, []uint64{point + 1}), 0)
	}
	igttFired(t, "plain registration after further signals", wait, 1)
	igttFired(t, "WAIT_AVAILABLE registration after further signals", avail, 1)
}

// igttEventfdWait is binary-wait / timeline-wait: a fence already attached
// and unsignalled.
func igttEventfdWait(t *testing.T, point uint64) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	tl := f.attach(h, point)
	wait, avail := igttEventfdRegister(t, f, h, point)
	igttFired(t, "plain registration, fence unsignalled", wait, 0)
	igttFired(t, "WAIT_AVAILABLE registration, fence unsignalled", avail, 1)
	f.swInc(tl, 1)
	igttFired(t, "plain registration, fence signalled", wait, 1)
	igttFired(t, "WAIT_AVAILABLE registration, fence signalled", avail, 1)
	igttEventfdNoRefire(t, f, h, point, wait, avail)
	f.fds.close(tl)
	f.destroy(h)
	f.teardown()
	igttEventfdReleased(t, wait, avail)
}

// igttEventfdWaitBeforeSignal is *-wait-before-signal: registered on a
// fresh syncobj, before any fence exists.
func igttEventfdWaitBeforeSignal(t *testing.T, point uint64) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	wait, avail := igttEventfdRegister(t, f, h, point)
	igttFired(t, "plain registration, no fence", wait, 0)
	igttFired(t, "WAIT_AVAILABLE registration, no fence", avail, 0)
	tl := f.attach(h, point)
	igttFired(t, "plain registration, fence attached", wait, 0)
	igttFired(t, "WAIT_AVAILABLE registration, fence attached", avail, 1)
	f.swInc(tl, 1)
	igttFired(t, "plain registration, fence signalled", wait, 1)
	igttFired(t, "WAIT_AVAILABLE registration, fence signalled", avail, 1)
	igttEventfdNoRefire(t, f, h, point, wait, avail)
	f.fds.close(tl)
	f.destroy(h)
	f.teardown()
	igttEventfdReleased(t, wait, avail)
}

// igttEventfdWaitSignaled is *-wait-signaled: the fence has signalled
// before the registrations.
func igttEventfdWaitSignaled(t *testing.T, point uint64) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	tl := f.attach(h, point)
	f.swInc(tl, 1)
	wait, avail := igttEventfdRegister(t, f, h, point)
	igttFired(t, "plain registration, fence already signalled", wait, 1)
	igttFired(t, "WAIT_AVAILABLE registration, fence already signalled", avail, 1)
	igttEventfdNoRefire(t, f, h, point, wait, avail)
	f.fds.close(tl)
	f.destroy(h)
	f.teardown()
	igttEventfdReleased(t, wait, avail)
}

// TestIGTSyncobjEventfd mirrors the ten subtests of IGT's syncobj_eventfd.
func TestIGTSyncobjEventfd(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"invalid-bad-flags", igttEventfdInvalidBadFlags},
		{"invalid-illegal-handle", igttEventfdInvalidIllegalHandle},
		{"invalid-illegal-eventfd", igttEventfdInvalidIllegalEventfd},
		{"invalid-bad-pad", igttEventfdInvalidBadPad},
		{"binary-wait", func(t *testing.T) { igttEventfdWait(t, 0) }},
		{"binary-wait-before-signal", func(t *testing.T) { igttEventfdWaitBeforeSignal(t, 0) }},
		{"binary-wait-signaled", func(t *testing.T) { igttEventfdWaitSignaled(t, 0) }},
		{"timeline-wait", func(t *testing.T) { igttEventfdWait(t, 1) }},
		{"timeline-wait-before-signal", func(t *testing.T) { igttEventfdWaitBeforeSignal(t, 1) }},
		{"timeline-wait-signaled", func(t *testing.T) { igttEventfdWaitSignaled(t, 1) }},
	} {
		t.Run(tc.name, tc.fn)
	}
}
