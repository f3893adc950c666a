package virtio

import (
	"errors"
	"fmt"
)

// ErrNoSpace is returned by [DriverQueue.Add] when the queue has too few
// free descriptors for the chain; the driver waits for used buffers.
var ErrNoSpace = errors.New("virtqueue full")

// DriverQueue is the driver's side of a split virtqueue, as Linux's
// virtio_ring.c keeps it: a free list of descriptors, a shadow of the
// available index that [DriverQueue.Kick] publishes, and the last used
// index it has consumed. It trusts its own descriptor table but checks
// what the device writes into the used ring.
type DriverQueue struct {
	mem      *Memory
	l        Layout
	eventIdx bool

	freeHead  uint16
	numFree   uint16
	chainLen  []uint16 // descriptors held by each outstanding head; 0 = free
	availIdx  uint16   // shadow of avail.idx, published by Kick
	published uint16   // avail.idx as last published
	lastUsed  uint16
}

// NewDriverQueue lays out an empty queue at l: a descriptor free list,
// zeroed rings.
func NewDriverQueue(m *Memory, l Layout, features uint64) (*DriverQueue, error) {
	if err := l.Check(m); err != nil {
		return nil, err
	}
	q := &DriverQueue{mem: m, l: l, eventIdx: features&(1<<VIRTIO_F_EVENT_IDX) != 0,
		numFree: l.Size, chainLen: make([]uint16, l.Size)}
	for i := uint16(0); i < l.Size; i++ {
		writeDesc(m, l.Desc+uint64(i)*DescSize, Desc{Next: (i + 1) % l.Size})
	}
	zero, _ := m.Range(l.Avail, AvailBytes(l.Size))
	clear(zero)
	zero, _ = m.Range(l.Used, UsedBytes(l.Size))
	clear(zero)
	return q, nil
}

// Layout returns where the queue lies.
func (q *DriverQueue) Layout() Layout { return q.l }

// NumFree returns how many descriptors are free.
func (q *DriverQueue) NumFree() int { return int(q.numFree) }

// Add makes a chain of the given device-readable and device-writable
// buffers available (not yet published; see [DriverQueue.Kick]) and
// returns its head.
func (q *DriverQueue) Add(readable, writable []Buf) (uint16, error) {
	n := len(readable) + len(writable)
	if n == 0 {
		return 0, errors.New("virtqueue: a chain needs at least one buffer")
	}
	if n > int(q.numFree) {
		return 0, ErrNoSpace
	}
	head := q.freeHead
	i := head
	for k := 0; k < n; k++ {
		addr := q.l.Desc + uint64(i)*DescSize
		d, _ := readDesc(q.mem, addr)
		next := d.Next
		b, flags := chainBuf(k, readable, writable)
		writeDesc(q.mem, addr, Desc{Addr: b.Addr, Len: b.Len, Flags: flags, Next: next})
		if k < n-1 {
			i = next
		} else {
			q.freeHead = next
		}
	}
	q.numFree -= uint16(n)
	q.chainLen[head] = uint16(n)
	q.offer(head)
	return head, nil
}

// AddIndirect makes a chain available through one descriptor pointing at
// an indirect table that the caller has room for at table (16 bytes per
// buffer). It needs VIRTIO_F_INDIRECT_DESC on the device side.
func (q *DriverQueue) AddIndirect(table uint64, readable, writable []Buf) (uint16, error) {
	n := len(readable) + len(writable)
	if n == 0 || n > MaxIndirect {
		return 0, fmt.Errorf("virtqueue: an indirect table holds 1..%d buffers, not %d", MaxIndirect, n)
	}
	if q.numFree == 0 {
		return 0, ErrNoSpace
	}
	for k := 0; k < n; k++ {
		b, flags := chainBuf(k, readable, writable)
		if !writeDesc(q.mem, table+uint64(k)*DescSize, Desc{Addr: b.Addr, Len: b.Len, Flags: flags, Next: uint16(k + 1)}) {
			return 0, fmt.Errorf("virtqueue: indirect table at %#x does not fit in guest memory", table)
		}
	}
	head := q.freeHead
	addr := q.l.Desc + uint64(head)*DescSize
	d, _ := readDesc(q.mem, addr)
	q.freeHead = d.Next
	writeDesc(q.mem, addr, Desc{Addr: table, Len: uint32(n) * DescSize, Flags: VIRTQ_DESC_F_INDIRECT, Next: d.Next})
	q.numFree--
	q.chainLen[head] = 1
	q.offer(head)
	return head, nil
}

