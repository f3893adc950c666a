package guest

import (
	"context"
	"fencelab/internal/wire"
	"reflect"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fencelab/drm"
	"fencelab/errno"
	"fencelab/fence"
)

// uleb is unsigned LEB128 (instrument.go's encoder).
func uleb(v uint32) []byte { return appendULEB(nil, uint64(v)) }

func name(s string) []byte { return append(uleb(uint32(len(s))), s...) }

func section(id byte, items ...[]byte) []byte {
	body := uleb(uint32(len(items)))
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
}

// shim is a hand-assembled module importing every function of the linux
// module and exporting, for each, a function that calls it with its own
// arguments, plus one page of memory: what a guest's system calls look
// like from the host, without a guest's runtime around them.
var shimCalls = []struct {
	name    string
	params  int
	i64Last bool // the last parameter is an i64 (mmap's offset)
}{{"open", 3, false}, {"close", 1, false}, {"dup", 1, false}, {"ioctl", 3, false}, {"read", 3, false}, {"write", 3, false},
	{"eventfd", 2, false}, {"poll", 3, false}, {"sendfd", 2, false}, {"recvfd", 2, false}, {"mmap", 6, true}, {"munmap", 2, false}, {"sigtimer", 1, false}}

func shim() []byte {
	i32, i64 := byte(0x7f), byte(0x7e)
	funcType := func(n int, i64Last bool) []byte {
		t := []byte{0x60, byte(n)}
		for k := range n {
			if i64Last && k == n-1 {
				t = append(t, i64)
			} else {
				t = append(t, i32)
			}
		}
		return append(t, 1, i32)
	}
	var types, imports, funcs, exports, codes [][]byte
	for i, c := range shimCalls {
		types = append(types, funcType(c.params, c.i64Last))
		imports = append(imports, append(append(name("linux"), name(c.name)...), 0x00, byte(i)))
		funcs = append(funcs, []byte{byte(i)})
		exports = append(exports, append(name(c.name), 0x00, byte(len(shimCalls)+i)))
		body := []byte{0} // no locals
		for p := range c.params {
			body = append(body, 0x20, byte(p))
		}
		body = append(body, 0x10, byte(i), 0x0b)
		codes = append(codes, append(uleb(uint32(len(body))), body...))
	}
	exports = append(exports, append(name("memory"), 0x02, 0))
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, types...)...)
	m = append(m, section(2, imports...)...)
	m = append(m, section(3, funcs...)...)
	m = append(m, section(5, []byte{0x00, 1})...)
	m = append(m, section(7, exports...)...)
	return append(m, section(10, codes...)...)
}

type shimProc struct {
	ctx context.Context
	mod api.Module
	p   *Process
	d   *fence.Domain
}

