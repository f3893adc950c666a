package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// rstream builds a command stream for the renderer's tests.
type rstream []byte

func (s rstream) cmd(code uint16, args ...uint32) rstream {
	return s.raw(uint32(code)|uint32(len(args))<<16, args...)
}

// raw appends a header dword as given, then dwords.
func (s rstream) raw(hdr uint32, dws ...uint32) rstream {
	s = binary.LittleEndian.AppendUint32(s, hdr)
	for _, d := range dws {
		s = binary.LittleEndian.AppendUint32(s, d)
	}
	return s
}

// vtx is a vertex for rstream.tris: pixel coordinates in 28.4.
type vtx struct {
	x, y int32
	rgba uint32
}

// px is a vertex at pixel coordinates (x, y) (so at a pixel's corner).
func px(x, y int32, rgba uint32) vtx { return vtx{x * 16, y * 16, rgba} }

func (s rstream) tris(res uint32, vs ...vtx) rstream {
	args := []uint32{res, uint32(len(vs) / 3)}
	for _, v := range vs {
		args = append(args, uint32(v.x), uint32(v.y), v.rgba)
	}
	return s.cmd(OpTriangles, args...)
}

func newSurface(w, h, format uint32) *Surface {
	return &Surface{Width: w, Height: h, Format: format, Pix: make([]byte, w*h*4)}
}

func lookupIn(m map[uint32]*Surface) func(uint32) *Surface {
	return func(id uint32) *Surface { return m[id] }
}

// run parses s and executes it against m, failing on a parse error; it
// returns the costs.
func run(t testing.TB, s rstream, m map[uint32]*Surface) []int64 {
	t.Helper()
	ops, err := ParseStream(s)
	if err != nil {
		t.Fatalf("ParseStream: %v", err)
	}
	var costs []int64
	for _, op := range ops {
		c, _ := Execute(op, lookupIn(m))
		costs = append(costs, c)
	}
	return costs
}

var allFormats = []struct {
	format uint32
	order  string // bytes in memory
}{
	{VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, "BGRA"},
	{VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, "BGRX"},
	{VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, "ARGB"},
	{VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, "XRGB"},
	{VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, "RGBA"},
	{VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, "XBGR"},
	{VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, "ABGR"},
	{VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, "RGBX"},
}

// bytesIn is how a format stores the colour 0xAABBGGRR, X written as 0xff.
func bytesIn(order string, rgba uint32) []byte {
	b := make([]byte, 4)
	for i, c := range order {
		switch c {
		case 'R':
			b[i] = byte(rgba)
		case 'G':
			b[i] = byte(rgba >> 8)
		case 'B':
			b[i] = byte(rgba >> 16)
		case 'A':
			b[i] = byte(rgba >> 24)
		case 'X':
			b[i] = 0xff
		}
	}
	return b
}

