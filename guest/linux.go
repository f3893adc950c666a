package guest

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fencelab/drm"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// The linux module: the guest ABI's system calls (guests/ABI.md). Every argument is an
// i32 (addresses are wasm32 pointers); every result is ≥ 0 or −errno.

const maxPath = 4096 // PATH_MAX

// minSigInterval is sigtimer's shortest interval, in µs: each signal is a
// step of the machine, and a guest must not make a wait of an hour into
// billions of them.
const minSigInterval = 100

func instantiateLinux(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder("linux")
	i32 := api.ValueTypeI32
	// export adds a system call taking params (every result is an i32):
	// the guest's mappings are synced around it, and a call a signal
	// interrupted returns EINTR (fencelab's guests have no handlers to
	// restart after).
	export := func(name string, params []api.ValueType, call func(p *proc, args []uint64) int32) {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			p := from(ctx, mod)
			r := -int32(errno.ENOSYS)
			if p != nil {
				if p.Signals != nil {
					p.Signals.EnterCall()
				}
				if p.Budget != nil {
					p.Budget.charge()
				}
				p.syncIn()
				r = call(p, stack)
				p.syncOut()
			}
			if r == -int32(errno.ERESTARTSYS) {
				r = -int32(errno.EINTR)
			}
			stack[0] = api.EncodeI32(r)
		}), params, []api.ValueType{i32}).Export(name)
	}
	// fn is export for a call of n i32 arguments.
	fn := func(name string, n int, call func(p *proc, args []uint64) int32) {
		in := make([]api.ValueType, n)
		for i := range in {
			in[i] = i32
		}
		export(name, in, call)
	}
	fn("open", 3, func(p *proc, a []uint64) int32 {
		n := api.DecodeU32(a[1])
		if n > maxPath {
			return -int32(errno.ENAMETOOLONG)
		}
		path := make([]byte, n)
		if p.mem.CopyIn(uint64(api.DecodeU32(a[0])), path) != 0 {
			return -int32(errno.EFAULT)
		}
		return result(p.Drv.Open(p.Task, string(path), api.DecodeU32(a[2])))
	})
	fn("close", 1, func(p *proc, a []uint64) int32 {
		return -int32(p.Task.FDs.Close(api.DecodeI32(a[0])))
	})
	fn("sigtimer", 1, func(p *proc, a []uint64) int32 {
		us := api.DecodeI32(a[0])
		if p.Signals == nil {
			return -int32(errno.ENOSYS)
		}
		if us < 0 || (us > 0 && us < minSigInterval) {
			return -int32(errno.EINVAL)
		}
		return p.Signals.SetTimer(int64(us) * 1000)
	})
	fn("dup", 1, func(p *proc, a []uint64) int32 {
		return result(p.Task.FDs.Dup(api.DecodeI32(a[0])))
	})
	fn("ioctl", 3, func(p *proc, a []uint64) int32 {
		return -int32(p.Drv.Ioctl(p.Task, api.DecodeI32(a[0]), api.DecodeU32(a[1]), uint64(api.DecodeU32(a[2]))))
	})
	fn("read", 3, func(p *proc, a []uint64) int32 {
		return p.read(api.DecodeI32(a[0]), uint64(api.DecodeU32(a[1])), api.DecodeU32(a[2]))
	})
	fn("write", 3, func(p *proc, a []uint64) int32 {
		return p.write(api.DecodeI32(a[0]), uint64(api.DecodeU32(a[1])), api.DecodeU32(a[2]))
	})
	fn("poll", 3, func(p *proc, a []uint64) int32 {
		return p.poll(uint64(api.DecodeU32(a[0])), api.DecodeU32(a[1]), api.DecodeI32(a[2]))
	})
	fn("sendfd", 2, func(p *proc, a []uint64) int32 {
		return -int32(p.Drv.SendFD(p.Task, api.DecodeI32(a[0]), api.DecodeI32(a[1])))
	})
	fn("recvfd", 2, func(p *proc, a []uint64) int32 {
		return result(p.Drv.RecvFD(p.Task, api.DecodeI32(a[0]), api.DecodeU32(a[1])&drm.O_NONBLOCK != 0))
	})
	fn("eventfd", 2, func(p *proc, a []uint64) int32 {
		return result(p.Drv.Eventfd(p.Task, api.DecodeU32(a[0]), api.DecodeU32(a[1])))
	})
	fn("munmap", 2, func(p *proc, a []uint64) int32 {
		return p.munmap(api.DecodeU32(a[0]), api.DecodeU32(a[1]))
	})
	// mmap(addr, length, prot, flags, fd, offset i64).
	export("mmap", []api.ValueType{i32, i32, i32, i32, i32, api.ValueTypeI64}, func(p *proc, a []uint64) int32 {
		return p.mmap(api.DecodeU32(a[0]), api.DecodeU32(a[1]), api.DecodeU32(a[2]), api.DecodeU32(a[3]), api.DecodeI32(a[4]), a[5])
	})
	_, err := b.Instantiate(ctx)
	return err
}

