package drm

import (
	"context"
	"encoding/binary"
	"math"
	"sync"

	"fencelab/errno"
	"fencelab/fence"
)

// DefaultMaxFDs is a process's fd limit (RLIMIT_NOFILE's usual soft value).
const DefaultMaxFDs = 1024

// FDTable is a process's file-descriptor table. It implements
// [fence.FDTable], so the syncobj and sync_file ioctls export and import
// through it exactly as the kernel does (reserve, build, install).
// It is safe for concurrent use.
type FDTable struct {
	max int

	// mu guards the fields below it.
	mu    sync.Mutex
	slots []fdSlot // index = fd
	used  int
}

type fdSlot struct {
	file     fence.File // nil while reserved
	reserved bool
}

// NewFDTable returns an empty table allowing max open fds (DefaultMaxFDs
// if max ≤ 0).
func NewFDTable(max int) *FDTable {
	if max <= 0 {
		max = DefaultMaxFDs
	}
	return &FDTable{max: max}
}

// Reserve implements [fence.FDTable]: the lowest free fd, or EMFILE.
func (t *FDTable) Reserve() (int32, errno.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.used >= t.max {
		return -1, errno.EMFILE
	}
	for fd := range t.slots {
		if !t.slots[fd].reserved {
			t.slots[fd] = fdSlot{reserved: true}
			t.used++
			return int32(fd), 0
		}
	}
	t.slots = append(t.slots, fdSlot{reserved: true})
	t.used++
	return int32(len(t.slots) - 1), 0
}

// Install implements [fence.FDTable].
func (t *FDTable) Install(fd int32, f fence.File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.slots[fd]
	if !s.reserved || s.file != nil {
		panic("drm: Install on an fd that is not reserved")
	}
	s.file = f
}

// Unreserve implements [fence.FDTable].
func (t *FDTable) Unreserve(fd int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.slots[fd]
	if !s.reserved || s.file != nil {
		panic("drm: Unreserve on an fd that is not reserved")
	}
	*s = fdSlot{}
	t.used--
}

// Get implements [fence.FDTable]: the file with a new reference, or EBADF.
func (t *FDTable) Get(fd int32) (fence.File, errno.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.slots) || t.slots[fd].file == nil {
		return nil, errno.EBADF
	}
	f := t.slots[fd].file
	f.IncRef()
	return f, 0
}

// Open installs f, which carries one reference, at the lowest free fd.
func (t *FDTable) Open(f fence.File) (int32, errno.Errno) {
	fd, e := t.Reserve()
	if e != 0 {
		f.DecRef()
		return -1, e
	}
	t.Install(fd, f)
	return fd, 0
}

// Close closes fd, as close(2): EBADF if it is not open.
func (t *FDTable) Close(fd int32) errno.Errno {
	t.mu.Lock()
	if fd < 0 || int(fd) >= len(t.slots) || t.slots[fd].file == nil {
		t.mu.Unlock()
		return errno.EBADF
	}
	f := t.slots[fd].file
	t.slots[fd] = fdSlot{}
	t.used--
	t.mu.Unlock()
	f.DecRef()
	return 0
}

// Dup makes a new fd for the file behind fd, as dup(2).
func (t *FDTable) Dup(fd int32) (int32, errno.Errno) {
	f, e := t.Get(fd)
	if e != 0 {
		return -1, e
	}
	return t.Open(f)
}

// CloseAll closes every fd, as process exit does.
func (t *FDTable) CloseAll() {
	t.mu.Lock()
	var files []fence.File
	for i := range t.slots {
		if f := t.slots[i].file; f != nil {
			files = append(files, f)
		}
	}
	t.slots, t.used = nil, 0
	t.mu.Unlock()
	for _, f := range files {
		f.DecRef()
	}
}

// Len returns how many fds are open or reserved.
func (t *FDTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.used
}

// Linux flag values the fd calls take.
const (
	O_NONBLOCK    = 0x800
	O_CLOEXEC     = 0x80000
	EFD_SEMAPHORE = 1
	EFD_NONBLOCK  = O_NONBLOCK
	EFD_CLOEXEC   = O_CLOEXEC
	POLLIN        = 0x0001
	POLLOUT       = 0x0004
	POLLERR       = 0x0008
	POLLHUP       = 0x0010
	POLLNVAL      = 0x0020
)

