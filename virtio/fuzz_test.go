package virtio

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// The fuzzed guest: 4 KiB holding a queue of 8 at fixed offsets; the rest
// is buffers and indirect tables, wherever the input points.
const (
	fuzzMem   = 4096
	fuzzSize  = 8
	fuzzPops  = 64
	fuzzTable = 0x400
)

var fuzzLayout = Layout{Size: fuzzSize, Desc: 0x000, Avail: 0x080, Used: 0x0C0}

func fuzzFeatures(b byte) uint64 {
	var f uint64
	if b&1 != 0 {
		f |= featIndirect
	}
	if b&2 != 0 {
		f |= featEventIdx
	}
	return f
}

// refPop is the spec's split-virtqueue walk (§2.7.5), written
// independently of DeviceQueue: loops are found with a visited set
// rather than a counter. bad means the driver broke a MUST.
func refPop(m *Memory, l Layout, indirect bool, last uint16) (c *Chain, bad bool) {
	idx, _ := m.U16(l.Avail + 2)
	if idx == last {
		return nil, false
	}
	if uint16(idx-last) > l.Size {
		return nil, true
	}
	head, _ := m.U16(l.Avail + 4 + 2*uint64(last%l.Size))
	if head >= l.Size {
		return nil, true
	}
	inside := func(addr, n uint64) bool { return addr <= m.Len() && n <= m.Len()-addr }
	c = &Chain{Head: head}
	table, n := l.Desc, uint64(l.Size)
	visited := make([]bool, n)
	inIndirect := false
	for i := uint64(head); ; {
		if visited[i] {
			return nil, true
		}
		visited[i] = true
		a := table + 16*i
		addr, _ := m.U64(a)
		ln, _ := m.U32(a + 8)
		flags, _ := m.U16(a + 12)
		next, _ := m.U16(a + 14)
		if flags&VIRTQ_DESC_F_INDIRECT != 0 {
			if !indirect || inIndirect || flags&VIRTQ_DESC_F_NEXT != 0 ||
				ln == 0 || ln%16 != 0 || ln/16 > MaxIndirect || !inside(addr, uint64(ln)) {
				return nil, true
			}
			table, n, inIndirect, i = addr, uint64(ln/16), true, 0
			visited = make([]bool, n)
			continue
		}
		if !inside(addr, uint64(ln)) {
			return nil, true
		}
		if flags&VIRTQ_DESC_F_WRITE != 0 {
			c.Writable = append(c.Writable, Buf{addr, ln})
		} else {
			if len(c.Writable) > 0 {
				return nil, true
			}
			c.Readable = append(c.Readable, Buf{addr, ln})
		}
		if flags&VIRTQ_DESC_F_NEXT == 0 {
			return c, false
		}
		if uint64(next) >= n {
			return nil, true
		}
		i = uint64(next)
	}
}

// fuzzSeed builds a guest image with a DriverQueue and returns its memory
// with trailing zeros trimmed.
func fuzzSeed(f *testing.F, build func(m *Memory, q *DriverQueue)) []byte {
	m := NewMemory(fuzzMem)
	q, err := NewDriverQueue(m, fuzzLayout, 0)
	if err != nil {
		f.Fatal(err)
	}
	build(m, q)
	q.Kick()
	return bytes.TrimRight(m.buf, "\x00")
}