func result(fd int32, e errno.Errno) int32 {
	if e != 0 {
		return -int32(e)
	}
	return fd
}

// read is read(2): DRM events from a DRM file, the counter from an
// eventfd; EINVAL for any other file, EBADF for no file, EFAULT for a
// buffer outside memory.
func (p *proc) read(fd int32, buf uint64, n uint32) int32 {
	f, e := p.Task.FDs.Get(fd)
	if e != 0 {
		return -int32(e)
	}
	defer f.DecRef()
	if _, ok := p.mem.span(buf, int(n)); !ok {
		return -int32(errno.EFAULT)
	}
	switch f := f.(type) {
	case *drm.File:
		ev, e := f.ReadEvents(int(n))
		if e != 0 {
			return -int32(e)
		}
		p.mem.CopyOut(buf, ev)
		return int32(len(ev))
	case *drm.Eventfd:
		b := make([]byte, min(n, 8))
		got, e := f.Read(p.Task.Ctx, b)
		if e != 0 {
			return -int32(e)
		}
		p.mem.CopyOut(buf, b[:got])
		return int32(got)
	}
	return -int32(errno.EINVAL)
}

// write is write(2): an eventfd's counter; EINVAL for any other file.
func (p *proc) write(fd int32, buf uint64, n uint32) int32 {
	f, e := p.Task.FDs.Get(fd)
	if e != 0 {
		return -int32(e)
	}
	defer f.DecRef()
	ev, ok := f.(*drm.Eventfd)
	if !ok {
		return -int32(errno.EINVAL)
	}
	b := make([]byte, min(n, 8))
	if p.mem.CopyIn(buf, b) != 0 {
		return -int32(errno.EFAULT)
	}
	got, e := ev.Write(b)
	if e != 0 {
		return -int32(e)
	}
	return int32(got)
}

var _ fence.UserMemory = (*memory)(nil)

// pollable is a file poll(2) can wait on: its readiness, and a way to be
// woken when it may have changed.
type pollable interface {
	Poll() uint32
	Watch(w fence.Waiter) (cancel func())
}

// maxPollFDs is RLIMIT_NOFILE: more entries than that is EINVAL.
const maxPollFDs = drm.DefaultMaxFDs

