package fence

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fencelab/errno"
)

// This file is the machinery that IGT's syncobj_wait and syncobj_timeline
// share (igt_wait_test.go, igt_timeline_test.go): how a wait is issued,
// background waits on the manual clock, the single- and multi-wait
// matrices, and the behavioural subtests (delayed signal, snapshot, complex,
// interrupted, reset during a wait, …). Each helper is written once and
// parametrised by an igtWaiter: binary DRM_IOCTL_SYNCOBJ_WAIT, or
// DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT at points. Nothing here sleeps; a blocking
// wait runs on its own goroutine and the test moves the drmFile's
// ManualClock once the waiter has armed its deadline timer. Helpers are
// prefixed igt.

// Kernel wait flags, shortened.
const (
	igtAll = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
	igtFS  = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
	igtAV  = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE
)

// igtUint64Max is the timeout IGT passes as UINT64_MAX: -1 as the kernel's
// signed timeout_nsec, a time in the past, so the wait polls once (spec
// §3.6).
const igtUint64Max = int64(-1)

// igtUnwritten is what the harness preloads into first_signaled; the kernel
// writes first_signaled on success only (spec §3.3 WAIT, TIMELINE_WAIT).
const igtUnwritten = uint32(0xdead)

// igtNone is first_signaled when nothing had signalled in the initial scan
// of a WAIT_ALL wait (first = ~0 in drm_syncobj_array_wait, spec §3.6).
const igtNone = ^uint32(0)

// igtGrace bounds how long (wall time) a waiter may take to return once it
// must have been woken. A correct implementation returns in microseconds;
// only a broken one ever waits this long.
const igtGrace = 2 * time.Second

