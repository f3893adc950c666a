// Package wire builds little-endian byte strings the way a guest lays out
// a UAPI struct, for tests and tools: U32s(handle, flags), U64s(ptr), and
// Cat to join the pieces.
package wire

import (
	"bytes"
	"encoding/binary"
)

// U32s is vs as consecutive little-endian u32s.
func U32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// U64s is vs as consecutive little-endian u64s.
func U64s(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// Cat joins parts.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
