package fence

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"reflect"
	"testing"
	"time"

	"fencelab/errno"
)

// This file covers the syncobj ioctls beyond what IGT checks (spec §3.3–§3.8):
// every errno of §3.3 and the order in which they are checked when two
// apply at once, the array ioctls' EFAULT/ENOMEM paths, fd-table
// exhaustion, handle reuse, TRANSFER in every direction and with
// WAIT_FOR_SUBMIT, the binary/timeline mixing rules, add_point, find_seqno
// after garbage collection, eventfd registrations dropped with their
// syncobj, and the UAPI struct layouts. Helpers are prefixed ops.

const (
	// opsBad is a user address outside testMem: every copy through it faults.
	opsBad = uint64(8)
	// opsHuge is a count whose arrays no kmalloc can grant.
	opsHuge = uint32(0x7fffffff)
	// opsUnwritten is preloaded into first_signaled.
	opsUnwritten = uint32(0xdead)
	// opsNoFD is an fd number nothing is open on.
	opsNoFD = int32(77)

	opsAll       = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
	opsFS        = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
	opsAvail     = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE
	opsDeadline  = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE
	opsSignaled  = DRM_SYNCOBJ_CREATE_SIGNALED
	opsExport    = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE
	opsImport    = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE
	opsLast      = DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED
	opsTimelineF = 2 // DRM_SYNCOBJ_*_FLAGS_TIMELINE: newer than 6.12, EINVAL there
)

// opsEnv is what a table case's setup leaves for its call and post-check.
type opsEnv struct {
	t     *testing.T
	f     *drmFile
	h     []uint32 // handles made by setup
	fd    int32    // an fd made by setup
	tl    []int32  // sw_sync timeline fds (swInc signals the attached fence)
	ev    *testEventfd
	first uint32 // first_signaled after a WAIT / TIMELINE_WAIT call
	out   uint32 // handle or fd written by the call
	addr  uint64 // an address the call wrote to
	fence *Fence // a fence remembered by setup
}

type opsCase struct {
	name  string // the call, e.g. "Transfer(pad=1)"
	setup func(e *opsEnv)
	call  func(e *opsEnv) errno.Errno
	want  errno.Errno
	post  func(e *opsEnv)
}

// opsObj returns the syncobj behind h (the handle keeps it alive).
func opsObj(f *drmFile, h uint32) *Syncobj {
	f.t.Helper()
	s := f.tab.Find(h)
	if s == nil {
		f.t.Fatalf("handle %d: not in the table", h)
	}
	s.Put()
	return s
}

// opsFence returns h's current fence.
func opsFence(f *drmFile, h uint32) *Fence {
	f.t.Helper()
	return opsObj(f, h).Fence()
}

func opsResolve(f *drmFile, h uint32, p uint64) (*Fence, bool) {
	f.t.Helper()
	return opsObj(f, h).Resolve(p)
}

// opsFullFDs replaces f's fd table by one that holds at most n files and
// fills it. Call it before anything opens an fd.
func opsFullFDs(f *drmFile, n int) {
	f.fds = newTestFDs(n)
	for range n {
		f.fds.open(nullFile{})
	}
}

func opsRepeat(h uint32, n int) []uint32 {
	hs := make([]uint32, n)
	for i := range hs {
		hs[i] = h
	}
	return hs
}

// opsTS adds points to h one TIMELINE_SIGNAL at a time.
func opsTS(f *drmFile, h uint32, points ...uint64) {
	f.t.Helper()
	for _, p := range points {
		if e := f.timelineSignal([]uint32{h}, []uint64{p}); e != 0 {
			f.t.Fatalf("TimelineSignal(%d, %d) = %v", h, p, e)
		}
	}
}

// opsRecv receives a background call's result; the wall-clock bound only
// catches a call that never returns.
func opsRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
	}
	var zero T
	return zero
}

// opsSyncFile opens a sync_file on fence fn and returns its fd.
func opsSyncFile(f *drmFile, fn *Fence) int32 {
	return f.fds.open(f.d.NewSyncFile(fn))
}

// Setups.

func opsMk(flags ...uint32) func(e *opsEnv) {
	return func(e *opsEnv) {
		for _, fl := range flags {
			e.h = append(e.h, e.f.mustCreate(fl))
		}
	}
}

// opsMkTimeline makes one syncobj holding signalled points 1..n.
func opsMkTimeline(n uint64) func(e *opsEnv) {
	return func(e *opsEnv) {
		h := e.f.mustCreate(0)
		for p := uint64(1); p <= n; p++ {
			opsTS(e.f, h, p)
		}
		e.h = append(e.h, h)
	}
}

// opsMkPending makes one syncobj holding a pending sw_sync fence (point 0).
func opsMkPending(e *opsEnv) {
	h := e.f.mustCreate(0)
	e.tl = append(e.tl, e.f.attach(h, 0))
	e.h = append(e.h, h)
}

func opsThen(fs ...func(e *opsEnv)) func(e *opsEnv) {
	return func(e *opsEnv) {
		for _, fn := range fs {
			fn(e)
		}
	}
}

func opsFull(n int) func(e *opsEnv) { return func(e *opsEnv) { opsFullFDs(e.f, n) } }

func opsOpenEventfd(e *opsEnv) {
	e.ev = newTestEventfd()
	e.fd = e.f.fds.open(e.ev)
}

// Calls.

func (e *opsEnv) wait(a DrmSyncobjWait) errno.Errno {
	a.FirstSignaled = opsUnwritten
	r := e.f.tab.Wait(context.Background(), e.f.mem, &a)
	e.first = a.FirstSignaled
	return r
}

func (e *opsEnv) twait(a DrmSyncobjTimelineWait) errno.Errno {
	a.FirstSignaled = opsUnwritten
	r := e.f.tab.TimelineWait(context.Background(), e.f.mem, &a)
	e.first = a.FirstSignaled
	return r
}

func (e *opsEnv) h2fd(a DrmSyncobjHandle) errno.Errno {
	a.Fd = -1
	r := e.f.tab.HandleToFD(e.f.fds, &a)
	e.out = uint32(a.Fd)
	return r
}

func (e *opsEnv) fd2h(a DrmSyncobjHandle) errno.Errno {
	r := e.f.tab.FDToHandle(e.f.fds, &a)
	e.out = a.Handle
	return r
}

func (e *opsEnv) xfer(a DrmSyncobjTransfer) errno.Errno {
	return e.f.tab.Transfer(context.Background(), &a)
}

func (e *opsEnv) u32s(v ...uint32) uint64 { return e.f.mem.u32s(v...) }
func (e *opsEnv) u64s(v ...uint64) uint64 { return e.f.mem.u64s(v...) }

// Post-checks.

func opsFirst(want uint32) func(e *opsEnv) {
	return func(e *opsEnv) {
		if e.first != want {
			e.t.Errorf("first_signaled = %#x; want %#x", e.first, want)
		}
	}
}

// opsNilFence checks that setup's handle i still holds no fence.
func opsNilFence(i int) func(e *opsEnv) {
	return func(e *opsEnv) {
		if fn := opsFence(e.f, e.h[i]); fn != nil {
			e.t.Errorf("handle %d holds a fence after the failed call; want none", e.h[i])
		}
	}
}

// opsSameFence checks that handle i still holds e.fence.
func opsSameFence(i int) func(e *opsEnv) {
	return func(e *opsEnv) {
		if fn := opsFence(e.f, e.h[i]); fn != e.fence {
			e.t.Errorf("handle %d's fence changed by the failed call", e.h[i])
		}
	}
}

func opsRemember(i int) func(e *opsEnv) {
	return func(e *opsEnv) { e.fence = opsFence(e.f, e.h[i]) }
}

func opsQueryIs(i int, want uint64) func(e *opsEnv) {
	return func(e *opsEnv) {
		e.t.Helper()
		if got := e.f.query1(e.h[i]); got != want {
			e.t.Errorf("Query(%d) = %d; want %d", e.h[i], got, want)
		}
	}
}

// opsFDsHeld checks that the fd table holds exactly n entries (no
// reservation leaked by a failed export).
func opsFDsHeld(n int) func(e *opsEnv) {
	return func(e *opsEnv) {
		e.f.fds.mu.Lock()
		got := len(e.f.fds.files)
		e.f.fds.mu.Unlock()
		if got != n {
			e.t.Errorf("fd table holds %d entries; want %d", got, n)
		}
	}
}

func opsTableLen(n int) func(e *opsEnv) {
	return func(e *opsEnv) {
		if got := e.f.tab.Len(); got != n {
			e.t.Errorf("table holds %d handles; want %d", got, n)
		}
	}
}

func opsRun(t *testing.T, cases []opsCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newDRMFile(t)
			e := &opsEnv{t: t, f: f, fd: -1}
			if c.setup != nil {
				c.setup(e)
			}
			if got := c.call(e); got != c.want {
				t.Errorf("%s = %v; want %v", c.name, got, c.want)
			}
			if c.post != nil {
				c.post(e)
			}
			f.teardown()
		})
	}
}

// TestOpsErrno is spec §3.3 ioctl by ioctl: each errno, the checks' order
// where two failures apply at once, and that failures change nothing.
func TestOpsErrno(t *testing.T) {
	t.Run("CREATE", func(t *testing.T) { opsRun(t, opsCreateCases) })
	t.Run("DESTROY", func(t *testing.T) { opsRun(t, opsDestroyCases) })
	t.Run("HANDLE_TO_FD", func(t *testing.T) { opsRun(t, opsHandleToFDCases) })
	t.Run("FD_TO_HANDLE", func(t *testing.T) { opsRun(t, opsFDToHandleCases) })
	t.Run("WAIT", func(t *testing.T) { opsRun(t, opsWaitCases) })
	t.Run("TIMELINE_WAIT", func(t *testing.T) { opsRun(t, opsTimelineWaitCases) })
	t.Run("RESET", func(t *testing.T) { opsRun(t, opsResetCases) })
	t.Run("SIGNAL", func(t *testing.T) { opsRun(t, opsSignalCases) })
	t.Run("TIMELINE_SIGNAL", func(t *testing.T) { opsRun(t, opsTimelineSignalCases) })
	t.Run("QUERY", func(t *testing.T) { opsRun(t, opsQueryCases) })
	t.Run("TRANSFER", func(t *testing.T) { opsRun(t, opsTransferCases) })
	t.Run("EVENTFD", func(t *testing.T) { opsRun(t, opsEventfdCases) })
}