// igtFlags names a set of kernel wait flags for failure messages.
func igtFlags(flags uint32) string {
	if flags == 0 {
		return "0"
	}
	var parts []string
	for _, fl := range []struct {
		bit  uint32
		name string
	}{{igtAll, "ALL"}, {igtFS, "FOR_SUBMIT"}, {igtAV, "AVAILABLE"}, {DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE, "DEADLINE"}} {
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

// igtRes is the outcome of one wait ioctl: errno and first_signaled.
type igtRes struct {
	e     errno.Errno
	first uint32
}

// igtWaiter is how a test binary issues its waits. IGT's syncobj_wait calls
// syncobj_wait_err (DRM_IOCTL_SYNCOBJ_WAIT, no points); syncobj_timeline
// calls syncobj_timeline_wait_err (DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT) with a
// point per handle, and copies syncobj_wait's subtests with every syncobj
// used at point 1.
type igtWaiter struct {
	// timeline selects TIMELINE_WAIT; otherwise WAIT, and points are
	// ignored.
	timeline bool
	// point is where the behavioural subtests attach, trigger and wait:
	// 0 for syncobj_wait, 1 for syncobj_timeline.
	point uint64
}

var (
	// igtBinary is syncobj_wait's waiter.
	igtBinary = igtWaiter{}
	// igtTimeline is syncobj_timeline's waiter.
	igtTimeline = igtWaiter{timeline: true, point: 1}
)

// points returns n copies of w.point, the points of a behavioural subtest's
// wait on n syncobjs.
func (w igtWaiter) points(n int) []uint64 {
	ps := make([]uint64, n)
	for i := range ps {
		ps[i] = w.point
	}
	return ps
}

// wait issues the wait ioctl; the deadline timeout is absolute.
func (w igtWaiter) wait(ctx context.Context, f *drmFile, hs []uint32, points []uint64, timeout int64, flags uint32) igtRes {
	var e errno.Errno
	var first uint32
	if w.timeline {
		e, first = f.timelineWaitCtx(ctx, hs, points, timeout, flags)
	} else {
		e, first = f.waitCtx(ctx, hs, timeout, flags)
	}
	return igtRes{e, first}
}

// call describes a wait for failure messages, the timeout relative to now.
func (w igtWaiter) call(f *drmFile, hs []uint32, points []uint64, timeout int64, flags uint32) string {
	var to string
	switch {
	case timeout == 0:
		to = "0"
	case timeout == igtUint64Max:
		to = "UINT64_MAX"
	default:
		to = fmt.Sprintf("now%+dms", (timeout-f.now())/ms)
	}
	if w.timeline {
		return fmt.Sprintf("TimelineWait(handles %v, points %v, timeout %s, flags %s)", hs, points, to, igtFlags(flags))
	}
	return fmt.Sprintf("Wait(handles %v, timeout %s, flags %s)", hs, to, igtFlags(flags))
}

// igtWaitBG starts a wait on its own goroutine (IGT's waiter threads).
func igtWaitBG(f *drmFile, w igtWaiter, ctx context.Context, hs []uint32, points []uint64, deadline int64, flags uint32) <-chan igtRes {
	return background(func() igtRes { return w.wait(ctx, f, hs, points, deadline, flags) })
}

// igtAwait returns the result of a waiter that must already have been woken
// (or must return without blocking), IGT's pthread_join. If it has not
// returned within igtGrace, the test fails and the clock is moved to
// deadline so that the waiter ends (normally with ETIME) instead of
// leaking.
func igtAwait(f *drmFile, ch <-chan igtRes, deadline int64, what string) igtRes {
	f.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(igtGrace):
	}
	f.t.Errorf("%s: the waiter did not return after it should have been woken; advancing the clock to its deadline", what)
	f.clock.AdvanceTo(deadline)
	select {
	case r := <-ch:
		return r
	case <-time.After(igtGrace):
		f.t.Fatalf("%s: the waiter did not return even after its deadline", what)
	}
	panic("unreachable")
}

// igtTimedWait is syncobj_wait_err / syncobj_timeline_wait_err with an
// absolute timeout in the future: the wait runs in the background; if it
// parks (arms one more timer than the clock had), the clock is advanced to
// the deadline, as real time would pass. It reports the result and whether
// the wait blocked until then.
func igtTimedWait(f *drmFile, w igtWaiter, hs []uint32, points []uint64, deadline int64, flags uint32) (igtRes, bool) {
	f.t.Helper()
	call := w.call(f, hs, points, deadline, flags)
	base := f.clock.Pending()
	ch := igtWaitBG(f, w, context.Background(), hs, points, deadline, flags)
	stop := time.Now().Add(igtGrace)
	for {
		select {
		case r := <-ch:
			return r, false
		default:
		}
		if f.clock.Pending() > base {
			f.clock.AdvanceTo(deadline)
			return igtAwait(f, ch, deadline, call), true
		}
		if time.Now().After(stop) {
			f.t.Fatalf("%s neither returned nor armed a deadline timer", call)
		}
		yield()
	}
}

// igtCheck asserts a wait result: the errno, and first_signaled (only
// written on success; on failure it must still hold the harness's preset).
func igtCheck(t testing.TB, what string, r igtRes, want errno.Errno, wantFirst uint32) {
	t.Helper()
	if r.e != want {
		t.Errorf("%s = %v; want %v", what, r.e, want)
		return
	}
	if want != 0 {
		wantFirst = igtUnwritten
	}
	if r.first != wantFirst {
		t.Errorf("%s: first_signaled = %#x; want %#x", what, r.first, wantFirst)
	}
}

// igtPoll is syncobj_wait_err / syncobj_timeline_wait_err with a timeout
// that polls (0 or UINT64_MAX), checked with igtCheck.
func igtPoll(f *drmFile, w igtWaiter, hs []uint32, points []uint64, timeout int64, flags uint32, want errno.Errno, wantFirst uint32) {
	f.t.Helper()
	r := w.wait(context.Background(), f, hs, points, timeout, flags)
	igtCheck(f.t, w.call(f, hs, points, timeout, flags), r, want, wantFirst)
}

// igtDestroy is syncobj_destroy for each handle.
func igtDestroy(f *drmFile, hs ...uint32) {
	f.t.Helper()
	for _, h := range hs {
		if e := f.destroy(h); e != 0 {
			f.t.Errorf("Destroy(%d) = %v; want 0", h, e)
		}
	}
}

// igtClose closes the fds that are open (≠ -1), IGT's close().
func igtClose(f *drmFile, fds ...int32) {
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

// igtIdle asserts that no waiter is left parked: no deadline timer pending,
// no syncobj waiter registered and, for binary waits, no fence callback.
// A timeline wait enables signalling on the chain nodes it waits for, and a
// node so enabled keeps a callback on its pending contained fence until that
// signals (dma_fence_chain_enable_signaling, spec §3.5, §4.3): that callback
// belongs to the chain, not to the waiter, so it is not counted there.
func igtIdle(f *drmFile, w igtWaiter, what string) {
	f.t.Helper()
	if n := f.clock.Pending(); n != 0 {
		f.t.Errorf("%s: %d clock timers still pending; want 0", what, n)
	}
	l := f.d.Live()
	if l.Waiters != 0 {
		f.t.Errorf("%s: Live() = %+v; want no waiters", what, l)
	}
	if !w.timeline && l.Callbacks != 0 {
		f.t.Errorf("%s: Live() = %+v; want no callbacks", what, l)
	}
}

// --- the single- and multi-wait matrices ---

// igtMatrixRow is one subtest of a single- or multi-wait matrix: one
// syncobj per letter of states (U fresh, S unsignalled sw_sync fence
// attached, G attached and signalled), the kernel wait flags, and the
// expected errno.
type igtMatrixRow struct {
	name   string
	states string
	flags  uint32
	want   errno.Errno
}

// igtMatrixName is the name IGT's subtest loop gives a matrix entry:
// "%s<kind>%s%s%s%s%s%s" with the result prefix ("invalid-", and in
// syncobj_timeline "etime-"), the wait flags and the states present.
func igtMatrixName(w igtWaiter, kind string, flags uint32, states string, want errno.Errno) string {
	var b strings.Builder
	switch {
	case want == errno.EINVAL:
		b.WriteString("invalid-")
	case want == errno.ETIME && w.timeline:
		b.WriteString("etime-")
	}
	b.WriteString(kind)
	for _, p := range []struct {
		on   bool
		name string
	}{
		{flags&igtAll != 0, "-all"},
		{flags&igtFS != 0, "-for-submit"},
		{flags&igtAV != 0, "-available"},
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

// igtGenerate re-derives a matrix from IGT's own subtest loop, so that the
// hand-written tables can be checked against it. The loop runs over IGT's
// test flags below WAIT_FLAGS_MAX (all bits set, so the all-flags entry is
// never generated): WAIT_FOR_SUBMIT, WAIT_ALL, in syncobj_timeline
// WAIT_AVAILABLE, then the modes UNSUBMITTED, SUBMITTED, SIGNALED. A single
// wait takes exactly one mode; a multi wait (n syncobjs) at least one, and
// its ffs() walk gives each syncobj the lowest mode left, the last one
// filling the rest. The expected errno is IGT's, which is the kernel's
// (spec §3.6): a syncobj without a fence is EINVAL unless WAIT_FOR_SUBMIT
// or WAIT_AVAILABLE; otherwise an entry counts if signalled or, with
// WAIT_AVAILABLE, submitted, and the wait succeeds when all (WAIT_ALL) or
// any entry counts, or times out.
func igtGenerate(w igtWaiter, kind string, n int) []igtMatrixRow {
	const (
		forSubmit = iota
		all
		available
		unsubmitted
		submitted
		signaled
	)
	bits := []int{forSubmit, all, unsubmitted, submitted, signaled} // syncobj_wait.c
	if w.timeline {
		bits = []int{forSubmit, all, available, unsubmitted, submitted, signaled} // syncobj_timeline.c
	}
	var out []igtMatrixRow
	for tf := 0; tf < 1<<len(bits)-1; tf++ {
		var on [signaled + 1]bool
		for i, b := range bits {
			on[b] = tf&(1<<i) != 0
		}
		var modes string
		for _, m := range []struct {
			bit   int
			state byte
		}{{unsubmitted, 'U'}, {submitted, 'S'}, {signaled, 'G'}} {
			if on[m.bit] {
				modes += string(m.state)
			}
		}
		if len(modes) == 0 || (n == 1 && len(modes) != 1) {
			continue
		}
		states := modes
		for len(states) < n {
			states += modes[len(modes)-1:]
		}
		var flags uint32
		if on[forSubmit] {
			flags |= igtFS
		}
		if on[all] {
			flags |= igtAll
		}
		if on[available] {
			flags |= igtAV
		}
		u, s, g, av := on[unsubmitted], on[submitted], on[signaled], on[available]
		var want errno.Errno
		switch {
		case u && !on[forSubmit] && !av:
			want = errno.EINVAL
		case on[all]:
			if u || (s && !av) {
				want = errno.ETIME
			}
		default:
			if !g && !(s && av) {
				want = errno.ETIME
			}
		}
		out = append(out, igtMatrixRow{igtMatrixName(w, kind, flags, states, want), states, flags, want})
	}
	return out
}

// igtCheckTable compares a hand-written matrix (n syncobjs a row) with
// IGT's loop.
func igtCheckTable(t *testing.T, w igtWaiter, kind string, n int, table []igtMatrixRow) {
	t.Helper()
	byName := func(a, b igtMatrixRow) int { return cmp.Compare(a.name, b.name) }
	got := slices.SortedFunc(slices.Values(table), byName)
	want := slices.SortedFunc(slices.Values(igtGenerate(w, kind, n)), byName)
	if !slices.Equal(got, want) {
		t.Errorf("%s matrix differs from IGT's loop:\n table: %+v\n   IGT: %+v", kind, got, want)
	}
}

// igtSetState puts syncobj h at point into IGT state U, S or G and returns
// the sw_sync timeline fd (-1 for U).
func igtSetState(f *drmFile, h uint32, point uint64, state byte) int32 {
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

// igtExpectedFirst is first_signaled for a wait that succeeds in its
// initial scan (spec §3.6): the lowest entry that counts there, that is one
// whose fence has signalled or, with WAIT_AVAILABLE, that has a fence.
func igtExpectedFirst(states string, flags uint32) uint32 {
	for i := 0; i < len(states); i++ {
		if states[i] == 'G' || (flags&igtAV != 0 && states[i] == 'S') {
			return uint32(i)
		}
	}
	return igtNone
}

// igtRunMatrix is test_single_wait / test_multi_wait: check the row's name
// against IGT's loop, put one syncobj per state at its point, then wait
// with timeout 0, now+SHORT and (unless ETIME is expected) UINT64_MAX,
// expecting the row's result from each. A now+SHORT wait must time out
// exactly at its deadline and otherwise return without sleeping.
func igtRunMatrix(t *testing.T, w igtWaiter, kind string, row igtMatrixRow, points []uint64) {
	if n := igtMatrixName(w, kind, row.flags, row.states, row.want); n != row.name {
		t.Errorf("table row %q: IGT's loop names (%s, flags %s, %v) %q", row.name, row.states, igtFlags(row.flags), row.want, n)
	}
	f := newDRMFile(t)
	hs := make([]uint32, len(row.states))
	for i := range hs {
		hs[i] = f.mustCreate(0)
	}
	var tls []int32
	for i := range hs {
		tls = append(tls, igtSetState(f, hs[i], points[i], row.states[i]))
	}
	wantFirst := igtExpectedFirst(row.states, row.flags)

	igtPoll(f, w, hs, points, 0, row.flags, row.want, wantFirst)

	start := f.now()
	deadline := start + short
	call := w.call(f, hs, points, deadline, row.flags)
	r, blocked := igtTimedWait(f, w, hs, points, deadline, row.flags)
	igtCheck(t, call, r, row.want, wantFirst)
	if row.want == errno.ETIME || r.e == errno.ETIME {
		if !blocked {
			t.Errorf("%s returned ETIME without sleeping until its deadline", call)
		} else if now := f.now(); now != deadline {
			t.Errorf("clock after the timed-out wait = start%+d ns; want start+SHORT", now-start)
		}
	} else if blocked {
		t.Errorf("%s slept until its deadline; want an immediate %v", call, row.want)
	}
	igtIdle(f, w, "after the timed wait")

	if row.want != errno.ETIME {
		igtPoll(f, w, hs, points, igtUint64Max, row.flags, row.want, wantFirst)
	}

	igtDestroy(f, hs...)
	igtClose(f, tls...)
	f.teardown()
}

// --- behavioural subtests ---

// igtDelayedSignal is test_wait_delayed_signal: a timer at +SHORT signals
// the attached fence (or, with WAIT_FOR_SUBMIT, attaches and signals one on
// the fresh syncobj); the wait, deadline +2·SHORT, must succeed, woken at
// +SHORT.
func igtDelayedSignal(t *testing.T, w igtWaiter, flags uint32) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs, points := []uint32{h}, w.points(1)
	start := f.now()
	tl := int32(-1)
	if flags&igtFS != 0 {
		f.clock.AfterFunc(start+short, func() { f.trigger(h, w.point) })
	} else {
		tl = f.attach(h, w.point)
		f.clock.AfterFunc(start+short, func() { f.swInc(tl, 1) })
	}
	deadline := start + 2*short
	call := w.call(f, hs, points, deadline, flags)
	ch := igtWaitBG(f, w, context.Background(), hs, points, deadline, flags)
	f.waitArmed(2) // our timer and the waiter's deadline
	f.clock.AdvanceTo(start + short)
	r := igtAwait(f, ch, deadline, "delayed-signal waiter")
	// Not asserted by IGT: first_signaled is the entry that signalled or,
	// for WAIT_ALL, the first one found signalled in the initial scan;
	// there was none, so ~0 (spec §3.6 step 6).
	wantFirst := uint32(0)
	if flags&igtAll != 0 {
		wantFirst = igtNone
	}
	igtCheck(t, call, r, 0, wantFirst)
	if now := f.now(); now != start+short {
		t.Errorf("clock after the wait = start%+d ns; want start+SHORT (woken by the signal)", now-start)
	}
	igtIdle(f, w, "after the wait")
	igtClose(f, tl)
	igtDestroy(f, h)

	if flags&igtAll == 0 {
		// Beyond IGT: the same with a second syncobj that never signals
		// placed after the first, so that the index the sleeping wait
		// reports is 0 and not the last one.
		hs := []uint32{f.mustCreate(0), f.mustCreate(0)}
		points := w.points(2)
		var tls []int32
		start = f.now()
		if flags&igtFS != 0 {
			f.clock.AfterFunc(start+short, func() { f.trigger(hs[0], w.point) })
		} else {
			tl0 := f.attach(hs[0], w.point)
			tls = append(tls, tl0)
			f.clock.AfterFunc(start+short, func() { f.swInc(tl0, 1) })
		}
		tls = append(tls, f.attach(hs[1], w.point)) // never signalled
		deadline = start + 2*short
		call = w.call(f, hs, points, deadline, flags)
		ch = igtWaitBG(f, w, context.Background(), hs, points, deadline, flags)
		f.waitArmed(2)
		f.clock.AdvanceTo(start + short)
		r = igtAwait(f, ch, deadline, "delayed-signal waiter on two syncobjs")
		igtCheck(t, call, r, 0, 0)
		igtIdle(f, w, "after the wait on two syncobjs")
		igtClose(f, tls...)
		igtDestroy(f, hs...)
	}
	f.teardown()
}

// signal is IGT's syncobj_signal (binary: DRM_IOCTL_SYNCOBJ_SIGNAL) or
// syncobj_timeline_signal at w.point (DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL).
func (w igtWaiter) signal(f *drmFile, hs ...uint32) errno.Errno {
	if w.timeline {
		return f.timelineSignal(hs, w.points(len(hs)))
	}
	return f.signal(hs...)
}

// igtResetUnsignaled is test_reset_unsignaled: a fresh syncobj has no fence
// (EINVAL) before and after RESET.
func igtResetUnsignaled(t *testing.T, w igtWaiter) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs, points := []uint32{h}, w.points(1)
	igtPoll(f, w, hs, points, 0, 0, errno.EINVAL, 0)
	check(t, "Reset", f.reset(h), 0)
	igtPoll(f, w, hs, points, 0, 0, errno.EINVAL, 0)
	igtDestroy(f, h)
	f.teardown()
}

// igtResetSignaled is test_reset_signaled: a triggered syncobj waits
// successfully, and after RESET has no fence (EINVAL).
func igtResetSignaled(t *testing.T, w igtWaiter) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs, points := []uint32{h}, w.points(1)
	f.trigger(h, w.point)
	igtPoll(f, w, hs, points, 0, 0, 0, 0)
	check(t, "Reset", f.reset(h), 0)
	igtPoll(f, w, hs, points, 0, 0, errno.EINVAL, 0)
	igtDestroy(f, h)
	f.teardown()
}

// igtResetMultipleSignaled is test_reset_multiple_signaled: RESET of three
// triggered syncobjs at once leaves each without a fence.
func igtResetMultipleSignaled(t *testing.T, w igtWaiter) {
	f := newDRMFile(t)
	hs := make([]uint32, 3)
	points := w.points(len(hs))
	for i := range hs {
		hs[i] = f.mustCreate(0)
		f.trigger(hs[i], points[i])
	}
	igtPoll(f, w, hs, points, 0, 0, 0, 0)
	check(t, fmt.Sprintf("Reset(%v)", hs), f.reset(hs...), 0)
	for i, h := range hs {
		igtPoll(f, w, []uint32{h}, points[i:i+1], 0, 0, errno.EINVAL, 0)
		igtDestroy(f, h)
	}
	f.teardown()
}

// igtSignal is test_signal: a fresh syncobj has no fence (EINVAL; ETIME
// with WAIT_FOR_SUBMIT); after SIGNAL (TIMELINE_SIGNAL at w.point) both
// waits succeed.
func igtSignal(t *testing.T, w igtWaiter) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs, points := []uint32{h}, w.points(1)
	igtPoll(f, w, hs, points, 0, 0, errno.EINVAL, 0)
	igtPoll(f, w, hs, points, 0, igtFS, errno.ETIME, 0)
	check(t, "Signal", w.signal(f, h), 0)
	igtPoll(f, w, hs, points, 0, 0, 0, 0)
	igtPoll(f, w, hs, points, 0, igtFS, 0, 0)
	igtIdle(f, w, "after the waits")
	igtDestroy(f, h)
	f.teardown()
}

// igtResetDuringWaitForSubmit is test_reset_during_wait_for_submit: a
// WAIT_FOR_SUBMIT wait (deadline +2·SHORT) on a fresh syncobj survives a
// timer at +SHORT that resets the syncobj and then triggers it.
func igtResetDuringWaitForSubmit(t *testing.T, w igtWaiter) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs, points := []uint32{h}, w.points(1)
	start := f.now()
	// A reset must be a no-op for a waiter that has no fence yet.
	f.clock.AfterFunc(start+short, func() {
		check(t, "Reset during the wait", f.reset(h), 0)
		// The waiter must still be queued on the syncobj: a reset
		// installs no fence, so it cannot satisfy WAIT_FOR_SUBMIT.
		if l := f.d.Live(); l.Waiters != 1 {
			t.Errorf("after Reset during the wait, Live().Waiters = %d; want 1 (still waiting for a fence)", l.Waiters)
		}
		f.trigger(h, w.point)
	})
	deadline := start + 2*short
	call := w.call(f, hs, points, deadline, igtFS)
	ch := igtWaitBG(f, w, context.Background(), hs, points, deadline, igtFS)
	f.waitArmed(2)
	f.clock.AdvanceTo(start + short)
	r := igtAwait(f, ch, deadline, "wait-for-submit waiter")
	igtCheck(t, call+" (a reset must not disturb a WAIT_FOR_SUBMIT wait)", r, 0, 0)
	if now := f.now(); now != start+short {
		t.Errorf("clock after the wait = start%+d ns; want start+SHORT", now-start)
	}
	igtIdle(f, w, "after the wait")
	igtDestroy(f, h)
	f.teardown()
}

