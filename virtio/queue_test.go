package virtio

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

const (
	testMemSize = 256 << 10
	dataBase    = 0x10000 // test buffers and indirect tables live from here on

	featIndirect = uint64(1) << VIRTIO_F_INDIRECT_DESC
	featEventIdx = uint64(1) << VIRTIO_F_EVENT_IDX
)

// testLayout packs a queue of size n at the bottom of memory: descriptor
// table at 0, available ring right after it, used ring 4-byte aligned
// after that. For n ≤ 256 everything ends below dataBase.
func testLayout(n uint16) Layout {
	avail := uint64(n) * DescSize
	used := (avail + AvailBytes(n) + 3) &^ 3
	return Layout{Size: n, Desc: 0, Avail: avail, Used: used}
}

// Field addresses, written out from §2.7 rather than taken from the code
// under test.
func availFlagsAddr(l Layout) uint64          { return l.Avail }
func availIdxAddr(l Layout) uint64            { return l.Avail + 2 }
func availRingAddr(l Layout, i uint16) uint64 { return l.Avail + 4 + 2*uint64(i%l.Size) }
func usedEventAddr(l Layout) uint64           { return l.Avail + 4 + 2*uint64(l.Size) }
func usedFlagsAddr(l Layout) uint64           { return l.Used }
func usedIdxAddr(l Layout) uint64             { return l.Used + 2 }
func usedElemAddr(l Layout, i uint16) uint64  { return l.Used + 4 + 8*uint64(i%l.Size) }
func availEventAddr(l Layout) uint64          { return l.Used + 4 + 8*uint64(l.Size) }
func descAddr(l Layout, i uint16) uint64      { return l.Desc + 16*uint64(i) }

type pair struct {
	m   *Memory
	l   Layout
	drv *DriverQueue
	dev *DeviceQueue
}

func newPair(t testing.TB, size uint16, features uint64) *pair {
	t.Helper()
	m := NewMemory(testMemSize)
	l := testLayout(size)
	drv, err := NewDriverQueue(m, l, features)
	if err != nil {
		t.Fatalf("NewDriverQueue(%+v) = %v; want nil", l, err)
	}
	dev, err := NewDeviceQueue(m, l, features)
	if err != nil {
		t.Fatalf("NewDeviceQueue(%+v) = %v; want nil", l, err)
	}
	return &pair{m, l, drv, dev}
}

func mustPut16(t testing.TB, m *Memory, addr uint64, v uint16) {
	t.Helper()
	if !m.PutU16(addr, v) {
		t.Fatalf("PutU16(%#x) failed", addr)
	}
}

func mustU16(t testing.TB, m *Memory, addr uint64) uint16 {
	t.Helper()
	v, ok := m.U16(addr)
	if !ok {
		t.Fatalf("U16(%#x) failed", addr)
	}
	return v
}

// putDescRaw writes one struct virtq_desc byte by byte (independent of writeDesc).
func putDescRaw(t testing.TB, m *Memory, addr uint64, d Desc) {
	t.Helper()
	if !m.PutU64(addr, d.Addr) || !m.PutU32(addr+8, d.Len) || !m.PutU16(addr+12, d.Flags) || !m.PutU16(addr+14, d.Next) {
		t.Fatalf("descriptor at %#x does not fit", addr)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)*7
	}
	return b
}

// bufs lays out buffers of the given lengths from base, 64-byte apart,
// filling each with a pattern, and returns them plus their concatenation.
func bufs(t testing.TB, m *Memory, base uint64, seed byte, lens ...uint32) ([]Buf, []byte) {
	t.Helper()
	var out []Buf
	var all []byte
	addr := base
	for i, n := range lens {
		p := pattern(int(n), seed+byte(i)*31)
		if !m.Write(addr, p) {
			t.Fatalf("Write(%#x, %d bytes) failed", addr, n)
		}
		out = append(out, Buf{addr, n})
		all = append(all, p...)
		addr += (uint64(n) + 64) &^ 63
	}
	return out, all
}

// ---------------------------------------------------------------- Memory

func TestMemoryRange(t *testing.T) {
	const size = 16
	max := ^uint64(0)
	tests := []struct {
		addr, n uint64
		ok      bool
	}{
		{0, 0, true},
		{0, size, true},
		{15, 1, true}, // last byte
		{16, 0, true}, // n == 0 at Len
		{8, 8, true},
		{16, 1, false}, // one past
		{15, 2, false},
		{0, size + 1, false},
		{17, 0, false},
		{max, 0, false},
		{max, 1, false},
		{max, 2, false},       // addr+n overflows to 1
		{8, max - 7, false},   // addr+n overflows to 0
		{1, max, false},       // addr+n overflows to 0
		{max - 15, 16, false}, // addr+n == 0 after wrapping
		{0, max, false},
	}
	for _, tt := range tests {
		m := NewMemory(size)
		b, ok := m.Range(tt.addr, tt.n)
		if ok != tt.ok {
			t.Errorf("Range(%#x, %#x) ok = %v; want %v", tt.addr, tt.n, ok, tt.ok)
			continue
		}
		if !ok {
			if b != nil {
				t.Errorf("Range(%#x, %#x) = %v, false; want nil slice", tt.addr, tt.n, b)
			}
			continue
		}
		if uint64(len(b)) != tt.n || uint64(cap(b)) != tt.n {
			t.Errorf("Range(%#x, %#x) len %d cap %d; want %d, %d", tt.addr, tt.n, len(b), cap(b), tt.n, tt.n)
		}
		if tt.n > 0 {
			b[0] = 0xAA // aliases guest memory
			if v, _ := m.U16(tt.addr &^ 1); tt.addr%2 == 0 && byte(v) != 0xAA || tt.addr%2 == 1 && byte(v>>8) != 0xAA {
				t.Errorf("Range(%#x, %#x) does not alias guest memory", tt.addr, tt.n)
			}
			// Appending must not clobber memory beyond the range.
			_ = append(b, 0x55)
			if tt.addr+tt.n < size {
				if c, _ := m.Range(tt.addr+tt.n, 1); c[0] == 0x55 {
					t.Errorf("append to Range(%#x, %#x) wrote past the range", tt.addr, tt.n)
				}
			}
		}
	}
}

func TestMemoryReadWrite(t *testing.T) {
	const size = 16
	max := ^uint64(0)
	tests := []struct {
		addr uint64
		n    int
		ok   bool
	}{
		{0, 16, true},
		{15, 1, true},
		{16, 0, true},
		{0, 0, true},
		{16, 1, false},
		{15, 2, false},
		{0, 17, false},
		{17, 0, false},
		{max, 1, false},
		{max, 2, false},
		{max - 7, 16, false},
	}
	for _, tt := range tests {
		m := NewMemory(size)
		init := pattern(size, 1)
		m.Write(0, init)

		src := pattern(tt.n, 100)
		if got := m.Write(tt.addr, src); got != tt.ok {
			t.Errorf("Write(%#x, %d bytes) = %v; want %v", tt.addr, tt.n, got, tt.ok)
		}
		want := slices.Clone(init)
		if tt.ok {
			copy(want[tt.addr:], src)
		}
		if got := m.buf; !bytes.Equal(got, want) {
			t.Errorf("after Write(%#x, %d bytes) memory = %x; want %x", tt.addr, tt.n, got, want)
		}

		dst := bytes.Repeat([]byte{0xEE}, tt.n)
		if got := m.Read(tt.addr, dst); got != tt.ok {
			t.Errorf("Read(%#x, %d bytes) = %v; want %v", tt.addr, tt.n, got, tt.ok)
		}
		wantDst := bytes.Repeat([]byte{0xEE}, tt.n)
		if tt.ok {
			copy(wantDst, want[tt.addr:])
		}
		if !bytes.Equal(dst, wantDst) {
			t.Errorf("Read(%#x, %d bytes) filled %x; want %x", tt.addr, tt.n, dst, wantDst)
		}
	}
}

func TestMemoryScalars(t *testing.T) {
	const size = 16
	max := ^uint64(0)
	type acc struct {
		name  string
		width uint64
		get   func(*Memory, uint64) (uint64, bool)
		put   func(*Memory, uint64, uint64) bool
	}
	accs := []acc{
		{"U16", 2,
			func(m *Memory, a uint64) (uint64, bool) { v, ok := m.U16(a); return uint64(v), ok },
			func(m *Memory, a, v uint64) bool { return m.PutU16(a, uint16(v)) }},
		{"U32", 4,
			func(m *Memory, a uint64) (uint64, bool) { v, ok := m.U32(a); return uint64(v), ok },
			func(m *Memory, a, v uint64) bool { return m.PutU32(a, uint32(v)) }},
		{"U64", 8,
			func(m *Memory, a uint64) (uint64, bool) { return m.U64(a) },
			func(m *Memory, a, v uint64) bool { return m.PutU64(a, v) }},
	}
	for _, a := range accs {
		addrs := []struct {
			addr uint64
			ok   bool
		}{
			{0, true},
			{size - a.width, true}, // ends on the last byte
			{size - a.width + 1, false},
			{size - 1, false},
			{size, false},
			{size + 1, false},
			{max, false},
			{max - a.width + 2, false}, // addr+width overflows to 1
			{max - a.width + 1, false}, // addr+width overflows to 0
		}
		for _, tt := range addrs {
			m := NewMemory(size)
			init := pattern(size, 3)
			m.Write(0, init)

			want := uint64(0)
			if tt.ok {
				for i := a.width; i > 0; i-- {
					want = want<<8 | uint64(init[tt.addr+i-1])
				}
			}
			got, ok := a.get(m, tt.addr)
			if ok != tt.ok || got != want {
				t.Errorf("%s(%#x) = %#x, %v; want %#x, %v", a.name, tt.addr, got, ok, want, tt.ok)
			}

			const v = 0x0807060504030201
			if ok := a.put(m, tt.addr, v); ok != tt.ok {
				t.Errorf("Put%s(%#x) = %v; want %v", a.name, tt.addr, ok, tt.ok)
			}
			wantMem := slices.Clone(init)
			if tt.ok {
				for i := uint64(0); i < a.width; i++ {
					wantMem[tt.addr+i] = byte(i + 1) // little-endian
				}
			}
			if !bytes.Equal(m.buf, wantMem) {
				t.Errorf("after Put%s(%#x) memory = %x; want %x", a.name, tt.addr, m.buf, wantMem)
			}
		}
	}
}

