package device

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The wire golden: a fixed session through a fresh guest, every controlq
// command the device implements and one error response of each code, with
// the request and response bytes of each step dumped and annotated field
// by field. Regenerate with
//
//	go test ./device -run TestWireGolden -update

const wireGoldenPath = "testdata/wire.golden"

// goldenStep is one request of the session.
type goldenStep struct {
	title string
	req   []byte
	want  uint32 // the response type the step must get
}

// goldenSession returns the fixed session. Addresses in it come from the
// guest's bump allocator, so they depend only on the session itself.
func goldenSession(g *testGuest) []goldenStep {
	const (
		res2D   = 1
		res3D   = 2
		ctxID   = 1
		ring    = 1
		w2D     = 64
		h2D     = 64
		w3D     = 32
		h3D     = 32
		half    = w2D * h2D * 4 / 2
		backing = w3D * h3D * 4
	)
	// Backing for the 2D resource in two entries; one entry for the 3D one.
	back2Da, back2Db := g.alloc(half), g.alloc(half)
	back3D := g.alloc(backing)
	name := make([]byte, 64)
	copy(name, "golden")
	s := stream{}.op(OpClear, res3D, 0xff0000ff).work(1 * ms)

	var steps []goldenStep
	add := func(title string, want uint32, r *req) {
		steps = append(steps, goldenStep{title, r.bytes(), want})
	}
	add("GET_DISPLAY_INFO", VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
		cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO))
	add("GET_EDID scanout 0", VIRTIO_GPU_RESP_OK_EDID,
		cmd(VIRTIO_GPU_CMD_GET_EDID).u32(0, 0))
	add("GET_CAPSET_INFO index 0", VIRTIO_GPU_RESP_OK_CAPSET_INFO,
		cmd(VIRTIO_GPU_CMD_GET_CAPSET_INFO).u32(0, 0))
	add("GET_CAPSET_INFO index 1, past the last capset (OK, all zero, as QEMU)", VIRTIO_GPU_RESP_OK_CAPSET_INFO,
		cmd(VIRTIO_GPU_CMD_GET_CAPSET_INFO).u32(1, 0))
	add("GET_CAPSET fencelab (31) version 1", VIRTIO_GPU_RESP_OK_CAPSET,
		cmd(VIRTIO_GPU_CMD_GET_CAPSET).u32(VIRTIO_GPU_CAPSET_FENCELAB, FencelabCapsetVersion))
	add("RESOURCE_CREATE_2D resource 1 B8G8R8X8 64x64", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(res2D, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w2D, h2D))
	add("RESOURCE_ATTACH_BACKING resource 1, two entries", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(res2D, 2).u64(back2Da).u32(half, 0).u64(back2Db).u32(half, 0))
	add("TRANSFER_TO_HOST_2D resource 1, whole", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 0, w2D, h2D).u64(0).u32(res2D, 0))
	add("SET_SCANOUT scanout 0 to resource 1", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, w2D, h2D, 0, res2D))
	add("RESOURCE_FLUSH resource 1, fenced (global timeline, fence 1)", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).fence(1).u32(0, 0, w2D, h2D, res2D, 0))
	add("RESOURCE_ASSIGN_UUID resource 1", VIRTIO_GPU_RESP_OK_RESOURCE_UUID,
		cmd(VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID).u32(res2D, 0))
	add("CTX_CREATE context 1, context_init capset 31, name \"golden\"", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(ctxID).u32(6, VIRTIO_GPU_CAPSET_FENCELAB).raw(name))
	add("RESOURCE_CREATE_3D resource 2, PIPE_TEXTURE_2D B8G8R8A8 32x32", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(res3D, pipeTexture2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 0,
			w3D, h3D, 1, 1, 0, 0, 0, 0))
	add("RESOURCE_ATTACH_BACKING resource 2, one entry", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(res3D, 1).u64(back3D).u32(backing, 0))
	add("CTX_ATTACH_RESOURCE context 1, resource 2", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE).ctx(ctxID).u32(res3D, 0))
	add("SUBMIT_3D context 1 ring 1 fence 5: CLEAR resource 2, WORK 1 ms (answered when the job retires)", VIRTIO_GPU_RESP_OK_NODATA,
		submit(s).ctx(ctxID).ring(ring).fence(5))
	add("TRANSFER_TO_HOST_3D context 1, resource 2, unfenced (answered at once)", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D).ctx(ctxID).u32(0, 0, 0, w3D, h3D, 1).u64(0).u32(res3D, 0, 0, 0))
	add("TRANSFER_FROM_HOST_3D context 1 ring 1 fence 6, resource 2, stride 128", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D).ctx(ctxID).ring(ring).fence(6).u32(0, 0, 0, w3D, h3D, 1).u64(0).u32(res3D, 0, w3D*4, 0))
	add("CTX_DETACH_RESOURCE context 1, resource 2", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE).ctx(ctxID).u32(res3D, 0))
	add("CTX_DESTROY context 1", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_CTX_DESTROY).ctx(ctxID))
	add("SET_SCANOUT scanout 0 to resource 0 (disable)", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 0, 0, 0, 0))
	add("RESOURCE_DETACH_BACKING resource 1", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING).u32(res2D, 0))
	add("RESOURCE_UNREF resource 1", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(res2D, 0))
	add("RESOURCE_UNREF resource 2", VIRTIO_GPU_RESP_OK_NODATA,
		cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF).u32(res3D, 0))
	add("unknown command 0x0999", VIRTIO_GPU_RESP_ERR_UNSPEC,
		cmd(0x0999).u32(0, 0))

	// One error response of each code.
	add("ERR_UNSPEC: request shorter than the header (8 bytes; the response header is all zero but its type)", VIRTIO_GPU_RESP_ERR_UNSPEC,
		&req{b: cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).fence(7).bytes()[:8]})
	add("ERR_UNSPEC: RESOURCE_CREATE_2D with a 12-byte body", VIRTIO_GPU_RESP_ERR_UNSPEC,
		cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64))
	add("ERR_OUT_OF_MEMORY: RESOURCE_CREATE_2D 65535x65535", VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
		cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 65535, 65535))
	add("ERR_INVALID_SCANOUT_ID: SET_SCANOUT scanout 5", VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
		cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 16, 16, 5, 0))
	add("ERR_INVALID_RESOURCE_ID: RESOURCE_FLUSH resource 99, fenced (global timeline, fence 8)", VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
		cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).fence(8).u32(0, 0, 16, 16, 99, 0))
	add("ERR_INVALID_CONTEXT_ID: SUBMIT_3D context 9 (no such context), fenced (global timeline, fence 9)", VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
		submit(stream{}.work(1*ms)).ctx(9).fence(9))
	add("ERR_INVALID_PARAMETER: GET_EDID scanout 1 (one display)", VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
		cmd(VIRTIO_GPU_CMD_GET_EDID).u32(1, 0))
	return steps
}