// igtSnapshot is test_wait_snapshot: a waiter on two syncobjs (deadline
// +SHORT) must keep the fences it captured even when syncobj 0 is reset and
// given a fence that never signals; signalling syncobj 1 completes the wait.
func igtSnapshot(t *testing.T, w igtWaiter, flags uint32) {
	f := newDRMFile(t)
	hs := []uint32{f.mustCreate(0), f.mustCreate(0)}
	points := w.points(2)
	tls := []int32{-1, -1, -1}
	if flags&igtFS == 0 {
		tls[0] = f.attach(hs[0], points[0])
		tls[1] = f.attach(hs[1], points[1])
	}
	deadline := f.now() + short
	call := w.call(f, hs, points, deadline, flags)
	ch := igtWaitBG(f, w, context.Background(), hs, points, deadline, flags)
	f.waitArmed(1)

	f.clock.Advance(short / 5)
	// Try to fake the kernel out by triggering or partially triggering
	// the first fence.
	if flags&igtAll != 0 {
		if tls[0] == -1 {
			f.trigger(hs[0], points[0])
		} else {
			f.swInc(tls[0], 1)
		}
	} else if flags&igtFS != 0 {
		tls[0] = f.attach(hs[0], points[0])
	}
	f.clock.Advance(short / 5)
	check(t, "Reset(syncobj 0) during the wait", f.reset(hs[0]), 0)
	f.clock.Advance(short / 5)
	// A fence that never signals: a wait that picked it up would time out.
	tls[2] = f.attach(hs[0], points[0])
	f.clock.Advance(short / 5)
	if tls[1] == -1 {
		f.trigger(hs[1], points[1])
	} else {
		f.swInc(tls[1], 1)
	}

	r := igtAwait(f, ch, deadline, "snapshot waiter")
	// Any: the syncobj that completed the wait. All: nothing had
	// signalled in the initial scan, so ~0 (spec §3.6).
	wantFirst := uint32(1)
	if flags&igtAll != 0 {
		wantFirst = igtNone
	}
	igtCheck(t, call, r, 0, wantFirst)
	igtIdle(f, w, "after the wait")
	igtClose(f, tls...)
	igtDestroy(f, hs...)
	f.teardown()
}

