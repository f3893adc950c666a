// Package timeline is fencelab's record of what happened: the events every
// layer of a machine emits (the device, the guest kernel's driver, the
// guest runtime, the display), the [Sink] they go through, two sinks that
// keep them ([Recorder], unbounded, for tests; [Ring], bounded, for long
// runs), and the encoders that carry them off the machine.
//
// An [Event] is a plain value with a virtual timestamp and a [Kind]; which
// of its fields mean something depends on the kind, and each kind's
// documentation lists them. Events hold numbers only, never strings or
// pointers, so emitting one costs a copy and nothing else. Names for
// numbers (ioctl requests, errno values, process names) are supplied by
// whoever encodes them ([Names], [Meta]).
//
// Two encodings:
//
//   - JSON lines ([Writer], [Reader], [AppendEvent], [ParseEvent]): the wire
//     and storage format. A header line names the format, its [Version] and
//     the run ([Meta]); then one object per event holding only the fields
//     its kind uses, the kind written as its stable name. The reader is
//     strict and bounded, for input from the network.
//   - Chrome trace event JSON ([WriteChrome]), which ui.perfetto.dev opens:
//     a track per device (context, ring), per fence context, per syncobj,
//     per guest process and per scanout, slices for ioctls, waits and jobs,
//     and flow arrows along each fence's path from submission to waiter.
//
// The set of kinds is append-only: a kind keeps its number and its name
// forever, so a stored recording stays readable.
package timeline

import "fmt"

// Kind says what happened.
type Kind uint16

