package guests

import (
	"bytes"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, n := range []string{"hello", "prodcons"} {
		b, ok := Lookup(n)
		if !ok || !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("Lookup(%q) = %d bytes, %v; want a wasm module", n, len(b), ok)
		}
	}
	for _, n := range []string{"", "nope", "../guests", "hello.wasm", "bin/hello"} {
		if _, ok := Lookup(n); ok {
			t.Errorf("Lookup(%q) found something", n)
		}
	}
	if got := Names(); len(got) < 2 || got[0] != "hello" {
		t.Errorf("Names() = %v", got)
	}
}
