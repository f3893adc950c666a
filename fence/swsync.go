package fence

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"fencelab/errno"
)

// Request numbers of the sw_sync debugfs file (drivers/dma-buf/sw_sync.c,
// magic 'W').
const (
	SW_SYNC_IOC_CREATE_FENCE = 0xC0285700 // _IOWR('W', 0, struct sw_sync_create_fence_data)
	SW_SYNC_IOC_INC          = 0x40045701 // _IOW('W', 1, __u32)
	SW_SYNC_GET_DEADLINE     = 0xC0105702 // _IOWR('W', 2, struct sw_sync_get_deadline)
)

// SwSyncGetDeadline is struct sw_sync_get_deadline (SW_SYNC_GET_DEADLINE).
// Note the order: pad comes before the fd.
type SwSyncGetDeadline struct {
	DeadlineNs uint64 // out; must be 0 on input
	Pad        uint32
	FenceFd    int32
}

// Size of struct sw_sync_get_deadline.
const SwSyncGetDeadlineSize = 16

// Unmarshal decodes s from the first SwSyncGetDeadlineSize bytes of b.
func (s *SwSyncGetDeadline) Unmarshal(b []byte) {
	s.DeadlineNs = le.Uint64(b[0:])
	s.Pad, s.FenceFd = le.Uint32(b[8:]), int32(le.Uint32(b[12:]))
}

// Marshal encodes s into the first SwSyncGetDeadlineSize bytes of b.
func (s *SwSyncGetDeadline) Marshal(b []byte) {
	le.PutUint64(b[0:], s.DeadlineNs)
	le.PutUint32(b[8:], s.Pad)
	le.PutUint32(b[12:], uint32(s.FenceFd))
}

// Timeline is an sw_sync timeline: what one open of
// /sys/kernel/debug/sync/sw_sync gives. It has its own fence context and a
// 32-bit counter starting at 0; a point with value v signals once the
// counter has reached v (legacy 32-bit compare). Closing it (the last
// DecRef) signals every pending point with ENOENT.
//
// Linux 6.12 as Debian builds it lacks sw_sync; fencelab provides it with
// the upstream semantics because CPU-signalled fences are what teachers
// and the IGT tests drive syncobjs with.
type Timeline struct {
	d       *Domain
	context uint64
	name    string
	refs    atomic.Int32

	// mu guards the fields below it.
	mu      sync.Mutex
	value   uint32
	pending []*Fence // unsignalled points in the kernel's pt_list order (wrap-around seqno order)
}

// swPoint is what an sw_sync point adds to its fence (struct sync_pt).
type swPoint struct {
	mu          sync.Mutex
	hasDeadline bool
	deadline    int64
}

// setDeadline is timeline_fence_set_deadline: the earliest deadline wins.
func (p *swPoint) setDeadline(t int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hasDeadline || t < p.deadline {
		p.hasDeadline, p.deadline = true, t
	}
}

// NewTimeline opens a new sw_sync timeline named name (the kernel uses the
// opening task's name), with one reference (sw_sync_debugfs_open).
func (d *Domain) NewTimeline(name string) *Timeline {
	t := &Timeline{d: d, context: d.AllocContexts(1), name: name}
	t.refs.Store(1)
	d.live.timelines.Add(1)
	return t
}

// Context returns the timeline's fence context.
func (t *Timeline) Context() uint64 { return t.context }

// Value returns the timeline's counter.
func (t *Timeline) Value() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.value
}

// IncRef implements [File].
func (t *Timeline) IncRef() { t.refs.Add(1) }

// DecRef implements [File]. The last reference closes the timeline, as
// sw_sync_debugfs_release: every pending point signals with ENOENT, in
// seqno order.
func (t *Timeline) DecRef() {
	switch n := t.refs.Add(-1); {
	case n < 0:
		panic("fence: Timeline reference count below zero")
	case n > 0:
		return
	}
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	now := t.d.Now()
	tr := t.d.tracing()
	for _, pt := range pending {
		if tr != nil {
			tr.Trace(Trace{Op: TraceFenceSignalled, Fence: pt, Errno: errno.ENOENT})
		}
		pt.signal(errno.ENOENT, now)
	}
	t.d.live.timelines.Add(-1)
}

// CreateFence returns the fence for point value, as sync_pt_create: a
// value the counter has already reached gives a fence signalled at once; a
// pending point that already exists with the same value is shared.
// O(log n + n) for n pending points (a sorted insert).
func (t *Timeline) CreateFence(value uint32) *Fence {
	f, _ := t.createFence(value)
	return f
}

// createFence is CreateFence, also saying whether the fence is new.
func (t *Timeline) createFence(value uint32) (*Fence, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The kernel's rb-tree orders points by the 32-bit wrap-around
	// difference (int)(value - seqno); so does this list.
	i, found := slices.BinarySearchFunc(t.pending, value, func(f *Fence, v uint32) int {
		return cmpWrap32(uint32(f.Seqno()), v)
	})
	if found {
		return t.pending[i], false
	}
	f := t.d.NewFence(t.context, uint64(value), "sw_sync", t.name)
	f.sw = &swPoint{}
	if !seqnoLater(uint64(value), uint64(t.value), false) {
		f.signal(0, t.d.Now())
		return f, true
	}
	t.pending = slices.Insert(t.pending, i, f)
	return f, true
}

