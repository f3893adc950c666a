package device

import (
	"bytes"
	"testing"

	"fencelab/virtio"
)

// Every error row of anchors §A.6 (QEMU's 2D device), and the OK paths.
func TestErrorResponses(t *testing.T) {
	type step struct {
		name string
		req  []byte
		want uint32
	}
	tests := []struct {
		name  string
		setup func(g *testGuest)
		steps []step
	}{
		{"RESOURCE_CREATE_2D", nil, []step{
			{"id 0", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(0, 2, 64, 64).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"ok", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(1, 2, 64, 64).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
			{"id exists", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(1, 2, 64, 64).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"unknown format", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(2, 5, 64, 64).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"over budget", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(3, 2, 65535, 65535).bytes(), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY},
			{"short", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(4, 2).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
		}},
		{"RESOURCE_UNREF", func(g *testGuest) { g.create2D(1, 2, 64, 64) }, []step{
			{"unknown", cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(9, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"ok", cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(1, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
			{"twice", cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		}},
		{"TRANSFER_TO_HOST_2D", func(g *testGuest) {
			g.create2D(1, 2, 64, 64)
			g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(2, 2, 64, 64).bytes()) // no backing
		}, []step{
			{"unknown", cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 0, 64, 64).u64(0).u32(9, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"no backing", cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 0, 64, 64).u64(0).u32(2, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"x past width", cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(65, 0, 0, 0).u64(0).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"x+w past width", cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(1, 0, 64, 1).u64(0).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"y+h wraps", cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 64, 1, 0xffffffff).u64(0).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"ok", cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 0, 64, 64).u64(0).u32(1, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		}},
		{"RESOURCE_FLUSH", func(g *testGuest) { g.create2D(1, 2, 64, 64) }, []step{
			{"unknown", cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(0, 0, 64, 64).u32(9, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"outside", cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(0, 0, 65, 64).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"ok", cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(0, 0, 64, 64).u32(1, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		}},
		{"SET_SCANOUT", func(g *testGuest) { g.create2D(1, 2, 64, 64) }, []step{
			{"scanout out of range", cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 64, 64, 1, 1).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID},
			{"resource 0 disables", cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 0, 0, 0, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
			{"unknown resource", cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 64, 64, 0, 9).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"rect outside", cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(1, 0, 64, 64, 0, 1).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"rect under 16", cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 15, 64, 0, 1).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"ok", cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 64, 64, 0, 1).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		}},
		{"RESOURCE_ATTACH_BACKING", func(g *testGuest) {
			g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(1, 2, 64, 64).bytes())
			g.create2D(2, 2, 16, 16)
		}, []step{
			{"unknown", cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(9, 1).u64(0x100000).u32(4096, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"already attached", cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(2, 1).u64(0x100000).u32(4096, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
			{"too many entries", cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(1, 16385).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
			{"short entry list", cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(1, 2).u64(0x100000).u32(4096, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
			{"entry outside memory", cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(1, 1).u64(guestMemSize-100).u32(4096, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
			{"ok", cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(1, 1).u64(0x100000).u32(16384, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
		}},
		{"RESOURCE_DETACH_BACKING", func(g *testGuest) {
			g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(1, 2, 64, 64).bytes())
			g.create2D(2, 2, 16, 16)
		}, []step{
			{"unknown", cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING).u32(9, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"nothing attached", cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
			{"ok", cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING).u32(2, 0).bytes(), VIRTIO_GPU_RESP_OK_NODATA},
			{"twice", cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING).u32(2, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		}},
		{"GET_EDID", nil, []step{
			{"scanout out of range", cmd(VIRTIO_GPU_CMD_GET_EDID).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
			{"ok", cmd(VIRTIO_GPU_CMD_GET_EDID).u32(0, 0).bytes(), VIRTIO_GPU_RESP_OK_EDID},
		}},
		{"unknown and short", nil, []step{
			{"unknown command", cmd(0x0177).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
			{"CTX_CREATE shorter than its body", cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(1).u32(0, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
			{"shorter than a header", []byte{0, 1, 0, 0}, VIRTIO_GPU_RESP_ERR_UNSPEC},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuest(t, Config{})
			if tt.setup != nil {
				tt.setup(g)
			}
			for _, s := range tt.steps {
				if got := g.respType(s.req); got != s.want {
					t.Errorf("%s: response %s; want %s", s.name, respName(got), respName(s.want))
				}
			}
			if g.dev.NeedsReset() {
				t.Error("a malformed request put the device in NEEDS_RESET; it must only get an error response")
			}
		})
	}
}

// A transfer copies the guest's pixels into the resource, a flush reports
// damage to the scanout showing it, and the scanout exposes the pixels.
func TestTransferFlushScanout(t *testing.T) {
	g := newGuest(t, Config{Displays: []Display{{64, 32}}})
	backing := g.create2D(7, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 32)
	px := make([]byte, 64*32*4)
	for i := range px {
		px[i] = byte(i * 7)
	}
	g.mem.Write(backing, px)
	if got := g.respType(cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 64, 32, 0, 7).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("SET_SCANOUT = %s", respName(got))
	}
	// The display shows a new scanout at once, without a flush.
	if got := g.dev.Damaged(); got != 1 {
		t.Errorf("Damaged() after SET_SCANOUT = %b; want output 0", got)
	}
	g.dev.TakeDamage(0)
	if got := g.dev.Damaged(); got != 0 {
		t.Errorf("Damaged() after TakeDamage = %b; want none", got)
	}
	// Transfer the rectangle (8,4)-(24,12) only.
	if got := g.respType(cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(8, 4, 16, 8).u64(4*64*4+8*4).u32(7, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("TRANSFER_TO_HOST_2D = %s", respName(got))
	}
	s := g.dev.Scanout(0)
	if !s.Enabled || s.Resource != 7 || s.Format != VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM {
		t.Fatalf("Scanout(0) = %+v", s)
	}
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			o := (y*64 + x) * 4
			want := []byte{0, 0, 0, 0}
			if x >= 8 && x < 24 && y >= 4 && y < 12 {
				want = px[o : o+4]
			}
			if !bytes.Equal(s.Pixels[o:o+4], want) {
				t.Fatalf("pixel (%d,%d) = %v; want %v", x, y, s.Pixels[o:o+4], want)
			}
		}
	}
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(60, 30, 4, 2).u32(7, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("RESOURCE_FLUSH = %s", respName(got))
	}
	if dmg := g.dev.TakeDamage(0); len(dmg) != 1 || dmg[0] != (Rect{60, 30, 4, 2}) {
		t.Errorf("TakeDamage = %v; want [{60 30 4 2}]", dmg)
	}
	if dmg := g.dev.TakeDamage(0); len(dmg) != 0 {
		t.Errorf("second TakeDamage = %v; want none", dmg)
	}
	// Unref disables the scanout, which the display is told of.
	g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(7, 0).bytes())
	if s := g.dev.Scanout(0); s.Enabled {
		t.Errorf("Scanout(0) after RESOURCE_UNREF = %+v; want disabled", s)
	}
	if got := g.dev.Damaged(); got != 1 {
		t.Errorf("Damaged() after the scanout went off = %b; want output 0", got)
	}
}

// A fenced request is answered with FLAG_FENCE, fence_id and ctx_id echoed,
// and the ring with INFO_RING_IDX.
func TestFenceEcho(t *testing.T) {
	g := newGuest(t, Config{})
	g.ctxCreate(3)
	resp := g.do(cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).fence(42).ctx(3).ring(5).bytes())
	var h CtrlHdr
	h.Unmarshal(resp)
	want := CtrlHdr{Type: VIRTIO_GPU_RESP_OK_DISPLAY_INFO, Flags: VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX, FenceID: 42, CtxID: 3, RingIdx: 5}
	if h != want {
		t.Errorf("response header = %+v; want %+v", h, want)
	}
	// A ring fence on a context that does not exist: ERR_UNSPEC, as crosvm
	// answers, still echoing the fence so the guest can retire it.
	resp = g.do(cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).fence(43).ctx(4).ring(0).bytes())
	h.Unmarshal(resp)
	want = CtrlHdr{Type: VIRTIO_GPU_RESP_ERR_UNSPEC, Flags: VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX, FenceID: 43, CtxID: 4}
	if h != want {
		t.Errorf("ring fence on an unknown context: header = %+v; want %+v", h, want)
	}
	// Without FLAG_FENCE nothing is echoed, even if the guest filled fields.
	resp = g.do(cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).ctx(3).bytes())
	h.Unmarshal(resp)
	if h != (CtrlHdr{Type: VIRTIO_GPU_RESP_OK_DISPLAY_INFO}) {
		t.Errorf("unfenced response header = %+v", h)
	}
}

func TestDisplayInfoAndEDID(t *testing.T) {
	g := newGuest(t, Config{Displays: []Display{{1280, 720}, {640, 480}}})
	resp := g.do(cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).bytes())
	if len(resp) != respDisplayInfoSize {
		t.Fatalf("display info is %d bytes; want %d", len(resp), respDisplayInfoSize)
	}
	for i, want := range []Rect{{0, 0, 1280, 720}, {0, 0, 640, 480}, {}} {
		p := resp[CtrlHdrSize+i*24:]
		if got, en := rectAt(p), le.Uint32(p[16:]); got != want || (en == 1) != (want.Width > 0) {
			t.Errorf("pmodes[%d] = %+v enabled %d; want %+v", i, got, en, want)
		}
	}
	resp = g.do(cmd(VIRTIO_GPU_CMD_GET_EDID).u32(1, 0).bytes())
	size := le.Uint32(resp[CtrlHdrSize:])
	edid := resp[CtrlHdrSize+8 : CtrlHdrSize+8+int(size)]
	if size != 128 || !bytes.Equal(edid[:8], []byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}) {
		t.Fatalf("EDID of %d bytes starting % x", size, edid[:8])
	}
	var sum byte
	for _, b := range edid {
		sum += b
	}
	if sum != 0 {
		t.Errorf("EDID checksum: bytes sum to %d; want 0", sum)
	}
	dtd := edid[54:72]
	w := uint32(dtd[2]) | uint32(dtd[4]>>4)<<8
	h := uint32(dtd[5]) | uint32(dtd[7]>>4)<<8
	if w != 640 || h != 480 {
		t.Errorf("EDID preferred mode %dx%d; want 640x480", w, h)
	}
}

func TestCursorQueue(t *testing.T) {
	g := newGuest(t, Config{})
	g.create2D(5, 2, 64, 64)
	update := cmd(VIRTIO_GPU_CMD_UPDATE_CURSOR).u32(0, 10, 20, 0, 5, 3, 4, 0).bytes()
	move := cmd(VIRTIO_GPU_CMD_MOVE_CURSOR).u32(0, 30, 40, 0, 0, 0, 0, 0).bytes()
	ignored := cmd(VIRTIO_GPU_CMD_MOVE_CURSOR).u32(7, 1, 1, 0, 0, 0, 0, 0).bytes()
	for _, r := range [][]byte{update, move, ignored} {
		if _, err := g.cursor.Add([]virtio.Buf{{Addr: g.put(r), Len: uint32(len(r))}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	g.cursor.Kick()
	g.dev.Kick(CursorQ, 0)
	for i := range 3 {
		_, n, ok, err := g.cursor.PopUsed()
		if err != nil || !ok || n != 0 {
			t.Fatalf("cursor element %d: written %d, ok %v, err %v; want returned with 0 bytes", i, n, ok, err)
		}
	}
	want := Cursor{Scanout: 0, X: 30, Y: 40, Resource: 5, HotX: 3, HotY: 4, Updates: 1, ImageVersion: 1}
	if c := g.dev.Cursor(); c != want {
		t.Errorf("Cursor() = %+v; want %+v", c, want)
	}
	// The display redraws the output the cursor is on, with no flush.
	if got := g.dev.Damaged(); got != 1 {
		t.Errorf("Damaged() after cursor commands = %b; want output 0", got)
	}
}

// A corrupted queue puts the device in NEEDS_RESET; a reset brings it back.
func TestCorruptQueueNeedsReset(t *testing.T) {
	g := newGuest(t, Config{})
	l := g.ctrl.Layout()
	g.mem.PutU16(l.Avail+2, 100) // avail.idx far past a ring of 64
	g.dev.Kick(ControlQ, 0)
	if !g.dev.NeedsReset() {
		t.Fatal("device did not set DEVICE_NEEDS_RESET for a corrupted queue")
	}
	g.dev.SetStatus(0)
	if g.dev.Status() != 0 || g.dev.NeedsReset() {
		t.Fatalf("status after reset = %#x", g.dev.Status())
	}
	g2 := newGuestOn(t, g)
	if got := g2.respType(cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).bytes()); got != VIRTIO_GPU_RESP_OK_DISPLAY_INFO {
		t.Errorf("after reset GET_DISPLAY_INFO = %s", respName(got))
	}
}

// newGuestOn re-initialises the driver side on a device that was reset.
func newGuestOn(t *testing.T, old *testGuest) *testGuest {
	g := &testGuest{t: t, mem: old.mem, dev: old.dev, rec: old.rec, next: old.next}
	d := g.dev
	d.SetStatus(virtio.VIRTIO_CONFIG_S_ACKNOWLEDGE | virtio.VIRTIO_CONFIG_S_DRIVER)
	d.SetDriverFeatures(d.DeviceFeatures())
	d.SetStatus(d.Status() | virtio.VIRTIO_CONFIG_S_FEATURES_OK)
	g.ctrl = g.queue(ControlQ, 64)
	g.cursor = g.queue(CursorQ, 16)
	d.SetStatus(d.Status() | virtio.VIRTIO_CONFIG_S_DRIVER_OK)
	return g
}

func TestFeatureNegotiation(t *testing.T) {
	d, err := New(virtio.NewMemory(1<<16), Config{})
	if err != nil {
		t.Fatal(err)
	}
	d.SetStatus(virtio.VIRTIO_CONFIG_S_ACKNOWLEDGE | virtio.VIRTIO_CONFIG_S_DRIVER)
	d.SetDriverFeatures(d.DeviceFeatures() | 1<<34) // VIRTIO_F_RING_PACKED, not offered
	d.SetStatus(d.Status() | virtio.VIRTIO_CONFIG_S_FEATURES_OK)
	if d.Status()&virtio.VIRTIO_CONFIG_S_FEATURES_OK != 0 {
		t.Error("FEATURES_OK accepted with a feature the device did not offer")
	}
	var cfg [16]byte
	d.DisplayChanged()
	d.ReadConfig(0, cfg[:])
	if le.Uint32(cfg[0:]) != VIRTIO_GPU_EVENT_DISPLAY || le.Uint32(cfg[8:]) != 1 {
		t.Errorf("config = % x; want events_read 1, num_scanouts 1", cfg)
	}
	d.WriteConfig(4, []byte{1, 0, 0, 0})
	d.ReadConfig(0, cfg[:4])
	if le.Uint32(cfg[0:]) != 0 {
		t.Errorf("events_read after clearing = %d; want 0", le.Uint32(cfg[0:]))
	}
}

// The display hears of an output going off only if it was on: a
// SET_SCANOUT to resource 0 of a dark output, or a reset, changes
// nothing there; a reset turns off exactly the outputs that were lit.
func TestDamagedOnlyForLitOutputs(t *testing.T) {
	g := newGuest(t, Config{Displays: []Display{{64, 32}, {64, 32}, {64, 32}}})
	g.create2D(7, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 32)
	if got := g.respType(cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 0, 0, 2, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("SET_SCANOUT 0 on a dark output = %s", respName(got))
	}
	if got := g.dev.Damaged(); got != 0 {
		t.Errorf("Damaged() after turning off a dark output = %b; want none", got)
	}
	g.respType(cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 64, 32, 1, 7).bytes())
	g.dev.TakeDamage(1)
	g.dev.SetStatus(0) // reset
	if got := g.dev.Damaged(); got != 0b010 {
		t.Errorf("Damaged() after a reset = %b; want output 1, the lit one", got)
	}
	if s := g.dev.Scanout(1); s.Enabled {
		t.Errorf("output 1 after the reset: %+v; want off", s)
	}
}

// The cursor's picture is taken from its resource at UPDATE_CURSOR, as
// QEMU copies it: pixels transferred to the resource later show only at
// the next UPDATE_CURSOR.
func TestCursorImageIsTakenAtUpdate(t *testing.T) {
	g := newGuest(t, Config{})
	backing := g.create2D(5, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64)
	paint := func(v byte) {
		g.mem.Write(backing, bytes.Repeat([]byte{v}, 64*64*4))
		if got := g.respType(cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 0, 64, 64).u64(0).u32(5, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
			t.Fatalf("TRANSFER_TO_HOST_2D = %s", respName(got))
		}
	}
	update := func() {
		r := cmd(VIRTIO_GPU_CMD_UPDATE_CURSOR).u32(0, 10, 20, 0, 5, 0, 0, 0).bytes()
		if _, err := g.cursor.Add([]virtio.Buf{{Addr: g.put(r), Len: uint32(len(r))}}, nil); err != nil {
			t.Fatal(err)
		}
		g.cursor.Kick()
		g.dev.Kick(CursorQ, 0)
		if _, _, ok, err := g.cursor.PopUsed(); !ok || err != nil {
			t.Fatalf("UPDATE_CURSOR not returned: %v", err)
		}
	}
	pixel := func() byte {
		img, ok := g.dev.CursorImage()
		if !ok || img.Width != 64 || len(img.Pixels) != 64*64*4 {
			t.Fatalf("CursorImage() = %v %dx%d, %d bytes", ok, img.Width, img.Height, len(img.Pixels))
		}
		return img.Pixels[0]
	}
	if _, ok := g.dev.CursorImage(); ok {
		t.Error("a cursor image before any UPDATE_CURSOR")
	}
	paint(0x11)
	update()
	if p := pixel(); p != 0x11 {
		t.Errorf("cursor pixel %#x; want 0x11", p)
	}
	paint(0x22)
	if p := pixel(); p != 0x11 {
		t.Errorf("cursor pixel %#x after a transfer alone; want still 0x11", p)
	}
	update()
	if p := pixel(); p != 0x22 {
		t.Errorf("cursor pixel %#x after the next UPDATE_CURSOR; want 0x22", p)
	}
	// Unreferencing the resource leaves the copy showing, as in QEMU,
	// where a scanout showing it would go dark.
	g.dev.TakeDamage(0)
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(5, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("RESOURCE_UNREF = %s", respName(got))
	}
	if p := pixel(); p != 0x22 {
		t.Errorf("cursor pixel %#x after its resource went; want still 0x22", p)
	}
	if got := g.dev.Damaged(); got != 0 {
		t.Errorf("Damaged() after unreferencing the cursor's resource = %b; want nothing changed", got)
	}
}
