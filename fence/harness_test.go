package fence

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"fencelab/errno"
	"fencelab/internal/flatmem"
)

// This file is the test harness: a process's memory, fd table and eventfd,
// and a "DRM file" that issues the syncobj ioctls the way IGT's
// lib/igt_syncobj.c does, so tests read like the IGT subtests they mirror.

// testMem is the process's memory: a flat range from memBase; address 0
// and everything outside fault with EFAULT.
type testMem struct{ *flatmem.Memory }

const memBase = 0x10000

func newTestMem(size int) *testMem { return &testMem{flatmem.New(memBase, size)} }

// alloc returns n zeroed bytes of memory, 8-byte aligned.
func (m *testMem) alloc(n int) uint64 { return m.Alloc(n) }

// u32s stores vs in fresh memory and returns its address (0 for none).
func (m *testMem) u32s(vs ...uint32) uint64 {
	if len(vs) == 0 {
		return m.alloc(0)
	}
	a := m.alloc(4 * len(vs))
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	m.CopyOut(a, b)
	return a
}

// u64s stores vs in fresh memory and returns its address.
func (m *testMem) u64s(vs ...uint64) uint64 {
	a := m.alloc(8 * len(vs))
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	m.CopyOut(a, b)
	return a
}

// readU64s reads n u64 values at addr.
func (m *testMem) readU64s(addr uint64, n int) []uint64 {
	b := make([]byte, 8*n)
	if e := m.CopyIn(addr, b); e != 0 {
		panic("testMem: readU64s: " + e.Error())
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out
}

// testFDs is an fd table: lowest free fd from 0, at most limit open.
type testFDs struct {
	mu    sync.Mutex
	files map[int32]File // nil value = reserved
	limit int
}

func newTestFDs(limit int) *testFDs { return &testFDs{files: map[int32]File{}, limit: limit} }

func (t *testFDs) Reserve() (int32, errno.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.files) >= t.limit {
		return -1, errno.EMFILE
	}
	for fd := int32(0); ; fd++ {
		if _, used := t.files[fd]; !used {
			t.files[fd] = nil
			return fd, 0
		}
	}
}

func (t *testFDs) Install(fd int32, f File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.files[fd]; !ok || cur != nil {
		panic("testFDs: Install on an fd that is not reserved")
	}
	t.files[fd] = f
}

func (t *testFDs) Unreserve(fd int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.files[fd]; !ok || cur != nil {
		panic("testFDs: Unreserve on an fd that is not reserved")
	}
	delete(t.files, fd)
}

func (t *testFDs) Get(fd int32) (File, errno.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.files[fd]
	if f == nil {
		return nil, errno.EBADF
	}
	f.IncRef()
	return f, 0
}

// open installs f (which carries one reference) at the lowest free fd.
func (t *testFDs) open(f File) int32 {
	fd, e := t.Reserve()
	if e != 0 {
		panic("testFDs: open: " + e.Error())
	}
	t.Install(fd, f)
	return fd
}

func (t *testFDs) close(fd int32) errno.Errno {
	t.mu.Lock()
	f, ok := t.files[fd]
	if !ok || f == nil {
		t.mu.Unlock()
		return errno.EBADF
	}
	delete(t.files, fd)
	t.mu.Unlock()
	f.DecRef()
	return 0
}

func (t *testFDs) closeAll() {
	t.mu.Lock()
	var fds []int32
	for fd, f := range t.files {
		if f != nil {
			fds = append(fds, fd)
		}
	}
	t.mu.Unlock()
	for _, fd := range fds {
		t.close(fd)
	}
}

// file returns the file at fd without taking a reference.
func (t *testFDs) file(fd int32) File {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.files[fd]
}

// testEventfd counts signals.
type testEventfd struct {
	count atomic.Uint64
	refs  atomic.Int32
}

func newTestEventfd() *testEventfd {
	e := &testEventfd{}
	e.refs.Store(1)
	return e
}
func (e *testEventfd) IncRef()         { e.refs.Add(1) }
func (e *testEventfd) DecRef()         { e.refs.Add(-1) }
func (e *testEventfd) Signal(n uint64) { e.count.Add(n) }

// nullFile stands for /dev/null: a file that is none of ours.
type nullFile struct{}

func (nullFile) IncRef() {}
func (nullFile) DecRef() {}

// drmFile is one process with a DRM file open: its syncobj table, memory
// and fd table, on a domain driven by a manual clock.
type drmFile struct {
	t     testing.TB
	clock *ManualClock
	d     *Domain
	tab   *SyncobjTable
	mem   *testMem
	fds   *testFDs
}

const (
	ms = int64(1_000_000)
	// short is IGT's SHORT_TIME_NSEC, 100 ms.
	short = 100 * ms
)

func newDRMFile(t testing.TB) *drmFile {
	clock := NewManualClock(1_000 * ms)
	d := NewDomain(clock)
	return &drmFile{t: t, clock: clock, d: d, tab: d.NewSyncobjTable(0), mem: newTestMem(1 << 20), fds: newTestFDs(1024)}
}

