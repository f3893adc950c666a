package virtio

import (
	"errors"
	"fmt"
)

// Descriptor flags (struct virtq_desc.flags).
const (
	VIRTQ_DESC_F_NEXT     = 1 // the buffer continues in the descriptor named by next
	VIRTQ_DESC_F_WRITE    = 2 // device-writable (otherwise device-readable)
	VIRTQ_DESC_F_INDIRECT = 4 // the buffer is a table of descriptors
)

// Ring flags.
const (
	VIRTQ_AVAIL_F_NO_INTERRUPT = 1 // avail.flags: the driver needs no used-buffer notification
	VIRTQ_USED_F_NO_NOTIFY     = 1 // used.flags: the device needs no available-buffer notification
)

// Feature bits that concern the rings (virtio 1.x §6).
const (
	VIRTIO_F_INDIRECT_DESC = 28
	VIRTIO_F_EVENT_IDX     = 29
	VIRTIO_F_VERSION_1     = 32
)

// Device status bits (§2.1).
const (
	VIRTIO_CONFIG_S_ACKNOWLEDGE        = 1
	VIRTIO_CONFIG_S_DRIVER             = 2
	VIRTIO_CONFIG_S_DRIVER_OK          = 4
	VIRTIO_CONFIG_S_FEATURES_OK        = 8
	VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET = 64
	VIRTIO_CONFIG_S_FAILED             = 128
)

// Sizes of the ring structures (§2.7).
const (
	DescSize     = 16    // struct virtq_desc: le64 addr, le32 len, le16 flags, le16 next
	UsedElemSize = 8     // struct virtq_used_elem: le32 id, le32 len
	MaxQueueSize = 32768 // queue sizes are powers of two up to 32768
	// MaxIndirect bounds an indirect descriptor table. The spec sets no
	// limit of its own; Linux's drivers use a few hundred entries at most.
	MaxIndirect = 4096
)

// Layout says where a queue's three parts lie in guest memory, and how
// many entries it has.
type Layout struct {
	Size  uint16 // number of descriptors; a power of two ≤ MaxQueueSize
	Desc  uint64 // descriptor table, 16-byte aligned, Size × 16 bytes
	Avail uint64 // available ring, 2-byte aligned, 6 + 2 × Size bytes
	Used  uint64 // used ring, 4-byte aligned, 6 + 8 × Size bytes
}

// AvailBytes and UsedBytes are the sizes of the rings for a queue of size n.
func AvailBytes(n uint16) uint64 { return 6 + 2*uint64(n) }
func UsedBytes(n uint16) uint64  { return 6 + UsedElemSize*uint64(n) }

// Check reports why l cannot be used in m, or nil.
func (l Layout) Check(m *Memory) error {
	switch {
	case l.Size == 0 || l.Size > MaxQueueSize || l.Size&(l.Size-1) != 0:
		return fmt.Errorf("queue size %d is not a power of two in 1..%d", l.Size, MaxQueueSize)
	case l.Desc%16 != 0 || l.Avail%2 != 0 || l.Used%4 != 0:
		return fmt.Errorf("misaligned rings: desc %#x (16), avail %#x (2), used %#x (4)", l.Desc, l.Avail, l.Used)
	}
	if _, ok := m.Range(l.Desc, uint64(l.Size)*DescSize); !ok {
		return fmt.Errorf("descriptor table at %#x does not fit in guest memory", l.Desc)
	}
	if _, ok := m.Range(l.Avail, AvailBytes(l.Size)); !ok {
		return fmt.Errorf("available ring at %#x does not fit in guest memory", l.Avail)
	}
	if _, ok := m.Range(l.Used, UsedBytes(l.Size)); !ok {
		return fmt.Errorf("used ring at %#x does not fit in guest memory", l.Used)
	}
	return nil
}

// Desc is one descriptor as it lies in guest memory (struct virtq_desc).
type Desc struct {
	Addr  uint64
	Len   uint32
	Flags uint16
	Next  uint16
}

// Buf is one guest buffer of a chain.
type Buf struct {
	Addr uint64
	Len  uint32
}

// Chain is a descriptor chain the device has taken from the available
// ring: its head (what goes back in the used ring) and its buffers, the
// device-readable ones first.
type Chain struct {
	Head     uint16
	Readable []Buf
	Writable []Buf
}

// ReadableLen and WritableLen are the total sizes of each side.
func (c *Chain) ReadableLen() uint64 { return sumLen(c.Readable) }
func (c *Chain) WritableLen() uint64 { return sumLen(c.Writable) }

