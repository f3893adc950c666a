package drm

import (
	"context"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// The driver's timeline. With a sink set ([Driver.SetTrace]) the driver
// emits what it does as timeline events, stamped with the domain clock's
// time:
//
//   - every ioctl, entering and leaving ([Driver.Ioctl]);
//   - EXECBUFFER's in-fences, leaf by leaf: skipped (already signalled,
//     on the submission's own context, handed to the host) or waited
//     (blocked, then woken);
//   - each request it puts on a virtqueue, and before that the fence the
//     request carries, so that a viewer sees the fence before the device
//     starts the job (the device may start it within the notify);
//   - each device fence it signals, and the display's out-fences;
//   - out-syncobjs getting the out-fence (a point, or a replace),
//     in-syncobjs reset, out-fence sync_files;
//   - commits (one event per CRTC), the vblanks they land on, and flips;
//     a commit's in-fences as waits: the process's for a blocking
//     commit, the kernel's (pid 0) for a nonblocking one;
//   - and what package fence reports through the domain's tracer (syncobj
//     ioctls, syncobj waits, eventfds, sync_file exports and merges,
//     sw_sync points), to which it adds the calling process.
//
// Each event names the process that caused it (Task.Pid; 0 for the
// kernel itself: the display's clock, the device's interrupt). For what
// fence reports the caller is the task current says is running, which a
// machine that runs one process at a time knows exactly. A change is
// reported just before it takes effect (a fence's signal, a syncobj's new
// fence), so that what it sets off (a waiter woken, an eventfd, a flip)
// comes after it. A commit made by PAGE_FLIP or SETCRTC reports the
// ATOMIC flags it amounts to.

// SetTrace makes the driver, and the fence domain it was made with,
// emit timeline events to sink (nil: none). current returns the task
// running now, or nil when none is (the kernel itself); it may be nil if
// fence's reports need no caller. Call it before the driver is used.
// Emit must not call back into the driver.
func (drv *Driver) SetTrace(sink timeline.Sink, current func() *Task) {
	drv.sink, drv.current = sink, current
	if sink == nil {
		drv.d.SetTracer(nil)
		return
	}
	drv.d.SetTracer(fenceTracer{drv})
}

// tracing reports whether events are wanted; emitters check it before
// building one.
func (drv *Driver) tracing() bool { return drv.sink != nil }

// emit stamps e with the current virtual time and sends it.
func (drv *Driver) emit(e timeline.Event) {
	e.Time = drv.d.Now()
	drv.sink.Emit(e)
}

// tlFence names f as a timeline does: (context, seqno); nil and the stub
// fences (context 0) are none. A timeline point (a chain node) is named
// by the fence placed there (dma_fence_chain_contained): the fence whose
// signal a viewer can link to the waiters of that point.
func tlFence(f *fence.Fence) timeline.Fence {
	if f != nil {
		f = f.Contained()
	}
	if f == nil || f.Context() == 0 {
		return timeline.Fence{}
	}
	return timeline.Fence{Context: f.Context(), Seqno: f.Seqno()}
}

// caller is the process on whose behalf t acts, and the fd of its ioctl
// in progress; a nil t is the kernel.
func caller(t *Task) (pid, fd int32) {
	if t == nil {
		return 0, 0
	}
	return t.Pid, t.ioctlFD
}

// fenceTracer turns package fence's reports into the driver's events.
type fenceTracer struct{ drv *Driver }

// Trace implements [fence.Tracer].
func (ft fenceTracer) Trace(tr fence.Trace) {
	drv := ft.drv
	var t *Task
	if drv.current != nil {
		t = drv.current()
	}
	pid, fd := caller(t)
	e := timeline.Event{Pid: pid, Fence: tlFence(tr.Fence)}
	switch tr.Op {
	case fence.TraceReplace:
		e.Kind, e.Syncobj, e.Handle, e.SrcFD = timeline.SyncobjReplace, tr.Syncobj, tr.Handle, tr.SrcFD
	case fence.TraceReset:
		e.Kind, e.Syncobj, e.Handle = timeline.SyncobjReset, tr.Syncobj, tr.Handle
	case fence.TraceSignal:
		e.Kind, e.Syncobj, e.Handle, e.Point = timeline.SyncobjSignal, tr.Syncobj, tr.Handle, tr.Point
	case fence.TraceTransfer:
		e.Kind, e.Syncobj, e.Handle, e.Point = timeline.SyncobjTransfer, tr.Syncobj, tr.Handle, tr.Point
		e.SrcSyncobj, e.SrcHandle, e.SrcPoint, e.SrcFence = tr.SrcSyncobj, tr.SrcHandle, tr.SrcPoint, tlFence(tr.SrcFence)
	case fence.TraceSyncFile:
		e.Kind, e.FD = timeline.SyncFileCreated, tr.FD
		e.SrcSyncobj, e.SrcHandle, e.SrcPoint = tr.SrcSyncobj, tr.SrcHandle, tr.SrcPoint
	case fence.TraceMerge:
		e.Kind, e.FD, e.SrcFD, e.SrcFence = timeline.SyncFileMerged, tr.FD, tr.SrcFD, tlFence(tr.SrcFence)
		if tr.SrcFD < 0 {
			e.SrcFD = fd // the sync_file the ioctl was called on
		}
	case fence.TraceWaitBlocked:
		e.Kind, e.FD, e.Syncobj, e.Handle, e.Point = timeline.WaitBlocked, fd, tr.Syncobj, tr.Handle, tr.Point
	case fence.TraceWaitWoken:
		e.Kind, e.FD, e.Syncobj, e.Handle, e.Point, e.Errno = timeline.WaitWoken, fd, tr.Syncobj, tr.Handle, tr.Point, uint16(tr.Errno)
	case fence.TraceEventfd:
		// The process that registered it, whose fd FD is, whoever signals it.
		e.Kind, e.Pid, e.FD = timeline.EventfdFired, tr.Registrar, tr.FD
		e.Syncobj, e.Handle, e.Point = tr.Syncobj, tr.Handle, tr.Point
	case fence.TraceFenceEmitted:
		e.Kind, e.FD = timeline.FenceEmitted, fd
	case fence.TraceFenceSignalled:
		e.Kind, e.Pid, e.Errno = timeline.FenceSignalled, 0, uint16(tr.Errno)
	default:
		return
	}
	drv.emit(e)
}

// signalFence signals a fence the driver published, reporting it first
// (so that what the signal sets off comes after it on the timeline).
func (drv *Driver) signalFence(f *fence.Fence) {
	if drv.tracing() && !f.IsSignaled() {
		drv.emit(timeline.Event{Kind: timeline.FenceSignalled, Fence: tlFence(f), Errno: uint16(f.Error())})
	}
	f.Signal()
}

// fenceSource is where an in-fence came from: a syncobj's point, or
// (zero) a sync_file.
type fenceSource struct {
	syncobj, handle uint32
	point           uint64
}

// waitEvent is a wait event of t's on leaf from src.
func waitEvent(kind timeline.Kind, t *Task, leaf *fence.Fence, src fenceSource) timeline.Event {
	pid, fd := caller(t)
	return timeline.Event{Kind: kind, Pid: pid, FD: fd, Fence: tlFence(leaf),
		Syncobj: src.syncobj, Handle: src.handle, Point: src.point}
}

// waitFence waits for f on behalf of t until deadline, as f.Wait,
// reporting the wait: skipped if f has signalled, else blocked and woken.
func (drv *Driver) waitFence(t *Task, f *fence.Fence, src fenceSource, deadline int64) errno.Errno {
	if !drv.tracing() {
		return f.Wait(t.Ctx, deadline)
	}
	if f.IsSignaled() {
		drv.skipped(t, f, src, timeline.SkipSignalled)
		return 0
	}
	drv.emit(waitEvent(timeline.WaitBlocked, t, f, src))
	err := f.Wait(t.Ctx, deadline)
	e := waitEvent(timeline.WaitWoken, t, f, src)
	e.Errno = uint16(err)
	drv.emit(e)
	return err
}

// emitFence reports f, just given its device fence id in the request at
// hdr, as emitted by t (nil: the kernel): before the device can see the
// request. CtxID and RingIdx name the device timeline that will retire
// it, as FenceRetired does: the request's (context, ring) for a ring
// fence, (0, 0) for the global one.
func (drv *Driver) emitFence(t *Task, f *fence.Fence, hdr uint64) {
	var h device.CtrlHdr
	if b, ok := drv.gpu.mem.Range(hdr, device.CtrlHdrSize); ok {
		h.Unmarshal(b)
	}
	pid, fd := caller(t)
	e := timeline.Event{Kind: timeline.FenceEmitted, Pid: pid, FD: fd, Fence: tlFence(f), FenceID: h.FenceID}
	if h.Flags&device.VIRTIO_GPU_FLAG_INFO_RING_IDX != 0 {
		e.CtxID, e.RingIdx = h.CtxID, h.RingIdx
	}
	drv.emit(e)
}

// emitQueueAdd reports the chain at head just made available on queue q,
// from its request header in guest memory at hdr.
func (drv *Driver) emitQueueAdd(q int, head uint16, hdr uint64) {
	var h device.CtrlHdr
	if b, ok := drv.gpu.mem.Range(hdr, device.CtrlHdrSize); ok {
		h.Unmarshal(b)
	}
	drv.emit(timeline.Event{Kind: timeline.QueueAdd, Queue: uint8(q), Head: head, Cmd: h.Type,
		Flags: h.Flags, FenceID: h.FenceID, CtxID: h.CtxID, RingIdx: h.RingIdx})
}

// skipped reports that t did not wait for leaf, for reason.
func (drv *Driver) skipped(t *Task, leaf *fence.Fence, src fenceSource, reason timeline.SkipReason) {
	e := waitEvent(timeline.WaitSkipped, t, leaf, src)
	e.Reason = reason
	drv.emit(e)
}

// emitCommit reports commit cm, just swapped in by t with the ATOMIC
// flags: one event per CRTC it updates, with that CRTC's out-fence.
func (drv *Driver) emitCommit(t *Task, cm *commit, flags uint32) {
	u := cm.u
	if u.event {
		flags |= DRM_MODE_PAGE_FLIP_EVENT
	}
	pid, fd := caller(t)
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		e := timeline.Event{Kind: timeline.AtomicCommit, Pid: pid, FD: fd, Scanout: uint32(o), Flags: flags, Count: cm.serial}
		for _, ev := range cm.events {
			if ev.o == o {
				e.Fence = tlFence(ev.out)
			}
		}
		drv.emit(e)
	}
}

// emitFlips reports commit cm on screen: per CRTC it updates, the
// resource its primary plane now shows (0: none).
func (drv *Driver) emitFlips(cm *commit) {
	u := cm.u
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		var res uint32
		if p := u.new.planes[2*o]; p.fb != nil && p.crtc == o && u.new.crtcs[o].active {
			res = p.fb.obj.resID
		}
		drv.emit(timeline.Event{Kind: timeline.Flip, Scanout: uint32(o), Resource: res, Count: cm.serial})
	}
}

// kernelTask is a task for work the kernel does on its own account (a
// commit taking a framebuffer off the screen), uninterruptible; the
// timeline names the process running now, whose call (a close) set it
// off, or none.
func (drv *Driver) kernelTask() *Task {
	t := &Task{Ctx: context.Background()}
	if drv.current != nil {
		if cur := drv.current(); cur != nil {
			t.Pid = cur.Pid
		}
	}
	return t
}
