package fence

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"fencelab/errno"
)

// Tests of sync_file (§4.5), sw_sync (§4.6), the dma_fence core (§4.1),
// fence arrays (§4.2), unwrap/merge (§4.4) and the ManualClock test clock.
// Helpers are prefixed sf.

// sfBadAddr is an address outside every testMem: copies there fault.
const sfBadAddr = 8

// sfFaultOut is user memory whose copy_to_user to one address faults, so a
// test can make an ioctl's copy-out fail after its copy-in succeeded.
type sfFaultOut struct {
	*testMem
	addr uint64
}

func (m sfFaultOut) CopyOut(addr uint64, src []byte) errno.Errno {
	if addr == m.addr {
		return errno.EFAULT
	}
	return m.testMem.CopyOut(addr, src)
}

type sfMarshaler interface{ Marshal([]byte) }

// sfPut stores v (size bytes) in fresh memory and returns its address.
func sfPut(m *testMem, v sfMarshaler, size int) uint64 {
	a := m.alloc(size)
	b := make([]byte, size)
	v.Marshal(b)
	m.CopyOut(a, b)
	return a
}

func sfRead(m *testMem, addr uint64, n int) []byte {
	b := make([]byte, n)
	if e := m.CopyIn(addr, b); e != 0 {
		panic("sfRead: " + e.Error())
	}
	return b
}

// sfDomain is a bare domain on a manual clock reading 1000.
func sfDomain() (*Domain, *ManualClock) {
	c := NewManualClock(1000)
	return NewDomain(c), c
}

// sfNextFD is the fd the next Reserve would hand out.
// sfFDState is what a failed ioctl must leave as it found it: the next fd
// a reservation would get, how many fds are open, and how many sync_files
// are alive.
type sfFDState struct {
	next      int32
	open      int
	syncFiles int64
}

func sfState(f *drmFile) sfFDState {
	return sfFDState{next: sfNextFD(f), open: sfOpenFDs(f), syncFiles: f.d.Live().SyncFiles}
}

// sfUnchanged reports any difference between before and now.
func sfUnchanged(t *testing.T, f *drmFile, before sfFDState, what string) {
	t.Helper()
	if now := sfState(f); now != before {
		t.Errorf("after %s, fd table and sync_files = %+v; want %+v (nothing reserved, opened or leaked)", what, now, before)
	}
}

func sfNextFD(f *drmFile) int32 {
	fd, e := f.fds.Reserve()
	if e != 0 {
		return -1
	}
	f.fds.Unreserve(fd)
	return fd
}

// sfOpenFDs counts installed fds.
func sfOpenFDs(f *drmFile) int {
	f.fds.mu.Lock()
	defer f.fds.mu.Unlock()
	n := 0
	for _, file := range f.fds.files {
		if file != nil {
			n++
		}
	}
	return n
}

// sfFile returns the file at fd as a T, failing the test if it is not one.
func sfFile[T File](f *drmFile, fd int32) T {
	f.t.Helper()
	x, ok := f.fds.file(fd).(T)
	if !ok {
		f.t.Fatalf("fd %d is a %T; want a %T", fd, f.fds.file(fd), x)
	}
	return x
}

func sfSync(f *drmFile, fd int32) *SyncFile { f.t.Helper(); return sfFile[*SyncFile](f, fd) }
func sfTL(f *drmFile, fd int32) *Timeline   { f.t.Helper(); return sfFile[*Timeline](f, fd) }

func sfFenceOf(f *drmFile, fd int32) *Fence {
	f.t.Helper()
	fe, ok := SyncFileFence(f.fds, fd)
	if !ok {
		f.t.Fatalf("SyncFileFence(%d): not a sync_file", fd)
	}
	return fe
}

// sfCreateFence issues SW_SYNC_IOC_CREATE_FENCE and returns the argument as
// the kernel left it.
func sfCreateFence(f *drmFile, mem UserMemory, tlfd int32, in SwSyncCreateFenceData) (SwSyncCreateFenceData, uint64, errno.Errno) {
	arg := sfPut(f.mem, &in, SwSyncCreateFenceDataSize)
	e := sfTL(f, tlfd).Ioctl(mem, f.fds, SW_SYNC_IOC_CREATE_FENCE, arg)
	var out SwSyncCreateFenceData
	out.Unmarshal(sfRead(f.mem, arg, SwSyncCreateFenceDataSize))
	return out, arg, e
}

// sfMergeRaw issues SYNC_IOC_MERGE on fd with argument a.
func sfMergeRaw(f *drmFile, mem UserMemory, fd int32, a SyncMergeData) (SyncMergeData, uint64, errno.Errno) {
	arg := sfPut(f.mem, &a, SyncMergeDataSize)
	e := sfSync(f, fd).Ioctl(mem, f.fds, SYNC_IOC_MERGE, arg)
	var out SyncMergeData
	out.Unmarshal(sfRead(f.mem, arg, SyncMergeDataSize))
	return out, arg, e
}

func sfMergeArg(fd2 int32, name string) SyncMergeData {
	a := SyncMergeData{Fd2: fd2, Fence: -1}
	copy(a.Name[:], name)
	return a
}

// sfMerge is sync_merge: the fd of the merge of fd1 and fd2.
func sfMerge(f *drmFile, fd1, fd2 int32, name string) int32 {
	f.t.Helper()
	out, _, e := sfMergeRaw(f, f.mem, fd1, sfMergeArg(fd2, name))
	if e != 0 {
		f.t.Fatalf("SYNC_IOC_MERGE(%d, %d, %q) = %v; want 0", fd1, fd2, name, e)
	}
	return out.Fence
}

// sfFileInfoRaw issues SYNC_IOC_FILE_INFO with in at a fresh address and
// returns the struct as left in memory and, on success, the first
// min(in.NumFences, out.NumFences) sync_fence_info entries.
func sfFileInfoRaw(f *drmFile, mem UserMemory, fd int32, in SyncFileInfo) (SyncFileInfo, []SyncFenceInfo, errno.Errno) {
	arg := sfPut(f.mem, &in, SyncFileInfoSize)
	e := sfSync(f, fd).Ioctl(mem, f.fds, SYNC_IOC_FILE_INFO, arg)
	var out SyncFileInfo
	out.Unmarshal(sfRead(f.mem, arg, SyncFileInfoSize))
	if e != 0 || in.NumFences == 0 {
		return out, nil, e
	}
	n := min(in.NumFences, out.NumFences)
	b := sfRead(f.mem, in.SyncFenceInfo, int(n)*SyncFenceInfoSize)
	fis := make([]SyncFenceInfo, n)
	for i := range fis {
		fis[i].Unmarshal(b[i*SyncFenceInfoSize:])
	}
	return out, fis, e
}

// sfFileInfo is FILE_INFO with room for num entries.
func sfFileInfo(f *drmFile, fd int32, num uint32) (SyncFileInfo, []SyncFenceInfo, errno.Errno) {
	in := SyncFileInfo{NumFences: num}
	if num > 0 {
		in.SyncFenceInfo = f.mem.alloc(int(num) * SyncFenceInfoSize)
	}
	return sfFileInfoRaw(f, f.mem, fd, in)
}

// sfLeaf is a sync_fence_info in comparable form.
type sfLeaf struct {
	Obj, Driver string
	Status      int32
	Flags       uint32
	TS          uint64
}

func sfLeaves(fis []SyncFenceInfo) []sfLeaf {
	out := make([]sfLeaf, len(fis))
	for i, fi := range fis {
		out[i] = sfLeaf{cString(fi.ObjName[:]), cString(fi.DriverName[:]), fi.Status, fi.Flags, fi.TimestampNs}
	}
	return out
}

// sfWantInfo checks FILE_INFO on fd twice: with num_fences 0 (count and the
// fence's own status) and with exactly the count (per-leaf info and the
// overall status computed from the leaves).
func sfWantInfo(t *testing.T, f *drmFile, fd int32, name string, status0 int32, leaves []sfLeaf, overall int32) {
	t.Helper()
	info, _, e := sfFileInfo(f, fd, 0)
	if e != 0 {
		t.Fatalf("FILE_INFO(fd %d, num_fences 0) = %v; want 0", fd, e)
	}
	if got := cString(info.Name[:]); got != name {
		t.Errorf("FILE_INFO(fd %d, num_fences 0).name = %q; want %q", fd, got, name)
	}
	if info.NumFences != uint32(len(leaves)) {
		t.Errorf("FILE_INFO(fd %d, num_fences 0).num_fences = %d; want %d", fd, info.NumFences, len(leaves))
	}
	if info.Status != status0 {
		t.Errorf("FILE_INFO(fd %d, num_fences 0).status = %d; want %d", fd, info.Status, status0)
	}
	info, fis, e := sfFileInfo(f, fd, uint32(len(leaves)))
	if e != 0 {
		t.Fatalf("FILE_INFO(fd %d, num_fences %d) = %v; want 0", fd, len(leaves), e)
	}
	if got := cString(info.Name[:]); got != name {
		t.Errorf("FILE_INFO(fd %d, num_fences %d).name = %q; want %q", fd, len(leaves), got, name)
	}
	if info.NumFences != uint32(len(leaves)) {
		t.Errorf("FILE_INFO(fd %d, num_fences %d).num_fences = %d; want %d", fd, len(leaves), info.NumFences, len(leaves))
	}
	if info.Status != overall {
		t.Errorf("FILE_INFO(fd %d, num_fences %d).status = %d; want %d", fd, len(leaves), info.Status, overall)
	}
	if got := sfLeaves(fis); !slices.Equal(got, leaves) {
		t.Errorf("FILE_INFO(fd %d, num_fences %d).sync_fence_info = %+v; want %+v", fd, len(leaves), got, leaves)
	}
}

func sfSetDeadlineRaw(f *drmFile, fd int32, a SyncSetDeadline) errno.Errno {
	arg := sfPut(f.mem, &a, SyncSetDeadlineSize)
	return sfSync(f, fd).Ioctl(f.mem, f.fds, SYNC_IOC_SET_DEADLINE, arg)
}

func sfSetDeadline(f *drmFile, fd int32, ns uint64) {
	f.t.Helper()
	if e := sfSetDeadlineRaw(f, fd, SyncSetDeadline{DeadlineNs: ns}); e != 0 {
		f.t.Fatalf("SYNC_IOC_SET_DEADLINE(fd %d, %d) = %v; want 0", fd, ns, e)
	}
}

func sfGetDeadlineRaw(f *drmFile, mem UserMemory, tlfd int32, a SwSyncGetDeadline) (SwSyncGetDeadline, uint64, errno.Errno) {
	arg := sfPut(f.mem, &a, SwSyncGetDeadlineSize)
	e := sfTL(f, tlfd).Ioctl(mem, f.fds, SW_SYNC_GET_DEADLINE, arg)
	var out SwSyncGetDeadline
	out.Unmarshal(sfRead(f.mem, arg, SwSyncGetDeadlineSize))
	return out, arg, e
}

