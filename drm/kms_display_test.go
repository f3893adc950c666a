package drm

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// screen is an atomic client with its CRTC lit: a 1024×768 display, its
// mode, two dumb framebuffers, fb[0] on screen.
type screen struct {
	kmsClient
	t        testing.TB
	mode     []byte
	modeBlob uint32
	period   int64
	fb       [2]uint32
	res      [2]uint32 // the framebuffers' resource ids
}

const (
	scrPrimary, scrCRTC, scrConn = 32, 36, 37
)

func newScreen(t testing.TB, cfg device.Config) *screen {
	t.Helper()
	if cfg.Displays == nil {
		cfg.Displays = []device.Display{{Width: 1024, Height: 768}}
	}
	m := newMachineArena(t, cfg, 32<<20, 16<<20, func(tr Transport) Transport { return tr })
	s := &screen{kmsClient: kmsClient{m, m.open(PathCard)}, t: t}
	s.setCap(DRM_CLIENT_CAP_ATOMIC, 1)
	modes := s.proc.mem.put(make([]byte, 4*drmModeInfoSize))
	if e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_GETCONNECTOR, cat(u64s(0, modes, 0, 0), u32s(4, 0, 0, 0, scrConn), make([]byte, 28))); e != 0 {
		t.Fatalf("GETCONNECTOR = %v", e)
	}
	s.mode = s.proc.mem.get(modes, drmModeInfoSize)
	s.period = modePeriod(s.mode)
	_, cb := s.ioctl(s.card, DRM_IOCTL_MODE_CREATEPROPBLOB, cat(u64s(s.proc.mem.put(s.mode)), u32s(drmModeInfoSize, 0)))
	s.modeBlob = u32at(cb, 12)
	for i := range s.fb {
		_, d := s.ioctl(s.card, DRM_IOCTL_MODE_CREATE_DUMB, u32s(768, 1024, 32, 0, 0, 0, 0, 0))
		h := u32at(d, 16)
		e, f := s.ioctl(s.card, DRM_IOCTL_MODE_ADDFB2, cat(u32s(0, 1024, 768, DRM_FORMAT_XRGB8888, 0, h, 0, 0, 0, 4096), make([]byte, 64)))
		if e != 0 {
			t.Fatalf("ADDFB2 = %v", e)
		}
		s.fb[i] = u32at(f, 0)
		o := s.fileOf(s.card).gem.lookup(h)
		s.res[i] = o.resID
		o.put()
	}
	if e := s.commit(s.modeset(s.fb[0]), DRM_MODE_ATOMIC_ALLOW_MODESET, 0); e != 0 {
		t.Fatalf("modeset = %v", e)
	}
	s.settle()
	return s
}

// modeset is the request that lights the CRTC with framebuffer fb.
func (s *screen) modeset(fb uint32) atomicReq {
	return atomicReq{}.with(scrCRTC, propActive, 1).with(scrCRTC, propModeID, uint64(s.modeBlob)).
		with(scrConn, propCrtcID, scrCRTC).with(scrPrimary, propFbID, uint64(fb)).with(scrPrimary, propCrtcID, scrCRTC).
		with(scrPrimary, propSrcW, 1024<<16).with(scrPrimary, propSrcH, 768<<16).
		with(scrPrimary, propCrtcW, 1024).with(scrPrimary, propCrtcH, 768)
}

// flip is a nonblocking atomic flip to fb with an event.
func (s *screen) flip(fb uint32, more atomicReq) errno.Errno {
	r := more.with(scrPrimary, propFbID, uint64(fb))
	e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_ATOMIC, s.atomic(r, DRM_MODE_ATOMIC_NONBLOCK|DRM_MODE_PAGE_FLIP_EVENT, uint64(fb)))
	return e
}

// event reads one flip event: user data, timestamp in ns, sequence.
func (s *screen) event() (userData uint64, ns int64, seq uint32, ok bool) {
	f, _ := s.task.FDs.Get(s.card)
	defer f.DecRef()
	b, e := f.(*File).ReadEvents(vblankEventSize)
	if e != 0 || len(b) != vblankEventSize {
		return 0, 0, 0, false
	}
	if le.Uint32(b) != DRM_EVENT_FLIP_COMPLETE || le.Uint32(b[28:]) != scrCRTC {
		s.t.Errorf("event type %d crtc %d; want FLIP_COMPLETE on %d", le.Uint32(b), le.Uint32(b[28:]), scrCRTC)
	}
	return le.Uint64(b[8:]), int64(le.Uint32(b[16:]))*1e9 + int64(le.Uint32(b[20:]))*1e3, le.Uint32(b[24:]), true
}

