package drm

import (
	"fencelab/errno"
)

// mmap of GEM objects. A wasm guest's memory cannot alias the driver's,
// so a mapping is a shadow: the guest names a buffer of its own, the
// object's pages are copied into it when it is mapped, and the two are
// kept in step at system-call boundaries by the guest runtime
// (guest/mmap.go): the guest's writes reach the object before each call,
// the object's contents reach the guest after it.

// Mapping is one mapped GEM object: a reference to it, and how many of
// its bytes are mapped, from its start.
type Mapping struct {
	o      *gemObject
	length uint64
}

// Memory protections and flags mmap takes (Linux values).
const (
	PROT_READ   = 0x1
	PROT_WRITE  = 0x2
	MAP_SHARED  = 0x01
	MAP_PRIVATE = 0x02
	MAP_FIXED   = 0x10
)

// Map is mmap(2) of length bytes of a DRM fd at a fake offset, as
// drm_gem_mmap does it: EBADF for an fd that is not open, ENODEV for one
// that is not a DRM file, EINVAL for a length of 0; then EINVAL unless
// the offset is exactly the start of a live object's (the one MAP or
// MAP_DUMB reports) and the length's pages fit in the
// object; EACCES if this file holds no handle to that object (another
// file's, or one whose handle it closed). Linux 6.12 in the oracle:
// testdata/oracle/mmap.linux.txt.
func (drv *Driver) Map(t *Task, fd int32, offset, length uint64) (*Mapping, errno.Errno) {
	f, e := t.FDs.Get(fd)
	if e != 0 {
		return nil, e
	}
	defer f.DecRef()
	df, ok := f.(*File)
	if !ok {
		return nil, errno.ENODEV
	}
	if length == 0 {
		return nil, errno.EINVAL
	}
	drv.offMu.Lock()
	o := drv.offsets[offset]
	if o != nil && !o.tryGet() {
		o = nil
	}
	drv.offMu.Unlock()
	if o == nil {
		return nil, errno.EINVAL
	}
	if pages(length) > pages(o.size) {
		o.put()
		return nil, errno.EINVAL
	}
	if !df.gem.holds(o) {
		o.put()
		return nil, errno.EACCES
	}
	return &Mapping{o: o, length: length}, 0
}

func pages(n uint64) uint64 { return n/pageSize + min(n%pageSize, 1) }

// Load copies the object's mapped bytes into dst (as many as both have).
func (m *Mapping) Load(dst []byte) {
	m.o.drv.gpu.mem.Read(m.o.backing, dst[:min(uint64(len(dst)), m.length, m.o.size)])
}

// StoreAt copies src into the object's mapped bytes from off on.
func (m *Mapping) StoreAt(off uint64, src []byte) {
	if n := min(m.length, m.o.size); off < n {
		m.o.drv.gpu.mem.Write(m.o.backing+off, src[:min(uint64(len(src)), n-off)])
	}
}

// Release drops the mapping's reference to the object (munmap, or the
// process's exit).
func (m *Mapping) Release() {
	if m.o != nil {
		m.o.put()
		m.o = nil
	}
}
