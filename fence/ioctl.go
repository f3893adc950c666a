package fence

import (
	"context"

	"fencelab/errno"
)

// This file holds the syncobj ioctls of drivers/gpu/drm/drm_syncobj.c, one
// method each, checking their arguments in the kernel's order. The DRM
// core's part (request number, struct copy in and out, zero fill) is the
// ioctl layer's; these methods see the struct already copied in and leave
// their outputs in it. Blocking methods take a context whose cancellation
// stands for a pending signal (ERESTARTSYS).

// Create is DRM_IOCTL_SYNCOBJ_CREATE (drm_syncobj_create_ioctl): flags
// other than CREATE_SIGNALED are EINVAL; a full table is ENOMEM. The new
// handle is written to a.Handle. O(log h) for h handles.
func (t *SyncobjTable) Create(a *DrmSyncobjCreate) errno.Errno {
	if a.Flags&^DRM_SYNCOBJ_CREATE_SIGNALED != 0 {
		return errno.EINVAL
	}
	s := t.d.NewSyncobj(a.Flags&DRM_SYNCOBJ_CREATE_SIGNALED != 0)
	defer s.Put()
	h, e := t.Install(s)
	if e != 0 {
		return e
	}
	a.Handle = h
	if tr := t.d.tracing(); tr != nil && a.Flags&DRM_SYNCOBJ_CREATE_SIGNALED != 0 {
		tr.Trace(Trace{Op: TraceSignal, Syncobj: s.id, Handle: h, Fence: s.Fence()})
	}
	return 0
}

// Destroy is DRM_IOCTL_SYNCOBJ_DESTROY (drm_syncobj_destroy_ioctl): pad ≠ 0
// is EINVAL, and so is an unknown handle (not ENOENT). O(log h).
func (t *SyncobjTable) Destroy(a *DrmSyncobjDestroy) errno.Errno {
	if a.Pad != 0 {
		return errno.EINVAL
	}
	s := t.remove(a.Handle)
	if s == nil {
		return errno.EINVAL
	}
	s.Put()
	return 0
}

// HandleToFD is DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: pad ≠ 0 or flags other than
// 0 or EXPORT_SYNC_FILE are EINVAL.
//
// With EXPORT_SYNC_FILE (drm_syncobj_export_sync_file) an fd is reserved
// first (EMFILE), then the syncobj's current fence is looked up (ENOENT for
// an unknown handle, EINVAL when there is none) and wrapped in a new
// sync_file: for a timeline, the head node itself.
//
// Otherwise (drm_syncobj_handle_to_fd) an unknown handle is EINVAL, then an
// fd is reserved (EMFILE) for a new syncobj file sharing the object.
// The fd is written to a.Fd on success only.
func (t *SyncobjTable) HandleToFD(ft FDTable, a *DrmSyncobjHandle) errno.Errno {
	if a.Pad != 0 {
		return errno.EINVAL
	}
	switch a.Flags {
	case 0:
		s := t.Find(a.Handle)
		if s == nil {
			return errno.EINVAL
		}
		defer s.Put()
		fd, e := export(ft, func() File { return NewSyncobjFile(s) })
		if e != 0 {
			return e
		}
		a.Fd = fd
		return 0
	case DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE:
		fd, e := ft.Reserve()
		if e != 0 {
			return e
		}
		f, id, e := t.findFence(nil, a.Handle, 0, 0)
		if e != 0 {
			ft.Unreserve(fd)
			return e
		}
		ft.Install(fd, t.d.NewSyncFile(f))
		a.Fd = fd
		if tr := t.d.tracing(); tr != nil {
			tr.Trace(Trace{Op: TraceSyncFile, FD: fd, Fence: f, SrcSyncobj: id, SrcHandle: a.Handle})
		}
		return 0
	}
	return errno.EINVAL
}

