package drm

import (
	"sync"
	"sync/atomic"

	"fencelab/errno"
)

// PRIME request numbers and flags (drm.h).
var (
	DRM_IOCTL_PRIME_HANDLE_TO_FD = IOWR(DRM_IOCTL_BASE, 0x2d, 12)
	DRM_IOCTL_PRIME_FD_TO_HANDLE = IOWR(DRM_IOCTL_BASE, 0x2e, 12)
)

const (
	DRM_CLOEXEC = O_CLOEXEC
	DRM_RDWR    = O_RDWR
)

// DmaBuf is a dma-buf exporting a GEM object (drm_gem_prime_export): the
// file a PRIME fd refers to. Every export of one object shares it; it
// holds a reference to the object until its last fd closes.
type DmaBuf struct {
	obj  *gemObject
	refs atomic.Int32
}

// IncRef implements [fence.File].
func (b *DmaBuf) IncRef() { b.refs.Add(1) }

// DecRef implements [fence.File]; the last reference releases the object.
// The count drops under the object's lock, so an export cannot pick up a
// dma-buf that is being released.
func (b *DmaBuf) DecRef() {
	o := b.obj
	o.mu.Lock()
	n := b.refs.Add(-1)
	if n == 0 && o.dmabuf == b {
		o.dmabuf = nil
	}
	o.mu.Unlock()
	if n == 0 {
		o.put()
	}
}

// primeCache is drm_prime_file_private: which handle a file already has
// for a dma-buf, so that importing it again gives the same handle.
type primeCache struct {
	mu      sync.Mutex
	handles map[*gemObject]uint32
}

func (c *primeCache) get(o *gemObject) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.handles[o]
	return h, ok
}

func (c *primeCache) set(o *gemObject, h uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handles == nil {
		c.handles = map[*gemObject]uint32{}
	}
	c.handles[o] = h
}

func (c *primeCache) forget(o *gemObject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.handles, o)
}

func init() {
	coreIoctls[iocNr(DRM_IOCTL_PRIME_HANDLE_TO_FD)] = ioctlDesc{"DRM_IOCTL_PRIME_HANDLE_TO_FD", DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_RENDER_ALLOW | DRM_AUTH, primeHandleToFD}
	coreIoctls[iocNr(DRM_IOCTL_PRIME_FD_TO_HANDLE)] = ioctlDesc{"DRM_IOCTL_PRIME_FD_TO_HANDLE", DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_RENDER_ALLOW | DRM_AUTH, primeFDToHandle}
}

// primeHandleToFD is drm_prime_handle_to_fd_ioctl: flags other than
// DRM_CLOEXEC and DRM_RDWR are EINVAL, an unknown handle ENOENT (before
// any fd is reserved), a full fd table EMFILE. The object's dma-buf is
// made on first export and shared by later ones. struct drm_prime_handle:
// handle u32 @0, flags u32 @4, fd s32 @8 (out).
func primeHandleToFD(f *File, t *Task, data []byte) errno.Errno {
	if le.Uint32(data[4:])&^(DRM_CLOEXEC|DRM_RDWR) != 0 {
		return errno.EINVAL
	}
	o := f.gem.lookup(le.Uint32(data))
	if o == nil {
		return errno.ENOENT
	}
	defer o.put()
	o.mu.Lock()
	b := o.dmabuf
	if b == nil {
		o.get() // the dma-buf's reference to the object
		b = &DmaBuf{obj: o}
		b.refs.Store(1)
		o.dmabuf = b
	} else {
		b.IncRef()
	}
	o.mu.Unlock()
	fd, e := t.FDs.Open(b)
	if e != 0 {
		return e
	}
	le.PutUint32(data[8:], uint32(fd))
	return 0
}

// primeFDToHandle is drm_prime_fd_to_handle_ioctl: a bad fd is EBADF, a
// file that is not a dma-buf EINVAL (flags are not looked at). A dma-buf
// this file already imported or exported gives the same handle; otherwise
// the object (always one of this device's) gets a new handle.
func primeFDToHandle(f *File, t *Task, data []byte) errno.Errno {
	file, e := t.FDs.Get(int32(le.Uint32(data[8:])))
	if e != 0 {
		return errno.EBADF
	}
	defer file.DecRef()
	b, ok := file.(*DmaBuf)
	if !ok {
		return errno.EINVAL
	}
	if h, ok := f.prime.get(b.obj); ok && f.gem.has(h, b.obj) {
		le.PutUint32(data, h)
		return 0
	}
	if h, ok := f.gem.handleOf(b.obj); ok {
		f.prime.set(b.obj, h)
		le.PutUint32(data, h)
		return 0
	}
	h, e := f.gem.install(b.obj)
	if e != 0 {
		return e
	}
	f.prime.set(b.obj, h)
	le.PutUint32(data, h)
	return 0
}
