package fence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fencelab/errno"
)

// This file mirrors IGT's tests/syncobj_timeline.c and
// tests/syncobj_eventfd.c (spec §5.3, §5.4), one t.Run per IGT subtest,
// named exactly as IGT names it. U, S and G are IGT's states: a fresh
// syncobj, an unsignalled sw_sync fence attached at the point (attach), and
// an attached fence that has signalled (trigger).
//
// Timed subtests run on the manual clock: a waiter is started with
// background, the test waits until it has armed its deadline timer
// (waitArmed) and then moves the clock. No subtest sleeps.

// Kernel wait flags, shortened.
const (
	igttAll = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
	igttFS  = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
	igttAV  = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE
)

// igttUint64Max is the timeout IGT passes as UINT64_MAX: -1 as the kernel's
// signed timeout_nsec, a time in the past, so the wait polls (spec §3.6).
const igttUint64Max = int64(-1)

// igttSeed seeds the PCG that stands for IGT's rand(), so that the points
// of the multi-wait matrix and host-signal-points are reproducible.
const igttSeed = 0x5eed_1917

// igttRes is the outcome of one wait ioctl.
type igttRes struct {
	e     errno.Errno
	first uint32
}

// igttFlags names a set of kernel wait flags for failure messages.
func igttFlags(flags uint32) string {
	if flags == 0 {
		return "0"
	}
	var parts []string
	for _, fl := range []struct {
		bit  uint32
		name string
	}{{igttAll, "ALL"}, {igttFS, "FOR_SUBMIT"}, {igttAV, "AVAILABLE"}, {DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE, "DEADLINE"}} {
		if flags&fl.bit != 0 {
			parts = append(parts, fl.name)
			flags &^= fl.bit
		}
	}
	if flags != 0 {
		parts = append(parts, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(parts, "|")
}

// igttTimeout describes a timeout relative to now for failure messages.
func igttTimeout(f *drmFile, timeout int64) string {
	switch {
	case timeout == 0:
		return "0"
	case timeout == igttUint64Max:
		return "UINT64_MAX"
	default:
		return fmt.Sprintf("now%+dms", (timeout-f.now())/ms)
	}
}

// igttWaitCall describes a TIMELINE_WAIT call for failure messages.
func igttWaitCall(f *drmFile, handles []uint32, points []uint64, timeout int64, flags uint32) string {
	return fmt.Sprintf("TimelineWait(handles %v, points %v, timeout %s, flags %s)",
		handles, points, igttTimeout(f, timeout), igttFlags(flags))
}

// igttRecv returns the result of a waiter that is expected to return by
// itself. It never waits on the wall clock in a passing run; if the waiter
// is still blocked after 5 s of real time (a bug), it reports that, moves
// the clock to the waiter's deadline to release it and returns what it
// then says.
func igttRecv(t *testing.T, f *drmFile, ch <-chan igttRes, deadline int64) igttRes {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
	}
	t.Errorf("waiter still blocked after the event that should have woken it; moving the clock to its deadline")
	f.clock.AdvanceTo(deadline)
	return <-ch
}

// igttTimedWait runs call, a wait with the absolute deadline given, on its
// own goroutine. If the call blocks (it arms a timer) the clock is moved to
// the deadline. It returns the result and whether the clock had to reach
// the deadline for the call to return.
func igttTimedWait(f *drmFile, deadline int64, call func() igttRes) (igttRes, bool) {
	base := f.clock.Pending()
	ch := background(call)
	for i := 0; ; i++ {
		select {
		case r := <-ch:
			return r, false
		default:
		}
		if f.clock.Pending() > base {
			f.clock.AdvanceTo(deadline)
			return <-ch, true
		}
		if i > 5_000_000 {
			f.t.Fatalf("timed wait neither returned nor armed a timer")
		}
		yield()
	}
}

// igttCheckWaits is the body shared by the single- and multi-wait matrices:
// IGT waits with timeout 0, now+SHORT and (unless ETIME is expected)
// UINT64_MAX and expects the same result from each. On success
// first_signaled must be wantFirst.
func igttCheckWaits(t *testing.T, f *drmFile, handles []uint32, points []uint64, flags uint32, want errno.Errno, wantFirst uint32) {
	t.Helper()
	checkOne := func(call string, r igttRes) {
		t.Helper()
		if r.e != want {
			t.Errorf("%s = %v; want %v", call, r.e, want)
			return
		}
		if want == 0 && r.first != wantFirst {
			t.Errorf("%s: first_signaled = %d; want %d", call, r.first, wantFirst)
		}
	}

	e, first := f.timelineWait(handles, points, 0, flags)
	checkOne(igttWaitCall(f, handles, points, 0, flags), igttRes{e, first})

	deadline := f.now() + short
	call := igttWaitCall(f, handles, points, deadline, flags)
	r, expired := igttTimedWait(f, deadline, func() igttRes {
		e, first := f.timelineWait(handles, points, deadline, flags)
		return igttRes{e, first}
	})
	checkOne(call, r)
	if r.e == errno.ETIME && !expired {
		t.Errorf("%s returned ETIME before its deadline", call)
	}

	if want != errno.ETIME {
		e, first := f.timelineWait(handles, points, igttUint64Max, flags)
		checkOne(igttWaitCall(f, handles, points, igttUint64Max, flags), igttRes{e, first})
	}
}

// igttMatrixName is the name IGT's subtest loop gives a matrix entry:
// "%s<kind>%s%s%s%s%s%s" with the result prefix, the wait flags and the
// states present.
func igttMatrixName(kind string, flags uint32, states string, want errno.Errno) string {
	var b strings.Builder
	switch want {
	case errno.EINVAL:
		b.WriteString("invalid-")
	case errno.ETIME:
		b.WriteString("etime-")
	}
	b.WriteString(kind)
	for _, p := range []struct {
		on   bool
		name string
	}{
		{flags&igttAll != 0, "-all"},
		{flags&igttFS != 0, "-for-submit"},
		{flags&igttAV != 0, "-available"},
		{strings.Contains(states, "U"), "-unsubmitted"},
		{strings.Contains(states, "S"), "-submitted"},
		{strings.Contains(states, "G"), "-signaled"},
	} {
		if p.on {
			b.WriteString(p.name)
		}
	}
	return b.String()
}

// igttSetState puts syncobj h at point into IGT state U, S or G and returns
// the sw_sync timeline fd (-1 for U).
func igttSetState(f *drmFile, h uint32, point uint64, state byte) int32 {
	f.t.Helper()
	switch state {
	case 'U':
		return -1
	case 'S':
		return f.attach(h, point)
	case 'G':
		tl := f.attach(h, point)
		f.swInc(tl, 1)
		return tl
	}
	f.t.Fatalf("bad state %q", state)
	return -1
}

// igttExpectedFirst is first_signaled for a wait that succeeds in its
// initial scan (spec §3.6): the lowest entry that counts there, that is one
// whose fence has signalled or, with WAIT_AVAILABLE, that has a fence.
func igttExpectedFirst(states string, flags uint32) uint32 {
	for i := 0; i < len(states); i++ {
		if states[i] == 'G' || (flags&igttAV != 0 && states[i] == 'S') {
			return uint32(i)
		}
	}
	return ^uint32(0)
}

type igttMatrixRow struct {
	name   string
	states string
	flags  uint32
	want   errno.Errno
}

// igttSingleWaitMatrix is spec §5.3's single-wait matrix (point 1).
var igttSingleWaitMatrix = []igttMatrixRow{
	{"invalid-single-wait-unsubmitted", "U", 0, errno.EINVAL},
	{"etime-single-wait-for-submit-unsubmitted", "U", igttFS, errno.ETIME},
	{"invalid-single-wait-all-unsubmitted", "U", igttAll, errno.EINVAL},
	{"etime-single-wait-all-for-submit-unsubmitted", "U", igttAll | igttFS, errno.ETIME},
	{"etime-single-wait-available-unsubmitted", "U", igttAV, errno.ETIME},
	{"etime-single-wait-for-submit-available-unsubmitted", "U", igttFS | igttAV, errno.ETIME},
	{"etime-single-wait-all-available-unsubmitted", "U", igttAll | igttAV, errno.ETIME},
	{"etime-single-wait-all-for-submit-available-unsubmitted", "U", igttAll | igttFS | igttAV, errno.ETIME},
	{"etime-single-wait-submitted", "S", 0, errno.ETIME},
	{"etime-single-wait-for-submit-submitted", "S", igttFS, errno.ETIME},
	{"etime-single-wait-all-submitted", "S", igttAll, errno.ETIME},
	{"etime-single-wait-all-for-submit-submitted", "S", igttAll | igttFS, errno.ETIME},
	{"single-wait-available-submitted", "S", igttAV, 0},
	{"single-wait-for-submit-available-submitted", "S", igttFS | igttAV, 0},
	{"single-wait-all-available-submitted", "S", igttAll | igttAV, 0},
	{"single-wait-all-for-submit-available-submitted", "S", igttAll | igttFS | igttAV, 0},
	{"single-wait-signaled", "G", 0, 0},
	{"single-wait-for-submit-signaled", "G", igttFS, 0},
	{"single-wait-all-signaled", "G", igttAll, 0},
	{"single-wait-all-for-submit-signaled", "G", igttAll | igttFS, 0},
	{"single-wait-available-signaled", "G", igttAV, 0},
	{"single-wait-for-submit-available-signaled", "G", igttFS | igttAV, 0},
	{"single-wait-all-available-signaled", "G", igttAll | igttAV, 0},
	{"single-wait-all-for-submit-available-signaled", "G", igttAll | igttFS | igttAV, 0},
}

// igttMultiWaitMatrix is spec §5.3's multi-wait matrix: five syncobjs, the
// state string giving each one's state. IGT's loop stops short of the
// all-flags entry ("…-all-for-submit-available-unsubmitted-submitted-
// signaled"), so there are 55.
var igttMultiWaitMatrix = []igttMatrixRow{
	{"invalid-multi-wait-unsubmitted", "UUUUU", 0, errno.EINVAL},
	{"etime-multi-wait-for-submit-unsubmitted", "UUUUU", igttFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted", "UUUUU", igttAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted", "UUUUU", igttAll | igttFS, errno.ETIME},
	{"etime-multi-wait-available-unsubmitted", "UUUUU", igttAV, errno.ETIME},
	{"etime-multi-wait-for-submit-available-unsubmitted", "UUUUU", igttFS | igttAV, errno.ETIME},
	{"etime-multi-wait-all-available-unsubmitted", "UUUUU", igttAll | igttAV, errno.ETIME},
	{"etime-multi-wait-all-for-submit-available-unsubmitted", "UUUUU", igttAll | igttFS | igttAV, errno.ETIME},

	{"etime-multi-wait-submitted", "SSSSS", 0, errno.ETIME},
	{"etime-multi-wait-for-submit-submitted", "SSSSS", igttFS, errno.ETIME},
	{"etime-multi-wait-all-submitted", "SSSSS", igttAll, errno.ETIME},
	{"etime-multi-wait-all-for-submit-submitted", "SSSSS", igttAll | igttFS, errno.ETIME},
	{"multi-wait-available-submitted", "SSSSS", igttAV, 0},
	{"multi-wait-for-submit-available-submitted", "SSSSS", igttFS | igttAV, 0},
	{"multi-wait-all-available-submitted", "SSSSS", igttAll | igttAV, 0},
	{"multi-wait-all-for-submit-available-submitted", "SSSSS", igttAll | igttFS | igttAV, 0},

	{"invalid-multi-wait-unsubmitted-submitted", "USSSS", 0, errno.EINVAL},
	{"etime-multi-wait-for-submit-unsubmitted-submitted", "USSSS", igttFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted-submitted", "USSSS", igttAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted-submitted", "USSSS", igttAll | igttFS, errno.ETIME},
	{"multi-wait-available-unsubmitted-submitted", "USSSS", igttAV, 0},
	{"multi-wait-for-submit-available-unsubmitted-submitted", "USSSS", igttFS | igttAV, 0},
	{"etime-multi-wait-all-available-unsubmitted-submitted", "USSSS", igttAll | igttAV, errno.ETIME},
	{"etime-multi-wait-all-for-submit-available-unsubmitted-submitted", "USSSS", igttAll | igttFS | igttAV, errno.ETIME},

	{"multi-wait-signaled", "GGGGG", 0, 0},
	{"multi-wait-for-submit-signaled", "GGGGG", igttFS, 0},
	{"multi-wait-all-signaled", "GGGGG", igttAll, 0},
	{"multi-wait-all-for-submit-signaled", "GGGGG", igttAll | igttFS, 0},
	{"multi-wait-available-signaled", "GGGGG", igttAV, 0},
	{"multi-wait-for-submit-available-signaled", "GGGGG", igttFS | igttAV, 0},
	{"multi-wait-all-available-signaled", "GGGGG", igttAll | igttAV, 0},
	{"multi-wait-all-for-submit-available-signaled", "GGGGG", igttAll | igttFS | igttAV, 0},

	{"invalid-multi-wait-unsubmitted-signaled", "UGGGG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-signaled", "UGGGG", igttFS, 0},
	{"invalid-multi-wait-all-unsubmitted-signaled", "UGGGG", igttAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted-signaled", "UGGGG", igttAll | igttFS, errno.ETIME},
	{"multi-wait-available-unsubmitted-signaled", "UGGGG", igttAV, 0},
	{"multi-wait-for-submit-available-unsubmitted-signaled", "UGGGG", igttFS | igttAV, 0},
	{"etime-multi-wait-all-available-unsubmitted-signaled", "UGGGG", igttAll | igttAV, errno.ETIME},
	{"etime-multi-wait-all-for-submit-available-unsubmitted-signaled", "UGGGG", igttAll | igttFS | igttAV, errno.ETIME},

	{"multi-wait-submitted-signaled", "SGGGG", 0, 0},
	{"multi-wait-for-submit-submitted-signaled", "SGGGG", igttFS, 0},
	{"etime-multi-wait-all-submitted-signaled", "SGGGG", igttAll, errno.ETIME},
	{"etime-multi-wait-all-for-submit-submitted-signaled", "SGGGG", igttAll | igttFS, errno.ETIME},
	{"multi-wait-available-submitted-signaled", "SGGGG", igttAV, 0},
	{"multi-wait-for-submit-available-submitted-signaled", "SGGGG", igttFS | igttAV, 0},
	{"multi-wait-all-available-submitted-signaled", "SGGGG", igttAll | igttAV, 0},
	{"multi-wait-all-for-submit-available-submitted-signaled", "SGGGG", igttAll | igttFS | igttAV, 0},

	{"invalid-multi-wait-unsubmitted-submitted-signaled", "USGGG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-submitted-signaled", "USGGG", igttFS, 0},
	{"invalid-multi-wait-all-unsubmitted-submitted-signaled", "USGGG", igttAll, errno.EINVAL},
	{"etime-multi-wait-all-for-submit-unsubmitted-submitted-signaled", "USGGG", igttAll | igttFS, errno.ETIME},
	{"multi-wait-available-unsubmitted-submitted-signaled", "USGGG", igttAV, 0},
	{"multi-wait-for-submit-available-unsubmitted-submitted-signaled", "USGGG", igttFS | igttAV, 0},
	{"etime-multi-wait-all-available-unsubmitted-submitted-signaled", "USGGG", igttAll | igttAV, errno.ETIME},
}

func igttSingleWait(t *testing.T, row igttMatrixRow) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	tl := igttSetState(f, h, 1, row.states[0])
	igttCheckWaits(t, f, []uint32{h}, []uint64{1}, row.flags, row.want, 0)
	check(t, "Destroy", f.destroy(h), 0)
	if tl >= 0 {
		f.fds.close(tl)
	}
	f.teardown()
}

func igttMultiWait(t *testing.T, idx int, row igttMatrixRow) {
	f := newDRMFile(t)
	// IGT: {1 + rand() % 1000, 0, 1 + rand() % 1000, 1 + rand() % 1000, 0};
	// entries 1 and 4 are binary syncobjs. One PCG stream per row keeps
	// the points the same whichever subtests run.
	rng := rand.New(rand.NewPCG(igttSeed, uint64(idx)))
	points := []uint64{1 + rng.Uint64()%1000, 0, 1 + rng.Uint64()%1000, 1 + rng.Uint64()%1000, 0}
	handles := make([]uint32, len(points))
	for i := range handles {
		handles[i] = f.mustCreate(0)
	}
	var tls []int32
	for i := range handles {
		if tl := igttSetState(f, handles[i], points[i], row.states[i]); tl >= 0 {
			tls = append(tls, tl)
		}
	}
	igttCheckWaits(t, f, handles, points, row.flags, row.want, igttExpectedFirst(row.states, row.flags))
	for _, h := range handles {
		check(t, "Destroy", f.destroy(h), 0)
	}
	for _, tl := range tls {
		f.fds.close(tl)
	}
	f.teardown()
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
	check(t, igttWaitCall(f, handles[:3], points[:3], 0, 0), e, 0)
	if e == 0 && first != 0 {
		t.Errorf("%s: first_signaled = %d; want 0", igttWaitCall(f, handles[:3], points[:3], 0, 0), first)
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
	check(t, igttWaitCall(f, []uint32{h}, []uint64{1}, 0, rawFlags), e, errno.ETIME)
	f.swInc(tl, 1)
	if q := f.query1(h); q != 1 {
		t.Errorf("Query(h) with point 1 signalled = %d; want 1", q)
	}
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, rawFlags)
	check(t, igttWaitCall(f, []uint32{h}, []uint64{1}, 0, rawFlags), e, 0)
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

// igttWaitDelayed is wait-delayed-signal and its variants: with
// WAIT_FOR_SUBMIT a timer at +SHORT attaches and signals a fence at point 1
// of a fresh syncobj; otherwise a fence is attached up front and the timer
// signals it. The wait, deadline +2·SHORT, must succeed.
func igttWaitDelayed(t *testing.T, flags uint32) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	start := f.now()
	tl := int32(-1)
	if flags&igttFS != 0 {
		f.clock.AfterFunc(start+short, func() { f.trigger(h, 1) })
	} else {
		tl = f.attach(h, 1)
		f.clock.AfterFunc(start+short, func() { f.swInc(tl, 1) })
	}
	deadline := start + 2*short
	call := igttWaitCall(f, []uint32{h}, []uint64{1}, deadline, flags)
	ch := background(func() igttRes {
		e, first := f.timelineWait([]uint32{h}, []uint64{1}, deadline, flags)
		return igttRes{e, first}
	})
	f.waitArmed(2) // our timer and the waiter's deadline
	f.clock.AdvanceTo(start + short)
	r := igttRecv(t, f, ch, deadline)
	// Not asserted by IGT: first_signaled is the entry that signalled or,
	// for WAIT_ALL, the first one found signalled in the initial scan;
	// there was none, so ~0 (spec §3.6 step 6).
	wantFirst := uint32(0)
	if flags&igttAll != 0 {
		wantFirst = ^uint32(0)
	}
	if r.e != 0 {
		t.Errorf("%s = %v; want %v", call, r.e, errno.Errno(0))
	} else if r.first != wantFirst {
		t.Errorf("%s: first_signaled = %#x; want %#x", call, r.first, wantFirst)
	}
	if tl >= 0 {
		f.fds.close(tl)
	}
	f.destroy(h)
	f.teardown()
}

func igttResetUnsignaled(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
	check(t, "TimelineWait([h], [1], timeout 0) on a fresh syncobj", e, errno.EINVAL)
	check(t, "Reset(h)", f.reset(h), 0)
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
	check(t, "TimelineWait([h], [1], timeout 0) after Reset", e, errno.EINVAL)
	f.destroy(h)
	f.teardown()
}

func igttResetSignaled(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	f.trigger(h, 1)
	e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
	check(t, "TimelineWait([h], [1], timeout 0) after trigger", e, 0)
	check(t, "Reset(h)", f.reset(h), 0)
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
	check(t, "TimelineWait([h], [1], timeout 0) after Reset", e, errno.EINVAL)
	f.destroy(h)
	f.teardown()
}

func igttResetMultipleSignaled(t *testing.T) {
	f := newDRMFile(t)
	points := []uint64{1, 1, 1}
	handles := make([]uint32, 3)
	for i := range handles {
		handles[i] = f.mustCreate(0)
		f.trigger(handles[i], points[i])
	}
	e, _ := f.timelineWait(handles, points, 0, 0)
	check(t, igttWaitCall(f, handles, points, 0, 0), e, 0)
	check(t, fmt.Sprintf("Reset(%v)", handles), f.reset(handles...), 0)
	for i, h := range handles {
		e, _ := f.timelineWait([]uint32{h}, points[i:i+1], 0, 0)
		check(t, igttWaitCall(f, []uint32{h}, points[i:i+1], 0, 0)+" after Reset", e, errno.EINVAL)
		f.destroy(h)
	}
	f.teardown()
}

func igttResetDuringWaitForSubmit(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	start := f.now()
	f.clock.AfterFunc(start+short, func() {
		check(t, "Reset(h) during the wait", f.reset(h), 0)
		f.trigger(h, 1)
	})
	deadline := start + 2*short
	call := igttWaitCall(f, []uint32{h}, []uint64{1}, deadline, igttFS)
	ch := background(func() igttRes {
		e, first := f.timelineWait([]uint32{h}, []uint64{1}, deadline, igttFS)
		return igttRes{e, first}
	})
	f.waitArmed(2)
	f.clock.AdvanceTo(start + short)
	r := igttRecv(t, f, ch, deadline)
	if r.e != 0 {
		t.Errorf("%s = %v; want %v (a reset must not disturb a WAIT_FOR_SUBMIT wait)", call, r.e, errno.Errno(0))
	}
	f.destroy(h)
	f.teardown()
}

func igttSignal(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
	check(t, "TimelineWait([h], [1], timeout 0, flags 0) on a fresh syncobj", e, errno.EINVAL)
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, igttFS)
	check(t, "TimelineWait([h], [1], timeout 0, FOR_SUBMIT) on a fresh syncobj", e, errno.ETIME)
	check(t, "TimelineSignal([h], [1])", f.timelineSignal([]uint32{h}, []uint64{1}), 0)
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
	check(t, "TimelineWait([h], [1], timeout 0, flags 0) after TimelineSignal", e, 0)
	e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, igttFS)
	check(t, "TimelineWait([h], [1], timeout 0, FOR_SUBMIT) after TimelineSignal", e, 0)
	f.destroy(h)
	f.teardown()
}