// Eventfd is an eventfd (fs/eventfd.c): a 64-bit counter that writes and
// the kernel's eventfd_signal add to and reads drain. It implements
// [fence.Eventfd].
type Eventfd struct {
	refs      int32 // guarded by mu
	semaphore bool
	nonblock  bool

	// newWaiter makes the waiters blocked reads sleep on (the machine's
	// Domain's; by default a channel).
	newWaiter func() fence.Waiter

	// mu guards the fields below it.
	mu      sync.Mutex
	count   uint64
	waiters waitList // blocked readers and pollers, woken on every change
}

// NewEventfd returns an eventfd with counter initval, as eventfd(2); flags
// other than EFD_SEMAPHORE, EFD_NONBLOCK and EFD_CLOEXEC are EINVAL.
func NewEventfd(initval uint32, flags uint32) (*Eventfd, errno.Errno) {
	if flags&^(EFD_SEMAPHORE|EFD_NONBLOCK|EFD_CLOEXEC) != 0 {
		return nil, errno.EINVAL
	}
	return &Eventfd{refs: 1, count: uint64(initval), semaphore: flags&EFD_SEMAPHORE != 0,
		nonblock: flags&EFD_NONBLOCK != 0, newWaiter: func() fence.Waiter { return fence.NewChannelWaiter(nil) }}, 0
}

// IncRef implements [fence.File].
func (e *Eventfd) IncRef() { e.mu.Lock(); e.refs++; e.mu.Unlock() }

// DecRef implements [fence.File].
func (e *Eventfd) DecRef() { e.mu.Lock(); e.refs--; e.mu.Unlock() }

// Watch kicks w when the eventfd's readiness may have changed, until the
// returned cancel is called.
func (e *Eventfd) Watch(w fence.Waiter) (cancel func()) { return watch(&e.mu, &e.waiters, w) }

// changedLocked wakes the readers and pollers (e.mu held; a kick never
// blocks).
func (e *Eventfd) changedLocked() { e.waiters.take().kick() }

// Signal implements [fence.Eventfd] (eventfd_signal): add n, saturating
// below the maximum, and wake readers.
func (e *Eventfd) Signal(n uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if room := math.MaxUint64 - e.count; n > room {
		n = room
	}
	e.count += n
	e.changedLocked()
}

// Count returns the counter without changing it.
func (e *Eventfd) Count() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// Read is read(2) on the eventfd into buf: EINVAL for fewer than 8 bytes;
// with the counter at 0, EAGAIN if non-blocking, else it waits (ctx done:
// ERESTARTSYS). It returns the counter and zeroes it, or 1 and decrements
// it in semaphore mode, as 8 little-endian bytes.
func (e *Eventfd) Read(ctx context.Context, buf []byte) (int, errno.Errno) {
	if len(buf) < 8 {
		return 0, errno.EINVAL
	}
	for {
		e.mu.Lock()
		if e.count > 0 {
			v := e.count
			if e.semaphore {
				v = 1
			}
			e.count -= v
			e.changedLocked()
			e.mu.Unlock()
			binary.LittleEndian.PutUint64(buf, v)
			return 8, 0
		}
		if e.nonblock {
			e.mu.Unlock()
			return 0, errno.EAGAIN
		}
		w := e.newWaiter()
		e.waiters.add(w)
		e.mu.Unlock()
		w.Wait(ctx, fence.Forever)
		if ctx != nil && ctx.Err() != nil {
			return 0, errno.ERESTARTSYS
		}
	}
}

// Write is write(2) on the eventfd: EINVAL for fewer than 8 bytes or the
// value 2^64−1; a sum that would reach 2^64−1 is EAGAIN (fencelab's writes
// do not block).
func (e *Eventfd) Write(buf []byte) (int, errno.Errno) {
	if len(buf) < 8 {
		return 0, errno.EINVAL
	}
	v := binary.LittleEndian.Uint64(buf)
	if v == math.MaxUint64 {
		return 0, errno.EINVAL
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.count >= math.MaxUint64-1 || math.MaxUint64-1-e.count < v {
		return 0, errno.EAGAIN // (a signal may have saturated the counter)
	}
	e.count += v
	e.changedLocked()
	return 8, 0
}

// Poll returns POLLIN when the counter is above 0 and POLLOUT while a
// write of 1 would succeed.
func (e *Eventfd) Poll() uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ev uint32
	if e.count > 0 {
		ev |= POLLIN
	}
	if e.count < math.MaxUint64-1 {
		ev |= POLLOUT
	}
	return ev
}

// NullFile is /dev/null: a file that is none of the kinds the DRM ioctls
// accept, which is exactly what IGT uses it for.
type NullFile struct{}

// IncRef and DecRef implement [fence.File].
func (NullFile) IncRef() {}
func (NullFile) DecRef() {}