// The kinds of event and the fields each uses (besides Time and Kind).
// Append only; never renumber or rename.
//
// Process fields: Pid is the guest process (0: the kernel itself, no
// process); FD a file descriptor in that process's table. Fence fields name
// a dma-fence by its (context, seqno); the zero [Fence] means none. Syncobj
// is a machine-unique id of a DRM sync object (the same object has a
// different Handle in each file that holds it; tracks are drawn per
// Syncobj); Point is a timeline point (0 on a binary syncobj).
const (
	_ Kind = iota
	// QueueAvail: the device took a chain from a virtqueue (Queue, Head).
	QueueAvail
	// QueueUsed: the device returned a chain to a virtqueue (Queue, Head, Len).
	QueueUsed
	// QueueBroken: the device found a queue corrupted and needs a reset
	// (Queue).
	QueueBroken
	// Request: the device decoded a command (Queue, Head, Cmd, and the
	// header's Flags, FenceID, CtxID, RingIdx).
	Request
	// Response: the device answered a command (Queue, Head, Cmd, Resp, Len,
	// and the response header's Flags, FenceID, CtxID, RingIdx).
	Response
	// JobStart and JobEnd bracket work on a modelled GPU worker (Worker,
	// CtxID, RingIdx, FenceID; FenceID 0 for an unfenced job). A worker runs
	// one job at a time.
	JobStart
	JobEnd
	// FenceRetired: a device timeline completed up to FenceID; parked
	// fenced requests with ids ≤ FenceID on it are answered (FenceID, CtxID,
	// RingIdx, Flags).
	FenceRetired
	// Flush: a resource's rectangle was flushed to a scanout (Resource,
	// Scanout, Rect).
	Flush
	// ScanoutSet: a scanout now shows a resource (Scanout, Resource, Rect;
	// Resource 0: disabled).
	ScanoutSet
	// Cursor: the cursor was updated or moved (Scanout, X, Y, Resource).
	Cursor

	// IoctlEnter: process Pid called ioctl(FD, Ioctl, …) (Pid, FD, Ioctl).
	IoctlEnter
	// IoctlExit: that call returned (Pid, FD, Ioctl, Errno; Errno 0 is
	// success). A process is in at most one ioctl at a time.
	IoctlExit
	// WaitSkipped: a wait on Fence did not block, for Reason (Pid, FD,
	// Fence, Syncobj, Handle, Point, Reason). Syncobj and Point say where
	// the fence came from when it came from a syncobj.
	WaitSkipped
	// WaitBlocked: Pid blocked waiting for Fence, or for Syncobj's Point
	// to get a fence when Fence is zero (Pid, FD, Fence, Syncobj, Handle,
	// Point). A process waiting on several fences emits one WaitBlocked
	// per fence and one WaitWoken.
	WaitBlocked
	// WaitWoken: Pid's wait ended (Pid, FD, Fence, Syncobj, Handle, Point,
	// Errno): Errno 0 when Fence signalled (the first one, for a wait on
	// several), ETIME on timeout, ERESTARTSYS when interrupted.
	WaitWoken
	// QueueAdd: the driver made a chain available on a virtqueue (Queue,
	// Head, Cmd, Flags, FenceID, CtxID, RingIdx), the guest side of
	// QueueAvail.
	QueueAdd
	// FenceEmitted: a fence was created and published (Pid, FD, Fence, and
	// for a fence the device will retire: FenceID, CtxID, RingIdx). Emit it
	// before the command that will signal it reaches the device, so the
	// viewer can draw submission → job.
	FenceEmitted
	// FenceSignalled: Fence signalled (Fence, Errno: the fence's error as a
	// positive errno, 0 for none).
	FenceSignalled
	// SyncobjReplace: a syncobj's fence was replaced (Pid, Syncobj, Handle,
	// Fence; zero Fence: the syncobj was emptied; SrcFD: the sync_file
	// imported, if any).
	SyncobjReplace
	// SyncobjAddPoint: a timeline syncobj got Fence at Point (Pid, Syncobj,
	// Handle, Point, Fence).
	SyncobjAddPoint
	// SyncobjReset: a syncobj was reset to no fence (Pid, Syncobj, Handle).
	SyncobjReset
	// SyncobjSignal: the CPU signalled a syncobj at Point (Pid, Syncobj,
	// Handle, Point, Fence: the signalled fence now there).
	SyncobjSignal
	// SyncobjTransfer: the fence at (SrcSyncobj, SrcPoint) was copied to
	// (Syncobj, Point) (Pid, Syncobj, Handle, Point, Fence, SrcSyncobj,
	// SrcHandle, SrcPoint, SrcFence: Fence is what now stands at the
	// destination, SrcFence what was found at the source).
	SyncobjTransfer
	// SyncFileCreated: a sync_file fd FD holding Fence was made (Pid, FD,
	// Fence; for an export from a syncobj: SrcSyncobj, SrcHandle, SrcPoint).
	SyncFileCreated
	// SyncFileMerged: sync_file FD holding Fence was made by merging; one
	// event per input, naming it (Pid, FD, Fence, SrcFD, SrcFence).
	SyncFileMerged
	// EventfdFired: an eventfd registered on Syncobj's Point was signalled
	// (Pid and FD: the process that registered it and its fd; Syncobj,
	// Handle, Point, Fence).
	EventfdFired
	// Vblank: scanout Scanout's vertical blank number Count.
	Vblank
	// AtomicCommit: process Pid committed a display update on FD touching
	// scanout Scanout (Pid, FD, Scanout, Flags: the ioctl's flags, Count:
	// a serial number of the commit, shared by its events and its Flip,
	// Fence: its out-fence for that scanout, if any). One event per scanout
	// the commit updates.
	AtomicCommit
	// Flip: commit Count reached the screen of Scanout, now showing
	// Resource (Scanout, Resource, Count).
	Flip
	// FaultInjected: the device applied an injected fault to a job
	// (CtxID, RingIdx, FenceID, Worker, Fault).
	FaultInjected
	// ProcessStart: guest process Pid started (Pid).
	ProcessStart
	// ProcessExit: guest process Pid exited with Status (Pid, Status).
	ProcessExit
	// Dropped: Count events were lost here, the newest of them at Time: a
	// bounded sink ([Ring]) overflowed and dropped its oldest events.
	Dropped

	numKinds
)

var kindNames = [numKinds]string{
	QueueAvail: "queue-avail", QueueUsed: "queue-used", QueueBroken: "queue-broken",
	Request: "request", Response: "response", JobStart: "job-start", JobEnd: "job-end",
	FenceRetired: "fence-retired", Flush: "flush", ScanoutSet: "scanout-set", Cursor: "cursor",
	IoctlEnter: "ioctl-enter", IoctlExit: "ioctl-exit",
	WaitSkipped: "wait-skipped", WaitBlocked: "wait-blocked", WaitWoken: "wait-woken",
	QueueAdd: "queue-add", FenceEmitted: "fence-emitted", FenceSignalled: "fence-signalled",
	SyncobjReplace: "syncobj-replace", SyncobjAddPoint: "syncobj-add-point",
	SyncobjReset: "syncobj-reset", SyncobjSignal: "syncobj-signal", SyncobjTransfer: "syncobj-transfer",
	SyncFileCreated: "sync-file-created", SyncFileMerged: "sync-file-merged",
	EventfdFired: "eventfd-fired", Vblank: "vblank", AtomicCommit: "atomic-commit", Flip: "flip",
	FaultInjected: "fault-injected", ProcessStart: "process-start", ProcessExit: "process-exit",
	Dropped: "dropped",
}