var opsCreateCases = []opsCase{
	{name: "Create(flags=2)", call: func(e *opsEnv) errno.Errno {
		_, r := e.f.create(2)
		return r
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "Create(flags=~0)", call: func(e *opsEnv) errno.Errno {
		_, r := e.f.create(^uint32(0))
		return r
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "Create(flags=SIGNALED|2)", call: func(e *opsEnv) errno.Errno {
		_, r := e.f.create(opsSignaled | 2)
		return r
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "Create(0)", call: func(e *opsEnv) errno.Errno {
		h, r := e.f.create(0)
		e.out = h
		return r
	}, post: func(e *opsEnv) {
		if e.out != 1 {
			e.t.Errorf("first handle = %d; want 1", e.out)
		}
		if opsFence(e.f, e.out) != nil {
			e.t.Errorf("Create(0) installed a fence")
		}
	}},
	// fencelab's explicit handle limit (table.go) stands for kernel memory.
	{name: "Create(table full)", setup: func(e *opsEnv) {
		e.f.tab = e.f.d.NewSyncobjTable(2)
		opsMk(0, 0)(e)
	}, call: func(e *opsEnv) errno.Errno {
		_, r := e.f.create(0)
		return r
	}, want: errno.ENOMEM, post: opsTableLen(2)},
}

var opsDestroyCases = []opsCase{
	{name: "Destroy(unknown handle)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.destroy(99)
	}, want: errno.EINVAL, post: opsTableLen(1)},
	{name: "Destroy(handle 0)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.destroy(0)
	}, want: errno.EINVAL, post: opsTableLen(1)},
	{name: "Destroy(twice)", setup: opsThen(opsMk(0), func(e *opsEnv) {
		check(e.t, "first Destroy", e.f.destroy(e.h[0]), 0)
	}), call: func(e *opsEnv) errno.Errno {
		return e.f.destroy(e.h[0])
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "Destroy(pad=1, valid handle)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Destroy(&DrmSyncobjDestroy{Handle: e.h[0], Pad: 1})
	}, want: errno.EINVAL, post: opsTableLen(1)},
	{name: "Destroy(pad=1, unknown handle)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Destroy(&DrmSyncobjDestroy{Handle: 99, Pad: 1})
	}, want: errno.EINVAL},
	{name: "Destroy(valid)", setup: opsMk(0, 0), call: func(e *opsEnv) errno.Errno {
		return e.f.destroy(e.h[0])
	}, post: func(e *opsEnv) {
		opsTableLen(1)(e)
		if s := e.f.tab.Find(e.h[0]); s != nil {
			s.Put()
			e.t.Errorf("handle %d still found after Destroy", e.h[0])
		}
	}},
}

var opsHandleToFDCases = []opsCase{
	// Plain export (drm_syncobj_handle_to_fd).
	{name: "HandleToFD(pad=1)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Pad: 1})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(flags=TIMELINE)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsTimelineF})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(flags=EXPORT|TIMELINE)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport | opsTimelineF})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(flags=1<<31)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: 1 << 31})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(unknown handle)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: 99})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(handle 0)", call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: 0})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(fd table full)", setup: opsThen(opsFull(3), opsMk(0)), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0]})
	}, want: errno.EMFILE, post: opsFDsHeld(3)},
	{name: "HandleToFD(unknown handle, fd table full)", setup: opsFull(1), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: 99})
	}, want: errno.EINVAL, post: opsFDsHeld(1)},
	{name: "HandleToFD(pad=1, fd table full)", setup: opsThen(opsFull(1), opsMk(0)), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Pad: 1})
	}, want: errno.EINVAL, post: opsFDsHeld(1)},
	{name: "HandleToFD(empty syncobj)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0]})
	}, post: func(e *opsEnv) {
		sf, ok := e.f.fds.file(int32(e.out)).(*SyncobjFile)
		if !ok {
			e.t.Fatalf("fd %d is %T; want *SyncobjFile", int32(e.out), e.f.fds.file(int32(e.out)))
		}
		if sf.Syncobj() != opsObj(e.f, e.h[0]) {
			e.t.Errorf("the syncobj fd refers to another object")
		}
		// The fd keeps the object alive once the handle is gone.
		check(e.t, "Destroy", e.f.destroy(e.h[0]), 0)
		if l := e.f.d.Live(); l.Syncobjs != 1 {
			e.t.Errorf("Live().Syncobjs = %d after destroying the handle; want 1 (held by the fd)", l.Syncobjs)
		}
	}},

	// EXPORT_SYNC_FILE (drm_syncobj_export_sync_file): fd first.
	{name: "HandleToFD(EXPORT, unknown handle)", call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: 99, Flags: opsExport})
	}, want: errno.ENOENT, post: opsFDsHeld(0)},
	{name: "HandleToFD(EXPORT, no fence)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport})
	}, want: errno.EINVAL, post: opsFDsHeld(0)},
	{name: "HandleToFD(EXPORT, fd table full)", setup: opsThen(opsFull(2), opsMk(opsSignaled)), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport})
	}, want: errno.EMFILE, post: opsFDsHeld(2)},
	{name: "HandleToFD(EXPORT, unknown handle, fd table full)", setup: opsFull(1), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: 99, Flags: opsExport})
	}, want: errno.EMFILE, post: opsFDsHeld(1)},
	{name: "HandleToFD(EXPORT, no fence, fd table full)", setup: opsThen(opsFull(1), opsMk(0)), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport})
	}, want: errno.EMFILE, post: opsFDsHeld(1)},
	{name: "HandleToFD(EXPORT, pad=1, fd table full)", setup: opsThen(opsFull(1), opsMk(opsSignaled)), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport, Pad: 1})
	}, want: errno.EINVAL, post: opsFDsHeld(1)},
	{name: "HandleToFD(EXPORT, ENOENT gives the fd back)", setup: func(e *opsEnv) {
		check(e.t, "HandleToFD(EXPORT, unknown handle)", e.h2fd(DrmSyncobjHandle{Handle: 99, Flags: opsExport}), errno.ENOENT)
		opsMk(opsSignaled)(e)
	}, call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport})
	}, post: func(e *opsEnv) {
		if int32(e.out) != 0 {
			e.t.Errorf("export after a failed one got fd %d; want 0 (the lowest free)", int32(e.out))
		}
	}},
	{name: "HandleToFD(EXPORT, timeline head)", setup: opsThen(opsMkTimeline(2), opsRemember(0)), call: func(e *opsEnv) errno.Errno {
		return e.h2fd(DrmSyncobjHandle{Handle: e.h[0], Flags: opsExport})
	}, post: func(e *opsEnv) {
		sf, ok := e.f.fds.file(int32(e.out)).(*SyncFile)
		if !ok {
			e.t.Fatalf("fd %d is not a sync_file", int32(e.out))
		}
		if sf.Fence() != e.fence || !sf.Fence().IsChain() || sf.Fence().Seqno() != 2 {
			e.t.Errorf("sync_file fence is not the head chain node (seqno 2)")
		}
		// Later changes to the syncobj do not affect the file.
		check(e.t, "Reset", e.f.reset(e.h[0]), 0)
		if sf.Fence() != e.fence {
			e.t.Errorf("sync_file fence changed with the syncobj")
		}
	}},

	// 16-byte struct of 6.12: a TIMELINE flag is rejected, so point does
	// not exist; flags 0 and 1 with every other field valid succeed.
}

var opsFDToHandleCases = []opsCase{
	// Plain import (drm_syncobj_fd_to_handle).
	{name: "FDToHandle(pad=1)", setup: opsThen(opsMk(0), func(e *opsEnv) {
		fd, r := e.f.handleToFD(e.h[0], 0)
		check(e.t, "HandleToFD", r, 0)
		e.fd = fd
	}), call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd, Pad: 1})
	}, want: errno.EINVAL, post: opsTableLen(1)},
	{name: "FDToHandle(flags=TIMELINE)", setup: opsThen(opsMk(0), func(e *opsEnv) {
		e.fd, _ = e.f.handleToFD(e.h[0], 0)
	}), call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd, Flags: opsTimelineF})
	}, want: errno.EINVAL, post: opsTableLen(1)},
	{name: "FDToHandle(flags=IMPORT|TIMELINE)", setup: func(e *opsEnv) {
		opsMk(0)(e)
		e.fd = opsSyncFile(e.f, e.f.d.NewStub(e.f.now()))
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: e.h[0], Fd: e.fd, Flags: opsImport | opsTimelineF})
	}, want: errno.EINVAL, post: opsNilFence(0)},
	{name: "FDToHandle(flags=4)", call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: 0, Flags: 4})
	}, want: errno.EINVAL},
	{name: "FDToHandle(fd not open)", call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: opsNoFD})
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "FDToHandle(fd=-1)", call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: -1})
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "FDToHandle(/dev/null)", setup: func(e *opsEnv) { e.fd = e.f.fds.open(nullFile{}) }, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd})
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "FDToHandle(sync_file fd)", setup: func(e *opsEnv) {
		e.fd = opsSyncFile(e.f, e.f.d.NewStub(e.f.now()))
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd})
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "FDToHandle(eventfd)", setup: opsOpenEventfd, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd})
	}, want: errno.EINVAL, post: opsTableLen(0)},
	{name: "FDToHandle(handle table full)", setup: func(e *opsEnv) {
		e.f.tab = e.f.d.NewSyncobjTable(1)
		opsMk(0)(e)
		e.fd, _ = e.f.handleToFD(e.h[0], 0)
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd})
	}, want: errno.ENOMEM, post: opsTableLen(1)},
	{name: "FDToHandle(same fd twice)", setup: func(e *opsEnv) {
		opsMk(0)(e)
		e.fd, _ = e.f.handleToFD(e.h[0], 0)
		h, r := e.f.fdToHandle(e.fd, 0, 0)
		check(e.t, "first FDToHandle", r, 0)
		e.h = append(e.h, h)
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Fd: e.fd})
	}, post: func(e *opsEnv) {
		if e.h[1] != 2 || e.out != 3 {
			e.t.Errorf("imports gave handles %d, %d; want 2, 3 (a new handle every time)", e.h[1], e.out)
		}
		o := opsObj(e.f, e.h[0])
		if opsObj(e.f, e.h[1]) != o || opsObj(e.f, e.out) != o {
			e.t.Errorf("imported handles do not share the exported syncobj")
		}
	}},

	// IMPORT_SYNC_FILE (drm_syncobj_import_sync_file_fence): fd first.
	{name: "FDToHandle(IMPORT, fd not open)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: e.h[0], Fd: opsNoFD, Flags: opsImport})
	}, want: errno.EINVAL, post: opsNilFence(0)},
	{name: "FDToHandle(IMPORT, fd not open, unknown handle)", call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: 99, Fd: opsNoFD, Flags: opsImport})
	}, want: errno.EINVAL},
	{name: "FDToHandle(IMPORT, syncobj fd, unknown handle)", setup: func(e *opsEnv) {
		opsMk(opsSignaled)(e)
		e.fd, _ = e.f.handleToFD(e.h[0], 0)
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: 99, Fd: e.fd, Flags: opsImport})
	}, want: errno.EINVAL},
	{name: "FDToHandle(IMPORT, /dev/null)", setup: func(e *opsEnv) {
		opsMk(0)(e)
		e.fd = e.f.fds.open(nullFile{})
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: e.h[0], Fd: e.fd, Flags: opsImport})
	}, want: errno.EINVAL, post: opsNilFence(0)},
	{name: "FDToHandle(IMPORT, unknown handle)", setup: func(e *opsEnv) {
		e.fd = opsSyncFile(e.f, e.f.d.NewStub(e.f.now()))
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: 99, Fd: e.fd, Flags: opsImport})
	}, want: errno.ENOENT},
	{name: "FDToHandle(IMPORT, handle 0)", setup: func(e *opsEnv) {
		e.fd = opsSyncFile(e.f, e.f.d.NewStub(e.f.now()))
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: 0, Fd: e.fd, Flags: opsImport})
	}, want: errno.ENOENT},
	{name: "FDToHandle(IMPORT, over a timeline)", setup: func(e *opsEnv) {
		opsMkTimeline(3)(e)
		e.fence = e.f.d.NewFence(e.f.d.AllocContexts(1), 1, "test", "t")
		e.fd = opsSyncFile(e.f, e.fence)
	}, call: func(e *opsEnv) errno.Errno {
		return e.fd2h(DrmSyncobjHandle{Handle: e.h[0], Fd: e.fd, Flags: opsImport})
	}, post: func(e *opsEnv) {
		opsSameFence(0)(e)
		opsQueryIs(0, 0)(e)
		e.fence.Signal()
	}},
}

