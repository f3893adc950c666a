// fencelab's capset protocol, version 1
//
// This is the document a guest author needs to drive fencelab's renderer.
//
// # Capset
//
// GET_CAPSET_INFO reports capset id 31 (VIRTIO_GPU_CAPSET_FENCELAB),
// version 1 (FencelabCapsetVersion). A context created with CTX_CREATE
// (context_init 0 or 31) speaks this protocol: SUBMIT_3D carries a command
// stream for it.
//
// # Command stream
//
// A stream is a sequence of little-endian u32 dwords; its byte length must
// be a multiple of 4. Each command is a header dword followed by its
// payload:
//
//	header = opcode | payload_dwords << 16
//
// so the low 16 bits are the opcode and the high 16 bits the payload length
// in dwords (0..65535). A stream holds at most 65536 commands (an empty
// stream is valid and does nothing). The whole stream is checked before
// anything runs: an unknown opcode, a payload length an opcode does not
// take, a command cut off by the end of the stream, a length that is not a
// multiple of 4, or any other rule below broken makes the whole SUBMIT_3D
// fail with ERR_INVALID_PARAMETER and nothing of it runs.
//
// # Opcodes
//
// Resource ids name resources attached to the device (2D or 3D). A command
// naming a resource that does not exist when it runs draws nothing; it still
// costs its fixed part (below). Coordinates and sizes are u32 pixels;
// rectangles are clipped to the resources, so any values are safe.
//
//	0x00 NOP        payload 0 dwords
//	                Does nothing.
//	0x01 CLEAR      payload 2: resource_id, rgba
//	                Fills the whole resource with rgba.
//	0x02 FILL       payload 6: resource_id, x, y, w, h, rgba
//	                Fills the rectangle (x, y, w, h) clipped to the resource.
//	0x03 BLIT       payload 8: src_id, dst_id, sx, sy, dx, dy, w, h
//	                Copies the w×h block at (sx, sy) of src to (dx, dy) of
//	                dst. The block is clipped to both resources (a pixel is
//	                copied only if both its source and its destination lie
//	                inside). src and dst may be the same resource, with
//	                overlapping rectangles: the result is as if the block
//	                went through a temporary. Same format: bytes are copied
//	                as they are (X bytes included). Different formats: each
//	                pixel is converted through R,G,B,A; a source X byte reads
//	                as alpha 0xff.
//	0x04 TRIANGLES  payload 2+9n: resource_id, n, then n triangles
//	                n ≥ 1, and the payload length must be exactly 2+9n.
//	                A triangle is 3 vertices; a vertex is 3 dwords:
//	                  x   i32, 28.4 fixed point (pixels × 16)
//	                  y   i32, 28.4 fixed point
//	                  rgba
//	                Every x and y must lie in [-2^29, 2^29] (±33554432
//	                pixels), which keeps all rasteriser arithmetic exact in
//	                64-bit integers; a coordinate outside is a stream error.
//	0x05 WAIT       payload 4: ctx_id, ring_idx, fence_id_lo, fence_id_hi
//	                The device holds the rest of this submission until
//	                fence_id (64 bits) has retired on the timeline (ctx_id,
//	                ring_idx & 0xff); ctx_id 0 names the device's global
//	                timeline. Draws nothing.
//	0x06 WORK       payload 2: ns_lo, ns_hi
//	                Models ns (64 bits) of GPU time that draws nothing;
//	                ns ≤ 10_000_000_000 (10 s), more is a stream error.
//
// # Colours and pixel formats
//
// An rgba dword holds the bytes R, G, B, A in memory order, so its value is
// 0xAABBGGRR. Every format has 4 bytes a pixel, rows packed (stride = width
// × 4); format names give the byte order in memory:
//
//	  1 B8G8R8A8   B G R A        67 R8G8B8A8   R G B A
//	  2 B8G8R8X8   B G R X        68 X8B8G8R8   X B G R
//	  3 A8R8G8B8   A R G B       121 A8B8G8R8   A B G R
//	  4 X8R8G8B8   X R G B       134 R8G8B8X8   R G B X
//
// Writes replace pixels (no blending): A bytes get the colour's alpha, X
// bytes are written as 0xff.
//
// # Rasterisation
//
// Pixel (px, py) has its centre at (px·16+8, py·16+8) in 28.4; y grows
// downwards. The pixel is drawn when its centre is inside the triangle, by
// exact 64-bit edge functions
//
//	E_ab(p) = (b.x−a.x)·(p.y−a.y) − (b.y−a.y)·(p.x−a.x)
//
// Either winding is drawn (a triangle with negative area has two vertices
// swapped first); a triangle of zero area draws nothing. A centre exactly
// on an edge is inside only if the edge is a top edge (horizontal, the
// triangle below it) or a left edge (the triangle to its right): the
// top-left rule, so triangles sharing an edge cover each pixel along it
// exactly once. Work is bounded by the triangle's bounding box clipped to
// the resource.
//
// Colour is interpolated per channel (R, G, B and A) with the integer
// barycentric weights w0 = E_12(p), w1 = E_20(p), w2 = E_01(p) of the pixel
// centre, where area = w0+w1+w2 is twice the triangle's area:
//
//	channel = (w0·c0 + w1·c1 + w2·c2 + area/2) / area   (exact, integer)
//
// so a pixel centre on a vertex gets that vertex's colour exactly.
// Triangles are drawn in order, later ones over earlier ones.
//
// # Cost model
//
// Every command has a modelled GPU time in integer nanoseconds; the device
// runs a submission for the sum of its commands' times:
//
//	NOP         0
//	CLEAR       1000 + pixels/10     pixels = width × height
//	FILL        500 + covered/10     covered = pixels in the clipped rectangle
//	BLIT        500 + copied/5       copied = pixels in the clipped block
//	TRIANGLES   1000 + 100·n + covered/4
//	                                 covered = pixels written, summed over
//	                                 the command's triangles
//	WAIT        0 (the time spent waiting is the other timeline's)
//	WORK        ns
//
// Divisions round down. A command naming a missing resource costs its
// fixed part (1000, 500, or 1000 + 100·n).