var kindByName = func() map[string]Kind {
	m := make(map[string]Kind, numKinds)
	for k, n := range kindNames {
		if n != "" {
			m[n] = Kind(k)
		}
	}
	return m
}()

// String returns the kind's stable name, or "kind-N" for a number no kind
// has.
func (k Kind) String() string {
	if k.Known() {
		return kindNames[k]
	}
	return "kind-" + itoa(uint64(k))
}

// Known reports whether k is one of the kinds this package defines.
func (k Kind) Known() bool { return k > 0 && k < numKinds }

// ParseKind returns the kind whose stable name is name.
func ParseKind(name string) (Kind, bool) {
	k, ok := kindByName[name]
	return k, ok
}

// SkipReason says why a wait did not block ([WaitSkipped]).
type SkipReason uint8

// The reasons a wait is skipped. Append only.
const (
	_ SkipReason = iota
	// SkipSignalled: the fence had already signalled.
	SkipSignalled
	// SkipOwnContext: the fence is on the submission's own fence context,
	// which the ring orders anyway.
	SkipOwnContext
	// SkipHost: the wait was handed to the device as a host-side wait.
	SkipHost
)

// String returns a short description of r.
func (r SkipReason) String() string {
	switch r {
	case SkipSignalled:
		return "signalled"
	case SkipOwnContext:
		return "own context"
	case SkipHost:
		return "host wait"
	}
	return "reason " + itoa(uint64(r))
}

// Rect is a rectangle in pixels, (0,0) at the top left.
type Rect struct{ X, Y, W, H uint32 }

// Fence names a dma-fence: its context and its sequence number on that
// context. The zero Fence means "no fence" (the kernel's always-signalled
// stub fence, context 0, is reported as none).
type Fence struct{ Context, Seqno uint64 }

// IsZero reports whether f names no fence.
func (f Fence) IsZero() bool { return f == Fence{} }

// String returns "context:seqno".
func (f Fence) String() string { return itoa(f.Context) + ":" + itoa(f.Seqno) }

// Event is one thing that happened at virtual time Time (nanoseconds). Only
// the fields its Kind names are meaningful; the rest are zero (see
// [Event.Check]). Event is a plain value: copy it freely.
type Event struct {
	Time int64
	Kind Kind

	// The guest process and its files.
	Errno  uint16 // positive Linux errno; 0 means success
	Pid    int32  // guest process id; 0: the kernel, no process
	FD     int32  // file descriptor in Pid's table
	Status int32  // exit status (ProcessExit)
	Ioctl  uint32 // ioctl request number

	// Why a wait was skipped (WaitSkipped).
	Reason SkipReason

	// The virtqueue side.
	Queue uint8  // 0 controlq, 1 cursorq
	Head  uint16 // descriptor chain head
	Len   uint32 // bytes written into the chain

	// The virtio-gpu command, and the modelled GPU.
	Cmd      uint32 // VIRTIO_GPU_CMD_*
	Resp     uint32 // VIRTIO_GPU_RESP_*
	Flags    uint32 // header flags (FENCE, INFO_RING_IDX); AtomicCommit: the ioctl's flags
	FenceID  uint64 // device-wide fence id
	CtxID    uint32 // virtio-gpu context
	RingIdx  uint8  // ring within CtxID
	Fault    uint8  // FaultInjected: the fault, numbered as device.FaultKind
	Resource uint32
	Scanout  uint32
	Rect     Rect
	X, Y     int32
	Worker   int32 // worker index

	// Fences and sync objects, and the other side of kinds that relate
	// two things (transfer, merge, import, export): the Src fields.
	Syncobj    uint32 // machine-unique syncobj id
	Fence      Fence
	Handle     uint32 // the syncobj's handle in the acting file
	SrcFD      int32
	Point      uint64 // timeline point
	SrcSyncobj uint32
	SrcHandle  uint32
	SrcPoint   uint64
	SrcFence   Fence

	Count uint64 // Dropped: events lost; Vblank: vblank number; AtomicCommit, Flip: commit serial
}