// scanouts lists what the device was told to show on scanout 0, in order.
func (s *screen) scanouts() []uint32 {
	var r []uint32
	for _, ev := range s.rec.Of(timeline.ScanoutSet) {
		if ev.Scanout == 0 {
			r = append(r, ev.Resource)
		}
	}
	return r
}

// The modeset lights the display at once; flips then land on vblanks one
// mode period apart, each flushed to the device, its event carrying the
// vblank count; a second nonblocking flip while one is pending is EBUSY.
func TestFlipsFollowVblank(t *testing.T) {
	s := newScreen(t, device.Config{})
	if got := s.scanouts(); len(got) == 0 || got[len(got)-1] != s.res[0] {
		t.Fatalf("after the modeset the device shows %v; want resource %d last", got, s.res[0])
	}
	start := s.drv.kms.outs[0].vbStart
	if s.period < 16_000_000 || s.period > 17_000_000 {
		t.Errorf("vblank period %d ns; want about 16.7 ms for 60 Hz", s.period)
	}
	// Half a frame later, flip: it is due at the next vblank.
	s.clock.AdvanceTo(start + s.period/2)
	flips := s.requests(device.VIRTIO_GPU_CMD_RESOURCE_FLUSH)
	if e := s.flip(s.fb[1], atomicReq{}); e != 0 {
		t.Fatalf("flip = %v", e)
	}
	if e := s.flip(s.fb[0], atomicReq{}); e != errno.EBUSY {
		t.Errorf("second flip while one is pending = %v; want EBUSY", e)
	}
	if e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_PAGE_FLIP, cat(u32s(scrCRTC, s.fb[0], DRM_MODE_PAGE_FLIP_EVENT, 0), u64s(0))); e != errno.EBUSY {
		t.Errorf("PAGE_FLIP while a flip is pending = %v; want EBUSY", e)
	}
	if _, _, _, ok := s.event(); ok {
		t.Error("an event before the vblank")
	}
	s.settle()
	ud, ns, seq, ok := s.event()
	if !ok || ud != uint64(s.fb[1]) {
		t.Fatalf("event %v user data %d; want the flip's (%d)", ok, ud, s.fb[1])
	}
	// Event times are in microseconds (struct timeval).
	if ns < start+s.period-1000 || ns > start+s.period+1_000_000 {
		t.Errorf("flip completed at %d; want just after the vblank at %d", ns, start+s.period)
	}
	if seq != 1 {
		t.Errorf("event sequence %d; want 1 (the first vblank after the modeset)", seq)
	}
	if got := s.scanouts(); got[len(got)-1] != s.res[1] {
		t.Errorf("the device shows %v; want resource %d last", got, s.res[1])
	}
	if n := s.requests(device.VIRTIO_GPU_CMD_RESOURCE_FLUSH) - flips; n != 1 {
		t.Errorf("%d flushes for one flip; want 1", n)
	}
	if n := s.requests(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D); n < 2 {
		t.Errorf("%d transfers; want one per commit of a dumb buffer", n)
	}
	// A flip asked for right after a vblank waits for the next one.
	s.clock.AdvanceTo(start + 2*s.period + 1)
	if e := s.flip(s.fb[0], atomicReq{}); e != 0 {
		t.Fatal(e)
	}
	s.settle()
	if _, ns, seq, _ := s.event(); seq != 3 || ns < start+3*s.period-1000 {
		t.Errorf("flip after vblank 2 completed at %d with sequence %d; want the vblank at %d, sequence 3", ns, seq, start+3*s.period)
	}
	// The flip reached the device only with the vblank.
	for _, ev := range s.rec.Of(timeline.Request) {
		if ev.Cmd == device.VIRTIO_GPU_CMD_SET_SCANOUT && ev.Time > start && (ev.Time-start)%s.period != 0 {
			t.Errorf("SET_SCANOUT reached the device at %d, off the vblank grid (start %d, period %d)", ev.Time, start, s.period)
		}
	}
}