func TestRenderParseStream(t *testing.T) {
	tri := []uint32{7, 1, 0, 0, 0xff0000ff, 160, 0, 0xff00ff00, 0xfffffff0, 0xffffff00, 0xffff0000}
	for _, tc := range []struct {
		name string
		s    rstream
		want []Op
	}{
		{"empty", nil, []Op{}},
		{"nop", rstream{}.cmd(OpNop), []Op{{OpNop, []uint32{}}}},
		{"clear", rstream{}.cmd(OpClear, 3, 0x80402010), []Op{{OpClear, []uint32{3, 0x80402010}}}},
		{"fill", rstream{}.cmd(OpFill, 3, 1, 2, 3, 4, 5), []Op{{OpFill, []uint32{3, 1, 2, 3, 4, 5}}}},
		{"blit", rstream{}.cmd(OpBlit, 1, 2, 3, 4, 5, 6, 7, 8), []Op{{OpBlit, []uint32{1, 2, 3, 4, 5, 6, 7, 8}}}},
		{"triangles", rstream{}.cmd(OpTriangles, tri...), []Op{{OpTriangles, tri}}},
		{"two triangles", rstream{}.cmd(OpTriangles, append([]uint32{7, 2}, append(tri[2:], tri[2:]...)...)...),
			[]Op{{OpTriangles, append([]uint32{7, 2}, append(tri[2:], tri[2:]...)...)}}},
		{"triangle at the coordinate limits", rstream{}.cmd(OpTriangles, 1, 1,
			1<<29, 1<<29, 0, 0xe0000000, 0xe0000000, 0, 0, 0, 0),
			[]Op{{OpTriangles, []uint32{1, 1, 1 << 29, 1 << 29, 0, 0xe0000000, 0xe0000000, 0, 0, 0, 0}}}},
		{"wait", rstream{}.cmd(OpWait, 9, 0x1ff, 0xdeadbeef, 0x01234567), []Op{{OpWait, []uint32{9, 0x1ff, 0xdeadbeef, 0x01234567}}}},
		{"work 10 s", rstream{}.cmd(OpWork, uint32(10_000_000_000&0xffffffff), 10_000_000_000>>32),
			[]Op{{OpWork, []uint32{uint32(10_000_000_000 & 0xffffffff), 10_000_000_000 >> 32}}}},
		{"sequence", rstream{}.cmd(OpNop).cmd(OpClear, 1, 2).cmd(OpWork, 5, 0).cmd(OpNop),
			[]Op{{OpNop, []uint32{}}, {OpClear, []uint32{1, 2}}, {OpWork, []uint32{5, 0}}, {OpNop, []uint32{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(tc.s)
			ops, err := ParseStream(b)
			if err != nil {
				t.Fatalf("ParseStream: %v", err)
			}
			if len(ops) != len(tc.want) {
				t.Fatalf("ops = %v; want %v", ops, tc.want)
			}
			for i := range ops {
				if ops[i].Code != tc.want[i].Code || !reflect.DeepEqual(append([]uint32{}, ops[i].Args...), append([]uint32{}, tc.want[i].Args...)) {
					t.Errorf("op %d = %+v; want %+v", i, ops[i], tc.want[i])
				}
			}
			// The ops are copies: the stream's memory may change afterwards.
			for i := range b {
				b[i] = 0xee
			}
			for i := range ops {
				if !reflect.DeepEqual(append([]uint32{}, ops[i].Args...), append([]uint32{}, tc.want[i].Args...)) {
					t.Errorf("op %d changed with the stream: %+v", i, ops[i])
				}
			}
		})
	}
}

func TestRenderParseErrors(t *testing.T) {
	nops := func(n int) rstream {
		s := make(rstream, 0, 4*n)
		for range n {
			s = s.cmd(OpNop)
		}
		return s
	}
	clear := rstream{}.cmd(OpClear, 1, 2) // 12 bytes
	clear = clear[:len(clear):len(clear)] // each case appends to its own copy
	for _, tc := range []struct {
		name   string
		s      []byte
		offset int
		msg    string
	}{
		{"unknown opcode", clear.raw(7), 12, "unknown opcode 0x0007"},
		{"unknown opcode with payload", rstream{}.raw(0xffff|2<<16, 1, 2), 0, "unknown opcode 0xffff"},
		{"nop with payload", rstream{}.cmd(OpNop, 1), 0, "NOP takes 0 payload dwords, not 1"},
		{"clear short", rstream{}.cmd(OpClear, 1), 0, "CLEAR takes 2 payload dwords, not 1"},
		{"clear long", rstream{}.cmd(OpClear, 1, 2, 3), 0, "CLEAR takes 2 payload dwords, not 3"},
		{"fill short", clear.cmd(OpFill, 1, 2, 3, 4, 5), 12, "FILL takes 6 payload dwords, not 5"},
		{"fill long", rstream{}.cmd(OpFill, 1, 2, 3, 4, 5, 6, 7), 0, "FILL takes 6 payload dwords, not 7"},
		{"blit short", rstream{}.cmd(OpBlit, 1, 2, 3, 4, 5, 6, 7), 0, "BLIT takes 8 payload dwords, not 7"},
		{"blit long", rstream{}.cmd(OpBlit, 1, 2, 3, 4, 5, 6, 7, 8, 9), 0, "BLIT takes 8 payload dwords, not 9"},
		{"wait short", rstream{}.cmd(OpWait, 1, 2, 3), 0, "WAIT takes 4 payload dwords, not 3"},
		{"wait long", rstream{}.cmd(OpWait, 1, 2, 3, 4, 5), 0, "WAIT takes 4 payload dwords, not 5"},
		{"work short", rstream{}.cmd(OpWork, 1), 0, "WORK takes 2 payload dwords, not 1"},
		{"work long", rstream{}.cmd(OpWork, 1, 2, 3), 0, "WORK takes 2 payload dwords, not 3"},
		{"work over 10 s", clear.cmd(OpWork, uint32(10_000_000_001&0xffffffff), 10_000_000_001>>32), 12, "WORK of 10000000001 ns is more than 10 s"},
		{"work huge", rstream{}.cmd(OpWork, 0, 0xffffffff), 0, "more than 10 s"},
		{"truncated header", append(bytes.Clone(clear), 1, 0), 12, "stream length 14 is not a multiple of 4"},
		{"truncated header, 1 byte", []byte{0}, 0, "stream length 1 is not a multiple of 4"},
		{"truncated payload", clear.raw(OpFill|6<<16, 1, 2, 3), 12, "FILL: truncated payload: header says 6 dwords, 3 remain"},
		{"truncated payload, nothing after the header", rstream{}.raw(OpTriangles | 0xffff<<16), 0, "TRIANGLES: truncated payload"},
		{"unknown opcode, truncated", rstream{}.raw(0x1234 | 1<<16), 0, "unknown opcode 0x1234"},
		{"not a multiple of 4", append(rstream{}.cmd(OpClear, 1, 2).cmd(OpNop), 0, 0, 0), 16, "stream length 19 is not a multiple of 4"},
		{"triangles n = 0", rstream{}.cmd(OpTriangles, 1, 0), 0, "TRIANGLES: n = 0"},
		{"triangles without n", rstream{}.cmd(OpTriangles, 1), 0, "TRIANGLES: payload of 1 dwords"},
		{"triangles empty", rstream{}.cmd(OpTriangles), 0, "TRIANGLES: payload of 0 dwords"},
		{"triangles n too big", rstream{}.cmd(OpTriangles, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "TRIANGLES: n = 2 needs a payload of 20 dwords, not 11"},
		{"triangles n too small", rstream{}.cmd(OpTriangles, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "TRIANGLES: n = 1 needs a payload of 11 dwords, not 12"},
		{"triangles n = 2^32-1", rstream{}.cmd(OpTriangles, 1, 0xffffffff, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "TRIANGLES: n = 4294967295"},
		{"vertex x too big", clear.cmd(OpTriangles, 1, 1, 0, 0, 0, 1<<29+1, 0, 0, 0, 0, 0), 12, "triangle 0 vertex 1 at (536870913, 0) is outside"},
		{"vertex y too small", rstream{}.cmd(OpTriangles, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 5, 0xdfffffff, 0), 0, "triangle 1 vertex 2 at (5, -536870913) is outside"},
		{"vertex x = -2^31", rstream{}.cmd(OpTriangles, 1, 1, 0x80000000, 0, 0, 0, 0, 0, 0, 0, 0), 0, "triangle 0 vertex 0 at (-2147483648, 0)"},
		{"65537 commands", nops(65537), 65536 * 4, "more than 65536 commands"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := ParseStream(tc.s)
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("ParseStream = %d ops, %v; want a *StreamError", len(ops), err)
			}
			if ops != nil {
				t.Errorf("ParseStream returned %d ops with its error", len(ops))
			}
			if se.Offset != tc.offset || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("error = %q at %d; want %q at %d", se.Msg, se.Offset, tc.msg, tc.offset)
			}
			if want := fmt.Sprintf("byte %d: ", tc.offset); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the offset (%q)", err, want)
			}
		})
	}
	if ops, err := ParseStream(nops(65536)); err != nil || len(ops) != 65536 {
		t.Errorf("65536 commands: %d ops, %v; want them all", len(ops), err)
	}
}

func TestRenderWaitAndWork(t *testing.T) {
	ops, err := ParseStream(rstream{}.cmd(OpWait, 9, 0x1ff, 0xdeadbeef, 0x01234567).cmd(OpWork, 0x540be400, 2).cmd(OpNop))
	if err != nil {
		t.Fatal(err)
	}
	if ctx, ring, fence := ops[0].WaitTarget(); ctx != 9 || ring != 0xff || fence != 0x01234567deadbeef {
		t.Errorf("WaitTarget = %d, %d, %#x; want 9, 255, 0x01234567deadbeef", ctx, ring, fence)
	}
	if ns := ops[1].WorkNanos(); ns != 10_000_000_000 {
		t.Errorf("WorkNanos = %d; want 10 s", ns)
	}
	if ctx, ring, fence := ops[1].WaitTarget(); ctx|uint32(ring) != 0 || fence != 0 {
		t.Errorf("WaitTarget of a WORK = %d, %d, %d; want zeros", ctx, ring, fence)
	}
	if ns := ops[2].WorkNanos(); ns != 0 {
		t.Errorf("WorkNanos of a NOP = %d", ns)
	}
	m := map[uint32]*Surface{1: newSurface(4, 4, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM)}
	for i, want := range []int64{0, 10_000_000_000, 0} {
		if cost, ok := Execute(ops[i], lookupIn(m)); cost != want || !ok {
			t.Errorf("Execute(%v) = %d, %v; want %d, true", ops[i].Code, cost, ok, want)
		}
	}
	if !bytes.Equal(m[1].Pix, make([]byte, 64)) {
		t.Error("WAIT or WORK drew")
	}
}

// CLEAR, FILL and TRIANGLES (flat and interpolated) store 0xAABBGGRR in
// every format's byte order; X bytes are 0xff.
func TestRenderFormatsByteOrder(t *testing.T) {
	const rgba = 0x44332211
	all := []int{0, 1, 2, 3, 4, 5}
	for _, f := range allFormats {
		t.Run(f.order, func(t *testing.T) {
			want := bytesIn(f.order, rgba)
			for _, tc := range []struct {
				s      rstream
				pixels []int
			}{
				{rstream{}.cmd(OpClear, 1, rgba), all},
				{rstream{}.cmd(OpFill, 1, 0, 0, 3, 2, rgba), all},
				{rstream{}.tris(1, px(0, 0, rgba), px(3, 0, rgba), px(0, 2, rgba), px(3, 0, rgba), px(3, 2, rgba), px(0, 2, rgba)), all},
				// Pixel 0's centre is on the first vertex, on a top and a
				// left edge: exactly that vertex's colour.
				{rstream{}.tris(1, vtx{8, 8, rgba}, vtx{200, 8, 0xff00ff00}, vtx{8, 200, 0x80ff0000}), []int{0}},
			} {
				surf := newSurface(3, 2, f.format)
				run(t, tc.s, map[uint32]*Surface{1: surf})
				for _, i := range tc.pixels {
					if got := surf.Pix[4*i : 4*i+4]; !bytes.Equal(got, want) {
						t.Errorf("op %d: pixel %d = % x; want % x (%s)", tc.s[0], i, got, want, f.order)
					}
				}
			}
		})
	}
}

// inRect says whether FILL(x, y, w, h) covers pixel (i, j).
func inRect(i, j int, x, y, w, h uint32) bool {
	return uint64(x) <= uint64(i) && uint64(i) < uint64(x)+uint64(w) &&
		uint64(y) <= uint64(j) && uint64(j) < uint64(y)+uint64(h)
}

func TestRenderFillClipping(t *testing.T) {
	const W, H = 10, 8
	const max = 0xffffffff
	for _, r := range [][4]uint32{
		{2, 3, 4, 2}, {0, 0, W, H}, {7, 6, 5, 5}, {9, 7, 1, 1}, {10, 0, 1, 1}, {0, 8, 1, 1},
		{max, 0, 4, 4}, {0, max, 4, 4}, {3, 2, max, max}, {9, 7, max, max}, {max, max, max, max},
		{max - 1, 0, 10, 10}, {0, 0, 0, 5}, {0, 0, 5, 0}, {0, 0, max, 1},
	} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			surf := newSurface(W, H, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM)
			costs := run(t, rstream{}.cmd(OpFill, 1, r[0], r[1], r[2], r[3], 0x00a0b0c0), map[uint32]*Surface{1: surf})
			covered := 0
			for j := range H {
				for i := range W {
					p := surf.Pix[(j*W+i)*4:][:4]
					want := []byte{0, 0, 0, 0}
					if inRect(i, j, r[0], r[1], r[2], r[3]) {
						want = []byte{0xa0, 0xb0, 0xc0, 0xff}
						covered++
					}
					if !bytes.Equal(p, want) {
						t.Fatalf("pixel (%d, %d) = % x; want % x", i, j, p, want)
					}
				}
			}
			if want := int64(500 + covered/10); costs[0] != want {
				t.Errorf("cost = %d; want %d", costs[0], want)
			}
		})
	}
}

