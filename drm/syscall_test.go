package drm

import (
	"context"
	"encoding/binary"
	"testing"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
)

func le32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }

// A guest's life with syncobjs, as a C program would write it: CPU fences
// from sw_sync imported into a syncobj, waited on, signalled, exported and
// re-imported, an eventfd registration, timeline points; then everything
// closed, and nothing left alive.
func TestSyncobjEndToEnd(t *testing.T) {
	p := newProc(t)
	fd := p.open(PathRender)
	tl := p.open(PathSwSync)
	check := func(what string, got, want errno.Errno) {
		t.Helper()
		if got != want {
			t.Fatalf("%s = %v; want %v", what, got, want)
		}
	}

	e, out := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
	check("SYNCOBJ_CREATE", e, 0)
	h := le32(out, 0)

	arg := make([]byte, fence.SwSyncCreateFenceDataSize)
	binary.LittleEndian.PutUint32(arg, 1) // value 1
	e, out = p.ioctl(tl, fence.SW_SYNC_IOC_CREATE_FENCE, arg)
	check("SW_SYNC_IOC_CREATE_FENCE", e, 0)
	syncFile := int32(le32(out, 9))

	e, _ = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, u32s(h, fence.DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, uint32(syncFile), 0))
	check("FD_TO_HANDLE(IMPORT_SYNC_FILE)", e, 0)

	handles := p.mem.put(u32s(h))
	wait := func() errno.Errno {
		e, _ := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, cat(u64s(handles, 0), u32s(1, 0, 0xdead, 0), u64s(0)))
		return e
	}
	check("WAIT before the fence signals", wait(), errno.ETIME)

	efd, e := p.drv.Eventfd(p.task, 0, EFD_NONBLOCK)
	check("eventfd", e, 0)
	e, _ = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_EVENTFD, cat(u32s(h, 0), u64s(0), u32s(uint32(efd), 0)))
	check("SYNCOBJ_EVENTFD", e, 0)
	ev, _ := p.task.FDs.Get(efd)
	evfd := ev.(*Eventfd)
	ev.DecRef()
	buf := make([]byte, 8)
	if _, e := evfd.Read(p.task.Ctx, buf); e != errno.EAGAIN {
		t.Fatalf("eventfd read before the fence signals = %v; want EAGAIN", e)
	}

	e, _ = p.ioctl(tl, fence.SW_SYNC_IOC_INC, u32s(1))
	check("SW_SYNC_IOC_INC", e, 0)
	check("WAIT after", wait(), 0)
	if n, e := evfd.Read(p.task.Ctx, buf); e != 0 || n != 8 || binary.LittleEndian.Uint64(buf) != 1 {
		t.Fatalf("eventfd read after = %d bytes %v value %d; want 8 bytes, 1", n, e, binary.LittleEndian.Uint64(buf))
	}

	// Export as a syncobj fd and import again: a new handle, same object.
	e, out = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, u32s(h, 0, 0xffffffff, 0))
	check("HANDLE_TO_FD", e, 0)
	objFD := int32(le32(out, 2))
	e, out = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, u32s(0, 0, uint32(objFD), 0))
	check("FD_TO_HANDLE", e, 0)
	if h2 := le32(out, 0); h2 == h || h2 == 0 {
		t.Errorf("FD_TO_HANDLE gave handle %d; want a new one (first was %d)", h2, h)
	}

	// Timeline: signal point 5 on a new syncobj and query it.
	e, out = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
	check("SYNCOBJ_CREATE", e, 0)
	h3 := p.mem.put(u32s(le32(out, 0)))
	pts := p.mem.put(u64s(5))
	e, _ = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, cat(u64s(h3, pts), u32s(1, 0)))
	check("TIMELINE_SIGNAL", e, 0)
	q := p.mem.put(u64s(0))
	e, _ = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_QUERY, cat(u64s(h3, q), u32s(1, 0)))
	check("QUERY", e, 0)
	if v := binary.LittleEndian.Uint64(p.mem.get(q, 8)); v != 5 {
		t.Errorf("QUERY = %d; want 5", v)
	}

	// sync_file info through the fd layer.
	info := make([]byte, fence.SyncFileInfoSize)
	e, out = p.ioctl(syncFile, fence.SYNC_IOC_FILE_INFO, info)
	check("SYNC_IOC_FILE_INFO", e, 0)
	var fi fence.SyncFileInfo
	fi.Unmarshal(out)
	if fi.Status != 1 || fi.NumFences != 1 {
		t.Errorf("FILE_INFO status %d, %d fences; want 1, 1", fi.Status, fi.NumFences)
	}
	p.teardown()
	if n := p.task.FDs.Len(); n != 0 {
		t.Errorf("%d fds still open", n)
	}
}