func igttSignalPoint0(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	check(t, "TimelineSignal([h], [0])", f.timelineSignal([]uint32{h}, []uint64{0}), 0)
	e, _ := f.timelineWait([]uint32{h}, []uint64{0}, 0, 0)
	check(t, "TimelineWait([h], [0], timeout 0)", e, 0)
	e, _ = f.wait([]uint32{h}, 0, igttFS)
	check(t, "Wait([h], timeout 0, FOR_SUBMIT)", e, 0)
	f.destroy(h)
	f.teardown()
}

// igttWaitSnapshot is wait-{any,all,for-submit,all-for-submit}-snapshot:
// a waiter on two syncobjs at point 1 (deadline +SHORT) must keep the
// fences it captured while the test signals, resets and re-attaches #0,
// and finish when #1 signals.
func igttWaitSnapshot(t *testing.T, flags uint32) {
	f := newDRMFile(t)
	handles := []uint32{f.mustCreate(0), f.mustCreate(0)}
	points := []uint64{1, 1}
	tls := []int32{-1, -1, -1}
	if flags&igttFS == 0 {
		tls[0] = f.attach(handles[0], points[0])
		tls[1] = f.attach(handles[1], points[1])
	}
	deadline := f.now() + short
	call := igttWaitCall(f, handles, points, deadline, flags)
	ch := background(func() igttRes {
		e, first := f.timelineWait(handles, points, deadline, flags)
		return igttRes{e, first}
	})
	f.waitArmed(1)
	f.clock.Advance(short / 5)

	// Try to fake the kernel out by triggering or partially triggering #0.
	if flags&igttAll != 0 {
		if tls[0] == -1 {
			f.trigger(handles[0], points[0])
		} else {
			f.swInc(tls[0], 1)
		}
	} else if flags&igttFS != 0 {
		tls[0] = f.attach(handles[0], points[0])
	}
	f.clock.Advance(short / 5)
	check(t, "Reset(#0) during the wait", f.reset(handles[0]), 0)
	f.clock.Advance(short / 5)
	// A fence that never signals: picking it up would time the wait out.
	tls[2] = f.attach(handles[0], points[0])
	f.clock.Advance(short / 5)
	if tls[1] == -1 {
		f.trigger(handles[1], points[1])
	} else {
		f.swInc(tls[1], 1)
	}

	r := igttRecv(t, f, ch, deadline)
	if r.e != 0 {
		t.Errorf("%s = %v; want %v", call, r.e, errno.Errno(0))
	} else if flags&igttAll == 0 && r.first != 1 {
		t.Errorf("%s: first_signaled = %d; want 1", call, r.first)
	}
	for _, tl := range tls {
		if tl >= 0 {
			f.fds.close(tl)
		}
	}
	for _, h := range handles {
		f.destroy(h)
	}
	f.teardown()
}