func newShim(t testing.TB) *shimProc {
	ctx := context.Background()
	r, err := NewRuntime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	d := fence.NewDomain(fence.NewManualClock(1e9))
	p := &Process{Drv: drm.NewDriver(d), Task: &drm.Task{FDs: drm.NewFDTable(0), Ctx: ctx, Comm: "shim"}}
	ctx = context.WithValue(ctx, procKey{}, &proc{Process: p})
	mod, err := r.rt.InstantiateWithConfig(ctx, shim(), wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	return &shimProc{ctx: ctx, mod: mod, p: p, d: d}
}

func (s *shimProc) call(name string, args ...uint32) int32 {
	in := make([]uint64, len(args))
	for i, a := range args {
		in[i] = api.EncodeU32(a)
	}
	if name == "mmap" && len(in) == 6 {
		in[5] = uint64(args[5]) << 12 // a page-aligned offset
	}
	out, err := s.mod.ExportedFunction(name).Call(s.ctx, in...)
	if err != nil {
		panic(err)
	}
	return api.DecodeI32(out[0])
}

func (s *shimProc) put(addr uint32, b []byte) { s.mod.Memory().Write(addr, b) }

// The linux module's calls as a guest makes them: results, and −errno
// for every kind of bad argument.
func TestLinuxModule(t *testing.T) {
	s := newShim(t)
	s.put(100, []byte(drm.PathRender))
	fd := s.call("open", 100, uint32(len(drm.PathRender)), drm.O_RDWR)
	if fd != 0 {
		t.Fatalf("open = %d; want fd 0", fd)
	}
	for _, tt := range []struct {
		what string
		got  int32
		want int32
	}{
		{"open with a path past memory", s.call("open", 65530, 20, drm.O_RDWR), -int32(errno.EFAULT)},
		{"open with a path past PATH_MAX", s.call("open", 100, 5000, drm.O_RDWR), -int32(errno.ENAMETOOLONG)},
		{"open of a path that is not there", s.call("open", 100, 5, drm.O_RDWR), -int32(errno.ENOENT)},
		{"ioctl at an address past memory", s.call("ioctl", uint32(fd), drm.DRM_IOCTL_SYNCOBJ_CREATE, 65535), -int32(errno.EFAULT)},
		{"ioctl at the top of the 32-bit space", s.call("ioctl", uint32(fd), drm.DRM_IOCTL_SYNCOBJ_CREATE, 0xfffffffc), -int32(errno.EFAULT)},
		{"ioctl on a bad fd", s.call("ioctl", 77, drm.DRM_IOCTL_SYNCOBJ_CREATE, 200), -int32(errno.EBADF)},
		{"ioctl with a bad type byte", s.call("ioctl", uint32(fd), 0xC0087a00, 200), -int32(errno.ENOTTY)},
		{"dup", s.call("dup", uint32(fd)), 1},
		{"close", s.call("close", 1), 0},
		{"close again", s.call("close", 1), -int32(errno.EBADF)},
		{"read of a DRM file with no events", s.call("read", uint32(fd), 300, 64), -int32(errno.EAGAIN)},
		{"read into a buffer past memory", s.call("read", uint32(fd), 65500, 64), -int32(errno.EFAULT)},
		{"write to a DRM file", s.call("write", uint32(fd), 300, 8), -int32(errno.EINVAL)},
		{"eventfd with unknown flags", s.call("eventfd", 0, 0x10), -int32(errno.EINVAL)},
		{"mmap without MAP_FIXED", s.call("mmap", 4096, 4096, drm.PROT_READ, drm.MAP_SHARED, uint32(fd), 1<<20), -int32(errno.EINVAL)},
		{"mmap at an unaligned address", s.call("mmap", 100, 4096, drm.PROT_READ, drm.MAP_SHARED|drm.MAP_FIXED, uint32(fd), 1<<20), -int32(errno.EINVAL)},
		{"mmap past memory", s.call("mmap", 61440, 8192, drm.PROT_READ, drm.MAP_SHARED|drm.MAP_FIXED, uint32(fd), 1<<20), -int32(errno.ENOMEM)},
		{"mmap of no object", s.call("mmap", 4096, 4096, drm.PROT_READ, drm.MAP_SHARED|drm.MAP_FIXED, uint32(fd), 1<<20), -int32(errno.EINVAL)},
		{"mmap of a closed fd", s.call("mmap", 4096, 4096, drm.PROT_READ, drm.MAP_SHARED|drm.MAP_FIXED, 77, 1<<20), -int32(errno.EBADF)},
		{"munmap of nothing", s.call("munmap", 4096, 4096), 0},
		{"sigtimer outside a machine", s.call("sigtimer", 1000), -int32(errno.ENOSYS)},
		{"munmap unaligned", s.call("munmap", 100, 4096), -int32(errno.EINVAL)},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %d; want %d", tt.what, tt.got, tt.want)
		}
	}
	// An eventfd: write 5, read it back.
	efd := s.call("eventfd", 0, drm.EFD_NONBLOCK)
	s.put(400, []byte{5, 0, 0, 0, 0, 0, 0, 0})
	if n := s.call("write", uint32(efd), 400, 8); n != 8 {
		t.Errorf("eventfd write = %d", n)
	}
	if n := s.call("read", uint32(efd), 500, 8); n != 8 {
		t.Errorf("eventfd read = %d", n)
	}
	if b, _ := s.mod.Memory().Read(500, 8); b[0] != 5 {
		t.Errorf("eventfd read %v; want 5", b)
	}
	// poll: an eventfd that is ready, an fd that is not open, a negative
	// fd skipped; too many entries; a table past memory.
	s.put(600, cat(u32s(uint32(efd)), []byte{1, 0, 0, 0}, u32s(99), []byte{1, 0, 0, 0}, u32s(0xffffffff), []byte{1, 0, 0, 0}))
	if n := s.call("poll", 600, 3, 0); n != 1 {
		t.Errorf("poll of an idle eventfd, a closed fd and -1 = %d; want 1 (the closed fd's POLLNVAL)", n)
	}
	if b, _ := s.mod.Memory().Read(600, 24); b[6] != 0 || b[14] != drm.POLLNVAL || b[22] != 0 {
		t.Errorf("revents %#x %#x %#x; want 0, POLLNVAL, 0", b[6], b[14], b[22])
	}
	s.put(400, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	s.call("write", uint32(efd), 400, 8)
	if n := s.call("poll", 600, 1, 0); n != 1 {
		t.Errorf("poll of a ready eventfd = %d; want 1", n)
	}
	if n := s.call("poll", 600, drm.DefaultMaxFDs+1, 0); n != -int32(errno.EINVAL) {
		t.Errorf("poll of too many fds = %d; want EINVAL", n)
	}
	if n := s.call("poll", 65530, 2, 0); n != -int32(errno.EFAULT) {
		t.Errorf("poll of a table past memory = %d; want EFAULT", n)
	}
	// An fd passed to ourselves through a channel.
	s.put(700, []byte(drm.PathChannels+"x"))
	ch := s.call("open", 700, uint32(len(drm.PathChannels+"x")), drm.O_RDWR)
	if r := s.call("sendfd", uint32(ch), uint32(efd)); r != 0 {
		t.Errorf("sendfd = %d", r)
	}
	if r := s.call("recvfd", uint32(ch), drm.O_NONBLOCK); r < 0 {
		t.Errorf("recvfd = %d", r)
	}
	if r := s.call("recvfd", uint32(ch), drm.O_NONBLOCK); r != -int32(errno.EAGAIN) {
		t.Errorf("recvfd of an empty channel = %d; want EAGAIN", r)
	}
	if r := s.call("sendfd", uint32(fd), uint32(efd)); r != -int32(errno.ENOTSOCK) {
		t.Errorf("sendfd on a DRM fd = %d; want ENOTSOCK", r)
	}
	// A syncobj through ioctl.
	s.put(200, make([]byte, 8))
	if r := s.call("ioctl", uint32(fd), drm.DRM_IOCTL_SYNCOBJ_CREATE, 200); r != 0 {
		t.Errorf("SYNCOBJ_CREATE = %d", r)
	}
	if h, _ := s.mod.Memory().ReadUint32Le(200); h != 1 {
		t.Errorf("syncobj handle %d; want 1", h)
	}
	s.p.Task.FDs.CloseAll()
	if l := s.d.Live(); !l.Zero() {
		t.Errorf("after closing every fd, Live() = %+v", l)
	}
}

// FuzzLinuxModule calls the linux module with hostile arguments and
// memory: every result is a count, an fd or −errno, nothing panics, and
// closing every fd leaves nothing alive.
func FuzzLinuxModule(f *testing.F) {
	f.Add(uint8(0), uint32(0), uint32(19), uint32(2), []byte(drm.PathRender))
	f.Add(uint8(3), uint32(0), drm.DRM_IOCTL_SYNCOBJ_CREATE, uint32(0), make([]byte, 8))
	f.Add(uint8(3), uint32(0), drm.DRM_IOCTL_SYNCOBJ_WAIT, uint32(16), make([]byte, 64))
	f.Add(uint8(4), uint32(1), uint32(0), uint32(64), []byte{})
	f.Fuzz(func(t *testing.T, which uint8, a, b, c uint32, mem []byte) {
		s := newShim(t)
		s.put(1024, []byte(drm.PathRender))
		s.call("open", 1024, uint32(len(drm.PathRender)), drm.O_RDWR)
		s.put(2048, []byte(drm.PathCard))
		s.call("open", 2048, uint32(len(drm.PathCard)), drm.O_RDWR)
		s.call("eventfd", 1, drm.EFD_NONBLOCK)
		if len(mem) > 60000 {
			mem = mem[:60000]
		}
		s.put(0, mem)
		// Blocking waits must not hang: the task is interrupted.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.p.Task.Ctx = ctx
		c0 := shimCalls[int(which)%len(shimCalls)]
		args := []uint32{a, b, c, a >> 3, b % 8, c}[:c0.params]
		if c0.name == "ioctl" || c0.name == "read" || c0.name == "write" || c0.name == "close" || c0.name == "dup" ||
			c0.name == "sendfd" || c0.name == "recvfd" {
			args[0] %= 8 // mostly real fds
		}
		r := s.call(c0.name, args...)
		if r < -133 { // every Linux errno is below 134; ERESTARTSYS never escapes
			t.Fatalf("%s%v = %d: not a result or an errno", c0.name, args, r)
		}
		s.p.Task.FDs.CloseAll()
		s.p.Drv.DropChannels()
		if l := s.d.Live(); !l.Zero() {
			t.Fatalf("after closing every fd, Live() = %+v", l)
		}
	})
}

var u32s, cat = wire.U32s, wire.Cat

// fakeSignals records what the linux module asks of a process's signals.
type fakeSignals struct {
	set     []int64
	entered int
}

func (f *fakeSignals) SetTimer(ns int64) int32 { f.set = append(f.set, ns); return int32(len(f.set)) }
func (f *fakeSignals) EnterCall()              { f.entered++ }

// sigtimer takes microseconds from 100 up, or 0 to stop; shorter or
// negative intervals are EINVAL and reach nothing. Every system call
// first lets the signals put back what a signal took.
func TestSigtimer(t *testing.T) {
	s := newShim(t)
	f := &fakeSignals{}
	s.p.Signals = f
	for _, tt := range []struct {
		us   int32
		want int32
	}{{1000, 1}, {0, 2}, {100, 3}, {99, -int32(errno.EINVAL)}, {1, -int32(errno.EINVAL)}, {-5, -int32(errno.EINVAL)}} {
		if got := s.call("sigtimer", uint32(tt.us)); got != tt.want {
			t.Errorf("sigtimer(%d) = %d; want %d", tt.us, got, tt.want)
		}
	}
	if want := []int64{1_000_000, 0, 100_000}; !reflect.DeepEqual(f.set, want) {
		t.Errorf("intervals set %v; want %v", f.set, want)
	}
	s.call("close", 99)
	if f.entered != 7 {
		t.Errorf("EnterCall ran %d times for 7 calls", f.entered)
	}
}
