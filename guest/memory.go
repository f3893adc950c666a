package guest

import (
	"github.com/tetratelabs/wazero/api"

	"fencelab/errno"
)

// memory is a module's linear memory as the kernel sees a process's
// memory (fence.UserMemory): a wasm32 address space, where anything past
// the memory's current size, or past 4 GiB, is EFAULT, and a copy of
// zero bytes never faults.
type memory struct{ m api.Memory }

func (mem *memory) span(addr uint64, n int) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if mem.m == nil || addr > 1<<32-1 || uint64(n) > 1<<32-1 {
		return nil, false
	}
	return mem.m.Read(uint32(addr), uint32(n))
}

// CopyIn copies len(dst) bytes at addr into dst.
func (mem *memory) CopyIn(addr uint64, dst []byte) errno.Errno {
	b, ok := mem.span(addr, len(dst))
	if !ok {
		return errno.EFAULT
	}
	copy(dst, b)
	return 0
}

// CopyOut copies src to addr.
func (mem *memory) CopyOut(addr uint64, src []byte) errno.Errno {
	b, ok := mem.span(addr, len(src))
	if !ok {
		return errno.EFAULT
	}
	copy(b, src)
	return 0
}