func sfGetDeadline(f *drmFile, tlfd, fencefd int32) (uint64, errno.Errno) {
	out, _, e := sfGetDeadlineRaw(f, f.mem, tlfd, SwSyncGetDeadline{FenceFd: fencefd})
	return out.DeadlineNs, e
}

// sfExportChain builds a timeline syncobj with points 1 (timeline nameA)
// and 2 (timeline nameB) and exports its head as a sync_file.
func sfExportChain(f *drmFile, nameA, nameB string) (syncFD, tlA, tlB int32) {
	f.t.Helper()
	h := f.mustCreate(0)
	tlA = f.attachNamed(h, 1, nameA)
	tlB = f.attachNamed(h, 2, nameB)
	fd, e := f.handleToFD(h, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE)
	if e != 0 {
		f.t.Fatalf("HANDLE_TO_FD(%d, EXPORT_SYNC_FILE) = %v; want 0", h, e)
	}
	f.destroy(h)
	return fd, tlA, tlB
}

// ---------------------------------------------------------------------------
// sync_file

func TestSyncFileName(t *testing.T) {
	t.Run("sw_sync point", func(t *testing.T) {
		f := newDRMFile(t)
		tl, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 7)
		want := fmt.Sprintf("sw_sync-igt%d-7", tl.Context())
		if got := sfSync(f, fd).Name(); got != want {
			t.Errorf("Name() = %q; want %q", got, want)
		}
		f.teardown()
	})
	t.Run("merge names", func(t *testing.T) {
		f := newDRMFile(t)
		_, tla := f.swTimelineNamed("a")
		_, tlb := f.swTimelineNamed("b")
		fa, fb := f.swFence(tla, 1), f.swFence(tlb, 1)
		long := strings.Repeat("x", 32)
		for _, tc := range []struct{ name, arg, want string }{
			{"user name", "merged", "merged"},
			{"32 bytes without NUL are cut to 31", long, long[:31]},
			{"bytes after the first NUL are ignored", "ab\x00cd", "ab"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fd := sfMerge(f, fa, fb, tc.arg)
				if got := sfSync(f, fd).Name(); got != tc.want {
					t.Errorf("Name() after MERGE(%q) = %q; want %q", tc.arg, got, tc.want)
				}
				info, _, _ := sfFileInfo(f, fd, 0)
				if got := cString(info.Name[:]); got != tc.want {
					t.Errorf("FILE_INFO.name after MERGE(%q) = %q; want %q", tc.arg, got, tc.want)
				}
				f.fds.close(fd)
			})
		}
		t.Run("empty name falls back to the generated one", func(t *testing.T) {
			fd := sfMerge(f, fa, fb, "")
			arr := sfFenceOf(f, fd)
			want := fmt.Sprintf("dma_fence_array-unbound%d-1", arr.Context())
			if got := sfSync(f, fd).Name(); got != want {
				t.Errorf("Name() after MERGE(\"\") = %q; want %q", got, want)
			}
			f.fds.close(fd)
		})
		f.teardown()
	})
	t.Run("chain seqno printed signed", func(t *testing.T) {
		d, _ := sfDomain()
		leaf := d.NewFence(d.AllocContexts(1), 1, "drv", "tl")
		node := d.newChainNode(nil, leaf, 1<<63)
		s := d.NewSyncFile(node)
		want := fmt.Sprintf("dma_fence_chain-unbound%d--9223372036854775808", node.Context())
		if got := s.Name(); got != want {
			t.Errorf("Name() of chain node at 1<<63 = %q; want %q", got, want)
		}
		s.DecRef()
	})
	t.Run("plain driver fence", func(t *testing.T) {
		d, _ := sfDomain()
		fe := d.NewFence(5, 42, "virtio_gpu", "controlq")
		s := d.NewSyncFile(fe)
		if got, want := s.Name(), "virtio_gpu-controlq5-42"; got != want {
			t.Errorf("Name() = %q; want %q", got, want)
		}
		s.DecRef()
	})
}

func TestSyncFileMerge(t *testing.T) {
	t.Run("errors", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		fd2 := f.swFence(tlfd, 2)
		h := f.mustCreate(0)
		objfd, e := f.handleToFD(h, 0)
		if e != 0 {
			t.Fatalf("HANDLE_TO_FD(%d, 0) = %v; want 0", h, e)
		}
		closed := f.swFence(tlfd, 3)
		f.fds.close(closed)
		for _, tc := range []struct {
			name string
			arg  SyncMergeData
			addr bool // use sfBadAddr as the argument
			want errno.Errno
		}{
			{"arg fault", SyncMergeData{}, true, errno.EFAULT},
			{"flags", SyncMergeData{Fd2: fd2, Flags: 1}, false, errno.EINVAL},
			{"flags high bit", SyncMergeData{Fd2: fd2, Flags: 1 << 31}, false, errno.EINVAL},
			{"pad", SyncMergeData{Fd2: fd2, Pad: 1}, false, errno.EINVAL},
			{"flags checked before fd2", SyncMergeData{Fd2: 999, Flags: 1}, false, errno.EINVAL},
			{"fd2 not open", SyncMergeData{Fd2: 999}, false, errno.ENOENT},
			{"fd2 negative", SyncMergeData{Fd2: -1}, false, errno.ENOENT},
			{"fd2 closed", SyncMergeData{Fd2: closed}, false, errno.ENOENT},
			{"fd2 sw_sync timeline", SyncMergeData{Fd2: tlfd}, false, errno.ENOENT},
			{"fd2 syncobj file", SyncMergeData{Fd2: objfd}, false, errno.ENOENT},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before, live := sfNextFD(f), f.d.Live().SyncFiles
				tc.arg.Fence = -1
				arg := sfPut(f.mem, &tc.arg, SyncMergeDataSize)
				if tc.addr {
					arg = sfBadAddr
				}
				got := sfSync(f, fd).Ioctl(f.mem, f.fds, SYNC_IOC_MERGE, arg)
				if got != tc.want {
					t.Errorf("SYNC_IOC_MERGE(%+v) = %v; want %v", tc.arg, got, tc.want)
				}
				if !tc.addr {
					var out SyncMergeData
					out.Unmarshal(sfRead(f.mem, arg, SyncMergeDataSize))
					if out.Fence != -1 {
						t.Errorf("SYNC_IOC_MERGE(%+v) failed but wrote fence = %d; want -1 left alone", tc.arg, out.Fence)
					}
				}
				if got := sfNextFD(f); got != before {
					t.Errorf("after failed MERGE, next fd = %d; want %d (reserved fd released)", got, before)
				}
				if got := f.d.Live().SyncFiles; got != live {
					t.Errorf("after failed MERGE, live sync_files = %d; want %d", got, live)
				}
			})
		}
		f.fds.close(objfd)
		f.teardown()
	})
	t.Run("EMFILE before anything else", func(t *testing.T) {
		f := newDRMFile(t)
		f.fds = newTestFDs(3)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		fd2 := f.swFence(tlfd, 2)
		for _, tc := range []struct {
			name string
			arg  uint64
		}{
			{"valid arg", sfPut(f.mem, &SyncMergeData{Fd2: fd2}, SyncMergeDataSize)},
			{"bad flags", sfPut(f.mem, &SyncMergeData{Fd2: fd2, Flags: 1}, SyncMergeDataSize)},
			{"bad fd2", sfPut(f.mem, &SyncMergeData{Fd2: 99}, SyncMergeDataSize)},
			{"arg fault", sfBadAddr},
		} {
			if got := sfSync(f, fd).Ioctl(f.mem, f.fds, SYNC_IOC_MERGE, tc.arg); got != errno.EMFILE {
				t.Errorf("SYNC_IOC_MERGE(%s) with a full fd table = %v; want EMFILE", tc.name, got)
			}
		}
		if got := f.d.Live().SyncFiles; got != 2 {
			t.Errorf("live sync_files after EMFILE = %d; want 2", got)
		}
		f.teardown()
	})
	t.Run("copy-out fault releases the fd", func(t *testing.T) {
		f := newDRMFile(t)
		_, tla := f.swTimelineNamed("a")
		_, tlb := f.swTimelineNamed("b")
		fa, fb := f.swFence(tla, 1), f.swFence(tlb, 1)
		before := sfState(f)
		if before.syncFiles != 2 {
			t.Fatalf("live sync_files before the merge = %d; want 2", before.syncFiles)
		}
		a := sfMergeArg(fb, "m")
		arg := sfPut(f.mem, &a, SyncMergeDataSize)
		mem := sfFaultOut{f.mem, arg}
		if got := sfSync(f, fa).Ioctl(mem, f.fds, SYNC_IOC_MERGE, arg); got != errno.EFAULT {
			t.Errorf("SYNC_IOC_MERGE with a faulting copy-out = %v; want EFAULT", got)
		}
		sfUnchanged(t, f, before, "a copy-out fault in MERGE")
		f.teardown()
	})
	t.Run("success writes the new fd", func(t *testing.T) {
		f := newDRMFile(t)
		_, tla := f.swTimelineNamed("a")
		_, tlb := f.swTimelineNamed("b")
		fa, fb := f.swFence(tla, 1), f.swFence(tlb, 1)
		want := sfNextFD(f)
		out, _, e := sfMergeRaw(f, f.mem, fa, sfMergeArg(fb, "m"))
		if e != 0 {
			t.Fatalf("SYNC_IOC_MERGE(%d, %d) = %v; want 0", fa, fb, e)
		}
		if out.Fence != want {
			t.Errorf("SYNC_IOC_MERGE(%d, %d).fence = %d; want %d", fa, fb, out.Fence, want)
		}
		if out.Fd2 != fb || cString(out.Name[:]) != "m" {
			t.Errorf("SYNC_IOC_MERGE rewrote fd2/name: %+v", out)
		}
		if _, ok := f.fds.file(out.Fence).(*SyncFile); !ok {
			t.Errorf("fd %d after MERGE is %T; want *SyncFile", out.Fence, f.fds.file(out.Fence))
		}
		f.teardown()
	})
	t.Run("with itself", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		m := sfMerge(f, fd, fd, "self")
		if got, want := sfFenceOf(f, m), sfFenceOf(f, fd); got != want {
			t.Errorf("MERGE(fd, fd) fence = %p; want the point itself %p", got, want)
		}
		if got := sfSync(f, m).Name(); got != "self" {
			t.Errorf("MERGE(fd, fd) name = %q; want %q", got, "self")
		}
		f.teardown()
	})
	t.Run("two timelines give an array sorted by context", func(t *testing.T) {
		f := newDRMFile(t)
		tlA, fdA := f.swTimelineNamed("a")
		tlB, fdB := f.swTimelineNamed("b")
		pa, pb := f.swFence(fdA, 1), f.swFence(fdB, 1)
		next := f.d.AllocContexts(1) + 1
		m := sfMerge(f, pb, pa, "m")
		arr := sfFenceOf(f, m)
		if !arr.IsArray() {
			t.Fatalf("MERGE of two timelines: IsArray() = false; want true")
		}
		if arr.Context() != next || arr.Seqno() != 1 {
			t.Errorf("MERGE array (context, seqno) = (%d, %d); want (%d, 1)", arr.Context(), arr.Seqno(), next)
		}
		mem := arr.Members()
		if len(mem) != 2 || mem[0] != sfFenceOf(f, pa) || mem[1] != sfFenceOf(f, pb) {
			t.Errorf("MERGE members = %v; want [point of %d, point of %d]", mem, tlA.Context(), tlB.Context())
		}
		f.teardown()
	})
	t.Run("one timeline keeps the later point", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		p2, p5 := f.swFence(tlfd, 2), f.swFence(tlfd, 5)
		for _, order := range [][2]int32{{p2, p5}, {p5, p2}} {
			m := sfMerge(f, order[0], order[1], "")
			if got, want := sfFenceOf(f, m), sfFenceOf(f, p5); got != want {
				t.Errorf("MERGE(%d, %d) fence seqno %d; want the point 5 itself", order[0], order[1], got.Seqno())
			}
			f.fds.close(m)
		}
		f.teardown()
	})
	t.Run("all signalled gives a private stub", func(t *testing.T) {
		f := newDRMFile(t)
		_, fdA := f.swTimelineNamed("a")
		_, fdB := f.swTimelineNamed("b")
		pa, pb := f.swFence(fdA, 1), f.swFence(fdB, 1)
		f.swInc(fdB, 1)
		tb := f.now()
		f.clock.Advance(ms)
		f.fds.close(fdA) // point a signals with ENOENT, later
		ta := f.now()
		m := sfMerge(f, pa, pb, "")
		st := sfFenceOf(f, m)
		if st == f.d.Stub() {
			t.Errorf("MERGE of signalled points returned the global stub; want a private stub")
		}
		if st.Context() != 0 || st.Seqno() != 0 || st.Status() != 1 {
			t.Errorf("MERGE of signalled points = (ctx %d, seqno %d, status %d); want (0, 0, 1): errors are lost", st.Context(), st.Seqno(), st.Status())
		}
		if ts, _ := st.Timestamp(); ts != ta || ta == tb {
			t.Errorf("MERGE stub timestamp = %d; want the latest leaf's %d", ts, ta)
		}
		sfWantInfo(t, f, m, "stub-stub0-0", 1, []sfLeaf{{"stub", "stub", 1, 0, uint64(ta)}}, 1)
		f.teardown()
	})
}