var opsWaitCases = []opsCase{
	{name: "Wait(flags=WAIT_AVAILABLE)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: 1, Flags: opsAvail})
	}, want: errno.EINVAL, post: opsFirst(opsUnwritten)},
	{name: "Wait(flags=0x10)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: 1, Flags: 0x10})
	}, want: errno.EINVAL, post: opsFirst(opsUnwritten)},
	{name: "Wait(flags=WAIT_AVAILABLE, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Flags: opsAvail})
	}, want: errno.EINVAL},
	{name: "Wait(count=0, handles=bad)", call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: opsBad})
	}, post: opsFirst(opsUnwritten)},
	{name: "Wait(handles=bad)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: opsBad, CountHandles: 1})
	}, want: errno.EFAULT, post: opsFirst(opsUnwritten)},
	{name: "Wait(unknown handle)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0], 99), CountHandles: 2})
	}, want: errno.ENOENT, post: opsFirst(opsUnwritten)},
	{name: "Wait(count=0x7fffffff)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: opsHuge})
	}, want: errno.ENOMEM, post: opsFirst(opsUnwritten)},
	{name: "Wait(count=0x7fffffff, handles=bad)", call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: opsBad, CountHandles: opsHuge})
	}, want: errno.ENOMEM},
	// 65537 wait entries of 64 bytes exceed kmalloc's 4 MiB; the handles are
	// looked up first.
	{name: "Wait(count=65537)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(opsRepeat(e.h[0], 65537)...), CountHandles: 65537})
	}, want: errno.ENOMEM, post: opsFirst(opsUnwritten)},
	{name: "Wait(count=65537, last handle unknown)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		hs := opsRepeat(e.h[0], 65537)
		hs[65536] = 99
		return e.wait(DrmSyncobjWait{Handles: e.u32s(hs...), CountHandles: 65537})
	}, want: errno.ENOENT},
	{name: "Wait(count=65536)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(opsRepeat(e.h[0], 65536)...), CountHandles: 65536, Flags: opsAll})
	}, post: opsFirst(0)},
	{name: "Wait(unsubmitted beside signalled)", setup: opsMk(opsSignaled, 0), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0], e.h[1]), CountHandles: 2})
	}, want: errno.EINVAL, post: opsFirst(opsUnwritten)},
	{name: "Wait(pad=~0)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: 1, Pad: ^uint32(0)})
	}, post: opsFirst(0)},
	{name: "Wait(WAIT_DEADLINE)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: 1, Flags: opsDeadline, DeadlineNsec: 1})
	}, post: opsFirst(0)},
	{name: "Wait(pending, poll)", setup: opsMkPending, call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: 1})
	}, want: errno.ETIME, post: opsFirst(opsUnwritten)},
	{name: "Wait(WAIT_FOR_SUBMIT, empty, poll)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.wait(DrmSyncobjWait{Handles: e.u32s(e.h[0]), CountHandles: 1, Flags: opsFS})
	}, want: errno.ETIME, post: func(e *opsEnv) {
		opsFirst(opsUnwritten)(e)
		if w := e.f.d.Live().Waiters; w != 0 {
			e.t.Errorf("Live().Waiters = %d after the poll; want 0", w)
		}
	}},
}

var opsTimelineWaitCases = []opsCase{
	{name: "TimelineWait(flags=0x10)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), CountHandles: 1, Flags: 0x10})
	}, want: errno.EINVAL, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(flags=0x10, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Flags: 0x10})
	}, want: errno.EINVAL},
	{name: "TimelineWait(count=0, handles=bad, points=bad)", call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: opsBad, Points: opsBad})
	}, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(handles=bad)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: opsBad, CountHandles: 1})
	}, want: errno.EFAULT, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(points=bad)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), Points: opsBad, CountHandles: 1})
	}, want: errno.EFAULT, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(unknown handle, points=bad)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0], 99), Points: opsBad, CountHandles: 2})
	}, want: errno.ENOENT, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(count=0x7fffffff)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), CountHandles: opsHuge})
	}, want: errno.ENOMEM, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(count=65537)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(opsRepeat(e.h[0], 65537)...), CountHandles: 65537})
	}, want: errno.ENOMEM, post: opsFirst(opsUnwritten)},
	// The points are copied before the wait entries are allocated.
	{name: "TimelineWait(count=65537, points=bad)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(opsRepeat(e.h[0], 65537)...), Points: opsBad, CountHandles: 65537})
	}, want: errno.EFAULT},
	{name: "TimelineWait(unsubmitted point)", setup: opsMkTimeline(2), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), Points: e.u64s(3), CountHandles: 1})
	}, want: errno.EINVAL, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(unsubmitted point beside signalled)", setup: opsMkTimeline(2), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0], e.h[0]), Points: e.u64s(1, 3), CountHandles: 2})
	}, want: errno.EINVAL, post: opsFirst(opsUnwritten)},
	{name: "TimelineWait(pad=~0)", setup: opsMkTimeline(2), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), Points: e.u64s(2), CountHandles: 1, Pad: ^uint32(0)})
	}, post: opsFirst(0)},
	{name: "TimelineWait(points=0 means point 0)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), CountHandles: 1})
	}, post: opsFirst(0)},
	{name: "TimelineWait(WAIT_AVAILABLE, submitted, pending)", setup: func(e *opsEnv) {
		h := e.f.mustCreate(0)
		e.tl = append(e.tl, e.f.attach(h, 1))
		e.h = append(e.h, h)
	}, call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), Points: e.u64s(1), CountHandles: 1, Flags: opsAvail})
	}, post: opsFirst(0)},
	{name: "TimelineWait(WAIT_AVAILABLE, unsubmitted, poll)", setup: opsMkTimeline(1), call: func(e *opsEnv) errno.Errno {
		return e.twait(DrmSyncobjTimelineWait{Handles: e.u32s(e.h[0]), Points: e.u64s(2), CountHandles: 1, Flags: opsAvail})
	}, want: errno.ETIME, post: opsFirst(opsUnwritten)},
}

var opsResetCases = []opsCase{
	{name: "Reset(pad=1, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Reset(e.f.mem, &DrmSyncobjArray{Pad: 1})
	}, want: errno.EINVAL},
	{name: "Reset(count=0, handles=bad)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Reset(e.f.mem, &DrmSyncobjArray{Handles: opsBad})
	}, want: errno.EINVAL},
	{name: "Reset(handles=bad)", setup: opsThen(opsMk(opsSignaled), opsRemember(0)), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Reset(e.f.mem, &DrmSyncobjArray{Handles: opsBad, CountHandles: 1})
	}, want: errno.EFAULT, post: opsSameFence(0)},
	{name: "Reset(second handle unknown)", setup: opsThen(opsMk(opsSignaled), opsRemember(0)), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Reset(e.f.mem, &DrmSyncobjArray{Handles: e.u32s(e.h[0], 99), CountHandles: 2})
	}, want: errno.ENOENT, post: opsSameFence(0)},
	{name: "Reset(count=0x7fffffff)", setup: opsThen(opsMk(opsSignaled), opsRemember(0)), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Reset(e.f.mem, &DrmSyncobjArray{Handles: e.u32s(e.h[0]), CountHandles: opsHuge})
	}, want: errno.ENOMEM, post: opsSameFence(0)},
	{name: "Reset(count=0x7fffffff, pad=1)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Reset(e.f.mem, &DrmSyncobjArray{Handles: opsBad, CountHandles: opsHuge, Pad: 1})
	}, want: errno.EINVAL},
	{name: "Reset(timeline)", setup: opsMkTimeline(3), call: func(e *opsEnv) errno.Errno {
		return e.f.reset(e.h[0])
	}, post: func(e *opsEnv) {
		opsNilFence(0)(e)
		opsQueryIs(0, 0)(e)
	}},
}

var opsSignalCases = []opsCase{
	{name: "Signal(pad=1, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Signal(e.f.mem, &DrmSyncobjArray{Pad: 1})
	}, want: errno.EINVAL},
	{name: "Signal(handles=bad)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Signal(e.f.mem, &DrmSyncobjArray{Handles: opsBad, CountHandles: 1})
	}, want: errno.EFAULT, post: opsNilFence(0)},
	{name: "Signal(second handle unknown)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Signal(e.f.mem, &DrmSyncobjArray{Handles: e.u32s(e.h[0], 99), CountHandles: 2})
	}, want: errno.ENOENT, post: opsNilFence(0)},
	{name: "Signal(count=0x7fffffff)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Signal(e.f.mem, &DrmSyncobjArray{Handles: e.u32s(e.h[0]), CountHandles: opsHuge})
	}, want: errno.ENOMEM, post: opsNilFence(0)},
	{name: "Signal(count=0x7fffffff, handles=bad)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Signal(e.f.mem, &DrmSyncobjArray{Handles: opsBad, CountHandles: opsHuge})
	}, want: errno.ENOMEM},
	{name: "Signal(same handle twice)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.signal(e.h[0], e.h[0])
	}, post: func(e *opsEnv) {
		if fn := opsFence(e.f, e.h[0]); fn == nil || !fn.IsSignaled() {
			e.t.Errorf("no signalled fence after Signal")
		}
	}},
}

