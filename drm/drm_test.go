package drm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fencelab/internal/wire"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"fencelab/errno"
	"fencelab/fence"
	"fencelab/internal/flatmem"
)

// procMem is a process's memory: a flat range from procBase.
type procMem struct{ *flatmem.Memory }

const procBase = 0x10000

func newProcMem(size int) *procMem { return &procMem{flatmem.New(procBase, size)} }

func (m *procMem) put(b []byte) uint64           { return m.Put(b) }
func (m *procMem) get(addr uint64, n int) []byte { return m.Get(addr, n) }

// proc is a guest process with the driver: it issues system calls as a C
// program would.
type proc struct {
	t     testing.TB
	clock *fence.ManualClock
	drv   *Driver
	task  *Task
	mem   *procMem

	// snap is what the leak guard compares around every failing ioctl;
	// a machine widens it to its device side. inFlight and started let
	// the guard see other ioctls running at the same time.
	snap     func() leakCheck
	inFlight atomic.Int32
	started  atomic.Uint64
	checked  atomic.Uint64 // failing ioctls the guard compared
}

func newProc(t testing.TB) *proc {
	clock := fence.NewManualClock(1_000_000_000)
	drv := NewDriver(fence.NewDomain(clock))
	mem := newProcMem(1 << 20)
	p := &proc{t: t, clock: clock, drv: drv, mem: mem,
		task: &Task{Mem: mem, FDs: NewFDTable(0), Ctx: context.Background(), Comm: "test"}}
	p.snap = p.snapshot
	return p
}

func (p *proc) open(path string) int32 {
	p.t.Helper()
	fd, e := p.drv.Open(p.task, path, O_RDWR|O_CLOEXEC)
	if e != 0 {
		p.t.Fatalf("open(%s) = %v", path, e)
	}
	return fd
}

// ioctl stores arg, runs the ioctl and returns the errno and the struct as
// the kernel left it. Every failing call goes through the leak guard.
func (p *proc) ioctl(fd int32, req uint32, arg []byte) (errno.Errno, []byte) {
	addr := p.mem.put(arg)
	e := p.guard(req, func() errno.Errno { return p.drv.Ioctl(p.task, fd, req, addr) })
	return e, p.mem.get(addr, len(arg))
}

// guard runs one ioctl and, if it fails, checks that it left behind
// exactly what was there before: the same fds, sync objects, callbacks,
// waiters, GEM objects and handles, contexts, guest memory, in-flight
// fences and DRM event space (the seed's v3 and v6 each fixed a leak on an error path).
// It compares only when the call ran alone, with the clock standing still:
// otherwise other work may legitimately have changed the counts.
// A RESET that fires in a failing EXECBUFFER's cleanup only drops a
// fence, and CONTEXT_INIT's no-rollback quirk keeps a context id the
// file already had, so neither trips it.
func (p *proc) guard(req uint32, call func() errno.Errno) errno.Errno {
	first := p.inFlight.Add(1) == 1
	seq := p.started.Add(1)
	t0 := p.clock.Now()
	before := p.snap()
	e := call()
	alone := first && p.inFlight.Load() == 1 && p.started.Load() == seq && p.clock.Now() == t0
	if e != 0 && alone {
		if after := p.snap(); after != before {
			p.t.Errorf("ioctl %#x failed with %v and leaked:\n before %+v\n after  %+v", req, e, before, after)
		}
		p.checked.Add(1)
	}
	p.inFlight.Add(-1)
	return e
}

// teardown closes every fd and checks nothing is left alive.
func (p *proc) teardown() {
	p.t.Helper()
	p.task.FDs.CloseAll()
	if l := p.drv.Domain().Live(); !l.Zero() {
		p.t.Errorf("after closing every fd, Live() = %+v; want zero", l)
	}
}

// Struct builders (internal/wire), by their short names.
var u32s, u64s, cat = wire.U32s, wire.U64s, wire.Cat