// Check reports an error if e's kind is unknown or e sets a field its kind
// does not use. Only events that pass Check survive a JSON lines round trip
// unchanged; emitters' tests can run it over what they recorded
// ([Recorder.Check]).
func (e Event) Check() error {
	if !e.Kind.Known() {
		return fmt.Errorf("timeline: unknown kind %d", uint16(e.Kind))
	}
	for k := key(0); k < numKeys; k++ {
		if e.Kind.fields()&(1<<k) == 0 && e.get(k) != 0 {
			return fmt.Errorf("timeline: %v event sets %s, which its kind does not use", e.Kind, keyNames[k])
		}
	}
	return nil
}

// key is one JSON field of an event (Time and Kind aside).
type key uint8

const (
	kPid key = iota
	kFD
	kIoctl
	kErrno
	kReason
	kQueue
	kHead
	kLen
	kCmd
	kResp
	kFlags
	kFenceID
	kCtx
	kRing
	kWorker
	kFault
	kResource
	kScanout
	kRectX
	kRectY
	kRectW
	kRectH
	kX
	kY
	kFenceCtx
	kFenceSeqno
	kSyncobj
	kHandle
	kPoint
	kSrcFD
	kSrcSyncobj
	kSrcHandle
	kSrcPoint
	kSrcFenceCtx
	kSrcFenceSeqno
	kCount
	kStatus
	numKeys
)

// keyNames are the JSON field names, in the order fields are written.
var keyNames = [numKeys]string{
	kPid: "pid", kFD: "fd", kIoctl: "ioctl", kErrno: "errno", kReason: "reason",
	kQueue: "queue", kHead: "head", kLen: "len", kCmd: "cmd", kResp: "resp", kFlags: "flags",
	kFenceID: "fence_id", kCtx: "ctx", kRing: "ring", kWorker: "worker", kFault: "fault",
	kResource: "resource", kScanout: "scanout",
	kRectX: "rect_x", kRectY: "rect_y", kRectW: "rect_w", kRectH: "rect_h", kX: "x", kY: "y",
	kFenceCtx: "fence_ctx", kFenceSeqno: "fence_seqno",
	kSyncobj: "syncobj", kHandle: "handle", kPoint: "point",
	kSrcFD: "src_fd", kSrcSyncobj: "src_syncobj", kSrcHandle: "src_handle", kSrcPoint: "src_point",
	kSrcFenceCtx: "src_fence_ctx", kSrcFenceSeqno: "src_fence_seqno",
	kCount: "count", kStatus: "status",
}

// keyWidth is each field's width in bits; negative for signed fields.
var keyWidth = [numKeys]int8{
	kPid: -32, kFD: -32, kIoctl: 32, kErrno: 16, kReason: 8,
	kQueue: 8, kHead: 16, kLen: 32, kCmd: 32, kResp: 32, kFlags: 32,
	kFenceID: 64, kCtx: 32, kRing: 8, kWorker: -32, kFault: 8,
	kResource: 32, kScanout: 32, kRectX: 32, kRectY: 32, kRectW: 32, kRectH: 32, kX: -32, kY: -32,
	kFenceCtx: 64, kFenceSeqno: 64, kSyncobj: 32, kHandle: 32, kPoint: 64,
	kSrcFD: -32, kSrcSyncobj: 32, kSrcHandle: 32, kSrcPoint: 64, kSrcFenceCtx: 64, kSrcFenceSeqno: 64,
	kCount: 64, kStatus: -32,
}

var keyByName = func() map[string]key {
	m := make(map[string]key, numKeys)
	for k, n := range keyNames {
		m[n] = key(k)
	}
	return m
}()

func keys(ks ...key) uint64 {
	var m uint64
	for _, k := range ks {
		m |= 1 << k
	}
	return m
}

// Field groups several kinds share.
var (
	hdrKeys     = keys(kFlags, kFenceID, kCtx, kRing)
	rectKeys    = keys(kRectX, kRectY, kRectW, kRectH)
	fenceKeys   = keys(kFenceCtx, kFenceSeqno)
	waitKeys    = keys(kPid, kFD, kFenceCtx, kFenceSeqno, kSyncobj, kHandle, kPoint)
	syncobjKeys = keys(kPid, kSyncobj, kHandle)
)