var opsTimelineSignalCases = []opsCase{
	{name: "TimelineSignal(flags=1)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), Points: e.u64s(1), CountHandles: 1, Flags: 1})
	}, want: errno.EINVAL, post: opsNilFence(0)},
	{name: "TimelineSignal(count=0)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: opsBad, Points: opsBad})
	}, want: errno.EINVAL},
	{name: "TimelineSignal(flags=1, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Flags: 1})
	}, want: errno.EINVAL},
	{name: "TimelineSignal(handles=bad)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: opsBad, Points: e.u64s(1), CountHandles: 1})
	}, want: errno.EFAULT, post: opsNilFence(0)},
	{name: "TimelineSignal(points=bad)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), Points: opsBad, CountHandles: 1})
	}, want: errno.EFAULT, post: opsNilFence(0)},
	{name: "TimelineSignal(second handle unknown, points=bad)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0], 99), Points: opsBad, CountHandles: 2})
	}, want: errno.ENOENT, post: opsNilFence(0)},
	{name: "TimelineSignal(second handle unknown)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0], 99), Points: e.u64s(1, 1), CountHandles: 2})
	}, want: errno.ENOENT, post: opsNilFence(0)},
	{name: "TimelineSignal(count=0x7fffffff)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), Points: e.u64s(1), CountHandles: opsHuge})
	}, want: errno.ENOMEM, post: opsNilFence(0)},
	{name: "TimelineSignal(points=0 means point 0)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.TimelineSignal(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), CountHandles: 1})
	}, post: func(e *opsEnv) {
		fn := opsFence(e.f, e.h[0])
		if fn == nil || !fn.IsChain() || fn.Seqno() != 0 {
			e.t.Fatalf("point 0 via TIMELINE_SIGNAL did not add a chain node with seqno 0")
		}
		if fn.Contained() != e.f.d.Stub() {
			e.t.Errorf("TIMELINE_SIGNAL node does not wrap the global stub")
		}
	}},
}

// opsMemEnd is one past the last byte of f's memory.
func opsMemEnd(f *drmFile) uint64 { return f.mem.End() }

var opsQueryCases = []opsCase{
	{name: "Query(flags=2)", setup: opsMkTimeline(1), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), Points: e.f.mem.alloc(8), CountHandles: 1, Flags: 2})
	}, want: errno.EINVAL},
	{name: "Query(flags=2, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Flags: 2})
	}, want: errno.EINVAL},
	{name: "Query(LAST_SUBMITTED, count=0)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Flags: opsLast, Handles: opsBad, Points: opsBad})
	}, want: errno.EINVAL},
	{name: "Query(handles=bad)", setup: opsMkTimeline(1), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: opsBad, Points: e.f.mem.alloc(8), CountHandles: 1})
	}, want: errno.EFAULT},
	{name: "Query(points=bad)", setup: opsMkTimeline(1), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), Points: opsBad, CountHandles: 1})
	}, want: errno.EFAULT},
	// points[0] fits in memory, points[1] does not: the first payload is
	// written before the fault stops the loop.
	{name: "Query(points[1] faults)", setup: opsThen(opsMkTimeline(5), opsMkTimeline(2)), call: func(e *opsEnv) errno.Errno {
		e.addr = opsMemEnd(e.f) - 8
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0], e.h[1]), Points: e.addr, CountHandles: 2})
	}, want: errno.EFAULT, post: func(e *opsEnv) {
		if got := e.f.mem.readU64s(e.addr, 1)[0]; got != 5 {
			e.t.Errorf("points[0] = %d after the fault on points[1]; want 5 (written first)", got)
		}
	}},
	{name: "Query(second handle unknown)", setup: opsMkTimeline(5), call: func(e *opsEnv) errno.Errno {
		e.addr = e.u64s(0xaaaa, 0xbbbb)
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0], 99), Points: e.addr, CountHandles: 2})
	}, want: errno.ENOENT, post: func(e *opsEnv) {
		if got := e.f.mem.readU64s(e.addr, 2); got[0] != 0xaaaa || got[1] != 0xbbbb {
			e.t.Errorf("points = %#x after ENOENT; want untouched [0xaaaa 0xbbbb]", got)
		}
	}},
	{name: "Query(count=0x7fffffff)", setup: opsMkTimeline(1), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h[0]), Points: e.f.mem.alloc(8), CountHandles: opsHuge})
	}, want: errno.ENOMEM},
	{name: "Query(no fence, plain fence, timeline)", setup: opsThen(opsMk(0, opsSignaled), opsMkTimeline(4)), call: func(e *opsEnv) errno.Errno {
		e.addr = e.u64s(9, 9, 9)
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h...), Points: e.addr, CountHandles: 3})
	}, post: func(e *opsEnv) {
		if got := e.f.mem.readU64s(e.addr, 3); !reflect.DeepEqual(got, []uint64{0, 0, 4}) {
			e.t.Errorf("payloads = %v; want [0 0 4] (non-chain fences read 0)", got)
		}
	}},
	{name: "Query(LAST_SUBMITTED: no fence, plain fence, pending timeline)", setup: func(e *opsEnv) {
		opsMk(0, opsSignaled)(e)
		h := e.f.mustCreate(0)
		e.tl = append(e.tl, e.f.attach(h, 6))
		e.h = append(e.h, h)
	}, call: func(e *opsEnv) errno.Errno {
		e.addr = e.u64s(9, 9, 9)
		return e.f.tab.Query(e.f.mem, &DrmSyncobjTimelineArray{Handles: e.u32s(e.h...), Points: e.addr, CountHandles: 3, Flags: opsLast})
	}, post: func(e *opsEnv) {
		if got := e.f.mem.readU64s(e.addr, 3); !reflect.DeepEqual(got, []uint64{0, 0, 6}) {
			e.t.Errorf("LAST_SUBMITTED payloads = %v; want [0 0 6]", got)
		}
		opsQueryIs(2, 0)(e)
	}},
}

var opsTransferCases = []opsCase{
	{name: "Transfer(pad=1)", setup: opsMk(opsSignaled, 0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: e.h[1], Pad: 1})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(pad=1, unknown dst)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: 99, Pad: 1})
	}, want: errno.EINVAL},
	{name: "Transfer(unknown dst)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: 99})
	}, want: errno.ENOENT},
	{name: "Transfer(unknown dst, dst_point=1)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: 99, DstPoint: 1})
	}, want: errno.ENOENT},
	{name: "Transfer(dst handle 0)", setup: opsMk(opsSignaled), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: 0})
	}, want: errno.ENOENT},
	{name: "Transfer(unknown dst, empty src, flags=WAIT_ALL)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: 99, Flags: opsAll})
	}, want: errno.ENOENT},
	{name: "Transfer(unknown src)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: 99, DstHandle: e.h[0]})
	}, want: errno.ENOENT, post: opsNilFence(0)},
	{name: "Transfer(unknown src, dst_point=1)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: 99, DstHandle: e.h[0], DstPoint: 1})
	}, want: errno.ENOENT, post: opsNilFence(0)},
	{name: "Transfer(unknown src, flags=WAIT_ALL)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: 99, DstHandle: e.h[0], Flags: opsAll})
	}, want: errno.ENOENT, post: opsNilFence(0)},
	{name: "Transfer(flags=WAIT_ALL)", setup: opsMk(opsSignaled, 0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: e.h[1], Flags: opsAll})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(flags=WAIT_AVAILABLE)", setup: opsMk(opsSignaled, 0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: e.h[1], Flags: opsAvail, DstPoint: 1})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(empty src)", setup: opsMk(0, 0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: e.h[1]})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(empty src, dst_point=1)", setup: opsMk(0, 0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: e.h[1], DstPoint: 1})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(plain src, src_point=1)", setup: opsMk(opsSignaled, 0), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], SrcPoint: 1, DstHandle: e.h[1]})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(src_point past the head)", setup: opsThen(opsMkTimeline(2), opsMk(0)), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], SrcPoint: 3, DstHandle: e.h[1], DstPoint: 1})
	}, want: errno.EINVAL, post: opsNilFence(1)},
	{name: "Transfer(same binary syncobj)", setup: opsThen(opsMkPending, opsRemember(0)), call: func(e *opsEnv) errno.Errno {
		return e.xfer(DrmSyncobjTransfer{SrcHandle: e.h[0], DstHandle: e.h[0]})
	}, post: opsSameFence(0)},
}

