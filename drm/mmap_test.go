package drm

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"fencelab/device"
	"fencelab/errno"
)

// TestOracleMmap replays testdata/oracle/mmap.c, whose output on Linux
// 6.12 is testdata/oracle/mmap.linux.txt, and prints what fencelab's
// Driver.Map answers in the same words. Linux looks an mmap offset up
// exactly (an offset inside an object is EINVAL, as is a length past
// it) and then asks whether this file holds a handle to the object
// (EACCES if not, whether it never had one or closed it).
func TestOracleMmap(t *testing.T) {
	want, err := os.ReadFile("testdata/oracle/mmap.linux.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, device.Config{})
	a, b := m.open(PathRender), m.open(PathRender)
	var out strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	ret := func(e errno.Errno) int {
		if e != 0 {
			return -1
		}
		return 0
	}
	e, rc := m.ioctl(a, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, u32s(2, 1, 2, 64, 64, 1, 1, 0, 0, 0, 0, 0, 64*64*4, 0))
	say("resource_create -> ret=%d errno=%d", ret(e), e)
	bo := le32(rc, 10)
	e, mp := m.ioctl(a, DRM_IOCTL_VIRTGPU_MAP, u32s(0, 0, bo, 0))
	off := le.Uint64(mp)
	say("map -> ret=%d errno=%d offset_nonzero=%d page_aligned=%d", ret(e), e, b2i(off != 0), b2i(off&4095 == 0))
	try := func(what string, fd int32, length, offset uint64) {
		mapping, e := m.drv.Map(m.task, fd, offset, length)
		if e != 0 {
			say("mmap %s len=%d -> FAILED errno=%d", what, length, e)
			return
		}
		mapping.Release()
		say("mmap %s len=%d -> ok errno=0", what, length)
	}
	try("own whole", a, 16384, off)
	try("own first page", a, 4096, off)
	try("own second page (offset+4096)", a, 4096, off+4096)
	try("own len past end", a, 16384+4096, off)
	try("own offset 0", a, 4096, 0)
	try("own unknown offset", a, 4096, off+1<<30)
	try("foreign file", b, 16384, off)
	e, ph := m.ioctl(a, DRM_IOCTL_PRIME_HANDLE_TO_FD, u32s(bo, DRM_CLOEXEC|DRM_RDWR, 0))
	say("prime export -> ret=%d errno=%d", ret(e), e)
	e, ih := m.ioctl(b, DRM_IOCTL_PRIME_FD_TO_HANDLE, u32s(0, 0, le32(ph, 2)))
	say("prime import in b -> ret=%d errno=%d", ret(e), e)
	try("b after import", b, 16384, off)
	e, _ = m.ioctl(b, DRM_IOCTL_GEM_CLOSE, u32s(le32(ih, 0), 0))
	say("gem_close in b -> ret=%d errno=%d", ret(e), e)
	try("b after its handle closed", b, 16384, off)
	m.task.FDs.Close(int32(le32(ph, 2)))
	e, _ = m.ioctl(a, DRM_IOCTL_GEM_CLOSE, u32s(bo, 0))
	say("gem_close in a -> ret=%d errno=%d", ret(e), e)
	m.settle() // the RESOURCE_UNREF goes through; the object is gone
	try("a after close (object gone)", a, 16384, off)
	if got := out.String(); got != string(want) {
		t.Errorf("fencelab:\n%s\nLinux 6.12:\n%s", got, want)
	}
}

// An object can be mapped at its offset from its creation (Linux makes
// the offset in drm_gem_shmem_create; MAP only reads it), a foreign file
// is refused it (EACCES) whether or not its owner ever asked MAP, and
// once the object is freed its offset leads to the next object given
// the same resource id, never to the old one.
func TestMmapOffsetLifetime(t *testing.T) {
	m := newMachine(t, device.Config{})
	a, b := m.open(PathRender), m.open(PathRender)
	bo, _ := m.createResource(a)
	o := m.fileOf(a).gem.lookup(bo)
	off := o.mmapOffset()
	o.put()
	mp, e := m.drv.Map(m.task, a, off, 4096)
	if e != 0 {
		t.Fatalf("mmap before any MAP = %v; want it mapped", e)
	}
	if mp.o != o {
		t.Error("mapped some other object")
	}
	mp.Release()
	if _, e := m.drv.Map(m.task, b, off, 4096); e != errno.EACCES {
		t.Errorf("mmap from a file with no handle = %v; want EACCES", e)
	}
	if e, _ := m.ioctl(a, DRM_IOCTL_GEM_CLOSE, u32s(bo, 0)); e != 0 {
		t.Fatal(e)
	}
	m.settle()
	if _, e := m.drv.Map(m.task, a, off, 4096); e != errno.EINVAL {
		t.Errorf("mmap of a freed object's offset = %v; want EINVAL", e)
	}
	bo2, _ := m.createResource(b) // the lowest free resource id: the old one
	o2 := m.fileOf(b).gem.lookup(bo2)
	defer o2.put()
	if o2.mmapOffset() != off {
		t.Fatalf("the new object's offset %#x; want the freed one's %#x (same resource id)", o2.mmapOffset(), off)
	}
	mp, e = m.drv.Map(m.task, b, off, 4096)
	if e != 0 || mp.o != o2 {
		t.Fatalf("mmap of the reused offset = %v (object %p); want the new object %p", e, mp, o2)
	}
	mp.Release()
	if _, e := m.drv.Map(m.task, a, off, 4096); e != errno.EACCES {
		t.Errorf("the old owner's mmap of the reused offset = %v; want EACCES", e)
	}
}

// An mmap looking an object up by its offset while the clock's goroutine
// drops the object's last reference (a framebuffer freed after its last
// scanout, tryPut) either gets a reference before the drop or none: the
// count never goes below zero. Before tryPut claimed the last reference
// first, about one object in five here ended at -1.
func TestMmapRacesTryPut(t *testing.T) {
	m := newMachine(t, device.Config{})
	a := m.open(PathRender)
	bad := 0
	for range 500 {
		bo, _ := m.createResource(a)
		o := m.fileOf(a).gem.lookup(bo) // the reference tryPut will drop
		off := o.mmapOffset()
		m.ioctl(a, DRM_IOCTL_GEM_CLOSE, u32s(bo, 0))
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			for !o.tryPut() {
				runtime.Gosched()
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			for o.refs.Load() > 0 {
				if mp, e := m.drv.Map(m.task, a, off, 4096); e == 0 {
					mp.Release()
				}
			}
		}()
		close(start)
		wg.Wait()
		if o.refs.Load() != 0 {
			bad++
		}
		m.settle()
	}
	if bad > 0 {
		t.Errorf("%d of 500 objects ended with a reference count other than 0", bad)
	}
}
