package fence

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"testing"
	"time"

	"fencelab/errno"
)

// This file mirrors IGT's syncobj_basic and syncobj_wait (spec §5.1, §5.2),
// one Go subtest per IGT subtest, named exactly as IGT names it. Time is the
// drmFile's ManualClock: nothing here sleeps; a blocking wait is run on its
// own goroutine and the test moves the clock once the waiter has armed its
// deadline timer. Helpers are prefixed igtw.

// igtwPoll is UINT64_MAX passed as the absolute timeout: negative as an s64,
// so the kernel polls once (spec §3.6).
const igtwPoll = int64(-1)

// igtwUnwritten is what the harness preloads into first_signaled; the kernel
// writes first_signaled on success only (spec §3.3 WAIT).
const igtwUnwritten = uint32(0xdead)

// igtwNone is first_signaled when nothing had signalled in the initial scan
// of a WAIT_ALL wait (first = ~0 in drm_syncobj_array_wait, spec §3.6).
const igtwNone = ^uint32(0)

// igtwGrace bounds how long (wall time) a waiter may take to return once it
// must have been woken. A correct implementation returns in microseconds;
// only a broken one ever waits this long.
const igtwGrace = 2 * time.Second

// igtwRes is a waiter's result: errno and first_signaled.
type igtwRes struct {
	e     errno.Errno
	first uint32
}

// igtwWaitBG starts WAIT on its own goroutine.
func igtwWaitBG(f *drmFile, ctx context.Context, hs []uint32, timeout int64, flags uint32) <-chan igtwRes {
	return background(func() igtwRes {
		e, first := f.waitCtx(ctx, hs, timeout, flags)
		return igtwRes{e, first}
	})
}

// igtwAwait returns the result of a waiter that must already have been woken
// (or must return without blocking). If it has not returned within igtwGrace,
// the test fails and the clock is moved to deadline so that the waiter ends
// (normally with ETIME) instead of leaking.
func igtwAwait(f *drmFile, ch <-chan igtwRes, deadline int64, what string) igtwRes {
	f.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(igtwGrace):
	}
	f.t.Errorf("%s: the waiter did not return after it should have been woken; advancing the clock to its deadline", what)
	f.clock.AdvanceTo(deadline)
	select {
	case r := <-ch:
		return r
	case <-time.After(igtwGrace):
		f.t.Fatalf("%s: the waiter did not return even after its deadline", what)
	}
	panic("unreachable")
}

// igtwTimedWait is syncobj_wait_err with an absolute timeout in the future:
// the wait runs in the background; if it parks (arms one more timer than
// the clock had), the clock is advanced to the deadline, as real time would
// pass. It reports the result and whether the wait blocked until then.
func igtwTimedWait(f *drmFile, hs []uint32, deadline int64, flags uint32) (igtwRes, bool) {
	f.t.Helper()
	base := f.clock.Pending()
	ch := igtwWaitBG(f, context.Background(), hs, deadline, flags)
	stop := time.Now().Add(igtwGrace)
	for {
		select {
		case r := <-ch:
			return r, false
		default:
		}
		if f.clock.Pending() > base {
			f.clock.AdvanceTo(deadline)
			return igtwAwait(f, ch, deadline, fmt.Sprintf("Wait(%v, deadline %d, flags %#x)", hs, deadline, flags)), true
		}
		if time.Now().After(stop) {
			f.t.Fatalf("Wait(%v, deadline %d, flags %#x) neither returned nor armed a deadline timer", hs, deadline, flags)
		}
		yield()
	}
}

// igtwCheck asserts a WAIT result: the errno, and first_signaled (only
// written on success; on failure it must still hold the harness's preset).
func igtwCheck(t testing.TB, what string, r igtwRes, want errno.Errno, wantFirst uint32) {
	t.Helper()
	if r.e != want {
		t.Errorf("%s = %v; want %v", what, r.e, want)
		return
	}
	if want != 0 {
		wantFirst = igtwUnwritten
	}
	if r.first != wantFirst {
		t.Errorf("%s: first_signaled = %#x; want %#x", what, r.first, wantFirst)
	}
}

// igtwWait is syncobj_wait_err for a timeout that polls (0 or UINT64_MAX).
func igtwWait(f *drmFile, hs []uint32, timeout int64, flags uint32, want errno.Errno, wantFirst uint32) {
	f.t.Helper()
	e, first := f.wait(hs, timeout, flags)
	igtwCheck(f.t, fmt.Sprintf("Wait(%v, timeout %d, flags %#x)", hs, timeout, flags), igtwRes{e, first}, want, wantFirst)
}

// igtwDestroy is syncobj_destroy.
func igtwDestroy(f *drmFile, hs ...uint32) {
	f.t.Helper()
	for _, h := range hs {
		if e := f.destroy(h); e != 0 {
			f.t.Errorf("Destroy(%d) = %v; want 0", h, e)
		}
	}
}

// igtwClose closes the sw_sync timeline fds that are open (≠ -1).
func igtwClose(f *drmFile, fds ...int32) {
	f.t.Helper()
	for _, fd := range fds {
		if fd == -1 {
			continue
		}
		if e := f.fds.close(fd); e != 0 {
			f.t.Errorf("close(%d) = %v; want 0", fd, e)
		}
	}
}