func TestMemoryLen(t *testing.T) {
	for _, n := range []int{0, 1, 4096} {
		if got := NewMemory(n).Len(); got != uint64(n) {
			t.Errorf("NewMemory(%d).Len() = %d; want %d", n, got, n)
		}
	}
	m := NewMemory(0)
	if _, ok := m.Range(0, 0); !ok {
		t.Errorf("empty Memory: Range(0, 0) ok = false; want true")
	}
	if _, ok := m.U16(0); ok {
		t.Errorf("empty Memory: U16(0) ok = true; want false")
	}
}

// ---------------------------------------------------------------- Layout

func TestLayoutCheck(t *testing.T) {
	const memSize = 1 << 20
	max := ^uint64(0)
	size := func(n int) uint16 { return uint16(n) } // 65536 wraps to 0, as a 16-bit register would
	tests := []struct {
		name string
		l    Layout
		ok   bool
	}{
		{"size 1", Layout{Size: 1, Desc: 0, Avail: 16, Used: 32}, true},
		{"size 2", Layout{Size: 2, Desc: 0, Avail: 32, Used: 64}, true},
		{"size 8", testLayout(8), true},
		{"size 256", testLayout(256), true},
		{"size 32768", Layout{Size: 32768, Desc: 0, Avail: 0x80000, Used: 0x90000}, true},
		{"size 0", Layout{Size: 0, Desc: 0, Avail: 0x1000, Used: 0x2000}, false},
		{"size 3", Layout{Size: 3, Desc: 0, Avail: 0x1000, Used: 0x2000}, false},
		{"size 6", Layout{Size: 6, Desc: 0, Avail: 0x1000, Used: 0x2000}, false},
		{"size 32767", Layout{Size: 32767, Desc: 0, Avail: 0x80000, Used: 0x90000}, false},
		{"size 65535", Layout{Size: 65535, Desc: 0, Avail: 0x80000, Used: 0x90000}, false},
		{"size 65536", Layout{Size: size(65536), Desc: 0, Avail: 0x80000, Used: 0x90000}, false},

		{"minimal alignment", Layout{Size: 8, Desc: 0x1010, Avail: 0x2002, Used: 0x3004}, true},
		{"desc 8-aligned", Layout{Size: 8, Desc: 0x1008, Avail: 0x2000, Used: 0x3000}, false},
		{"desc odd", Layout{Size: 8, Desc: 0x1001, Avail: 0x2000, Used: 0x3000}, false},
		{"avail odd", Layout{Size: 8, Desc: 0x1000, Avail: 0x2001, Used: 0x3000}, false},
		{"used 2-aligned", Layout{Size: 8, Desc: 0x1000, Avail: 0x2000, Used: 0x3002}, false},
		{"used odd", Layout{Size: 8, Desc: 0x1000, Avail: 0x2000, Used: 0x3001}, false},

		{"desc ends at Len", Layout{Size: 8, Desc: memSize - 128, Avail: 0, Used: 0x100}, true},
		{"desc one past", Layout{Size: 8, Desc: memSize - 112, Avail: 0, Used: 0x100}, false},
		{"desc at Len", Layout{Size: 8, Desc: memSize, Avail: 0, Used: 0x100}, false},
		{"desc near 2^64", Layout{Size: 8, Desc: max &^ 15, Avail: 0, Used: 0x100}, false},
		{"desc wraps to 0", Layout{Size: 8, Desc: max - 127, Avail: 0x1000, Used: 0x2000}, false},
		{"avail ends at Len", Layout{Size: 8, Desc: 0, Avail: memSize - 22, Used: 0x100}, true},
		{"avail one past", Layout{Size: 8, Desc: 0, Avail: memSize - 20, Used: 0x100}, false},
		{"avail near 2^64", Layout{Size: 8, Desc: 0, Avail: max &^ 1, Used: 0x100}, false},
		{"avail wraps", Layout{Size: 8, Desc: 0, Avail: max - 21, Used: 0x100}, false},
		{"used ends at Len", Layout{Size: 8, Desc: 0, Avail: 0x80, Used: memSize - 72}, true},
		{"used one past", Layout{Size: 8, Desc: 0, Avail: 0x80, Used: memSize - 68}, false},
		{"used near 2^64", Layout{Size: 8, Desc: 0, Avail: 0x80, Used: max &^ 3}, false},
		{"used wraps", Layout{Size: 8, Desc: 0, Avail: 0x80, Used: max - 67}, false},
		{"size 32768 desc too big", Layout{Size: 32768, Desc: 0x80010, Avail: 0, Used: 0x20000}, false},
	}
	for _, tt := range tests {
		m := NewMemory(memSize)
		err := tt.l.Check(m)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Layout%+v.Check() = %v; want ok=%v", tt.name, tt.l, err, tt.ok)
		}
		_, derr := NewDeviceQueue(m, tt.l, 0)
		if (derr == nil) != tt.ok {
			t.Errorf("%s: NewDeviceQueue(%+v) = %v; want ok=%v", tt.name, tt.l, derr, tt.ok)
		}
		_, qerr := NewDriverQueue(m, tt.l, 0)
		if (qerr == nil) != tt.ok {
			t.Errorf("%s: NewDriverQueue(%+v) = %v; want ok=%v", tt.name, tt.l, qerr, tt.ok)
		}
	}
}

func TestRingSizes(t *testing.T) {
	for _, n := range []uint16{1, 8, 256, 32768} {
		if got, want := AvailBytes(n), 2+2+2*uint64(n)+2; got != want {
			t.Errorf("AvailBytes(%d) = %d; want %d", n, got, want)
		}
		if got, want := UsedBytes(n), 2+2+8*uint64(n)+2; got != want {
			t.Errorf("UsedBytes(%d) = %d; want %d", n, got, want)
		}
	}
}

func TestNewDriverQueueInitialises(t *testing.T) {
	m := NewMemory(testMemSize)
	l := testLayout(8)
	junk := bytes.Repeat([]byte{0xFF}, dataBase)
	m.Write(0, junk)
	q, err := NewDriverQueue(m, l, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.NumFree(); got != 8 {
		t.Errorf("NumFree() = %d; want 8", got)
	}
	if got := q.Layout(); got != l {
		t.Errorf("Layout() = %+v; want %+v", got, l)
	}
	for _, a := range []uint64{availFlagsAddr(l), availIdxAddr(l), usedEventAddr(l), usedFlagsAddr(l), usedIdxAddr(l), availEventAddr(l)} {
		if v := mustU16(t, m, a); v != 0 {
			t.Errorf("ring field at %#x = %#x after NewDriverQueue; want 0", a, v)
		}
	}
}

// ---------------------------------------------------------------- round trips

func popOne(t testing.TB, q *DeviceQueue) *Chain {
	t.Helper()
	c, err := q.Pop()
	if err != nil || c == nil {
		t.Fatalf("Pop() = %v, %v; want a chain", c, err)
	}
	return c
}

func wantEmpty(t testing.TB, q *DeviceQueue) {
	t.Helper()
	if c, err := q.Pop(); c != nil || err != nil {
		t.Fatalf("Pop() = %+v, %v; want nil, nil", c, err)
	}
}

func popUsed(t testing.TB, q *DriverQueue) (uint16, uint32) {
	t.Helper()
	h, w, ok, err := q.PopUsed()
	if !ok || err != nil {
		t.Fatalf("PopUsed() = %d, %d, %v, %v; want an element", h, w, ok, err)
	}
	return h, w
}

func TestRoundTripSingleBuffer(t *testing.T) {
	p := newPair(t, 8, 0)
	msg := []byte("hello, device")
	rd, _ := bufs(t, p.m, dataBase, 0, uint32(len(msg)))
	p.m.Write(dataBase, msg)

	head, err := p.drv.Add(rd, nil)
	if err != nil {
		t.Fatalf("Add() = %v; want nil", err)
	}
	if got := p.drv.NumFree(); got != 7 {
		t.Errorf("NumFree() after Add = %d; want 7", got)
	}
	wantEmpty(t, p.dev) // not published before Kick
	if !p.drv.Kick() {
		t.Errorf("Kick() = false; want true")
	}
	c := popOne(t, p.dev)
	if c.Head != head || !slices.Equal(c.Readable, rd) || len(c.Writable) != 0 {
		t.Fatalf("Pop() = %+v; want head %d, readable %v, no writable", c, head, rd)
	}
	if got, ok := Gather(p.m, c, 1<<20); !ok || !bytes.Equal(got, msg) {
		t.Errorf("Gather() = %q, %v; want %q, true", got, ok, msg)
	}
	if got := Scatter(p.m, c, []byte("x")); got != 0 {
		t.Errorf("Scatter() into a chain without writable buffers = %d; want 0", got)
	}
	wantEmpty(t, p.dev)
	if _, _, ok, err := p.drv.PopUsed(); ok || err != nil {
		t.Errorf("PopUsed() before Push = ok %v, %v; want false, nil", ok, err)
	}
	if err := p.dev.Push(c.Head, 0); err != nil {
		t.Fatalf("Push() = %v; want nil", err)
	}
	if h, w := popUsed(t, p.drv); h != head || w != 0 {
		t.Errorf("PopUsed() = %d, %d; want %d, 0", h, w, head)
	}
	if _, _, ok, err := p.drv.PopUsed(); ok || err != nil {
		t.Errorf("second PopUsed() = ok %v, %v; want false, nil", ok, err)
	}
	if got := p.drv.NumFree(); got != 8 {
		t.Errorf("NumFree() after PopUsed = %d; want 8", got)
	}
	// The used ring as the spec lays it out.
	if id, _ := p.m.U32(usedElemAddr(p.l, 0)); id != uint32(head) {
		t.Errorf("used.ring[0].id = %d; want %d", id, head)
	}
	if got := mustU16(t, p.m, usedIdxAddr(p.l)); got != 1 {
		t.Errorf("used.idx = %d; want 1", got)
	}
	if got := mustU16(t, p.m, availIdxAddr(p.l)); got != 1 {
		t.Errorf("avail.idx = %d; want 1", got)
	}
}

func TestRoundTripChains(t *testing.T) {
	tests := []struct {
		name   string
		rd, wr []uint32
		reply  int
	}{
		{"one readable", []uint32{10}, nil, 0},
		{"one writable", nil, []uint32{10}, 10},
		{"one writable short reply", nil, []uint32{10}, 3},
		{"3r+2w", []uint32{1, 2, 3}, []uint32{4, 5}, 9},
		{"3r+2w partial", []uint32{7, 8, 9}, []uint32{4, 5}, 6},
		{"3r+2w overlong", []uint32{7, 8, 9}, []uint32{4, 5}, 100},
		{"zero-length buffers", []uint32{0, 4}, []uint32{0, 3}, 3},
		{"1r+7w full queue", []uint32{16}, []uint32{1, 1, 1, 1, 1, 1, 1}, 7},
		{"8r full queue", []uint32{1, 2, 3, 4, 5, 6, 7, 8}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, 8, 0)
			rd, rdata := bufs(t, p.m, dataBase, 1, tt.rd...)
			wr, _ := bufs(t, p.m, dataBase+0x4000, 2, tt.wr...)
			head, err := p.drv.Add(rd, wr)
			if err != nil {
				t.Fatalf("Add() = %v; want nil", err)
			}
			n := len(tt.rd) + len(tt.wr)
			if got := p.drv.NumFree(); got != 8-n {
				t.Errorf("NumFree() = %d; want %d", got, 8-n)
			}
			p.drv.Kick()
			c := popOne(t, p.dev)
			if c.Head != head || !slices.Equal(c.Readable, rd) || !slices.Equal(c.Writable, wr) {
				t.Fatalf("Pop() = %+v; want head %d readable %v writable %v", c, head, rd, wr)
			}
			if got, want := c.ReadableLen(), uint64(len(rdata)); got != want {
				t.Errorf("ReadableLen() = %d; want %d", got, want)
			}
			var wlen uint64
			for _, n := range tt.wr {
				wlen += uint64(n)
			}
			if got := c.WritableLen(); got != wlen {
				t.Errorf("WritableLen() = %d; want %d", got, wlen)
			}
			if got, ok := Gather(p.m, c, uint64(len(rdata))); !ok || !bytes.Equal(got, rdata) {
				t.Errorf("Gather() = %x, %v; want %x, true", got, ok, rdata)
			}
			reply := pattern(tt.reply, 0x80)
			wantN := min(uint64(tt.reply), wlen)
			written := Scatter(p.m, c, reply)
			if uint64(written) != wantN {
				t.Errorf("Scatter(%d bytes) = %d; want %d", tt.reply, written, wantN)
			}
			var got []byte
			for _, b := range wr {
				r, _ := p.m.Range(b.Addr, uint64(b.Len))
				got = append(got, r...)
			}
			if !bytes.Equal(got[:wantN], reply[:wantN]) {
				t.Errorf("writable contents = %x; want prefix %x", got, reply[:wantN])
			}
			if err := p.dev.Push(c.Head, written); err != nil {
				t.Fatalf("Push() = %v", err)
			}
			if h, w := popUsed(t, p.drv); h != head || w != written {
				t.Errorf("PopUsed() = %d, %d; want %d, %d", h, w, head, written)
			}
			if got := p.drv.NumFree(); got != 8 {
				t.Errorf("NumFree() after PopUsed = %d; want 8", got)
			}
		})
	}
}

func TestGatherScatterLimits(t *testing.T) {
	m := NewMemory(testMemSize)
	rd, rdata := bufs(t, m, dataBase, 5, 3, 5, 2)
	wr, _ := bufs(t, m, dataBase+0x1000, 6, 4, 1, 6)
	c := &Chain{Readable: rd, Writable: wr}

	for _, tt := range []struct {
		limit uint64
		ok    bool
	}{{0, false}, {9, false}, {10, true}, {11, true}, {^uint64(0), true}} {
		got, ok := Gather(m, c, tt.limit)
		if ok != tt.ok {
			t.Errorf("Gather(limit %d) ok = %v; want %v", tt.limit, ok, tt.ok)
		}
		if ok && !bytes.Equal(got, rdata) {
			t.Errorf("Gather(limit %d) = %x; want %x", tt.limit, got, rdata)
		}
		if !ok && got != nil {
			t.Errorf("Gather(limit %d) = %x, false; want nil", tt.limit, got)
		}
	}
	if got, ok := Gather(m, &Chain{Writable: wr}, 0); !ok || len(got) != 0 {
		t.Errorf("Gather(no readable, 0) = %x, %v; want empty, true", got, ok)
	}

	for _, n := range []int{0, 1, 4, 5, 7, 11, 12, 100} {
		// Sentinels around and between the buffers.
		m.Write(dataBase+0x1000-64, bytes.Repeat([]byte{0xEE}, 0x200))
		data := pattern(n, 0x40)
		got := Scatter(m, c, data)
		want := uint32(min(n, 11))
		if got != want {
			t.Errorf("Scatter(%d bytes) = %d; want %d", n, got, want)
		}
		region, _ := m.Range(dataBase+0x1000-64, 0x200)
		wantRegion := bytes.Repeat([]byte{0xEE}, 0x200)
		off := 64
		rest := data
		for _, b := range wr {
			k := copy(wantRegion[off:off+int(b.Len)], rest)
			rest = rest[k:]
			off += (int(b.Len) + 64) &^ 63
		}
		if !bytes.Equal(region, wantRegion) {
			t.Errorf("after Scatter(%d bytes) memory = %x; want %x", n, region, wantRegion)
		}
	}
	if got := Scatter(m, &Chain{Readable: rd}, []byte("abc")); got != 0 {
		t.Errorf("Scatter(no writable) = %d; want 0", got)
	}
	if got, _ := Gather(m, c, 100); !bytes.Equal(got, rdata) {
		t.Errorf("Scatter touched readable buffers: Gather() = %x; want %x", got, rdata)
	}
}

func TestUsedOrderAndRecycling(t *testing.T) {
	p := newPair(t, 8, 0)
	lens := [][2]int{{1, 1}, {2, 0}, {0, 3}} // readable, writable per chain
	var heads []uint16
	for i, ln := range lens {
		rd, _ := bufs(t, p.m, dataBase+uint64(i)*0x1000, byte(i), slices.Repeat([]uint32{8}, ln[0])...)
		wr, _ := bufs(t, p.m, dataBase+uint64(i)*0x1000+0x800, byte(i), slices.Repeat([]uint32{8}, ln[1])...)
		h, err := p.drv.Add(rd, wr)
		if err != nil {
			t.Fatalf("Add #%d = %v", i, err)
		}
		if slices.Contains(heads, h) {
			t.Fatalf("Add #%d returned head %d already outstanding", i, h)
		}
		heads = append(heads, h)
	}
	if got := p.drv.NumFree(); got != 1 {
		t.Fatalf("NumFree() = %d; want 1", got)
	}
	p.drv.Kick()
	var chains []*Chain
	for i := range lens {
		c := popOne(t, p.dev)
		if c.Head != heads[i] {
			t.Errorf("Pop() #%d head = %d; want %d", i, c.Head, heads[i])
		}
		chains = append(chains, c)
	}
	wantEmpty(t, p.dev)
	// Complete out of order.
	order := []int{2, 0, 1}
	for k, i := range order {
		if err := p.dev.Push(chains[i].Head, uint32(100+k)); err != nil {
			t.Fatalf("Push() = %v", err)
		}
	}
	free := 1
	for k, i := range order {
		h, w := popUsed(t, p.drv)
		if h != heads[i] || w != uint32(100+k) {
			t.Errorf("PopUsed() #%d = %d, %d; want %d, %d", k, h, w, heads[i], 100+k)
		}
		free += lens[i][0] + lens[i][1]
		if got := p.drv.NumFree(); got != free {
			t.Errorf("NumFree() after PopUsed #%d = %d; want %d", k, got, free)
		}
	}
	// All eight descriptors are usable again, in one chain.
	rd, _ := bufs(t, p.m, dataBase, 9, 1, 2, 3, 4, 5, 6, 7, 8)
	h, err := p.drv.Add(rd, nil)
	if err != nil {
		t.Fatalf("Add(8 buffers) after recycling = %v; want nil", err)
	}
	p.drv.Kick()
	if c := popOne(t, p.dev); c.Head != h || !slices.Equal(c.Readable, rd) {
		t.Errorf("Pop() = %+v; want head %d readable %v", c, h, rd)
	}
}