func TestSyncFileInfo(t *testing.T) {
	t.Run("errors", func(t *testing.T) {
		f := newDRMFile(t)
		_, fdA := f.swTimelineNamed("a")
		_, fdB := f.swTimelineNamed("b")
		m := sfMerge(f, f.swFence(fdA, 1), f.swFence(fdB, 1), "m") // two leaves
		buf := f.mem.alloc(4 * SyncFenceInfoSize)
		for _, tc := range []struct {
			name string
			in   SyncFileInfo
			addr bool
			want errno.Errno
		}{
			{"arg fault", SyncFileInfo{}, true, errno.EFAULT},
			{"flags", SyncFileInfo{Flags: 1}, false, errno.EINVAL},
			{"pad", SyncFileInfo{Pad: 1}, false, errno.EINVAL},
			{"flags with room", SyncFileInfo{Flags: 1, NumFences: 4, SyncFenceInfo: buf}, false, errno.EINVAL},
			{"flags before bad pointer", SyncFileInfo{Flags: 1, NumFences: 4, SyncFenceInfo: sfBadAddr}, false, errno.EINVAL},
			{"num_fences below count", SyncFileInfo{NumFences: 1, SyncFenceInfo: buf}, false, errno.EINVAL},
			{"count checked before the pointer", SyncFileInfo{NumFences: 1, SyncFenceInfo: sfBadAddr}, false, errno.EINVAL},
			{"info pointer fault", SyncFileInfo{NumFences: 2, SyncFenceInfo: sfBadAddr}, false, errno.EFAULT},
			{"info pointer zero", SyncFileInfo{NumFences: 2, SyncFenceInfo: 0}, false, errno.EFAULT},
			{"num_fences 0 ignores the pointer", SyncFileInfo{SyncFenceInfo: sfBadAddr}, false, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				arg := sfPut(f.mem, &tc.in, SyncFileInfoSize)
				if tc.addr {
					arg = sfBadAddr
				}
				got := sfSync(f, m).Ioctl(f.mem, f.fds, SYNC_IOC_FILE_INFO, arg)
				if got != tc.want {
					t.Errorf("SYNC_IOC_FILE_INFO(%+v) = %v; want %v", tc.in, got, tc.want)
				}
				if got != 0 && !tc.addr {
					var out SyncFileInfo
					out.Unmarshal(sfRead(f.mem, arg, SyncFileInfoSize))
					if out != tc.in {
						t.Errorf("SYNC_IOC_FILE_INFO(%+v) failed but wrote %+v", tc.in, out)
					}
				}
			})
		}
		t.Run("copy-out of the struct faults", func(t *testing.T) {
			for _, num := range []uint32{0, 2} {
				in := SyncFileInfo{NumFences: num, SyncFenceInfo: buf}
				arg := sfPut(f.mem, &in, SyncFileInfoSize)
				if got := sfSync(f, m).Ioctl(sfFaultOut{f.mem, arg}, f.fds, SYNC_IOC_FILE_INFO, arg); got != errno.EFAULT {
					t.Errorf("SYNC_IOC_FILE_INFO(num_fences %d) with faulting copy-out = %v; want EFAULT", num, got)
				}
			}
		})
		f.teardown()
	})
	t.Run("plain sw_sync point", func(t *testing.T) {
		f := newDRMFile(t)
		tl, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 7)
		name := fmt.Sprintf("sw_sync-igt%d-7", tl.Context())
		sfWantInfo(t, f, fd, name, 0, []sfLeaf{{"igt", "sw_sync", 0, 0, 0}}, 0)
		f.clock.Advance(3 * ms)
		f.swInc(tlfd, 7)
		ts := uint64(f.now())
		sfWantInfo(t, f, fd, name, 1, []sfLeaf{{"igt", "sw_sync", 1, 0, ts}}, 1)
		t.Run("spare room is left untouched", func(t *testing.T) {
			buf := f.mem.alloc(3 * SyncFenceInfoSize)
			junk := make([]byte, 3*SyncFenceInfoSize)
			for i := range junk {
				junk[i] = 0xAA
			}
			f.mem.CopyOut(buf, junk)
			out, _, e := sfFileInfoRaw(f, f.mem, fd, SyncFileInfo{NumFences: 3, SyncFenceInfo: buf})
			if e != 0 || out.NumFences != 1 || out.Status != 1 {
				t.Errorf("FILE_INFO(num_fences 3) = %v, num_fences %d, status %d; want 0, 1, 1", e, out.NumFences, out.Status)
			}
			rest := sfRead(f.mem, buf+SyncFenceInfoSize, 2*SyncFenceInfoSize)
			if !slices.Equal(rest, junk[:2*SyncFenceInfoSize]) {
				t.Errorf("FILE_INFO(num_fences 3) wrote past the one leaf it has")
			}
		})
		f.teardown()
	})
	t.Run("merged array of two timelines", func(t *testing.T) {
		f := newDRMFile(t)
		_, fdA := f.swTimelineNamed("tl-a")
		_, fdB := f.swTimelineNamed("tl-b")
		pa, pb := f.swFence(fdA, 1), f.swFence(fdB, 1)
		m := sfMerge(f, pb, pa, "merged") // leaves come out in context order: a, b
		sfWantInfo(t, f, m, "merged", 0, []sfLeaf{{"tl-a", "sw_sync", 0, 0, 0}, {"tl-b", "sw_sync", 0, 0, 0}}, 0)
		f.clock.Advance(2 * ms)
		f.fds.close(fdA) // a: ENOENT
		ta := uint64(f.now())
		// The array is still pending (status 0) but the overall status
		// from the leaves is the first non-positive one: a's -ENOENT.
		sfWantInfo(t, f, m, "merged", 0, []sfLeaf{{"tl-a", "sw_sync", -2, 0, ta}, {"tl-b", "sw_sync", 0, 0, 0}}, -2)
		f.clock.Advance(2 * ms)
		f.swInc(fdB, 1)
		tb := uint64(f.now())
		sfWantInfo(t, f, m, "merged", -2, []sfLeaf{{"tl-a", "sw_sync", -2, 0, ta}, {"tl-b", "sw_sync", 1, 0, tb}}, -2)
		f.teardown()
	})
	t.Run("merged array, pending leaf before errored leaf", func(t *testing.T) {
		f := newDRMFile(t)
		_, fdA := f.swTimelineNamed("tl-a")
		_, fdB := f.swTimelineNamed("tl-b")
		m := sfMerge(f, f.swFence(fdA, 1), f.swFence(fdB, 1), "m")
		f.clock.Advance(ms)
		f.fds.close(fdB)
		tb := uint64(f.now())
		sfWantInfo(t, f, m, "m", 0, []sfLeaf{{"tl-a", "sw_sync", 0, 0, 0}, {"tl-b", "sw_sync", -2, 0, tb}}, 0)
		f.clock.Advance(ms)
		f.swInc(fdA, 1)
		ta := uint64(f.now())
		sfWantInfo(t, f, m, "m", -2, []sfLeaf{{"tl-a", "sw_sync", 1, 0, ta}, {"tl-b", "sw_sync", -2, 0, tb}}, -2)
		f.teardown()
	})
	t.Run("exported timeline chain node", func(t *testing.T) {
		f := newDRMFile(t)
		fd, tlA, tlB := sfExportChain(f, "tl-a", "tl-b")
		head := sfFenceOf(f, fd)
		if !head.IsChain() || head.Seqno() != 2 {
			t.Fatalf("EXPORT_SYNC_FILE fence: IsChain %v seqno %d; want the chain node at point 2", head.IsChain(), head.Seqno())
		}
		name := fmt.Sprintf("dma_fence_chain-unbound%d-2", head.Context())
		// Head's payload first, then the older point's.
		sfWantInfo(t, f, fd, name, 0, []sfLeaf{{"tl-b", "sw_sync", 0, 0, 0}, {"tl-a", "sw_sync", 0, 0, 0}}, 0)
		f.clock.Advance(ms)
		f.swInc(tlA, 1)
		// Point 1 signalled: the walk below the head drops it.
		sfWantInfo(t, f, fd, name, 0, []sfLeaf{{"tl-b", "sw_sync", 0, 0, 0}}, 0)
		f.clock.Advance(ms)
		f.swInc(tlB, 1)
		tb := uint64(f.now())
		// The head's own payload is always reported, signalled or not.
		sfWantInfo(t, f, fd, name, 1, []sfLeaf{{"tl-b", "sw_sync", 1, 0, tb}}, 1)
		f.teardown()
	})
	t.Run("exported chain, head signalled first", func(t *testing.T) {
		f := newDRMFile(t)
		fd, tlA, tlB := sfExportChain(f, "tl-a", "tl-b")
		name := fmt.Sprintf("dma_fence_chain-unbound%d-2", sfFenceOf(f, fd).Context())
		f.clock.Advance(ms)
		f.swInc(tlB, 1)
		tb := uint64(f.now())
		sfWantInfo(t, f, fd, name, 0, []sfLeaf{{"tl-b", "sw_sync", 1, 0, tb}, {"tl-a", "sw_sync", 0, 0, 0}}, 0)
		f.clock.Advance(ms)
		f.swInc(tlA, 1)
		sfWantInfo(t, f, fd, name, 1, []sfLeaf{{"tl-b", "sw_sync", 1, 0, tb}}, 1)
		f.teardown()
	})
}