// kindKeys is the table of which fields each kind uses: the JSON encoder
// writes exactly these, the decoder accepts only these, Check enforces it.
var kindKeys = [numKinds]uint64{
	QueueAvail:      keys(kQueue, kHead),
	QueueUsed:       keys(kQueue, kHead, kLen),
	QueueBroken:     keys(kQueue),
	Request:         keys(kQueue, kHead, kCmd) | hdrKeys,
	Response:        keys(kQueue, kHead, kCmd, kResp, kLen) | hdrKeys,
	JobStart:        keys(kWorker, kCtx, kRing, kFenceID),
	JobEnd:          keys(kWorker, kCtx, kRing, kFenceID),
	FenceRetired:    hdrKeys,
	Flush:           keys(kScanout, kResource) | rectKeys,
	ScanoutSet:      keys(kScanout, kResource) | rectKeys,
	Cursor:          keys(kScanout, kX, kY, kResource),
	IoctlEnter:      keys(kPid, kFD, kIoctl),
	IoctlExit:       keys(kPid, kFD, kIoctl, kErrno),
	WaitSkipped:     waitKeys | keys(kReason),
	WaitBlocked:     waitKeys,
	WaitWoken:       waitKeys | keys(kErrno),
	QueueAdd:        keys(kQueue, kHead, kCmd) | hdrKeys,
	FenceEmitted:    keys(kPid, kFD, kFenceID, kCtx, kRing) | fenceKeys,
	FenceSignalled:  keys(kErrno) | fenceKeys,
	SyncobjReplace:  syncobjKeys | fenceKeys | keys(kSrcFD),
	SyncobjAddPoint: syncobjKeys | fenceKeys | keys(kPoint),
	SyncobjReset:    syncobjKeys,
	SyncobjSignal:   syncobjKeys | fenceKeys | keys(kPoint),
	SyncobjTransfer: syncobjKeys | fenceKeys | keys(kPoint, kSrcSyncobj, kSrcHandle, kSrcPoint, kSrcFenceCtx, kSrcFenceSeqno),
	SyncFileCreated: keys(kPid, kFD, kSrcSyncobj, kSrcHandle, kSrcPoint) | fenceKeys,
	SyncFileMerged:  keys(kPid, kFD, kSrcFD, kSrcFenceCtx, kSrcFenceSeqno) | fenceKeys,
	EventfdFired:    keys(kPid, kFD, kSyncobj, kHandle, kPoint) | fenceKeys,
	Vblank:          keys(kScanout, kCount),
	AtomicCommit:    keys(kPid, kFD, kScanout, kFlags, kCount) | fenceKeys,
	Flip:            keys(kScanout, kResource, kCount),
	FaultInjected:   keys(kCtx, kRing, kFenceID, kWorker, kFault),
	ProcessStart:    keys(kPid),
	ProcessExit:     keys(kPid, kStatus),
	Dropped:         keys(kCount),
}

// fields returns the set of fields kind k uses; none for an unknown kind.
func (k Kind) fields() uint64 {
	if k.Known() {
		return kindKeys[k]
	}
	return 0
}

// get returns field k of e; a signed field comes back sign-extended.
func (e *Event) get(k key) uint64 {
	switch k {
	case kPid:
		return uint64(int64(e.Pid))
	case kFD:
		return uint64(int64(e.FD))
	case kIoctl:
		return uint64(e.Ioctl)
	case kErrno:
		return uint64(e.Errno)
	case kReason:
		return uint64(e.Reason)
	case kQueue:
		return uint64(e.Queue)
	case kHead:
		return uint64(e.Head)
	case kLen:
		return uint64(e.Len)
	case kCmd:
		return uint64(e.Cmd)
	case kResp:
		return uint64(e.Resp)
	case kFlags:
		return uint64(e.Flags)
	case kFenceID:
		return e.FenceID
	case kCtx:
		return uint64(e.CtxID)
	case kRing:
		return uint64(e.RingIdx)
	case kWorker:
		return uint64(int64(e.Worker))
	case kFault:
		return uint64(e.Fault)
	case kResource:
		return uint64(e.Resource)
	case kScanout:
		return uint64(e.Scanout)
	case kRectX:
		return uint64(e.Rect.X)
	case kRectY:
		return uint64(e.Rect.Y)
	case kRectW:
		return uint64(e.Rect.W)
	case kRectH:
		return uint64(e.Rect.H)
	case kX:
		return uint64(int64(e.X))
	case kY:
		return uint64(int64(e.Y))
	case kFenceCtx:
		return e.Fence.Context
	case kFenceSeqno:
		return e.Fence.Seqno
	case kSyncobj:
		return uint64(e.Syncobj)
	case kHandle:
		return uint64(e.Handle)
	case kPoint:
		return e.Point
	case kSrcFD:
		return uint64(int64(e.SrcFD))
	case kSrcSyncobj:
		return uint64(e.SrcSyncobj)
	case kSrcHandle:
		return uint64(e.SrcHandle)
	case kSrcPoint:
		return e.SrcPoint
	case kSrcFenceCtx:
		return e.SrcFence.Context
	case kSrcFenceSeqno:
		return e.SrcFence.Seqno
	case kCount:
		return e.Count
	case kStatus:
		return uint64(int64(e.Status))
	}
	return 0
}