package device

import (
	"fmt"
	"math/bits"
)

// VIRTIO_GPU_CAPSET_FENCELAB is the capset id of fencelab's protocol.
const VIRTIO_GPU_CAPSET_FENCELAB = 31

// FencelabCapsetVersion is the protocol version this renderer speaks.
const FencelabCapsetVersion = 1

// Opcodes of fencelab's command stream.
const (
	OpNop       = 0
	OpClear     = 1
	OpFill      = 2
	OpBlit      = 3
	OpTriangles = 4
	OpWait      = 5
	OpWork      = 6
)

// Limits of the command stream.
const (
	maxStreamCommands = 65536
	maxWorkNanos      = 10_000_000_000
	// maxVertexCoord bounds |x| and |y| of a vertex in 28.4: deltas and
	// centre offsets stay within 2^30, edge functions within 2^61.
	maxVertexCoord = 1 << 29
)

// Surface is a resource as the renderer sees it; Pix aliases the
// resource's pixels (Width*Height*4 bytes, rows packed).
type Surface struct {
	Width, Height, Format uint32
	Pix                   []byte
}

// Op is one decoded command. Args is the payload; ParseStream copies it out
// of the stream, so the ops stay valid when the stream's memory changes.
type Op struct {
	Code uint16
	Args []uint32
}

// StreamError is ParseStream's error: the byte offset in the stream of the
// command at fault (for a length that is not a multiple of 4, of the
// partial dword at the end) and what is wrong.
type StreamError struct {
	Offset int
	Msg    string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("fencelab stream: byte %d: %s", e.Offset, e.Msg)
}