// fillDistinct gives every byte of s a value from seed.
func fillDistinct(s *Surface, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range s.Pix {
		s.Pix[i] = byte(r.Uint32())
	}
}

func TestRenderBlitFormats(t *testing.T) {
	for _, sf := range allFormats {
		for _, df := range allFormats {
			src, dst := newSurface(3, 1, sf.format), newSurface(3, 1, df.format)
			fillDistinct(src, uint64(sf.format))
			fillDistinct(dst, uint64(df.format)+1000)
			run(t, rstream{}.cmd(OpBlit, 1, 2, 0, 0, 0, 0, 3, 1), map[uint32]*Surface{1: src, 2: dst})
			for i := range 3 {
				s, d := src.Pix[4*i:][:4], dst.Pix[4*i:][:4]
				var want []byte
				if sf.format == df.format {
					want = s // byte for byte, X bytes included
				} else {
					var rgba uint32
					for j, c := range sf.order {
						switch c {
						case 'R':
							rgba |= uint32(s[j])
						case 'G':
							rgba |= uint32(s[j]) << 8
						case 'B':
							rgba |= uint32(s[j]) << 16
						case 'A':
							rgba |= uint32(s[j]) << 24
						}
					}
					if !strings.Contains(sf.order, "A") {
						rgba |= 0xff << 24
					}
					want = bytesIn(df.order, rgba)
				}
				if !bytes.Equal(d, want) {
					t.Errorf("%s → %s pixel %d: src % x, dst % x; want % x", sf.order, df.order, i, s, d, want)
				}
			}
		}
	}
}

// blitRef is BLIT done pixel by pixel through a temporary.
func blitRef(src, dst *Surface, sx, sy, dx, dy, w, h uint32) int {
	tmp := bytes.Clone(src.Pix)
	n := 0
	for j := uint64(0); j < min(uint64(h), 64); j++ {
		for i := uint64(0); i < min(uint64(w), 64); i++ {
			x, y, X, Y := uint64(sx)+i, uint64(sy)+j, uint64(dx)+i, uint64(dy)+j
			if x < uint64(src.Width) && y < uint64(src.Height) && X < uint64(dst.Width) && Y < uint64(dst.Height) {
				copy(dst.Pix[(Y*uint64(dst.Width)+X)*4:][:4], tmp[(y*uint64(src.Width)+x)*4:][:4])
				n++
			}
		}
	}
	return n
}