var opsEventfdCases = []opsCase{
	{name: "Eventfd(flags=WAIT_ALL)", setup: opsThen(opsMk(0), opsOpenEventfd), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, opsAll)
	}, want: errno.EINVAL},
	{name: "Eventfd(flags=WAIT_FOR_SUBMIT)", setup: opsThen(opsMk(0), opsOpenEventfd), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, opsFS)
	}, want: errno.EINVAL},
	{name: "Eventfd(flags=WAIT_AVAILABLE|WAIT_DEADLINE)", setup: opsThen(opsMk(0), opsOpenEventfd), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, opsAvail|opsDeadline)
	}, want: errno.EINVAL},
	{name: "Eventfd(pad=1)", setup: opsThen(opsMk(0), opsOpenEventfd), call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Eventfd(e.f.fds, &DrmSyncobjEventfd{Handle: e.h[0], Fd: e.fd, Pad: 1}, 0)
	}, want: errno.EINVAL},
	{name: "Eventfd(flags=WAIT_ALL, unknown handle, fd not open)", call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(99, 0, opsNoFD, opsAll)
	}, want: errno.EINVAL},
	{name: "Eventfd(pad=1, unknown handle, fd not open)", call: func(e *opsEnv) errno.Errno {
		return e.f.tab.Eventfd(e.f.fds, &DrmSyncobjEventfd{Handle: 99, Fd: opsNoFD, Pad: 1}, 0)
	}, want: errno.EINVAL},
	{name: "Eventfd(unknown handle)", setup: opsOpenEventfd, call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(99, 0, e.fd, 0)
	}, want: errno.ENOENT},
	{name: "Eventfd(unknown handle, fd not open)", call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(99, 0, opsNoFD, 0)
	}, want: errno.ENOENT},
	{name: "Eventfd(unknown handle, /dev/null)", setup: func(e *opsEnv) { e.fd = e.f.fds.open(nullFile{}) }, call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(99, 0, e.fd, 0)
	}, want: errno.ENOENT},
	{name: "Eventfd(fd not open)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, opsNoFD, 0)
	}, want: errno.EBADF},
	{name: "Eventfd(fd=-1)", setup: opsMk(0), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, -1, 0)
	}, want: errno.EBADF},
	{name: "Eventfd(/dev/null)", setup: func(e *opsEnv) {
		opsMk(0)(e)
		e.fd = e.f.fds.open(nullFile{})
	}, call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, 0)
	}, want: errno.EINVAL},
	{name: "Eventfd(syncobj fd)", setup: func(e *opsEnv) {
		opsMk(0)(e)
		e.fd, _ = e.f.handleToFD(e.h[0], 0)
	}, call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, 0)
	}, want: errno.EINVAL},
	{name: "Eventfd(sync_file fd)", setup: func(e *opsEnv) {
		opsMk(0)(e)
		e.fd = opsSyncFile(e.f, e.f.d.NewStub(e.f.now()))
	}, call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, 0)
	}, want: errno.EINVAL},
	{name: "Eventfd(empty syncobj: pending)", setup: opsThen(opsMk(0), opsOpenEventfd), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, 0)
	}, post: func(e *opsEnv) {
		if n := e.ev.count.Load(); n != 0 {
			e.t.Errorf("eventfd count = %d; want 0", n)
		}
		if r := e.f.d.Live().EventfdReg; r != 1 {
			e.t.Errorf("Live().EventfdReg = %d; want 1", r)
		}
	}},
	{name: "Eventfd(signalled: fires at once)", setup: opsThen(opsMk(opsSignaled), opsOpenEventfd), call: func(e *opsEnv) errno.Errno {
		return e.f.eventfd(e.h[0], 0, e.fd, 0)
	}, post: func(e *opsEnv) {
		if n := e.ev.count.Load(); n != 1 {
			e.t.Errorf("eventfd count = %d; want 1", n)
		}
	}},
}

// TestOpsArrayBoundary checks the kmalloc limits of the array ioctls at
// their edges. drm_syncobj_array_find copies count u32 handles into one
// allocation (EFAULT on a fault) and only then allocates count pointers
// (ENOMEM above KMALLOC_MAX_SIZE, 4 MiB). So a count whose handles fit in
// 4 MiB but whose pointer array does not (524288 < count ≤ 1048576) faults
// on a bad pointer with EFAULT; only past 1048576 does ENOMEM come first.
func TestOpsArrayBoundary(t *testing.T) {
	for _, c := range []struct {
		count uint32
		want  errno.Errno
	}{
		{524288, errno.EFAULT},  // 2 MiB handles, 4 MiB pointers: both fit
		{524289, errno.EFAULT},  // handles fit and are copied; the pointers would not fit
		{1048576, errno.EFAULT}, // 4 MiB handles still fit
		{1048577, errno.ENOMEM}, // the handles themselves are too big
		{opsHuge, errno.ENOMEM},
	} {
		f := newDRMFile(t)
		check(t, fmt.Sprintf("Reset(handles=bad, count=%d)", c.count),
			f.tab.Reset(f.mem, &DrmSyncobjArray{Handles: opsBad, CountHandles: c.count}), c.want)
		check(t, fmt.Sprintf("Query(handles=bad, count=%d)", c.count),
			f.tab.Query(f.mem, &DrmSyncobjTimelineArray{Handles: opsBad, Points: opsBad, CountHandles: c.count}), c.want)
		f.teardown()
	}
}

// TestOpsHandleReuse: each new handle is the lowest free id ≥ 1 (§3.1).
func TestOpsHandleReuse(t *testing.T) {
	f := newDRMFile(t)
	for want := uint32(1); want <= 3; want++ {
		if h := f.mustCreate(0); h != want {
			t.Fatalf("Create = %d; want %d", h, want)
		}
	}
	check(t, "Destroy(2)", f.destroy(2), 0)
	if h := f.mustCreate(0); h != 2 {
		t.Errorf("Create after Destroy(2) = %d; want 2", h)
	}
	check(t, "Destroy(3)", f.destroy(3), 0)
	check(t, "Destroy(1)", f.destroy(1), 0)
	for _, want := range []uint32{1, 3, 4} {
		if h := f.mustCreate(0); h != want {
			t.Errorf("Create = %d; want %d", h, want)
		}
	}
	// FD_TO_HANDLE takes the lowest free id too.
	check(t, "Destroy(2)", f.destroy(2), 0)
	fd, e := f.handleToFD(4, 0)
	check(t, "HandleToFD(4)", e, 0)
	if h, e := f.fdToHandle(fd, 0, 0); e != 0 || h != 2 {
		t.Errorf("FDToHandle = %d, %v; want 2, 0", h, e)
	}
	// A destroyed handle is gone for every ioctl.
	check(t, "Destroy(1)", f.destroy(1), 0)
	check(t, "Destroy(1) again", f.destroy(1), errno.EINVAL)
	check(t, "Signal(1)", f.signal(1), errno.ENOENT)
	f.teardown()
}

// TestOpsStubs: CREATE(SIGNALED) and SIGNAL install new private stubs
// stamped now; TIMELINE_SIGNAL wraps the global stub (§3.3).
func TestOpsStubs(t *testing.T) {
	f := newDRMFile(t)
	f.clock.Advance(7 * ms)
	now := f.now()
	h := f.mustCreate(opsSignaled)
	s1 := opsFence(f, h)
	opsCheckPrivateStub(t, f, "CREATE(SIGNALED)", s1, now)

	f.clock.Advance(3 * ms)
	check(t, "Signal", f.signal(h), 0)
	s2 := opsFence(f, h)
	opsCheckPrivateStub(t, f, "SIGNAL", s2, f.now())
	if s2 == s1 {
		t.Errorf("SIGNAL reused the previous stub; want a new one")
	}

	h2 := f.mustCreate(0)
	opsTS(f, h2, 1)
	if c := opsFence(f, h2).Contained(); c != f.d.Stub() {
		t.Errorf("TIMELINE_SIGNAL node contains %p; want the global stub %p", c, f.d.Stub())
	}
	f.teardown()
}

func opsCheckPrivateStub(t *testing.T, f *drmFile, what string, s *Fence, now int64) {
	t.Helper()
	if s == nil {
		t.Fatalf("%s: no fence", what)
	}
	if s == f.d.Stub() {
		t.Errorf("%s installed the global stub; want a private one", what)
	}
	if s.IsChain() || s.Context() != 0 || s.Seqno() != 0 || !s.IsSignaled() {
		t.Errorf("%s: fence chain=%v context=%d seqno=%d signalled=%v; want a signalled plain stub (0, 0)",
			what, s.IsChain(), s.Context(), s.Seqno(), s.IsSignaled())
	}
	if ts, ok := s.Timestamp(); !ok || ts != now {
		t.Errorf("%s: timestamp %d; want %d (now)", what, ts, now)
	}
}

// TestOpsTransferDirections: TRANSFER between binary and timeline syncobjs
// in all four directions and onto itself (§3.3 TRANSFER).
func TestOpsTransferDirections(t *testing.T) {
	f := newDRMFile(t)
	// B: binary, pending sw_sync fence P. T: timeline, point 1 pending (Q),
	// point 2 a signalled TIMELINE_SIGNAL.
	b := f.mustCreate(0)
	tlP := f.attach(b, 0)
	p := opsFence(f, b)
	tt := f.mustCreate(0)
	tlQ := f.attach(tt, 1)
	node1 := opsFence(f, tt)
	q := node1.Contained()
	opsTS(f, tt, 2)
	node2 := opsFence(f, tt)

	t.Run("binary to binary", func(t *testing.T) {
		d := f.mustCreate(0)
		check(t, "Transfer(B:0 -> D:0)", f.transfer(d, 0, b, 0, 0), 0)
		if opsFence(f, d) != p {
			t.Errorf("dst fence is not the source fence itself")
		}
	})
	t.Run("binary to timeline", func(t *testing.T) {
		d := f.mustCreate(0)
		check(t, "Transfer(B:0 -> D:4)", f.transfer(d, 4, b, 0, 0), 0)
		n := opsFence(f, d)
		if !n.IsChain() || n.Seqno() != 4 || n.Contained() != p {
			t.Errorf("dst head: chain=%v seqno=%d contains P=%v; want a node 4 containing P", n.IsChain(), n.Seqno(), n.Contained() == p)
		}
		if got := f.query1(d); got != 0 {
			t.Errorf("Query(D) = %d while P pends; want 0", got)
		}
	})
	t.Run("signalled binary to timeline", func(t *testing.T) {
		start := f.now()
		s := f.mustCreate(opsSignaled)
		f.clock.Advance(5 * ms)
		d := f.mustCreate(0)
		check(t, "Transfer(S:0 -> D:1)", f.transfer(d, 1, s, 0, 0), 0)
		c := opsFence(f, d).Contained()
		if c == f.d.Stub() || c == opsFence(f, s) || !c.IsSignaled() || c.Context() != 0 {
			t.Errorf("flattened signalled source: want a new signalled private stub")
		}
		if ts, _ := c.Timestamp(); ts != start {
			t.Errorf("merged stub timestamp = %d; want %d (the source's)", ts, start)
		}
		if got := f.query1(d); got != 1 {
			t.Errorf("Query(D) = %d; want 1", got)
		}
	})
	t.Run("timeline to binary", func(t *testing.T) {
		d := f.mustCreate(0)
		check(t, "Transfer(T:1 -> D:0)", f.transfer(d, 0, tt, 1, 0), 0)
		if opsFence(f, d) != node1 {
			t.Errorf("dst fence is not T's chain node for point 1")
		}
		check(t, "Transfer(T:2 -> D:0)", f.transfer(d, 0, tt, 2, 0), 0)
		if opsFence(f, d) != node2 {
			t.Errorf("dst fence is not T's head node (point 2)")
		}
		if v, _ := f.query(opsLast, d); v[0] != 2 {
			t.Errorf("Query(D, LAST_SUBMITTED) = %d; want 2 (it holds node 2 itself)", v[0])
		}
	})
	t.Run("timeline to timeline", func(t *testing.T) {
		d := f.mustCreate(0)
		check(t, "Transfer(T:2 -> D:7)", f.transfer(d, 7, tt, 2, 0), 0)
		n := opsFence(f, d)
		// Unwrapping node 2 yields the global stub (signalled, dropped)
		// and Q from node 1: the flattened fence is Q.
		if !n.IsChain() || n.Seqno() != 7 || n.Contained() != q {
			t.Errorf("dst head: seqno=%d contains Q=%v; want node 7 containing Q (flattened)", n.Seqno(), n.Contained() == q)
		}
	})
	t.Run("timeline onto itself", func(t *testing.T) {
		check(t, "Transfer(T:1 -> T:3)", f.transfer(tt, 3, tt, 1, 0), 0)
		n := opsFence(f, tt)
		if n.Seqno() != 3 || n.Context() != node2.Context() || n.PrevSeqno() != 2 || n.Contained() != q {
			t.Errorf("T head: seqno=%d same-context=%v prev_seqno=%d contains Q=%v; want ordered node 3 over 2 containing Q",
				n.Seqno(), n.Context() == node2.Context(), n.PrevSeqno(), n.Contained() == q)
		}
		check(t, "Transfer(T:1 -> T:0)", f.transfer(tt, 0, tt, 1, 0), 0)
		if opsFence(f, tt) != node1 {
			t.Errorf("T's fence is not node 1 after transferring point 1 to point 0")
		}
	})
	f.swInc(tlP, 1)
	f.swInc(tlQ, 1)
	f.teardown()
}

