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

// Mapping is one mapped GEM object: a reference to it, and where its
// pages are.
type Mapping struct {
	o      *gemObject
	offset uint64 // into the object
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

// Map is mmap(2) of length bytes of a DRM fd at a fake offset
// (MAP_DUMB's, VIRTGPU_MAP's): EBADF for an fd that is not open, ENODEV
// for one that is not a DRM file, EINVAL for a length of 0 or past the
// object, or an offset that no object of this file has (drm_gem_mmap's
// drm_vma_offset_lookup; the kernel says EACCES when it is another
// file's, fencelab cannot tell the two apart and says EINVAL).
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
	base := offset &^ (1<<32 - 1)
	df.gem.mu.Lock()
	var o *gemObject
	for _, x := range df.gem.objs {
		if x.mmapOffset() == base {
			o = x
			o.get()
			break
		}
	}
	df.gem.mu.Unlock()
	if o == nil {
		return nil, errno.EINVAL
	}
	within := offset - base
	if within > o.size || length > o.size-within {
		o.put()
		return nil, errno.EINVAL
	}
	return &Mapping{o: o, offset: within, length: length}, 0
}

// Load copies the object's mapped bytes into dst (len(dst) == Len()).
func (m *Mapping) Load(dst []byte) {
	m.o.drv.gpu.mem.Read(m.o.backing+m.offset, dst[:min(uint64(len(dst)), m.length)])
}

// StoreAt copies src into the object's mapped bytes from off on.
func (m *Mapping) StoreAt(off uint64, src []byte) {
	if off >= m.length {
		return
	}
	m.o.drv.gpu.mem.Write(m.o.backing+m.offset+off, src[:min(uint64(len(src)), m.length-off)])
}

// Release drops the mapping's reference to the object (munmap, or the
// process's exit).
func (m *Mapping) Release() {
	if m.o != nil {
		m.o.put()
		m.o = nil
	}
}