var opNames = [...]string{"NOP", "CLEAR", "FILL", "BLIT", "TRIANGLES", "WAIT", "WORK"}

// fixedArgs is the payload length of each fixed-size opcode; -1 for
// TRIANGLES.
var fixedArgs = [...]int{0, 2, 6, 8, -1, 4, 2}

// ParseStream decodes a command stream. It returns the ops, or a
// *StreamError naming the byte offset and the problem; on error nothing is
// returned, so no part of a bad stream runs. It allocates O(len(b)).
func ParseStream(b []byte) ([]Op, error) {
	if len(b)%4 != 0 {
		return nil, &StreamError{len(b) &^ 3, fmt.Sprintf("stream length %d is not a multiple of 4", len(b))}
	}
	dw := make([]uint32, len(b)/4)
	for i := range dw {
		dw[i] = le.Uint32(b[4*i:])
	}
	// First pass: check every command and count them.
	count := 0
	for i := 0; i < len(dw); {
		if count == maxStreamCommands {
			return nil, &StreamError{4 * i, fmt.Sprintf("more than %d commands", maxStreamCommands)}
		}
		code, n := uint16(dw[i]), int(dw[i]>>16)
		if int(code) >= len(fixedArgs) {
			return nil, &StreamError{4 * i, fmt.Sprintf("unknown opcode 0x%04x", code)}
		}
		if n > len(dw)-i-1 {
			return nil, &StreamError{4 * i, fmt.Sprintf("%s: truncated payload: header says %d dwords, %d remain",
				opNames[code], n, len(dw)-i-1)}
		}
		if msg := checkArgs(code, dw[i+1:i+1+n]); msg != "" {
			return nil, &StreamError{4 * i, msg}
		}
		count++
		i += 1 + n
	}
	ops := make([]Op, 0, count)
	for i := 0; i < len(dw); {
		n := int(dw[i] >> 16)
		ops = append(ops, Op{Code: uint16(dw[i]), Args: dw[i+1 : i+1+n : i+1+n]})
		i += 1 + n
	}
	return ops, nil
}

// checkArgs checks a command's payload; it returns what is wrong, or "".
func checkArgs(code uint16, a []uint32) string {
	if int(code) >= len(fixedArgs) {
		return fmt.Sprintf("unknown opcode 0x%04x", code)
	}
	if code == OpTriangles {
		if len(a) < 2 {
			return fmt.Sprintf("TRIANGLES: payload of %d dwords; it needs resource_id, n and 9 dwords a triangle", len(a))
		}
		n := uint64(a[1])
		if n == 0 {
			return "TRIANGLES: n = 0"
		}
		if 2+9*n != uint64(len(a)) {
			return fmt.Sprintf("TRIANGLES: n = %d needs a payload of %d dwords, not %d", n, 2+9*n, len(a))
		}
		for i := 2; i < len(a); i += 3 {
			x, y := int64(int32(a[i])), int64(int32(a[i+1]))
			if x < -maxVertexCoord || x > maxVertexCoord || y < -maxVertexCoord || y > maxVertexCoord {
				t := (i - 2) / 9
				return fmt.Sprintf("TRIANGLES: triangle %d vertex %d at (%d, %d) is outside ±2^29 (28.4)",
					t, (i-2-9*t)/3, x, y)
			}
		}
		return ""
	}
	if want := fixedArgs[code]; len(a) != want {
		return fmt.Sprintf("%s takes %d payload dwords, not %d", opNames[code], want, len(a))
	}
	if code == OpWork {
		if ns := uint64(a[0]) | uint64(a[1])<<32; ns > maxWorkNanos {
			return fmt.Sprintf("WORK of %d ns is more than 10 s", ns)
		}
	}
	return ""
}

// WaitTarget returns the (ctx, ring, fence) of an OpWait; ring is the low 8
// bits of ring_idx. Any other op gives zeros.
func (op Op) WaitTarget() (ctx uint32, ring uint8, fence uint64) {
	if op.Code != OpWait || len(op.Args) != 4 {
		return 0, 0, 0
	}
	a := op.Args
	return a[0], uint8(a[1]), uint64(a[2]) | uint64(a[3])<<32
}