// igtShuffled is IGT's shuffled_0_7_x4: 0..7, each four times, shuffled.
var igtShuffled = [...]int{
	2, 0, 6, 1, 1, 4, 5, 2, 0, 7, 1, 7, 6, 3, 4, 5,
	0, 2, 7, 3, 5, 4, 0, 6, 7, 3, 2, 5, 6, 1, 4, 3,
}

// igtComplex is test_wait_complex: 8 syncobjs walk through unsubmitted →
// submitted → signalled → reset → resubmitted in a shuffled order, steps
// 10 ms apart, while a waiter watches the first two (deadline +1 s).
func igtComplex(t *testing.T, w igtWaiter, flags uint32) {
	const (
		stageUnsubmitted = iota
		stageSubmitted
		stageSignaled
		stageReset
		stageResubmitted
	)
	f := newDRMFile(t)
	var hs [8]uint32
	points := w.points(len(hs))
	var stage [8]int
	var tls [8]int32
	for i := range hs {
		hs[i] = f.mustCreate(0)
		tls[i] = -1
	}
	if flags&igtFS == 0 {
		for i := range hs {
			tls[i] = f.attach(hs[i], points[i])
		}
	}
	deadline := f.now() + 1000*ms
	call := w.call(f, hs[:2], points[:2], deadline, flags)
	ch := igtWaitBG(f, w, context.Background(), hs[:2], points[:2], deadline, flags)
	f.waitArmed(1)
	f.clock.Advance(20 * ms)

	firstSignaled, numSignaled := -1, 0
	for _, i := range igtShuffled {
		st := stage[i]
		stage[i]++
		switch st {
		case stageUnsubmitted:
			if flags&igtFS == 0 {
				// We had to attach one up front.
				if tls[i] == -1 {
					t.Fatalf("syncobj %d has no fence attached", i)
				}
				break
			}
			tls[i] = f.attach(hs[i], points[i])
		case stageSubmitted:
			if tls[i] == -1 {
				t.Fatalf("syncobj %d: no fence to signal", i)
			}
			f.swInc(tls[i], 1)
			igtClose(f, tls[i])
			tls[i] = -1
			if numSignaled == 0 {
				firstSignaled = i
			}
			numSignaled++
		case stageSignaled:
			check(t, fmt.Sprintf("Reset(syncobj %d)", i), f.reset(hs[i]), 0)
		case stageReset:
			tls[i] = f.attach(hs[i], points[i])
		case stageResubmitted:
			t.Fatalf("syncobj %d reached stage RESUBMITTED", i)
		}
		if flags&igtAll != 0 {
			if numSignaled == len(hs) {
				break
			}
		} else if numSignaled > 0 {
			break
		}
		f.clock.Advance(10 * ms)
	}

	r := igtAwait(f, ch, deadline, "complex waiter")
	if r.e != 0 {
		t.Errorf("%s = %v; want 0", call, r.e)
	}
	if flags&igtAll != 0 {
		if numSignaled != len(hs) {
			t.Errorf("signalled %d syncobjs; want %d", numSignaled, len(hs))
		}
		if r.e == 0 && r.first != igtNone {
			t.Errorf("%s: first_signaled = %#x; want %#x (nothing signalled in the initial scan)", call, r.first, igtNone)
		}
	} else {
		if numSignaled != 1 {
			t.Errorf("signalled %d syncobjs; want 1", numSignaled)
		}
		if r.e == 0 && int(r.first) != firstSignaled {
			t.Errorf("%s: first_signaled = %d; want %d", call, r.first, firstSignaled)
		}
	}
	igtIdle(f, w, "after the wait")
	igtClose(f, tls[:]...)
	igtDestroy(f, hs[:]...)
	f.teardown()
}