// newDRMFileOn returns another process's DRM file on the same domain.
func (f *drmFile) sibling() *drmFile {
	return &drmFile{t: f.t, clock: f.clock, d: f.d, tab: f.d.NewSyncobjTable(0), mem: newTestMem(1 << 20), fds: newTestFDs(1024)}
}

// teardown closes everything and checks that nothing is left alive.
func (f *drmFile) teardown() {
	f.t.Helper()
	f.tab.Close()
	f.fds.closeAll()
	if l := f.d.Live(); !l.Zero() {
		f.t.Errorf("after teardown, Live() = %+v; want all zero", l)
	}
}

func (f *drmFile) now() int64 { return f.clock.Now() }

func (f *drmFile) create(flags uint32) (uint32, errno.Errno) {
	a := DrmSyncobjCreate{Flags: flags}
	e := f.tab.Create(&a)
	return a.Handle, e
}

// mustCreate is syncobj_create.
func (f *drmFile) mustCreate(flags uint32) uint32 {
	f.t.Helper()
	h, e := f.create(flags)
	if e != 0 {
		f.t.Fatalf("Create(%#x) = %v", flags, e)
	}
	return h
}

func (f *drmFile) destroy(h uint32) errno.Errno {
	return f.tab.Destroy(&DrmSyncobjDestroy{Handle: h})
}

// wait is syncobj_wait_err: (errno, first_signaled).
func (f *drmFile) wait(handles []uint32, timeout int64, flags uint32) (errno.Errno, uint32) {
	return f.waitCtx(context.Background(), handles, timeout, flags)
}

func (f *drmFile) waitCtx(ctx context.Context, handles []uint32, timeout int64, flags uint32) (errno.Errno, uint32) {
	a := DrmSyncobjWait{Handles: f.mem.u32s(handles...), TimeoutNsec: timeout,
		CountHandles: uint32(len(handles)), Flags: flags, FirstSignaled: 0xdead}
	e := f.tab.Wait(ctx, f.mem, &a)
	return e, a.FirstSignaled
}

// timelineWait is syncobj_timeline_wait_err.
func (f *drmFile) timelineWait(handles []uint32, points []uint64, timeout int64, flags uint32) (errno.Errno, uint32) {
	return f.timelineWaitCtx(context.Background(), handles, points, timeout, flags)
}

func (f *drmFile) timelineWaitCtx(ctx context.Context, handles []uint32, points []uint64, timeout int64, flags uint32) (errno.Errno, uint32) {
	var pa uint64
	if points != nil {
		pa = f.mem.u64s(points...)
	}
	a := DrmSyncobjTimelineWait{Handles: f.mem.u32s(handles...), Points: pa, TimeoutNsec: timeout,
		CountHandles: uint32(len(handles)), Flags: flags, FirstSignaled: 0xdead}
	e := f.tab.TimelineWait(ctx, f.mem, &a)
	return e, a.FirstSignaled
}

func (f *drmFile) reset(handles ...uint32) errno.Errno {
	return f.tab.Reset(f.mem, &DrmSyncobjArray{Handles: f.mem.u32s(handles...), CountHandles: uint32(len(handles))})
}

func (f *drmFile) signal(handles ...uint32) errno.Errno {
	return f.tab.Signal(f.mem, &DrmSyncobjArray{Handles: f.mem.u32s(handles...), CountHandles: uint32(len(handles))})
}

func (f *drmFile) timelineSignal(handles []uint32, points []uint64) errno.Errno {
	var pa uint64
	if points != nil {
		pa = f.mem.u64s(points...)
	}
	return f.tab.TimelineSignal(f.mem, &DrmSyncobjTimelineArray{Handles: f.mem.u32s(handles...), Points: pa, CountHandles: uint32(len(handles))})
}

// query returns the QUERY payloads.
func (f *drmFile) query(flags uint32, handles ...uint32) ([]uint64, errno.Errno) {
	pa := f.mem.alloc(8 * len(handles))
	e := f.tab.Query(f.mem, &DrmSyncobjTimelineArray{Handles: f.mem.u32s(handles...), Points: pa, CountHandles: uint32(len(handles)), Flags: flags})
	if e != 0 {
		return nil, e
	}
	return f.mem.readU64s(pa, len(handles)), 0
}

// query1 is syncobj_timeline_query for one handle, failing the test on error.
func (f *drmFile) query1(h uint32) uint64 {
	f.t.Helper()
	v, e := f.query(0, h)
	if e != 0 {
		f.t.Fatalf("Query(%d) = %v", h, e)
	}
	return v[0]
}

func (f *drmFile) transfer(dst uint32, dstPoint uint64, src uint32, srcPoint uint64, flags uint32) errno.Errno {
	return f.tab.Transfer(context.Background(), &DrmSyncobjTransfer{SrcHandle: src, DstHandle: dst, SrcPoint: srcPoint, DstPoint: dstPoint, Flags: flags})
}

func (f *drmFile) handleToFD(h, flags uint32) (int32, errno.Errno) {
	a := DrmSyncobjHandle{Handle: h, Flags: flags, Fd: -1}
	e := f.tab.HandleToFD(f.fds, &a)
	return a.Fd, e
}

