package machine

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed C guests are what `make guests` builds from their
// sources: rebuilt here with Debian's clang (which .ci/run installs) and
// compared byte for byte.
func TestCGuestsUpToDate(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("clang is not installed (.ci/run installs it): cannot rebuild the C guests")
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "-s", "-C", "..", "GUESTBIN="+dir, "guests")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make guests: %v\n%s", err, out)
	}
	built, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if len(built) == 0 {
		t.Fatal("make guests built nothing")
	}
	for _, b := range built {
		want, _ := os.ReadFile(b)
		got, err := os.ReadFile(filepath.Join("..", "guests", "bin", filepath.Base(b)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("guests/bin/%s is not what make guests builds from guests/c (run make guests and commit)", filepath.Base(b))
		}
	}
}

// A C program written against Linux's UAPI headers and fencelab.h runs
// on the machine with Linux's semantics: libdrm's return conventions,
// errno values that compare equal to wasi-libc's EINVAL/EFAULT/ETIME,
// a timeout in virtual time, and its exit status.
func TestCGuestHello(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/hello.wasm")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("hello", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	out, errOut := p.Output()
	want := `open: 0
open /dev/nope: ENOENT
syncobjs: 1 2
wait: ETIME after 5 ms
timeline point after signalling 3: 3
wait for point 2: 0
bad pointer: EFAULT
`
	if code, _ := p.Exit(); code != 7 || out != want {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s\nwant exit 7 and:\n%s", code, out, errOut, want)
	}
}