// cmpWrap32 orders a and b by their 32-bit wrap-around difference.
func cmpWrap32(a, b uint32) int {
	switch d := int32(a - b); {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

// Inc advances the counter by inc and signals, in seqno order, the leading
// points it has reached, as sw_sync_ioctl_inc: an increment above INT_MAX
// is applied in steps of at most INT_MAX so that the 32-bit compare never
// sees a jump of half the range or more. O(k + c) for k points signalled
// with c callbacks.
func (t *Timeline) Inc(inc uint32) {
	for inc > math.MaxInt32 {
		t.signal(math.MaxInt32)
		inc -= math.MaxInt32
	}
	t.signal(inc)
}

// signal is sync_timeline_signal: it stops at the first pending point, in
// list order, that the counter has not reached.
func (t *Timeline) signal(inc uint32) {
	t.mu.Lock()
	t.value += inc
	n := 0
	for n < len(t.pending) && !seqnoLater(t.pending[n].Seqno(), uint64(t.value), false) {
		n++
	}
	done := slices.Clone(t.pending[:n])
	t.pending = slices.Delete(t.pending, 0, n)
	t.mu.Unlock()
	now := t.d.Now()
	tr := t.d.tracing()
	for _, pt := range done {
		if tr != nil {
			tr.Trace(Trace{Op: TraceFenceSignalled, Fence: pt})
		}
		pt.signal(0, now)
	}
}

// Ioctl serves the ioctls of an sw_sync fd (sw_sync_ioctl): CREATE_FENCE,
// INC and GET_DEADLINE. Any other request is ENOTTY.
func (t *Timeline) Ioctl(mem UserMemory, ft FDTable, req uint32, arg uint64) errno.Errno {
	switch req {
	case SW_SYNC_IOC_CREATE_FENCE:
		return t.ioctlCreateFence(mem, ft, arg)
	case SW_SYNC_IOC_INC:
		var b [4]byte
		if e := mem.CopyIn(arg, b[:]); e != 0 {
			return e
		}
		t.Inc(le.Uint32(b[:]))
		return 0
	case SW_SYNC_GET_DEADLINE:
		return t.ioctlGetDeadline(mem, ft, arg)
	}
	return errno.ENOTTY
}

// ioctlCreateFence is sw_sync_ioctl_create_fence: reserve the fd first
// (EMFILE), copy in (EFAULT), make the point and its sync_file, copy the
// fd back (EFAULT), and install the fd last. The name field is ignored.
func (t *Timeline) ioctlCreateFence(mem UserMemory, ft FDTable, arg uint64) errno.Errno {
	fd, e := ft.Reserve()
	if e != 0 {
		return e
	}
	var b [SwSyncCreateFenceDataSize]byte
	if e := mem.CopyIn(arg, b[:]); e != 0 {
		ft.Unreserve(fd)
		return e
	}
	var a SwSyncCreateFenceData
	a.Unmarshal(b[:])
	f, made := t.createFence(a.Value)
	sf := t.d.NewSyncFile(f)
	a.Fence = fd
	a.Marshal(b[:])
	if e := mem.CopyOut(arg, b[:]); e != 0 {
		sf.DecRef()
		ft.Unreserve(fd)
		return e
	}
	ft.Install(fd, sf)
	if tr := t.d.tracing(); tr != nil {
		// A point the counter had already reached is made signalled.
		if made {
			tr.Trace(Trace{Op: TraceFenceEmitted, Fence: f})
			if f.IsSignaled() {
				tr.Trace(Trace{Op: TraceFenceSignalled, Fence: f})
			}
		}
		tr.Trace(Trace{Op: TraceSyncFile, FD: fd, Fence: f})
	}
	return 0
}

// ioctlGetDeadline is sw_sync_ioctl_get_deadline: deadline_ns or pad ≠ 0 is
// EINVAL; the fd must be a sync_file whose fence is an sw_sync point, of any
// timeline (EINVAL otherwise); ENOENT if no deadline was ever set on it.
func (t *Timeline) ioctlGetDeadline(mem UserMemory, ft FDTable, arg uint64) errno.Errno {
	var b [SwSyncGetDeadlineSize]byte
	if e := mem.CopyIn(arg, b[:]); e != 0 {
		return e
	}
	var a SwSyncGetDeadline
	a.Unmarshal(b[:])
	if a.DeadlineNs != 0 || a.Pad != 0 {
		return errno.EINVAL
	}
	f, ok := SyncFileFence(ft, a.FenceFd)
	if !ok {
		return errno.EINVAL
	}
	// dma_fence_to_sync_pt checks only that the fence is an sw_sync point;
	// a point of another timeline is answered too.
	if f.sw == nil {
		return errno.EINVAL
	}
	f.sw.mu.Lock()
	has, dl := f.sw.hasDeadline, f.sw.deadline
	f.sw.mu.Unlock()
	if !has {
		return errno.ENOENT
	}
	a.DeadlineNs = uint64(dl)
	a.Marshal(b[:])
	return mem.CopyOut(arg, b[:])
}