func TestNoSpace(t *testing.T) {
	p := newPair(t, 8, featIndirect)
	one, _ := bufs(t, p.m, dataBase, 0, 4)
	five := slices.Repeat(one, 5)
	if _, err := p.drv.Add(nil, nil); err == nil || errors.Is(err, ErrNoSpace) {
		t.Errorf("Add(no buffers) = %v; want an error other than ErrNoSpace", err)
	}
	if _, err := p.drv.Add(slices.Repeat(one, 9), nil); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Add(9 buffers) on a queue of 8 = %v; want ErrNoSpace", err)
	}
	h1, err := p.drv.Add(five, nil)
	if err != nil {
		t.Fatalf("Add(5) = %v", err)
	}
	if _, err := p.drv.Add(slices.Repeat(one, 4), nil); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Add(4) with 3 free = %v; want ErrNoSpace", err)
	}
	if got := p.drv.NumFree(); got != 3 {
		t.Errorf("NumFree() after a refused Add = %d; want 3", got)
	}
	if _, err := p.drv.Add(one, slices.Repeat(one, 2)); err != nil {
		t.Fatalf("Add(3) with 3 free = %v", err)
	}
	if got := p.drv.NumFree(); got != 0 {
		t.Errorf("NumFree() = %d; want 0", got)
	}
	if _, err := p.drv.Add(one, nil); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Add(1) on a full queue = %v; want ErrNoSpace", err)
	}
	if _, err := p.drv.AddIndirect(dataBase+0x1000, one, nil); !errors.Is(err, ErrNoSpace) {
		t.Errorf("AddIndirect() on a full queue = %v; want ErrNoSpace", err)
	}
	p.drv.Kick()
	if got := mustU16(t, p.m, availIdxAddr(p.l)); got != 2 {
		t.Errorf("avail.idx = %d; want 2 (refused Adds must not be offered)", got)
	}
	c := popOne(t, p.dev)
	popOne(t, p.dev)
	wantEmpty(t, p.dev)
	p.dev.Push(c.Head, 0)
	if h, _ := popUsed(t, p.drv); h != h1 {
		t.Errorf("PopUsed() = %d; want %d", h, h1)
	}
	if got := p.drv.NumFree(); got != 5 {
		t.Errorf("NumFree() = %d; want 5", got)
	}
	if _, err := p.drv.Add(five, nil); err != nil {
		t.Errorf("Add(5) after freeing 5 = %v; want nil", err)
	}
}

func TestIndirectRoundTrip(t *testing.T) {
	p := newPair(t, 8, featIndirect)
	rd, rdata := bufs(t, p.m, dataBase, 1, 3, 4)
	wr, _ := bufs(t, p.m, dataBase+0x1000, 2, 5, 6, 7)
	table := uint64(dataBase + 0x8000)
	head, err := p.drv.AddIndirect(table, rd, wr)
	if err != nil {
		t.Fatalf("AddIndirect() = %v", err)
	}
	if got := p.drv.NumFree(); got != 7 {
		t.Errorf("NumFree() after AddIndirect = %d; want 7", got)
	}
	// The descriptor in the ring is a lone INDIRECT one (§2.7.5.3).
	d, _ := readDesc(p.m, descAddr(p.l, head))
	if d.Addr != table || d.Len != 5*DescSize || d.Flags != VIRTQ_DESC_F_INDIRECT {
		t.Errorf("head descriptor = %+v; want {Addr:%#x Len:80 Flags:INDIRECT}", d, table)
	}
	p.drv.Kick()
	c := popOne(t, p.dev)
	if c.Head != head || !slices.Equal(c.Readable, rd) || !slices.Equal(c.Writable, wr) {
		t.Fatalf("Pop() = %+v; want head %d readable %v writable %v", c, head, rd, wr)
	}
	if got, ok := Gather(p.m, c, 7); !ok || !bytes.Equal(got, rdata) {
		t.Errorf("Gather() = %x, %v; want %x, true", got, ok, rdata)
	}
	n := Scatter(p.m, c, pattern(20, 9))
	if n != 18 {
		t.Errorf("Scatter(20 bytes) = %d; want 18", n)
	}
	p.dev.Push(c.Head, n)
	if h, w := popUsed(t, p.drv); h != head || w != n {
		t.Errorf("PopUsed() = %d, %d; want %d, %d", h, w, head, n)
	}
	if got := p.drv.NumFree(); got != 8 {
		t.Errorf("NumFree() = %d; want 8", got)
	}

	// A whole queue of indirect chains, then ErrNoSpace.
	for i := 0; i < 8; i++ {
		if _, err := p.drv.AddIndirect(table+uint64(i)*0x100, rd, wr); err != nil {
			t.Fatalf("AddIndirect #%d = %v", i, err)
		}
	}
	if _, err := p.drv.AddIndirect(table+0x1000, rd, wr); !errors.Is(err, ErrNoSpace) {
		t.Errorf("AddIndirect on a full queue = %v; want ErrNoSpace", err)
	}
	p.drv.Kick()
	for i := 0; i < 8; i++ {
		c := popOne(t, p.dev)
		if !slices.Equal(c.Readable, rd) || !slices.Equal(c.Writable, wr) {
			t.Errorf("Pop() #%d = %+v; want readable %v writable %v", i, c, rd, wr)
		}
	}
}

func TestAddIndirectRefused(t *testing.T) {
	p := newPair(t, 8, featIndirect)
	one, _ := bufs(t, p.m, dataBase, 0, 4)
	cases := []struct {
		name  string
		table uint64
		rd    []Buf
	}{
		{"no buffers", dataBase + 0x1000, nil},
		{"too many buffers", dataBase + 0x1000, slices.Repeat(one, MaxIndirect+1)},
		{"table past memory", testMemSize - 16, slices.Repeat(one, 2)},
		{"table near 2^64", ^uint64(0) &^ 15, one},
	}
	for _, tt := range cases {
		if _, err := p.drv.AddIndirect(tt.table, tt.rd, nil); err == nil || errors.Is(err, ErrNoSpace) {
			t.Errorf("%s: AddIndirect() = %v; want an error other than ErrNoSpace", tt.name, err)
		}
		if got := p.drv.NumFree(); got != 8 {
			t.Errorf("%s: NumFree() = %d; want 8", tt.name, got)
		}
	}
	if p.drv.Kick() {
		t.Errorf("Kick() after refused AddIndirects = true; want false")
	}
	wantEmpty(t, p.dev)
	// A maximal indirect table works.
	many, _ := bufs(t, p.m, dataBase, 0, 1)
	h, err := p.drv.AddIndirect(dataBase+0x10000, nil, slices.Repeat(many, MaxIndirect))
	if err != nil {
		t.Fatalf("AddIndirect(%d buffers) = %v", MaxIndirect, err)
	}
	p.drv.Kick()
	c := popOne(t, p.dev)
	if c.Head != h || len(c.Writable) != MaxIndirect || len(c.Readable) != 0 {
		t.Errorf("Pop() = head %d, %d readable, %d writable; want %d, 0, %d", c.Head, len(c.Readable), len(c.Writable), h, MaxIndirect)
	}
}

// handQueue is a device queue over memory the test writes by hand.
type handQueue struct {
	t   testing.TB
	m   *Memory
	l   Layout
	dev *DeviceQueue
}

func newHand(t testing.TB, features uint64) *handQueue {
	t.Helper()
	m := NewMemory(testMemSize)
	// Rings away from the table, so descriptor "Size" is plain memory a
	// test can fill with a valid-looking descriptor.
	l := Layout{Size: 8, Desc: 0, Avail: 0x1000, Used: 0x2000}
	dev, err := NewDeviceQueue(m, l, features)
	if err != nil {
		t.Fatal(err)
	}
	return &handQueue{t, m, l, dev}
}

func (h *handQueue) desc(i uint16, d Desc) { h.t.Helper(); putDescRaw(h.t, h.m, descAddr(h.l, i), d) }

func (h *handQueue) ind(table uint64, i uint16, d Desc) {
	h.t.Helper()
	putDescRaw(h.t, h.m, table+16*uint64(i), d)
}

// offer appends heads to the available ring starting at its current index
// and publishes the new index.
func (h *handQueue) offer(heads ...uint16) {
	h.t.Helper()
	idx := mustU16(h.t, h.m, availIdxAddr(h.l))
	for _, hd := range heads {
		mustPut16(h.t, h.m, availRingAddr(h.l, idx), hd)
		idx++
	}
	mustPut16(h.t, h.m, availIdxAddr(h.l), idx)
}

const (
	bufA = dataBase + 0x000
	bufB = dataBase + 0x100
	bufC = dataBase + 0x200
	bufD = dataBase + 0x300
	tbl  = dataBase + 0x1000
	tbl2 = dataBase + 0x2000
)

const (
	fN = VIRTQ_DESC_F_NEXT
	fW = VIRTQ_DESC_F_WRITE
	fI = VIRTQ_DESC_F_INDIRECT
)

