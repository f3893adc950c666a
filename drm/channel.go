package drm

import (
	"slices"
	"strings"
	"sync"

	"fencelab/errno"
	"fencelab/fence"
)

// Channels are how guest processes pass fds to each other: fencelab's
// stand-in for a Unix socket with SCM_RIGHTS. Opening
// /run/fencelab/NAME joins the channel of that name (making it if it is
// new); any fd on it can send an fd (the receiver gets its own fd for the
// same open file, as with SCM_RIGHTS) and receive the oldest one sent.
// A channel lives while an fd is open on it or an fd waits in it, so a
// sender may send and exit before its receiver opens the channel.

// PathChannels is the directory channels are opened under.
const PathChannels = "/run/fencelab/"

// Limits: a channel name is 1 to 64 characters of [a-z0-9._-]; at most
// 64 fds wait on a channel (a send beyond is EAGAIN).
const (
	maxChannelName  = 64
	maxChannelQueue = 64
)

type channel struct {
	drv  *Driver
	name string

	// mu guards the fields below it.
	mu       sync.Mutex
	refs     int
	queue    []fence.File
	watchers waitList
}

// ChannelFile is an fd on a channel.
type ChannelFile struct{ ch *channel }

func validChannelName(name string) bool {
	if len(name) == 0 || len(name) > maxChannelName || name == "." || name == ".." {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// openChannel joins (or makes) the channel path names, or says why not:
// ENOENT for a name that is not a valid one.
func (drv *Driver) openChannel(path string) (*ChannelFile, errno.Errno) {
	name := strings.TrimPrefix(path, PathChannels)
	if !validChannelName(name) {
		return nil, errno.ENOENT
	}
	drv.chMu.Lock()
	defer drv.chMu.Unlock()
	if drv.channels == nil {
		drv.channels = map[string]*channel{}
	}
	ch := drv.channels[name]
	if ch == nil {
		ch = &channel{drv: drv, name: name}
		drv.channels[name] = ch
	}
	ch.mu.Lock()
	ch.refs++
	ch.mu.Unlock()
	return &ChannelFile{ch}, 0
}

// IncRef implements [fence.File].
func (c *ChannelFile) IncRef() {
	c.ch.mu.Lock()
	c.ch.refs++
	c.ch.mu.Unlock()
}

// DecRef implements [fence.File]: when the last fd closes on an empty
// channel, the channel goes away.
func (c *ChannelFile) DecRef() {
	ch := c.ch
	ch.drv.chMu.Lock()
	defer ch.drv.chMu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.refs--
	ch.dropIfUnused()
}

// dropIfUnused forgets a channel no fd is open on and nothing waits in
// (chMu and mu held).
func (ch *channel) dropIfUnused() {
	if ch.refs == 0 && len(ch.queue) == 0 && ch.drv.channels[ch.name] == ch {
		delete(ch.drv.channels, ch.name)
	}
}

// QueuedInChannels reports whether files wait in any channel.
func (drv *Driver) QueuedInChannels() bool {
	drv.chMu.Lock()
	defer drv.chMu.Unlock()
	for _, ch := range drv.channels {
		ch.mu.Lock()
		n := len(ch.queue)
		ch.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// DropChannels empties every channel, closing the files waiting in them
// (what a machine's shutdown does with messages nobody received), in the
// channels' name order. Closing a file may block (a DRM file turning off
// its framebuffers), so a machine calls it from a process.
func (drv *Driver) DropChannels() {
	drv.chMu.Lock()
	var dropped []fence.File
	names := make([]string, 0, len(drv.channels))
	for name := range drv.channels {
		names = append(names, name)
	}
	slices.Sort(names) // a fixed order: releasing a file may reach the device
	for _, name := range names {
		ch := drv.channels[name]
		ch.mu.Lock()
		dropped = append(dropped, ch.queue...)
		ch.queue = nil
		ch.dropIfUnused()
		ch.mu.Unlock()
	}
	drv.chMu.Unlock()
	for _, f := range dropped {
		f.DecRef()
	}
}

// Poll reports POLLIN while an fd is waiting to be received; a channel is
// always writable (a full one answers EAGAIN).
func (c *ChannelFile) Poll() uint32 {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	if len(c.ch.queue) > 0 {
		return POLLIN | POLLOUT
	}
	return POLLOUT
}

// Watch kicks w when an fd arrives, until the returned cancel is called.
func (c *ChannelFile) Watch(w fence.Waiter) (cancel func()) {
	return watch(&c.ch.mu, &c.ch.watchers, w)
}

// channelOf finds the channel fd refers to: EBADF if it is not open,
// ENOTSOCK if it is not a channel.
func channelOf(t *Task, fd int32) (*ChannelFile, errno.Errno) {
	f, e := t.FDs.Get(fd)
	if e != 0 {
		return nil, e
	}
	c, ok := f.(*ChannelFile)
	if !ok {
		f.DecRef()
		return nil, errno.ENOTSOCK
	}
	return c, 0
}

// SendFD sends the open file of t's fd on the channel at chanFD: EBADF for
// an fd that is not open, ENOTSOCK if chanFD is not a channel, EAGAIN
// when the channel is full, EINVAL to send a channel on itself.
func (drv *Driver) SendFD(t *Task, chanFD, fd int32) errno.Errno {
	c, e := channelOf(t, chanFD)
	if e != 0 {
		return e
	}
	defer c.DecRef()
	f, e := t.FDs.Get(fd)
	if e != 0 {
		return e
	}
	if cf, ok := f.(*ChannelFile); ok && cf.ch == c.ch {
		f.DecRef()
		return errno.EINVAL // it would keep itself alive for ever
	}
	ch := c.ch
	ch.mu.Lock()
	if len(ch.queue) >= maxChannelQueue {
		ch.mu.Unlock()
		f.DecRef()
		return errno.EAGAIN
	}
	ch.queue = append(ch.queue, f)
	ws := ch.watchers.take()
	ch.mu.Unlock()
	ws.kick()
	return 0
}

// RecvFD receives the oldest fd sent on the channel at chanFD as a new fd
// of t's, waiting for one (ctx done: ERESTARTSYS) unless nonblock
// (EAGAIN). EMFILE leaves it queued.
func (drv *Driver) RecvFD(t *Task, chanFD int32, nonblock bool) (int32, errno.Errno) {
	c, e := channelOf(t, chanFD)
	if e != 0 {
		return -1, e
	}
	defer c.DecRef()
	ch := c.ch
	for {
		fd, e := t.FDs.Reserve()
		if e != 0 {
			return -1, e
		}
		w := drv.d.NewWaiter()
		ch.mu.Lock()
		if len(ch.queue) > 0 {
			f := ch.queue[0]
			ch.queue[0] = nil
			ch.queue = ch.queue[1:]
			ch.mu.Unlock()
			t.FDs.Install(fd, f)
			return fd, 0
		}
		// (The channel cannot go away while we hold an fd on it.)
		t.FDs.Unreserve(fd)
		if nonblock {
			ch.mu.Unlock()
			return -1, errno.EAGAIN
		}
		ch.watchers.add(w)
		ch.mu.Unlock()
		w.Wait(t.Ctx, fence.Forever)
		if t.Ctx != nil && t.Ctx.Err() != nil {
			return -1, errno.ERESTARTSYS
		}
	}
}
