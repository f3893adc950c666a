// Package virtio holds what a virtio driver and a virtio device share: guest
// memory and split virtqueues (virtio 1.x, "Split Virtqueues", §2.7), from
// both sides. The device side ([DeviceQueue]) treats everything it reads from
// guest memory as hostile: every walk is bounded, every address is checked
// without overflow, and a queue the driver has corrupted puts the device in
// the needs-reset state instead of crashing or hanging it. The driver side
// ([DriverQueue]) is what fencelab's guest kernel driver uses, and what device
// tests use as a stand-in guest, so tests write the same ring layouts a Linux
// guest would.
//
// Nothing here is safe for concurrent use: a machine runs one actor at a time.
package virtio

import "encoding/binary"

// Memory is guest physical memory: one flat byte space starting at address
// 0, shared by the driver and the device. Every access is bounds-checked;
// an access that would fall outside, or whose end overflows 64 bits, fails
// and touches nothing.
type Memory struct {
	buf []byte
}

// NewMemory returns size bytes of zeroed guest memory.
func NewMemory(size int) *Memory { return &Memory{buf: make([]byte, size)} }

// Len returns the size of guest memory in bytes.
func (m *Memory) Len() uint64 { return uint64(len(m.buf)) }

// Range returns the n bytes at addr as a slice aliasing guest memory, or
// false if any of them lies outside. n == 0 is valid at any address up to
// and including Len.
func (m *Memory) Range(addr, n uint64) ([]byte, bool) {
	size := uint64(len(m.buf))
	if addr > size || n > size-addr {
		return nil, false
	}
	return m.buf[addr : addr+n : addr+n], true
}

// Read copies len(dst) bytes at addr into dst.
func (m *Memory) Read(addr uint64, dst []byte) bool {
	src, ok := m.Range(addr, uint64(len(dst)))
	if ok {
		copy(dst, src)
	}
	return ok
}

// Write copies src into guest memory at addr.
func (m *Memory) Write(addr uint64, src []byte) bool {
	dst, ok := m.Range(addr, uint64(len(src)))
	if ok {
		copy(dst, src)
	}
	return ok
}

// U16 reads a little-endian u16 at addr.
func (m *Memory) U16(addr uint64) (uint16, bool) {
	b, ok := m.Range(addr, 2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b), true
}

// U32 reads a little-endian u32 at addr.
func (m *Memory) U32(addr uint64) (uint32, bool) {
	b, ok := m.Range(addr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// U64 reads a little-endian u64 at addr.
func (m *Memory) U64(addr uint64) (uint64, bool) {
	b, ok := m.Range(addr, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// PutU16 writes a little-endian u16 at addr.
func (m *Memory) PutU16(addr uint64, v uint16) bool {
	b, ok := m.Range(addr, 2)
	if ok {
		binary.LittleEndian.PutUint16(b, v)
	}
	return ok
}

// PutU32 writes a little-endian u32 at addr.
func (m *Memory) PutU32(addr uint64, v uint32) bool {
	b, ok := m.Range(addr, 4)
	if ok {
		binary.LittleEndian.PutUint32(b, v)
	}
	return ok
}

// PutU64 writes a little-endian u64 at addr.
func (m *Memory) PutU64(addr uint64, v uint64) bool {
	b, ok := m.Range(addr, 8)
	if ok {
		binary.LittleEndian.PutUint64(b, v)
	}
	return ok
}