// set stores v, already range-checked for k's width, into field k.
func (e *Event) set(k key, v uint64) {
	switch k {
	case kPid:
		e.Pid = int32(v)
	case kFD:
		e.FD = int32(v)
	case kIoctl:
		e.Ioctl = uint32(v)
	case kErrno:
		e.Errno = uint16(v)
	case kReason:
		e.Reason = SkipReason(v)
	case kQueue:
		e.Queue = uint8(v)
	case kHead:
		e.Head = uint16(v)
	case kLen:
		e.Len = uint32(v)
	case kCmd:
		e.Cmd = uint32(v)
	case kResp:
		e.Resp = uint32(v)
	case kFlags:
		e.Flags = uint32(v)
	case kFenceID:
		e.FenceID = v
	case kCtx:
		e.CtxID = uint32(v)
	case kRing:
		e.RingIdx = uint8(v)
	case kWorker:
		e.Worker = int32(v)
	case kFault:
		e.Fault = uint8(v)
	case kResource:
		e.Resource = uint32(v)
	case kScanout:
		e.Scanout = uint32(v)
	case kRectX:
		e.Rect.X = uint32(v)
	case kRectY:
		e.Rect.Y = uint32(v)
	case kRectW:
		e.Rect.W = uint32(v)
	case kRectH:
		e.Rect.H = uint32(v)
	case kX:
		e.X = int32(v)
	case kY:
		e.Y = int32(v)
	case kFenceCtx:
		e.Fence.Context = v
	case kFenceSeqno:
		e.Fence.Seqno = v
	case kSyncobj:
		e.Syncobj = uint32(v)
	case kHandle:
		e.Handle = uint32(v)
	case kPoint:
		e.Point = v
	case kSrcFD:
		e.SrcFD = int32(v)
	case kSrcSyncobj:
		e.SrcSyncobj = uint32(v)
	case kSrcHandle:
		e.SrcHandle = uint32(v)
	case kSrcPoint:
		e.SrcPoint = v
	case kSrcFenceCtx:
		e.SrcFence.Context = v
	case kSrcFenceSeqno:
		e.SrcFence.Seqno = v
	case kCount:
		e.Count = v
	case kStatus:
		e.Status = int32(v)
	}
}

// Sink receives events. Emit is called synchronously by the layer that
// produced the event and must not call back into it.
type Sink interface {
	Emit(Event)
}

// Discard is a Sink that drops everything.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// Recorder is a Sink that keeps every event in order, without limit: for
// tests and short runs ([Ring] is the bounded one). The zero value is
// ready to use. A Recorder is not safe for concurrent use.
type Recorder struct {
	Events []Event
}

// Emit implements [Sink].
func (r *Recorder) Emit(e Event) { r.Events = append(r.Events, e) }

// Of returns the recorded events of kind k.
func (r *Recorder) Of(k Kind) []Event {
	var out []Event
	for _, e := range r.Events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Check runs [Event.Check] over the recorded events and returns the first
// error, naming the event's index.
func (r *Recorder) Check() error {
	for i, e := range r.Events {
		if err := e.Check(); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// Tee is a Sink that emits every event to each of sinks in turn (the
// page's own feed and the dev server's stream, say).
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) Emit(e Event) {
	for _, s := range t {
		s.Emit(e)
	}
}