// FDToHandle is DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE: pad ≠ 0 or flags other than
// 0 or IMPORT_SYNC_FILE are EINVAL.
//
// With IMPORT_SYNC_FILE (drm_syncobj_import_sync_file_fence) an fd that is
// not a sync_file is EINVAL, checked before the handle (ENOENT); the
// syncobj's fence is replaced by the sync_file's.
//
// Otherwise (drm_syncobj_fd_to_handle) an fd that is not a syncobj file is
// EINVAL; every import makes a new handle, even for a syncobj the table
// already holds. The handle is written to a.Handle.
func (t *SyncobjTable) FDToHandle(ft FDTable, a *DrmSyncobjHandle) errno.Errno {
	if a.Pad != 0 {
		return errno.EINVAL
	}
	switch a.Flags {
	case 0:
		file, e := ft.Get(a.Fd)
		if e != 0 {
			return errno.EINVAL
		}
		defer file.DecRef()
		sf, ok := file.(*SyncobjFile)
		if !ok {
			return errno.EINVAL
		}
		h, e := t.Install(sf.s)
		if e != 0 {
			return e
		}
		a.Handle = h
		return 0
	case DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE:
		f, ok := SyncFileFence(ft, a.Fd)
		if !ok {
			return errno.EINVAL
		}
		s := t.Find(a.Handle)
		if s == nil {
			return errno.ENOENT
		}
		defer s.Put()
		if tr := t.d.tracing(); tr != nil {
			tr.Trace(Trace{Op: TraceReplace, Syncobj: s.id, Handle: a.Handle, Fence: f, SrcFD: a.Fd})
		}
		s.ReplaceFence(f)
		return 0
	}
	return errno.EINVAL
}

// FindFence resolves (handle, point) as drm_syncobj_find_fence, the lookup
// behind EXPORT_SYNC_FILE, TRANSFER and execbuffer in-syncobjs: ENOENT for
// an unknown handle; then flags other than WAIT_FOR_SUBMIT are EINVAL; then
// see [Syncobj.FindFence]. (Linux 6.12 leaks a syncobj reference on the
// flags error; fencelab does not.)
func (t *SyncobjTable) FindFence(ctx context.Context, handle uint32, point uint64, flags uint32) (*Fence, errno.Errno) {
	f, _, e := t.findFence(ctx, handle, point, flags)
	return f, e
}

// findFence is FindFence that also returns the syncobj's id (0 when the
// handle is unknown).
func (t *SyncobjTable) findFence(ctx context.Context, handle uint32, point uint64, flags uint32) (*Fence, uint32, errno.Errno) {
	s := t.Find(handle)
	if s == nil {
		return nil, 0, errno.ENOENT
	}
	defer s.Put()
	if flags&^DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT != 0 {
		return nil, s.id, errno.EINVAL
	}
	f, e := s.findFence(ctx, point, flags&DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT != 0, handle)
	return f, s.id, e
}

// Wait is DRM_IOCTL_SYNCOBJ_WAIT (drm_syncobj_wait_ioctl): flags other than
// WAIT_ALL, WAIT_FOR_SUBMIT and WAIT_DEADLINE are EINVAL (WAIT_AVAILABLE
// too); count 0 succeeds at once (Linux ≥ 6.6; older kernels said EINVAL);
// then the handles are looked up (EFAULT, ENOENT) and waited on at point 0
// (see waitArray). a.Pad is not checked. a.FirstSignaled is written on
// success only. O(n log p) to set up for n handles over timelines of p
// pending points, then O(n) per wake-up.
func (t *SyncobjTable) Wait(ctx context.Context, mem UserMemory, a *DrmSyncobjWait) errno.Errno {
	const valid = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE
	if a.Flags&^valid != 0 {
		return errno.EINVAL
	}
	if a.CountHandles == 0 {
		return 0
	}
	objs, handles, e := t.findArray(mem, a.Handles, a.CountHandles)
	if e != 0 {
		return e
	}
	defer PutAll(objs)
	first, e := t.d.waitArray(ctx, mem, objs, handles, 0, a.Flags, a.TimeoutNsec, a.DeadlineNsec)
	if e != 0 {
		return e
	}
	a.FirstSignaled = first
	return 0
}

// TimelineWait is DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT
// (drm_syncobj_timeline_wait_ioctl): as [SyncobjTable.Wait], with
// WAIT_AVAILABLE allowed and a u64 point per handle read from a.Points
// after the handles are looked up (a zero pointer means all points 0).
func (t *SyncobjTable) TimelineWait(ctx context.Context, mem UserMemory, a *DrmSyncobjTimelineWait) errno.Errno {
	const valid = DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT |
		DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE | DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE
	if a.Flags&^valid != 0 {
		return errno.EINVAL
	}
	if a.CountHandles == 0 {
		return 0
	}
	objs, handles, e := t.findArray(mem, a.Handles, a.CountHandles)
	if e != 0 {
		return e
	}
	defer PutAll(objs)
	first, e := t.d.waitArray(ctx, mem, objs, handles, a.Points, a.Flags, a.TimeoutNsec, a.DeadlineNsec)
	if e != 0 {
		return e
	}
	a.FirstSignaled = first
	return 0
}

