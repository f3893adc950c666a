package fence

import "fencelab/errno"

// Tracing. A machine records what its fences and syncobjs do on a
// timeline (package timeline), but fence knows neither that package nor
// processes: it reports each traced operation as a [Trace] to the
// [Tracer] installed on its [Domain], and the tracer (the guest kernel's
// driver) adds who did it and when, as Linux's trace events record the
// current task. With no tracer installed, reporting costs one atomic load
// and a branch.

// TraceOp says what a [Trace] reports. Append only.
type TraceOp uint8

// The traced operations and the [Trace] fields each sets.
const (
	_ TraceOp = iota
	// TraceReplace: Syncobj's fence was replaced through Handle by the
	// fence of the sync_file at SrcFD (FD_TO_HANDLE with
	// IMPORT_SYNC_FILE): Syncobj, Handle, Fence, SrcFD.
	TraceReplace
	// TraceReset: Syncobj was emptied (RESET): Syncobj, Handle.
	TraceReset
	// TraceSignal: the CPU signalled Syncobj at Point (SIGNAL,
	// TIMELINE_SIGNAL, CREATE with CREATE_SIGNALED): Syncobj, Handle,
	// Point, Fence (the signalled stub placed there).
	TraceSignal
	// TraceTransfer: the fence at (SrcSyncobj, SrcPoint) went to
	// (Syncobj, Point) (TRANSFER): every syncobj field; SrcFence is what
	// was found at the source, Fence what is placed at the destination
	// (SrcFence, flattened for a point).
	TraceTransfer
	// TraceSyncFile: sync_file fd FD holding Fence was made: by
	// HANDLE_TO_FD with EXPORT_SYNC_FILE (SrcSyncobj, SrcHandle; SrcPoint
	// 0) or by sw_sync's CREATE_FENCE.
	TraceSyncFile
	// TraceMerge: sync_file fd FD holding Fence was made by MERGE; one
	// Trace per input, SrcFD and SrcFence. The input the ioctl was called
	// on has SrcFD −1: fence does not know the fd the caller used.
	TraceMerge
	// TraceWaitBlocked: the caller is about to sleep until Fence signals,
	// or until (Syncobj, Point) gets a fence if Fence is nil. A wait on
	// several fences reports each it waits for, then one TraceWaitWoken.
	TraceWaitBlocked
	// TraceWaitWoken: the caller's wait ended: Errno 0 with the fence
	// that ended it (Syncobj, Handle, Point where it came from), ETIME at
	// the deadline, ERESTARTSYS when interrupted.
	TraceWaitWoken
	// TraceEventfd: an eventfd registered on (Syncobj, Point) with
	// SYNCOBJ_EVENTFD was signalled: Eventfd, FD (the fd it was
	// registered with), Registrar (whose fd that is:
	// SyncobjTable.Eventfd), Syncobj, Handle, Point, Fence.
	TraceEventfd
	// TraceFenceEmitted: an sw_sync point Fence was created.
	TraceFenceEmitted
	// TraceFenceSignalled: an sw_sync point Fence signalled, with Errno
	// (ENOENT when its timeline was closed).
	TraceFenceSignalled
)

// Trace is one traced operation. Which fields mean something depends on
// Op; the rest are zero. Syncobjs are named by [Syncobj.ID], and by the
// handle the calling file holds them under. A change to a syncobj, and a
// fence's signal, is reported just before it takes effect, so that what
// it sets off (an eventfd, a waiter's wake-up) is reported after it.
type Trace struct {
	Op    TraceOp
	Errno errno.Errno
	// FD is the fd of a new sync_file, or of an eventfd.
	FD int32
	// Registrar is who registered an eventfd (TraceEventfd).
	Registrar int32
	// SrcFD is the sync_file imported or merged.
	SrcFD int32

	Syncobj uint32
	Handle  uint32
	Point   uint64
	Fence   *Fence

	SrcSyncobj uint32
	SrcHandle  uint32
	SrcPoint   uint64
	SrcFence   *Fence

	// Eventfd is the eventfd signalled (TraceEventfd).
	Eventfd Eventfd
}

// Tracer receives a Domain's traces. Trace is called synchronously, on
// the goroutine that did the operation (for a wait, the waiter's; for an
// eventfd or an sw_sync signal, the signaller's), with no lock of the
// domain's held; it must not block.
type Tracer interface {
	Trace(Trace)
}

// SetTracer installs t as the domain's tracer (nil: none). A machine sets
// it once, before anything runs.
func (d *Domain) SetTracer(t Tracer) {
	if t == nil {
		d.tracer.Store(nil)
		return
	}
	d.tracer.Store(&t)
}

// tracing returns the installed tracer, or nil.
func (d *Domain) tracing() Tracer {
	if t := d.tracer.Load(); t != nil {
		return *t
	}
	return nil
}