// igttShuffled is IGT's shuffled_0_7_x4: 0..7, each four times.
var igttShuffled = [...]int{
	2, 0, 6, 1, 1, 4, 5, 2, 0, 7, 1, 7, 6, 3, 4, 5,
	0, 2, 7, 3, 5, 4, 0, 6, 7, 3, 2, 5, 6, 1, 4, 3,
}

// igttWaitComplex is wait-{any,all,for-submit,all-for-submit}-complex:
// eight syncobjs at point 1 walk through unsubmitted → submitted →
// signalled → reset → resubmitted in a shuffled order while a waiter
// watches the first two (deadline +1 s).
func igttWaitComplex(t *testing.T, flags uint32) {
	const (
		stageUnsubmitted = iota
		stageSubmitted
		stageSignaled
		stageReset
		stageResubmitted
	)
	f := newDRMFile(t)
	var handles [8]uint32
	points := []uint64{1, 1, 1, 1, 1, 1, 1, 1}
	var stage [8]int
	var tls [8]int32
	for i := range handles {
		handles[i] = f.mustCreate(0)
		tls[i] = -1
	}
	if flags&igttFS == 0 {
		for i := range handles {
			tls[i] = f.attach(handles[i], points[i])
		}
	}
	deadline := f.now() + 1_000*ms
	call := igttWaitCall(f, handles[:2], points[:2], deadline, flags)
	ch := background(func() igttRes {
		e, first := f.timelineWait(handles[:2], points[:2], deadline, flags)
		return igttRes{e, first}
	})
	f.waitArmed(1)
	f.clock.Advance(20 * ms)

	firstSignaled, numSignaled := -1, 0
	for _, i := range igttShuffled {
		s := stage[i]
		stage[i]++
		switch s {
		case stageUnsubmitted:
			if flags&igttFS == 0 {
				if tls[i] == -1 {
					t.Fatalf("syncobj %d: no fence attached up front", i)
				}
				break
			}
			tls[i] = f.attach(handles[i], points[i])
		case stageSubmitted:
			if tls[i] == -1 {
				t.Fatalf("syncobj %d: no fence to signal", i)
			}
			f.swInc(tls[i], 1)
			f.fds.close(tls[i])
			tls[i] = -1
			if numSignaled == 0 {
				firstSignaled = i
			}
			numSignaled++
		case stageSignaled:
			check(t, fmt.Sprintf("Reset(#%d)", i), f.reset(handles[i]), 0)
		case stageReset:
			tls[i] = f.attach(handles[i], points[i])
		case stageResubmitted:
			t.Fatalf("syncobj %d: should not reach the resubmitted stage", i)
		}
		if flags&igttAll != 0 {
			if numSignaled == len(handles) {
				break
			}
		} else if numSignaled > 0 {
			break
		}
		f.clock.Advance(10 * ms)
	}

	r := igttRecv(t, f, ch, deadline)
	if r.e != 0 {
		t.Errorf("%s = %v; want %v", call, r.e, errno.Errno(0))
	}
	if flags&igttAll != 0 {
		if numSignaled != len(handles) {
			t.Errorf("signalled %d syncobjs; want %d", numSignaled, len(handles))
		}
	} else {
		if numSignaled != 1 {
			t.Errorf("signalled %d syncobjs; want 1", numSignaled)
		}
		if r.e == 0 && r.first != uint32(firstSignaled) {
			t.Errorf("%s: first_signaled = %d; want %d", call, r.first, firstSignaled)
		}
	}
	for i := range handles {
		if tls[i] >= 0 {
			f.fds.close(tls[i])
		}
		f.destroy(handles[i])
	}
	f.teardown()
}