func (f *drmFile) fdToHandle(fd int32, flags, handle uint32) (uint32, errno.Errno) {
	a := DrmSyncobjHandle{Handle: handle, Flags: flags, Fd: fd}
	e := f.tab.FDToHandle(f.fds, &a)
	return a.Handle, e
}

func (f *drmFile) eventfd(h uint32, point uint64, fd int32, flags uint32) errno.Errno {
	return f.tab.Eventfd(f.fds, &DrmSyncobjEventfd{Handle: h, Point: point, Fd: fd, Flags: flags}, 0)
}

// swTimeline opens sw_sync and returns the timeline and its fd.
func (f *drmFile) swTimeline() (*Timeline, int32) { return f.swTimelineNamed("igt") }

// swTimelineNamed is swTimeline with the timeline name sync_file info
// reports for its fences.
func (f *drmFile) swTimelineNamed(name string) (*Timeline, int32) {
	tl := f.d.NewTimeline(name)
	return tl, f.fds.open(tl)
}

// swFence is sw_sync_timeline_create_fence: a sync_file fd for value.
func (f *drmFile) swFence(tlfd int32, value uint32) int32 {
	f.t.Helper()
	tl := f.fds.file(tlfd).(*Timeline)
	arg := f.mem.alloc(SwSyncCreateFenceDataSize)
	var b [SwSyncCreateFenceDataSize]byte
	(&SwSyncCreateFenceData{Value: value}).Marshal(b[:])
	f.mem.CopyOut(arg, b[:])
	if e := tl.Ioctl(f.mem, f.fds, SW_SYNC_IOC_CREATE_FENCE, arg); e != 0 {
		f.t.Fatalf("SW_SYNC_IOC_CREATE_FENCE(%d) = %v", value, e)
	}
	f.mem.CopyIn(arg, b[:])
	var a SwSyncCreateFenceData
	a.Unmarshal(b[:])
	return a.Fence
}

// swInc is sw_sync_timeline_inc.
func (f *drmFile) swInc(tlfd int32, n uint32) {
	f.t.Helper()
	tl := f.fds.file(tlfd).(*Timeline)
	if e := tl.Ioctl(f.mem, f.fds, SW_SYNC_IOC_INC, f.mem.u32s(n)); e != 0 {
		f.t.Fatalf("SW_SYNC_IOC_INC(%d) = %v", n, e)
	}
}

// importSyncFile is syncobj_import_sync_file: the sync_file's fence
// replaces the syncobj's.
func (f *drmFile) importSyncFile(h uint32, fd int32) {
	f.t.Helper()
	if _, e := f.fdToHandle(fd, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, h); e != 0 {
		f.t.Fatalf("FD_TO_HANDLE(IMPORT_SYNC_FILE, fd %d, handle %d) = %v", fd, h, e)
	}
}

// attach is IGT's syncobj_attach_sw_sync: a new sw_sync timeline with a
// fence at value 1 attached to h at point (point 0: imported directly;
// otherwise imported into a temporary binary syncobj and transferred).
// It returns the timeline fd; swInc(fd, 1) signals the fence.
func (f *drmFile) attach(h uint32, point uint64) int32 {
	f.t.Helper()
	return f.attachNamed(h, point, "igt")
}

// attachNamed is attach with a timeline of the given name, which sync_file
// info reports as the fence's timeline.
func (f *drmFile) attachNamed(h uint32, point uint64, name string) int32 {
	f.t.Helper()
	_, tlfd := f.swTimelineNamed(name)
	ffd := f.swFence(tlfd, 1)
	if point == 0 {
		f.importSyncFile(h, ffd)
	} else {
		tmp := f.mustCreate(0)
		f.importSyncFile(tmp, ffd)
		if e := f.transfer(h, point, tmp, 0, 0); e != 0 {
			f.t.Fatalf("TRANSFER(%d:0 -> %d:%d) = %v; want 0", tmp, h, point, e)
		}
		f.destroy(tmp)
	}
	f.fds.close(ffd)
	return tlfd
}

// trigger is IGT's syncobj_trigger: attach, then signal.
func (f *drmFile) trigger(h uint32, point uint64) {
	f.t.Helper()
	tlfd := f.attach(h, point)
	f.swInc(tlfd, 1)
	f.fds.close(tlfd)
}

// yield lets other goroutines run while a test spins waiting for them.
func yield() { runtime.Gosched() }

// background runs fn on its own goroutine and returns a channel with its
// result.
func background[T any](fn func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return ch
}

// waitArmed blocks until the clock has at least n pending timers, that is
// until n waiters have parked with a deadline.
func (f *drmFile) waitArmed(n int) {
	f.t.Helper()
	for i := 0; f.clock.Pending() < n; i++ {
		if i > 5_000_000 {
			f.t.Fatalf("waitArmed(%d): only %d timers after a long spin", n, f.clock.Pending())
		}
		yield()
	}
}

func check(t testing.TB, what string, got, want errno.Errno) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}