// WorkCommand is a command stream of one OpWork costing ns of modelled
// GPU time (what WorkNanos reads back).
func WorkCommand(ns int64) []byte {
	b := le.AppendUint32(nil, uint32(OpWork)|2<<16)
	b = le.AppendUint32(b, uint32(ns))
	return le.AppendUint32(b, uint32(uint64(ns)>>32))
}

// WorkNanos returns the nanoseconds of an OpWork; any other op gives 0.
func (op Op) WorkNanos() int64 {
	if op.Code != OpWork || len(op.Args) != 2 {
		return 0
	}
	ns := uint64(op.Args[0]) | uint64(op.Args[1])<<32
	if ns > maxWorkNanos {
		return 0
	}
	return int64(ns)
}

// Execute runs op against the surfaces lookup returns and returns the
// modelled cost in ns. A nil surface (an unknown resource), or one whose
// format is unknown or whose Pix is shorter than Width*Height*4, makes the
// op draw nothing and return ok=false with its fixed cost. WAIT and WORK
// draw nothing (WORK's cost is its ns). An op ParseStream would reject
// costs 0 and returns ok=false.
func Execute(op Op, lookup func(id uint32) *Surface) (cost int64, ok bool) {
	if checkArgs(op.Code, op.Args) != "" {
		return 0, false
	}
	a := op.Args
	switch op.Code {
	case OpNop, OpWait:
		return 0, true
	case OpWork:
		return op.WorkNanos(), true
	case OpClear:
		s, l, ok := surfaceOf(lookup, a[0])
		if !ok {
			return 1000, false
		}
		n := int(s.Width) * int(s.Height)
		fillPattern(s.Pix[:4*n], l.pack(a[1]))
		return 1000 + int64(n)/10, true
	case OpFill:
		s, l, ok := surfaceOf(lookup, a[0])
		if !ok {
			return 500, false
		}
		return 500 + fill(s, l, a[1], a[2], a[3], a[4], a[5])/10, true
	case OpBlit:
		src, sl, ok1 := surfaceOf(lookup, a[0])
		dst, dl, ok2 := surfaceOf(lookup, a[1])
		if !ok1 || !ok2 {
			return 500, false
		}
		return 500 + blit(src, dst, sl, dl, a[0] == a[1], a[2], a[3], a[4], a[5], a[6], a[7])/5, true
	case OpTriangles:
		n := int64(a[1])
		s, l, ok := surfaceOf(lookup, a[0])
		if !ok {
			return 1000 + 100*n, false
		}
		var covered int64
		for t := a[2:]; len(t) >= 9; t = t[9:] {
			covered += drawTriangle(s, l, t[:9])
		}
		return 1000 + 100*n + covered/4, true
	}
	return 0, false
}

// layout gives the byte of each channel in a pixel; alpha false means the
// a byte is X: written 0xff, read as alpha 0xff.
type layout struct {
	r, g, b, a int
	alpha      bool
}

func layoutOf(format uint32) (layout, bool) {
	switch format {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
		return layout{2, 1, 0, 3, true}, true
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
		return layout{2, 1, 0, 3, false}, true
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
		return layout{1, 2, 3, 0, true}, true
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
		return layout{1, 2, 3, 0, false}, true
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
		return layout{0, 1, 2, 3, true}, true
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
		return layout{3, 2, 1, 0, false}, true
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
		return layout{3, 2, 1, 0, true}, true
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
		return layout{0, 1, 2, 3, false}, true
	}
	return layout{}, false
}

// Channels gives the byte offsets of red, green, blue and alpha in a
// pixel of a virtio-gpu format; hasAlpha false means the alpha byte is X
// (ignored, read as opaque). ok is false for a format fencelab does not
// know.
func Channels(format uint32) (r, g, b, a int, hasAlpha, ok bool) {
	l, ok := layoutOf(format)
	return l.r, l.g, l.b, l.a, l.alpha, ok
}