// A plane's IN_FENCE_FD holds the commit back until the fence signals;
// the commit then lands on the next vblank, and its OUT_FENCE_PTR fence
// signals with it, not before.
func TestCommitWaitsForInFence(t *testing.T) {
	s := newScreen(t, device.Config{})
	tl := s.open(PathSwSync)
	_, cf := s.ioctl(tl, fence.SW_SYNC_IOC_CREATE_FENCE, cat(u32s(1), make([]byte, 32), u32s(0)))
	inFD := int32(u32at(cf, 36))
	outPtr := s.proc.mem.put(u32s(0))
	more := atomicReq{}.with(scrPrimary, propInFenceFD, uint64(inFD)).with(scrCRTC, propOutFencePtr, outPtr)
	if e := s.flip(s.fb[1], more); e != 0 {
		t.Fatalf("flip with an in-fence = %v", e)
	}
	out, ok := fence.SyncFileFence(s.task.FDs, int32(le.Uint32(s.proc.mem.get(outPtr, 4))))
	if !ok {
		t.Fatal("no out-fence fd")
	}
	before := len(s.scanouts())
	s.clock.Advance(5 * s.period)
	s.settle()
	if _, _, _, got := s.event(); got || out.IsSignaled() || len(s.scanouts()) != before {
		t.Fatalf("the commit went ahead of its in-fence (event %v, out-fence %v)", got, out.IsSignaled())
	}
	if e := s.flip(s.fb[0], atomicReq{}); e != errno.EBUSY {
		t.Errorf("flip behind a commit waiting for its in-fence = %v; want EBUSY", e)
	}
	// The CRTC shows the new state already (the state was swapped in).
	if u32at(getCRTC(s), 16) != s.fb[1] {
		t.Error("GETCRTC does not report the committed framebuffer")
	}
	signalAt := s.clock.Now()
	s.ioctl(tl, fence.SW_SYNC_IOC_INC, u32s(1))
	s.settle()
	_, ns, _, got := s.event()
	if !got || !out.IsSignaled() {
		t.Fatalf("after the in-fence: event %v, out-fence signalled %v; want both", got, out.IsSignaled())
	}
	ts, _ := out.Timestamp()
	vb := s.drv.kms.outs[0].nextVblank(signalAt)
	if ts < vb || ns < vb-1000 {
		t.Errorf("out-fence at %d, event at %d; want both at or after the vblank at %d", ts, ns, vb)
	}
	if got := s.scanouts(); got[len(got)-1] != s.res[1] {
		t.Errorf("device shows %v; want resource %d last", got, s.res[1])
	}
}

func getCRTC(s *screen) []byte {
	_, g := s.ioctl(s.card, DRM_IOCTL_MODE_GETCRTC, cat(u64s(0), u32s(0, scrCRTC), make([]byte, 88)))
	return g
}

// The seed reviewer's end-to-end case: a render job's out-fence is the
// display's in-fence. The flip lands on the first vblank after the job.
func TestRenderFenceToDisplay(t *testing.T) {
	s := newScreen(t, device.Config{Threading: device.WorkerPerRing})
	render := s.open(PathRender)
	if e := s.contextInit(render, VIRTGPU_CONTEXT_PARAM_CAPSET_ID, device.VIRTIO_GPU_CAPSET_FENCELAB, VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 1); e != 0 {
		t.Fatal(e)
	}
	const cost = 40_000_000 // 40 ms: more than two frames
	t0 := s.clock.Now()
	e, jobFD := s.execbuf(render, exec{flags: VIRTGPU_EXECBUF_RING_IDX | VIRTGPU_EXECBUF_FENCE_FD_OUT, cmd: work(cost)})
	if e != 0 {
		t.Fatal(e)
	}
	job, _ := fence.SyncFileFence(s.task.FDs, jobFD)
	if e := s.flip(s.fb[1], atomicReq{}.with(scrPrimary, propInFenceFD, uint64(jobFD))); e != 0 {
		t.Fatalf("flip behind the render job = %v", e)
	}
	s.settle()
	done, _ := job.Timestamp()
	_, ns, _, ok := s.event()
	if !ok {
		t.Fatal("no flip event")
	}
	vb := s.drv.kms.outs[0].nextVblank(done)
	if done < t0+cost || ns < vb-1000 || ns > vb+1_000_000 {
		t.Errorf("job done at %d (submitted %d), flip at %d; want the flip just after the vblank at %d", done, t0, ns, vb)
	}
}