// Reset is DRM_IOCTL_SYNCOBJ_RESET: pad ≠ 0 or count 0 are EINVAL; after
// an all-or-nothing lookup every syncobj's fence is set to nil. O(n) for n
// handles, plus the re-evaluation of their waiters.
func (t *SyncobjTable) Reset(mem UserMemory, a *DrmSyncobjArray) errno.Errno {
	objs, handles, e := t.arrayArgs(mem, a.Handles, a.CountHandles, a.Pad)
	if e != 0 {
		return e
	}
	defer PutAll(objs)
	tr := t.d.tracing()
	for i, s := range objs {
		if tr != nil {
			tr.Trace(Trace{Op: TraceReset, Syncobj: s.id, Handle: le.Uint32(handles[4*i:])})
		}
		s.ReplaceFence(nil)
	}
	return 0
}

// Signal is DRM_IOCTL_SYNCOBJ_SIGNAL: pad ≠ 0 or count 0 are EINVAL; after
// an all-or-nothing lookup every syncobj's fence is replaced by a new
// private stub stamped now (a timeline chain is discarded). O(n).
func (t *SyncobjTable) Signal(mem UserMemory, a *DrmSyncobjArray) errno.Errno {
	objs, handles, e := t.arrayArgs(mem, a.Handles, a.CountHandles, a.Pad)
	if e != 0 {
		return e
	}
	defer PutAll(objs)
	tr := t.d.tracing()
	for i, s := range objs {
		stub := t.d.NewStub(t.d.Now())
		if tr != nil {
			tr.Trace(Trace{Op: TraceSignal, Syncobj: s.id, Handle: le.Uint32(handles[4*i:]), Fence: stub})
		}
		s.ReplaceFence(stub)
	}
	return 0
}

// arrayArgs is the shared head of RESET and SIGNAL: the syncobjs, and the
// handles as copied in.
func (t *SyncobjTable) arrayArgs(mem UserMemory, handles uint64, count, pad uint32) ([]*Syncobj, []byte, errno.Errno) {
	if pad != 0 || count == 0 {
		return nil, nil, errno.EINVAL
	}
	return t.findArray(mem, handles, count)
}

// TimelineSignal is DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL: flags ≠ 0 or count 0
// are EINVAL; after the lookup (EFAULT, ENOENT) the points are copied
// (EFAULT; a zero pointer means all 0) and each syncobj gets a chain node
// at its point wrapping the global stub. Point 0 adds a node too. O(n log p).
func (t *SyncobjTable) TimelineSignal(mem UserMemory, a *DrmSyncobjTimelineArray) errno.Errno {
	if a.Flags != 0 || a.CountHandles == 0 {
		return errno.EINVAL
	}
	objs, handles, e := t.findArray(mem, a.Handles, a.CountHandles)
	if e != 0 {
		return e
	}
	defer PutAll(objs)
	points, e := copyPoints(mem, a.Points, len(objs))
	if e != 0 {
		return e
	}
	tr := t.d.tracing()
	for i, s := range objs {
		if tr != nil {
			tr.Trace(Trace{Op: TraceSignal, Syncobj: s.id, Handle: le.Uint32(handles[4*i:]), Point: points[i], Fence: t.d.stub})
		}
		s.AddPoint(t.d.stub, points[i])
	}
	return 0
}

// Query is DRM_IOCTL_SYNCOBJ_QUERY: flags other than LAST_SUBMITTED or
// count 0 are EINVAL; after the lookup each payload ([Syncobj.Query]) is
// written to points[i] in order. A fault stops there with EFAULT, earlier
// entries already written. O(n log p).
func (t *SyncobjTable) Query(mem UserMemory, a *DrmSyncobjTimelineArray) errno.Errno {
	if a.Flags&^DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED != 0 || a.CountHandles == 0 {
		return errno.EINVAL
	}
	objs, e := t.FindArray(mem, a.Handles, a.CountHandles)
	if e != 0 {
		return e
	}
	defer PutAll(objs)
	last := a.Flags&DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED != 0
	var b [8]byte
	for i, s := range objs {
		le.PutUint64(b[:], s.Query(last))
		if e := mem.CopyOut(a.Points+uint64(i)*8, b[:]); e != 0 {
			return e
		}
	}
	return 0
}