func TestRenderBlitClipping(t *testing.T) {
	const max = 0xffffffff
	for _, a := range [][6]uint32{
		{0, 0, 0, 0, 6, 5}, {1, 1, 2, 1, 3, 3}, {4, 3, 0, 0, 9, 9}, {0, 0, 3, 2, 9, 9},
		{max, 0, 0, 0, 2, 2}, {0, max, 0, 0, 2, 2}, {0, 0, max, 0, 2, 2}, {0, 0, 0, max, 2, 2},
		{2, 2, 1, 1, max, max}, {5, 4, 3, 2, max, 1}, {max, max, max, max, max, max}, {6, 0, 0, 0, 1, 1},
		{0, 0, 4, 0, 1, 1}, {0, 0, 0, 0, 0, 9},
	} {
		src, dst := newSurface(6, 5, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM), newSurface(4, 3, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM)
		fillDistinct(src, 1)
		fillDistinct(dst, 2)
		want := bytes.Clone(dst.Pix)
		n := blitRef(src, &Surface{dst.Width, dst.Height, dst.Format, want}, a[0], a[1], a[2], a[3], a[4], a[5])
		costs := run(t, rstream{}.cmd(OpBlit, 1, 2, a[0], a[1], a[2], a[3], a[4], a[5]), map[uint32]*Surface{1: src, 2: dst})
		if !bytes.Equal(dst.Pix, want) {
			t.Errorf("BLIT %v: dst = % x; want % x", a, dst.Pix, want)
		}
		if costs[0] != int64(500+n/5) {
			t.Errorf("BLIT %v: cost %d; want %d", a, costs[0], 500+n/5)
		}
	}
}

// A blit within one resource behaves as if it went through a temporary,
// whichever way the rectangles overlap; so does one between two surfaces
// sharing their pixels.
func TestRenderBlitOverlapping(t *testing.T) {
	const W, H = 7, 6
	for sy := uint32(0); sy < 3; sy++ {
		for sx := uint32(0); sx < 3; sx++ {
			for dy := uint32(0); dy < 3; dy++ {
				for dx := uint32(0); dx < 3; dx++ {
					for _, wh := range [][2]uint32{{5, 4}, {7, 6}, {2, 5}, {6, 1}} {
						args := []uint32{sx, sy, dx, dy, wh[0], wh[1]}
						surf := newSurface(W, H, VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM)
						fillDistinct(surf, uint64(sx+3*sy+9*dx+27*dy))
						want := bytes.Clone(surf.Pix)
						blitRef(surf, &Surface{W, H, surf.Format, want}, args[0], args[1], args[2], args[3], args[4], args[5])
						start := bytes.Clone(surf.Pix)
						run(t, rstream{}.cmd(OpBlit, append([]uint32{1, 1}, args...)...), map[uint32]*Surface{1: surf})
						if !bytes.Equal(surf.Pix, want) {
							t.Fatalf("self BLIT %v: wrong pixels", args)
						}
						// Two ids, one set of pixels.
						copy(surf.Pix, start)
						alias := &Surface{W, H, surf.Format, surf.Pix}
						run(t, rstream{}.cmd(OpBlit, append([]uint32{1, 2}, args...)...), map[uint32]*Surface{1: surf, 2: alias})
						if !bytes.Equal(surf.Pix, want) {
							t.Fatalf("aliased BLIT %v: wrong pixels", args)
						}
					}
				}
			}
		}
	}
	// Views of the same pixels with different widths and formats.
	pix := make([]byte, 12*4)
	fillDistinct(&Surface{Pix: pix}, 9)
	a := &Surface{4, 3, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, pix}
	b := &Surface{6, 2, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, pix}
	tmp := bytes.Clone(pix)
	want := bytes.Clone(pix)
	for j := range 2 {
		for i := range 3 {
			s := tmp[(j*4+i)*4:]
			copy(want[(j*6+i+1)*4:], []byte{s[2], s[1], s[0], s[3]})
		}
	}
	run(t, rstream{}.cmd(OpBlit, 1, 2, 0, 0, 1, 0, 3, 2), map[uint32]*Surface{1: a, 2: b})
	if !bytes.Equal(pix, want) {
		t.Errorf("BLIT between differing views of one buffer:\n got % x\nwant % x", pix, want)
	}
}

// drawOne draws one triangle into a fresh w×h R8G8B8A8 surface and
// returns it and the pixels written.
func drawOne(t testing.TB, w, h uint32, v [3]vtx) (*Surface, int64) {
	t.Helper()
	surf := newSurface(w, h, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM)
	l, _ := layoutOf(surf.Format)
	args := []uint32{}
	for _, x := range v {
		args = append(args, uint32(x.x), uint32(x.y), x.rgba)
	}
	return surf, drawTriangle(surf, l, args)
}

// written counts, per pixel, how many of the surfaces have a non-zero
// pixel there.
func addWritten(count []int, s *Surface) {
	for i := range count {
		if binary.LittleEndian.Uint32(s.Pix[4*i:]) != 0 {
			count[i]++
		}
	}
}

// Two triangles splitting a square along either diagonal, in either
// winding, write each pixel whose centre is in the square exactly once
// (top and left sides in, bottom and right out) and nothing else.
func TestRenderTrianglesShareDiagonal(t *testing.T) {
	const W, H = 24, 20
	r := rand.New(rand.NewPCG(7, 7))
	white := uint32(0xffffffff)
	for iter := range 400 {
		x0, y0 := r.Int32N(W*16+64)-32, r.Int32N(H*16+64)-32
		x1, y1 := x0+1+r.Int32N(W*16), y0+1+r.Int32N(H*16)
		if iter%4 == 0 { // on pixel boundaries and centres
			x0, y0, x1, y1 = x0&^7, y0&^7, x1&^7+8, y1&^7+8
		}
		a, b, c, d := vtx{x0, y0, white}, vtx{x1, y0, white}, vtx{x1, y1, white}, vtx{x0, y1, white}
		var pair [2][3]vtx
		if iter%2 == 0 {
			pair = [2][3]vtx{{a, b, c}, {a, c, d}}
		} else {
			pair = [2][3]vtx{{a, b, d}, {b, c, d}}
		}
		if iter%3 == 1 {
			pair[0][1], pair[0][2] = pair[0][2], pair[0][1]
		}
		if iter%5 == 2 {
			pair[1][0], pair[1][1] = pair[1][1], pair[1][0]
		}
		count := make([]int, W*H)
		var covered int64
		for _, tri := range pair {
			s, n := drawOne(t, W, H, tri)
			addWritten(count, s)
			covered += n
		}
		want := 0
		for j := range H {
			for i := range W {
				cx, cy := int32(i*16+8), int32(j*16+8)
				in := 0
				if x0 <= cx && cx < x1 && y0 <= cy && cy < y1 {
					in = 1
					want++
				}
				if count[j*W+i] != in {
					t.Fatalf("square (%d,%d)-(%d,%d) split %v: pixel (%d, %d) written %d times; want %d",
						x0, y0, x1, y1, pair, i, j, count[j*W+i], in)
				}
			}
		}
		if covered != int64(want) {
			t.Fatalf("square (%d,%d)-(%d,%d): %d pixels reported written; want %d", x0, y0, x1, y1, covered, want)
		}
	}
}

