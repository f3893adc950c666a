package guests

import (
	"bytes"
	"slices"
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
	got := Names()
	if !slices.IsSorted(got) || !slices.Contains(got, "hello") || !slices.Contains(got, "conformance") {
		t.Errorf("Names() = %v; want them sorted, hello and conformance among them", got)
	}
}

func TestProcesses(t *testing.T) {
	for _, tt := range []struct {
		name string
		want [][]string
	}{
		{"hello", [][]string{nil}},
		{"nope", [][]string{nil}},
		{"conformance", [][]string{nil, {"helper"}}},
	} {
		got := Processes(tt.name)
		if !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("Processes(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
	// The caller may append to what it gets without changing the recipe.
	p := Processes("conformance")
	_ = append(p[1], "x")
	p[1][0] = "changed"
	if again := Processes("conformance"); again[1][0] != "helper" {
		t.Errorf("Processes(conformance) after a caller changed its copy = %q", again)
	}
}