// poll is poll(2) on nfds struct pollfd (int fd; short events; short
// revents) at addr: each entry's revents is its file's readiness masked
// by events, plus POLLERR and POLLHUP, or POLLNVAL for an fd that is not
// open; a negative fd is skipped. It returns how many entries have
// revents, waiting up to timeout ms (negative: for ever) for one to. A
// file that cannot report readiness (sw_sync, /dev/null) is always ready
// for writing, as Linux's default poll says.
func (p *proc) poll(addr uint64, nfds uint32, timeout int32) int32 {
	if nfds > maxPollFDs {
		return -int32(errno.EINVAL)
	}
	buf := make([]byte, 8*int(nfds))
	if p.mem.CopyIn(addr, buf) != 0 {
		return -int32(errno.EFAULT)
	}
	d := p.Drv.Domain()
	deadline := fence.Forever
	if timeout >= 0 {
		deadline = d.Now() + int64(timeout)*1_000_000
	}
	var tr *pollTrace
	var trace pollTrace
	if p.Sink != nil {
		trace.p = p
		tr = &trace
	}
	for {
		// Watch every file before looking at it, so that a change between
		// the look and the wait still wakes us.
		w := d.NewWaiter()
		var cancels []func()
		ready := int32(0)
		for i := range int(nfds) {
			e := buf[8*i:]
			fd, events := int32(le.Uint32(e)), le.Uint16(e[4:])
			revents := uint16(0)
			if fd >= 0 {
				f, err := p.Task.FDs.Get(fd)
				switch {
				case err != 0:
					revents = drm.POLLNVAL
				default:
					mask := uint32(drm.POLLOUT)
					if pf, ok := f.(pollable); ok {
						cancels = append(cancels, pf.Watch(w))
						mask = pf.Poll()
					}
					revents = uint16(mask) & (events | drm.POLLERR | drm.POLLHUP)
					if tr != nil {
						tr.saw(fd, f, revents)
					}
					f.DecRef()
				}
			}
			le.PutUint16(e[6:], revents)
			if revents != 0 {
				ready++
			}
		}
		if ready == 0 && deadline > d.Now() {
			if tr != nil {
				tr.blocked()
			}
			w.Wait(p.Task.Ctx, deadline)
		}
		for _, c := range cancels {
			c()
		}
		if ready > 0 || deadline <= d.Now() {
			if tr != nil {
				tr.woken(ready)
			}
			if p.mem.CopyOut(addr, buf) != 0 {
				return -int32(errno.EFAULT)
			}
			return ready
		}
		if ctx := p.Task.Ctx; ctx != nil && ctx.Err() != nil {
			if tr != nil {
				tr.woken(-1)
			}
			return -int32(errno.EINTR)
		}
		if tr != nil {
			tr.next()
		}
	}
}

// pollTrace reports a poll that sleeps on sync_files as a wait on their
// fences (timeline.WaitBlocked, one per fence; then timeline.WaitWoken).
// A poll sleeping on other files only (eventfds, DRM events) waits for
// no fence and is not reported.
type pollTrace struct {
	p       *proc
	pending []polledFence // this pass's sync_files not ready
	first   polledFence   // this pass's first ready sync_file
	slept   polledFence   // the first one slept on; zero until then
}

type polledFence struct {
	fd int32
	f  *fence.Fence
}

// saw notes fd's file and readiness in this pass over the entries.
func (t *pollTrace) saw(fd int32, file fence.File, revents uint16) {
	sf, ok := file.(*fence.SyncFile)
	if !ok {
		return
	}
	switch {
	case revents&drm.POLLIN == 0:
		t.pending = append(t.pending, polledFence{fd, sf.Fence()})
	case t.first.f == nil:
		t.first = polledFence{fd, sf.Fence()}
	}
}

// next starts another pass.
func (t *pollTrace) next() { t.pending, t.first = t.pending[:0], polledFence{} }

// blocked is the poll going to sleep: the first time, on each fence.
func (t *pollTrace) blocked() {
	if t.slept.f != nil || len(t.pending) == 0 {
		return
	}
	t.slept = t.pending[0]
	for _, pf := range t.pending {
		t.emit(timeline.WaitBlocked, pf, 0)
	}
}

// woken ends a wait that was reported: with the first sync_file ready,
// at the timeout (ready 0) or interrupted (ready < 0).
func (t *pollTrace) woken(ready int32) {
	if t.slept.f == nil {
		return
	}
	switch {
	case ready > 0 && t.first.f != nil:
		t.emit(timeline.WaitWoken, t.first, 0)
	case ready > 0: // another file became ready
		t.emit(timeline.WaitWoken, polledFence{fd: t.slept.fd}, 0)
	case ready == 0:
		t.emit(timeline.WaitWoken, polledFence{fd: t.slept.fd}, errno.ETIME)
	default:
		t.emit(timeline.WaitWoken, polledFence{fd: t.slept.fd}, errno.ERESTARTSYS)
	}
}

func (t *pollTrace) emit(k timeline.Kind, pf polledFence, e errno.Errno) {
	ev := timeline.Event{Time: t.p.Drv.Domain().Now(), Kind: k, Pid: t.p.Task.Pid, FD: pf.fd, Errno: uint16(e)}
	if f := pf.f; f != nil && f.Context() != 0 {
		ev.Fence = timeline.Fence{Context: f.Context(), Seqno: f.Seqno()}
	}
	t.p.Sink.Emit(ev)
}

var le = binary.LittleEndian