// A jittered mesh over a rectangle covers each pixel of the rectangle
// exactly once.
func TestRenderTrianglesMeshWatertight(t *testing.T) {
	const W, H, N = 40, 30, 5
	r := rand.New(rand.NewPCG(3, 4))
	var grid [N + 1][N + 1][2]int32
	for j := range N + 1 {
		for i := range N + 1 {
			x, y := int32(i*W*16/N), int32(j*H*16/N)
			if i > 0 && i < N {
				x += r.Int32N(61) - 30
			}
			if j > 0 && j < N {
				y += r.Int32N(61) - 30
			}
			grid[j][i] = [2]int32{x, y}
		}
	}
	v := func(i, j int) vtx { return vtx{grid[j][i][0], grid[j][i][1], 0xff123456} }
	count := make([]int, W*H)
	for j := range N {
		for i := range N {
			tris := [][3]vtx{{v(i, j), v(i+1, j), v(i+1, j+1)}, {v(i, j), v(i+1, j+1), v(i, j+1)}}
			if (i+j)%2 == 1 {
				tris = [][3]vtx{{v(i, j), v(i+1, j), v(i, j+1)}, {v(i+1, j+1), v(i+1, j), v(i, j+1)}}
			}
			for _, tri := range tris {
				s, _ := drawOne(t, W, H, tri)
				addWritten(count, s)
			}
		}
	}
	for k, c := range count {
		if c != 1 {
			t.Fatalf("pixel (%d, %d) written %d times; want 1", k%W, k/W, c)
		}
	}
}

// refTriangle is the spec done the slow way: every pixel of the surface,
// edge functions and the colour formula in big integers.
func refTriangle(w, h int, v [3]vtx) ([]byte, int64) {
	pix := make([]byte, w*h*4)
	big64 := func(x int32) *big.Int { return big.NewInt(int64(x)) }
	edge := func(a, b vtx, px, py int64) *big.Int {
		l := new(big.Int).Mul(new(big.Int).Sub(big64(b.x), big64(a.x)), new(big.Int).Sub(big.NewInt(py), big64(a.y)))
		r := new(big.Int).Mul(new(big.Int).Sub(big64(b.y), big64(a.y)), new(big.Int).Sub(big.NewInt(px), big64(a.x)))
		return l.Sub(l, r)
	}
	area := edge(v[0], v[1], int64(v[2].x), int64(v[2].y))
	if area.Sign() == 0 {
		return pix, 0
	}
	if area.Sign() < 0 {
		v[1], v[2] = v[2], v[1]
		area.Neg(area)
	}
	var n int64
	for py := range h {
		for px := range w {
			cx, cy := int64(px*16+8), int64(py*16+8)
			var ws [3]*big.Int
			inside := true
			for i := range 3 {
				a, b := v[(i+1)%3], v[(i+2)%3]
				ws[i] = edge(a, b, cx, cy)
				topLeft := b.y < a.y || (b.y == a.y && b.x > a.x)
				if ws[i].Sign() < 0 || (ws[i].Sign() == 0 && !topLeft) {
					inside = false
				}
			}
			if !inside {
				continue
			}
			n++
			for ch := range 4 {
				sum := new(big.Int).Rsh(area, 1)
				for i := range 3 {
					c := big.NewInt(int64(v[i].rgba >> (8 * ch) & 0xff))
					sum.Add(sum, c.Mul(c, ws[i]))
				}
				pix[(py*w+px)*4+ch] = byte(sum.Quo(sum, area).Int64())
			}
		}
	}
	return pix, n
}

func randomVertex(r *rand.Rand, w, h int32, huge bool) vtx {
	c := r.Uint32() | 0x01010101
	if huge && r.IntN(3) == 0 {
		return vtx{r.Int32N(1<<30+1) - 1<<29, r.Int32N(1<<30+1) - 1<<29, c}
	}
	return vtx{r.Int32N(w*16+200) - 100, r.Int32N(h*16+200) - 100, c}
}

// The span rasteriser with its stepped colours matches the spec evaluated
// pixel by pixel, for small and huge triangles.
func TestRenderTrianglesMatchReference(t *testing.T) {
	const W, H = 37, 23
	r := rand.New(rand.NewPCG(11, 12))
	for iter := range 600 {
		var v [3]vtx
		for i := range v {
			v[i] = randomVertex(r, W, H, iter%2 == 1)
		}
		if iter%7 == 0 { // shared x or y: horizontal and vertical edges
			v[1].y = v[0].y
			v[2].x = v[1].x
		}
		if iter%11 == 0 { // on pixel centres
			for i := range v {
				v[i].x, v[i].y = v[i].x&^15+8, v[i].y&^15+8
			}
		}
		got, n := drawOne(t, W, H, v)
		want, wantN := refTriangle(W, H, v)
		if n != wantN || !bytes.Equal(got.Pix, want) {
			for k := 0; k < W*H; k++ {
				if !bytes.Equal(got.Pix[4*k:4*k+4], want[4*k:4*k+4]) {
					t.Fatalf("triangle %v: pixel (%d, %d) = % x; want % x (written %d, want %d)",
						v, k%W, k/W, got.Pix[4*k:4*k+4], want[4*k:4*k+4], n, wantN)
				}
			}
			t.Fatalf("triangle %v: written %d; want %d", v, n, wantN)
		}
	}
}

// Each vertex's colour shows at the written pixels nearest to it, exactly
// where a vertex sits on a written pixel's centre.
func TestRenderTriangleVertexColours(t *testing.T) {
	const W, H = 48, 40
	red, green, blue := uint32(0xff0000ff), uint32(0xff00ff00), uint32(0xffff0000)
	// Vertices on pixel centres; v0's pixel is on a top and a left edge,
	// so it is written, with exactly red.
	v := [3]vtx{{2*16 + 8, 2*16 + 8, red}, {44*16 + 8, 2*16 + 8, green}, {8*16 + 8, 36*16 + 8, blue}}
	s, _ := drawOne(t, W, H, v)
	at := func(x, y int) []byte { return s.Pix[(y*W+x)*4:][:4] }
	if p := at(2, 2); !bytes.Equal(p, []byte{0xff, 0, 0, 0xff}) {
		t.Errorf("pixel under the red vertex = % x; want ff 00 00 ff", p)
	}
	for i, want := range [][3]int{{2, 2, 0}, {44, 2, 1}, {8, 36, 2}} {
		// The nearest written pixel.
		best, bx, by := 1<<30, 0, 0
		for y := range H {
			for x := range W {
				if at(x, y)[3] == 0 {
					continue
				}
				if d := (x-want[0])*(x-want[0]) + (y-want[1])*(y-want[1]); d < best {
					best, bx, by = d, x, y
				}
			}
		}
		p := at(bx, by)
		if p[want[2]] < 0xe0 || int(p[0])+int(p[1])+int(p[2])-int(p[want[2]]) > 0x40 || p[3] != 0xff {
			t.Errorf("vertex %d: nearest pixel (%d, %d) = % x; want about the vertex's colour", i, bx, by, p)
		}
	}
	// The centroid mixes all three.
	if p := at(18, 13); p[0] < 0x40 || p[1] < 0x40 || p[2] < 0x40 {
		t.Errorf("centroid = % x; want a mix", p)
	}
}

