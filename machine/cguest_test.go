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

// prodcons, the seed review's compute-then-graphics case, as two C
// guests sharing a timeline through a channel: each consumer job is
// submitted when the producer's point is done (a cross-context in-fence
// waited in the guest kernel), and on the one-worker GPU the consumer's
// jobs run after the producer's. The same run twice gives the same
// output.
func TestCGuestProdcons(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/prodcons.wasm")
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		m, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		p1, _ := m.SpawnWasm("prodcons", wasm)
		p2, _ := m.SpawnWasm("prodcons", wasm)
		if err := m.Run(forever); err != nil {
			t.Fatal(err)
		}
		o1, _ := p1.Output()
		o2, _ := p2.Output()
		return o1 + o2
	}
	got := run()
	want := `producer: 4 compute jobs submitted at 0.0 ms
producer: point 4 done at 12.0 ms
consumer: job 1 submitted at 3.0 ms
consumer: job 2 submitted at 6.0 ms
consumer: job 3 submitted at 9.0 ms
consumer: job 4 submitted at 12.0 ms
consumer: all done at 16.0 ms (0)
`
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if again := run(); again != got {
		t.Errorf("a second run differs:\n%s", again)
	}
}