// Every table entry agrees with its index, its exported request number,
// the size of the struct fence decodes, and the permissions Linux gives it.
func TestTablesAgree(t *testing.T) {
	exported := map[string]uint32{
		"DRM_IOCTL_VERSION": DRM_IOCTL_VERSION, "DRM_IOCTL_GET_CAP": DRM_IOCTL_GET_CAP,
		"DRM_IOCTL_SYNCOBJ_CREATE": DRM_IOCTL_SYNCOBJ_CREATE, "DRM_IOCTL_SYNCOBJ_DESTROY": DRM_IOCTL_SYNCOBJ_DESTROY,
		"DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD": DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE": DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
		"DRM_IOCTL_SYNCOBJ_WAIT": DRM_IOCTL_SYNCOBJ_WAIT, "DRM_IOCTL_SYNCOBJ_RESET": DRM_IOCTL_SYNCOBJ_RESET,
		"DRM_IOCTL_SYNCOBJ_SIGNAL": DRM_IOCTL_SYNCOBJ_SIGNAL, "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT": DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
		"DRM_IOCTL_SYNCOBJ_QUERY": DRM_IOCTL_SYNCOBJ_QUERY, "DRM_IOCTL_SYNCOBJ_TRANSFER": DRM_IOCTL_SYNCOBJ_TRANSFER,
		"DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL": DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, "DRM_IOCTL_SYNCOBJ_EVENTFD": DRM_IOCTL_SYNCOBJ_EVENTFD,
		"DRM_IOCTL_GEM_CLOSE": DRM_IOCTL_GEM_CLOSE, "DRM_IOCTL_GET_UNIQUE": DRM_IOCTL_GET_UNIQUE,
		"DRM_IOCTL_SET_CLIENT_CAP": DRM_IOCTL_SET_CLIENT_CAP, "DRM_IOCTL_MODE_GETRESOURCES": DRM_IOCTL_MODE_GETRESOURCES,
		"DRM_IOCTL_MODE_GETENCODER": DRM_IOCTL_MODE_GETENCODER, "DRM_IOCTL_MODE_GETPLANERESOURCES": DRM_IOCTL_MODE_GETPLANERESOURCES,
		"DRM_IOCTL_MODE_GETPLANE":    DRM_IOCTL_MODE_GETPLANE,
		"DRM_IOCTL_MODE_GETCRTC":     DRM_IOCTL_MODE_GETCRTC,
		"DRM_IOCTL_MODE_GETPROPERTY": DRM_IOCTL_MODE_GETPROPERTY, "DRM_IOCTL_MODE_OBJ_GETPROPERTIES": DRM_IOCTL_MODE_OBJ_GETPROPERTIES,
		"DRM_IOCTL_MODE_CREATE_DUMB": DRM_IOCTL_MODE_CREATE_DUMB, "DRM_IOCTL_MODE_MAP_DUMB": DRM_IOCTL_MODE_MAP_DUMB, "DRM_IOCTL_MODE_DESTROY_DUMB": DRM_IOCTL_MODE_DESTROY_DUMB,
		"DRM_IOCTL_MODE_SETCRTC": DRM_IOCTL_MODE_SETCRTC, "DRM_IOCTL_MODE_GETCONNECTOR": DRM_IOCTL_MODE_GETCONNECTOR, "DRM_IOCTL_MODE_GETPROPBLOB": DRM_IOCTL_MODE_GETPROPBLOB,
		"DRM_IOCTL_MODE_RMFB": DRM_IOCTL_MODE_RMFB, "DRM_IOCTL_MODE_PAGE_FLIP": DRM_IOCTL_MODE_PAGE_FLIP,
		"DRM_IOCTL_MODE_ADDFB2": DRM_IOCTL_MODE_ADDFB2, "DRM_IOCTL_MODE_ATOMIC": DRM_IOCTL_MODE_ATOMIC,
		"DRM_IOCTL_MODE_CREATEPROPBLOB": DRM_IOCTL_MODE_CREATEPROPBLOB, "DRM_IOCTL_MODE_DESTROYPROPBLOB": DRM_IOCTL_MODE_DESTROYPROPBLOB,
		"DRM_IOCTL_PRIME_HANDLE_TO_FD": DRM_IOCTL_PRIME_HANDLE_TO_FD, "DRM_IOCTL_PRIME_FD_TO_HANDLE": DRM_IOCTL_PRIME_FD_TO_HANDLE,
	}
	// The values the spec tables give (kernel-semantics.md §1.6, §3.2;
	// VERSION in its 32-bit compat form).
	want := map[string]uint32{
		"DRM_IOCTL_VERSION": 0xC0246400, "DRM_IOCTL_GET_CAP": 0xC010640C,
		"DRM_IOCTL_SYNCOBJ_CREATE": 0xC00864BF, "DRM_IOCTL_SYNCOBJ_DESTROY": 0xC00864C0,
		"DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD": 0xC01064C1, "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE": 0xC01064C2,
		"DRM_IOCTL_SYNCOBJ_WAIT": 0xC02864C3, "DRM_IOCTL_SYNCOBJ_RESET": 0xC01064C4,
		"DRM_IOCTL_SYNCOBJ_SIGNAL": 0xC01064C5, "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT": 0xC03064CA,
		"DRM_IOCTL_SYNCOBJ_QUERY": 0xC01864CB, "DRM_IOCTL_SYNCOBJ_TRANSFER": 0xC02064CC,
		"DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL": 0xC01864CD, "DRM_IOCTL_SYNCOBJ_EVENTFD": 0xC01864CF,
		"DRM_IOCTL_GEM_CLOSE": 0x40086409, "DRM_IOCTL_GET_UNIQUE": 0xC0086401,
		// drm.h and drm_mode.h, as compiled on x86_64.
		"DRM_IOCTL_SET_CLIENT_CAP": 0x4010640D, "DRM_IOCTL_MODE_GETRESOURCES": 0xC04064A0,
		"DRM_IOCTL_MODE_GETENCODER": 0xC01464A6, "DRM_IOCTL_MODE_GETPLANERESOURCES": 0xC01064B5,
		"DRM_IOCTL_MODE_GETPLANE":    0xC02064B6,
		"DRM_IOCTL_MODE_GETCRTC":     0xC06864A1,
		"DRM_IOCTL_MODE_GETPROPERTY": 0xC04064AA, "DRM_IOCTL_MODE_OBJ_GETPROPERTIES": 0xC02064B9,
		"DRM_IOCTL_MODE_CREATE_DUMB": 0xC02064B2, "DRM_IOCTL_MODE_MAP_DUMB": 0xC01064B3, "DRM_IOCTL_MODE_DESTROY_DUMB": 0xC00464B4,
		"DRM_IOCTL_MODE_SETCRTC": 0xC06864A2, "DRM_IOCTL_MODE_GETCONNECTOR": 0xC05064A7, "DRM_IOCTL_MODE_GETPROPBLOB": 0xC01064AC,
		"DRM_IOCTL_MODE_RMFB": 0xC00464AF, "DRM_IOCTL_MODE_PAGE_FLIP": 0xC01864B0,
		"DRM_IOCTL_MODE_ADDFB2": 0xC06864B8, "DRM_IOCTL_MODE_ATOMIC": 0xC03864BC,
		"DRM_IOCTL_MODE_CREATEPROPBLOB": 0xC01064BD, "DRM_IOCTL_MODE_DESTROYPROPBLOB": 0xC00464BE,
		"DRM_IOCTL_PRIME_HANDLE_TO_FD": 0xC00C642D, "DRM_IOCTL_PRIME_FD_TO_HANDLE": 0xC00C642E,
	}
	structSize := map[string]uint32{
		"DRM_IOCTL_VERSION": drmVersion32Size, "DRM_IOCTL_GET_CAP": getCapSize,
		"DRM_IOCTL_SYNCOBJ_CREATE": fence.DrmSyncobjCreateSize, "DRM_IOCTL_SYNCOBJ_DESTROY": fence.DrmSyncobjDestroySize,
		"DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD": fence.DrmSyncobjHandleSize, "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE": fence.DrmSyncobjHandleSize,
		"DRM_IOCTL_SYNCOBJ_WAIT": fence.DrmSyncobjWaitSize, "DRM_IOCTL_SYNCOBJ_RESET": fence.DrmSyncobjArraySize,
		"DRM_IOCTL_SYNCOBJ_SIGNAL": fence.DrmSyncobjArraySize, "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT": fence.DrmSyncobjTimelineWaitSize,
		"DRM_IOCTL_SYNCOBJ_QUERY": fence.DrmSyncobjTimelineArraySize, "DRM_IOCTL_SYNCOBJ_TRANSFER": fence.DrmSyncobjTransferSize,
		"DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL": fence.DrmSyncobjTimelineArraySize, "DRM_IOCTL_SYNCOBJ_EVENTFD": fence.DrmSyncobjEventfdSize,
		"DRM_IOCTL_GEM_CLOSE": 8, "DRM_IOCTL_GET_UNIQUE": drmUnique32Size,
		"DRM_IOCTL_SET_CLIENT_CAP": 16, "DRM_IOCTL_MODE_GETRESOURCES": 64, "DRM_IOCTL_MODE_GETENCODER": 20,
		"DRM_IOCTL_MODE_GETPLANERESOURCES": 16, "DRM_IOCTL_MODE_GETPLANE": 32,
		"DRM_IOCTL_MODE_GETCRTC":     104,
		"DRM_IOCTL_MODE_GETPROPERTY": 64, "DRM_IOCTL_MODE_OBJ_GETPROPERTIES": 32,
		"DRM_IOCTL_MODE_CREATE_DUMB": 32, "DRM_IOCTL_MODE_MAP_DUMB": 16, "DRM_IOCTL_MODE_DESTROY_DUMB": 4,
		"DRM_IOCTL_MODE_SETCRTC": 104, "DRM_IOCTL_MODE_GETCONNECTOR": 80, "DRM_IOCTL_MODE_GETPROPBLOB": 16, "DRM_IOCTL_MODE_RMFB": 4,
		"DRM_IOCTL_MODE_PAGE_FLIP": 24, "DRM_IOCTL_MODE_ADDFB2": 104, "DRM_IOCTL_MODE_ATOMIC": 56,
		"DRM_IOCTL_MODE_CREATEPROPBLOB": 16, "DRM_IOCTL_MODE_DESTROYPROPBLOB": 4,
		"DRM_IOCTL_PRIME_HANDLE_TO_FD": 12, "DRM_IOCTL_PRIME_FD_TO_HANDLE": 12,
	}
	seen := map[string]bool{}
	for nr, d := range coreIoctls {
		if d.fn == nil {
			if d.name != "" || d.cmd != 0 {
				t.Errorf("core[%#x] has a name or number but no handler", nr)
			}
			continue
		}
		if seen[d.name] {
			t.Errorf("%s appears twice", d.name)
		}
		seen[d.name] = true
		if iocNr(d.cmd) != uint32(nr) || iocType(d.cmd) != DRM_IOCTL_BASE {
			t.Errorf("%s sits at %#x but its number is %#x type %q", d.name, nr, iocNr(d.cmd), rune(iocType(d.cmd)))
		}
		if exported[d.name] != d.cmd {
			t.Errorf("%s: table %#x, exported %#x", d.name, d.cmd, exported[d.name])
		}
		if want[d.name] != d.cmd {
			t.Errorf("%s = %#x; Linux's is %#x", d.name, d.cmd, want[d.name])
		}
		if iocSize(d.cmd) != structSize[d.name] {
			t.Errorf("%s: request size %d, struct size %d", d.name, iocSize(d.cmd), structSize[d.name])
		}
		// The KMS getters, GET_UNIQUE and SET_CLIENT_CAP are card0-only.
		render := d.name != "DRM_IOCTL_GET_UNIQUE" && d.name != "DRM_IOCTL_SET_CLIENT_CAP" && !strings.HasPrefix(d.name, "DRM_IOCTL_MODE_")
		if (d.flags&DRM_RENDER_ALLOW != 0) != render {
			t.Errorf("%s: DRM_RENDER_ALLOW is %v; Linux's is %v", d.name, d.flags&DRM_RENDER_ALLOW != 0, render)
		}
		// Changing what is on screen is for the master only.
		master := d.name == "DRM_IOCTL_MODE_ATOMIC" || d.name == "DRM_IOCTL_MODE_PAGE_FLIP" || d.name == "DRM_IOCTL_MODE_SETCRTC"
		if (d.flags&DRM_MASTER != 0) != master {
			t.Errorf("%s: DRM_MASTER is %v; Linux's is %v", d.name, d.flags&DRM_MASTER != 0, master)
		}
	}
	if len(seen) != len(exported) {
		t.Errorf("table has %d ioctls, %d exported", len(seen), len(exported))
	}
}