// igttWaitInterrupted is wait-{any,all}-interrupted: a wait on an
// unsignalled point 1 (deadline +SHORT) under a signal storm. Each
// interrupted attempt returns ERESTARTSYS and is restarted with the same
// absolute deadline, a few ms later; the last one must report ETIME, and
// only once the deadline has passed.
func igttWaitInterrupted(t *testing.T, flags uint32) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	tl := f.attach(h, 1)
	deadline := f.now() + short
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a signal is always pending
	restarts := 0
	first := igttWaitCall(f, []uint32{h}, []uint64{1}, deadline, flags)
	var e errno.Errno
	for {
		e, _ = f.timelineWaitCtx(ctx, []uint32{h}, []uint64{1}, deadline, flags)
		if e != errno.ERESTARTSYS {
			break
		}
		restarts++
		if restarts > 1000 {
			t.Fatalf("%s: still ERESTARTSYS after %d restarts, %d ms past the deadline", first, restarts, (f.now()-deadline)/ms)
		}
		f.clock.Advance(3 * ms)
	}
	call := fmt.Sprintf("%s, restarted %d times", first, restarts)
	check(t, call, e, errno.ETIME)
	if restarts == 0 {
		t.Errorf("%s: the pending signal never interrupted the wait; want ERESTARTSYS while the deadline is ahead", call)
	}
	if now := f.now(); e == errno.ETIME && now < deadline {
		t.Errorf("%s: ETIME at %d ms before the deadline", call, (deadline-now)/ms)
	}
	if n := f.clock.Pending(); n != 0 {
		t.Errorf("after the interrupted waits, %d timers still armed; want 0", n)
	}
	f.fds.close(tl)
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
		check(t, fmt.Sprintf("iteration %d: %s", i, igttWaitCall(f, []uint32{h}, []uint64{q}, 0, rawForSubmit)), e, 0)
		e, _ = f.timelineWait([]uint32{h}, []uint64{q - 1}, 0, rawAll)
		check(t, fmt.Sprintf("iteration %d: %s", i, igttWaitCall(f, []uint32{h}, []uint64{q - 1}, 0, rawAll)), e, 0)
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
		check(t, igttWaitCall(f, []uint32{h}, []uint64{q}, 0, rawForSubmit), e, 0)
		e, _ = f.timelineWait([]uint32{h}, []uint64{q}, 0, rawAll)
		check(t, igttWaitCall(f, []uint32{h}, []uint64{q}, 0, rawAll), e, 0)
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
	check(t, igttWaitCall(f, []uint32{h}, []uint64{q}, 0, rawForSubmit), e, 0)
	e, _ = f.timelineWait([]uint32{h}, []uint64{q}, 0, rawAll)
	check(t, igttWaitCall(f, []uint32{h}, []uint64{q}, 0, rawAll), e, 0)
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

	for _, row := range igttSingleWaitMatrix {
		t.Run(row.name, func(t *testing.T) {
			if n := igttMatrixName("single-wait", row.flags, row.states, row.want); n != row.name {
				t.Errorf("table row %q: IGT's loop names (%s, flags %s, %v) %q", row.name, row.states, igttFlags(row.flags), row.want, n)
			}
			igttSingleWait(t, row)
		})
	}

	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"wait-delayed-signal", func(t *testing.T) { igttWaitDelayed(t, 0) }},
		{"wait-for-submit-delayed-submit", func(t *testing.T) { igttWaitDelayed(t, igttFS) }},
		{"wait-all-delayed-signal", func(t *testing.T) { igttWaitDelayed(t, igttAll) }},
		{"wait-all-for-submit-delayed-submit", func(t *testing.T) { igttWaitDelayed(t, igttAll|igttFS) }},
		{"reset-unsignaled", igttResetUnsignaled},
		{"reset-signaled", igttResetSignaled},
		{"reset-multiple-signaled", igttResetMultipleSignaled},
		{"reset-during-wait-for-submit", igttResetDuringWaitForSubmit},
		{"signal", igttSignal},
		{"signal-point-0", igttSignalPoint0},
	} {
		t.Run(tc.name, tc.fn)
	}

	for i, row := range igttMultiWaitMatrix {
		t.Run(row.name, func(t *testing.T) {
			if n := igttMatrixName("multi-wait", row.flags, row.states, row.want); n != row.name {
				t.Errorf("table row %q: IGT's loop names (%s, flags %s, %v) %q", row.name, row.states, igttFlags(row.flags), row.want, n)
			}
			igttMultiWait(t, i, row)
		})
	}

	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"wait-any-snapshot", func(t *testing.T) { igttWaitSnapshot(t, 0) }},
		{"wait-all-snapshot", func(t *testing.T) { igttWaitSnapshot(t, igttAll) }},
		{"wait-for-submit-snapshot", func(t *testing.T) { igttWaitSnapshot(t, igttFS) }},
		{"wait-all-for-submit-snapshot", func(t *testing.T) { igttWaitSnapshot(t, igttAll|igttFS) }},
		{"wait-any-complex", func(t *testing.T) { igttWaitComplex(t, 0) }},
		{"wait-all-complex", func(t *testing.T) { igttWaitComplex(t, igttAll) }},
		{"wait-for-submit-complex", func(t *testing.T) { igttWaitComplex(t, igttFS) }},
		{"wait-all-for-submit-complex", func(t *testing.T) { igttWaitComplex(t, igttAll|igttFS) }},
		{"wait-any-interrupted", func(t *testing.T) { igttWaitInterrupted(t, 0) }},
		{"wait-all-interrupted", func(t *testing.T) { igttWaitInterrupted(t, igttAll) }},
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
	e := f.tab.Eventfd(f.fds, &DrmSyncobjEventfd{Handle: h, Fd: evfd, Pad: 0xdeadbeef})
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
	check(t, fmt.Sprintf("Eventfd(h, point %d, WAIT_AVAILABLE)", point), f.eventfd(h, point, availFD, igttAV), 0)
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