func TestDirectThenIndirect(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(h *handQueue)
		head     uint16
		rd, wr   []Buf
		features uint64
	}{
		{
			name: "readable direct then indirect with WRITE set (ignored)",
			setup: func(h *handQueue) {
				h.desc(5, Desc{bufA, 4, fN, 3})
				h.desc(3, Desc{tbl, 3 * 16, fI | fW, 0})
				h.ind(tbl, 0, Desc{bufB, 5, fN, 1})
				h.ind(tbl, 1, Desc{bufC, 6, fW | fN, 2})
				h.ind(tbl, 2, Desc{bufD, 7, fW, 0})
				h.offer(5)
			},
			head: 5,
			rd:   []Buf{{bufA, 4}, {bufB, 5}},
			wr:   []Buf{{bufC, 6}, {bufD, 7}},
		},
		{
			name: "writable direct then writable indirect",
			setup: func(h *handQueue) {
				h.desc(0, Desc{bufA, 1, fN, 1})
				h.desc(1, Desc{bufB, 2, fW | fN, 2})
				h.desc(2, Desc{tbl, 2 * 16, fI, 0})
				h.ind(tbl, 0, Desc{bufC, 3, fW | fN, 1})
				h.ind(tbl, 1, Desc{bufD, 4, fW, 0})
				h.offer(0)
			},
			rd: []Buf{{bufA, 1}},
			wr: []Buf{{bufB, 2}, {bufC, 3}, {bufD, 4}},
		},
		{
			name: "indirect table linked out of order",
			setup: func(h *handQueue) {
				h.desc(7, Desc{tbl, 4 * 16, fI, 0})
				h.ind(tbl, 0, Desc{bufA, 1, fN, 3})
				h.ind(tbl, 3, Desc{bufB, 2, fN, 1})
				h.ind(tbl, 1, Desc{bufC, 3, fW, 0}) // entry 2 unused
				h.ind(tbl, 2, Desc{^uint64(0), 99, fI | fN, 99})
				h.offer(7)
			},
			head: 7,
			rd:   []Buf{{bufA, 1}, {bufB, 2}},
			wr:   []Buf{{bufC, 3}},
		},
		{
			name: "single-entry indirect table, WRITE on the indirect descriptor ignored",
			setup: func(h *handQueue) {
				h.desc(2, Desc{tbl, 16, fI | fW, 0})
				h.ind(tbl, 0, Desc{bufA, 9, 0, 0})
				h.offer(2)
			},
			head: 2,
			rd:   []Buf{{bufA, 9}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHand(t, featIndirect)
			tt.setup(h)
			c, err := h.dev.Pop()
			if err != nil || c == nil {
				t.Fatalf("Pop() = %+v, %v; want a chain", c, err)
			}
			want := &Chain{Head: tt.head, Readable: tt.rd, Writable: tt.wr}
			if c.Head != want.Head || !slices.Equal(c.Readable, want.Readable) || !slices.Equal(c.Writable, want.Writable) {
				t.Errorf("Pop() = %+v; want %+v", c, want)
			}
		})
	}
}

func TestDeviceAcceptsEdges(t *testing.T) {
	tests := []struct {
		name     string
		features uint64
		setup    func(h *handQueue)
		pops     int
		bufs     int // total buffers over all chains
	}{
		{"chain of exactly Size descriptors", 0, func(h *handQueue) {
			for i := uint16(0); i < 7; i++ {
				h.desc(i, Desc{bufA, 1, fN, i + 1})
			}
			h.desc(7, Desc{bufA, 1, fW, 0})
			h.offer(0)
		}, 1, 8},
		{"avail idx exactly Size ahead", 0, func(h *handQueue) {
			for i := uint16(0); i < 8; i++ {
				h.desc(i, Desc{bufA, 1, 0, 0})
			}
			h.offer(0, 1, 2, 3, 4, 5, 6, 7)
		}, 8, 8},
		{"same head offered twice", 0, func(h *handQueue) {
			h.desc(4, Desc{bufA, 1, 0, 0})
			h.offer(4, 4)
		}, 2, 2},
		{"buffer ending on the last byte", 0, func(h *handQueue) {
			h.desc(0, Desc{testMemSize - 16, 16, fW, 0})
			h.offer(0)
		}, 1, 1},
		{"whole memory as one buffer", 0, func(h *handQueue) {
			h.desc(0, Desc{0, testMemSize, 0, 0})
			h.offer(0)
		}, 1, 1},
		{"indirect table of MaxIndirect entries", featIndirect, func(h *handQueue) {
			for i := uint16(0); i < MaxIndirect-1; i++ {
				h.ind(dataBase+0x10000, i, Desc{bufA, 1, fN, i + 1})
			}
			h.ind(dataBase+0x10000, MaxIndirect-1, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{dataBase + 0x10000, MaxIndirect * 16, fI, 0})
			h.offer(0)
		}, 1, MaxIndirect},
		{"Size-1 direct then MaxIndirect indirect", featIndirect, func(h *handQueue) {
			for i := uint16(0); i < 7; i++ {
				h.desc(i, Desc{bufA, 1, fN, i + 1})
			}
			for i := uint16(0); i < MaxIndirect-1; i++ {
				h.ind(dataBase+0x10000, i, Desc{bufB, 1, fW | fN, i + 1})
			}
			h.ind(dataBase+0x10000, MaxIndirect-1, Desc{bufB, 1, fW, 0})
			h.desc(7, Desc{dataBase + 0x10000, MaxIndirect * 16, fI, 0})
			h.offer(0)
		}, 1, 7 + MaxIndirect},
		{"indirect table ending at Len", featIndirect, func(h *handQueue) {
			h.ind(testMemSize-32, 0, Desc{bufA, 1, fN, 1})
			h.ind(testMemSize-32, 1, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{testMemSize - 32, 32, fI, 0})
			h.offer(0)
		}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHand(t, tt.features)
			tt.setup(h)
			total := 0
			for i := 0; i < tt.pops; i++ {
				c, err := h.dev.Pop()
				if err != nil || c == nil {
					t.Fatalf("Pop() #%d = %+v, %v; want a chain", i, c, err)
				}
				total += len(c.Readable) + len(c.Writable)
				if err := h.dev.Push(c.Head, 0); err != nil {
					t.Fatalf("Push() = %v", err)
				}
			}
			if total != tt.bufs {
				t.Errorf("buffers popped = %d; want %d", total, tt.bufs)
			}
			wantEmpty(t, h.dev)
			if err := h.dev.Broken(); err != nil {
				t.Errorf("Broken() = %v; want nil", err)
			}
		})
	}
}

func TestWrapAround(t *testing.T) {
	p := newPair(t, 4, featIndirect)
	const chains = 70001
	reply := pattern(64, 0x33)
	n := 0
	for n < chains {
		// Two chains at a time, of varied shapes, completed in varied
		// order, so the free list is reshuffled.
		type out struct {
			head       uint16
			rd, wr     []Buf
			wlen       uint32
			isIndirect bool
		}
		var outs []out
		for k := 0; k < 2 && n < chains; k++ {
			var o out
			switch (n + k) % 3 {
			case 0:
				o.rd, _ = bufs(t, p.m, dataBase+uint64(k)*0x400, byte(n), 4)
				o.wr, _ = bufs(t, p.m, dataBase+uint64(k)*0x400+0x200, 0, 8)
			case 1:
				o.rd, _ = bufs(t, p.m, dataBase+uint64(k)*0x400, byte(n), 2)
			case 2:
				o.isIndirect = true
				o.rd, _ = bufs(t, p.m, dataBase+uint64(k)*0x400, byte(n), 1)
				o.wr, _ = bufs(t, p.m, dataBase+uint64(k)*0x400+0x200, 0, 3, 3)
			}
			var err error
			if o.isIndirect {
				o.head, err = p.drv.AddIndirect(dataBase+0x2000+uint64(k)*0x100, o.rd, o.wr)
			} else {
				o.head, err = p.drv.Add(o.rd, o.wr)
			}
			if err != nil {
				t.Fatalf("chain %d: Add = %v (NumFree %d)", n, err, p.drv.NumFree())
			}
			outs = append(outs, o)
			n++
		}
		p.drv.Kick()
		var cs []*Chain
		for i := range outs {
			c, err := p.dev.Pop()
			if err != nil || c == nil {
				t.Fatalf("chain %d: Pop() = %v, %v; want a chain", n, c, err)
			}
			if c.Head != outs[i].head || !slices.Equal(c.Readable, outs[i].rd) || !slices.Equal(c.Writable, outs[i].wr) {
				t.Fatalf("chain %d: Pop() = %+v; want head %d readable %v writable %v", n, c, outs[i].head, outs[i].rd, outs[i].wr)
			}
			outs[i].wlen = Scatter(p.m, c, reply)
			cs = append(cs, c)
		}
		if n%2 == 0 {
			slices.Reverse(cs)
			slices.Reverse(outs)
		}
		for _, c := range cs {
			if err := p.dev.Push(c.Head, Scatter(p.m, c, reply)); err != nil {
				t.Fatalf("Push() = %v", err)
			}
		}
		for _, o := range outs {
			h, w := popUsed(t, p.drv)
			if h != o.head || w != o.wlen {
				t.Fatalf("chain %d: PopUsed() = %d, %d; want %d, %d", n, h, w, o.head, o.wlen)
			}
		}
		if got := p.drv.NumFree(); got != 4 {
			t.Fatalf("chain %d: NumFree() = %d; want 4", n, got)
		}
	}
	want := uint16(chains % 65536)
	if got := mustU16(t, p.m, availIdxAddr(p.l)); got != want {
		t.Errorf("avail.idx = %d; want %d", got, want)
	}
	if got := mustU16(t, p.m, usedIdxAddr(p.l)); got != want {
		t.Errorf("used.idx = %d; want %d", got, want)
	}
	if err := p.dev.Broken(); err != nil {
		t.Errorf("Broken() = %v; want nil", err)
	}
}

