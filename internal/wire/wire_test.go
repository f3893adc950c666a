package wire

import (
	"bytes"
	"testing"
)

func TestLayout(t *testing.T) {
	got := Cat(U32s(1, 0xa0b0c0d0), U64s(0x0102030405060708))
	want := []byte{1, 0, 0, 0, 0xd0, 0xc0, 0xb0, 0xa0, 8, 7, 6, 5, 4, 3, 2, 1}
	if !bytes.Equal(got, want) {
		t.Errorf("% x; want % x", got, want)
	}
}