func sumLen(bs []Buf) uint64 {
	var n uint64
	for _, b := range bs {
		n += uint64(b.Len)
	}
	return n
}

// ErrCorrupt wraps every reason a queue is unusable. A device that sees it
// must set DEVICE_NEEDS_RESET and stop using the queue until reset.
var ErrCorrupt = errors.New("virtqueue corrupted")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// DeviceQueue is the device's side of a split virtqueue. It takes chains
// from the available ring in order and returns them through the used ring.
// Any inconsistency in what the driver wrote (an index past the ring, a
// loop, a chain longer than the queue, a buffer outside guest memory,
// writable buffers before readable ones, a bad indirect table) is an error
// wrapping [ErrCorrupt]; after one the queue refuses further work.
type DeviceQueue struct {
	mem      *Memory
	l        Layout
	indirect bool // VIRTIO_F_INDIRECT_DESC negotiated
	eventIdx bool // VIRTIO_F_EVENT_IDX negotiated

	lastAvail uint16 // next available-ring slot to take
	usedIdx   uint16 // next used-ring slot to fill
	signalled uint16 // used index at the last interrupt decision
	broken    error
}

// NewDeviceQueue returns the device side of a queue laid out as l.
func NewDeviceQueue(m *Memory, l Layout, features uint64) (*DeviceQueue, error) {
	if err := l.Check(m); err != nil {
		return nil, err
	}
	return &DeviceQueue{
		mem: m, l: l,
		indirect: features&(1<<VIRTIO_F_INDIRECT_DESC) != 0,
		eventIdx: features&(1<<VIRTIO_F_EVENT_IDX) != 0,
	}, nil
}

// Broken returns the error that broke the queue, or nil.
func (q *DeviceQueue) Broken() error { return q.broken }

func (q *DeviceQueue) fail(err error) error {
	q.broken = err
	return err
}

// Pop takes the next available chain. It returns nil, nil when the driver
// has made nothing more available, and then, with EVENT_IDX, publishes
// avail_event so the driver's next addition is notified. Cost is bounded by the queue size, or
// MaxIndirect for a chain through an indirect table.
func (q *DeviceQueue) Pop() (*Chain, error) {
	if q.broken != nil {
		return nil, q.broken
	}
	availIdx, ok := q.mem.U16(q.l.Avail + 2)
	if !ok {
		return nil, q.fail(corrupt("available ring unreadable"))
	}
	pending := availIdx - q.lastAvail
	if pending == 0 {
		// With EVENT_IDX, ask to be notified as soon as the driver makes
		// anything more available (avail_event, §2.7.10).
		if q.eventIdx {
			q.mem.PutU16(q.l.Used+4+UsedElemSize*uint64(q.l.Size), q.lastAvail)
		}
		return nil, nil
	}
	if pending > q.l.Size {
		return nil, q.fail(corrupt("available index %d is %d ahead of the device's %d, past a ring of %d", availIdx, pending, q.lastAvail, q.l.Size))
	}
	head, _ := q.mem.U16(q.l.Avail + 4 + 2*uint64(q.lastAvail%q.l.Size))
	if head >= q.l.Size {
		return nil, q.fail(corrupt("available ring slot %d names descriptor %d of %d", q.lastAvail%q.l.Size, head, q.l.Size))
	}
	c, err := q.walk(head)
	if err != nil {
		return nil, q.fail(err)
	}
	q.lastAvail++
	return c, nil
}

