package fence

import (
	"fmt"
	"sync/atomic"

	"fencelab/errno"
)

// Request numbers of the sync_file ioctls (include/uapi/linux/sync_file.h,
// magic '>'). The kernel matches the whole number, size bits included.
const (
	SYNC_IOC_MERGE        = 0xC0303E03 // _IOWR('>', 3, struct sync_merge_data)
	SYNC_IOC_FILE_INFO    = 0xC0383E04 // _IOWR('>', 4, struct sync_file_info)
	SYNC_IOC_SET_DEADLINE = 0x40103E05 // _IOW('>', 5, struct sync_set_deadline)
)

// POLLIN is the readiness a sync_file reports once its fence has signalled.
const POLLIN = 0x0001

// SyncFile is a sync_file: an anonymous file wrapping exactly one fence,
// which never changes (drivers/dma-buf/sync_file.c). Its fence may be a
// chain node or an array. A SyncFile is reference counted as a [File];
// [Domain.NewSyncFile] returns it with one reference.
type SyncFile struct {
	d        *Domain
	fence    *Fence
	userName string // set by SYNC_IOC_MERGE, else empty
	refs     atomic.Int32
}

// NewSyncFile wraps f in a new sync_file holding one reference, as
// sync_file_create.
func (d *Domain) NewSyncFile(f *Fence) *SyncFile {
	s := &SyncFile{d: d, fence: f}
	s.refs.Store(1)
	d.live.syncFiles.Add(1)
	return s
}

// Fence returns the wrapped fence (sync_file_get_fence).
func (s *SyncFile) Fence() *Fence { return s.fence }

// IncRef implements [File].
func (s *SyncFile) IncRef() { s.refs.Add(1) }

// DecRef implements [File]; the last reference releases the file.
func (s *SyncFile) DecRef() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		s.d.live.syncFiles.Add(-1)
	case n < 0:
		panic("fence: SyncFile reference count below zero")
	}
}

// Name returns the name SYNC_IOC_FILE_INFO reports, as sync_file_get_name:
// the name given to a merge, else "driver-timeline" followed by the fence's
// context and seqno: "<driver>-<timeline><context>-<seqno>".
func (s *SyncFile) Name() string {
	if s.userName != "" {
		return s.userName
	}
	f := s.fence
	return fmt.Sprintf("%s-%s%d-%d", f.DriverName(), f.TimelineName(), f.Context(), int64(f.Seqno()))
}

// Poll reports POLLIN once the fence has signalled, else 0, as
// sync_file_poll. Pollers that need a wake-up register a callback on
// [SyncFile.Fence].
func (s *SyncFile) Poll() uint32 {
	if s.fence.IsSignaled() {
		return POLLIN
	}
	return 0
}

// Watch kicks w when the file's readiness may have changed (its fence
// signals), until the returned cancel is called.
func (s *SyncFile) Watch(w Waiter) (cancel func()) {
	cb, ok := s.fence.AddCallback(func(*Fence) { w.Kick() })
	if !ok {
		w.Kick()
		return func() {}
	}
	return func() { cb.Remove() }
}

// Ioctl serves the ioctls of a sync_file fd (sync_file_ioctl): MERGE,
// FILE_INFO and SET_DEADLINE, each copying its own argument at arg in mem.
// Any other request is ENOTTY.
func (s *SyncFile) Ioctl(mem UserMemory, ft FDTable, req uint32, arg uint64) errno.Errno {
	switch req {
	case SYNC_IOC_MERGE:
		return s.ioctlMerge(mem, ft, arg)
	case SYNC_IOC_FILE_INFO:
		return s.ioctlFileInfo(mem, arg)
	case SYNC_IOC_SET_DEADLINE:
		var b [SyncSetDeadlineSize]byte
		if e := mem.CopyIn(arg, b[:]); e != 0 {
			return e
		}
		var a SyncSetDeadline
		a.Unmarshal(b[:])
		if a.Pad != 0 {
			return errno.EINVAL
		}
		SetDeadline(s.fence, int64(a.DeadlineNs))
		return 0
	}
	return errno.ENOTTY
}

// ioctlMerge is sync_file_ioctl_merge: reserve the new fd first (EMFILE),
// copy the argument (EFAULT), check flags and pad (EINVAL), look up fd2
// (ENOENT unless it is a sync_file), merge, copy the result back (EFAULT),
// and only then install the new fd.
func (s *SyncFile) ioctlMerge(mem UserMemory, ft FDTable, arg uint64) errno.Errno {
	fd, e := ft.Reserve()
	if e != 0 {
		return e
	}
	var b [SyncMergeDataSize]byte
	if e := mem.CopyIn(arg, b[:]); e != 0 {
		ft.Unreserve(fd)
		return e
	}
	var a SyncMergeData
	a.Unmarshal(b[:])
	if a.Flags != 0 || a.Pad != 0 {
		ft.Unreserve(fd)
		return errno.EINVAL
	}
	other, ok := getSyncFile(ft, a.Fd2)
	if !ok {
		ft.Unreserve(fd)
		return errno.ENOENT
	}
	a.Name[len(a.Name)-1] = 0
	merged := s.d.NewSyncFile(s.d.Merge(s.fence, other.fence))
	merged.userName = cString(a.Name[:])
	other.DecRef()
	a.Fence = fd
	a.Marshal(b[:])
	if e := mem.CopyOut(arg, b[:]); e != 0 {
		merged.DecRef()
		ft.Unreserve(fd)
		return e
	}
	ft.Install(fd, merged)
	if tr := s.d.tracing(); tr != nil {
		tr.Trace(Trace{Op: TraceMerge, FD: fd, Fence: merged.fence, SrcFD: -1, SrcFence: s.fence})
		tr.Trace(Trace{Op: TraceMerge, FD: fd, Fence: merged.fence, SrcFD: a.Fd2, SrcFence: other.fence})
	}
	return 0
}

// ioctlFileInfo is sync_file_ioctl_fence_info.
func (s *SyncFile) ioctlFileInfo(mem UserMemory, arg uint64) errno.Errno {
	var b [SyncFileInfoSize]byte
	if e := mem.CopyIn(arg, b[:]); e != 0 {
		return e
	}
	var info SyncFileInfo
	info.Unmarshal(b[:])
	if info.Flags != 0 || info.Pad != 0 {
		return errno.EINVAL
	}
	leaves := Unwrap(s.fence)
	n := uint32(len(leaves))
	if info.NumFences == 0 {
		// Only the count and the overall status are wanted.
		info.Status = s.fence.Status()
	} else {
		info.Status = 1
		if info.NumFences < n {
			return errno.EINVAL
		}
		out := make([]byte, int(n)*SyncFenceInfoSize)
		for i, leaf := range leaves {
			fi := fenceInfo(leaf)
			fi.Marshal(out[i*SyncFenceInfoSize:])
			if info.Status > 0 {
				info.Status = fi.Status
			}
		}
		if e := mem.CopyOut(info.SyncFenceInfo, out); e != 0 {
			return e
		}
	}
	putCString(info.Name[:], s.Name())
	info.NumFences = n
	info.Marshal(b[:])
	return mem.CopyOut(arg, b[:])
}

// fenceInfo is sync_fill_fence_info.
func fenceInfo(f *Fence) SyncFenceInfo {
	var fi SyncFenceInfo
	putCString(fi.ObjName[:], f.TimelineName())
	putCString(fi.DriverName[:], f.DriverName())
	fi.Status = f.Status()
	if ts, ok := f.Timestamp(); ok {
		fi.TimestampNs = uint64(ts)
	}
	return fi
}

// getSyncFile returns the sync_file fd refers to, with a reference, as
// sync_file_fdget; ok is false for a bad fd or another kind of file.
func getSyncFile(ft FDTable, fd int32) (*SyncFile, bool) {
	f, e := ft.Get(fd)
	if e != 0 {
		return nil, false
	}
	s, ok := f.(*SyncFile)
	if !ok {
		f.DecRef()
		return nil, false
	}
	return s, true
}

// SyncFileFence returns the fence of the sync_file at fd, as
// sync_file_get_fence: ok is false if fd is not an open sync_file.
func SyncFileFence(ft FDTable, fd int32) (*Fence, bool) {
	s, ok := getSyncFile(ft, fd)
	if !ok {
		return nil, false
	}
	defer s.DecRef()
	return s.fence, true
}

// SetDeadline passes a deadline hint to f, as dma_fence_set_deadline: a
// chain passes it to every pending payload, an array to every member, and
// an sw_sync fence records the earliest one it was given. It has no effect
// on when anything signals.
func SetDeadline(f *Fence, deadline int64) {
	if f.IsSignaled() {
		return
	}
	switch f.kind {
	case kindChain:
		for x := f; x != nil; x = x.walk() {
			SetDeadline(x.Contained(), deadline)
		}
	case kindArray:
		for _, m := range f.array.members {
			SetDeadline(m, deadline)
		}
	default:
		if f.sw != nil {
			f.sw.setDeadline(deadline)
		}
	}
}
