// Package gotool finds the go command for tests that build guests and
// bundles with it.
package gotool

import (
	"os/exec"
	"path/filepath"
	"runtime"
)

// Path is the go command on PATH, else the one of the toolchain that
// built the running binary.
func Path() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