// pack turns an rgba dword (0xAABBGGRR) into a pixel's bytes.
func (l layout) pack(rgba uint32) [4]byte {
	var p [4]byte
	l.put(p[:], byte(rgba), byte(rgba>>8), byte(rgba>>16), byte(rgba>>24))
	return p
}

func (l layout) put(p []byte, r, g, b, a byte) {
	if !l.alpha {
		a = 0xff
	}
	p[l.r], p[l.g], p[l.b], p[l.a] = r, g, b, a
}

func (l layout) get(p []byte) (r, g, b, a byte) {
	a = 0xff
	if l.alpha {
		a = p[l.a]
	}
	return p[l.r], p[l.g], p[l.b], a
}

// surfaceOf looks a resource up and checks it can be drawn into.
func surfaceOf(lookup func(uint32) *Surface, id uint32) (*Surface, layout, bool) {
	s := lookup(id)
	if s == nil {
		return nil, layout{}, false
	}
	l, ok := layoutOf(s.Format)
	if !ok || uint64(s.Width)*uint64(s.Height) > uint64(len(s.Pix)/4) {
		return nil, layout{}, false
	}
	return s, l, true
}

// fillPattern repeats the 4-byte pixel p over dst, whose length is a
// multiple of 4.
func fillPattern(dst []byte, p [4]byte) {
	if len(dst) == 0 {
		return
	}
	copy(dst, p[:])
	for n := 4; n < len(dst); n *= 2 {
		copy(dst[n:], dst[:n])
	}
}

// clipSpan is how much of [pos, pos+length) lies inside [0, size).
func clipSpan(pos, length, size uint32) int {
	if pos >= size {
		return 0
	}
	return int(min(uint64(length), uint64(size-pos)))
}

// fill fills a rectangle clipped to s and returns the pixels covered.
func fill(s *Surface, l layout, x, y, w, h, rgba uint32) int64 {
	cw, ch := clipSpan(x, w, s.Width), clipSpan(y, h, s.Height)
	if cw == 0 || ch == 0 {
		return 0
	}
	stride, rowBytes := int(s.Width)*4, cw*4
	first := s.Pix[int(y)*stride+int(x)*4:][:rowBytes]
	fillPattern(first, l.pack(rgba))
	for j := 1; j < ch; j++ {
		copy(s.Pix[(int(y)+j)*stride+int(x)*4:][:rowBytes], first)
	}
	return int64(cw) * int64(ch)
}

// blit copies a block clipped to both surfaces and returns the pixels
// copied. sameID says src and dst are the same resource.
func blit(src, dst *Surface, sl, dl layout, sameID bool, sx, sy, dx, dy, w, h uint32) int64 {
	cw := min(clipSpan(sx, w, src.Width), clipSpan(dx, w, dst.Width))
	ch := min(clipSpan(sy, h, src.Height), clipSpan(dy, h, dst.Height))
	if cw == 0 || ch == 0 {
		return 0
	}
	sStride, dStride, rowBytes := int(src.Width)*4, int(dst.Width)*4, cw*4
	srcRow := func(j int) []byte { return src.Pix[(int(sy)+j)*sStride+int(sx)*4:][:rowBytes] }
	dstRow := func(j int) []byte { return dst.Pix[(int(dy)+j)*dStride+int(dx)*4:][:rowBytes] }
	aliased := sameID || &src.Pix[0] == &dst.Pix[0]
	switch {
	case src.Format == dst.Format && (!aliased || src.Width == dst.Width):
		// One surface: copy rows in the order that reads each source row
		// before it is overwritten; copy itself handles a row overlapping
		// itself.
		if aliased && dy > sy {
			for j := ch - 1; j >= 0; j-- {
				copy(dstRow(j), srcRow(j))
			}
		} else {
			for j := 0; j < ch; j++ {
				copy(dstRow(j), srcRow(j))
			}
		}
	default:
		var tmp []byte
		if aliased { // views of the same pixels that differ: go through a temporary
			tmp = make([]byte, rowBytes*ch)
			for j := 0; j < ch; j++ {
				copy(tmp[j*rowBytes:], srcRow(j))
			}
		}
		for j := 0; j < ch; j++ {
			s, d := srcRow(j), dstRow(j)
			if tmp != nil {
				s = tmp[j*rowBytes:][:rowBytes]
			}
			if src.Format == dst.Format {
				copy(d, s)
				continue
			}
			for i := 0; i < rowBytes; i += 4 {
				r, g, b, a := sl.get(s[i:])
				dl.put(d[i:], r, g, b, a)
			}
		}
	}
	return int64(cw) * int64(ch)
}