// The rules of drm_ioctl itself, each pinned in testdata/oracle.
func TestIoctlLayer(t *testing.T) {
	p := newProc(t)
	fd := p.open(PathRender)
	tests := []struct {
		name string
		req  uint32
		arg  []byte
		want errno.Errno
		out  []byte // the argument afterwards, if checked
	}{
		{"type byte not 'd'", IOWR('e', 0xBF, 8), u32s(0, 0), errno.ENOTTY, nil},
		{"core number past the table", IOWR('d', 0xFF, 8), u32s(0, 0), errno.EINVAL, nil},
		{"core number without a handler", IOWR('d', 0xD5, 8), u32s(0, 0), errno.EINVAL, nil},
		{"driver number past the table", IOWR('d', 0x4C, 8), u32s(0, 0), errno.EINVAL, nil},
		// A 4-byte CREATE: flags read as zero, only the handle copied back.
		{"short struct", IOC(_IOC_READ|_IOC_WRITE, 'd', 0xBF, 4), u32s(0xaaaaaaaa, 0xbbbbbbbb), 0, u32s(1, 0xbbbbbbbb)},
		// A 32-byte CREATE with bad flags: the extra bytes come back unchanged.
		{"long struct", IOC(_IOC_READ|_IOC_WRITE, 'd', 0xBF, 32), u32s(0, 0xffffffff, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66), errno.EINVAL,
			u32s(0, 0xffffffff, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66)},
		// Without OUT in the caller's word nothing is copied back.
		{"IOW", IOC(_IOC_WRITE, 'd', 0xBF, 8), u32s(0, 0), 0, u32s(0, 0)},
		// Copied back even on failure: first_signaled untouched, count as passed.
		{"copy back on failure", DRM_IOCTL_SYNCOBJ_WAIT, cat(u64s(0, 0), u32s(1, 0xff, 0x1234, 0), u64s(0)), errno.EINVAL,
			cat(u64s(0, 0), u32s(1, 0xff, 0x1234, 0), u64s(0))},
	}
	for _, tt := range tests {
		e, out := p.ioctl(fd, tt.req, tt.arg)
		if e != tt.want {
			t.Errorf("%s: ioctl(%#x) = %v; want %v", tt.name, tt.req, e, tt.want)
		}
		if tt.out != nil && !bytes.Equal(out, tt.out) {
			t.Errorf("%s: argument afterwards % x; want % x", tt.name, out, tt.out)
		}
	}
	if e := p.drv.Ioctl(p.task, fd, DRM_IOCTL_SYNCOBJ_CREATE, 0x1000); e != errno.EFAULT {
		t.Errorf("CREATE at an unmapped address = %v; want EFAULT", e)
	}
	if e := p.drv.Ioctl(p.task, 99, DRM_IOCTL_SYNCOBJ_CREATE, procBase); e != errno.EBADF {
		t.Errorf("ioctl on a closed fd = %v; want EBADF", e)
	}
	null := p.open(PathNull)
	if e, _ := p.ioctl(null, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0)); e != errno.ENOTTY {
		t.Errorf("DRM ioctl on /dev/null = %v; want ENOTTY", e)
	}
	p.teardown()
}