// TestOpsTransferWaitForSubmit: TRANSFER's source lookup with
// WAIT_FOR_SUBMIT sleeps up to 5 s for the point to appear (§3.3, §3.4).
func TestOpsTransferWaitForSubmit(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		f := newDRMFile(t)
		src, dst := f.mustCreate(0), f.mustCreate(0)
		start := f.now()
		ch := background(func() errno.Errno { return f.transfer(dst, 0, src, 0, opsFS) })
		f.waitArmed(1)
		if d, ok := f.clock.NextDeadline(); !ok || d != start+WaitForSubmitTimeout {
			t.Errorf("timer due at %d; want %d (now + 5 s)", d, start+WaitForSubmitTimeout)
		}
		f.clock.Advance(WaitForSubmitTimeout - 1)
		select {
		case e := <-ch:
			t.Fatalf("Transfer(WAIT_FOR_SUBMIT) returned %v before 5 s", e)
		default:
		}
		f.clock.Advance(1)
		check(t, "Transfer(WAIT_FOR_SUBMIT, empty src) after 5 s", opsRecv(t, ch, "Transfer"), errno.ETIME)
		if opsFence(f, dst) != nil {
			t.Errorf("dst got a fence from a timed-out transfer")
		}
		if w := f.d.Live().Waiters; w != 0 {
			t.Errorf("Live().Waiters = %d; want 0", w)
		}
		f.teardown()
	})
	t.Run("point added before the deadline", func(t *testing.T) {
		f := newDRMFile(t)
		src, dst := f.mustCreate(0), f.mustCreate(0)
		ch := background(func() errno.Errno { return f.transfer(dst, 0, src, 2, opsFS) })
		f.waitArmed(1)
		f.clock.Advance(4 * 1_000 * ms)
		opsTS(f, src, 1) // not yet point 2
		f.clock.Advance(900 * ms)
		select {
		case e := <-ch:
			t.Fatalf("Transfer(src point 2) returned %v after only point 1 was added", e)
		default:
		}
		opsTS(f, src, 2)
		check(t, "Transfer(WAIT_FOR_SUBMIT, point 2 added at 4.9 s)", opsRecv(t, ch, "Transfer"), 0)
		if opsFence(f, dst) != opsFence(f, src) {
			t.Errorf("dst fence is not src's node for point 2")
		}
		if n := f.clock.Pending(); n != 0 {
			t.Errorf("%d timers left; want 0", n)
		}
		f.teardown()
	})
	t.Run("fence imported into binary src, dst point", func(t *testing.T) {
		f := newDRMFile(t)
		src, dst := f.mustCreate(0), f.mustCreate(0)
		ch := background(func() errno.Errno { return f.transfer(dst, 4, src, 0, opsFS) })
		f.waitArmed(1)
		tl := f.attach(src, 0)
		check(t, "Transfer(WAIT_FOR_SUBMIT, fence imported)", opsRecv(t, ch, "Transfer"), 0)
		n := opsFence(f, dst)
		if n == nil || n.Seqno() != 4 || n.Contained() != opsFence(f, src) {
			t.Errorf("dst is not node 4 containing src's imported fence")
		}
		f.swInc(tl, 1)
		f.teardown()
	})
	t.Run("reset and a plain fence do not satisfy a point", func(t *testing.T) {
		f := newDRMFile(t)
		src, dst := f.mustCreate(0), f.mustCreate(0)
		opsTS(f, src, 1)
		ch := background(func() errno.Errno { return f.transfer(dst, 0, src, 3, opsFS) })
		f.waitArmed(1)
		check(t, "Reset(src)", f.reset(src), 0)
		check(t, "Signal(src)", f.signal(src), 0)
		select {
		case e := <-ch:
			t.Fatalf("Transfer(src point 3) returned %v after reset/signal", e)
		default:
		}
		f.clock.Advance(WaitForSubmitTimeout)
		check(t, "Transfer(WAIT_FOR_SUBMIT, point 3 never added)", opsRecv(t, ch, "Transfer"), errno.ETIME)
		f.teardown()
	})
	t.Run("interrupted", func(t *testing.T) {
		f := newDRMFile(t)
		src, dst := f.mustCreate(0), f.mustCreate(0)
		ctx, cancel := context.WithCancel(context.Background())
		ch := background(func() errno.Errno {
			return f.tab.Transfer(ctx, &DrmSyncobjTransfer{SrcHandle: src, DstHandle: dst, Flags: opsFS})
		})
		f.waitArmed(1)
		cancel()
		check(t, "Transfer(WAIT_FOR_SUBMIT) interrupted", opsRecv(t, ch, "Transfer"), errno.ERESTARTSYS)
		if n := f.clock.Pending(); n != 0 {
			t.Errorf("%d timers left; want 0", n)
		}
		f.teardown()
	})
	t.Run("available at once", func(t *testing.T) {
		f := newDRMFile(t)
		src, dst := f.mustCreate(opsSignaled), f.mustCreate(0)
		ch := background(func() errno.Errno { return f.transfer(dst, 0, src, 0, opsFS) })
		check(t, "Transfer(WAIT_FOR_SUBMIT, signalled src)", opsRecv(t, ch, "Transfer"), 0)
		if opsFence(f, dst) != opsFence(f, src) {
			t.Errorf("dst fence is not src's")
		}
		f.teardown()
	})
	// Errors found before the wait never sleep.
	for _, c := range []struct {
		name      string
		src       uint32
		flags     uint32
		srcPoint  uint64
		want      errno.Errno
		signalled bool
	}{
		{"flags WAIT_FOR_SUBMIT|WAIT_ALL, empty src", 1, opsFS | opsAll, 0, errno.EINVAL, false},
		{"flags WAIT_FOR_SUBMIT|WAIT_AVAILABLE, empty src", 1, opsFS | opsAvail, 0, errno.EINVAL, false},
		{"unknown src", 99, opsFS, 0, errno.ENOENT, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newDRMFile(t)
			f.mustCreate(0)
			dst := f.mustCreate(0)
			ch := background(func() errno.Errno { return f.transfer(dst, 0, c.src, c.srcPoint, c.flags) })
			check(t, "Transfer("+c.name+")", opsRecv(t, ch, "Transfer"), c.want)
			f.teardown()
		})
	}
}