// floorDiv is ⌊a/b⌋ for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

type vertex struct {
	x, y int64
	rgba uint32
}

// edgeFn is E_ab(p), exact for coordinates within ±2^29 (|E| < 2^62).
func edgeFn(a, b vertex, px, py int64) int64 {
	return (b.x-a.x)*(py-a.y) - (b.y-a.y)*(px-a.x)
}

// drawTriangle rasterises one triangle (9 dwords) into s and returns the
// pixels written. Coordinates were checked to lie within ±2^29.
//
// Each row is solved for the span of pixels inside all three edges, so the
// work is the rows of the clipped bounding box plus the pixels written.
// Along a span the colour numerators grow by a constant, so each channel's
// quotient and remainder step exactly without dividing per pixel.
func drawTriangle(s *Surface, l layout, t []uint32) int64 {
	var v [3]vertex
	for i := range v {
		v[i] = vertex{int64(int32(t[3*i])), int64(int32(t[3*i+1])), t[3*i+2]}
	}
	area := edgeFn(v[0], v[1], v[2].x, v[2].y)
	if area == 0 {
		return 0
	}
	if area < 0 {
		v[1], v[2] = v[2], v[1]
		area = -area
	}
	minX, maxX := min(v[0].x, v[1].x, v[2].x), max(v[0].x, v[1].x, v[2].x)
	minY, maxY := min(v[0].y, v[1].y, v[2].y), max(v[0].y, v[1].y, v[2].y)
	x0, x1 := max(ceilDiv(minX-8, 16), 0), min(floorDiv(maxX-8, 16), int64(s.Width)-1)
	y0, y1 := max(ceilDiv(minY-8, 16), 0), min(floorDiv(maxY-8, 16), int64(s.Height)-1)
	if x0 > x1 || y0 > y1 {
		return 0
	}

	// Edge i is opposite vertex i; its function is vertex i's weight.
	type edge struct {
		e            int64 // value at the centre of (x0, current row)
		stepX, stepY int64 // change a pixel right, a row down
		min          int64 // 0 for a top or left edge, else 1
	}
	var es [3]edge
	for i := range es {
		a, b := v[(i+1)%3], v[(i+2)%3]
		dx, dy := b.x-a.x, b.y-a.y
		es[i] = edge{e: edgeFn(a, b, x0*16+8, y0*16+8), stepX: -dy * 16, stepY: dx * 16, min: 1}
		if dy < 0 || (dy == 0 && dx > 0) {
			es[i].min = 0
		}
	}

	var c [3][4]uint64 // vertex, channel
	for i := range v {
		for ch := range 4 {
			c[i][ch] = uint64(v[i].rgba >> (8 * ch) & 0xff)
		}
	}
	flat := v[0].rgba == v[1].rgba && v[1].rgba == v[2].rgba
	flatPix := l.pack(v[0].rgba)
	// Per channel, how the numerator changes a pixel right, as
	// dq·area + dr with 0 ≤ dr < area.
	var dq, dr [4]int64
	for ch := range 4 {
		d := es[0].stepX*int64(c[0][ch]) + es[1].stepX*int64(c[1][ch]) + es[2].stepX*int64(c[2][ch])
		dq[ch] = floorDiv(d, area)
		dr[ch] = d - dq[ch]*area
	}

	stride := int(s.Width) * 4
	var covered int64
	for py := y0; py <= y1; py++ {
		lo, hi := int64(0), x1-x0
		for i := range es {
			e := &es[i]
			need := e.min - e.e // inside where k·stepX ≥ need
			switch {
			case e.stepX > 0:
				lo = max(lo, ceilDiv(need, e.stepX))
			case e.stepX < 0:
				hi = min(hi, floorDiv(-need, -e.stepX))
			case need > 0:
				hi = -1
			}
		}
		if lo <= hi {
			covered += hi - lo + 1
			row := s.Pix[int(py)*stride:]
			off, end := int(x0+lo)*4, int(x0+hi)*4
			if flat {
				fillPattern(row[off:end+4], flatPix)
			} else {
				var w [3]uint64
				for i := range es {
					w[i] = uint64(es[i].e + lo*es[i].stepX) // ≥ 0: the pixel is inside
				}
				var q, r [4]int64
				for ch := range 4 {
					q[ch], r[ch] = interpolate(w, c[0][ch], c[1][ch], c[2][ch], uint64(area))
				}
				gouraudSpan(row[off:end+4], l, q, r, dq, dr, area)
			}
		}
		for i := range es {
			es[i].e += es[i].stepY
		}
	}
	return covered
}