// TestManyOperations drives a queue with a random but valid mix of
// operations and checks everything against a model.
func TestManyOperations(t *testing.T) {
	const size = 16
	p := newPair(t, size, featIndirect|featEventIdx)
	r := rand.New(rand.NewPCG(1, 2))
	type chain struct {
		rd, wr []Buf
		descs  int
	}
	outstanding := map[uint16]chain{} // added, not yet returned by PopUsed
	var unpublished, published []uint16
	var popped []*Chain
	type done struct {
		head uint16
		n    uint32
	}
	var pushed []done
	usedDescs, completed := 0, 0
	for step := 0; step < 20000; step++ {
		switch op := r.IntN(10); {
		case op < 3: // add
			nr, nw := r.IntN(3), r.IntN(3)
			if nr+nw == 0 {
				nr = 1
			}
			indirect := r.IntN(3) == 0
			descs := nr + nw
			if indirect {
				descs = 1
			}
			if p.drv.NumFree() < descs {
				continue
			}
			rd := make([]Buf, nr)
			wr := make([]Buf, nw)
			for i := range rd {
				rd[i] = Buf{dataBase + uint64(r.IntN(0x8000)), uint32(r.IntN(64))}
			}
			for i := range wr {
				wr[i] = Buf{dataBase + uint64(r.IntN(0x8000)), uint32(r.IntN(64))}
			}
			var h uint16
			var err error
			if indirect {
				// Each head owns its own table slot while outstanding.
				h = p.drv.freeHead
				h, err = p.drv.AddIndirect(dataBase+0x10000+uint64(h)*0x100, rd, wr)
			} else {
				h, err = p.drv.Add(rd, wr)
			}
			if err != nil {
				t.Fatalf("step %d: Add = %v (free %d)", step, err, p.drv.NumFree())
			}
			if _, dup := outstanding[h]; dup {
				t.Fatalf("step %d: Add returned head %d that is outstanding", step, h)
			}
			outstanding[h] = chain{rd, wr, descs}
			usedDescs += descs
			unpublished = append(unpublished, h)
		case op < 4:
			p.drv.Kick()
			published = append(published, unpublished...)
			unpublished = nil
		case op < 6: // device pops
			c, err := p.dev.Pop()
			if err != nil {
				t.Fatalf("step %d: Pop() = %v", step, err)
			}
			if len(published) == 0 {
				if c != nil {
					t.Fatalf("step %d: Pop() = %+v; want nil", step, c)
				}
				continue
			}
			want := outstanding[published[0]]
			if c == nil || c.Head != published[0] || !slices.Equal(c.Readable, want.rd) || !slices.Equal(c.Writable, want.wr) {
				t.Fatalf("step %d: Pop() = %+v; want head %d %+v", step, c, published[0], want)
			}
			published = published[1:]
			popped = append(popped, c)
		case op < 8: // device completes one in random order
			if len(popped) == 0 {
				continue
			}
			i := r.IntN(len(popped))
			c := popped[i]
			popped = slices.Delete(popped, i, i+1)
			n := uint32(r.IntN(int(c.WritableLen()) + 1))
			if err := p.dev.Push(c.Head, n); err != nil {
				t.Fatalf("step %d: Push() = %v", step, err)
			}
			pushed = append(pushed, done{c.Head, n})
			p.dev.NeedInterrupt()
		default: // driver reaps
			h, w, ok, err := p.drv.PopUsed()
			if err != nil {
				t.Fatalf("step %d: PopUsed() = %v", step, err)
			}
			if len(pushed) == 0 {
				if ok {
					t.Fatalf("step %d: PopUsed() = %d; want none", step, h)
				}
				continue
			}
			if !ok || h != pushed[0].head || w != pushed[0].n {
				t.Fatalf("step %d: PopUsed() = %d, %d, %v; want %d, %d, true", step, h, w, ok, pushed[0].head, pushed[0].n)
			}
			pushed = pushed[1:]
			completed++
			usedDescs -= outstanding[h].descs
			delete(outstanding, h)
		}
		if got, want := p.drv.NumFree(), size-usedDescs; got != want {
			t.Fatalf("step %d: NumFree() = %d; want %d", step, got, want)
		}
	}
	if completed < 1000 {
		t.Errorf("only %d chains completed; the mix is not exercising the queue", completed)
	}
	if err := p.dev.Broken(); err != nil {
		t.Errorf("Broken() = %v; want nil", err)
	}
}

// ---------------------------------------------------------------- notifications

func TestNeedEvent(t *testing.T) {
	tests := []struct {
		event, now, old uint16
		want            bool
	}{
		{0, 1, 0, true},
		{0, 0, 0, false},
		{1, 1, 0, false},
		{0, 2, 1, false},
		{1, 2, 1, true},
		{3, 5, 1, true},
		{4, 5, 1, true},
		{5, 5, 1, false},
		{1, 5, 1, true}, // event == old: the first step crosses it
		{0, 5, 1, false},
		{2, 5, 1, true},
		{0xFFFF, 0, 0xFFFE, true},
		{0xFFFE, 0, 0xFFFE, true},
		{0xFFFD, 0, 0xFFFE, false},
		{0, 0, 0xFFFE, false},
		{0xFFFF, 1, 0xFFFF, true},
		{0xFFFE, 1, 0xFFFF, false},
		{0, 1, 0xFFFF, true},
		{0x7FFF, 0x8000, 0, true},
	}
	for _, tt := range tests {
		if got := needEvent(tt.event, tt.now, tt.old); got != tt.want {
			t.Errorf("needEvent(%d, %d, %d) = %v; want %v", tt.event, tt.now, tt.old, got, tt.want)
		}
	}
}

func addOne(t testing.TB, p *pair) {
	t.Helper()
	b, _ := bufs(t, p.m, dataBase, 0, 1)
	if _, err := p.drv.Add(b, nil); err != nil {
		t.Fatalf("Add() = %v", err)
	}
}

func TestKickNoEventIdx(t *testing.T) {
	p := newPair(t, 8, 0)
	if p.drv.Kick() {
		t.Errorf("Kick() with nothing added = true; want false")
	}
	addOne(t, p)
	if !p.drv.Kick() {
		t.Errorf("Kick() = false; want true")
	}
	if p.drv.Kick() {
		t.Errorf("Kick() with nothing new = true; want false")
	}
	mustPut16(t, p.m, usedFlagsAddr(p.l), VIRTQ_USED_F_NO_NOTIFY)
	addOne(t, p)
	if p.drv.Kick() {
		t.Errorf("Kick() with VIRTQ_USED_F_NO_NOTIFY = true; want false")
	}
	if got := mustU16(t, p.m, availIdxAddr(p.l)); got != 2 {
		t.Errorf("avail.idx after a suppressed Kick = %d; want 2", got)
	}
	mustPut16(t, p.m, usedFlagsAddr(p.l), 0)
	mustPut16(t, p.m, availEventAddr(p.l), 100) // ignored without EVENT_IDX
	addOne(t, p)
	if !p.drv.Kick() {
		t.Errorf("Kick() without EVENT_IDX, avail_event 100 = false; want true")
	}
}

func TestKickEventIdx(t *testing.T) {
	tests := []struct {
		name   string
		start  uint16 // avail idx already published
		before int    // chains published by an earlier Kick
		event  uint16
		n      int
		flags  uint16
		want   bool
	}{
		{"first, event 0", 0, 0, 0, 1, 0, true},
		{"event not reached", 0, 0, 1, 1, 0, false},
		{"event passed earlier", 0, 1, 0, 1, 0, false},
		{"event hit exactly", 0, 1, 1, 1, 0, true},
		{"batch crosses event", 0, 1, 3, 4, 0, true},
		{"batch ends at event-1", 0, 1, 4, 4, 0, true},
		{"batch ends before event", 0, 1, 5, 4, 0, false},
		{"NO_NOTIFY ignored", 0, 0, 0, 1, VIRTQ_USED_F_NO_NOTIFY, true},
		{"NO_NOTIFY ignored, not reached", 0, 0, 7, 1, VIRTQ_USED_F_NO_NOTIFY, false},
		{"wrap, event 0xFFFF", 0xFFFE, 0, 0xFFFF, 2, 0, true},
		{"wrap, event 0 not reached", 0xFFFE, 0, 0, 2, 0, false},
		{"wrap, event 0xFFFE", 0xFFFE, 0, 0xFFFE, 2, 0, true},
		{"nothing new", 0, 2, 1, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, 8, featEventIdx)
			p.drv.availIdx, p.drv.published = tt.start, tt.start
			for i := 0; i < tt.before; i++ {
				addOne(t, p)
			}
			p.drv.Kick()
			mustPut16(t, p.m, availEventAddr(p.l), tt.event)
			mustPut16(t, p.m, usedFlagsAddr(p.l), tt.flags)
			for i := 0; i < tt.n; i++ {
				addOne(t, p)
			}
			if got := p.drv.Kick(); got != tt.want {
				t.Errorf("Kick() (old %d, new %d, avail_event %d) = %v; want %v",
					tt.start+uint16(tt.before), tt.start+uint16(tt.before+tt.n), tt.event, got, tt.want)
			}
			if got, want := mustU16(t, p.m, availIdxAddr(p.l)), tt.start+uint16(tt.before+tt.n); got != want {
				t.Errorf("avail.idx = %d; want %d", got, want)
			}
		})
	}
}

func TestNeedInterruptNoEventIdx(t *testing.T) {
	p := newPair(t, 8, 0)
	if p.dev.NeedInterrupt() {
		t.Errorf("NeedInterrupt() with nothing pushed = true; want false")
	}
	p.dev.Push(0, 0)
	if !p.dev.NeedInterrupt() {
		t.Errorf("NeedInterrupt() after Push = false; want true")
	}
	if p.dev.NeedInterrupt() {
		t.Errorf("NeedInterrupt() with nothing new = true; want false")
	}
	p.drv.SetNoInterrupt(true)
	if got := mustU16(t, p.m, availFlagsAddr(p.l)); got != VIRTQ_AVAIL_F_NO_INTERRUPT {
		t.Errorf("SetNoInterrupt(true): avail.flags = %d; want 1", got)
	}
	p.dev.Push(1, 0)
	if p.dev.NeedInterrupt() {
		t.Errorf("NeedInterrupt() with VIRTQ_AVAIL_F_NO_INTERRUPT = true; want false")
	}
	p.drv.SetNoInterrupt(false)
	p.drv.SetUsedEvent(100) // ignored without EVENT_IDX
	p.dev.Push(2, 0)
	p.dev.Push(3, 0)
	if !p.dev.NeedInterrupt() {
		t.Errorf("NeedInterrupt() without EVENT_IDX, used_event 100 = false; want true")
	}
}

