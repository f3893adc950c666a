// Package flatmem is a process's memory for tests and tools: one flat
// byte range at a base address, with a bump allocator. It implements
// fence.UserMemory's copy rules: any byte outside the range faults with
// EFAULT, and a copy of zero bytes always succeeds.
package flatmem

import (
	"sync"

	"fencelab/errno"
)

// Memory is size bytes at addresses [Base, Base+size). Address 0 and
// everything below Base fault. Safe for concurrent use.
type Memory struct {
	Base uint64

	mu   sync.Mutex
	buf  []byte
	next uint64
}

// New returns size zeroed bytes at base.
func New(base uint64, size int) *Memory {
	return &Memory{Base: base, buf: make([]byte, size), next: base}
}

// End returns the first address past the memory.
func (m *Memory) End() uint64 { return m.Base + uint64(len(m.buf)) }

func (m *Memory) span(addr uint64, n int) ([]byte, bool) {
	if addr < m.Base || addr-m.Base > uint64(len(m.buf)) || uint64(n) > uint64(len(m.buf))-(addr-m.Base) {
		return nil, false
	}
	o := addr - m.Base
	return m.buf[o : o+uint64(n)], true
}

// CopyIn copies len(dst) bytes at addr into dst.
func (m *Memory) CopyIn(addr uint64, dst []byte) errno.Errno {
	return m.access(addr, len(dst), func(mem []byte) { copy(dst, mem) })
}

// CopyOut copies src to addr.
func (m *Memory) CopyOut(addr uint64, src []byte) errno.Errno {
	return m.access(addr, len(src), func(mem []byte) { copy(mem, src) })
}

// access runs do on the n bytes at addr, under the lock; EFAULT if any of
// them is outside the memory. Zero bytes never fault.
func (m *Memory) access(addr uint64, n int, do func([]byte)) errno.Errno {
	if n == 0 {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.span(addr, n)
	if !ok {
		return errno.EFAULT
	}
	do(b)
	return 0
}

// Alloc returns n zeroed bytes, 8-byte aligned. It panics when the memory
// is used up: a test that allocates that much is wrong.
func (m *Memory) Alloc(n int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := (m.next + 7) &^ 7
	if a-m.Base+uint64(n) > uint64(len(m.buf)) {
		panic("flatmem: out of memory")
	}
	m.next = a + uint64(n)
	return a
}

// Put stores b in fresh memory and returns its address.
func (m *Memory) Put(b []byte) uint64 {
	a := m.Alloc(len(b))
	m.CopyOut(a, b)
	return a
}

// Get returns a copy of the n bytes at addr; it panics if they are not
// all inside the memory.
func (m *Memory) Get(addr uint64, n int) []byte {
	b := make([]byte, n)
	if m.CopyIn(addr, b) != 0 {
		panic("flatmem: Get outside memory")
	}
	return b
}