// exchange sends req, runs the modelled GPU until its chain comes back, and
// returns the bytes the device wrote (the used element's length).
func (g *testGuest) exchange(r []byte) []byte {
	g.t.Helper()
	head, addr := g.send(r, 4096)
	g.kick()
	for range 1000 {
		h, n, ok := g.used()
		if ok {
			if h != head {
				g.t.Fatalf("request %x: used head %d; want %d", r, h, head)
			}
			if h2, _, more := g.used(); more {
				g.t.Fatalf("request %x: a second used element (head %d)", r, h2)
			}
			out := make([]byte, n)
			g.mem.Read(addr, out)
			return out
		}
		t, pending := g.dev.NextEvent()
		if !pending {
			break
		}
		g.now = max(g.now, t)
		g.dev.Advance(t)
	}
	g.t.Fatalf("request %x: never answered", r)
	return nil
}

func TestWireGolden(t *testing.T) {
	g := newGuest(t, Config{})
	var out strings.Builder
	out.WriteString(`# fencelab virtio-gpu wire golden: a fixed controlq session on a fresh
# device (default features, one 1024x768 display, one worker).
# Each step: a title, the request (bytes the driver made readable) and the
# response (bytes the device wrote, as the used ring reports), each with its
# header and body fields decoded, then the hex dump (offsets from the start
# of the message). All values little endian.
# Regenerate: go test ./device -run TestWireGolden -update
`)
	for i, st := range goldenSession(g) {
		resp := g.exchange(st.req)
		fmt.Fprintf(&out, "\n## %02d %s\n", i+1, st.title)
		writeMessage(&out, "request", st.req, true)
		writeMessage(&out, "response", resp, false)

		// The golden is only as good as what it records: check the
		// response type and the fence echo here too.
		if len(resp) < CtrlHdrSize {
			t.Errorf("step %d %s: response of %d bytes", i+1, st.title, len(resp))
			continue
		}
		var rh CtrlHdr
		rh.Unmarshal(resp)
		if rh.Type != st.want {
			t.Errorf("step %d %s: response %s; want %s", i+1, st.title, WireName(rh.Type), WireName(st.want))
		}
		if len(st.req) < CtrlHdrSize {
			continue
		}
		var qh CtrlHdr
		qh.Unmarshal(st.req)
		fenced := qh.Flags&VIRTIO_GPU_FLAG_FENCE != 0
		wantHdr := CtrlHdr{Type: rh.Type}
		if fenced {
			wantHdr.Flags = qh.Flags & (VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX)
			wantHdr.FenceID, wantHdr.CtxID = qh.FenceID, qh.CtxID
			if qh.Flags&VIRTIO_GPU_FLAG_INFO_RING_IDX != 0 {
				wantHdr.RingIdx = qh.RingIdx
			}
		}
		if rh != wantHdr || !bytes.Equal(resp[21:24], []byte{0, 0, 0}) {
			t.Errorf("step %d %s: response header %+v (padding % x); want %+v", i+1, st.title, rh, resp[21:24], wantHdr)
		}
	}
	got := out.String()

	if *update {
		if err := os.MkdirAll(filepath.Dir(wireGoldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wireGoldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(wireGoldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := firstDiff(string(want), got, 3); diff != "" {
		t.Errorf("wire encoding differs from %s (run with -update if the change is intended):\n%s", wireGoldenPath, diff)
	}
}

// firstDiff describes the first line where want and got differ, with ctx
// lines of context either side from each; "" if they are equal.
func firstDiff(want, got string, ctx int) string {
	if want == got {
		return ""
	}
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d (want %d lines, got %d)\n", i+1, len(wl), len(gl))
	show := func(label string, lines []string) {
		fmt.Fprintf(&b, "--- %s:\n", label)
		for j := max(0, i-ctx); j < min(len(lines), i+ctx+1); j++ {
			mark := "  "
			if j == i {
				mark = "> "
			}
			fmt.Fprintf(&b, "%s%5d: %s\n", mark, j+1, lines[j])
		}
		if i >= len(lines) {
			fmt.Fprintf(&b, ">   EOF\n")
		}
	}
	show("want", wl)
	show("got", gl)
	return b.String()
}

// writeMessage writes one message: its size, the decoded header and body
// fields, and the hex dump.
func writeMessage(out *strings.Builder, label string, b []byte, isReq bool) {
	fmt.Fprintf(out, "%s (%d bytes):\n", label, len(b))
	if len(b) < CtrlHdrSize {
		fmt.Fprintf(out, "  hdr:  short (%d of %d bytes)\n", len(b), CtrlHdrSize)
	} else {
		var h CtrlHdr
		h.Unmarshal(b)
		fmt.Fprintf(out, "  hdr:  type=0x%04x %s flags=%#x%s fence_id=%d ctx_id=%d ring_idx=%d padding=% x\n",
			h.Type, wireLabel(h.Type), h.Flags, flagNames(h.Flags), h.FenceID, h.CtxID, h.RingIdx, b[21:24])
		body := b[CtrlHdrSize:]
		var lines []string
		if isReq {
			lines = requestFields(h.Type, body)
		} else {
			lines = responseFields(h.Type, body)
		}
		for _, l := range lines {
			fmt.Fprintf(out, "  body: %s\n", l)
		}
	}
	for _, l := range strings.SplitAfter(hex.Dump(b), "\n") {
		if l != "" {
			out.WriteString("    " + l)
		}
	}
}

func flagNames(f uint32) string {
	var n []string
	if f&VIRTIO_GPU_FLAG_FENCE != 0 {
		n = append(n, "FENCE")
	}
	if f&VIRTIO_GPU_FLAG_INFO_RING_IDX != 0 {
		n = append(n, "INFO_RING_IDX")
	}
	if len(n) == 0 {
		return ""
	}
	return "(" + strings.Join(n, "|") + ")"
}

// field is a little-endian field of a struct: its name and width (4 or 8).
type field struct {
	name string
	size int
}

func u32s(names ...string) []field {
	fs := make([]field, len(names))
	for i, n := range names {
		fs[i] = field{n, 4}
	}
	return fs
}

func fields(parts ...[]field) []field {
	var fs []field
	for _, p := range parts {
		fs = append(fs, p...)
	}
	return fs
}

var (
	rectFields = u32s("r.x", "r.y", "r.width", "r.height")
	boxFields  = u32s("box.x", "box.y", "box.z", "box.w", "box.h", "box.d")
	le64       = func(n string) []field { return []field{{n, 8}} }
)

// requestLayout is each request's fixed part after the header, per the C
// structs (anchors §A.4), and what follows it.
func requestLayout(typ uint32) (fs []field, rest string) {
	switch typ {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO, VIRTIO_GPU_CMD_CTX_DESTROY:
		return nil, ""
	case VIRTIO_GPU_CMD_GET_EDID:
		return u32s("scanout", "padding"), ""
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return u32s("resource_id", "format", "width", "height"), ""
	case VIRTIO_GPU_CMD_RESOURCE_UNREF, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
		VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
		return u32s("resource_id", "padding"), ""
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return fields(rectFields, u32s("scanout_id", "resource_id")), ""
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return fields(rectFields, u32s("resource_id", "padding")), ""
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return fields(rectFields, le64("offset"), u32s("resource_id", "padding")), ""
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return u32s("resource_id", "nr_entries"), "entries"
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		return u32s("capset_index", "padding"), ""
	case VIRTIO_GPU_CMD_GET_CAPSET:
		return u32s("capset_id", "capset_version"), ""
	case VIRTIO_GPU_CMD_CTX_CREATE:
		return u32s("nlen", "context_init"), "debug_name"
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
		return u32s("resource_id", "target", "format", "bind", "width", "height", "depth",
			"array_size", "last_level", "nr_samples", "flags", "padding"), ""
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
		return fields(boxFields, le64("offset"), u32s("resource_id", "level", "stride", "layer_stride")), ""
	case VIRTIO_GPU_CMD_SUBMIT_3D:
		return u32s("size", "padding"), "stream"
	}
	return nil, "unknown"
}

// decodeFields renders fs from b as name=value pairs, and reports how many
// bytes they took; a body too short for them is said so.
func decodeFields(b []byte, fs []field) (string, int) {
	var parts []string
	off := 0
	for _, f := range fs {
		if off+f.size > len(b) {
			parts = append(parts, fmt.Sprintf("(short: %d of %d bytes, %s missing)", len(b), layoutSize(fs), f.name))
			return strings.Join(parts, " "), len(b)
		}
		var v uint64
		if f.size == 8 {
			v = le.Uint64(b[off:])
		} else {
			v = uint64(le.Uint32(b[off:]))
		}
		parts = append(parts, fmt.Sprintf("%s=%d", f.name, v))
		off += f.size
	}
	return strings.Join(parts, " "), off
}

func layoutSize(fs []field) int {
	n := 0
	for _, f := range fs {
		n += f.size
	}
	return n
}

func requestFields(typ uint32, body []byte) []string {
	fs, rest := requestLayout(typ)
	var lines []string
	s, off := decodeFields(body, fs)
	if s != "" {
		lines = append(lines, s)
	}
	tail := body[off:]
	switch {
	case rest == "entries":
		for i := 0; len(tail) >= memEntrySize; i++ {
			lines = append(lines, fmt.Sprintf("entries[%d]: addr=%#x length=%d padding=%d",
				i, le.Uint64(tail), le.Uint32(tail[8:]), le.Uint32(tail[12:])))
			tail = tail[memEntrySize:]
		}
	case rest == "debug_name" && len(tail) > 0:
		lines = append(lines, fmt.Sprintf("debug_name[%d]=%q", len(tail), bytes.TrimRight(tail, "\x00")))
		tail = nil
	case rest == "stream" && len(tail) > 0:
		ops, err := ParseStream(tail)
		if err != nil {
			lines = append(lines, fmt.Sprintf("stream[%d]: %v", len(tail), err))
		} else {
			for _, op := range ops {
				lines = append(lines, fmt.Sprintf("stream op %s args=%d", opNames[op.Code], op.Args))
			}
		}
		tail = nil
	}
	if len(tail) > 0 {
		lines = append(lines, fmt.Sprintf("%d more bytes", len(tail)))
	}
	return lines
}

func responseFields(typ uint32, body []byte) []string {
	var lines []string
	switch typ {
	case VIRTIO_GPU_RESP_OK_DISPLAY_INFO:
		zero := 0
		for i := 0; len(body) >= 24; i++ {
			p := body[:24]
			body = body[24:]
			if bytes.Count(p, []byte{0}) == 24 {
				zero++
				continue
			}
			r := rectAt(p)
			lines = append(lines, fmt.Sprintf("pmodes[%d]: r=(%d,%d %dx%d) enabled=%d flags=%d",
				i, r.X, r.Y, r.Width, r.Height, le.Uint32(p[16:]), le.Uint32(p[20:])))
		}
		lines = append(lines, fmt.Sprintf("%d more pmodes all zero", zero))
	case VIRTIO_GPU_RESP_OK_EDID:
		if len(body) < 8 {
			break
		}
		size := le.Uint32(body)
		lines = append(lines, fmt.Sprintf("size=%d padding=%d edid[%d]", size, le.Uint32(body[4:]), len(body)-8))
		edid := body[8:]
		if int(size) <= len(edid) && size >= 128 {
			e := edid[:size]
			var sum byte
			for _, c := range e[:128] {
				sum += c
			}
			lines = append(lines, fmt.Sprintf("edid: header=% x version=%d.%d base-block checksum sum=%d; bytes past size all zero: %v",
				e[:8], e[18], e[19], sum, bytes.Count(edid[size:], []byte{0}) == len(edid)-int(size)))
		}
		body = nil
	case VIRTIO_GPU_RESP_OK_CAPSET_INFO:
		s, off := decodeFields(body, u32s("capset_id", "capset_max_version", "capset_max_size", "padding"))
		lines, body = append(lines, s), body[off:]
	case VIRTIO_GPU_RESP_OK_CAPSET:
		lines = append(lines, fmt.Sprintf("capset_data[%d]", len(body)))
		if len(body) >= 16 {
			lines = append(lines, fmt.Sprintf("fencelab capset: magic=%q version=%d max_width=%d max_height=%d",
				body[:4], le.Uint32(body[4:]), le.Uint32(body[8:]), le.Uint32(body[12:])))
		}
		body = nil
	case VIRTIO_GPU_RESP_OK_RESOURCE_UUID:
		if len(body) >= 16 {
			u := body[:16]
			lines = append(lines, fmt.Sprintf("uuid=%x-%x-%x-%x-%x (version %d, variant bits %02b)",
				u[0:4], u[4:6], u[6:8], u[8:10], u[10:16], u[6]>>4, u[8]>>6))
			body = body[16:]
		}
	}
	if typ != VIRTIO_GPU_RESP_OK_DISPLAY_INFO && len(body) > 0 {
		lines = append(lines, fmt.Sprintf("%d more bytes", len(body)))
	}
	return lines
}

// TestWireSizes checks the request body and response sizes the device
// uses against the C struct sizes of include/uapi/linux/virtio_gpu.h
// (anchors §A.4), then that the device keeps to them on the wire.
func TestWireSizes(t *testing.T) {
	const hdr = 24 // sizeof(struct virtio_gpu_ctrl_hdr)
	consts := []struct {
		name      string
		got, want int
	}{
		{"ctrl_hdr", CtrlHdrSize, hdr},
		// Request bodies: sizeof(struct) - sizeof(hdr).
		{"resource_create_2d body", resourceCreate2DSize, 4 * 4},
		{"resource_unref body", resourceUnrefSize, 2 * 4},
		{"set_scanout body", setScanoutSize, 16 + 2*4},
		{"resource_flush body", resourceFlushSize, 16 + 2*4},
		{"transfer_to_host_2d body", transferToHost2DSize, 16 + 8 + 2*4},
		{"resource_attach_backing body", attachBackingSize, 2 * 4},
		{"mem_entry", memEntrySize, 8 + 2*4},
		{"resource_detach_backing body", detachBackingSize, 2 * 4},
		{"get_capset_info body", getCapsetInfoSize, 2 * 4},
		{"get_capset body", getCapsetSize, 2 * 4},
		{"cmd_get_edid body", getEDIDSize, 2 * 4},
		{"resource_assign_uuid body", assignUUIDSize, 2 * 4},
		{"cursor_pos", cursorPosSize, 4 * 4},
		{"update_cursor body", updateCursorSize, 16 + 4*4},
		{"ctx_create body", ctxCreateSize, 2*4 + 64},
		{"ctx_resource body", ctxResourceSize, 2 * 4},
		{"resource_create_3d body", resourceCreate3DSize, 12 * 4},
		{"transfer_host_3d body", transfer3DSize, 6*4 + 8 + 4*4},
		{"cmd_submit body", submit3DSize, 2 * 4},
		// Responses, header included.
		{"resp_display_info", respDisplayInfoSize, hdr + 16*(16+2*4)},
		{"resp_capset_info", respCapsetInfoSize, hdr + 4*4},
		{"resp_edid", respEDIDSize, hdr + 2*4 + 1024},
		{"resp_nodata", respNodataSize, hdr},
	}
	for _, c := range consts {
		if c.got != c.want {
			t.Errorf("%s: %d bytes; the C struct has %d", c.name, c.got, c.want)
		}
	}

	// On the wire: each response is as long as its C struct.
	g := newGuest(t, Config{})
	g.create2D(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16)
	s := stream{}.work(1000)
	respLen := []struct {
		name string
		req  []byte
		want int
	}{
		{"OK_DISPLAY_INFO", cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).bytes(), 408},
		{"OK_EDID", cmd(VIRTIO_GPU_CMD_GET_EDID).u32(0, 0).bytes(), 24 + 8 + 1024},
		{"OK_CAPSET_INFO", cmd(VIRTIO_GPU_CMD_GET_CAPSET_INFO).u32(0, 0).bytes(), 40},
		{"OK_CAPSET", cmd(VIRTIO_GPU_CMD_GET_CAPSET).u32(VIRTIO_GPU_CAPSET_FENCELAB, 1).bytes(), 24 + len(fencelabCapset())},
		{"OK_RESOURCE_UUID", cmd(VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID).u32(1, 0).bytes(), 24 + 16},
		{"OK_NODATA", cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(0, 0, 16, 16, 1, 0).bytes(), 24},
		{"ERR_UNSPEC", cmd(0x0999).bytes(), 24},
	}
	for _, c := range respLen {
		if got := len(g.exchange(c.req)); got != c.want {
			t.Errorf("%s: response of %d bytes; want %d", c.name, got, c.want)
		}
	}
	g.ctxCreate(1)
	if r := submit(s).ctx(1).bytes(); len(r) != hdr+8+len(s) {
		t.Errorf("SUBMIT_3D request of %d bytes; want hdr + 8 + stream = %d", len(r), hdr+8+len(s))
	}

	// Each decoder needs exactly its struct: a zero body one byte short
	// is ERR_UNSPEC, the full zero body is not (it fails a later check, or
	// succeeds).
	bodies := []struct {
		cmd  uint32
		size int
	}{
		{VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 16},
		{VIRTIO_GPU_CMD_RESOURCE_UNREF, 8},
		{VIRTIO_GPU_CMD_SET_SCANOUT, 24},
		{VIRTIO_GPU_CMD_RESOURCE_FLUSH, 24},
		{VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 32},
		{VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 8},
		{VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 8},
		{VIRTIO_GPU_CMD_GET_CAPSET_INFO, 8},
		{VIRTIO_GPU_CMD_GET_CAPSET, 8},
		{VIRTIO_GPU_CMD_GET_EDID, 8},
		{VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, 8},
		{VIRTIO_GPU_CMD_CTX_CREATE, 72},
		{VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 8},
		{VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, 8},
		{VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 48},
		{VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, 48},
		{VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 48},
		{VIRTIO_GPU_CMD_SUBMIT_3D, 8},
	}
	for _, b := range bodies {
		short := le.Uint32(g.exchange(cmd(b.cmd).raw(make([]byte, b.size-1)).bytes()))
		full := le.Uint32(g.exchange(cmd(b.cmd).raw(make([]byte, b.size)).bytes()))
		if short != VIRTIO_GPU_RESP_ERR_UNSPEC || full == VIRTIO_GPU_RESP_ERR_UNSPEC {
			t.Errorf("%s: body of %d bytes → %s, of %d → %s; want ERR_UNSPEC only for the short one",
				WireName(b.cmd), b.size-1, WireName(short), b.size, WireName(full))
		}
	}
}

// wireLabel is WireName, "(unknown)" for a code it does not know.
func wireLabel(t uint32) string {
	if n := WireName(t); n != "" {
		return n
	}
	return "(unknown)"
}