func TestSyncFileSetDeadline(t *testing.T) {
	t.Run("errors", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		for _, tc := range []struct {
			name string
			arg  *SyncSetDeadline
			want errno.Errno
		}{
			{"arg fault", nil, errno.EFAULT},
			{"pad", &SyncSetDeadline{DeadlineNs: 5, Pad: 1}, errno.EINVAL},
			{"pad high bit", &SyncSetDeadline{Pad: 1 << 63}, errno.EINVAL},
			{"ok", &SyncSetDeadline{DeadlineNs: 5}, 0},
			{"ok zero", &SyncSetDeadline{}, 0},
		} {
			arg := uint64(sfBadAddr)
			if tc.arg != nil {
				arg = sfPut(f.mem, tc.arg, SyncSetDeadlineSize)
			}
			if got := sfSync(f, fd).Ioctl(f.mem, f.fds, SYNC_IOC_SET_DEADLINE, arg); got != tc.want {
				t.Errorf("SYNC_IOC_SET_DEADLINE(%s) = %v; want %v", tc.name, got, tc.want)
			}
		}
		f.teardown()
	})
	t.Run("pad error records nothing", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		sfSetDeadlineRaw(f, fd, SyncSetDeadline{DeadlineNs: 5, Pad: 1})
		if _, e := sfGetDeadline(f, tlfd, fd); e != errno.ENOENT {
			t.Errorf("GET_DEADLINE after a rejected SET_DEADLINE = %v; want ENOENT", e)
		}
		f.teardown()
	})
	t.Run("earliest kept", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		for _, step := range []struct{ set, want uint64 }{{500, 500}, {700, 500}, {300, 300}, {300, 300}, {301, 300}} {
			sfSetDeadline(f, fd, step.set)
			if got, e := sfGetDeadline(f, tlfd, fd); e != 0 || got != step.want {
				t.Errorf("GET_DEADLINE after SET_DEADLINE(%d) = %d, %v; want %d, 0", step.set, got, e, step.want)
			}
		}
		f.teardown()
	})
	t.Run("through an array", func(t *testing.T) {
		f := newDRMFile(t)
		_, fdA := f.swTimelineNamed("a")
		_, fdB := f.swTimelineNamed("b")
		pa, pb := f.swFence(fdA, 1), f.swFence(fdB, 1)
		m := sfMerge(f, pa, pb, "m")
		sfSetDeadline(f, m, 1234)
		sfWantDeadlines(t, f, "the merge", 1234, [2]int32{fdA, pa}, [2]int32{fdB, pb})
		f.teardown()
	})
	t.Run("through a chain", func(t *testing.T) {
		f := newDRMFile(t)
		fd, tlA, tlB := sfExportChain(f, "a", "b")
		// The points' own sync_files: re-create them (same value, pending: shared).
		pa, pb := f.swFence(tlA, 1), f.swFence(tlB, 1)
		sfSetDeadline(f, fd, 999)
		sfWantDeadlines(t, f, "the chain", 999, [2]int32{tlA, pa}, [2]int32{tlB, pb})
		f.teardown()
	})
	t.Run("signalled fence ignores it", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 0) // value 0 is reached already
		sfSetDeadline(f, fd, 50)
		if _, e := sfGetDeadline(f, tlfd, fd); e != errno.ENOENT {
			t.Errorf("GET_DEADLINE after SET_DEADLINE on a signalled point = %v; want ENOENT", e)
		}
		f.teardown()
	})
}

func TestSyncFileIoctlUnknown(t *testing.T) {
	f := newDRMFile(t)
	_, tlfd := f.swTimeline()
	fd := f.swFence(tlfd, 1)
	for _, req := range []uint32{
		0,
		0xC0283E03, // MERGE with another size
		0x40303E03, // MERGE with another direction
		0xC0303E02, // nr 2
		0xC0303E04, // FILE_INFO nr with MERGE's size
		0x80383E04, // FILE_INFO read-only
		0x40083E05, // SET_DEADLINE with another size
		0xC0103E05, // SET_DEADLINE read-write
		0x40103E06,
		0xC0303F03, // another magic
		SW_SYNC_IOC_CREATE_FENCE,
		SW_SYNC_IOC_INC,
		SW_SYNC_GET_DEADLINE,
	} {
		for _, arg := range []uint64{sfBadAddr, f.mem.alloc(64)} {
			if got := sfSync(f, fd).Ioctl(f.mem, f.fds, req, arg); got != errno.ENOTTY {
				t.Errorf("sync_file Ioctl(%#x, %#x) = %v; want ENOTTY", req, arg, got)
			}
		}
	}
	f.teardown()
}

func TestSyncFilePoll(t *testing.T) {
	f := newDRMFile(t)
	_, tlfd := f.swTimeline()
	fd := f.swFence(tlfd, 2)
	s := sfSync(f, fd)
	if got := s.Poll(); got != 0 {
		t.Errorf("Poll() pending = %#x; want 0", got)
	}
	f.swInc(tlfd, 1)
	if got := s.Poll(); got != 0 {
		t.Errorf("Poll() after INC(1) of point 2 = %#x; want 0", got)
	}
	f.swInc(tlfd, 1)
	if got := s.Poll(); got != POLLIN {
		t.Errorf("Poll() signalled = %#x; want POLLIN", got)
	}
	fd2 := f.swFence(tlfd, 3)
	f.fds.close(tlfd) // signalled with an error: still readable
	if got := sfSync(f, fd2).Poll(); got != POLLIN {
		t.Errorf("Poll() after the timeline closed = %#x; want POLLIN", got)
	}
	f.teardown()
}

// ---------------------------------------------------------------------------
// sw_sync

func TestSwSyncCreateFence(t *testing.T) {
	t.Run("EMFILE before copy-in", func(t *testing.T) {
		f := newDRMFile(t)
		f.fds = newTestFDs(2)
		_, tlfd := f.swTimeline()
		f.swFence(tlfd, 1)
		tl := sfTL(f, tlfd)
		for _, arg := range []uint64{sfPut(f.mem, &SwSyncCreateFenceData{Value: 2}, SwSyncCreateFenceDataSize), sfBadAddr} {
			if got := tl.Ioctl(f.mem, f.fds, SW_SYNC_IOC_CREATE_FENCE, arg); got != errno.EMFILE {
				t.Errorf("SW_SYNC_IOC_CREATE_FENCE(arg %#x) with a full fd table = %v; want EMFILE", arg, got)
			}
		}
		if got := f.d.Live().SyncFiles; got != 1 {
			t.Errorf("live sync_files after EMFILE = %d; want 1", got)
		}
		f.teardown()
	})
	t.Run("copy-in fault", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		before := sfState(f)
		if got := sfTL(f, tlfd).Ioctl(f.mem, f.fds, SW_SYNC_IOC_CREATE_FENCE, sfBadAddr); got != errno.EFAULT {
			t.Errorf("SW_SYNC_IOC_CREATE_FENCE(%#x) = %v; want EFAULT", sfBadAddr, got)
		}
		sfUnchanged(t, f, before, "a copy-in fault in CREATE_FENCE")
		f.teardown()
	})
	t.Run("copy-out fault", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		before := sfState(f)
		in := SwSyncCreateFenceData{Value: 1, Fence: -1}
		arg := sfPut(f.mem, &in, SwSyncCreateFenceDataSize)
		if got := sfTL(f, tlfd).Ioctl(sfFaultOut{f.mem, arg}, f.fds, SW_SYNC_IOC_CREATE_FENCE, arg); got != errno.EFAULT {
			t.Errorf("SW_SYNC_IOC_CREATE_FENCE with faulting copy-out = %v; want EFAULT", got)
		}
		sfUnchanged(t, f, before, "a copy-out fault in CREATE_FENCE")
		f.teardown()
	})
	t.Run("fd, names, context and seqno", func(t *testing.T) {
		f := newDRMFile(t)
		tl, tlfd := f.swTimeline()
		in := SwSyncCreateFenceData{Value: 9, Fence: -1}
		copy(in.Name[:], "ignored-name")
		want := sfNextFD(f)
		out, _, e := sfCreateFence(f, f.mem, tlfd, in)
		if e != 0 {
			t.Fatalf("SW_SYNC_IOC_CREATE_FENCE(9) = %v; want 0", e)
		}
		if out.Fence != want || out.Value != 9 {
			t.Errorf("SW_SYNC_IOC_CREATE_FENCE(9) -> fence %d value %d; want fence %d value 9", out.Fence, out.Value, want)
		}
		fe := sfFenceOf(f, out.Fence)
		if fe.Context() != tl.Context() || fe.Seqno() != 9 || fe.DriverName() != "sw_sync" || fe.TimelineName() != "igt" {
			t.Errorf("point = (ctx %d, seqno %d, %q, %q); want (%d, 9, \"sw_sync\", \"igt\")",
				fe.Context(), fe.Seqno(), fe.DriverName(), fe.TimelineName(), tl.Context())
		}
		sfWantInfo(t, f, out.Fence, fmt.Sprintf("sw_sync-igt%d-9", tl.Context()), 0, []sfLeaf{{"igt", "sw_sync", 0, 0, 0}}, 0)
		tl2, _ := f.swTimeline()
		if tl2.Context() == tl.Context() {
			t.Errorf("two timelines share context %d; want distinct", tl.Context())
		}
		f.teardown()
	})
	t.Run("same pending value shares one fence", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		a, b := f.swFence(tlfd, 5), f.swFence(tlfd, 5)
		if a == b {
			t.Fatalf("two CREATE_FENCE(5) gave the same fd %d", a)
		}
		if fa, fb := sfFenceOf(f, a), sfFenceOf(f, b); fa != fb {
			t.Errorf("CREATE_FENCE(5) twice: fences %p, %p; want one shared fence", fa, fb)
		}
		if fa, fc := sfFenceOf(f, a), sfFenceOf(f, f.swFence(tlfd, 6)); fa == fc {
			t.Errorf("CREATE_FENCE(5) and CREATE_FENCE(6) share a fence")
		}
		f.teardown()
	})
	t.Run("reached values are created signalled", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		for _, tc := range []struct {
			value  uint32
			status int32
		}{
			{0, 1},          // counter 0 has reached 0
			{1, 0},          // pending
			{0x7FFFFFFF, 0}, // half the range ahead: pending
			{0x80000000, 1}, // (int32)(0x80000000 - 0) < 0: reached
			{0xFFFFFFFF, 1}, // -1: reached
		} {
			fe := sfFenceOf(f, f.swFence(tlfd, tc.value))
			if got := fe.Status(); got != tc.status {
				t.Errorf("CREATE_FENCE(%#x) on a counter at 0: Status() = %d; want %d", tc.value, got, tc.status)
			}
		}
		f.swInc(tlfd, 10)
		f.clock.Advance(ms)
		fe := sfFenceOf(f, f.swFence(tlfd, 10))
		if ts, ok := fe.Timestamp(); !ok || ts != f.now() {
			t.Errorf("CREATE_FENCE(10) at counter 10: Timestamp() = %d, %v; want %d, true", ts, ok, f.now())
		}
		// Signalled points are not shared: each create makes a new fence.
		if a, b := sfFenceOf(f, f.swFence(tlfd, 3)), sfFenceOf(f, f.swFence(tlfd, 3)); a == b || a.Status() != 1 {
			t.Errorf("CREATE_FENCE(3) twice at counter 10: shared %v status %d; want distinct signalled fences", a == b, a.Status())
		}
		f.teardown()
	})
}