// TestOracleIoctlLayer replays testdata/oracle/ioctl_layer.c, run on
// Debian's Linux 6.12.117 with virtio-gpu, and compares fencelab's
// transcript with the kernel's line by line. The probe is a 64-bit program
// (native DRM_IOCTL_VERSION); fencelab's guests are 32-bit, so the replay
// asks VERSION in the compat layout, which reports the same values.
func TestOracleIoctlLayer(t *testing.T) {
	want, err := os.ReadFile("testdata/oracle/ioctl_layer.linux.txt")
	if err != nil {
		t.Fatal(err)
	}
	p := newProc(t)
	fd := p.open(PathRender)
	card := p.open(PathCard)
	var out strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	str := func(addr uint64, n uint32) string {
		b := p.mem.get(addr, int(n))
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	// version, with 64-byte buffers.
	name, date, desc := p.mem.put(make([]byte, 64)), p.mem.put(make([]byte, 64)), p.mem.put(make([]byte, 64))
	e, v := p.ioctl(fd, DRM_IOCTL_VERSION, u32s(0, 0, 0, 64, uint32(name), 64, uint32(date), 64, uint32(desc)))
	w := func(i int) uint32 { return binary.LittleEndian.Uint32(v[4*i:]) }
	say("version -> errno=%d %d.%d.%d name=%s(%d) date=%s(%d) desc=%s(%d)", e, w(0), w(1), w(2),
		str(name, 64), w(3), str(date, 64), w(5), str(desc, 64), w(7))
	name = p.mem.put(bytes.Repeat([]byte{'x'}, 64))
	e, v = p.ioctl(fd, DRM_IOCTL_VERSION, u32s(0, 0, 0, 3, uint32(name), 0, 0, 0, 0))
	say("version name_len=3 -> errno=%d name_len=%d name=%s", e, w(3), p.mem.get(name, 8))
	for c := uint64(0); c <= 0x15; c++ {
		e, v := p.ioctl(fd, DRM_IOCTL_GET_CAP, u64s(c, 0xdead))
		say("get_cap render %s -> errno=%d value=%s", cHex(c), e, cHex(binary.LittleEndian.Uint64(v[8:])))
	}
	for _, c := range []uint64{0x10, 0x1} {
		e, v := p.ioctl(card, DRM_IOCTL_GET_CAP, u64s(c, 0xdead))
		say("get_cap card %s -> errno=%d value=%s", cHex(c), e, cHex(binary.LittleEndian.Uint64(v[8:])))
	}
	buf := make([]byte, 64)
	ioctlErr := func(req uint32, arg []byte) errno.Errno { e, _ := p.ioctl(fd, req, arg); return e }
	say("type 'e' -> errno=%d", ioctlErr(IOWR('e', 0xBF, 8), buf))
	say("core nr 0xff -> errno=%d", ioctlErr(IOWR('d', 0xFF, 8), buf))
	say("core nr 0xd5 -> errno=%d", ioctlErr(IOWR('d', 0xD5, 8), buf))
	say("driver nr 0x4c -> errno=%d", ioctlErr(IOWR('d', 0x4C, 8), buf))
	say("driver nr 0x9f -> errno=%d", ioctlErr(IOWR('d', 0x9F, 8), buf))
	say("core nr 0x01 (get_unique) render -> errno=%d", ioctlErr(IOWR('d', 0x01, 8), buf))
	say("create argp=0x1000 -> errno=%d", p.drv.Ioctl(p.task, fd, DRM_IOCTL_SYNCOBJ_CREATE, 0x1000))
	say("create argp=NULL -> errno=%d", p.drv.Ioctl(p.task, fd, DRM_IOCTL_SYNCOBJ_CREATE, 0))
	e, v = p.ioctl(fd, IOC(_IOC_READ|_IOC_WRITE, 'd', 0xBF, 4), u32s(0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd))
	say("create size=4 -> errno=%d words=%s %s", e, cHex(uint64(w(0))), cHex(uint64(w(1))))
	e, v = p.ioctl(fd, IOC(_IOC_READ|_IOC_WRITE, 'd', 0xBF, 32), u32s(0, 0xffffffff, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66))
	say("create size=32 flags=-1 -> errno=%d words=%s %s %s", e, cHex(uint64(w(0))), cHex(uint64(w(1))), cHex(uint64(w(2))))
	e, v = p.ioctl(fd, IOC(_IOC_WRITE, 'd', 0xBF, 8), u32s(0, 0))
	say("create IOW (no OUT) -> errno=%d handle=%s", e, cHex(uint64(w(0))))
	say("create IO size 0 -> errno=%d", p.drv.Ioctl(p.task, fd, IOC(_IOC_NONE, 'd', 0xBF, 0), 0))
	e, v = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, cat(u64s(0, 0), u32s(1, 0xff, 0x1234, 0), u64s(0)))
	say("wait bad flags -> errno=%d first=%s count=%d", e, cHex(uint64(w(6))), w(4))
	e, _ = p.ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, u32s(0, 0))
	say("destroy 0 -> errno=%d", e)
	e, v = p.ioctl(card, DRM_IOCTL_SYNCOBJ_CREATE, u32s(0, 0))
	say("card0 syncobj create -> errno=%d handle=%d", e, w(0))
	gotLines, wantLines := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
	if len(gotLines) != len(wantLines) {
		t.Fatalf("transcripts have %d and %d lines:\n--- fencelab\n%s--- linux\n%s", len(gotLines), len(wantLines), out.String(), want)
	}
	for i := range gotLines {
		if gotLines[i] != wantLines[i] {
			t.Errorf("line %d: fencelab %q; linux %q", i+1, gotLines[i], wantLines[i])
		}
	}
	p.teardown()
}