// A file that closes with its framebuffer on screen takes it off the
// plane (the CRTC stays on, as in Linux), and its framebuffers, blobs and
// buffers go away, but for the mode blob the lit CRTC still uses.
func TestCloseReapsFramebuffers(t *testing.T) {
	s := newScreen(t, device.Config{})
	objs := func() int {
		s.drv.kms.mu.Lock()
		defer s.drv.kms.mu.Unlock()
		return len(s.drv.kms.objs)
	}
	if n := objs(); n != 4 { // the EDID blob, the mode blob, two framebuffers
		t.Fatalf("%d mode objects; want 4", n)
	}
	other := s.open(PathCard) // keeps the device open
	s.block(func() errno.Errno { return s.task.FDs.Close(s.card) })
	s.settle()
	if n := objs(); n != 2 {
		t.Errorf("%d mode objects after close; want the EDID blob and the mode in use", n)
	}
	k := s.drv.kms
	if p := k.cfg.planes[0]; p.fb != nil || p.crtc != -1 || !k.cfg.crtcs[0].active {
		t.Errorf("after close: plane fb %v crtc %d, CRTC active %v; want the plane off and the CRTC on", p.fb, p.crtc, k.cfg.crtcs[0].active)
	}
	s.drv.idMu.Lock()
	left := len(s.drv.resIDs)
	s.drv.idMu.Unlock()
	if left != 0 {
		t.Errorf("%d resources left; want none", left)
	}
	if got := s.scanouts(); got[len(got)-1] != 0 {
		t.Errorf("the device still shows resource %d", got[len(got)-1])
	}
	s.task.FDs.Close(other)
}

// A file whose event space is used up cannot ask for more flip events.
func TestFlipEventSpace(t *testing.T) {
	s := newScreen(t, device.Config{})
	f := s.fileOf(s.card)
	f.evMu.Lock()
	space := f.evSpace
	f.evSpace = vblankEventSize - 1
	f.evMu.Unlock()
	if e := s.flip(s.fb[1], atomicReq{}); e != errno.ENOMEM {
		t.Errorf("ATOMIC with an event and no event space = %v; want ENOMEM", e)
	}
	if e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_PAGE_FLIP, cat(u32s(scrCRTC, s.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 0), u64s(0))); e != errno.ENOMEM {
		t.Errorf("PAGE_FLIP with an event and no event space = %v; want ENOMEM", e)
	}
	f.evMu.Lock()
	f.evSpace = space
	f.evMu.Unlock()
}

