package guest

import (
	"fencelab/drm"
	"fencelab/errno"
)

// mapping is a guest buffer shadowing a mapped GEM object (drm/mmap.go).
// snap is what the buffer held at the last sync: only bytes that differ
// from it are the guest's (or a system call's) writes, so only they go
// back to the object, and a stale second mapping of the same object
// never overwrites the first one's writes.
type mapping struct {
	addr, length uint32
	prot         uint32
	shared       bool
	m            *drm.Mapping
	snap         []byte
}

// mmap is mmap(2) as a wasm guest can have it: the guest owns the memory,
// so it must pass MAP_FIXED and the address of a buffer of its own of
// length bytes (EINVAL otherwise; ENOMEM if the buffer is not inside its
// memory). The object's bytes are copied in at once and kept in step
// with it at every system call (sync). A mapping overlapping an older
// one replaces it, as MAP_FIXED does.
func (p *proc) mmap(addr, length, prot, flags uint32, fd int32, offset uint64) int32 {
	kind := flags & (drm.MAP_SHARED | drm.MAP_PRIVATE)
	if flags&drm.MAP_FIXED == 0 || addr == 0 || length == 0 || kind == 0 || kind == drm.MAP_SHARED|drm.MAP_PRIVATE ||
		prot&^(drm.PROT_READ|drm.PROT_WRITE) != 0 || addr%pageSize != 0 || offset%pageSize != 0 {
		return -int32(errno.EINVAL)
	}
	buf, ok := p.mem.span(uint64(addr), int(length))
	if !ok {
		return -int32(errno.ENOMEM)
	}
	m, e := p.Drv.Map(p.Task, fd, offset, uint64(length))
	if e != 0 {
		return -int32(e)
	}
	p.unmapRange(addr, length)
	m.Load(buf)
	p.maps = append(p.maps, &mapping{addr: addr, length: length, prot: prot, shared: kind == drm.MAP_SHARED, m: m,
		snap: append([]byte(nil), buf...)})
	return int32(addr)
}

// pageSize is what mmap aligns addresses and offsets to.
const pageSize = 4096

// munmap is munmap(2) of whole mappings: a shared, writable one's last
// writes reach the object first. EINVAL for an unaligned address or no
// length; a range with no mapping in it is not an error, as in Linux.
func (p *proc) munmap(addr, length uint32) int32 {
	if addr%pageSize != 0 || length == 0 {
		return -int32(errno.EINVAL)
	}
	p.unmapRange(addr, length)
	return 0
}

// unmapRange drops every mapping overlapping [addr, addr+length).
func (p *proc) unmapRange(addr, length uint32) {
	end := uint64(addr) + uint64(length)
	kept := p.maps[:0]
	for _, mp := range p.maps {
		if uint64(mp.addr) < end && uint64(addr) < uint64(mp.addr)+uint64(mp.length) {
			p.storeBack(mp)
			mp.m.Release()
			continue
		}
		kept = append(kept, mp)
	}
	p.maps = kept
}

func (p *proc) storeBack(mp *mapping) {
	if !mp.shared || mp.prot&drm.PROT_WRITE == 0 {
		return
	}
	buf, ok := p.mem.span(uint64(mp.addr), int(mp.length))
	if !ok {
		return
	}
	// Store the runs of bytes that changed since the last sync.
	for i := 0; i < len(buf); {
		if buf[i] == mp.snap[i] {
			i++
			continue
		}
		j := i + 1
		for j < len(buf) && buf[j] != mp.snap[j] {
			j++
		}
		mp.m.StoreAt(uint64(i), buf[i:j])
		copy(mp.snap[i:j], buf[i:j])
		i = j
	}
}

// syncIn makes the guest's writes to its shared mappings the objects'
// before a system call runs.
func (p *proc) syncIn() {
	for _, mp := range p.maps {
		p.storeBack(mp)
	}
}

// syncOut brings the objects' contents into the guest's shared mappings
// after a system call, so that what the device (or another mapping)
// wrote is seen; what the call itself wrote into a mapped buffer (a read
// into it) reaches the object first.
func (p *proc) syncOut() {
	for _, mp := range p.maps {
		p.storeBack(mp)
	}
	for _, mp := range p.maps {
		// A private mapping is the guest's own copy after mmap.
		if mp.prot&drm.PROT_READ == 0 || !mp.shared {
			continue
		}
		if buf, ok := p.mem.span(uint64(mp.addr), int(mp.length)); ok {
			mp.m.Load(buf)
			copy(mp.snap, buf)
		}
	}
}

// releaseMaps drops every mapping when the process ends.
func (p *proc) releaseMaps() {
	for _, mp := range p.maps {
		p.storeBack(mp)
		mp.m.Release()
	}
	p.maps = nil
}