// TestOpsMixing is spec §3.8: point-0 operations on timelines and
// point > 0 operations on plain fences.
func TestOpsMixing(t *testing.T) {
	// Point-0 replacements discard the chain.
	for _, op := range []struct {
		name string
		do   func(f *drmFile, h uint32) errno.Errno
	}{
		{"SIGNAL", func(f *drmFile, h uint32) errno.Errno { return f.signal(h) }},
		{"RESET", func(f *drmFile, h uint32) errno.Errno { return f.reset(h) }},
		{"IMPORT_SYNC_FILE", func(f *drmFile, h uint32) errno.Errno {
			fd := opsSyncFile(f, f.d.NewStub(f.now()))
			_, e := f.fdToHandle(fd, opsImport, h)
			return e
		}},
		{"TRANSFER to point 0", func(f *drmFile, h uint32) errno.Errno {
			return f.transfer(h, 0, f.mustCreate(opsSignaled), 0, 0)
		}},
	} {
		t.Run(op.name+" replaces a chain", func(t *testing.T) {
			f := newDRMFile(t)
			h := f.mustCreate(0)
			opsTS(f, h, 1, 2)
			check(t, op.name, op.do(f, h), 0)
			if fn := opsFence(f, h); fn != nil && fn.IsChain() {
				t.Errorf("%s left a chain node", op.name)
			}
			if got := f.query1(h); got != 0 {
				t.Errorf("Query = %d after %s; want 0", got, op.name)
			}
			if v, _ := f.query(opsLast, h); v[0] != 0 {
				t.Errorf("Query(LAST_SUBMITTED) = %d after %s; want 0", v[0], op.name)
			}
			e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
			check(t, "TimelineWait(point 1) after "+op.name, e, errno.EINVAL)
			check(t, "Transfer(src point 1) after "+op.name, f.transfer(f.mustCreate(0), 0, h, 1, 0), errno.EINVAL)
			f.teardown()
		})
	}

	t.Run("point 0 takes the head", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		tl := f.attach(h, 1)
		opsTS(f, h, 2) // signalled itself, but node 1 below it pends
		head := opsFence(f, h)
		e, _ := f.wait([]uint32{h}, 0, 0)
		check(t, "Wait(timeline, poll) with point 1 pending", e, errno.ETIME)
		e, _ = f.timelineWait([]uint32{h}, []uint64{0}, 0, 0)
		check(t, "TimelineWait(point 0, poll)", e, errno.ETIME)
		e, _ = f.timelineWait([]uint32{h}, []uint64{2}, 0, 0)
		check(t, "TimelineWait(point 2, poll)", e, errno.ETIME)
		fd, e := f.handleToFD(h, opsExport)
		check(t, "HandleToFD(EXPORT)", e, 0)
		if sf := f.fds.file(fd).(*SyncFile); sf.Fence() != head {
			t.Errorf("exported sync_file does not hold the head node")
		}
		d := f.mustCreate(0)
		check(t, "Transfer(T:0 -> D:0)", f.transfer(d, 0, h, 0, 0), 0)
		if opsFence(f, d) != head {
			t.Errorf("transferred point 0 is not the head node")
		}
		f.swInc(tl, 1)
		e, first := f.wait([]uint32{h}, 0, 0)
		check(t, "Wait(timeline) after point 1 signalled", e, 0)
		if first != 0 {
			t.Errorf("first_signaled = %d; want 0", first)
		}
		f.teardown()
	})

	t.Run("point on a plain fence is unavailable until added", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(opsSignaled)
		e, _ := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
		check(t, "TimelineWait(plain, point 1)", e, errno.EINVAL)
		e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, opsFS)
		check(t, "TimelineWait(plain, point 1, WAIT_FOR_SUBMIT, poll)", e, errno.ETIME)
		check(t, "Transfer(plain src, point 1)", f.transfer(f.mustCreate(0), 0, h, 1, 0), errno.EINVAL)
		ev := newTestEventfd()
		evfd := f.fds.open(ev)
		check(t, "Eventfd(plain, point 1)", f.eventfd(h, 1, evfd, 0), 0)
		if n := ev.count.Load(); n != 0 {
			t.Errorf("eventfd fired on a plain fence for point 1")
		}
		opsTS(f, h, 1)
		if n := ev.count.Load(); n != 1 {
			t.Errorf("eventfd count = %d after point 1 was added; want 1", n)
		}
		e, _ = f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
		check(t, "TimelineWait(point 1) once added", e, 0)
		f.teardown()
	})

	t.Run("point over a plain fence", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		tl := f.attach(h, 0)
		plain := opsFence(f, h)
		opsTS(f, h, 3)
		n := opsFence(f, h)
		if !n.IsChain() || n.Seqno() != 3 {
			t.Fatalf("head after TIMELINE_SIGNAL 3: chain=%v seqno=%d", n.IsChain(), n.Seqno())
		}
		if n.Prev() != plain {
			t.Errorf("node's prev is not the plain fence")
		}
		if n.PrevSeqno() != 0 {
			t.Errorf("prev_seqno = %d; want 0", n.PrevSeqno())
		}
		if n.Context() == 0 || n.Context() == plain.Context() {
			t.Errorf("node context %d; want a new context (plain fence has %d)", n.Context(), plain.Context())
		}
		if n.IsSignaled() {
			t.Errorf("node signalled while the plain fence below it pends")
		}
		if got := f.query1(h); got != 0 {
			t.Errorf("Query = %d while the plain fence pends; want 0", got)
		}
		if v, _ := f.query(opsLast, h); v[0] != 3 {
			t.Errorf("Query(LAST_SUBMITTED) = %d; want 3", v[0])
		}
		for _, p := range []uint64{1, 3} {
			if r, ok := opsResolve(f, h, p); !ok || r != n {
				t.Errorf("Resolve(%d) = %p, %v; want the node", p, r, ok)
			}
			e, _ := f.timelineWait([]uint32{h}, []uint64{p}, 0, 0)
			check(t, fmt.Sprintf("TimelineWait(point %d, poll)", p), e, errno.ETIME)
		}
		if u := Unwrap(n); len(u) != 2 || u[0] != f.d.Stub() || u[1] != plain {
			t.Errorf("Unwrap(node) = %v; want [global stub, plain fence]", u)
		}
		d := f.mustCreate(0)
		check(t, "Transfer(H:3 -> D:1)", f.transfer(d, 1, h, 3, 0), 0)
		if opsFence(f, d).Contained() != plain {
			t.Errorf("flattening point 3 did not yield the plain fence")
		}
		f.swInc(tl, 1)
		if !n.IsSignaled() {
			t.Errorf("node not signalled once the plain fence signalled")
		}
		if got := f.query1(h); got != 3 {
			t.Errorf("Query = %d; want 3", got)
		}
		f.teardown()
	})
}

// TestOpsAddPoint is spec §3.5 add_point: ordered points share a context,
// unordered ones open a new context with prev_seqno 0 and the head's seqno
// never goes backwards.
func TestOpsAddPoint(t *testing.T) {
	t.Run("ordered", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		tl1 := f.attach(h, 1)
		n1 := opsFence(f, h)
		tl3 := f.attach(h, 3)
		n3 := opsFence(f, h)
		if n1.PrevSeqno() != 0 || n1.Context() == 0 {
			t.Errorf("first node: prev_seqno=%d context=%d; want 0 and a real context", n1.PrevSeqno(), n1.Context())
		}
		if n3.Context() != n1.Context() || n3.PrevSeqno() != 1 || n3.Seqno() != 3 || n3.Prev() != n1 {
			t.Errorf("node 3: same context=%v prev_seqno=%d seqno=%d prev is node 1=%v; want true, 1, 3, true",
				n3.Context() == n1.Context(), n3.PrevSeqno(), n3.Seqno(), n3.Prev() == n1)
		}
		for p, want := range map[uint64]*Fence{1: n1, 2: n3, 3: n3} {
			if r, ok := opsResolve(f, h, p); !ok || r != want {
				t.Errorf("Resolve(%d) is not the expected node", p)
			}
		}
		if got := f.query1(h); got != 0 {
			t.Errorf("Query = %d; want 0", got)
		}
		f.swInc(tl1, 1)
		if got := f.query1(h); got != 1 {
			t.Errorf("Query = %d after point 1; want 1", got)
		}
		f.swInc(tl3, 1)
		if got := f.query1(h); got != 3 {
			t.Errorf("Query = %d after point 3; want 3", got)
		}
		f.teardown()
	})
	t.Run("unordered", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		tl1 := f.attach(h, 1)
		tl5 := f.attach(h, 5)
		n5 := opsFence(f, h)
		tl3 := f.attach(h, 3)
		u := opsFence(f, h)
		if u.Context() == n5.Context() || u.PrevSeqno() != 0 || u.Seqno() != 5 || u.Prev() != n5 {
			t.Errorf("unordered node: new context=%v prev_seqno=%d seqno=%d; want true, 0, 5 (max)",
				u.Context() != n5.Context(), u.PrevSeqno(), u.Seqno())
		}
		for _, p := range []uint64{1, 3, 4, 5} {
			if r, ok := opsResolve(f, h, p); !ok || r != u {
				t.Errorf("Resolve(%d) is not the unordered head", p)
			}
		}
		if _, ok := opsResolve(f, h, 6); ok {
			t.Errorf("Resolve(6) available; want not submitted")
		}
		if v, _ := f.query(opsLast, h); v[0] != 5 {
			t.Errorf("Query(LAST_SUBMITTED) = %d; want 5", v[0])
		}
		f.swInc(tl1, 1)
		f.swInc(tl5, 1)
		if got := f.query1(h); got != 0 {
			t.Errorf("Query = %d with the unordered head pending; want 0", got)
		}
		f.swInc(tl3, 1)
		if got := f.query1(h); got != 5 {
			t.Errorf("Query = %d with everything signalled; want 5", got)
		}
		opsTS(f, h, 6)
		n6 := opsFence(f, h)
		if n6.Context() != u.Context() || n6.PrevSeqno() != 5 {
			t.Errorf("point 6 after the unordered node: same context=%v prev_seqno=%d; want true, 5", n6.Context() == u.Context(), n6.PrevSeqno())
		}
		if got := f.query1(h); got != 6 {
			t.Errorf("Query = %d; want 6", got)
		}
		f.teardown()
	})
	t.Run("equal point is unordered", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		opsTS(f, h, 5)
		a := opsFence(f, h)
		opsTS(f, h, 5)
		b := opsFence(f, h)
		if b.Context() == a.Context() || b.PrevSeqno() != 0 || b.Seqno() != 5 {
			t.Errorf("second point 5: new context=%v prev_seqno=%d seqno=%d; want true, 0, 5", b.Context() != a.Context(), b.PrevSeqno(), b.Seqno())
		}
		if got := f.query1(h); got != 5 {
			t.Errorf("Query = %d; want 5", got)
		}
		f.teardown()
	})
	t.Run("point 0 twice", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		opsTS(f, h, 0)
		a := opsFence(f, h)
		opsTS(f, h, 0)
		b := opsFence(f, h)
		if !a.IsChain() || !b.IsChain() || a.Seqno() != 0 || b.Seqno() != 0 || a.Context() == b.Context() {
			t.Errorf("point 0 nodes: seqnos %d, %d, same context=%v; want chain nodes 0, 0 in different contexts", a.Seqno(), b.Seqno(), a.Context() == b.Context())
		}
		if got := f.query1(h); got != 0 {
			t.Errorf("Query = %d; want 0", got)
		}
		f.teardown()
	})
	t.Run("64-bit order", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		opsTS(f, h, 2)
		a := opsFence(f, h)
		const big = 1<<32 + 1 // below 2 in a 32-bit wrap-around compare
		opsTS(f, h, big)
		b := opsFence(f, h)
		if b.Context() != a.Context() || b.PrevSeqno() != 2 || b.Seqno() != big {
			t.Errorf("point 2^32+1 after 2: same context=%v prev_seqno=%d; want an ordered point (64-bit compare)", b.Context() == a.Context(), b.PrevSeqno())
		}
		if got := f.query1(h); got != big {
			t.Errorf("Query = %d; want %d", got, uint64(big))
		}
		f.teardown()
	})
}