// Transfer is DRM_IOCTL_SYNCOBJ_TRANSFER: pad ≠ 0 is EINVAL; the
// destination is looked up first (ENOENT), then the source point is
// resolved with a.Flags as lookup flags ([SyncobjTable.FindFence]; with
// WAIT_FOR_SUBMIT it may sleep up to 5 s). With a.DstPoint ≠ 0 the source
// fence is flattened ([Domain.Merge]) and added as that point; with 0 it
// replaces the destination's fence as it is. Source and destination may be
// the same syncobj. O(k log k) for k leaves to flatten.
func (t *SyncobjTable) Transfer(ctx context.Context, a *DrmSyncobjTransfer) errno.Errno {
	if a.Pad != 0 {
		return errno.EINVAL
	}
	dst := t.Find(a.DstHandle)
	if dst == nil {
		return errno.ENOENT
	}
	defer dst.Put()
	f, src, e := t.findFence(ctx, a.SrcHandle, a.SrcPoint, a.Flags)
	if e != 0 {
		return e
	}
	placed := f
	if a.DstPoint != 0 {
		placed = t.d.Merge(f)
	}
	if tr := t.d.tracing(); tr != nil {
		tr.Trace(Trace{Op: TraceTransfer, Syncobj: dst.id, Handle: a.DstHandle, Point: a.DstPoint, Fence: placed,
			SrcSyncobj: src, SrcHandle: a.SrcHandle, SrcPoint: a.SrcPoint, SrcFence: f})
	}
	if a.DstPoint != 0 {
		dst.AddPoint(placed, a.DstPoint)
	} else {
		dst.ReplaceFence(f)
	}
	return 0
}

// Eventfd is DRM_IOCTL_SYNCOBJ_EVENTFD (drm_syncobj_eventfd_ioctl): flags
// other than WAIT_AVAILABLE are EINVAL, pad ≠ 0 is EINVAL, an unknown
// handle is ENOENT (checked before the fd), a bad fd is EBADF and a file
// that is not an eventfd is EINVAL. The registration is evaluated at once
// and on every change of the syncobj's fence (see [Syncobj.ReplaceFence]):
// once point is available it fires (WAIT_AVAILABLE) or waits for that
// fence; it fires at most once, and is dropped silently if the syncobj is
// freed first. registrar tags the registration for traces (TraceEventfd
// reports it): the driver passes the registering process's pid, whose fd
// a.Fd is.
func (t *SyncobjTable) Eventfd(ft FDTable, a *DrmSyncobjEventfd, registrar int32) errno.Errno {
	if a.Flags&^DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE != 0 || a.Pad != 0 {
		return errno.EINVAL
	}
	s := t.Find(a.Handle)
	if s == nil {
		return errno.ENOENT
	}
	defer s.Put()
	file, e := ft.Get(a.Fd)
	if e != 0 {
		return errno.EBADF
	}
	ev, ok := file.(Eventfd)
	if !ok {
		file.DecRef()
		return errno.EINVAL
	}
	s.addEventfd(&eventfdEntry{ev: ev, point: a.Point, flags: a.Flags, d: t.d, syncobj: s.id, handle: a.Handle, fd: a.Fd,
		registrar: registrar})
	return 0
}

// copyPoints reads n u64 points from addr, or returns zeros for addr 0.
func copyPoints(mem UserMemory, addr uint64, n int) ([]uint64, errno.Errno) {
	points := make([]uint64, n)
	if addr == 0 {
		return points, 0
	}
	raw := make([]byte, n*8)
	if e := mem.CopyIn(addr, raw); e != 0 {
		return nil, e
	}
	for i := range points {
		points[i] = le.Uint64(raw[i*8:])
	}
	return points, 0
}

// waitEntry is the per-handle state of waitArray.
type waitEntry struct {
	w  *syncobjWaiter
	cb *Callback
	// registered is set once w is queued on its syncobj.
	registered bool
}