// cHex formats v as C's %#x does: no prefix for zero.
func cHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}

// The virtgpu table agrees with its numbers and Linux's (kernel-semantics
// §1.1), and every entry is render-allowed as in virtio_gpu_ioctls[].
func TestDriverTableAgrees(t *testing.T) {
	want := map[string]uint32{
		"DRM_IOCTL_VIRTGPU_EXECBUFFER":           0xC0406442,
		"DRM_IOCTL_VIRTGPU_GETPARAM":             0xC0106443,
		"DRM_IOCTL_VIRTGPU_CONTEXT_INIT":         0xC010644B,
		"DRM_IOCTL_VIRTGPU_GET_CAPS":             0xC0186449,
		"DRM_IOCTL_VIRTGPU_MAP":                  0xC0106441,
		"DRM_IOCTL_VIRTGPU_RESOURCE_CREATE":      0xC0386444,
		"DRM_IOCTL_VIRTGPU_RESOURCE_INFO":        0xC0106445,
		"DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST":   0xC02C6446,
		"DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST":     0xC02C6447,
		"DRM_IOCTL_VIRTGPU_WAIT":                 0xC0086448,
		"DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB": 0xC030644A,
	}
	n := 0
	for i, d := range driverIoctls {
		if d.fn == nil {
			continue
		}
		n++
		if iocNr(d.cmd) != uint32(i)+DRM_COMMAND_BASE {
			t.Errorf("%s sits at driver index %d but its number is %#x", d.name, i, iocNr(d.cmd))
		}
		if want[d.name] != d.cmd {
			t.Errorf("%s = %#x; Linux's is %#x", d.name, d.cmd, want[d.name])
		}
		if d.flags&DRM_RENDER_ALLOW == 0 {
			t.Errorf("%s is not render-allowed", d.name)
		}
	}
	if n != len(want) {
		t.Errorf("driver table has %d ioctls; want %d", n, len(want))
	}
}