func addSeeds(f *testing.F) {
	buf := func(addr uint64, n uint32) []Buf { return []Buf{{addr, n}} }
	seeds := []struct {
		features byte
		image    []byte
	}{
		{0, fuzzSeed(f, func(m *Memory, q *DriverQueue) { q.Add(buf(0x800, 16), nil) })},
		{0, fuzzSeed(f, func(m *Memory, q *DriverQueue) {
			q.Add([]Buf{{0x800, 4}, {0x810, 4}, {0x820, 4}}, []Buf{{0x900, 8}, {0x910, 8}})
			q.Add(nil, buf(0xA00, 32))
			q.Add(buf(0xB00, 1), buf(0xB10, 1))
		})},
		{1, fuzzSeed(f, func(m *Memory, q *DriverQueue) {
			q.AddIndirect(fuzzTable, []Buf{{0x800, 4}, {0x810, 4}}, []Buf{{0x900, 8}})
			q.Add(buf(0x820, 2), nil)
		})},
		{3, fuzzSeed(f, func(m *Memory, q *DriverQueue) {
			for i := uint64(0); i < fuzzSize; i++ {
				q.Add(buf(0x800+16*i, 16), nil)
			}
			q.SetUsedEvent(3)
		})},
		{1, fuzzSeed(f, func(m *Memory, q *DriverQueue) {
			// Direct, then indirect, by hand.
			writeDesc(m, fuzzLayout.Desc, Desc{0x800, 4, VIRTQ_DESC_F_NEXT, 1})
			writeDesc(m, fuzzLayout.Desc+16, Desc{fuzzTable, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0})
			writeDesc(m, fuzzTable, Desc{0x810, 4, VIRTQ_DESC_F_NEXT, 1})
			writeDesc(m, fuzzTable+16, Desc{0x900, 8, VIRTQ_DESC_F_WRITE, 0})
			q.offer(0)
		})},
		{0, fuzzSeed(f, func(m *Memory, q *DriverQueue) {
			// A loop: corrupt.
			writeDesc(m, fuzzLayout.Desc, Desc{0x800, 4, VIRTQ_DESC_F_NEXT, 1})
			writeDesc(m, fuzzLayout.Desc+16, Desc{0x800, 4, VIRTQ_DESC_F_NEXT, 0})
			q.offer(0)
		})},
		{1, fuzzSeed(f, func(m *Memory, q *DriverQueue) {
			// Writable buffers overlapping the descriptor table and ring.
			q.Add(nil, []Buf{{0, 0x80}, {0x80, 0x40}})
			q.Add(buf(0x800, 4), nil)
		})},
	}
	for _, s := range seeds {
		f.Add(s.image, s.features)
	}
	f.Add([]byte{}, byte(0))
}

func FuzzDeviceQueue(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, image []byte, features byte) {
		m := NewMemory(fuzzMem)
		copy(m.buf, image)
		feat := fuzzFeatures(features)
		q, err := NewDeviceQueue(m, fuzzLayout, feat)
		if err != nil {
			t.Fatalf("NewDeviceQueue() = %v", err)
		}
		reply := bytes.Repeat([]byte{features}, int(features)*4)
		last := uint16(0)
		total := 0
		for i := 0; i < fuzzPops; i++ {
			want, wantBad := refPop(m, fuzzLayout, feat&featIndirect != 0, last)
			c, err := q.Pop()
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Pop() = %v; want an error wrapping ErrCorrupt", err)
				}
				if !wantBad {
					t.Fatalf("Pop() = %v; the spec walk accepts %+v", err, want)
				}
				if c != nil {
					t.Fatalf("Pop() = %+v, %v; want a nil chain with the error", c, err)
				}
				if q.Broken() != err {
					t.Fatalf("Broken() = %v; want %v", q.Broken(), err)
				}
				for k := 0; k < 3; k++ {
					if c2, err2 := q.Pop(); c2 != nil || err2 != err {
						t.Fatalf("Pop() on a broken queue = %+v, %v; want nil, %v", c2, err2, err)
					}
					if err2 := q.Push(0, 0); err2 != err {
						t.Fatalf("Push() on a broken queue = %v; want %v", err2, err)
					}
				}
				return
			}
			if wantBad {
				t.Fatalf("Pop() = %+v, nil; the spec walk rejects it", c)
			}
			if c == nil {
				if want != nil {
					t.Fatalf("Pop() = nil; want %+v", want)
				}
				break
			}
			if want == nil || c.Head != want.Head || !slices.Equal(c.Readable, want.Readable) || !slices.Equal(c.Writable, want.Writable) {
				t.Fatalf("Pop() = %+v; want %+v", c, want)
			}
			n := len(c.Readable) + len(c.Writable)
			if c.Head >= fuzzSize || n == 0 || n > fuzzSize+MaxIndirect {
				t.Fatalf("Pop() = head %d with %d buffers; want head < %d and 1..%d buffers", c.Head, n, fuzzSize, fuzzSize+MaxIndirect)
			}
			for _, b := range slices.Concat(c.Readable, c.Writable) {
				if _, ok := m.Range(b.Addr, uint64(b.Len)); !ok {
					t.Fatalf("Pop() returned buffer %+v outside memory", b)
				}
			}
			total += n
			if data, ok := Gather(m, c, fuzzMem*fuzzMem); !ok || uint64(len(data)) != c.ReadableLen() {
				t.Fatalf("Gather() = %d bytes, %v; want %d, true", len(data), ok, c.ReadableLen())
			}
			// Writing may land on the rings themselves: later pops must
			// still behave.
			w := Scatter(m, c, reply)
			if uint64(w) != min(uint64(len(reply)), c.WritableLen()) {
				t.Fatalf("Scatter(%d bytes) = %d; writable space %d", len(reply), w, c.WritableLen())
			}
			if err := q.Push(c.Head, w); err != nil {
				t.Fatalf("Push() = %v", err)
			}
			q.NeedInterrupt()
			last++
		}
		if total > fuzzPops*(fuzzSize+MaxIndirect) {
			t.Fatalf("walked %d buffers in %d pops", total, fuzzPops)
		}
		if err := q.Broken(); err != nil {
			t.Fatalf("Broken() = %v after only successful pops", err)
		}
	})
}