// chainBuf returns the k-th buffer of a chain of readable then writable
// buffers, with its WRITE flag and, unless it is the last, NEXT.
func chainBuf(k int, readable, writable []Buf) (Buf, uint16) {
	var flags uint16
	if k < len(readable)+len(writable)-1 {
		flags |= VIRTQ_DESC_F_NEXT
	}
	if k < len(readable) {
		return readable[k], flags
	}
	return writable[k-len(readable)], flags | VIRTQ_DESC_F_WRITE
}

// offer puts head in the next available-ring slot.
func (q *DriverQueue) offer(head uint16) {
	q.mem.PutU16(q.l.Avail+4+2*uint64(q.availIdx%q.l.Size), head)
	q.availIdx++
}

// Kick publishes everything added since the last Kick and reports whether
// the device asked to be notified: with EVENT_IDX, whether the available
// index passed the device's avail_event; otherwise unless the device set
// VIRTQ_USED_F_NO_NOTIFY.
func (q *DriverQueue) Kick() bool {
	old := q.published
	q.mem.PutU16(q.l.Avail+2, q.availIdx)
	q.published = q.availIdx
	if old == q.availIdx {
		return false
	}
	if q.eventIdx {
		event, _ := q.mem.U16(q.l.Used + 4 + UsedElemSize*uint64(q.l.Size))
		return needEvent(event, q.availIdx, old)
	}
	flags, _ := q.mem.U16(q.l.Used)
	return flags&VIRTQ_USED_F_NO_NOTIFY == 0
}

// PopUsed takes the next element the device returned: the chain's head and
// how many bytes it wrote. ok is false when there is none; then, with
// EVENT_IDX, it publishes used_event so the device interrupts for the next. A used element
// naming a head that is not outstanding, or a used index more than a ring
// ahead, is an error wrapping [ErrCorrupt] (a broken device).
func (q *DriverQueue) PopUsed() (head uint16, written uint32, ok bool, err error) {
	usedIdx, _ := q.mem.U16(q.l.Used + 2)
	if usedIdx == q.lastUsed {
		// With EVENT_IDX, ask for an interrupt at the next used buffer
		// (used_event, as Linux's virtqueue_enable_cb does).
		if q.eventIdx {
			q.SetUsedEvent(q.lastUsed)
		}
		return 0, 0, false, nil
	}
	if usedIdx-q.lastUsed > q.l.Size {
		return 0, 0, false, corrupt("used index %d is more than a ring ahead of %d", usedIdx, q.lastUsed)
	}
	slot := q.l.Used + 4 + UsedElemSize*uint64(q.lastUsed%q.l.Size)
	id, _ := q.mem.U32(slot)
	written, _ = q.mem.U32(slot + 4)
	if id >= uint32(q.l.Size) || q.chainLen[id] == 0 {
		return 0, 0, false, corrupt("used ring returns descriptor %d, which is not outstanding", id)
	}
	q.lastUsed++
	q.free(uint16(id))
	return uint16(id), written, true, nil
}

// free returns the descriptors of chain head to the free list.
func (q *DriverQueue) free(head uint16) {
	n := q.chainLen[head]
	q.chainLen[head] = 0
	last := head
	for k := uint16(1); k < n; k++ {
		d, _ := readDesc(q.mem, q.l.Desc+uint64(last)*DescSize)
		last = d.Next % q.l.Size
	}
	addr := q.l.Desc + uint64(last)*DescSize
	d, _ := readDesc(q.mem, addr)
	d.Next = q.freeHead
	d.Flags &^= VIRTQ_DESC_F_NEXT
	writeDesc(q.mem, addr, d)
	q.freeHead = head
	q.numFree += n
}

// SetUsedEvent writes used_event, the used index at which the driver next
// wants an interrupt (with EVENT_IDX).
func (q *DriverQueue) SetUsedEvent(idx uint16) {
	q.mem.PutU16(q.l.Avail+4+2*uint64(q.l.Size), idx)
}

// SetNoInterrupt sets or clears VIRTQ_AVAIL_F_NO_INTERRUPT.
func (q *DriverQueue) SetNoInterrupt(on bool) {
	var f uint16
	if on {
		f = VIRTQ_AVAIL_F_NO_INTERRUPT
	}
	q.mem.PutU16(q.l.Avail, f)
}

func writeDesc(m *Memory, addr uint64, d Desc) bool {
	b, ok := m.Range(addr, DescSize)
	if !ok {
		return false
	}
	putLE64(b[0:], d.Addr)
	putLE32(b[8:], d.Len)
	putLE16(b[12:], d.Flags)
	putLE16(b[14:], d.Next)
	return true
}

func putLE16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func putLE32(b []byte, v uint32) { putLE16(b, uint16(v)); putLE16(b[2:], uint16(v>>16)) }
func putLE64(b []byte, v uint64) { putLE32(b, uint32(v)); putLE32(b[4:], uint32(v>>32)) }