// igtwIdle asserts that no waiter is left parked: no deadline timer pending
// and no syncobj waiter or fence callback registered.
func igtwIdle(f *drmFile, what string) {
	f.t.Helper()
	if n := f.clock.Pending(); n != 0 {
		f.t.Errorf("%s: %d clock timers still pending; want 0", what, n)
	}
	if l := f.d.Live(); l.Waiters != 0 || l.Callbacks != 0 {
		f.t.Errorf("%s: Live() = %+v; want no waiters and no callbacks", what, l)
	}
}

// igtwDevFile stands for the DRM device file itself: an fd that is neither a
// syncobj file nor a sync_file.
type igtwDevFile struct{}

func (igtwDevFile) IncRef() {}
func (igtwDevFile) DecRef() {}

func TestIGTSyncobjBasic(t *testing.T) {
	t.Run("bad-destroy", func(t *testing.T) {
		f := newDRMFile(t)
		e := f.tab.Destroy(&DrmSyncobjDestroy{Handle: 0xdeadbeef, Pad: 0})
		check(t, "Destroy(0xdeadbeef)", e, errno.EINVAL)
		f.teardown()
	})

	t.Run("bad-create-flags", func(t *testing.T) {
		f := newDRMFile(t)
		_, e := f.create(0xdeadbeef)
		check(t, "Create(flags 0xdeadbeef)", e, errno.EINVAL)
		if n := f.tab.Len(); n != 0 {
			t.Errorf("after a failed Create, table holds %d handles; want 0", n)
		}
		f.teardown()
	})

	t.Run("bad-handle-to-fd", func(t *testing.T) {
		f := newDRMFile(t)
		fd, e := f.handleToFD(0xdeadbeef, 0)
		check(t, "HandleToFD(0xdeadbeef, flags 0)", e, errno.EINVAL)
		if fd != -1 {
			t.Errorf("HandleToFD failed but wrote fd %d", fd)
		}
		f.teardown()
	})

	t.Run("bad-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		// IGT leaves handle and pad uninitialised; whichever check the
		// kernel hits first, the answer is EINVAL.
		for _, a := range []DrmSyncobjHandle{
			{Fd: -1},
			{Fd: -1, Handle: 0xdeadbeef},
			{Fd: -1, Handle: 0xdeadbeef, Pad: 0xdeadbeef},
		} {
			e := f.tab.FDToHandle(f.fds, &a)
			check(t, fmt.Sprintf("FDToHandle(fd -1, flags 0, pad %#x)", a.Pad), e, errno.EINVAL)
		}
		f.teardown()
	})

	t.Run("bad-flags-handle-to-fd", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Flags: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(flags 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		// Also with a valid handle, so that only the flags are wrong.
		h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		a = DrmSyncobjHandle{Handle: h, Flags: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(valid handle, flags 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("bad-flags-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Flags: 0xdeadbeef}
		check(t, "FDToHandle(flags 0xdeadbeef)", f.tab.FDToHandle(f.fds, &a), errno.EINVAL)
		f.teardown()
	})

	t.Run("bad-pad-handle-to-fd", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Pad: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(pad 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		h := f.mustCreate(0)
		a = DrmSyncobjHandle{Handle: h, Pad: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(valid handle, pad 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("bad-pad-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Pad: 0xdeadbeef}
		check(t, "FDToHandle(pad 0xdeadbeef)", f.tab.FDToHandle(f.fds, &a), errno.EINVAL)
		// Also with a valid syncobj fd, so that only the pad is wrong.
		h := f.mustCreate(0)
		fd, e := f.handleToFD(h, 0)
		check(t, "HandleToFD", e, 0)
		a = DrmSyncobjHandle{Fd: fd, Pad: 0xdeadbeef}
		check(t, "FDToHandle(syncobj fd, pad 0xdeadbeef)", f.tab.FDToHandle(f.fds, &a), errno.EINVAL)
		if n := f.tab.Len(); n != 1 {
			t.Errorf("after a failed FDToHandle, table holds %d handles; want 1", n)
		}
		igtwClose(f, fd)
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("illegal-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		drmfd := f.fds.open(igtwDevFile{})
		_, e := f.fdToHandle(drmfd, 0, 0)
		check(t, "FDToHandle(the DRM fd)", e, errno.EINVAL)
		igtwClose(f, drmfd)
		f.teardown()
	})

	t.Run("bad-destroy-pad", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		e := f.tab.Destroy(&DrmSyncobjDestroy{Handle: h, Pad: 0xdeadbeef})
		check(t, "Destroy(valid handle, pad 0xdeadbeef)", e, errno.EINVAL)
		check(t, "Destroy(valid handle) after the failed one", f.destroy(h), 0)
		f.teardown()
	})

	t.Run("create-signaled", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		igtwWait(f, []uint32{h}, 0, 0, 0, 0)
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("test-valid-cycle", func(t *testing.T) {
		f := newDRMFile(t)
		first := f.mustCreate(0)
		fd, e := f.handleToFD(first, 0)
		check(t, "HandleToFD", e, 0)
		second, e := f.fdToHandle(fd, 0, 0)
		check(t, "FDToHandle", e, 0)
		igtwClose(f, fd)
		// No handle de-duplication: the import is a new handle.
		if first == second {
			t.Errorf("FDToHandle(HandleToFD(%d)) = %d; want a different handle", first, second)
		}
		igtwDestroy(f, first, second)
		f.teardown()
	})
}

// IGT's test flags (syncobj_wait.c).
const (
	igtwFlagForSubmit   = 1 << 0
	igtwFlagAll         = 1 << 1
	igtwFlagUnsubmitted = 1 << 2
	igtwFlagSubmitted   = 1 << 3
	igtwFlagSignaled    = 1 << 4
	igtwFlagsMax        = 1<<5 - 1
)

const (
	igtwFS  = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
	igtwALL = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
)

// igtwMatrixCase is one subtest of the single- or multi-wait matrix: one
// syncobj per letter of states (U fresh, S unsignalled sw_sync fence
// attached, G triggered), WAIT flags, and the expected errno.
type igtwMatrixCase struct {
	name   string
	states string
	flags  uint32
	want   errno.Errno
}

var igtwSingleWait = []igtwMatrixCase{
	{"invalid-single-wait-unsubmitted", "U", 0, errno.EINVAL},
	{"single-wait-for-submit-unsubmitted", "U", igtwFS, errno.ETIME},
	{"invalid-single-wait-all-unsubmitted", "U", igtwALL, errno.EINVAL},
	{"single-wait-all-for-submit-unsubmitted", "U", igtwALL | igtwFS, errno.ETIME},
	{"single-wait-submitted", "S", 0, errno.ETIME},
	{"single-wait-for-submit-submitted", "S", igtwFS, errno.ETIME},
	{"single-wait-all-submitted", "S", igtwALL, errno.ETIME},
	{"single-wait-all-for-submit-submitted", "S", igtwALL | igtwFS, errno.ETIME},
	{"single-wait-signaled", "G", 0, 0},
	{"single-wait-for-submit-signaled", "G", igtwFS, 0},
	{"single-wait-all-signaled", "G", igtwALL, 0},
	{"single-wait-all-for-submit-signaled", "G", igtwALL | igtwFS, 0},
}

var igtwMultiWait = []igtwMatrixCase{
	{"invalid-multi-wait-unsubmitted", "UUU", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted", "UUU", igtwFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted", "UUU", igtwALL, errno.EINVAL},
	{"multi-wait-all-for-submit-unsubmitted", "UUU", igtwALL | igtwFS, errno.ETIME},
	{"multi-wait-submitted", "SSS", 0, errno.ETIME},
	{"multi-wait-for-submit-submitted", "SSS", igtwFS, errno.ETIME},
	{"multi-wait-all-submitted", "SSS", igtwALL, errno.ETIME},
	{"multi-wait-all-for-submit-submitted", "SSS", igtwALL | igtwFS, errno.ETIME},
	{"invalid-multi-wait-unsubmitted-submitted", "USS", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-submitted", "USS", igtwFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted-submitted", "USS", igtwALL, errno.EINVAL},
	{"multi-wait-all-for-submit-unsubmitted-submitted", "USS", igtwALL | igtwFS, errno.ETIME},
	{"multi-wait-signaled", "GGG", 0, 0},
	{"multi-wait-for-submit-signaled", "GGG", igtwFS, 0},
	{"multi-wait-all-signaled", "GGG", igtwALL, 0},
	{"multi-wait-all-for-submit-signaled", "GGG", igtwALL | igtwFS, 0},
	{"invalid-multi-wait-unsubmitted-signaled", "UGG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-signaled", "UGG", igtwFS, 0},
	{"invalid-multi-wait-all-unsubmitted-signaled", "UGG", igtwALL, errno.EINVAL},
	{"multi-wait-all-for-submit-unsubmitted-signaled", "UGG", igtwALL | igtwFS, errno.ETIME},
	{"multi-wait-submitted-signaled", "SGG", 0, 0},
	{"multi-wait-for-submit-submitted-signaled", "SGG", igtwFS, 0},
	{"multi-wait-all-submitted-signaled", "SGG", igtwALL, errno.ETIME},
	{"multi-wait-all-for-submit-submitted-signaled", "SGG", igtwALL | igtwFS, errno.ETIME},
	{"invalid-multi-wait-unsubmitted-submitted-signaled", "USG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-submitted-signaled", "USG", igtwFS, 0},
	{"invalid-multi-wait-all-unsubmitted-submitted-signaled", "USG", igtwALL, errno.EINVAL},
	// IGT's loop stops below WAIT_FLAGS_MAX, so
	// multi-wait-all-for-submit-unsubmitted-submitted-signaled does not exist.
}

// igtwGenerate re-derives a matrix from IGT's own loop (names, the per-
// syncobj state from its ffs() walk over the test flags, and the expected
// errno), so the tables above can be checked against it.
func igtwGenerate(multi bool) []igtwMatrixCase {
	var out []igtwMatrixCase
	const modes = igtwFlagUnsubmitted | igtwFlagSubmitted | igtwFlagSignaled
	for tf := uint32(0); tf < igtwFlagsMax; tf++ {
		var want errno.Errno
		if multi {
			if tf&modes == 0 {
				continue
			}
			switch {
			case tf&igtwFlagUnsubmitted != 0 && tf&igtwFlagForSubmit == 0:
				want = errno.EINVAL
			case tf&igtwFlagAll != 0:
				if tf&(igtwFlagUnsubmitted|igtwFlagSubmitted) != 0 {
					want = errno.ETIME
				}
			default:
				if tf&igtwFlagSignaled == 0 {
					want = errno.ETIME
				}
			}
		} else {
			if bits.OnesCount32(tf&modes) != 1 {
				continue
			}
			switch {
			case tf&igtwFlagUnsubmitted != 0 && tf&igtwFlagForSubmit == 0:
				want = errno.EINVAL
			case tf&igtwFlagSignaled == 0:
				want = errno.ETIME
			}
		}
		name := ""
		if want == errno.EINVAL {
			name = "invalid-"
		}
		if multi {
			name += "multi-wait"
		} else {
			name += "single-wait"
		}
		for _, p := range []struct {
			bit uint32
			s   string
		}{{igtwFlagAll, "-all"}, {igtwFlagForSubmit, "-for-submit"}, {igtwFlagUnsubmitted, "-unsubmitted"},
			{igtwFlagSubmitted, "-submitted"}, {igtwFlagSignaled, "-signaled"}} {
			if tf&p.bit != 0 {
				name += p.s
			}
		}
		var flags uint32
		if tf&igtwFlagForSubmit != 0 {
			flags |= igtwFS
		}
		if tf&igtwFlagAll != 0 {
			flags |= igtwALL
		}
		n := 1
		if multi {
			n = 3
		}
		states := ""
		rest := tf & modes
		for range n {
			tflag := rest & -rest // 1 << (ffs(rest) - 1)
			if rest&^tflag != 0 {
				rest &^= tflag
			}
			switch tflag {
			case igtwFlagUnsubmitted:
				states += "U"
			case igtwFlagSubmitted:
				states += "S"
			case igtwFlagSignaled:
				states += "G"
			}
		}
		out = append(out, igtwMatrixCase{name, states, flags, want})
	}
	return out
}

// igtwCheckTable compares a hand-written matrix with IGT's loop.
func igtwCheckTable(t *testing.T, what string, table []igtwMatrixCase, multi bool) {
	t.Helper()
	cmp := func(a, b igtwMatrixCase) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	}
	got := slices.SortedFunc(slices.Values(table), cmp)
	want := slices.SortedFunc(slices.Values(igtwGenerate(multi)), cmp)
	if !slices.Equal(got, want) {
		t.Errorf("%s matrix differs from IGT's loop:\n table: %+v\n   IGT: %+v", what, got, want)
	}
}

// igtwRunMatrix is test_single_wait / test_multi_wait: set up the syncobjs,
// then WAIT with timeout 0, now+SHORT and (unless ETIME is expected)
// UINT64_MAX.
func igtwRunMatrix(t *testing.T, c igtwMatrixCase) {
	f := newDRMFile(t)
	hs := make([]uint32, len(c.states))
	var tls []int32
	wantFirst := uint32(0)
	firstFound := false
	for i, st := range c.states {
		hs[i] = f.mustCreate(0)
		switch st {
		case 'S':
			tls = append(tls, f.attach(hs[i], 0))
		case 'G':
			f.trigger(hs[i], 0)
			if !firstFound {
				// The lowest index found signalled in the initial scan.
				wantFirst, firstFound = uint32(i), true
			}
		}
	}

	igtwWait(f, hs, 0, c.flags, c.want, wantFirst)

	start := f.now()
	deadline := start + short
	r, blocked := igtwTimedWait(f, hs, deadline, c.flags)
	igtwCheck(t, fmt.Sprintf("Wait(%v, timeout now+SHORT, flags %#x)", hs, c.flags), r, c.want, wantFirst)
	if c.want == errno.ETIME {
		if !blocked {
			t.Errorf("Wait(%v, timeout now+SHORT, flags %#x) returned ETIME without sleeping until its deadline", hs, c.flags)
		} else if now := f.now(); now != deadline {
			t.Errorf("clock after the timed-out wait = start%+d ns; want start+SHORT", now-start)
		}
	} else if blocked {
		t.Errorf("Wait(%v, timeout now+SHORT, flags %#x) slept until its deadline; want an immediate %v", hs, c.flags, c.want)
	}
	igtwIdle(f, "after the timed wait")

	if c.want != errno.ETIME {
		igtwWait(f, hs, igtwPoll, c.flags, c.want, wantFirst)
	}

	igtwDestroy(f, hs...)
	igtwClose(f, tls...)
	f.teardown()
}

// igtwDelayedSignal is test_wait_delayed_signal: a timer at +SHORT signals
// the attached fence (or, with FOR_SUBMIT, attaches and signals one); WAIT
// with deadline +2*SHORT must succeed, woken at +SHORT.
func igtwDelayedSignal(t *testing.T, flags uint32) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	start := f.now()
	tl := int32(-1)
	if flags&igtwFS != 0 {
		f.clock.AfterFunc(start+short, func() { f.trigger(h, 0) })
	} else {
		tl = f.attach(h, 0)
		f.clock.AfterFunc(start+short, func() { f.swInc(tl, 1) })
	}
	deadline := start + 2*short
	ch := igtwWaitBG(f, context.Background(), []uint32{h}, deadline, flags)
	f.waitArmed(2) // our timer and the waiter's deadline
	f.clock.AdvanceTo(start + short)
	r := igtwAwait(f, ch, deadline, "delayed-signal waiter")
	// Nothing had signalled in the initial scan: WAIT_ALL reports ~0,
	// WAIT any the index that signalled.
	wantFirst := uint32(0)
	if flags&igtwALL != 0 {
		wantFirst = igtwNone
	}
	igtwCheck(t, fmt.Sprintf("Wait([%d], deadline now+2*SHORT, flags %#x)", h, flags), r, 0, wantFirst)
	if now := f.now(); now != start+short {
		t.Errorf("clock after the wait = start%+d ns; want start+SHORT (woken by the signal)", now-start)
	}
	igtwIdle(f, "after the wait")
	igtwClose(f, tl)
	igtwDestroy(f, h)

	if flags&igtwALL == 0 {
		// Beyond IGT: the same with a second syncobj that never signals
		// placed after the first, so that the index the sleeping wait
		// reports is 0 and not the last one.
		hs := []uint32{f.mustCreate(0), f.mustCreate(0)}
		var tls []int32
		start = f.now()
		if flags&igtwFS != 0 {
			f.clock.AfterFunc(start+short, func() { f.trigger(hs[0], 0) })
		} else {
			tl0 := f.attach(hs[0], 0)
			tls = append(tls, tl0)
			f.clock.AfterFunc(start+short, func() { f.swInc(tl0, 1) })
		}
		tls = append(tls, f.attach(hs[1], 0)) // never signalled
		deadline = start + 2*short
		ch = igtwWaitBG(f, context.Background(), hs, deadline, flags)
		f.waitArmed(2)
		f.clock.AdvanceTo(start + short)
		r = igtwAwait(f, ch, deadline, "delayed-signal waiter on two syncobjs")
		igtwCheck(t, fmt.Sprintf("Wait(%v, deadline now+2*SHORT, flags %#x)", hs, flags), r, 0, 0)
		igtwIdle(f, "after the wait on two syncobjs")
		igtwClose(f, tls...)
		igtwDestroy(f, hs...)
	}
	f.teardown()
}

// igtwSnapshot is test_wait_snapshot: a waiter on two syncobjs must keep
// the fences it captured even when syncobj 0 is reset and given a fence that
// never signals; signalling syncobj 1 completes the wait.
func igtwSnapshot(t *testing.T, flags uint32) {
	f := newDRMFile(t)
	hs := []uint32{f.mustCreate(0), f.mustCreate(0)}
	tls := []int32{-1, -1, -1}
	if flags&igtwFS == 0 {
		tls[0] = f.attach(hs[0], 0)
		tls[1] = f.attach(hs[1], 0)
	}
	deadline := f.now() + short
	ch := igtwWaitBG(f, context.Background(), hs, deadline, flags)
	f.waitArmed(1)

	f.clock.Advance(short / 5)
	// Try to fake the kernel out by triggering or partially triggering
	// the first fence.
	if flags&igtwALL != 0 {
		if tls[0] == -1 {
			f.trigger(hs[0], 0)
		} else {
			f.swInc(tls[0], 1)
		}
	} else if flags&igtwFS != 0 {
		tls[0] = f.attach(hs[0], 0)
	}
	f.clock.Advance(short / 5)
	check(t, "Reset(syncobj 0)", f.reset(hs[0]), 0)
	f.clock.Advance(short / 5)
	// A fence that never signals: a wait that picked it up would time out.
	tls[2] = f.attach(hs[0], 0)
	f.clock.Advance(short / 5)
	if tls[1] == -1 {
		f.trigger(hs[1], 0)
	} else {
		f.swInc(tls[1], 1)
	}

	r := igtwAwait(f, ch, deadline, "snapshot waiter")
	if r.e != 0 {
		t.Errorf("Wait(%v, deadline now+SHORT, flags %#x) = %v; want 0", hs, flags, r.e)
	} else {
		// Any: the syncobj that completed the wait. All: nothing had
		// signalled in the initial scan, so ~0 (spec §3.6).
		wantFirst := uint32(1)
		if flags&igtwALL != 0 {
			wantFirst = igtwNone
		}
		if r.first != wantFirst {
			t.Errorf("Wait(%v, deadline now+SHORT, flags %#x): first_signaled = %#x; want %#x", hs, flags, r.first, wantFirst)
		}
	}
	igtwIdle(f, "after the wait")
	igtwClose(f, tls...)
	igtwDestroy(f, hs...)
	f.teardown()
}

// igtwShuffled is IGT's shuffled_0_7_x4: 0..7, each four times, shuffled.
var igtwShuffled = [...]int{
	2, 0, 6, 1, 1, 4, 5, 2, 0, 7, 1, 7, 6, 3, 4, 5,
	0, 2, 7, 3, 5, 4, 0, 6, 7, 3, 2, 5, 6, 1, 4, 3,
}

// igtwComplex is test_wait_complex: 8 syncobjs, a waiter on the first two
// (deadline +1 s), and a shuffled sequence of submit / signal / reset /
// re-submit steps 10 ms apart.
func igtwComplex(t *testing.T, flags uint32) {
	const (
		stageUnsubmitted = iota
		stageSubmitted
		stageSignaled
		stageReset
		stageResubmitted
	)
	f := newDRMFile(t)
	var hs [8]uint32
	var stage [8]int
	var tls [8]int32
	for i := range hs {
		hs[i] = f.mustCreate(0)
		tls[i] = -1
	}
	if flags&igtwFS == 0 {
		for i := range hs {
			tls[i] = f.attach(hs[i], 0)
		}
	}
	deadline := f.now() + 1000*ms
	ch := igtwWaitBG(f, context.Background(), hs[:2], deadline, flags)
	f.waitArmed(1)
	f.clock.Advance(20 * ms)

	firstSignaled, numSignaled := -1, 0
	for _, i := range igtwShuffled {
		st := stage[i]
		stage[i]++
		switch st {
		case stageUnsubmitted:
			if flags&igtwFS == 0 {
				// We had to attach one up front.
				if tls[i] == -1 {
					t.Fatalf("syncobj %d has no fence attached", i)
				}
				break
			}
			tls[i] = f.attach(hs[i], 0)
		case stageSubmitted:
			f.swInc(tls[i], 1)
			igtwClose(f, tls[i])
			tls[i] = -1
			if numSignaled == 0 {
				firstSignaled = i
			}
			numSignaled++
		case stageSignaled:
			check(t, fmt.Sprintf("Reset(syncobj %d)", i), f.reset(hs[i]), 0)
		case stageReset:
			tls[i] = f.attach(hs[i], 0)
		case stageResubmitted:
			t.Fatalf("syncobj %d reached stage RESUBMITTED", i)
		}
		if flags&igtwALL != 0 {
			if numSignaled == len(hs) {
				break
			}
		} else if numSignaled > 0 {
			break
		}
		f.clock.Advance(10 * ms)
	}

	r := igtwAwait(f, ch, deadline, "complex waiter")
	if r.e != 0 {
		t.Errorf("Wait(%v, deadline now+1s, flags %#x) = %v; want 0", hs[:2], flags, r.e)
	}
	if flags&igtwALL != 0 {
		if numSignaled != len(hs) {
			t.Errorf("signalled %d syncobjs; want %d", numSignaled, len(hs))
		}
		if r.e == 0 && r.first != igtwNone {
			t.Errorf("Wait(%v, deadline now+1s, flags %#x): first_signaled = %#x; want %#x (nothing signalled in the initial scan)", hs[:2], flags, r.first, igtwNone)
		}
	} else {
		if numSignaled != 1 {
			t.Errorf("signalled %d syncobjs; want 1", numSignaled)
		}
		if r.e == 0 && int(r.first) != firstSignaled {
			t.Errorf("Wait(%v, deadline now+1s, flags %#x): first_signaled = %d; want %d", hs[:2], flags, r.first, firstSignaled)
		}
	}
	igtwIdle(f, "after the wait")
	igtwClose(f, tls[:]...)
	igtwDestroy(f, hs[:]...)
	f.teardown()
}

// igtwInterrupted is test_wait_interrupted: a wait with deadline +SHORT
// under a signal storm. Each interruption is ERESTARTSYS; the restarted
// ioctl keeps the same absolute deadline, so the storm must end in ETIME
// exactly when that deadline has passed, never earlier and never later.
func igtwInterrupted(t *testing.T, flags uint32) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs := []uint32{h}
	tl := f.attach(h, 0)
	deadline := f.now() + short
	what := fmt.Sprintf("Wait([%d], deadline now+SHORT, flags %#x)", h, flags)

	// The first signal arrives while the waiter is parked.
	ctx, cancel := context.WithCancel(context.Background())
	ch := igtwWaitBG(f, ctx, hs, deadline, flags)
	f.waitArmed(1)
	cancel()
	r := igtwAwait(f, ch, deadline, "interrupted waiter")
	igtwCheck(t, what+" interrupted while parked", r, errno.ERESTARTSYS, 0)
	igtwIdle(f, "after the interrupted wait")

	// Then signals keep arriving every 3 ms; the ioctl is restarted each
	// time, with a signal already pending on entry.
	restarts := 0
	for {
		f.clock.Advance(3 * ms)
		now := f.now()
		e, first := f.waitCtx(ctx, hs, deadline, flags)
		restarts++
		if e == errno.ERESTARTSYS {
			if now >= deadline {
				t.Fatalf("%s restarted at deadline%+d ns = ERESTARTSYS; want ETIME (the deadline is absolute)", what, now-deadline)
			}
			if restarts > 1000 {
				t.Fatalf("%s: still ERESTARTSYS after %d restarts", what, restarts)
			}
			continue
		}
		igtwCheck(t, what+" after the signal storm", igtwRes{e, first}, errno.ETIME, 0)
		if now < deadline {
			t.Errorf("%s returned %v at deadline%+d ns; want ERESTARTSYS until the deadline", what, e, now-deadline)
		}
		break
	}
	igtwIdle(f, "after the signal storm")

	// Beyond IGT: a signal that arrives once the deadline has already
	// passed, before the waiter ran again, still gives ETIME: the kernel
	// checks the timeout before signal_pending (spec §3.6).
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	deadline2 := f.now() + short
	ch = igtwWaitBG(f, ctx2, hs, deadline2, flags)
	f.waitArmed(1)
	f.clock.AdvanceTo(deadline2)
	cancel2()
	r = igtwAwait(f, ch, deadline2, "waiter signalled after its deadline")
	igtwCheck(t, fmt.Sprintf("Wait([%d], deadline now+SHORT, flags %#x) signalled after the deadline", h, flags), r, errno.ETIME, 0)
	igtwIdle(f, "after the late signal")
	igtwDestroy(f, h)
	igtwClose(f, tl)
	f.teardown()
}

func TestIGTSyncobjWait(t *testing.T) {
	igtwCheckTable(t, "single-wait", igtwSingleWait, false)
	igtwCheckTable(t, "multi-wait", igtwMultiWait, true)

	t.Run("invalid-wait-bad-flags", func(t *testing.T) {
		f := newDRMFile(t)
		// A zeroed struct but for the flags: the flags are checked before
		// the (zero) count.
		a := DrmSyncobjWait{Flags: 0xdeadbeef}
		check(t, "Wait(flags 0xdeadbeef)", f.tab.Wait(context.Background(), f.mem, &a), errno.EINVAL)
		f.teardown()
	})

	// IGT up to 2024 named this subtest invalid-wait-zero-handles and
	// expected EINVAL; since Linux 6.6 (and IGT from late 2024) WAIT with
	// count_handles == 0 returns 0 (spec §0, §3.3).
	t.Run("wait-zero-handles", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjWait{}
		check(t, "Wait(count 0)", f.tab.Wait(context.Background(), f.mem, &a), 0)
		f.teardown()
	})

	t.Run("invalid-wait-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		igtwWait(f, []uint32{0}, 0, 0, errno.ENOENT, 0)
		f.teardown()
	})

	t.Run("invalid-reset-zero-handles", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Reset(count 0)", f.tab.Reset(f.mem, &DrmSyncobjArray{}), errno.EINVAL)
		f.teardown()
	})

	t.Run("invalid-reset-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Reset({0})", f.reset(0), errno.ENOENT)
		f.teardown()
	})

	t.Run("invalid-reset-one-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		b := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		igtwWait(f, []uint32{a}, 0, 0, 0, 0)
		igtwWait(f, []uint32{b}, 0, 0, 0, 0)
		check(t, fmt.Sprintf("Reset({%d, 0, %d})", a, b), f.reset(a, 0, b), errno.ENOENT)
		// Nothing was reset.
		igtwWait(f, []uint32{a}, 0, 0, 0, 0)
		igtwWait(f, []uint32{b}, 0, 0, 0, 0)
		igtwDestroy(f, a, b)
		f.teardown()
	})

	t.Run("invalid-reset-bad-pad", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjArray{Handles: f.mem.u32s(0), CountHandles: 1, Pad: 0xdeadbeef}
		check(t, "Reset({0}, pad 0xdeadbeef)", f.tab.Reset(f.mem, &a), errno.EINVAL)
		f.teardown()
	})

	t.Run("invalid-signal-zero-handles", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Signal(count 0)", f.tab.Signal(f.mem, &DrmSyncobjArray{}), errno.EINVAL)
		f.teardown()
	})

	t.Run("invalid-signal-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Signal({0})", f.signal(0), errno.ENOENT)
		f.teardown()
	})

	t.Run("invalid-signal-one-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := f.mustCreate(0)
		b := f.mustCreate(0)
		igtwWait(f, []uint32{a}, 0, 0, errno.EINVAL, 0)
		igtwWait(f, []uint32{b}, 0, 0, errno.EINVAL, 0)
		check(t, fmt.Sprintf("Signal({%d, 0, %d})", a, b), f.signal(a, 0, b), errno.ENOENT)
		// Nothing was signalled: still no fence.
		igtwWait(f, []uint32{a}, 0, 0, errno.EINVAL, 0)
		igtwWait(f, []uint32{b}, 0, 0, errno.EINVAL, 0)
		igtwDestroy(f, a, b)
		f.teardown()
	})

	t.Run("invalid-signal-bad-pad", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjArray{Handles: f.mem.u32s(0), CountHandles: 1, Pad: 0xdeadbeef}
		check(t, "Signal({0}, pad 0xdeadbeef)", f.tab.Signal(f.mem, &a), errno.EINVAL)
		f.teardown()
	})

	for _, c := range igtwSingleWait {
		t.Run(c.name, func(t *testing.T) { igtwRunMatrix(t, c) })
	}

	t.Run("wait-delayed-signal", func(t *testing.T) { igtwDelayedSignal(t, 0) })
	t.Run("wait-for-submit-delayed-submit", func(t *testing.T) { igtwDelayedSignal(t, igtwFS) })
	t.Run("wait-all-delayed-signal", func(t *testing.T) { igtwDelayedSignal(t, igtwALL) })
	t.Run("wait-all-for-submit-delayed-submit", func(t *testing.T) { igtwDelayedSignal(t, igtwALL|igtwFS) })

	t.Run("reset-unsignaled", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		igtwWait(f, []uint32{h}, 0, 0, errno.EINVAL, 0)
		check(t, "Reset", f.reset(h), 0)
		igtwWait(f, []uint32{h}, 0, 0, errno.EINVAL, 0)
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("reset-signaled", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		f.trigger(h, 0)
		igtwWait(f, []uint32{h}, 0, 0, 0, 0)
		check(t, "Reset", f.reset(h), 0)
		igtwWait(f, []uint32{h}, 0, 0, errno.EINVAL, 0)
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("reset-multiple-signaled", func(t *testing.T) {
		f := newDRMFile(t)
		hs := make([]uint32, 3)
		for i := range hs {
			hs[i] = f.mustCreate(0)
			f.trigger(hs[i], 0)
		}
		igtwWait(f, hs, 0, 0, 0, 0)
		check(t, fmt.Sprintf("Reset(%v)", hs), f.reset(hs...), 0)
		for _, h := range hs {
			igtwWait(f, []uint32{h}, 0, 0, errno.EINVAL, 0)
			igtwDestroy(f, h)
		}
		f.teardown()
	})

	t.Run("reset-during-wait-for-submit", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		start := f.now()
		// A reset must be a no-op for a waiter that has no fence yet.
		f.clock.AfterFunc(start+short, func() {
			check(t, "Reset", f.reset(h), 0)
			// The waiter must still be queued on the syncobj: a reset
			// installs no fence, so it cannot satisfy WAIT_FOR_SUBMIT.
			if l := f.d.Live(); l.Waiters != 1 {
				t.Errorf("after Reset during the wait, Live().Waiters = %d; want 1 (still waiting for a fence)", l.Waiters)
			}
			f.trigger(h, 0)
		})
		deadline := start + 2*short
		ch := igtwWaitBG(f, context.Background(), []uint32{h}, deadline, igtwFS)
		f.waitArmed(2)
		f.clock.AdvanceTo(start + short)
		r := igtwAwait(f, ch, deadline, "wait-for-submit waiter")
		igtwCheck(t, fmt.Sprintf("Wait([%d], deadline now+2*SHORT, FOR_SUBMIT)", h), r, 0, 0)
		if now := f.now(); now != start+short {
			t.Errorf("clock after the wait = start%+d ns; want start+SHORT", now-start)
		}
		igtwIdle(f, "after the wait")
		igtwDestroy(f, h)
		f.teardown()
	})

	t.Run("signal", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		igtwWait(f, []uint32{h}, 0, 0, errno.EINVAL, 0)
		igtwWait(f, []uint32{h}, 0, igtwFS, errno.ETIME, 0)
		check(t, "Signal", f.signal(h), 0)
		igtwWait(f, []uint32{h}, 0, 0, 0, 0)
		igtwWait(f, []uint32{h}, 0, igtwFS, 0, 0)
		igtwIdle(f, "after the waits")
		igtwDestroy(f, h)
		f.teardown()
	})

	for _, c := range igtwMultiWait {
		t.Run(c.name, func(t *testing.T) { igtwRunMatrix(t, c) })
	}

	t.Run("wait-any-snapshot", func(t *testing.T) { igtwSnapshot(t, 0) })
	t.Run("wait-all-snapshot", func(t *testing.T) { igtwSnapshot(t, igtwALL) })
	t.Run("wait-for-submit-snapshot", func(t *testing.T) { igtwSnapshot(t, igtwFS) })
	t.Run("wait-all-for-submit-snapshot", func(t *testing.T) { igtwSnapshot(t, igtwALL|igtwFS) })

	t.Run("wait-any-complex", func(t *testing.T) { igtwComplex(t, 0) })
	t.Run("wait-all-complex", func(t *testing.T) { igtwComplex(t, igtwALL) })
	t.Run("wait-for-submit-complex", func(t *testing.T) { igtwComplex(t, igtwFS) })
	t.Run("wait-all-for-submit-complex", func(t *testing.T) { igtwComplex(t, igtwALL|igtwFS) })

	t.Run("wait-any-interrupted", func(t *testing.T) { igtwInterrupted(t, 0) })
	t.Run("wait-all-interrupted", func(t *testing.T) { igtwInterrupted(t, igtwALL) })
}