// TestOracleSetCRTC replays testdata/oracle/kms_setcrtc.c, legacy mode
// setting by a client without the atomic cap, on a display the size of
// the oracle's.
func TestOracleSetCRTC(t *testing.T) {
	raw, err := os.ReadFile("testdata/oracle/kms_setcrtc.linux.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := newMachineArena(t, device.Config{Displays: []device.Display{{Width: 1280, Height: 800}}}, 32<<20, 16<<20,
		func(tr Transport) Transport { return tr })
	c := kmsClient{m, m.open(PathCard)}
	mem := c.proc.mem
	var out strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	modes := mem.put(make([]byte, 4*drmModeInfoSize))
	c.ioctl(c.card, DRM_IOCTL_MODE_GETCONNECTOR, cat(u64s(0, modes, 0, 0), u32s(4, 0, 0, 0, scrConn), make([]byte, 28)))
	mode := mem.get(modes, drmModeInfoSize)
	w, h := uint32(le.Uint16(mode[4:])), uint32(le.Uint16(mode[14:]))
	addFB := func(w, h, format uint32) uint32 {
		_, d := c.ioctl(c.card, DRM_IOCTL_MODE_CREATE_DUMB, u32s(h, w, 32, 0, 0, 0, 0, 0))
		_, f := c.ioctl(c.card, DRM_IOCTL_MODE_ADDFB2, cat(u32s(0, w, h, format, 0, u32at(d, 16), 0, 0, 0, u32at(d, 20)), make([]byte, 64)))
		return u32at(f, 0)
	}
	fb, fbA, small := addFB(w, h, DRM_FORMAT_XRGB8888), addFB(w, h, DRM_FORMAT_ARGB8888), addFB(64, 64, DRM_FORMAT_XRGB8888)
	conn := mem.put(u32s(scrConn))
	setcrtc := func(crtc, fb, x, y uint32, m []byte, count uint32, conns uint64) errno.Errno {
		valid := uint32(0)
		if m != nil {
			valid = 1
		} else {
			m = make([]byte, drmModeInfoSize)
		}
		return c.block(func() errno.Errno {
			e, _ := c.ioctl(c.card, DRM_IOCTL_MODE_SETCRTC, cat(u64s(conns), u32s(count, crtc, fb, x, y, 0, valid), m))
			return e
		})
	}
	ar, bad := bytes.Clone(mode), bytes.Clone(mode)
	le.PutUint32(ar[drmModeFlagsOff:], le.Uint32(ar[drmModeFlagsOff:])|3<<19) // 16:9
	le.PutUint32(bad, 0)
	say("setcrtc x 65536 -> errno=%d", setcrtc(scrCRTC, fb, 65536, 0, mode, 1, conn))
	say("setcrtc unknown crtc -> errno=%d", setcrtc(9999, fb, 0, 0, mode, 1, conn))
	say("setcrtc unknown fb -> errno=%d", setcrtc(scrCRTC, 9999, 0, 0, mode, 1, conn))
	say("setcrtc aspect bits -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, ar, 1, conn))
	say("setcrtc clock 0 -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, bad, 1, conn))
	say("setcrtc ARGB fb -> errno=%d", setcrtc(scrCRTC, fbA, 0, 0, mode, 1, conn))
	say("setcrtc small fb -> errno=%d", setcrtc(scrCRTC, small, 0, 0, mode, 1, conn))
	say("setcrtc x 1 -> errno=%d", setcrtc(scrCRTC, fb, 1, 0, mode, 1, conn))
	say("setcrtc no connectors -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, mode, 0, 0))
	say("setcrtc connectors without mode -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, nil, 1, conn))
	say("setcrtc 2 connectors -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, mode, 2, conn))
	say("setcrtc connectors bad ptr -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, mode, 1, 0x10))
	say("setcrtc unknown connector -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, mode, 1, mem.put(u32s(9999))))
	say("setcrtc a crtc as connector -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, mode, 1, mem.put(u32s(scrCRTC))))
	say("setcrtc -> errno=%d", setcrtc(scrCRTC, fb, 0, 0, mode, 1, conn))
	s := &screen{kmsClient: c, t: t}
	g := getCRTC(s)
	gm := g[crtcModeOffset:]
	same := le.Uint32(gm) == le.Uint32(mode) && le.Uint16(gm[10:]) == le.Uint16(mode[10:]) && le.Uint16(gm[20:]) == le.Uint16(mode[20:])
	fbName := "?"
	if u32at(g, 16) == fb {
		fbName = "fb"
	}
	say("getcrtc -> fb=%s valid=%d mode='%s' same timings=%d", fbName, u32at(g, 32), bytes.TrimRight(gm[drmModeNameOff:drmModeNameOff+drmModeNameLen], "\x00"), b2i(same))
	say("setcrtc fb -1 keeps -> errno=%d", setcrtc(scrCRTC, 0xffffffff, 0, 0, mode, 1, conn))
	e, _ := c.ioctl(c.card, DRM_IOCTL_MODE_PAGE_FLIP, cat(u32s(scrCRTC, fb, DRM_MODE_PAGE_FLIP_EVENT, 0), u64s(5)))
	say("page_flip -> errno=%d", e)
	c.settle()
	f := c.fileOf(c.card)
	poll := b2i(f.Poll()&POLLIN != 0)
	ev, _ := f.ReadEvents(64)
	say("event -> poll=%d read=%d", poll, len(ev))
	say("setcrtc off -> errno=%d", setcrtc(scrCRTC, 0, 0, 0, nil, 0, 0))
	g = getCRTC(s)
	_, gp := c.ioctl(c.card, DRM_IOCTL_MODE_GETPLANE, u32s(scrPrimary, 0, 0, 0, 0, 0, 0, 0))
	_, ge := c.ioctl(c.card, DRM_IOCTL_MODE_GETENCODER, u32s(38, 0, 0, 0, 0))
	say("after off -> crtc fb=%d valid=%d plane crtc=%d fb=%d encoder crtc=%d", u32at(g, 16), u32at(g, 32), u32at(gp, 4), u32at(gp, 8), u32at(ge, 8))
	say("setcrtc fb -1 with none -> errno=%d", setcrtc(scrCRTC, 0xffffffff, 0, 0, mode, 1, conn))
	e, _ = c.ioctl(c.card, DRM_IOCTL_MODE_PAGE_FLIP, cat(u32s(scrCRTC, fb, DRM_MODE_PAGE_FLIP_EVENT, 0), u64s(5)))
	say("page_flip off -> errno=%d", e)
	c.block(func() errno.Errno { c.teardown(); return 0 })
	if got, want := out.String(), string(raw); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range max(len(gl), len(wl)) {
			if i >= len(gl) || i >= len(wl) || gl[i] != wl[i] {
				t.Errorf("line %d:\n fencelab %q\n    linux %q", i+1, at(gl, i), at(wl, i))
			}
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// Without EDID a connector has Linux's DMT list and a CVT mode of the
// display's size, preferred, in Linux's order: replayed for every
// display size the oracle was asked about.
func TestNoEDIDModes(t *testing.T) {
	for file, size := range map[string][2]uint32{
		"noedid_modes.linux.txt": {1280, 800}, "noedid_modes_1024x768.linux.txt": {1024, 768},
		"noedid_modes_1366x768.linux.txt": {1366, 768}, "noedid_modes_1920x1080.linux.txt": {1920, 1080},
		"noedid_modes_800x600.linux.txt": {800, 600},
	} {
		raw, err := os.ReadFile("testdata/oracle/" + file)
		if err != nil {
			t.Fatal(err)
		}
		c := kmsClientFor(t, device.Config{Features: device.DefaultFeatures &^ (1 << device.VIRTIO_GPU_F_EDID),
			Displays: []device.Display{{Width: size[0], Height: size[1]}}})
		mem := c.proc.mem
		modes := mem.put(make([]byte, 128*drmModeInfoSize))
		_, gc := c.ioctl(c.card, DRM_IOCTL_MODE_GETCONNECTOR, cat(u64s(0, modes, 0, 0), u32s(128, 0, 0, 0, scrConn), make([]byte, 28)))
		var out strings.Builder
		n := u32at(gc, 32)
		fmt.Fprintf(&out, "count=%d mm=%dx%d\n", n, u32at(gc, 64), u32at(gc, 68))
		for i := range uint64(min(n, 128)) {
			m := mem.get(modes+i*drmModeInfoSize, drmModeInfoSize)
			u16 := func(off int) uint16 { return le.Uint16(m[off:]) }
			fmt.Fprintf(&out, "%d %d %d %d %d %d %d %d %d %d %d %d %s %s %s\n", le.Uint32(m), u16(4), u16(6), u16(8), u16(10), u16(12),
				u16(14), u16(16), u16(18), u16(20), u16(22), le.Uint32(m[24:]), cHex(uint64(le.Uint32(m[28:]))), cHex(uint64(le.Uint32(m[32:]))),
				bytes.TrimRight(m[drmModeNameOff:], "\x00"))
		}
		got, want := strings.Split(out.String(), "\n"), strings.Split(string(raw), "\n")
		for i := range max(len(got), len(want)) {
			if at(got, i) != at(want, i) {
				t.Errorf("%s line %d:\n fencelab %q\n    linux %q", file, i+1, at(got, i), at(want, i))
			}
		}
		c.teardown()
	}
}

// Points a fresh-eyes review found, each pinned.
func TestCommitEdgeCases(t *testing.T) {
	s := newScreen(t, device.Config{})
	atomic := func(r atomicReq, flags uint32) errno.Errno { return s.commit(r, flags, 0) }
	const allow = DRM_MODE_ATOMIC_ALLOW_MODESET

	// ACTIVE 0 then 1 lights the screen again with the same framebuffer:
	// the modeset brings the primary plane into the commit.
	if e := atomic(atomicReq{}.with(scrCRTC, propActive, 0), allow); e != 0 {
		t.Fatalf("ACTIVE=0: %v", e)
	}
	if got := s.scanouts(); got[len(got)-1] != 0 {
		t.Errorf("after ACTIVE=0 the device shows %d; want nothing", got[len(got)-1])
	}
	if e := atomic(atomicReq{}.with(scrCRTC, propActive, 1), allow); e != 0 {
		t.Fatalf("ACTIVE=1: %v", e)
	}
	if got := s.scanouts(); got[len(got)-1] != s.res[0] {
		t.Errorf("after ACTIVE=1 the device shows %v; want resource %d last", got, s.res[0])
	}

	// An id is 32 bits: Linux's lookups truncate a larger value.
	if e := atomic(atomicReq{}.with(scrPrimary, propFbID, 1<<32|uint64(s.fb[1])), DRM_MODE_ATOMIC_TEST_ONLY); e != 0 {
		t.Errorf("FB_ID 2^32|fb = %v; want 0 (the id's low 32 bits)", e)
	}
	// A second IN_FENCE_FD is refused even when it is -1.
	tl := s.open(PathSwSync)
	_, cf := s.ioctl(tl, fence.SW_SYNC_IOC_CREATE_FENCE, cat(u32s(1), make([]byte, 32), u32s(0)))
	inFD := uint64(u32at(cf, 36))
	if e := atomic(atomicReq{}.with(scrPrimary, propInFenceFD, inFD).with(scrPrimary, propInFenceFD, 1<<64-1), DRM_MODE_ATOMIC_TEST_ONLY); e != errno.EINVAL {
		t.Errorf("IN_FENCE_FD fd then -1 = %v; want EINVAL", e)
	}
	// A primary plane larger than the mode still covers it.
	big := atomicReq{}.with(scrPrimary, propCrtcX, uint64(1<<64-8)).with(scrPrimary, propCrtcW, 1024+16).
		with(scrPrimary, propSrcW, (1024+16)<<16)
	if e := atomic(big, DRM_MODE_ATOMIC_TEST_ONLY); e != errno.ENOSPC {
		t.Errorf("a 1040-wide source in a 1024-wide framebuffer = %v; want ENOSPC", e)
	}
	_, d := s.ioctl(s.card, DRM_IOCTL_MODE_CREATE_DUMB, u32s(800, 1040, 32, 0, 0, 0, 0, 0))
	_, f := s.ioctl(s.card, DRM_IOCTL_MODE_ADDFB2, cat(u32s(0, 1040, 800, DRM_FORMAT_XRGB8888, 0, u32at(d, 16), 0, 0, 0, u32at(d, 20)), make([]byte, 64)))
	big = big.with(scrPrimary, propFbID, uint64(u32at(f, 0)))
	if e := atomic(big, DRM_MODE_ATOMIC_TEST_ONLY); e != 0 {
		t.Errorf("a primary plane 8 pixels left and 16 wider than the mode = %v; want 0 (it covers the CRTC)", e)
	}

	// A blob named by a pending commit cannot be freed under it: a
	// DESTROYPROPBLOB meanwhile leaves its id taken.
	_, cb := s.ioctl(s.card, DRM_IOCTL_MODE_CREATEPROPBLOB, cat(u64s(s.proc.mem.put(s.mode)), u32s(drmModeInfoSize, 0)))
	b := u32at(cb, 12)
	done := make(chan errno.Errno, 1)
	req := s.atomic(atomicReq{}.with(scrCRTC, propModeID, uint64(b)).with(scrPrimary, propInFenceFD, inFD), allow, 0)
	go func() {
		e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_ATOMIC, req)
		done <- e
	}()
	held := func() bool { // the commit has the blob and waits for its in-fence
		s.drv.kms.mu.Lock()
		defer s.drv.kms.mu.Unlock()
		bl, _ := s.drv.kms.objs[b].(*propBlob)
		return bl != nil && bl.refs > 1
	}
	for !held() && len(done) == 0 {
		runtime.Gosched()
	}
	if e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_DESTROYPROPBLOB, u32s(b)); e != 0 {
		t.Errorf("DESTROYPROPBLOB = %v", e)
	}
	_, cb = s.ioctl(s.card, DRM_IOCTL_MODE_CREATEPROPBLOB, cat(u64s(s.proc.mem.put(s.mode)), u32s(drmModeInfoSize, 0)))
	if u32at(cb, 12) == b {
		t.Errorf("a new blob took id %d, still named by a pending commit", b)
	}
	s.ioctl(tl, fence.SW_SYNC_IOC_INC, u32s(1))
	if e := s.block(func() errno.Errno { return <-done }); e != 0 {
		t.Errorf("the commit = %v", e)
	}
	if e, _ := s.ioctl(s.card, DRM_IOCTL_MODE_GETPROPBLOB, u32s(u32at(cb, 12), 0, 0, 0)); e != 0 {
		t.Errorf("GETPROPBLOB of the new blob = %v", e)
	}

	// Taking the connector off its CRTC turns its DPMS Off.
	off := atomicReq{}.with(scrCRTC, propActive, 0).with(scrCRTC, propModeID, 0).with(scrConn, propCrtcID, 0)
	if e := atomic(off, allow); e != 0 {
		t.Fatalf("off: %v", e)
	}
	if ids, vals, _ := s.drv.propsOf(scrConn); ids[0] != propDPMS || vals[0] != 3 {
		t.Errorf("DPMS after unrouting = %d; want Off (3)", vals[0])
	}
}

// A guest may set any mode the checks let through; the vblank clock must
// survive one with an absurd clock.
func TestExtremeModes(t *testing.T) {
	for _, tt := range []struct {
		clock, h, v uint32
	}{{2_000_000_000, 1, 1}, {1, 4095, 4095}} {
		m := newMode([10]uint32{tt.clock, tt.h, tt.h, tt.h, tt.h, tt.v, tt.v, tt.v, tt.v, 0}, 0)
		if p := modePeriod(m); p < 1_000 || p > 10e9 {
			t.Errorf("period of %d kHz %dx%d = %d ns; want within [1 µs, 10 s]", tt.clock, tt.h, tt.v, p)
		}
	}
	s := newScreen(t, device.Config{})
	m := newMode([10]uint32{2_000_000_000, 32, 32, 32, 32, 32, 32, 32, 32, 0}, 0)
	_, cb := s.ioctl(s.card, DRM_IOCTL_MODE_CREATEPROPBLOB, cat(u64s(s.proc.mem.put(m)), u32s(drmModeInfoSize, 0)))
	r := atomicReq{}.with(scrCRTC, propModeID, uint64(u32at(cb, 12))).with(scrPrimary, propCrtcW, 32).with(scrPrimary, propCrtcH, 32).
		with(scrPrimary, propSrcW, 32<<16).with(scrPrimary, propSrcH, 32<<16)
	if e := s.commit(r, DRM_MODE_ATOMIC_ALLOW_MODESET, 0); e != 0 {
		t.Fatalf("a 32×32 mode at 2 THz = %v", e)
	}
	for range 3 {
		if e := s.flip(s.fb[1], atomicReq{}); e != 0 {
			t.Fatal(e)
		}
		s.settle()
		if _, _, _, ok := s.event(); !ok {
			t.Fatal("no flip event")
		}
	}
}

// The cursor plane reaches the device's cursor queue as virtio_gpu sends
// it: a new image is copied to the host first, then UPDATE_CURSOR with
// its hotspot; a move is MOVE_CURSOR; taking the framebuffer away is an
// UPDATE_CURSOR of resource 0.
func TestCursorPlane(t *testing.T) {
	s := newScreen(t, device.Config{})
	_, d := s.ioctl(s.card, DRM_IOCTL_MODE_CREATE_DUMB, u32s(64, 64, 32, 0, 0, 0, 0, 0))
	_, f := s.ioctl(s.card, DRM_IOCTL_MODE_ADDFB2, cat(u32s(0, 64, 64, DRM_FORMAT_ARGB8888, 0, u32at(d, 16), 0, 0, 0, u32at(d, 20)), make([]byte, 64)))
	fb := u32at(f, 0)
	o := s.fileOf(s.card).gem.lookup(u32at(d, 16))
	res := o.resID
	o.put()
	const cursor, hotX, hotY = 33, 34, 35
	place := func(x, y uint64) atomicReq {
		return atomicReq{}.with(cursor, propCrtcX, x).with(cursor, propCrtcY, y)
	}
	show := place(100, 200).with(cursor, propFbID, uint64(fb)).with(cursor, propCrtcID, scrCRTC).
		with(cursor, propSrcW, 64<<16).with(cursor, propSrcH, 64<<16).with(cursor, propCrtcW, 64).with(cursor, propCrtcH, 64).
		with(cursor, hotX, 3).with(cursor, hotY, 5)
	transfers := s.requests(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D)
	if e := s.commit(show, 0, 0); e != 0 {
		t.Fatalf("cursor on = %v", e)
	}
	s.settle()
	if n := s.requests(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D) - transfers; n != 1 {
		t.Errorf("%d transfers for a new cursor image; want 1", n)
	}
	cur := s.dev.Cursor()
	if cur.Resource != res || cur.X != 100 || cur.Y != 200 || cur.HotX != 3 || cur.HotY != 5 || cur.Updates != 1 {
		t.Errorf("device cursor %+v; want resource %d at 100,200 with hotspot 3,5, one update", cur, res)
	}
	if e := s.commit(place(300, 40), 0, 0); e != 0 {
		t.Fatalf("cursor move = %v", e)
	}
	s.settle()
	if cur := s.dev.Cursor(); cur.X != 300 || cur.Y != 40 || cur.Updates != 1 || cur.Resource != res {
		t.Errorf("after a move the device cursor is %+v; want it at 300,40, still one update", cur)
	}
	if n := s.requests(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D) - transfers; n != 1 {
		t.Errorf("a move transferred the image again (%d transfers)", n)
	}
	if e := s.commit(atomicReq{}.with(cursor, propFbID, 0).with(cursor, propCrtcID, 0), 0, 0); e != 0 {
		t.Fatalf("cursor off = %v", e)
	}
	s.settle()
	if cur := s.dev.Cursor(); cur.Resource != 0 || cur.Updates != 2 {
		t.Errorf("after taking the cursor away the device has %+v; want resource 0, a second update", cur)
	}
}