// TestOpsFindSeqnoGC: a point whose node signalled and was collected
// resolves to the global stub (§3.4, §3.5).
func TestOpsFindSeqnoGC(t *testing.T) {
	t.Run("collected below a pending head", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		opsTS(f, h, 1)
		tl := f.attach(h, 2)
		head := opsFence(f, h)
		if head.Prev() != nil || head.PrevSeqno() != 1 {
			t.Errorf("node 2: prev collected=%v prev_seqno=%d; want true, 1", head.Prev() == nil, head.PrevSeqno())
		}
		if r, ok := opsResolve(f, h, 1); !ok || r != f.d.Stub() {
			t.Errorf("Resolve(1) = %p, %v; want the global stub", r, ok)
		}
		if r, e := f.tab.FindFence(nil, h, 1, 0); e != 0 || r != f.d.Stub() {
			t.Errorf("FindFence(h, 1) = %p, %v; want the global stub, 0", r, e)
		}
		if r, ok := opsResolve(f, h, 2); !ok || r != head {
			t.Errorf("Resolve(2) is not the head")
		}
		d := f.mustCreate(0)
		check(t, "Transfer(H:1 -> D:0)", f.transfer(d, 0, h, 1, 0), 0)
		if opsFence(f, d) != f.d.Stub() {
			t.Errorf("transferred collected point is not the global stub")
		}
		e, first := f.timelineWait([]uint32{h}, []uint64{1}, 0, 0)
		check(t, "TimelineWait(collected point 1, poll)", e, 0)
		if first != 0 {
			t.Errorf("first_signaled = %d; want 0", first)
		}
		ev := newTestEventfd()
		evfd := f.fds.open(ev)
		check(t, "Eventfd(collected point 1)", f.eventfd(h, 1, evfd, 0), 0)
		if n := ev.count.Load(); n != 1 {
			t.Errorf("eventfd count = %d; want 1 (fires at once)", n)
		}
		e, _ = f.timelineWait([]uint32{h}, []uint64{2}, 0, 0)
		check(t, "TimelineWait(point 2, poll)", e, errno.ETIME)
		f.swInc(tl, 1)
		f.teardown()
	})
	t.Run("pending point is not collected", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		tl := f.attach(h, 1)
		n1 := opsFence(f, h)
		opsTS(f, h, 2)
		if r, ok := opsResolve(f, h, 1); !ok || r != n1 {
			t.Errorf("Resolve(1) is not node 1 while it pends")
		}
		f.swInc(tl, 1)
		if r, ok := opsResolve(f, h, 1); !ok || r != f.d.Stub() {
			t.Errorf("Resolve(1) = %p after it signalled; want the global stub", r)
		}
		f.teardown()
	})
	t.Run("all signalled", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		opsTS(f, h, 1, 2, 3)
		head := opsFence(f, h)
		for p, want := range map[uint64]*Fence{1: f.d.Stub(), 2: f.d.Stub(), 3: head, 0: head} {
			if r, ok := opsResolve(f, h, p); !ok || r != want {
				t.Errorf("Resolve(%d) = %p, %v; want %p", p, r, ok, want)
			}
		}
		f.teardown()
	})
}

// TestOpsEventfdFreed: a registration still pending when its syncobj dies
// is dropped without signalling (§3.1, §3.7).
func TestOpsEventfdFreed(t *testing.T) {
	t.Run("last handle destroyed", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		ev := newTestEventfd()
		fd := f.fds.open(ev)
		check(t, "Eventfd(point 1)", f.eventfd(h, 1, fd, 0), 0)
		check(t, "Eventfd(point 0, WAIT_AVAILABLE)", f.eventfd(h, 0, fd, opsAvail), 0)
		if r := f.d.Live().EventfdReg; r != 2 {
			t.Errorf("Live().EventfdReg = %d; want 2", r)
		}
		check(t, "close(eventfd)", f.fds.close(fd), 0)
		check(t, "Destroy", f.destroy(h), 0)
		if n := ev.count.Load(); n != 0 {
			t.Errorf("eventfd count = %d after the syncobj died; want 0", n)
		}
		if l := f.d.Live(); l.EventfdReg != 0 || l.Syncobjs != 0 {
			t.Errorf("Live() = %+v; want no registrations and no syncobjs", l)
		}
		if r := ev.refs.Load(); r != 0 {
			t.Errorf("eventfd references = %d; want 0 (registrations released)", r)
		}
		f.teardown()
	})
	t.Run("exported fd keeps it until closed", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		sfd, e := f.handleToFD(h, 0)
		check(t, "HandleToFD", e, 0)
		ev := newTestEventfd()
		fd := f.fds.open(ev)
		check(t, "Eventfd(point 2)", f.eventfd(h, 2, fd, 0), 0)
		check(t, "Destroy", f.destroy(h), 0)
		if r := f.d.Live().EventfdReg; r != 1 {
			t.Errorf("Live().EventfdReg = %d with the syncobj fd open; want 1", r)
		}
		check(t, "close(syncobj fd)", f.fds.close(sfd), 0)
		if n := ev.count.Load(); n != 0 {
			t.Errorf("eventfd count = %d; want 0", n)
		}
		if l := f.d.Live(); l.EventfdReg != 0 || l.Syncobjs != 0 {
			t.Errorf("Live() = %+v; want no registrations and no syncobjs", l)
		}
		f.teardown()
	})
}

// opsCodec is a UAPI struct.
type opsCodec interface {
	Marshal([]byte)
	Unmarshal([]byte)
}

// TestOpsABI: sizes equal the C sizeof, Marshal/Unmarshal are inverse and
// cover every byte, and a drm_syncobj_timeline_wait fixture.
func TestOpsABI(t *testing.T) {
	structs := []struct {
		name string
		size int
		want int // C sizeof on x86-64 / arm64
		mk   func() opsCodec
	}{
		{"drm_syncobj_create", DrmSyncobjCreateSize, 8, func() opsCodec { return new(DrmSyncobjCreate) }},
		{"drm_syncobj_destroy", DrmSyncobjDestroySize, 8, func() opsCodec { return new(DrmSyncobjDestroy) }},
		{"drm_syncobj_handle (6.12)", DrmSyncobjHandleSize, 16, func() opsCodec { return new(DrmSyncobjHandle) }},
		{"drm_syncobj_transfer", DrmSyncobjTransferSize, 32, func() opsCodec { return new(DrmSyncobjTransfer) }},
		{"drm_syncobj_wait", DrmSyncobjWaitSize, 40, func() opsCodec { return new(DrmSyncobjWait) }},
		{"drm_syncobj_timeline_wait", DrmSyncobjTimelineWaitSize, 48, func() opsCodec { return new(DrmSyncobjTimelineWait) }},
		{"drm_syncobj_eventfd", DrmSyncobjEventfdSize, 24, func() opsCodec { return new(DrmSyncobjEventfd) }},
		{"drm_syncobj_array", DrmSyncobjArraySize, 16, func() opsCodec { return new(DrmSyncobjArray) }},
		{"drm_syncobj_timeline_array", DrmSyncobjTimelineArraySize, 24, func() opsCodec { return new(DrmSyncobjTimelineArray) }},
		{"sync_merge_data", SyncMergeDataSize, 48, func() opsCodec { return new(SyncMergeData) }},
		{"sync_file_info", SyncFileInfoSize, 56, func() opsCodec { return new(SyncFileInfo) }},
		{"sync_fence_info", SyncFenceInfoSize, 80, func() opsCodec { return new(SyncFenceInfo) }},
		{"sync_set_deadline", SyncSetDeadlineSize, 16, func() opsCodec { return new(SyncSetDeadline) }},
		{"sw_sync_create_fence_data", SwSyncCreateFenceDataSize, 40, func() opsCodec { return new(SwSyncCreateFenceData) }},
		{"sw_sync_get_deadline", SwSyncGetDeadlineSize, 16, func() opsCodec { return new(SwSyncGetDeadline) }},
	}
	for _, s := range structs {
		t.Run(s.name, func(t *testing.T) {
			if s.size != s.want {
				t.Fatalf("size constant = %d; want sizeof = %d", s.size, s.want)
			}
			// Distinct bytes at every offset: a swapped, shifted or
			// dropped field changes the round trip.
			in := make([]byte, s.size)
			for i := range in {
				in[i] = byte(0x11 + 13*i)
			}
			v := s.mk()
			v.Unmarshal(in)
			out := make([]byte, s.size+8)
			for i := range out {
				out[i] = 0xee
			}
			v.Marshal(out)
			if !bytes.Equal(out[:s.size], in) {
				t.Errorf("Marshal(Unmarshal(b)) != b\ngot:\n%swant:\n%s", hex.Dump(out[:s.size]), hex.Dump(in))
			}
			if !bytes.Equal(out[s.size:], bytes.Repeat([]byte{0xee}, 8)) {
				t.Errorf("Marshal wrote past %d bytes:\n%s", s.size, hex.Dump(out))
			}
			w := s.mk()
			w.Unmarshal(out[:s.size])
			if !reflect.DeepEqual(v, w) {
				t.Errorf("Unmarshal(Marshal(v)) = %+v; want %+v", w, v)
			}
		})
	}

	t.Run("drm_syncobj_timeline_wait fixture", func(t *testing.T) {
		want := DrmSyncobjTimelineWait{
			Handles:       0x1122334455667788,
			Points:        0x0102030405060708,
			TimeoutNsec:   -2,
			CountHandles:  3,
			Flags:         opsAll | opsAvail,
			FirstSignaled: 0xdead,
			Pad:           7,
			DeadlineNsec:  0x8877665544332211,
		}
		fixture := []byte{
			// handles: __u64 @0, user pointer to u32[count_handles]
			0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
			// points: __u64 @8, user pointer to u64[count_handles]
			0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
			// timeout_nsec: __s64 @16 = -2 (absolute; ≤ now polls)
			0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			// count_handles: __u32 @24 = 3
			0x03, 0x00, 0x00, 0x00,
			// flags: __u32 @28 = WAIT_ALL | WAIT_AVAILABLE
			0x05, 0x00, 0x00, 0x00,
			// first_signaled: __u32 @32 = 0xdead (out)
			0xad, 0xde, 0x00, 0x00,
			// pad: __u32 @36 = 7 (never checked)
			0x07, 0x00, 0x00, 0x00,
			// deadline_nsec: __u64 @40 (since 6.4)
			0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		}
		if len(fixture) != DrmSyncobjTimelineWaitSize {
			t.Fatalf("fixture is %d bytes; want %d", len(fixture), DrmSyncobjTimelineWaitSize)
		}
		got := make([]byte, DrmSyncobjTimelineWaitSize)
		want.Marshal(got)
		if !bytes.Equal(got, fixture) {
			t.Errorf("Marshal mismatch\ngot:\n%swant:\n%s", hex.Dump(got), hex.Dump(fixture))
		}
		var u DrmSyncobjTimelineWait
		u.Unmarshal(fixture)
		if u != want {
			t.Errorf("Unmarshal(fixture) = %+v; want %+v", u, want)
		}
	})

	t.Run("drm_syncobj_eventfd fixture", func(t *testing.T) {
		want := DrmSyncobjEventfd{Handle: 0x0a0b0c0d, Flags: opsAvail, Point: 0x1122334455667788, Fd: -3, Pad: 0x01020304}
		fixture := []byte{
			0x0d, 0x0c, 0x0b, 0x0a, // handle: __u32 @0
			0x04, 0x00, 0x00, 0x00, // flags: __u32 @4 = WAIT_AVAILABLE
			0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // point: __u64 @8
			0xfd, 0xff, 0xff, 0xff, // fd: __s32 @16 = -3
			0x04, 0x03, 0x02, 0x01, // pad: __u32 @20
		}
		got := make([]byte, DrmSyncobjEventfdSize)
		want.Marshal(got)
		if !bytes.Equal(got, fixture) {
			t.Errorf("Marshal mismatch\ngot:\n%swant:\n%s", hex.Dump(got), hex.Dump(fixture))
		}
	})
}