// recordingTB keeps the guard's complaints instead of failing the test.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

// The leak guard is only worth its place if it sees a leak: a "failing"
// call that quietly keeps a sync object must be reported, and an honest
// failure must not.
func TestLeakGuard(t *testing.T) {
	p := newProc(t)
	fd := p.open(PathRender)
	rec := &recordingTB{TB: t}
	p.t = rec
	leaky := func() errno.Errno {
		p.drv.Ioctl(p.task, fd, DRM_IOCTL_SYNCOBJ_CREATE, p.mem.put(u32s(0, 0)))
		return errno.EINVAL
	}
	if e := p.guard(DRM_IOCTL_SYNCOBJ_CREATE, leaky); e != errno.EINVAL {
		t.Fatalf("guard returned %v; want the call's EINVAL", e)
	}
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "Syncobjs:1") {
		t.Errorf("a failing call that kept a syncobj: guard said %q; want one leak report naming Syncobjs", rec.errs)
	}
	rec.errs = nil
	if e, _ := p.ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, u32s(99, 0)); e != errno.EINVAL {
		t.Fatalf("DESTROY of an unknown handle = %v; want EINVAL", e)
	}
	if len(rec.errs) != 0 || p.checked.Load() != 2 {
		t.Errorf("an honest failure: guard said %q after %d checks; want silence after 2", rec.errs, p.checked.Load())
	}
	p.t = t
	p.teardown()
}