func TestEventfdSemantics(t *testing.T) {
	ctx := context.Background()
	b8 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	if _, e := NewEventfd(0, 0x10); e != errno.EINVAL {
		t.Errorf("eventfd with unknown flags = %v; want EINVAL", e)
	}
	ev, _ := NewEventfd(3, EFD_NONBLOCK)
	buf := make([]byte, 8)
	if _, e := ev.Read(ctx, buf[:4]); e != errno.EINVAL {
		t.Errorf("read of 4 bytes = %v; want EINVAL", e)
	}
	if n, e := ev.Read(ctx, buf); e != 0 || n != 8 || binary.LittleEndian.Uint64(buf) != 3 {
		t.Errorf("read = %d %v %d; want 8 bytes of 3", n, e, binary.LittleEndian.Uint64(buf))
	}
	if _, e := ev.Read(ctx, buf); e != errno.EAGAIN {
		t.Errorf("read at 0, non-blocking = %v; want EAGAIN", e)
	}
	if ev.Poll()&POLLIN != 0 || ev.Poll()&POLLOUT == 0 {
		t.Errorf("Poll at 0 = %#x; want POLLOUT only", ev.Poll())
	}
	if _, e := ev.Write(b8(1<<64 - 1)); e != errno.EINVAL {
		t.Errorf("write of 2^64-1 = %v; want EINVAL", e)
	}
	if _, e := ev.Write(b8(1<<64 - 2)); e != 0 {
		t.Errorf("write of 2^64-2 = %v; want 0", e)
	}
	if _, e := ev.Write(b8(1)); e != errno.EAGAIN {
		t.Errorf("write past the maximum = %v; want EAGAIN", e)
	}
	if ev.Poll()&POLLOUT != 0 {
		t.Errorf("Poll at the maximum = %#x; want no POLLOUT", ev.Poll())
	}
	sem, _ := NewEventfd(2, EFD_SEMAPHORE|EFD_NONBLOCK)
	for i := range 2 {
		if _, e := sem.Read(ctx, buf); e != 0 || binary.LittleEndian.Uint64(buf) != 1 {
			t.Errorf("semaphore read %d = %v %d; want 1", i, e, binary.LittleEndian.Uint64(buf))
		}
	}
	// A blocking read waits for a signal, and is interrupted by a signal.
	blk, _ := NewEventfd(0, 0)
	done := make(chan uint64)
	go func() {
		b := make([]byte, 8)
		blk.Read(ctx, b)
		done <- binary.LittleEndian.Uint64(b)
	}()
	blk.Signal(7)
	if v := <-done; v != 7 {
		t.Errorf("blocking read woke with %d; want 7", v)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, e := blk.Read(cctx, buf); e != errno.ERESTARTSYS {
		t.Errorf("interrupted read = %v; want ERESTARTSYS", e)
	}
}

func TestFDTable(t *testing.T) {
	p := newProc(t)
	a, b := p.open(PathNull), p.open(PathRender)
	if a != 0 || b != 1 {
		t.Fatalf("fds %d, %d; want 0, 1", a, b)
	}
	if e := p.task.FDs.Close(a); e != 0 {
		t.Fatal(e)
	}
	if e := p.task.FDs.Close(a); e != errno.EBADF {
		t.Errorf("second close = %v; want EBADF", e)
	}
	d, e := p.task.FDs.Dup(b)
	if e != 0 || d != 0 {
		t.Errorf("dup = %d, %v; want the lowest free fd, 0", d, e)
	}
	// The DRM file lives while either fd does.
	h := func(fd int32) errno.Errno { e, _ := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0)); return e }
	if h(d) != 0 {
		t.Error("CREATE through the dup failed")
	}
	p.task.FDs.Close(b)
	if h(d) != 0 {
		t.Error("CREATE through the dup after closing the original failed")
	}
	if _, e := p.drv.Open(p.task, "/dev/dri/renderD129", O_RDWR); e != errno.ENOENT {
		t.Errorf("open of a missing node = %v; want ENOENT", e)
	}
	if _, e := p.drv.Open(p.task, PathRender, 0x40); e != errno.EINVAL {
		t.Errorf("open with O_CREAT = %v; want EINVAL", e)
	}
	small := &Task{Mem: p.mem, FDs: NewFDTable(2), Ctx: context.Background()}
	p.drv.Open(small, PathNull, 0)
	p.drv.Open(small, PathNull, 0)
	if _, e := p.drv.Open(small, PathRender, 0); e != errno.EMFILE {
		t.Errorf("open past the limit = %v; want EMFILE", e)
	}
	small.FDs.CloseAll()
	p.teardown()
}

