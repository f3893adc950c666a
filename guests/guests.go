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

// Processes says how the built guest name runs: one process per entry,
// spawned in order, each entry the arguments that process gets before any
// the caller adds. Most guests are one process without arguments.
// conformance is two: the test, and the same module with the argument
// helper, which plays the second thread some IGT subtests need (it waits
// while the test signals; guests/c/conformance.c).
func Processes(name string) [][]string {
	var out [][]string
	for _, args := range recipes[name] {
		out = append(out, append([]string(nil), args...))
	}
	if out == nil {
		out = [][]string{nil}
	}
	return out
}

// recipes are the built guests that run as more than one process.
var recipes = map[string][][]string{
	"conformance": {nil, {"helper"}},
	"prodcons":    {nil, nil},
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