func TestSwSyncInc(t *testing.T) {
	t.Run("copy-in fault", func(t *testing.T) {
		f := newDRMFile(t)
		tl, _ := f.swTimeline()
		if got := tl.Ioctl(f.mem, f.fds, SW_SYNC_IOC_INC, sfBadAddr); got != errno.EFAULT {
			t.Errorf("SW_SYNC_IOC_INC(%#x) = %v; want EFAULT", sfBadAddr, got)
		}
		if tl.Value() != 0 {
			t.Errorf("Value() after failed INC = %d; want 0", tl.Value())
		}
		f.teardown()
	})
	t.Run("signals reached points in order", func(t *testing.T) {
		f := newDRMFile(t)
		tl, tlfd := f.swTimeline()
		var order []uint64
		fds := map[uint32]int32{}
		for _, v := range []uint32{3, 1, 4, 2} {
			fds[v] = f.swFence(tlfd, v)
			fe := sfFenceOf(f, fds[v])
			if _, ok := fe.AddCallback(func(x *Fence) { order = append(order, x.Seqno()) }); !ok {
				t.Fatalf("AddCallback on pending point %d = false", v)
			}
		}
		f.clock.Advance(ms)
		f.swInc(tlfd, 2)
		t2 := f.now()
		if want := []uint64{1, 2}; !slices.Equal(order, want) {
			t.Errorf("INC(2): signal order %v; want %v", order, want)
		}
		for v, want := range map[uint32]int32{1: 1, 2: 1, 3: 0, 4: 0} {
			if got := sfFenceOf(f, fds[v]).Status(); got != want {
				t.Errorf("after INC(2), point %d Status() = %d; want %d", v, got, want)
			}
		}
		if ts, _ := sfFenceOf(f, fds[1]).Timestamp(); ts != t2 {
			t.Errorf("point 1 timestamp = %d; want %d", ts, t2)
		}
		f.swInc(tlfd, 0)
		if want := []uint64{1, 2}; !slices.Equal(order, want) {
			t.Errorf("INC(0): signal order %v; want %v", order, want)
		}
		f.swInc(tlfd, 5)
		if want := []uint64{1, 2, 3, 4}; !slices.Equal(order, want) {
			t.Errorf("INC(5): signal order %v; want %v", order, want)
		}
		if tl.Value() != 7 {
			t.Errorf("Value() = %d; want 7", tl.Value())
		}
		f.teardown()
	})
	t.Run("above INT_MAX in INT_MAX steps", func(t *testing.T) {
		f := newDRMFile(t)
		tl, tlfd := f.swTimeline()
		fd := f.swFence(tlfd, 1)
		// One jump of 0xFFFFFFFF would land at -1, "before" 1 in the 32-bit
		// compare; steps of INT_MAX pass 1 on the way.
		f.swInc(tlfd, 0xFFFFFFFF)
		if got := sfFenceOf(f, fd).Status(); got != 1 {
			t.Errorf("INC(0xFFFFFFFF) from 0: point 1 Status() = %d; want 1", got)
		}
		if got := tl.Value(); got != 0xFFFFFFFF {
			t.Errorf("INC(0xFFFFFFFF) from 0: Value() = %#x; want 0xFFFFFFFF", got)
		}
		fd2 := f.swFence(tlfd, 0x7FFFFFFE) // 0x7FFFFFFF ahead: pending
		if got := sfFenceOf(f, fd2).Status(); got != 0 {
			t.Fatalf("CREATE_FENCE(0x7FFFFFFE) at -1: Status() = %d; want 0", got)
		}
		f.swInc(tlfd, math.MaxInt32)
		if got := sfFenceOf(f, fd2).Status(); got != 1 {
			t.Errorf("INC(INT_MAX) to 0x7FFFFFFE: Status() = %d; want 1", got)
		}
		f.teardown()
	})
	t.Run("wraps around zero", func(t *testing.T) {
		f := newDRMFile(t)
		_, tlfd := f.swTimeline()
		f.swInc(tlfd, 0xFFFFFFF0)
		fd := f.swFence(tlfd, 5) // 21 ahead of 0xFFFFFFF0
		if got := sfFenceOf(f, fd).Status(); got != 0 {
			t.Fatalf("CREATE_FENCE(5) at 0xFFFFFFF0: Status() = %d; want 0", got)
		}
		f.swInc(tlfd, 0x14)
		if got := sfFenceOf(f, fd).Status(); got != 0 {
			t.Errorf("counter 4, point 5: Status() = %d; want 0", got)
		}
		f.swInc(tlfd, 1)
		if got := sfFenceOf(f, fd).Status(); got != 1 {
			t.Errorf("counter 5, point 5: Status() = %d; want 1", got)
		}
		f.teardown()
	})
}

func TestSwSyncClose(t *testing.T) {
	f := newDRMFile(t)
	_, tlfd := f.swTimeline()
	done := f.swFence(tlfd, 1)
	f.swInc(tlfd, 1)
	var order []uint64
	pts := []int32{f.swFence(tlfd, 9), f.swFence(tlfd, 4), f.swFence(tlfd, 6)}
	for _, fd := range pts {
		sfFenceOf(f, fd).AddCallback(func(x *Fence) { order = append(order, x.Seqno()) })
	}
	tl := sfTL(f, tlfd)
	tl.IncRef()
	f.fds.close(tlfd)
	if len(order) != 0 {
		t.Errorf("closing an fd while another reference remains signalled %v; want nothing", order)
	}
	f.clock.Advance(ms)
	tl.DecRef()
	if want := []uint64{4, 6, 9}; !slices.Equal(order, want) {
		t.Errorf("last DecRef signal order %v; want %v", order, want)
	}
	for _, fd := range pts {
		fe := sfFenceOf(f, fd)
		if fe.Status() != -2 || fe.Error() != errno.ENOENT {
			t.Errorf("point %d after close: Status() = %d, Error() = %v; want -2, ENOENT", fe.Seqno(), fe.Status(), fe.Error())
		}
		if ts, _ := fe.Timestamp(); ts != f.now() {
			t.Errorf("point %d after close: timestamp %d; want %d", fe.Seqno(), ts, f.now())
		}
	}
	if got := sfFenceOf(f, done).Status(); got != 1 {
		t.Errorf("already signalled point after close: Status() = %d; want 1", got)
	}
	if got := f.d.Live().Timelines; got != 0 {
		t.Errorf("Live().Timelines after close = %d; want 0", got)
	}
	f.teardown()
}