// FuzzDriverQueuePopUsed lets a hostile device write the used ring.
func FuzzDriverQueuePopUsed(f *testing.F) {
	l := fuzzLayout
	ring := func(idx uint16, elems ...[2]uint32) []byte {
		b := make([]byte, UsedBytes(fuzzSize))
		putLE16(b[2:], idx)
		for i, e := range elems {
			putLE32(b[4+8*i:], e[0])
			putLE32(b[8+8*i:], e[1])
		}
		return b
	}
	f.Add(ring(1, [2]uint32{0, 4}), byte(0))
	f.Add(ring(2, [2]uint32{1, 0}, [2]uint32{0, 8}), byte(0x05))
	f.Add(slices.Concat(ring(1, [2]uint32{0, 1}), ring(2, [2]uint32{0, 1}, [2]uint32{0, 1})), byte(0x00))
	f.Add(ring(9), byte(0xFF))
	f.Add(ring(1, [2]uint32{0xFFFFFFFF, 0}), byte(0x10))
	f.Add([]byte{}, byte(0))

	f.Fuzz(func(t *testing.T, data []byte, plan byte) {
		m := NewMemory(fuzzMem)
		q, err := NewDriverQueue(m, l, 0)
		if err != nil {
			t.Fatal(err)
		}
		outstanding := map[uint16]int{} // head → descriptors
		held := 0
		k := 0
		add := func() {
			n := 1 + int(plan>>(2*(k%4)))&3
			k++
			if n > q.NumFree() {
				return
			}
			rd := make([]Buf, n)
			for i := range rd {
				rd[i] = Buf{0x800 + 16*uint64(i), 16}
			}
			h, err := q.Add(rd, nil)
			if err != nil {
				t.Fatalf("Add(%d) with %d free = %v", n, q.NumFree(), err)
			}
			if _, dup := outstanding[h]; dup {
				t.Fatalf("Add() returned head %d, already outstanding", h)
			}
			outstanding[h] = n
			held += n
		}
		for i := 0; i < 4; i++ {
			add()
		}
		q.Kick()
		check := func() {
			free := q.NumFree()
			if free < 0 || free > fuzzSize || free+held != fuzzSize {
				t.Fatalf("NumFree() = %d with %d descriptors outstanding; want %d", free, held, fuzzSize-held)
			}
			// The free list holds exactly the descriptors no chain holds.
			owned := make([]bool, fuzzSize)
			for h, n := range outstanding {
				i := h
				for j := 0; j < n; j++ {
					if owned[i] {
						t.Fatalf("descriptor %d is in two chains", i)
					}
					owned[i] = true
					d, _ := readDesc(m, l.Desc+16*uint64(i))
					i = d.Next % fuzzSize
				}
			}
			i := q.freeHead
			for j := 0; j < free; j++ {
				if owned[i] {
					t.Fatalf("free list reaches descriptor %d, which a chain holds", i)
				}
				owned[i] = true
				d, _ := readDesc(m, l.Desc+16*uint64(i))
				i = d.Next % fuzzSize
			}
		}
		check()
		used, _ := m.Range(l.Used, UsedBytes(fuzzSize))
		for len(data) > 0 {
			n := copy(used, data)
			data = data[n:]
			for i := 0; i < 2*fuzzSize+2; i++ {
				before := q.NumFree()
				h, _, ok, err := q.PopUsed()
				if err != nil {
					if !errors.Is(err, ErrCorrupt) || ok {
						t.Fatalf("PopUsed() = ok %v, %v; want false and an error wrapping ErrCorrupt", ok, err)
					}
					if q.NumFree() != before {
						t.Fatalf("NumFree() after a failed PopUsed = %d; want %d", q.NumFree(), before)
					}
					break
				}
				if !ok {
					break
				}
				dn, was := outstanding[h]
				if !was {
					t.Fatalf("PopUsed() = head %d, which was not outstanding", h)
				}
				delete(outstanding, h)
				held -= dn
				check()
				add()
				q.Kick()
				check()
			}
		}
	})
}