// TestOracleGetUnique replays the GET_UNIQUE line of
// testdata/oracle/kms.c: a fresh card0 has an empty bus id (Linux sets it
// only on SET_VERSION 1.1+), so unique_len comes back 0 and the buffer is
// left alone, whatever length or pointer the caller passed.
func TestOracleGetUnique(t *testing.T) {
	want, err := os.ReadFile("testdata/oracle/kms.linux.txt")
	if err != nil {
		t.Fatal(err)
	}
	p := newProc(t)
	card := p.open(PathCard)
	buf := p.mem.put(make([]byte, 64))
	e, out := p.ioctl(card, DRM_IOCTL_GET_UNIQUE, u32s(64, uint32(buf)))
	n := binary.LittleEndian.Uint32(out)
	got := fmt.Sprintf("get_unique -> errno=%d len=%d '%s'", e, n, bytes.TrimRight(p.mem.get(buf, 64), "\x00"))
	if lines := strings.Split(string(want), "\n"); len(lines) < 2 || lines[1] != got {
		t.Errorf("fencelab %q; linux %q", got, lines[1])
	}
	// An unmapped buffer does not fault: nothing is copied.
	if e, out := p.ioctl(card, DRM_IOCTL_GET_UNIQUE, u32s(64, 0x10)); e != 0 || binary.LittleEndian.Uint32(out) != 0 {
		t.Errorf("GET_UNIQUE with an unmapped buffer = %v, len %d; want success, 0", e, binary.LittleEndian.Uint32(out))
	}
	render := p.open(PathRender)
	if e, _ := p.ioctl(render, DRM_IOCTL_GET_UNIQUE, u32s(64, uint32(buf))); e != errno.EACCES {
		t.Errorf("GET_UNIQUE on the render node = %v; want EACCES (not render-allowed)", e)
	}
	p.teardown()
}
