package flatmem

import (
	"bytes"
	"testing"

	"fencelab/errno"
)

func TestCopyRules(t *testing.T) {
	m := New(0x1000, 64)
	tests := []struct {
		name string
		addr uint64
		n    int
		want errno.Errno
	}{
		{"inside", 0x1000, 64, 0},
		{"last byte", 0x103f, 1, 0},
		{"one past", 0x1040, 1, errno.EFAULT},
		{"below base", 0xfff, 1, errno.EFAULT},
		{"address 0", 0, 1, errno.EFAULT},
		{"wraps 64 bits", 1<<64 - 1, 2, errno.EFAULT},
		{"zero bytes anywhere", 0, 0, 0},
	}
	for _, tt := range tests {
		if got := m.CopyIn(tt.addr, make([]byte, tt.n)); got != tt.want {
			t.Errorf("%s: CopyIn = %v; want %v", tt.name, got, tt.want)
		}
		if got := m.CopyOut(tt.addr, make([]byte, tt.n)); got != tt.want {
			t.Errorf("%s: CopyOut = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestAllocPutGet(t *testing.T) {
	m := New(0x1000, 64)
	a := m.Put([]byte{1, 2, 3})
	b := m.Alloc(4)
	if a != 0x1000 || b != 0x1008 {
		t.Errorf("addresses %#x, %#x; want 0x1000, 0x1008 (8-byte aligned)", a, b)
	}
	if got := m.Get(a, 3); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("Get = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Alloc past the end did not panic")
		}
	}()
	m.Alloc(64)
}