func TestRenderTriangleWindingDoesNotMatter(t *testing.T) {
	const W, H = 30, 20
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		var v [3]vtx
		for i := range v {
			v[i] = randomVertex(r, W, H, false)
		}
		a, na := drawOne(t, W, H, v)
		for _, perm := range [][3]int{{0, 2, 1}, {1, 2, 0}, {2, 1, 0}, {1, 0, 2}, {2, 0, 1}} {
			b, nb := drawOne(t, W, H, [3]vtx{v[perm[0]], v[perm[1]], v[perm[2]]})
			if na != nb || !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("triangle %v drawn as %v differs", v, perm)
			}
		}
	}
}

func TestRenderTriangleZeroArea(t *testing.T) {
	c := uint32(0xffffffff)
	for _, tri := range [][3]vtx{
		{px(1, 1, c), px(5, 5, c), px(9, 9, c)},        // collinear diagonal
		{px(0, 3, c), px(9, 3, c), px(4, 3, c)},        // collinear horizontal
		{{40, 40, c}, {40, 40, c}, {40, 40, c}},        // one point
		{px(2, 2, c), px(2, 2, c), px(8, 7, c)},        // two equal vertices
		{{-1 << 29, 8, c}, {0, 8, c}, {1 << 29, 8, c}}, // huge, flat
	} {
		surf := newSurface(10, 10, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM)
		costs := run(t, rstream{}.tris(1, tri[:]...), map[uint32]*Surface{1: surf})
		if !bytes.Equal(surf.Pix, make([]byte, len(surf.Pix))) {
			t.Errorf("zero-area triangle %v drew", tri)
		}
		if costs[0] != 1100 {
			t.Errorf("zero-area triangle %v: cost %d; want 1100", tri, costs[0])
		}
	}
}

// A triangle as large as the protocol allows costs the surface's pixels,
// not its own.
func TestRenderTriangleHuge(t *testing.T) {
	const lim = 1 << 29
	c := uint32(0xff00ff00)
	surf := newSurface(1000, 700, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM)
	start := time.Now()
	costs := run(t, rstream{}.tris(1, vtx{-lim, -lim, c}, vtx{lim, 0, c}, vtx{0, lim, c}), map[uint32]*Surface{1: surf})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a huge triangle took %v", el)
	}
	if want := int64(1000 + 100 + 1000*700/4); costs[0] != want {
		t.Errorf("cost = %d; want %d", costs[0], want)
	}
	for i := 0; i < len(surf.Pix); i += 4 {
		if !bytes.Equal(surf.Pix[i:i+4], []byte{0, 0xff, 0, 0xff}) {
			t.Fatalf("pixel %d = % x; want green", i/4, surf.Pix[i:i+4])
		}
	}
	// A long thin sliver: its bounding box is the whole surface, yet only
	// the pixels along it are visited and written.
	start = time.Now()
	var sliver rstream
	for range 200 {
		sliver = sliver.tris(1, vtx{-lim, -lim, c}, vtx{lim, lim, c}, vtx{lim - 20, lim, c})
	}
	run(t, sliver, map[uint32]*Surface{1: surf})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("200 slivers took %v", el)
	}
}

func TestRenderCosts(t *testing.T) {
	const W, H = 100, 50
	quad := func(res uint32, x0, y0, x1, y1 int32) rstream {
		c := uint32(0xff808080)
		return rstream{}.tris(res, px(x0, y0, c), px(x1, y0, c), px(x1, y1, c), px(x0, y0, c), px(x1, y1, c), px(x0, y1, c))
	}
	for _, tc := range []struct {
		name string
		s    rstream
		cost int64
		ok   bool
	}{
		{"nop", rstream{}.cmd(OpNop), 0, true},
		{"clear", rstream{}.cmd(OpClear, 1, 0), 1000 + 5000/10, true},
		{"clear unknown", rstream{}.cmd(OpClear, 9, 0), 1000, false},
		{"fill", rstream{}.cmd(OpFill, 1, 5, 5, 10, 10, 0), 500 + 10, true},
		{"fill clipped", rstream{}.cmd(OpFill, 1, 90, 45, 100, 100, 0), 500 + 5, true},
		{"fill outside", rstream{}.cmd(OpFill, 1, 100, 0, 100, 100, 0), 500, true},
		{"fill unknown", rstream{}.cmd(OpFill, 9, 0, 0, 1, 1, 0), 500, false},
		{"blit", rstream{}.cmd(OpBlit, 1, 2, 0, 0, 0, 0, 20, 5), 500 + 20, true},
		{"blit clipped by dst", rstream{}.cmd(OpBlit, 1, 2, 0, 0, 0, 10, 20, 5), 500 + 60/5, true},
		{"blit self", rstream{}.cmd(OpBlit, 1, 1, 0, 0, 3, 3, 20, 5), 500 + 20, true},
		{"blit unknown src", rstream{}.cmd(OpBlit, 9, 1, 0, 0, 0, 0, 20, 5), 500, false},
		{"blit unknown dst", rstream{}.cmd(OpBlit, 1, 9, 0, 0, 0, 0, 20, 5), 500, false},
		{"triangles", quad(1, 10, 10, 50, 30), 1000 + 200 + 800/4, true},
		{"triangles clipped", quad(1, 90, 40, 140, 90), 1000 + 200 + 100/4, true},
		{"triangles overdraw", rstream{}.tris(1, append(quad(1, 0, 0, 10, 10).vtxs(), quad(1, 0, 0, 10, 10).vtxs()...)...), 1000 + 400 + 200/4, true},
		{"triangles unknown", quad(9, 10, 10, 50, 30), 1000 + 200, false},
		{"wait", rstream{}.cmd(OpWait, 1, 2, 3, 4), 0, true},
		{"work", rstream{}.cmd(OpWork, 1234, 1), 1234 + 1<<32, true},
	} {
		m := map[uint32]*Surface{1: newSurface(W, H, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM), 2: newSurface(40, 13, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM)}
		ops, err := ParseStream(tc.s)
		if err != nil || len(ops) != 1 {
			t.Fatalf("%s: ParseStream = %v, %v", tc.name, ops, err)
		}
		if cost, ok := Execute(ops[0], lookupIn(m)); cost != tc.cost || ok != tc.ok {
			t.Errorf("%s: Execute = %d, %v; want %d, %v", tc.name, cost, ok, tc.cost, tc.ok)
		}
	}
}