// waitArray is drm_syncobj_array_wait_timeout, the algorithm behind WAIT and
// TIMELINE_WAIT. It returns first_signaled and 0, or an errno:
//
//  1. Copy the points (EFAULT) and size the entries (ENOMEM).
//  2. Initial scan in array order: resolve each point. Unavailable is EINVAL
//     for the whole call unless WAIT_FOR_SUBMIT or WAIT_AVAILABLE is set, in
//     which case the entry waits fence-less. An entry counts if
//     WAIT_AVAILABLE is set or its fence has signalled; the lowest counted
//     index is first_signaled (~0 if none).
//  3. Done if all count, or any counts without WAIT_ALL.
//  4. Fence-less entries are queued on their syncobjs; each captures a
//     fence once, when one appears for its point. A reset does not count.
//  5. With WAIT_DEADLINE, pass deadlineNsec as a hint to captured fences.
//  6. Loop: count entries whose captured fence has signalled (or merely
//     exists, with WAIT_AVAILABLE); without WAIT_ALL the first such index
//     in array order is the answer; with WAIT_ALL all must count. Else
//     ETIME at the deadline, ERESTARTSYS if ctx is done, or sleep.
//
// Captured fences are a snapshot: later changes to the syncobjs do not
// affect this wait. Fence errors are ignored. timeout is absolute; at or
// before now (0 and negative values included) the call polls. The kernel
// rounds a future timeout up to whole jiffies; virtual time needs no such
// rounding, so the wait ends exactly at the deadline.
//
// handles are the u32 handles objs were found under, as copied in; the
// traces of a wait that blocks name them.
func (d *Domain) waitArray(ctx context.Context, mem UserMemory, objs []*Syncobj, handles []byte, pointsAddr uint64, flags uint32, timeout int64, deadlineNsec uint64) (uint32, errno.Errno) {
	points, e := copyPoints(mem, pointsAddr, len(objs))
	if e != 0 {
		return 0, e
	}
	if uint64(len(objs))*waitEntrySize > kmallocMax {
		return 0, errno.ENOMEM
	}
	all := flags&DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL != 0
	available := flags&DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE != 0
	forSubmit := flags&(DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT|DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE) != 0

	wake := d.NewWaiter()
	entries := make([]waitEntry, len(objs))
	defer func() {
		for i := range entries {
			if entries[i].registered {
				objs[i].removeWait(entries[i].w)
			}
			entries[i].cb.Remove()
		}
	}()

	first := ^uint32(0)
	counted := 0
	for i, s := range objs {
		entries[i].w = &syncobjWaiter{point: points[i], wake: wake}
		f, ok := s.Resolve(points[i])
		if !ok {
			if forSubmit {
				continue
			}
			return 0, errno.EINVAL
		}
		entries[i].w.fence = f
		if available || f.IsSignaled() {
			if counted == 0 {
				first = uint32(i)
			}
			counted++
		}
	}
	if counted == len(objs) || (counted > 0 && !all) {
		return first, 0
	}

	if forSubmit {
		for i, s := range objs {
			if entries[i].w.captured() == nil {
				s.addWait(entries[i].w)
				entries[i].registered = true
			}
		}
	}
	if flags&DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE != 0 {
		for i := range entries {
			if f := entries[i].w.captured(); f != nil {
				SetDeadline(f, int64(deadlineNsec))
			}
		}
	}

	done := func() bool {
		n := 0
		for i := range entries {
			f := entries[i].w.captured()
			if f == nil {
				continue
			}
			if !available && !f.IsSignaled() {
				if entries[i].cb != nil {
					continue
				}
				cb, ok := f.AddCallback(func(*Fence) { wake.Kick() })
				if ok {
					entries[i].cb = cb
					continue
				}
			}
			if !all {
				first = uint32(i)
				return true
			}
			n++
		}
		return n == len(entries)
	}
	tr := d.tracing()
	if tr != nil && !done() && timeout > d.Now() {
		// It will sleep: say on what. (done is what block calls first;
		// calling it once more changes nothing.)
		for i := range entries {
			f := entries[i].w.captured()
			if f != nil && (available || f.IsSignaled()) {
				continue
			}
			tr.Trace(Trace{Op: TraceWaitBlocked, Syncobj: objs[i].id, Handle: le.Uint32(handles[4*i:]), Point: points[i], Fence: f})
		}
	} else {
		tr = nil
	}
	e = d.block(ctx, timeout, wake, done)
	if tr != nil {
		woken := Trace{Op: TraceWaitWoken, Errno: e}
		if e == 0 {
			// What ended it: the first entry that counts, or with WAIT_ALL
			// the last fence to signal.
			i := int(first)
			if all {
				i = latest(entries)
			}
			woken.Syncobj, woken.Handle, woken.Point, woken.Fence = objs[i].id, le.Uint32(handles[4*i:]), points[i], entries[i].w.captured()
		}
		tr.Trace(woken)
	}
	if e != 0 {
		return 0, e
	}
	return first, 0
}

// latest returns the index of the entry whose captured fence signalled
// last (the lowest index among equals; 0 if none has).
func latest(entries []waitEntry) int {
	best, at := 0, int64(0)
	for i := range entries {
		if f := entries[i].w.captured(); f != nil {
			if ts, ok := f.Timestamp(); ok && (ts > at || i == 0) {
				best, at = i, ts
			}
		}
	}
	return best
}