// interpolate returns the quotient and remainder of
// (w0·c0 + w1·c1 + w2·c2 + area/2) / area in 128-bit arithmetic; the
// weights are at most 2^62, so the products may not fit in 64 bits.
// gouraudSpan writes a run of pixels whose channels start at q (with
// remainders r over area) and step by dq, dr a pixel: the exact
// incremental form of the barycentric interpolation. It is the
// rasteriser's innermost loop, so the channels are kept in locals and
// the byte offsets hoisted (the browser's wasm build runs it too).
func gouraudSpan(px []byte, l layout, q, r, dq, dr [4]int64, area int64) {
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	r0, r1, r2, r3 := r[0], r[1], r[2], r[3]
	dq0, dq1, dq2, dq3 := dq[0], dq[1], dq[2], dq[3]
	dr0, dr1, dr2, dr3 := dr[0], dr[1], dr[2], dr[3]
	ri, gi, bi, ai := l.r, l.g, l.b, l.a
	for off := 0; off+3 < len(px); off += 4 {
		p := px[off : off+4 : off+4]
		p[ri], p[gi], p[bi], p[ai] = byte(q0), byte(q1), byte(q2), 0xff
		if l.alpha { // an X byte is 0xff; its channel is not worth stepping
			p[ai] = byte(q3)
			q3, r3 = q3+dq3, r3+dr3
			if r3 >= area {
				r3 -= area
				q3++
			}
		}
		q0, r0 = q0+dq0, r0+dr0
		if r0 >= area {
			r0 -= area
			q0++
		}
		q1, r1 = q1+dq1, r1+dr1
		if r1 >= area {
			r1 -= area
			q1++
		}
		q2, r2 = q2+dq2, r2+dr2
		if r2 >= area {
			r2 -= area
			q2++
		}
	}
}

func interpolate(w [3]uint64, c0, c1, c2, area uint64) (q, r int64) {
	var hi, lo, carry uint64
	for i, c := range [3]uint64{c0, c1, c2} {
		h, l := bits.Mul64(w[i], c)
		lo, carry = bits.Add64(lo, l, 0)
		hi += h + carry
	}
	lo, carry = bits.Add64(lo, area/2, 0)
	hi += carry
	qq, rr := bits.Div64(hi, lo, area) // hi < area: the quotient is below 256
	return int64(qq), int64(rr)
}