// igtInterrupted is test_wait_interrupted: a wait on an unsignalled fence
// (deadline +SHORT) under a signal storm. Each interruption is ERESTARTSYS;
// the restarted ioctl keeps the same absolute deadline, so the storm must
// end in ETIME exactly when that deadline has passed, never earlier and
// never later.
func igtInterrupted(t *testing.T, w igtWaiter, flags uint32) {
	f := newDRMFile(t)
	h := f.mustCreate(0)
	hs, points := []uint32{h}, w.points(1)
	tl := f.attach(h, w.point)
	deadline := f.now() + short
	what := w.call(f, hs, points, deadline, flags)

	// The first signal arrives while the waiter is parked.
	ctx, cancel := context.WithCancel(context.Background())
	ch := igtWaitBG(f, w, ctx, hs, points, deadline, flags)
	f.waitArmed(1)
	cancel()
	r := igtAwait(f, ch, deadline, "interrupted waiter")
	igtCheck(t, what+" interrupted while parked", r, errno.ERESTARTSYS, 0)
	igtIdle(f, w, "after the interrupted wait")

	// Then signals keep arriving every 3 ms; the ioctl is restarted each
	// time, with a signal already pending on entry.
	restarts, interrupted := 0, 0
	for {
		f.clock.Advance(3 * ms)
		now := f.now()
		r := w.wait(ctx, f, hs, points, deadline, flags)
		restarts++
		if r.e == errno.ERESTARTSYS {
			interrupted++
			if now >= deadline {
				t.Fatalf("%s restarted at deadline%+d ns = ERESTARTSYS; want ETIME (the deadline is absolute)", what, now-deadline)
			}
			if restarts > 1000 {
				t.Fatalf("%s: still ERESTARTSYS after %d restarts, %d ms past the deadline", what, restarts, (now-deadline)/ms)
			}
			continue
		}
		igtCheck(t, fmt.Sprintf("%s after the signal storm, restarted %d times", what, restarts), r, errno.ETIME, 0)
		if now < deadline {
			t.Errorf("%s returned %v at deadline%+d ns; want ERESTARTSYS until the deadline", what, r.e, now-deadline)
		}
		break
	}
	if interrupted == 0 {
		t.Errorf("%s: the pending signal never interrupted a restarted wait; want ERESTARTSYS while the deadline is ahead", what)
	}
	igtIdle(f, w, "after the signal storm")

	// Beyond IGT: a signal that arrives once the deadline has already
	// passed, before the waiter ran again, still gives ETIME: the kernel
	// checks the timeout before signal_pending (spec §3.6).
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	deadline2 := f.now() + short
	what2 := w.call(f, hs, points, deadline2, flags)
	ch = igtWaitBG(f, w, ctx2, hs, points, deadline2, flags)
	f.waitArmed(1)
	f.clock.AdvanceTo(deadline2)
	cancel2()
	r = igtAwait(f, ch, deadline2, "waiter signalled after its deadline")
	igtCheck(t, what2+" signalled after the deadline", r, errno.ETIME, 0)
	igtIdle(f, w, "after the late signal")
	igtDestroy(f, h)
	igtClose(f, tl)
	f.teardown()
}