// walk follows the chain at head, through at most one indirect table.
func (q *DeviceQueue) walk(head uint16) (*Chain, error) {
	c := &Chain{Head: head}
	table, entries := q.l.Desc, uint32(q.l.Size)
	inIndirect := false
	i := uint32(head)
	seen := uint32(0) // descriptors visited in the current table
	for ; ; seen++ {
		if seen >= entries {
			return nil, corrupt("chain at %d is longer than its table of %d (a loop?)", head, entries)
		}
		d, ok := readDesc(q.mem, table+uint64(i)*DescSize)
		if !ok {
			return nil, corrupt("descriptor %d unreadable", i)
		}
		if d.Flags&VIRTQ_DESC_F_INDIRECT != 0 {
			switch {
			case !q.indirect:
				return nil, corrupt("descriptor %d is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated", i)
			case inIndirect:
				return nil, corrupt("indirect descriptor inside an indirect table")
			case d.Flags&VIRTQ_DESC_F_NEXT != 0:
				return nil, corrupt("descriptor %d sets both INDIRECT and NEXT", i)
			case d.Len == 0 || d.Len%DescSize != 0 || d.Len/DescSize > MaxIndirect:
				return nil, corrupt("indirect table of %d bytes (want a multiple of 16, at most %d entries)", d.Len, MaxIndirect)
			}
			if _, ok := q.mem.Range(d.Addr, uint64(d.Len)); !ok {
				return nil, corrupt("indirect table at %#x+%d is outside guest memory", d.Addr, d.Len)
			}
			// Direct descriptors may precede the indirect one (the device
			// MUST accept that, §2.7.5.3.2); its WRITE flag is ignored.
			// Counting restarts in the new table: the loop's increment
			// takes seen from MaxUint32 to 0.
			table, entries, inIndirect, i, seen = d.Addr, d.Len/DescSize, true, 0, ^uint32(0)
			continue
		}
		if _, ok := q.mem.Range(d.Addr, uint64(d.Len)); !ok {
			return nil, corrupt("descriptor %d buffer %#x+%d is outside guest memory", i, d.Addr, d.Len)
		}
		b := Buf{Addr: d.Addr, Len: d.Len}
		if d.Flags&VIRTQ_DESC_F_WRITE != 0 {
			c.Writable = append(c.Writable, b)
		} else {
			if len(c.Writable) > 0 {
				return nil, corrupt("descriptor %d is device-readable after device-writable ones", i)
			}
			c.Readable = append(c.Readable, b)
		}
		if d.Flags&VIRTQ_DESC_F_NEXT == 0 {
			return c, nil
		}
		if uint32(d.Next) >= entries {
			return nil, corrupt("descriptor %d links to %d, outside its table of %d", i, d.Next, entries)
		}
		i = uint32(d.Next)
	}
}

func readDesc(m *Memory, addr uint64) (Desc, bool) {
	b, ok := m.Range(addr, DescSize)
	if !ok {
		return Desc{}, false
	}
	return Desc{
		Addr:  le64(b[0:]),
		Len:   le32(b[8:]),
		Flags: le16(b[12:]),
		Next:  le16(b[14:]),
	}, true
}

// Push returns chain head to the driver with written bytes of its writable
// buffers filled, by appending to the used ring and publishing the new
// used index.
func (q *DeviceQueue) Push(head uint16, written uint32) error {
	if q.broken != nil {
		return q.broken
	}
	slot := q.l.Used + 4 + UsedElemSize*uint64(q.usedIdx%q.l.Size)
	q.mem.PutU32(slot, uint32(head))
	q.mem.PutU32(slot+4, written)
	q.usedIdx++
	q.mem.PutU16(q.l.Used+2, q.usedIdx)
	return nil
}

// NeedInterrupt reports whether the driver wants a used-buffer notification
// for what was pushed since the last call: with EVENT_IDX, whether the used
// index has passed the driver's used_event; without, unless the driver set
// VIRTQ_AVAIL_F_NO_INTERRUPT.
func (q *DeviceQueue) NeedInterrupt() bool {
	old := q.signalled
	q.signalled = q.usedIdx
	if old == q.usedIdx {
		return false
	}
	if q.eventIdx {
		event, _ := q.mem.U16(q.l.Avail + 4 + 2*uint64(q.l.Size))
		return needEvent(event, q.usedIdx, old)
	}
	flags, _ := q.mem.U16(q.l.Avail)
	return flags&VIRTQ_AVAIL_F_NO_INTERRUPT == 0
}

// needEvent is vring_need_event: whether moving an index from old to now
// crossed event.
func needEvent(event, now, old uint16) bool { return now-event-1 < now-old }

// Gather copies the readable bytes of c into one buffer, failing if they
// exceed limit (a malformed request, not a corrupted queue).
func Gather(m *Memory, c *Chain, limit uint64) ([]byte, bool) {
	n := c.ReadableLen()
	if n > limit {
		return nil, false
	}
	out := make([]byte, 0, n)
	for _, b := range c.Readable {
		src, ok := m.Range(b.Addr, uint64(b.Len))
		if !ok {
			return nil, false
		}
		out = append(out, src...)
	}
	return out, true
}

// Scatter copies data into the writable buffers of c in order, returning
// how many bytes fit.
func Scatter(m *Memory, c *Chain, data []byte) uint32 {
	var done uint32
	for _, b := range c.Writable {
		if len(data) == 0 {
			break
		}
		dst, ok := m.Range(b.Addr, uint64(b.Len))
		if !ok {
			break
		}
		n := copy(dst, data)
		data = data[n:]
		done += uint32(n)
	}
	return done
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 { return uint32(le16(b)) | uint32(le16(b[2:]))<<16 }
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }
