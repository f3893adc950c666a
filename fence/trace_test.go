package fence

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"fencelab/errno"
)

// traceLog is a Tracer that keeps every trace, written out as a line
// naming fences by what the test calls them.
type traceLog struct {
	mu     sync.Mutex
	traces []Trace
}

func (l *traceLog) Trace(t Trace) {
	l.mu.Lock()
	l.traces = append(l.traces, t)
	l.mu.Unlock()
}

// take returns the traces so far as lines, and forgets them. names names
// fences; others are "stub" (context 0), "point N" (a chain node) or
// "?".
func (l *traceLog) take(names map[*Fence]string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := func(f *Fence) string {
		switch {
		case f == nil:
			return "-"
		case names[f] != "":
			return names[f]
		case f.Context() == 0:
			return "stub"
		case f.IsChain():
			return fmt.Sprintf("point %d of %s", f.Seqno(), name1(names, f.Contained()))
		}
		return "?"
	}
	var out []string
	for _, t := range l.traces {
		s := fmt.Sprintf("op %d", t.Op)
		switch t.Op {
		case TraceReplace:
			s = fmt.Sprintf("replace %d/%d ← %s from fd %d", t.Syncobj, t.Handle, name(t.Fence), t.SrcFD)
		case TraceReset:
			s = fmt.Sprintf("reset %d/%d", t.Syncobj, t.Handle)
		case TraceSignal:
			s = fmt.Sprintf("signal %d/%d@%d = %s", t.Syncobj, t.Handle, t.Point, name(t.Fence))
		case TraceTransfer:
			s = fmt.Sprintf("transfer %d/%d@%d = %s ← %d/%d@%d = %s", t.Syncobj, t.Handle, t.Point, name(t.Fence),
				t.SrcSyncobj, t.SrcHandle, t.SrcPoint, name(t.SrcFence))
		case TraceSyncFile:
			s = fmt.Sprintf("sync_file fd %d = %s from %d/%d@%d", t.FD, name(t.Fence), t.SrcSyncobj, t.SrcHandle, t.SrcPoint)
		case TraceMerge:
			s = fmt.Sprintf("merge fd %d ← fd %d (%s)", t.FD, t.SrcFD, name(t.SrcFence))
		case TraceWaitBlocked:
			s = fmt.Sprintf("blocked on %d/%d@%d = %s", t.Syncobj, t.Handle, t.Point, name(t.Fence))
		case TraceWaitWoken:
			s = fmt.Sprintf("woken %s by %d/%d@%d = %s", t.Errno.Name(), t.Syncobj, t.Handle, t.Point, name(t.Fence))
		case TraceEventfd:
			s = fmt.Sprintf("eventfd fd %d on %d/%d@%d = %s", t.FD, t.Syncobj, t.Handle, t.Point, name(t.Fence))
		case TraceFenceEmitted:
			s = "emitted " + name(t.Fence)
		case TraceFenceSignalled:
			s = fmt.Sprintf("signalled %s %s", name(t.Fence), t.Errno.Name())
		}
		out = append(out, s)
	}
	l.traces = nil
	return out
}

func name1(names map[*Fence]string, f *Fence) string {
	if n := names[f]; n != "" {
		return n
	}
	if f != nil && f.Context() == 0 {
		return "stub"
	}
	return "?"
}

func newTracedFile(t *testing.T) (*drmFile, *traceLog) {
	f := newDRMFile(t)
	l := &traceLog{}
	f.d.SetTracer(l)
	return f, l
}