func TestSwSyncGetDeadline(t *testing.T) {
	f := newDRMFile(t)
	_, tlfd := f.swTimeline()
	_, otherfd := f.swTimelineNamed("other")
	pt := f.swFence(tlfd, 1)
	fresh := f.swFence(tlfd, 2)
	otherPt := f.swFence(otherfd, 1)
	merged := sfMerge(f, pt, otherPt, "m")
	chain, _, _ := sfExportChain(f, "ca", "cb")
	sfSetDeadline(f, pt, 777)
	sfSetDeadline(f, otherPt, 888)
	h := f.mustCreate(0)
	objfd, _ := f.handleToFD(h, 0)
	closed := f.swFence(tlfd, 3)
	f.fds.close(closed)

	for _, tc := range []struct {
		name string
		arg  *SwSyncGetDeadline
		want errno.Errno
		ns   uint64
	}{
		{"arg fault", nil, errno.EFAULT, 0},
		{"deadline_ns set", &SwSyncGetDeadline{DeadlineNs: 1, FenceFd: pt}, errno.EINVAL, 0},
		{"pad set", &SwSyncGetDeadline{Pad: 1, FenceFd: pt}, errno.EINVAL, 0},
		{"fd not open", &SwSyncGetDeadline{FenceFd: 999}, errno.EINVAL, 0},
		{"fd negative", &SwSyncGetDeadline{FenceFd: -1}, errno.EINVAL, 0},
		{"fd closed", &SwSyncGetDeadline{FenceFd: closed}, errno.EINVAL, 0},
		{"fd is the timeline", &SwSyncGetDeadline{FenceFd: tlfd}, errno.EINVAL, 0},
		{"fd is a syncobj", &SwSyncGetDeadline{FenceFd: objfd}, errno.EINVAL, 0},
		{"fd is a merged array", &SwSyncGetDeadline{FenceFd: merged}, errno.EINVAL, 0},
		{"fd is a chain node", &SwSyncGetDeadline{FenceFd: chain}, errno.EINVAL, 0},
		{"no deadline set", &SwSyncGetDeadline{FenceFd: fresh}, errno.ENOENT, 0},
		{"deadline set", &SwSyncGetDeadline{FenceFd: pt}, 0, 777},
		// Linux 6.12 dma_fence_to_sync_pt checks only fence->ops ==
		// &timeline_fence_ops, not which timeline: a point of another
		// sw_sync timeline answers with its own deadline.
		{"point of another sw_sync timeline", &SwSyncGetDeadline{FenceFd: otherPt}, 0, 888},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arg := uint64(sfBadAddr)
			if tc.arg != nil {
				arg = sfPut(f.mem, tc.arg, SwSyncGetDeadlineSize)
			}
			got := sfTL(f, tlfd).Ioctl(f.mem, f.fds, SW_SYNC_GET_DEADLINE, arg)
			if got != tc.want {
				t.Errorf("SW_SYNC_GET_DEADLINE(%+v) = %v; want %v", tc.arg, got, tc.want)
			}
			if tc.arg != nil {
				var out SwSyncGetDeadline
				out.Unmarshal(sfRead(f.mem, arg, SwSyncGetDeadlineSize))
				want := *tc.arg
				if tc.want == 0 {
					want.DeadlineNs = tc.ns
				}
				if out != want {
					t.Errorf("SW_SYNC_GET_DEADLINE(%+v) left %+v; want %+v", tc.arg, out, want)
				}
			}
		})
	}
	t.Run("copy-out fault", func(t *testing.T) {
		a := SwSyncGetDeadline{FenceFd: pt}
		arg := sfPut(f.mem, &a, SwSyncGetDeadlineSize)
		if got := sfTL(f, tlfd).Ioctl(sfFaultOut{f.mem, arg}, f.fds, SW_SYNC_GET_DEADLINE, arg); got != errno.EFAULT {
			t.Errorf("SW_SYNC_GET_DEADLINE with faulting copy-out = %v; want EFAULT", got)
		}
	})
	f.fds.close(objfd)
	f.teardown()
}

func TestSwSyncIoctlUnknown(t *testing.T) {
	f := newDRMFile(t)
	tl, _ := f.swTimeline()
	for _, req := range []uint32{
		0,
		0xC0285701, // CREATE_FENCE size with INC's nr
		0x40045700, // INC size with CREATE_FENCE's nr
		0x40085701, // INC with a u64
		0x80045701, // INC read-only
		0x80105702, // GET_DEADLINE read-only
		0xC0105703,
		0xC0285600, // another magic
		SYNC_IOC_MERGE,
		SYNC_IOC_FILE_INFO,
		SYNC_IOC_SET_DEADLINE,
	} {
		for _, arg := range []uint64{sfBadAddr, f.mem.alloc(64)} {
			if got := tl.Ioctl(f.mem, f.fds, req, arg); got != errno.ENOTTY {
				t.Errorf("sw_sync Ioctl(%#x, %#x) = %v; want ENOTTY", req, arg, got)
			}
		}
	}
	if tl.Value() != 0 {
		t.Errorf("Value() after unknown ioctls = %d; want 0", tl.Value())
	}
	f.teardown()
}

// ---------------------------------------------------------------------------
// dma_fence core

func TestFenceContexts(t *testing.T) {
	d, _ := sfDomain()
	for _, tc := range []struct {
		n    uint32
		want uint64
	}{{1, 1}, {3, 2}, {1, 5}, {2, 6}, {1, 8}} {
		if got := d.AllocContexts(tc.n); got != tc.want {
			t.Errorf("AllocContexts(%d) = %d; want %d", tc.n, got, tc.want)
		}
	}
	// Each domain counts on its own.
	d2, _ := sfDomain()
	if got := d2.AllocContexts(1); got != 1 {
		t.Errorf("AllocContexts(1) on a new domain = %d; want 1", got)
	}
}

func TestFenceStub(t *testing.T) {
	d, c := sfDomain()
	s := d.Stub()
	if s != d.Stub() {
		t.Errorf("Stub() returns different fences; want one global stub")
	}
	if s.Context() != 0 || s.Seqno() != 0 || !s.IsSignaled() || s.Status() != 1 {
		t.Errorf("Stub() = (ctx %d, seqno %d, signalled %v, status %d); want (0, 0, true, 1)", s.Context(), s.Seqno(), s.IsSignaled(), s.Status())
	}
	if ts, ok := s.Timestamp(); !ok || ts != 1000 {
		t.Errorf("Stub().Timestamp() = %d, %v; want 1000, true", ts, ok)
	}
	if s.Signal() {
		t.Errorf("Stub().Signal() = true; want false")
	}
	c.Advance(5)
	p := d.NewStub(777)
	if p == s || p.Context() != 0 || p.Seqno() != 0 || p.Status() != 1 {
		t.Errorf("NewStub(777) = (global %v, ctx %d, seqno %d, status %d); want a new (0, 0, 1)", p == s, p.Context(), p.Seqno(), p.Status())
	}
	if ts, ok := p.Timestamp(); !ok || ts != 777 {
		t.Errorf("NewStub(777).Timestamp() = %d, %v; want 777, true", ts, ok)
	}
	if p.DriverName() != "stub" || p.TimelineName() != "stub" {
		t.Errorf("NewStub names = %q, %q; want \"stub\", \"stub\"", p.DriverName(), p.TimelineName())
	}
	called := false
	if cb, ok := p.AddCallback(func(*Fence) { called = true }); cb != nil || ok {
		t.Errorf("NewStub().AddCallback = %v, %v; want nil, false", cb, ok)
	}
	if called {
		t.Errorf("AddCallback on a stub ran the callback")
	}
}

func TestFenceSignal(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		d, c := sfDomain()
		f := d.NewFence(d.AllocContexts(1), 1, "drv", "tl")
		if f.IsSignaled() || f.Status() != 0 || f.Error() != 0 {
			t.Errorf("new fence: signalled %v status %d error %v; want false 0 0", f.IsSignaled(), f.Status(), f.Error())
		}
		if ts, ok := f.Timestamp(); ok || ts != 0 {
			t.Errorf("pending Timestamp() = %d, %v; want 0, false", ts, ok)
		}
		c.Advance(10)
		if !f.Signal() {
			t.Errorf("Signal() on pending = false; want true")
		}
		c.Advance(10)
		if f.Signal() {
			t.Errorf("Signal() on signalled = true; want false")
		}
		if f.SignalError(errno.EIO) {
			t.Errorf("SignalError(EIO) on signalled = true; want false")
		}
		if f.Status() != 1 || f.Error() != 0 {
			t.Errorf("after Signal, then SignalError: status %d error %v; want 1, 0", f.Status(), f.Error())
		}
		if ts, ok := f.Timestamp(); !ok || ts != 1010 {
			t.Errorf("Timestamp() = %d, %v; want 1010, true (first signal's time)", ts, ok)
		}
	})
	t.Run("with error", func(t *testing.T) {
		d, _ := sfDomain()
		f := d.NewFence(d.AllocContexts(1), 1, "drv", "tl")
		if !f.SignalError(errno.EIO) {
			t.Errorf("SignalError(EIO) = false; want true")
		}
		if f.Status() != -5 || f.Error() != errno.EIO || !f.IsSignaled() {
			t.Errorf("after SignalError(EIO): status %d error %v signalled %v; want -5, EIO, true", f.Status(), f.Error(), f.IsSignaled())
		}
		if f.Signal() {
			t.Errorf("Signal() after SignalError = true; want false")
		}
		if f.Status() != -5 {
			t.Errorf("Status() = %d; want -5", f.Status())
		}
	})
	t.Run("identity", func(t *testing.T) {
		d, _ := sfDomain()
		f := d.NewFence(7, 9, "virtio_gpu", "controlq")
		if f.Context() != 7 || f.Seqno() != 9 || f.DriverName() != "virtio_gpu" || f.TimelineName() != "controlq" || f.IsChain() || f.IsArray() || f.Domain() != d {
			t.Errorf("NewFence(7, 9) = (%d, %d, %q, %q, chain %v, array %v); want (7, 9, virtio_gpu, controlq, false, false)",
				f.Context(), f.Seqno(), f.DriverName(), f.TimelineName(), f.IsChain(), f.IsArray())
		}
		f.SetSeqno(11)
		if f.Seqno() != 11 {
			t.Errorf("SetSeqno(11): Seqno() = %d; want 11", f.Seqno())
		}
	})
}

func TestFenceCallbacks(t *testing.T) {
	d, _ := sfDomain()
	f := d.NewFence(d.AllocContexts(1), 1, "drv", "tl")
	var got []int
	var cbs []*Callback
	for i := range 5 {
		cb, ok := f.AddCallback(func(x *Fence) {
			if x != f || x.Status() != 1 {
				t.Errorf("callback %d: fence %p status %d; want %p status 1", i, x, x.Status(), f)
			}
			got = append(got, i)
		})
		if !ok || cb == nil {
			t.Fatalf("AddCallback on pending = %v, %v; want a registration, true", cb, ok)
		}
		cbs = append(cbs, cb)
	}
	if !cbs[2].Remove() {
		t.Errorf("Remove() of a registered callback = false; want true")
	}
	if cbs[2].Remove() {
		t.Errorf("second Remove() = true; want false")
	}
	if n := d.Live().Callbacks; n != 4 {
		t.Errorf("Live().Callbacks = %d; want 4", n)
	}
	f.Signal()
	if want := []int{0, 1, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("callbacks ran %v; want %v", got, want)
	}
	if cbs[0].Remove() {
		t.Errorf("Remove() after the callback ran = true; want false")
	}
	if n := d.Live().Callbacks; n != 0 {
		t.Errorf("Live().Callbacks after signal = %d; want 0", n)
	}
	late := false
	if cb, ok := f.AddCallback(func(*Fence) { late = true }); cb != nil || ok {
		t.Errorf("AddCallback on signalled = %v, %v; want nil, false", cb, ok)
	}
	f.Signal()
	if late {
		t.Errorf("callback added after signalling ran")
	}
	var nilcb *Callback
	if nilcb.Remove() {
		t.Errorf("(*Callback)(nil).Remove() = true; want false")
	}
	// A callback may call back into the package.
	g := d.NewFence(d.AllocContexts(1), 1, "drv", "tl")
	h := d.NewFence(d.AllocContexts(1), 1, "drv", "tl")
	g.AddCallback(func(*Fence) { h.Signal() })
	g.Signal()
	if !h.IsSignaled() {
		t.Errorf("fence signalled from another fence's callback: IsSignaled() = false; want true")
	}
}