// The primary node's first opener is master until it closes.
func TestPrimaryNodeMaster(t *testing.T) {
	p := newProc(t)
	a, b := p.open(PathCard), p.open(PathCard)
	fa, _ := p.task.FDs.Get(a)
	fb, _ := p.task.FDs.Get(b)
	if !fa.(*File).master || fb.(*File).master {
		t.Errorf("master: first %v, second %v; want true, false", fa.(*File).master, fb.(*File).master)
	}
	fa.DecRef()
	fb.DecRef()
	p.task.FDs.Close(a)
	c := p.open(PathCard)
	fc, _ := p.task.FDs.Get(c)
	if !fc.(*File).master {
		t.Error("after the master closed, the next opener is not master")
	}
	fc.DecRef()
	r := p.open(PathRender)
	fr, _ := p.task.FDs.Get(r)
	if e := fr.(*File).permit(0); e != errno.EACCES {
		t.Errorf("a non-render ioctl on the render node = %v; want EACCES", e)
	}
	fr.DecRef()
	p.teardown()
}

// FuzzIoctl feeds arbitrary request numbers and argument bytes to a live
// driver and device through every kind of fd a guest can hold. Blocking calls get a
// cancelled context, so nothing can hang. Nothing may panic, every result
// must be an errno, and closing every fd must release everything.
func FuzzIoctl(f *testing.F) {
	f.Add(uint8(0), DRM_IOCTL_SYNCOBJ_CREATE, []byte{0, 0, 0, 0, 1, 0, 0, 0})
	f.Add(uint8(1), DRM_IOCTL_SYNCOBJ_WAIT, make([]byte, 40))
	f.Add(uint8(2), uint32(fence.SW_SYNC_IOC_CREATE_FENCE), make([]byte, 40))
	f.Add(uint8(0), DRM_IOCTL_VERSION, make([]byte, 36))
	f.Add(uint8(0), DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, make([]byte, 24))
	f.Add(uint8(0), DRM_IOCTL_VIRTGPU_EXECBUFFER, make([]byte, 64))
	f.Add(uint8(0), DRM_IOCTL_VIRTGPU_CONTEXT_INIT, make([]byte, 16))
	f.Add(uint8(1), DRM_IOCTL_MODE_GETRESOURCES, make([]byte, 64))
	f.Add(uint8(1), DRM_IOCTL_MODE_GETPLANE, []byte{32, 0, 0, 0})
	f.Add(uint8(1), DRM_IOCTL_MODE_CREATE_DUMB, []byte{1, 0, 0, 0, 1, 0, 0, 0, 32})
	f.Add(uint8(1), DRM_IOCTL_MODE_OBJ_GETPROPERTIES, make([]byte, 32))
	f.Add(uint8(1), DRM_IOCTL_MODE_GETPROPERTY, make([]byte, 64))
	f.Add(uint8(1), DRM_IOCTL_SET_CLIENT_CAP, []byte{3, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(uint8(1), DRM_IOCTL_MODE_ADDFB2, cat(u32s(0, 64, 64, DRM_FORMAT_XRGB8888, 0, 1, 0, 0, 0, 256), make([]byte, 64)))
	f.Add(uint8(1), DRM_IOCTL_MODE_RMFB, u32s(40))
	f.Add(uint8(1), DRM_IOCTL_MODE_GETCONNECTOR, cat(make([]byte, 48), u32s(37), make([]byte, 28)))
	f.Add(uint8(1), DRM_IOCTL_MODE_GETPROPBLOB, u32s(39, 128, 0x10, 0))
	f.Add(uint8(1), DRM_IOCTL_MODE_CREATEPROPBLOB, cat(u64s(0x10), u32s(68, 0)))
	f.Add(uint8(1), DRM_IOCTL_MODE_DESTROYPROPBLOB, u32s(39))
	f.Add(uint8(1), DRM_IOCTL_MODE_PAGE_FLIP, cat(u32s(36, 40, 1, 0), u64s(0)))
	f.Add(uint8(1), DRM_IOCTL_MODE_ATOMIC, make([]byte, 56))
	f.Fuzz(func(t *testing.T, which uint8, req uint32, arg []byte) {
		m := newMachineSized(t, device.Config{}, arenaBase+arenaSize)
		p := m.proc
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p.task.Ctx = ctx
		fds := []int32{p.open(PathRender), p.open(PathCard), p.open(PathSwSync), p.open(PathNull)}
		efd, _ := p.drv.Eventfd(p.task, 0, 0)
		fds = append(fds, efd)
		// A few syncobjs to name.
		for range 3 {
			p.ioctl(fds[0], DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
		}
		fd := fds[int(which)%len(fds)]
		if which >= 128 {
			fd = int32(which) // a bad fd
		}
		if len(arg) > 4096 {
			arg = arg[:4096]
		}
		for _, r := range []uint32{req, req&^0xff00 | DRM_IOCTL_BASE<<8} {
			addr := p.mem.put(arg)
			e := p.guard(r, func() errno.Errno { return p.drv.Ioctl(p.task, fd, r, addr) })
			if e > 4095 && e != errno.ERESTARTSYS {
				t.Fatalf("ioctl(%d, %#x) = %d, not an errno", fd, r, e)
			}
		}
		p.task.FDs.CloseAll()
		m.run()
		if l := p.drv.Domain().Live(); !l.Zero() {
			t.Fatalf("after closing every fd, Live() = %+v", l)
		}
	})
}