// vtxs decodes the vertices of a one-command TRIANGLES stream.
func (s rstream) vtxs() []vtx {
	var vs []vtx
	for i := 12; i+12 <= len(s); i += 12 {
		d := func(k int) uint32 { return binary.LittleEndian.Uint32(s[i+4*k:]) }
		vs = append(vs, vtx{int32(d(0)), int32(d(1)), d(2)})
	}
	return vs
}

// Surfaces the renderer cannot draw into, and ops that ParseStream would
// reject, do nothing.
func TestRenderExecuteRejects(t *testing.T) {
	bad := map[uint32]*Surface{
		1: {Width: 4, Height: 4, Format: 99, Pix: make([]byte, 64)},
		2: {Width: 4, Height: 4, Format: VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, Pix: make([]byte, 63)},
		3: {Width: 0xffffffff, Height: 0xffffffff, Format: VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, Pix: make([]byte, 64)},
	}
	for id := uint32(1); id <= 4; id++ {
		for _, s := range []rstream{
			rstream{}.cmd(OpClear, id, 1),
			rstream{}.cmd(OpFill, id, 0, 0, 9, 9, 1),
			rstream{}.cmd(OpBlit, id, id, 0, 0, 1, 1, 9, 9),
			rstream{}.tris(id, px(0, 0, 1), px(4, 0, 1), px(0, 4, 1)),
		} {
			if _, ok := Execute(Op{uint16(s[0]), bytesToDwords(s[4:])}, lookupIn(bad)); ok {
				t.Errorf("op %d on surface %d: ok", s[0], id)
			}
		}
	}
	for id, s := range bad {
		if !bytes.Equal(s.Pix, make([]byte, len(s.Pix))) {
			t.Errorf("surface %d was drawn into", id)
		}
	}
	good := map[uint32]*Surface{1: newSurface(4, 4, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM), 2: newSurface(0, 0, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM),
		3: {Width: 0xffffffff, Height: 0, Format: VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM}, 4: {Width: 0, Height: 0xffffffff, Format: VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM}}
	for _, op := range []Op{
		{OpClear, []uint32{1}}, {OpFill, nil}, {OpBlit, []uint32{1, 1}}, {OpTriangles, []uint32{1, 1, 0}},
		{OpTriangles, []uint32{1, 0}}, {OpWork, []uint32{0, 0xffffffff}}, {OpWait, nil}, {99, nil}, {OpNop, []uint32{1}},
	} {
		if cost, ok := Execute(op, lookupIn(good)); ok || cost != 0 {
			t.Errorf("Execute(%+v) = %d, %v; want 0, false", op, cost, ok)
		}
	}
	// A surface with no pixels is fine, however wide or tall: everything
	// clips away.
	for id := uint32(2); id <= 4; id++ {
		for _, s := range []rstream{
			rstream{}.cmd(OpClear, id, 1), rstream{}.cmd(OpFill, id, 0, 0, 0xffffffff, 0xffffffff, 1),
			rstream{}.cmd(OpBlit, id, 1, 0, 0, 0, 0, 9, 9), rstream{}.cmd(OpBlit, 1, id, 0, 0, 0, 0, 9, 9),
			rstream{}.cmd(OpBlit, id, id, 0, 0, 1, 1, 0xffffffff, 0xffffffff),
			rstream{}.tris(id, px(0, 0, 1), px(4, 0, 1), px(0, 4, 1)),
		} {
			if _, ok := Execute(Op{uint16(s[0]), bytesToDwords(s[4:])}, lookupIn(good)); !ok {
				t.Errorf("op %d on empty surface %d: not ok", s[0], id)
			}
		}
	}
	if !bytes.Equal(good[1].Pix, make([]byte, 64)) {
		t.Error("blit from an empty surface drew")
	}
}

