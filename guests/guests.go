// Package guests holds fencelab's built guest programs (bin/*.wasm, built
// from c/*.c by `make guests`), so that tools can run them by name.
package guests

import (
	"embed"
	"sort"
	"strings"
)

//go:embed bin/*.wasm
var bin embed.FS

// Lookup returns the built guest called name (hello, prodcons, …).
func Lookup(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return nil, false
	}
	b, err := bin.ReadFile("bin/" + name + ".wasm")
	return b, err == nil
}

// Names lists the built guests.
func Names() []string {
	entries, _ := bin.ReadDir("bin")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm"))
	}
	sort.Strings(names)
	return names
}