func TestFenceIsLater(t *testing.T) {
	d, _ := sfDomain()
	ctx := d.AllocContexts(1)
	other := d.AllocContexts(1)
	for _, tc := range []struct {
		a, b uint64
		want bool
	}{
		{2, 1, true},
		{1, 2, false},
		{1, 1, false},
		{1, 0xFFFFFFFF, true},              // wrapped
		{0xFFFFFFFF, 1, false},             // wrapped
		{0x7FFFFFFF, 0, true},              // just under half the range
		{0x80000000, 0, false},             // half the range: (int32) negative
		{0x1_00000001, 2, false},           // only the low 32 bits count
		{0x1_00000002, 0x2_00000001, true}, // despite the smaller 64-bit value
		{0x1_00000000, 0, false},           // equal low halves
	} {
		a, b := d.NewFence(ctx, tc.a, "d", "t"), d.NewFence(ctx, tc.b, "d", "t")
		if got := IsLater(a, b); got != tc.want {
			t.Errorf("IsLater(seqno %#x, seqno %#x) = %v; want %v", tc.a, tc.b, got, tc.want)
		}
	}
	a, b := d.NewFence(ctx, 5, "d", "t"), d.NewFence(other, 1, "d", "t")
	if IsLater(a, b) || IsLater(b, a) {
		t.Errorf("IsLater across contexts = %v, %v; want false, false", IsLater(a, b), IsLater(b, a))
	}
	if !IsLaterOrSame(a, a) || IsLaterOrSame(b, a) {
		t.Errorf("IsLaterOrSame(a, a), (b, a) = %v, %v; want true, false", IsLaterOrSame(a, a), IsLaterOrSame(b, a))
	}
	t.Run("chain nodes compare 64 bits", func(t *testing.T) {
		leaf := func() *Fence { return d.NewFence(d.AllocContexts(1), 1, "d", "t") }
		n1 := d.newChainNode(nil, leaf(), 1)
		n2 := d.newChainNode(n1, leaf(), 0x1_00000000)
		n3 := d.newChainNode(n2, leaf(), 0x1_80000001)
		if n2.Context() != n1.Context() || n3.Context() != n1.Context() {
			t.Fatalf("chain nodes on different contexts: %d %d %d", n1.Context(), n2.Context(), n3.Context())
		}
		for _, tc := range []struct {
			name string
			a, b *Fence
			want bool
		}{
			{"0x100000000 > 1", n2, n1, true},
			{"1 > 0x100000000", n1, n2, false},
			{"0x180000001 > 1", n3, n1, true},
			{"0x180000001 > 0x100000000", n3, n2, true},
			{"0x100000000 > 0x180000001", n2, n3, false},
			{"same", n2, n2, false},
		} {
			if got := IsLater(tc.a, tc.b); got != tc.want {
				t.Errorf("IsLater(chain %s) = %v; want %v", tc.name, got, tc.want)
			}
		}
	})
}