func bytesToDwords(b []byte) []uint32 {
	d := make([]uint32, len(b)/4)
	for i := range d {
		d[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return d
}

// goldenStream is a 160x120 landscape at dusk: a gradient sky, a sun made
// of a triangle fan setting behind mountains, a road, two houses (the second one's walls
// blitted from the first), a tree, stars, and a red-green-blue "hello
// triangle" kite on a string.
func goldenStream() rstream {
	const res = 1
	p := func(x, y int32, c uint32) vtx { return px(x, y, c) }
	s := rstream{}.cmd(OpClear, res, 0xff301810)
	// Sky: deep blue at the top to orange at the horizon; the second
	// triangle is wound the other way.
	top, topR, hor, horR := uint32(0xff5a1e14), uint32(0xff7a2a30), uint32(0xff4080f0), uint32(0xff50a0ff)
	s = s.tris(res, p(0, 0, top), p(160, 0, topR), p(0, 88, hor), p(160, 0, topR), p(0, 88, hor), p(160, 88, horR))
	// Stars.
	for _, st := range [][2]uint32{{10, 6}, {70, 4}, {100, 12}, {140, 8}, {130, 22}, {22, 40}, {150, 30}, {84, 24}} {
		s = s.cmd(OpFill, res, st[0], st[1], 1, 1, 0xffe0ffff)
	}
	// Sun: a 16-triangle fan, radius 14 px (224 in 28.4), white-yellow
	// centre to an orange rim.
	ring := [16][2]int32{{224, 0}, {207, 86}, {158, 158}, {86, 207}, {0, 224}, {-86, 207}, {-158, 158}, {-207, 86},
		{-224, 0}, {-207, -86}, {-158, -158}, {-86, -207}, {0, -224}, {86, -207}, {158, -158}, {207, -86}}
	cx, cy := int32(142*16), int32(52*16)
	var sun []vtx
	for i := range ring {
		a, b := ring[i], ring[(i+1)%16]
		sun = append(sun, vtx{cx, cy, 0xffc0ffff}, vtx{cx + a[0], cy + a[1], 0xff2090ff}, vtx{cx + b[0], cy + b[1], 0xff2090ff})
	}
	s = s.tris(res, sun...)
	// Mountains with snowy peaks, partly off screen.
	s = s.tris(res, p(-10, 88, 0xff503c3c), p(40, 36, 0xfff0f0f0), p(90, 88, 0xff503c3c),
		p(60, 88, 0xff604646), p(118, 48, 0xffe8e0e0), p(175, 88, 0xff604646))
	// Ground, then a road narrowing to the horizon.
	s = s.cmd(OpFill, res, 0, 88, 160, 32, 0xff2e8a3c)
	s = s.tris(res, p(60, 120, 0xff505050), p(100, 120, 0xff505050), p(82, 88, 0xff8a8a8a),
		p(60, 120, 0xff505050), p(82, 88, 0xff8a8a8a), p(78, 88, 0xff8a8a8a))
	for y := uint32(91); y < 120; y += 7 {
		s = s.cmd(OpFill, res, 80, y, 1, 3+(y-91)/7, 0xff60e0f0)
	}
	// House: walls, door, lit windows, roof.
	s = s.cmd(OpFill, res, 14, 70, 24, 20, 0xff2040b0).
		cmd(OpFill, res, 23, 78, 6, 12, 0xff10305a).
		cmd(OpFill, res, 16, 73, 5, 5, 0xff60e0ff).
		cmd(OpFill, res, 31, 73, 5, 5, 0xff60e0ff)
	s = s.tris(res, p(11, 70, 0xff1a1a80), p(26, 57, 0xff4040c0), p(41, 70, 0xff1a1a80))
	// The second house's walls are a copy of the first's.
	s = s.cmd(OpBlit, res, res, 14, 70, 122, 88, 24, 20)
	s = s.tris(res, p(119, 88, 0xff406020), p(134, 75, 0xff80c040), p(149, 88, 0xff406020))
	// Tree.
	s = s.cmd(OpFill, res, 104, 96, 3, 10, 0xff1a3a5a)
	s = s.tris(res, p(96, 98, 0xff205a1a), p(105, 74, 0xff50d060), p(114, 98, 0xff205a1a))
	// Kite on a string: a slanted quad one pixel wide, so one pixel a row.
	s = s.tris(res, p(48, 36, 0xffdcdcdc), p(49, 36, 0xffdcdcdc), p(67, 104, 0xff909090),
		p(48, 36, 0xffdcdcdc), p(67, 104, 0xff909090), p(66, 104, 0xff909090))
	s = s.tris(res, p(48, 6, 0xff0000ff), p(66, 36, 0xffff0000), p(30, 36, 0xff00ff00))
	return s
}

func TestRenderGoldenFrame(t *testing.T) {
	const W, H = 160, 120
	surf := newSurface(W, H, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM)
	costs := run(t, goldenStream(), map[uint32]*Surface{1: surf})
	var total int64
	for _, c := range costs {
		if c < 0 {
			t.Fatalf("negative cost %d", c)
		}
		total += c
	}
	t.Logf("golden frame: %d commands, modelled %d ns", len(costs), total)

	path := filepath.Join("testdata", "frame.golden.png")
	if *update {
		img := &image.NRGBA{Pix: bytes.Clone(surf.Pix), Stride: W * 4, Rect: image.Rect(0, 0, W, H)}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, W, H) {
		t.Fatalf("golden is %v; want %dx%d", b, W, H)
	}
	diff, first := 0, ""
	for y := range H {
		for x := range W {
			g := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			p := surf.Pix[(y*W+x)*4:]
			if got := (color.NRGBA{p[0], p[1], p[2], p[3]}); got != g {
				if diff == 0 {
					first = fmt.Sprintf("(%d, %d) = %v, golden %v", x, y, got, g)
				}
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("frame differs from %s in %d pixels; first at %s (run with -update if the change is intended)", path, diff, first)
	}
}

// FuzzParseStream parses arbitrary bytes; what parses must re-encode to
// the same bytes and run against small surfaces without panicking, with
// costs within the model's bounds.
func FuzzParseStream(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(goldenStream()))
	f.Add([]byte(rstream{}.cmd(OpClear, 1, 0xff00ff00).cmd(OpFill, 2, 3, 3, 0xffffffff, 4, 0x12345678).
		cmd(OpBlit, 1, 3, 0, 0, 5, 5, 20, 20).cmd(OpBlit, 1, 2, 0, 0, 0, 0, 32, 32).
		cmd(OpWait, 1, 2, 3, 4).cmd(OpWork, 1000, 0).cmd(OpNop)))
	f.Add([]byte(rstream{}.tris(1, px(0, 0, 1), px(40, 3, 2), px(5, 30, 3), vtx{-1 << 29, 0, 4}, vtx{1 << 29, 8, 5}, vtx{0, 1 << 29, 6})))
	f.Add([]byte(rstream{}.raw(OpTriangles|11<<16, 2, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := ParseStream(b)
		if err != nil {
			var se *StreamError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(b) || ops != nil {
				t.Fatalf("error %v (%T) with %d ops", err, err, len(ops))
			}
			return
		}
		if len(ops) > maxStreamCommands {
			t.Fatalf("%d ops", len(ops))
		}
		var re rstream
		for _, op := range ops {
			re = re.cmd(op.Code, op.Args...)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("ops re-encode differently")
		}
		large, small := newSurface(32, 32, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM), newSurface(17, 9, VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM)
		lookup := func(id uint32) *Surface {
			switch id % 4 {
			case 1:
				return large
			case 2:
				return small
			case 3: // another id for large's pixels
				return &Surface{large.Width, large.Height, large.Format, large.Pix}
			}
			return nil
		}
		for _, op := range ops {
			cost, _ := Execute(op, lookup)
			var most int64
			switch op.Code {
			case OpClear:
				most = 1000 + 32*32/10
			case OpFill:
				most = 500 + 32*32/10
			case OpBlit:
				most = 500 + 32*32/5
			case OpTriangles:
				n := int64(op.Args[1])
				most = 1000 + 100*n + n*32*32/4
			case OpWork:
				most = maxWorkNanos
			}
			if cost < 0 || cost > most {
				t.Fatalf("op %d cost %d; want 0..%d", op.Code, cost, most)
			}
		}
		for i := 0; i < len(small.Pix); i += 4 {
			if small.Pix[i] != 0 && small.Pix[i] != 0xff {
				t.Fatalf("X byte of pixel %d = %#x", i/4, small.Pix[i])
			}
		}
	})
}

// WorkCommand encodes what WorkNanos decodes.
func TestWorkCommand(t *testing.T) {
	ops, err := ParseStream(WorkCommand(5_000_000_123))
	if err != nil || len(ops) != 1 || ops[0].WorkNanos() != 5_000_000_123 {
		t.Errorf("ParseStream(WorkCommand) = %v, %v", ops, err)
	}
}
