package drm

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"fencelab/device"
	"fencelab/errno"
)

// TestOraclePrime replays testdata/oracle/prime.c, run on Linux 6.12.117,
// against fencelab. The probe makes its buffer with MODE_CREATE_DUMB on
// card0, which fencelab does not have until the KMS subset lands; the
// replay makes the same kind of object with RESOURCE_CREATE (handle 1 in
// a fresh file either way) and then issues exactly the probe's PRIME and
// GEM_CLOSE calls.
func TestOraclePrime(t *testing.T) {
	want, err := os.ReadFile("testdata/oracle/prime.linux.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, device.Config{})
	fd := m.open(PathRender)
	m.open(PathRender) // fd2, unused, as in the probe
	null := m.open(PathNull)
	card := m.open(PathCard)
	var out strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	bo, _ := m.createResource(card)
	say("create_dumb -> errno=%d handle=%d", 0, bo)
	call := func(fd int32, req uint32, args ...uint32) (errno.Errno, []byte) {
		return m.ioctl(fd, req, u32s(args...))
	}
	e, _ := call(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, bo, 0xdead0000, 0)
	say("handle_to_fd bad flags -> errno=%d", e)
	e, _ = call(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, 999, DRM_CLOEXEC|DRM_RDWR, 0)
	say("handle_to_fd unknown -> errno=%d", e)
	e, p := call(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, bo, DRM_CLOEXEC|DRM_RDWR, 0xffffffff)
	buf := int32(le32(p, 2))
	valid := "-1"
	if buf >= 0 {
		valid = "valid"
	}
	say("handle_to_fd -> errno=%d fd=%s", e, valid)
	e, q := call(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, 0, 0, uint32(buf))
	say("fd_to_handle same file -> errno=%d same=%d", e, b2i(le32(q, 0) == bo))
	e, r := call(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, 0, 0, uint32(buf))
	say("fd_to_handle other file -> errno=%d handle=%d", e, le32(r, 0))
	e, r2 := call(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, 0, 0, uint32(buf))
	say("fd_to_handle other file again -> errno=%d same=%d", e, b2i(le32(r2, 0) == le32(r, 0)))
	e, _ = call(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, 0, 0, uint32(null))
	say("fd_to_handle /dev/null -> errno=%d", e)
	e, _ = call(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, 0, 0, 0xffffffff)
	say("fd_to_handle -1 -> errno=%d", e)
	e, _ = call(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, 0, 0xff, uint32(buf))
	say("fd_to_handle flags=0xff -> errno=%d", e)
	e, _ = call(fd, DRM_IOCTL_GEM_CLOSE, 999, 0)
	say("gem_close unknown -> errno=%d", e)
	e, _ = call(fd, DRM_IOCTL_GEM_CLOSE, le32(r, 0), 1)
	say("gem_close pad=1 -> errno=%d", e)
	if got := out.String(); got != string(want) {
		t.Errorf("fencelab's transcript differs from Linux 6.12's:\n--- fencelab\n%s--- linux\n%s", got, want)
	}
	m.run()
	m.teardown()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A buffer shared between two processes through a PRIME fd is one object:
// it lives while either holds it, and the device sees one RESOURCE_UNREF
// when the last reference goes.
func TestPrimeSharesOneObject(t *testing.T) {
	m := newMachine(t, device.Config{})
	baseline := m.drv.gpu.alloc.inUse()
	a := m.open(PathRender)
	bo, res := m.createResource(a)
	e, p := m.ioctl(a, DRM_IOCTL_PRIME_HANDLE_TO_FD, u32s(bo, DRM_CLOEXEC, 0))
	if e != 0 {
		t.Fatal(e)
	}
	bufFD := int32(le32(p, 2))
	// A second process, with the fd passed to it (dup stands in for fd passing).
	other := &Task{Mem: m.task.Mem, FDs: NewFDTable(0), Ctx: m.task.Ctx, Comm: "other"}
	bfile, _ := m.task.FDs.Get(bufFD)
	theirFD, _ := other.FDs.Open(bfile)
	b, _ := m.drv.Open(other, PathRender, O_RDWR)
	arg := m.proc.mem.put(u32s(0, 0, uint32(theirFD)))
	if e := m.drv.Ioctl(other, b, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg); e != 0 {
		t.Fatalf("import in the other process = %v", e)
	}
	theirs := le32(m.proc.mem.get(arg, 12), 0)
	info := m.proc.mem.put(u32s(theirs, 0, 0, 0))
	if e := m.drv.Ioctl(other, b, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, info); e != 0 || le32(m.proc.mem.get(info, 16), 1) != res {
		t.Errorf("the import is resource %d (%v); want %d", le32(m.proc.mem.get(info, 16), 1), e, res)
	}
	// The exporter closes everything; the object lives on in the importer.
	m.task.FDs.CloseAll()
	if got := m.drv.gpu.alloc.inUse(); got == baseline {
		t.Error("the object was freed while another process still holds it")
	}
	other.FDs.CloseAll()
	m.run()
	if got := m.drv.gpu.alloc.inUse(); got != baseline {
		t.Errorf("guest memory in use after both closed: %d; want %d", got, baseline)
	}
	m.teardown()
}
