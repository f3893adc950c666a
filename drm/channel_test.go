package drm

import (
	"context"
	"testing"

	"fencelab/errno"
	"fencelab/fence"
)

// Channels pass open files between processes, with Linux-like errnos,
// and outlive their fds while something waits in them.
func TestChannels(t *testing.T) {
	p := newProc(t)
	other := &Task{Mem: p.mem, FDs: NewFDTable(0), Ctx: context.Background(), Comm: "other"}
	for _, bad := range []string{PathChannels, PathChannels + "A", PathChannels + "..", PathChannels + "a/b",
		PathChannels + string(make([]byte, 65))} {
		if _, e := p.drv.Open(p.task, bad, O_RDWR); e != errno.ENOENT {
			t.Errorf("open(%q) = %v; want ENOENT", bad, e)
		}
	}
	ch := p.open(PathChannels + "pipe")
	render := p.open(PathRender)
	_, c := p.ioctl(render, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
	_, h := p.ioctl(render, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, u32s(u32at(c, 0), 0, 0, 0))
	sfd := int32(u32at(h, 8))
	for _, tt := range []struct {
		what string
		got  errno.Errno
		want errno.Errno
	}{
		{"send on a non-channel", p.drv.SendFD(p.task, render, sfd), errno.ENOTSOCK},
		{"send on a closed fd", p.drv.SendFD(p.task, 99, sfd), errno.EBADF},
		{"send of a closed fd", p.drv.SendFD(p.task, ch, 99), errno.EBADF},
		{"send of the channel on itself", p.drv.SendFD(p.task, ch, ch), errno.EINVAL},
		{"send", p.drv.SendFD(p.task, ch, sfd), 0},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v; want %v", tt.what, tt.got, tt.want)
		}
	}
	// The sender closes everything; the syncobj waits in the channel.
	p.task.FDs.CloseAll()
	if l := p.drv.Domain().Live(); l.Syncobjs != 1 {
		t.Errorf("after the sender closed: Live %+v; want the syncobj kept by the channel", l)
	}
	och, _ := p.drv.Open(other, PathChannels+"pipe", O_RDWR)
	fd, e := p.drv.RecvFD(other, och, false)
	if e != 0 {
		t.Fatalf("receive = %v", e)
	}
	if f, _ := other.FDs.Get(fd); f == nil {
		t.Fatal("no file at the received fd")
	} else if _, ok := f.(*fence.SyncobjFile); !ok {
		t.Errorf("received %T; want the syncobj file", f)
	} else {
		f.DecRef()
	}
	if _, e := p.drv.RecvFD(other, och, true); e != errno.EAGAIN {
		t.Errorf("nonblocking receive on an empty channel = %v; want EAGAIN", e)
	}
	// A full channel.
	for i := range maxChannelQueue + 1 {
		want := errno.Errno(0)
		if i == maxChannelQueue {
			want = errno.EAGAIN
		}
		if e := p.drv.SendFD(other, och, fd); e != want {
			t.Fatalf("send %d = %v; want %v", i, e, want)
		}
	}
	// A blocked receiver is interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	third := &Task{Mem: p.mem, FDs: NewFDTable(0), Ctx: ctx, Comm: "third"}
	tch, _ := p.drv.Open(third, PathChannels+"empty", O_RDWR)
	if _, e := p.drv.RecvFD(third, tch, false); e != errno.ERESTARTSYS {
		t.Errorf("interrupted receive = %v; want ERESTARTSYS", e)
	}
	third.FDs.CloseAll()
	other.FDs.CloseAll()
	p.drv.DropChannels()
	if l := p.drv.Domain().Live(); !l.Zero() {
		t.Errorf("after dropping the channels, Live() = %+v", l)
	}
	p.drv.chMu.Lock()
	n := len(p.drv.channels)
	p.drv.chMu.Unlock()
	if n != 0 {
		t.Errorf("%d channels left", n)
	}
}

// A counter a signal saturated takes no more writes (it must not wrap).
func TestEventfdSaturatedWrite(t *testing.T) {
	e, _ := NewEventfd(0, EFD_NONBLOCK)
	e.Signal(1<<64 - 1)
	if _, err := e.Write([]byte{5, 0, 0, 0, 0, 0, 0, 0}); err != errno.EAGAIN {
		t.Errorf("write to a saturated eventfd = %v; want EAGAIN", err)
	}
	if e.Count() != 1<<64-1 {
		t.Errorf("count %d; want it still saturated", e.Count())
	}
}