func TestNeedInterruptEventIdx(t *testing.T) {
	tests := []struct {
		name  string
		start uint16 // used idx already signalled
		event uint16
		n     int
		flags uint16
		want  bool
	}{
		{"first, event 0", 0, 0, 1, 0, true},
		{"event passed", 1, 0, 1, 0, false},
		{"event not reached", 1, 2, 1, 0, false},
		{"event hit", 2, 2, 1, 0, true},
		{"batch crosses event", 0, 3, 5, 0, true},
		{"batch stops short", 0, 5, 5, 0, false},
		{"NO_INTERRUPT ignored", 0, 0, 1, VIRTQ_AVAIL_F_NO_INTERRUPT, true},
		{"NO_INTERRUPT ignored, not reached", 0, 4, 1, VIRTQ_AVAIL_F_NO_INTERRUPT, false},
		{"wrap", 0xFFFE, 0xFFFF, 3, 0, true},
		{"wrap, past 0", 0xFFFE, 1, 3, 0, false},
		{"wrap, event at 0", 0xFFFE, 0, 3, 0, true},
		{"nothing pushed", 0, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, 8, featEventIdx)
			p.dev.usedIdx, p.dev.signalled = tt.start, tt.start
			p.drv.SetUsedEvent(tt.event)
			if got := mustU16(t, p.m, usedEventAddr(p.l)); got != tt.event {
				t.Fatalf("SetUsedEvent(%d): used_event = %d", tt.event, got)
			}
			mustPut16(t, p.m, availFlagsAddr(p.l), tt.flags)
			for i := 0; i < tt.n; i++ {
				p.dev.Push(uint16(i), 0)
			}
			if got := p.dev.NeedInterrupt(); got != tt.want {
				t.Errorf("NeedInterrupt() (old %d, new %d, used_event %d) = %v; want %v",
					tt.start, tt.start+uint16(tt.n), tt.event, got, tt.want)
			}
			if p.dev.NeedInterrupt() {
				t.Errorf("second NeedInterrupt() = true; want false")
			}
		})
	}

	// One at a time: only the push that makes used.idx pass used_event.
	p := newPair(t, 8, featEventIdx)
	p.drv.SetUsedEvent(3)
	for i, want := range []bool{false, false, false, true, false, false} {
		p.dev.Push(0, 0)
		if got := p.dev.NeedInterrupt(); got != want {
			t.Errorf("NeedInterrupt() after push %d (used_event 3) = %v; want %v", i+1, got, want)
		}
	}
}

// ---------------------------------------------------------------- corruption

func TestDeviceCorruption(t *testing.T) {
	max := ^uint64(0)
	tests := []struct {
		name     string
		features uint64
		setup    func(h *handQueue)
	}{
		{"avail idx Size+1 ahead", 0, func(h *handQueue) {
			for i := uint16(0); i < 8; i++ {
				h.desc(i, Desc{bufA, 1, 0, 0})
			}
			h.offer(0, 1, 2, 3, 4, 5, 6, 7, 0)
		}},
		{"avail idx moved backwards", 0, func(h *handQueue) {
			h.desc(0, Desc{bufA, 1, 0, 0})
			mustPut16(h.t, h.m, availIdxAddr(h.l), 0xFFFF)
		}},
		{"head == Size", 0, func(h *handQueue) {
			h.desc(8, Desc{bufA, 1, 0, 0}) // just past the table
			h.offer(8)
		}},
		{"head 0xFFFF", 0, func(h *handQueue) { h.offer(0xFFFF) }},
		{"next == Size", 0, func(h *handQueue) {
			h.desc(8, Desc{bufA, 1, 0, 0}) // just past the table
			h.desc(0, Desc{bufA, 1, fN, 8})
			h.offer(0)
		}},
		{"next 0xFFFF", 0, func(h *handQueue) {
			h.desc(0, Desc{bufA, 1, fN, 1})
			h.desc(1, Desc{bufA, 1, fN, 0xFFFF})
			h.offer(0)
		}},
		{"self loop", 0, func(h *handQueue) {
			h.desc(3, Desc{bufA, 1, fN, 3})
			h.offer(3)
		}},
		{"loop a→b→a", 0, func(h *handQueue) {
			h.desc(1, Desc{bufA, 1, fN, 2})
			h.desc(2, Desc{bufA, 1, fN, 1})
			h.offer(1)
		}},
		{"loop a→b→a, writable", 0, func(h *handQueue) {
			h.desc(1, Desc{bufA, 1, fW | fN, 2})
			h.desc(2, Desc{bufA, 1, fW | fN, 1})
			h.offer(1)
		}},
		{"rho-shaped loop", 0, func(h *handQueue) {
			for i := uint16(0); i < 4; i++ {
				h.desc(i, Desc{bufA, 1, fN, i + 1})
			}
			h.desc(4, Desc{bufA, 1, fN, 2})
			h.offer(0)
		}},
		{"chain of Size+1 descriptors", 0, func(h *handQueue) {
			for i := uint16(0); i < 8; i++ {
				h.desc(i, Desc{bufA, 1, fN, (i + 1) % 8})
			}
			h.offer(0)
		}},
		{"buffer one past memory", 0, func(h *handQueue) {
			h.desc(0, Desc{testMemSize - 3, 4, 0, 0})
			h.offer(0)
		}},
		{"buffer at Len", 0, func(h *handQueue) {
			h.desc(0, Desc{testMemSize, 1, 0, 0})
			h.offer(0)
		}},
		{"empty buffer past Len", 0, func(h *handQueue) {
			h.desc(0, Desc{testMemSize + 1, 0, 0, 0})
			h.offer(0)
		}},
		{"buffer len 2^32-1", 0, func(h *handQueue) {
			h.desc(0, Desc{0, 0xFFFFFFFF, fW, 0})
			h.offer(0)
		}},
		{"buffer addr+len overflows", 0, func(h *handQueue) {
			h.desc(0, Desc{max - 1, 4, 0, 0})
			h.offer(0)
		}},
		{"buffer addr+len wraps to 0", 0, func(h *handQueue) {
			h.desc(0, Desc{max - 15, 16, 0, 0})
			h.offer(0)
		}},
		{"second buffer outside memory", 0, func(h *handQueue) {
			h.desc(0, Desc{bufA, 1, fN, 1})
			h.desc(1, Desc{1 << 63, 1, fW, 0})
			h.offer(0)
		}},
		{"readable after writable", 0, func(h *handQueue) {
			h.desc(0, Desc{bufA, 1, fN, 1})
			h.desc(1, Desc{bufB, 1, fW | fN, 2})
			h.desc(2, Desc{bufC, 1, 0, 0})
			h.offer(0)
		}},
		{"INDIRECT without the feature", 0, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{tbl, 16, fI, 0})
			h.offer(0)
		}},
		{"INDIRECT without the feature, after a direct one", 0, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{bufA, 1, fN, 1})
			h.desc(1, Desc{tbl, 16, fI, 0})
			h.offer(0)
		}},
		{"INDIRECT|NEXT", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{tbl, 16, fI | fN, 1})
			h.desc(1, Desc{bufB, 1, 0, 0})
			h.offer(0)
		}},
		{"indirect table of length 0", featIndirect, func(h *handQueue) {
			h.desc(0, Desc{tbl, 0, fI, 0})
			h.offer(0)
		}},
		{"indirect table of length 8", featIndirect, func(h *handQueue) {
			h.desc(0, Desc{tbl, 8, fI, 0})
			h.offer(0)
		}},
		{"indirect table of length 24", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{tbl, 24, fI, 0})
			h.offer(0)
		}},
		{"indirect table of MaxIndirect+1 entries", featIndirect, func(h *handQueue) {
			h.ind(dataBase+0x10000, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{dataBase + 0x10000, (MaxIndirect + 1) * 16, fI, 0})
			h.offer(0)
		}},
		{"indirect table of 2^32-16 bytes", featIndirect, func(h *handQueue) {
			h.ind(0, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{0, 0xFFFFFFF0, fI, 0})
			h.offer(0)
		}},
		{"indirect table past memory", featIndirect, func(h *handQueue) {
			h.ind(testMemSize-16, 0, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{testMemSize - 16, 32, fI, 0})
			h.offer(0)
		}},
		{"indirect table at Len", featIndirect, func(h *handQueue) {
			h.desc(0, Desc{testMemSize, 16, fI, 0})
			h.offer(0)
		}},
		{"indirect table addr+len overflows", featIndirect, func(h *handQueue) {
			h.desc(0, Desc{max &^ 15, 32, fI, 0})
			h.offer(0)
		}},
		{"nested indirect", featIndirect, func(h *handQueue) {
			h.ind(tbl2, 0, Desc{bufA, 1, 0, 0})
			h.ind(tbl, 0, Desc{tbl2, 16, fI, 0})
			h.desc(0, Desc{tbl, 16, fI, 0})
			h.offer(0)
		}},
		{"nested indirect after a buffer", featIndirect, func(h *handQueue) {
			h.ind(tbl2, 0, Desc{bufA, 1, 0, 0})
			h.ind(tbl, 0, Desc{bufA, 1, fN, 1})
			h.ind(tbl, 1, Desc{tbl2, 16, fI, 0})
			h.desc(0, Desc{tbl, 32, fI, 0})
			h.offer(0)
		}},
		{"indirect table pointing at itself", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{tbl, 16, fI, 0})
			h.desc(0, Desc{tbl, 16, fI, 0})
			h.offer(0)
		}},
		{"loop inside indirect table", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, fN, 1})
			h.ind(tbl, 1, Desc{bufA, 1, fN, 0})
			h.ind(tbl, 2, Desc{bufA, 1, 0, 0})
			h.desc(0, Desc{tbl, 48, fI, 0})
			h.offer(0)
		}},
		{"self loop inside indirect table", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, fW | fN, 0})
			h.desc(0, Desc{tbl, 16 * MaxIndirect, fI, 0})
			h.offer(0)
		}},
		{"next outside indirect table", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, fN, 1})
			h.ind(tbl, 1, Desc{bufA, 1, fN, 2})
			h.ind(tbl, 2, Desc{bufA, 1, 0, 0}) // present in memory, not in the table
			h.desc(0, Desc{tbl, 32, fI, 0})
			h.offer(0)
		}},
		{"buffer outside memory in indirect table", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, fN, 1})
			h.ind(tbl, 1, Desc{max - 3, 8, fW, 0})
			h.desc(0, Desc{tbl, 32, fI, 0})
			h.offer(0)
		}},
		{"readable after writable in indirect table", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufA, 1, fW | fN, 1})
			h.ind(tbl, 1, Desc{bufB, 1, 0, 0})
			h.desc(0, Desc{tbl, 32, fI, 0})
			h.offer(0)
		}},
		{"writable direct then readable indirect", featIndirect, func(h *handQueue) {
			h.ind(tbl, 0, Desc{bufB, 1, 0, 0})
			h.desc(0, Desc{bufA, 1, fW | fN, 1})
			h.desc(1, Desc{tbl, 16, fI, 0})
			h.offer(0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHand(t, tt.features)
			tt.setup(h)
			c, err := h.dev.Pop()
			if !errors.Is(err, ErrCorrupt) || c != nil {
				t.Fatalf("Pop() = %+v, %v; want nil, an error wrapping ErrCorrupt", c, err)
			}
			if got := h.dev.Broken(); got != err {
				t.Errorf("Broken() = %v; want %v", got, err)
			}
			// Repair everything: a broken queue stays broken until reset.
			clear(h.m.buf)
			h.desc(0, Desc{bufA, 1, 0, 0})
			h.offer(0)
			if c2, err2 := h.dev.Pop(); err2 != err || c2 != nil {
				t.Errorf("second Pop() = %+v, %v; want nil, %v", c2, err2, err)
			}
			if err2 := h.dev.Push(0, 0); err2 != err {
				t.Errorf("Push() on a broken queue = %v; want %v", err2, err)
			}
			if id, _ := h.m.U32(usedElemAddr(h.l, 0)); id != 0 || mustU16(t, h.m, usedIdxAddr(h.l)) != 0 {
				t.Errorf("Push() on a broken queue wrote to the used ring")
			}
			if got := h.dev.Broken(); got != err {
				t.Errorf("Broken() after more calls = %v; want %v", got, err)
			}
		})
	}
}