func TestFenceWait(t *testing.T) {
	d, c := sfDomain()
	f := d.NewFence(d.AllocContexts(1), 1, "d", "t")
	if got := f.Wait(context.Background(), c.Now()); got != errno.ETIME {
		t.Errorf("Wait(pending, deadline now) = %v; want ETIME", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := f.Wait(ctx, Forever); got != errno.ERESTARTSYS {
		t.Errorf("Wait(pending, cancelled ctx) = %v; want ERESTARTSYS", got)
	}
	ch := background(func() errno.Errno { return f.Wait(context.Background(), Forever) })
	f.SignalError(errno.EIO)
	if got := <-ch; got != 0 {
		t.Errorf("Wait(signalled with EIO) = %v; want 0", got)
	}
	if got := f.Wait(ctx, c.Now()-1); got != 0 {
		t.Errorf("Wait(signalled, past deadline, cancelled) = %v; want 0", got)
	}
	g := d.NewFence(d.AllocContexts(1), 1, "d", "t")
	ch = background(func() errno.Errno { return g.Wait(context.Background(), c.Now()+10) })
	for c.Pending() < 1 {
		yield()
	}
	c.Advance(10)
	if got := <-ch; got != errno.ETIME {
		t.Errorf("Wait(pending, deadline +10) after Advance(10) = %v; want ETIME", got)
	}
	if n := d.Live().Callbacks; n != 0 {
		t.Errorf("Live().Callbacks after waits = %d; want 0", n)
	}
}

// ---------------------------------------------------------------------------
// fence arrays

func sfPlain(d *Domain, n int) []*Fence {
	out := make([]*Fence, n)
	for i := range out {
		out[i] = d.NewFence(d.AllocContexts(1), 1, "d", fmt.Sprint("t", i))
	}
	return out
}

func TestArraySignalsWhenAllHave(t *testing.T) {
	d, c := sfDomain()
	m := sfPlain(d, 3)
	a := d.newArray(m, 99, 7, false)
	if !a.IsArray() || a.Context() != 99 || a.Seqno() != 7 || a.DriverName() != "dma_fence_array" || a.TimelineName() != "unbound" {
		t.Errorf("newArray(ctx 99, seqno 7) = (array %v, %d, %d, %q, %q); want (true, 99, 7, dma_fence_array, unbound)",
			a.IsArray(), a.Context(), a.Seqno(), a.DriverName(), a.TimelineName())
	}
	if got := a.Members(); !slices.Equal(got, m) {
		t.Errorf("Members() = %v; want %v", got, m)
	}
	if a.Contained() != a {
		t.Errorf("Contained() of an array is not the array itself")
	}
	for i, x := range []*Fence{m[2], m[0]} {
		c.Advance(1)
		x.Signal()
		if a.IsSignaled() {
			t.Errorf("array signalled after %d of 3 members", i+1)
		}
	}
	c.Advance(1)
	m[1].Signal()
	if !a.IsSignaled() || a.Status() != 1 {
		t.Errorf("array after all members: signalled %v status %d; want true 1", a.IsSignaled(), a.Status())
	}
	if ts, _ := a.Timestamp(); ts != c.Now() {
		t.Errorf("array timestamp = %d; want the last member's %d", ts, c.Now())
	}
	if n := d.Live().Callbacks; n != 0 {
		t.Errorf("Live().Callbacks after the array signalled = %d; want 0", n)
	}
}

func TestArrayFirstErrorWins(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []int
		errs  []errno.Errno
		want  errno.Errno
	}{
		{"second member first", []int{1, 0, 2}, []errno.Errno{errno.ENOMEM, errno.EIO, 0}, errno.EIO},
		{"first member first", []int{0, 1, 2}, []errno.Errno{errno.ENOMEM, errno.EIO, 0}, errno.ENOMEM},
		{"error after ok", []int{2, 0, 1}, []errno.Errno{0, errno.ETIME, 0}, errno.ETIME},
		{"no errors", []int{0, 1, 2}, []errno.Errno{0, 0, 0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := sfDomain()
			m := sfPlain(d, 3)
			a := d.newArray(m, d.AllocContexts(1), 1, false)
			for _, i := range tc.order {
				m[i].SignalError(tc.errs[i])
			}
			if got := a.Error(); got != tc.want {
				t.Errorf("array Error() = %v; want %v", got, tc.want)
			}
			want := int32(1)
			if tc.want != 0 {
				want = tc.want.Neg()
			}
			if got := a.Status(); got != want {
				t.Errorf("array Status() = %d; want %d", got, want)
			}
		})
	}
}

func TestArrayMembersAlreadySignalled(t *testing.T) {
	d, _ := sfDomain()
	m := sfPlain(d, 2)
	m[1].SignalError(errno.EIO)
	a := d.newArray(m, d.AllocContexts(1), 1, false)
	if a.IsSignaled() {
		t.Errorf("array with a pending member is signalled")
	}
	m[0].SignalError(errno.ENOMEM)
	if a.Error() != errno.EIO {
		t.Errorf("array Error() = %v; want EIO (the signalled member's)", a.Error())
	}
	all := sfPlain(d, 2)
	all[0].Signal()
	all[1].Signal()
	b := d.newArray(all, d.AllocContexts(1), 1, false)
	if !b.IsSignaled() || b.Status() != 1 {
		t.Errorf("array of signalled members: signalled %v status %d; want true 1", b.IsSignaled(), b.Status())
	}
}

func TestArraySignalOnAny(t *testing.T) {
	d, _ := sfDomain()
	m := sfPlain(d, 3)
	a := d.newArray(m, d.AllocContexts(1), 1, true)
	if a.IsSignaled() {
		t.Fatalf("signal-on-any array signalled with no member signalled")
	}
	m[1].Signal()
	if !a.IsSignaled() {
		t.Errorf("signal-on-any array not signalled after one member")
	}
	m[0].Signal()
	m[2].Signal()
	if a.Status() != 1 {
		t.Errorf("signal-on-any Status() = %d; want 1", a.Status())
	}
}

func TestArrayMatchContext(t *testing.T) {
	d, _ := sfDomain()
	ctx := d.AllocContexts(1)
	same := d.newArray([]*Fence{d.NewFence(ctx, 1, "d", "t"), d.NewFence(ctx, 2, "d", "t")}, d.AllocContexts(1), 1, false)
	mixed := d.newArray(sfPlain(d, 2), d.AllocContexts(1), 1, false)
	plain := d.NewFence(ctx, 3, "d", "t")
	for _, tc := range []struct {
		name string
		f    *Fence
		ctx  uint64
		want bool
	}{
		{"array all on ctx", same, ctx, true},
		{"array on own ctx", same, same.Context(), false},
		{"mixed array", mixed, mixed.Members()[0].Context(), false},
		{"plain on ctx", plain, ctx, true},
		{"plain elsewhere", plain, ctx + 1, false},
	} {
		if got := MatchContext(tc.f, tc.ctx); got != tc.want {
			t.Errorf("MatchContext(%s, %d) = %v; want %v", tc.name, tc.ctx, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------------------
// unwrap and merge

func TestMergeNothingPending(t *testing.T) {
	d, c := sfDomain()
	m := sfPlain(d, 3)
	c.Advance(5)
	m[0].Signal()
	c.Advance(5)
	m[2].SignalError(errno.EIO)
	latest := c.Now()
	c.Advance(5)
	m[1].Signal()
	// m[1] signalled last: its timestamp is the latest.
	latest = c.Now()
	got := d.Merge(m[2], m[0], m[1])
	if got == d.Stub() || slices.Contains(m, got) {
		t.Fatalf("Merge of signalled fences returned an existing fence; want a new private stub")
	}
	if got.Context() != 0 || got.Seqno() != 0 || got.Status() != 1 {
		t.Errorf("Merge of signalled = (ctx %d, seqno %d, status %d); want (0, 0, 1): errors are dropped", got.Context(), got.Seqno(), got.Status())
	}
	if ts, _ := got.Timestamp(); ts != latest {
		t.Errorf("Merge stub Timestamp() = %d; want %d", ts, latest)
	}
	if got := d.Merge(d.Stub()); got == d.Stub() || got.Status() != 1 {
		t.Errorf("Merge(Stub()) = global %v status %d; want a new signalled stub", got == d.Stub(), got.Status())
	}
}

func TestMergeOnePending(t *testing.T) {
	d, _ := sfDomain()
	m := sfPlain(d, 3)
	m[0].Signal()
	m[2].Signal()
	arr := d.newArray([]*Fence{m[0], m[1]}, d.AllocContexts(1), 1, false)
	for _, tc := range []struct {
		name string
		in   []*Fence
	}{
		{"alone", []*Fence{m[1]}},
		{"with signalled", []*Fence{m[0], m[1], m[2]}},
		{"twice", []*Fence{m[1], m[1]}},
		{"inside an array", []*Fence{arr, m[2]}},
	} {
		if got := d.Merge(tc.in...); got != m[1] {
			t.Errorf("Merge(%s) = %p; want the pending leaf %p itself", tc.name, got, m[1])
		}
	}
}

func TestMergeArray(t *testing.T) {
	d, _ := sfDomain()
	c1, c2, c3 := d.AllocContexts(1), d.AllocContexts(1), d.AllocContexts(1)
	f1 := d.NewFence(c1, 5, "d", "t")
	f1later := d.NewFence(c1, 7, "d", "t")
	f2 := d.NewFence(c2, 1, "d", "t")
	f3 := d.NewFence(c3, 1, "d", "t")
	f3done := d.NewFence(c3, 9, "d", "t")
	f3done.Signal()
	wrapOld := d.NewFence(c2, 0xFFFFFFFE, "d", "t")
	wrapNew := d.NewFence(c2, 1, "d", "t") // later than 0xFFFFFFFE under the 32-bit compare

	inner := d.newArray([]*Fence{f2, f1}, d.AllocContexts(1), 1, false)
	for _, tc := range []struct {
		name string
		in   []*Fence
		want []*Fence
	}{
		{"sorted by context", []*Fence{f3, f1, f2}, []*Fence{f1, f2, f3}},
		{"later per context", []*Fence{f1later, f2, f1}, []*Fence{f1later, f2}},
		{"later per context, other order", []*Fence{f1, f2, f1later}, []*Fence{f1later, f2}},
		{"signalled leaves dropped", []*Fence{f3done, f1, f2}, []*Fence{f1, f2}},
		{"arrays unwrapped", []*Fence{f3, inner}, []*Fence{f1, f2, f3}},
		{"array member replaced by later", []*Fence{inner, f1later}, []*Fence{f1later, f2}},
		{"32-bit wrap decides later", []*Fence{f1, wrapOld, wrapNew}, []*Fence{f1, wrapNew}},
		{"32-bit wrap decides later, other order", []*Fence{wrapNew, f1, wrapOld}, []*Fence{f1, wrapNew}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := d.AllocContexts(1) + 1
			got := d.Merge(tc.in...)
			if !got.IsArray() {
				t.Fatalf("Merge(%s) is not an array", tc.name)
			}
			if got.Context() != next || got.Seqno() != 1 {
				t.Errorf("Merge(%s) = (ctx %d, seqno %d); want (%d, 1)", tc.name, got.Context(), got.Seqno(), next)
			}
			if m := got.Members(); !slices.Equal(m, tc.want) {
				t.Errorf("Merge(%s).Members() = %v; want %v", tc.name, sfDesc(m), sfDesc(tc.want))
			}
		})
	}
}

func sfDesc(fs []*Fence) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%d:%#x", f.Context(), f.Seqno())
	}
	return out
}

func TestMergeUnwrapsChains(t *testing.T) {
	d, _ := sfDomain()
	m := sfPlain(d, 3)
	n1 := d.newChainNode(nil, m[0], 1)
	n2 := d.newChainNode(n1, m[1], 2)
	if got := Unwrap(n2); !slices.Equal(got, []*Fence{m[1], m[0]}) {
		t.Errorf("Unwrap(chain 2->1) = %v; want [payload 2, payload 1]", sfDesc(got))
	}
	got := d.Merge(n2, m[2])
	if !got.IsArray() || !slices.Equal(got.Members(), m) {
		t.Errorf("Merge(chain, plain) = array %v members %v; want array of %v", got.IsArray(), sfDesc(got.Members()), sfDesc(m))
	}
	m[0].Signal()
	if got := d.Merge(n2); got != m[1] {
		t.Errorf("Merge(chain with only payload 2 pending) = %v; want payload 2 itself", sfDesc([]*Fence{got}))
	}
	arr := d.newArray([]*Fence{m[1], m[2]}, d.AllocContexts(1), 1, false)
	n3 := d.newChainNode(n2, arr, 3)
	if got := Unwrap(n3); !slices.Equal(got, []*Fence{m[1], m[2], m[1]}) {
		t.Errorf("Unwrap(chain with an array payload) = %v; want [m1, m2, m1]", sfDesc(got))
	}
	if got := Unwrap(m[2]); !slices.Equal(got, []*Fence{m[2]}) {
		t.Errorf("Unwrap(plain) = %v; want itself", sfDesc(got))
	}
}

// ---------------------------------------------------------------------------
// ManualClock

func TestManualClockOrder(t *testing.T) {
	c := NewManualClock(100)
	var got []string
	at := func(name string, when int64) {
		c.AfterFunc(when, func() {
			if now := c.Now(); now != when {
				t.Errorf("timer %s ran at Now() = %d; want %d", name, now, when)
			}
			got = append(got, name)
		})
	}
	at("c", 130)
	at("a", 110)
	at("b1", 120)
	at("b2", 120)
	at("b3", 120)
	at("late", 500)
	if n := c.Pending(); n != 6 {
		t.Errorf("Pending() = %d; want 6", n)
	}
	if w, ok := c.NextDeadline(); !ok || w != 110 {
		t.Errorf("NextDeadline() = %d, %v; want 110, true", w, ok)
	}
	c.AdvanceTo(200)
	if want := []string{"a", "b1", "b2", "b3", "c"}; !slices.Equal(got, want) {
		t.Errorf("AdvanceTo(200) fired %v; want %v", got, want)
	}
	if c.Now() != 200 {
		t.Errorf("Now() after AdvanceTo(200) = %d; want 200", c.Now())
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("Pending() = %d; want 1", n)
	}
	c.Advance(300)
	if len(got) != 6 || got[5] != "late" || c.Now() != 500 {
		t.Errorf("Advance(300): fired %v, Now() %d; want late fired, 500", got, c.Now())
	}
	if _, ok := c.NextDeadline(); ok {
		t.Errorf("NextDeadline() with no timers: ok = true; want false")
	}
}

func TestManualClockStop(t *testing.T) {
	c := NewManualClock(0)
	fired := map[string]bool{}
	stopA := c.AfterFunc(10, func() { fired["a"] = true })
	stopB := c.AfterFunc(10, func() { fired["b"] = true })
	if !stopA() {
		t.Errorf("stop() before firing = false; want true")
	}
	if stopA() {
		t.Errorf("second stop() = true; want false")
	}
	c.AdvanceTo(20)
	if fired["a"] || !fired["b"] {
		t.Errorf("fired = %v; want only b", fired)
	}
	if stopB() {
		t.Errorf("stop() after firing = true; want false")
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending() = %d; want 0", n)
	}
}

func TestManualClockNeverBackwards(t *testing.T) {
	c := NewManualClock(100)
	c.AdvanceTo(50)
	if c.Now() != 100 {
		t.Errorf("AdvanceTo(50) from 100: Now() = %d; want 100", c.Now())
	}
	c.Advance(-5)
	if c.Now() != 100 {
		t.Errorf("Advance(-5): Now() = %d; want 100", c.Now())
	}
	c.Advance(0)
	if c.Now() != 100 {
		t.Errorf("Advance(0): Now() = %d; want 100", c.Now())
	}
	c.Advance(math.MaxInt64)
	if c.Now() != math.MaxInt64 {
		t.Errorf("Advance(MaxInt64): Now() = %d; want MaxInt64 (saturated)", c.Now())
	}
	var z ManualClock
	if z.Now() != 0 {
		t.Errorf("zero ManualClock Now() = %d; want 0", z.Now())
	}
}

func TestManualClockDueTimers(t *testing.T) {
	c := NewManualClock(100)
	ran := false
	c.AfterFunc(100, func() { ran = true })
	c.AfterFunc(40, func() {})
	if ran {
		t.Fatalf("AfterFunc(now) ran its function inside AfterFunc")
	}
	c.AdvanceTo(100)
	if !ran {
		t.Errorf("timer due at Now() did not fire on AdvanceTo(Now())")
	}
	if c.Now() != 100 {
		t.Errorf("a past-due timer moved the clock: Now() = %d; want 100", c.Now())
	}
}

func TestManualClockNestedTimers(t *testing.T) {
	c := NewManualClock(0)
	var got []string
	c.AfterFunc(10, func() {
		got = append(got, "outer")
		c.AfterFunc(15, func() { got = append(got, "inner-due") })
		c.AfterFunc(10, func() { got = append(got, "inner-now") })
		c.AfterFunc(50, func() { got = append(got, "inner-later") })
	})
	c.AfterFunc(20, func() { got = append(got, "second") })
	c.AdvanceTo(30)
	if want := []string{"outer", "inner-now", "inner-due", "second"}; !slices.Equal(got, want) {
		t.Errorf("AdvanceTo(30) fired %v; want %v", got, want)
	}
	if c.Now() != 30 || c.Pending() != 1 {
		t.Errorf("after AdvanceTo(30): Now() %d, Pending() %d; want 30, 1", c.Now(), c.Pending())
	}
	c.AdvanceTo(50)
	if got[len(got)-1] != "inner-later" {
		t.Errorf("AdvanceTo(50) fired %v; want inner-later last", got)
	}
}

// sfWantDeadlines checks that each (timeline fd, point fd) pair reports
// deadline want after SET_DEADLINE on what.
func sfWantDeadlines(t *testing.T, f *drmFile, what string, want uint64, points ...[2]int32) {
	t.Helper()
	for _, c := range points {
		if got, e := sfGetDeadline(f, c[0], c[1]); e != 0 || got != want {
			t.Errorf("GET_DEADLINE(tl %d, fd %d) after SET_DEADLINE on %s = %d, %v; want %d, 0", c[0], c[1], what, got, e, want)
		}
	}
}