func wantTraces(t *testing.T, step string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s traced:\n\t%s\nwant:\n\t%s", step, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// Each syncobj ioctl that changes a syncobj reports it once, naming the
// syncobj by its domain-wide id and the handle the caller used, with the
// fence now there; sw_sync points and sync_files report their making.
func TestTraceSyncobjIoctls(t *testing.T) {
	f, l := newTracedFile(t)
	defer f.teardown()
	names := map[*Fence]string{}
	a, b := f.mustCreate(0), f.mustCreate(0)
	other := f.sibling() // another file: ids go on, handles start again
	c, _ := other.create(DRM_SYNCOBJ_CREATE_SIGNALED)
	wantTraces(t, "CREATE", l.take(names), "signal 3/1@0 = stub")

	tl, tlfd := f.swTimeline()
	ffd := f.swFence(tlfd, 1)
	sf, _ := f.fds.file(ffd).(*SyncFile)
	names[sf.Fence()] = "sw1"
	wantTraces(t, "CREATE_FENCE", l.take(names), "emitted sw1", fmt.Sprintf("sync_file fd %d = sw1 from 0/0@0", ffd))

	f.importSyncFile(a, ffd)
	wantTraces(t, "IMPORT_SYNC_FILE", l.take(names), fmt.Sprintf("replace 1/%d ← sw1 from fd %d", a, ffd))

	check(t, "TRANSFER", f.transfer(b, 5, a, 0, 0), 0)
	wantTraces(t, "TRANSFER", l.take(names), fmt.Sprintf("transfer 2/%d@5 = sw1 ← 1/%d@0 = sw1", b, a))

	check(t, "TIMELINE_SIGNAL", f.timelineSignal([]uint32{b}, []uint64{7}), 0)
	check(t, "SIGNAL", f.signal(a), 0)
	check(t, "RESET", f.reset(b, a), 0)
	wantTraces(t, "SIGNAL and RESET", l.take(names), fmt.Sprintf("signal 2/%d@7 = stub", b),
		fmt.Sprintf("signal 1/%d@0 = stub", a), fmt.Sprintf("reset 2/%d", b), fmt.Sprintf("reset 1/%d", a))

	efd, e := other.handleToFD(c, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE)
	check(t, "EXPORT_SYNC_FILE", e, 0)
	wantTraces(t, "EXPORT_SYNC_FILE", l.take(names), fmt.Sprintf("sync_file fd %d = stub from 3/%d@0", efd, c))

	f.swInc(tlfd, 1)
	wantTraces(t, "INC", l.take(names), "signalled sw1 OK")
	f.swFence(tlfd, 2)
	f.fds.close(tlfd) // the last point signals with ENOENT
	got := l.take(names)
	if len(got) != 3 || got[2] != "signalled ? ENOENT" {
		t.Errorf("a point, then closing the timeline, traced %q; want the point signalled with ENOENT last", got)
	}
	_ = tl
	f.fds.close(ffd)
	other.tab.Close()
	other.fds.closeAll()

	// Failures report nothing.
	check(t, "RESET(bad)", f.reset(99), errno.ENOENT)
	wantTraces(t, "a failed RESET", l.take(names))
}

// A wait that sleeps reports what it sleeps on, each syncobj point with
// its fence or none yet, and then what woke it; one that does not sleep
// reports nothing.
func TestTraceWaits(t *testing.T) {
	f, l := newTracedFile(t)
	defer f.teardown()
	a, b := f.mustCreate(0), f.mustCreate(0)
	tlfd := f.attach(a, 0)
	fa := f.tab.Find(a)
	names := map[*Fence]string{fa.Fence(): "sw"}
	fa.Put()
	l.take(names)

	// Any of (a, b@3 not yet submitted): the sw_sync point ends it.
	done := background(func() errno.Errno {
		e, _ := f.timelineWait([]uint32{a, b}, []uint64{0, 3}, f.now()+short, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)
		return e
	})
	f.waitArmed(1)
	f.swInc(tlfd, 1)
	check(t, "TIMELINE_WAIT", <-done, 0)
	wantTraces(t, "a wait for any", l.take(names),
		fmt.Sprintf("blocked on 1/%d@0 = sw", a), fmt.Sprintf("blocked on 2/%d@3 = -", b),
		"signalled sw OK", fmt.Sprintf("woken OK by 1/%d@0 = sw", a))

	// Already signalled, or polled: no sleep, nothing traced.
	e, _ := f.wait([]uint32{a}, f.now()+short, 0)
	check(t, "WAIT(signalled)", e, 0)
	e, _ = f.timelineWait([]uint32{b}, []uint64{3}, f.now(), DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)
	check(t, "TIMELINE_WAIT(poll)", e, errno.ETIME)
	wantTraces(t, "waits that do not sleep", l.take(names))

	// Timing out.
	done = background(func() errno.Errno {
		e, _ := f.timelineWait([]uint32{b}, []uint64{3}, f.now()+short, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)
		return e
	})
	f.waitArmed(1)
	f.clock.Advance(short)
	check(t, "TIMELINE_WAIT(timeout)", <-done, errno.ETIME)
	wantTraces(t, "a timed-out wait", l.take(names), fmt.Sprintf("blocked on 2/%d@3 = -", b), "woken ETIME by 0/0@0 = -")

	// TRANSFER with WAIT_FOR_SUBMIT sleeps for its source point.
	f.fds.close(tlfd)
	tlfd = f.attach(a, 0)
	fa = f.tab.Find(a)
	names[fa.Fence()] = "sw2"
	fa.Put()
	l.take(names)
	c := f.mustCreate(0)
	done = background(func() errno.Errno { return f.transfer(c, 0, b, 4, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) })
	f.waitArmed(1)
	check(t, "TRANSFER", f.transfer(b, 4, a, 0, 0), 0)
	check(t, "TRANSFER(wait for submit)", <-done, 0)
	got := l.take(names)
	want := []string{fmt.Sprintf("blocked on 2/%d@4 = -", b),
		fmt.Sprintf("transfer 2/%d@4 = sw2 ← 1/%d@0 = sw2", b, a),
		fmt.Sprintf("woken OK by 2/%d@4 = point 4 of sw2", b),
		fmt.Sprintf("transfer 3/%d@0 = point 4 of sw2 ← 2/%d@4 = point 4 of sw2", c, b)}
	wantTraces(t, "TRANSFER waiting for submission", got, want...)
	f.swInc(tlfd, 1)
	f.fds.close(tlfd)
}

// An eventfd registration reports when it fires, naming the eventfd's fd
// and the syncobj point; a merge reports each input.
func TestTraceEventfdAndMerge(t *testing.T) {
	f, l := newTracedFile(t)
	defer f.teardown()
	a := f.mustCreate(0)
	ev := newTestEventfd()
	evfd := f.fds.open(ev)
	check(t, "EVENTFD", f.eventfd(a, 2, evfd, 0), 0)
	tlfd := f.attach(a, 2)
	l.take(nil)
	f.swInc(tlfd, 1)
	got := l.take(nil)
	if len(got) != 2 || !strings.HasPrefix(got[1], fmt.Sprintf("eventfd fd %d on 1/%d@2 = ", evfd, a)) {
		t.Errorf("signalling the point traced %q; want the sw_sync signal, then the eventfd", got)
	}
	f.fds.close(tlfd)

	_, tlfd = f.swTimeline()
	fd1, fd2 := f.swFence(tlfd, 1), f.swFence(tlfd, 2)
	l.take(nil)
	m := sfMerge(f, fd1, fd2, "m")
	got = l.take(nil)
	want := []string{fmt.Sprintf("merge fd %d ← fd -1 (?)", m), fmt.Sprintf("merge fd %d ← fd %d (?)", m, fd2)}
	wantTraces(t, "MERGE", got, want...)
	f.swInc(tlfd, 2)
	for _, fd := range []int32{tlfd, fd1, fd2, m, evfd} {
		f.fds.close(fd)
	}
}

// Without a tracer nothing is reported; SetTracer(nil) takes one away.
// Syncobj ids are the domain's, in creation order, across files.
func TestTracerOffAndSyncobjIDs(t *testing.T) {
	f, l := newTracedFile(t)
	defer f.teardown()
	f.d.SetTracer(nil)
	a := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	f.reset(a)
	if got := l.take(nil); len(got) != 0 {
		t.Errorf("with no tracer: %q", got)
	}
	var ids []uint32
	second := f.d.NewSyncobjTable(0)
	defer second.Close()
	for _, tab := range []*SyncobjTable{f.tab, second, f.tab} {
		s := f.d.NewSyncobj(false)
		tab.Install(s)
		ids = append(ids, s.ID())
		s.Put()
	}
	if !slices.Equal(ids, []uint32{2, 3, 4}) {
		t.Errorf("ids %v; want 2, 3, 4 after the first syncobj's 1", ids)
	}
}