func TestCorruptionAfterValidChains(t *testing.T) {
	h := newHand(t, 0)
	h.desc(0, Desc{bufA, 1, 0, 0})
	h.desc(1, Desc{bufB, 1, fN, 1}) // self loop
	h.offer(0, 0, 1, 0)
	for i := 0; i < 2; i++ {
		c, err := h.dev.Pop()
		if err != nil || c == nil || c.Head != 0 {
			t.Fatalf("Pop() #%d = %+v, %v; want head 0", i, c, err)
		}
		if err := h.dev.Push(c.Head, 0); err != nil {
			t.Fatalf("Push() = %v", err)
		}
	}
	c, err := h.dev.Pop()
	if !errors.Is(err, ErrCorrupt) || c != nil {
		t.Fatalf("Pop() of the looping chain = %+v, %v; want nil, ErrCorrupt", c, err)
	}
	if c, err2 := h.dev.Pop(); err2 != err || c != nil {
		t.Errorf("Pop() after corruption = %+v, %v; want nil, %v", c, err2, err)
	}
	if err2 := h.dev.Push(0, 0); err2 != err {
		t.Errorf("Push() after corruption = %v; want %v", err2, err)
	}
	if got := mustU16(t, h.m, usedIdxAddr(h.l)); got != 2 {
		t.Errorf("used.idx = %d; want 2", got)
	}
}

func TestDriverPopUsedCorruption(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t testing.TB, p *pair, head uint16)
	}{
		{"used idx Size+1 ahead", func(t testing.TB, p *pair, head uint16) {
			for i := uint16(0); i < 9; i++ {
				p.m.PutU32(usedElemAddr(p.l, i), uint32(head))
			}
			mustPut16(t, p.m, usedIdxAddr(p.l), 9)
		}},
		{"used idx moved backwards", func(t testing.TB, p *pair, head uint16) {
			p.m.PutU32(usedElemAddr(p.l, 0), uint32(head))
			mustPut16(t, p.m, usedIdxAddr(p.l), 0xFFFF)
		}},
		{"id not outstanding", func(t testing.TB, p *pair, head uint16) {
			p.m.PutU32(usedElemAddr(p.l, 0), 5)
			mustPut16(t, p.m, usedIdxAddr(p.l), 1)
		}},
		{"id in the middle of a chain", func(t testing.TB, p *pair, head uint16) {
			p.m.PutU32(usedElemAddr(p.l, 0), uint32(head)+1)
			mustPut16(t, p.m, usedIdxAddr(p.l), 1)
		}},
		{"id == Size", func(t testing.TB, p *pair, head uint16) {
			p.m.PutU32(usedElemAddr(p.l, 0), 8)
			mustPut16(t, p.m, usedIdxAddr(p.l), 1)
		}},
		{"id 2^32-1", func(t testing.TB, p *pair, head uint16) {
			p.m.PutU32(usedElemAddr(p.l, 0), 0xFFFFFFFF)
			mustPut16(t, p.m, usedIdxAddr(p.l), 1)
		}},
		{"id 2^16 + head", func(t testing.TB, p *pair, head uint16) {
			p.m.PutU32(usedElemAddr(p.l, 0), 1<<16|uint32(head))
			mustPut16(t, p.m, usedIdxAddr(p.l), 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, 8, 0)
			rd, _ := bufs(t, p.m, dataBase, 0, 4, 4)
			h, err := p.drv.Add(rd, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.drv.Kick()
			free := p.drv.NumFree()
			tt.setup(t, p, h)
			hd, w, ok, err := p.drv.PopUsed()
			if !errors.Is(err, ErrCorrupt) || ok {
				t.Errorf("PopUsed() = %d, %d, %v, %v; want an error wrapping ErrCorrupt", hd, w, ok, err)
			}
			if got := p.drv.NumFree(); got != free {
				t.Errorf("NumFree() after a corrupt used ring = %d; want %d", got, free)
			}
		})
	}

	// The same head returned twice.
	p := newPair(t, 8, 0)
	rd, _ := bufs(t, p.m, dataBase, 0, 4)
	h, _ := p.drv.Add(rd, nil)
	p.drv.Kick()
	c := popOne(t, p.dev)
	p.dev.Push(c.Head, 1)
	p.dev.Push(c.Head, 1)
	if got, _ := popUsed(t, p.drv); got != h {
		t.Errorf("PopUsed() = %d; want %d", got, h)
	}
	if _, _, ok, err := p.drv.PopUsed(); !errors.Is(err, ErrCorrupt) || ok {
		t.Errorf("PopUsed() of a head returned twice = ok %v, %v; want an error wrapping ErrCorrupt", ok, err)
	}
	if got := p.drv.NumFree(); got != 8 {
		t.Errorf("NumFree() = %d; want 8", got)
	}
}

// With EVENT_IDX the device publishes avail_event when it runs dry, so the
// driver notifies it for every new batch, not once every 65536 entries.
func TestEventIdxDeviceRequestsNotifications(t *testing.T) {
	m := NewMemory(1 << 16)
	l := Layout{Size: 8, Desc: 0x1000, Avail: 0x2000, Used: 0x3000}
	features := uint64(1 << VIRTIO_F_EVENT_IDX)
	drv, err := NewDriverQueue(m, l, features)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := NewDeviceQueue(m, l, features)
	if err != nil {
		t.Fatal(err)
	}
	buf := []Buf{{Addr: 0x4000, Len: 16}}
	for round := range 20 {
		if _, err := drv.Add(buf, nil); err != nil {
			t.Fatal(err)
		}
		if !drv.Kick() {
			t.Fatalf("round %d: Kick() = false; the device asked to be notified", round)
		}
		for {
			c, err := dev.Pop()
			if err != nil {
				t.Fatal(err)
			}
			if c == nil {
				break
			}
			dev.Push(c.Head, 0)
		}
		if _, _, ok, err := drv.PopUsed(); !ok || err != nil {
			t.Fatalf("round %d: PopUsed = %v, %v", round, ok, err)
		}
	}
}

// With EVENT_IDX the driver publishes used_event once it has drained the
// used ring, so the device interrupts for every new batch.
func TestEventIdxDriverRequestsInterrupts(t *testing.T) {
	m := NewMemory(1 << 16)
	l := Layout{Size: 8, Desc: 0x1000, Avail: 0x2000, Used: 0x3000}
	features := uint64(1 << VIRTIO_F_EVENT_IDX)
	drv, _ := NewDriverQueue(m, l, features)
	dev, _ := NewDeviceQueue(m, l, features)
	for round := range 20 {
		drv.Add([]Buf{{Addr: 0x4000, Len: 16}}, nil)
		drv.Kick()
		c, err := dev.Pop()
		if err != nil || c == nil {
			t.Fatalf("round %d: Pop = %v, %v", round, c, err)
		}
		dev.Push(c.Head, 0)
		if !dev.NeedInterrupt() {
			t.Fatalf("round %d: NeedInterrupt() = false; the driver asked for one", round)
		}
		for {
			_, _, ok, err := drv.PopUsed()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
		}
	}
}
