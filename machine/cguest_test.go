package machine

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fencelab/device"
	"fencelab/timeline"
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

// triangle renders on two rings into three buffers and flips them with
// atomic commits fenced both ways. Every frame reaches the screen on its
// own vblank; the buffer shown half a second in is a whole frame drawn by
// both rings: a background band of some frame k at the top left, the
// clear colour between bands, and at the centre the three vertex colours
// blended equally by the innermost triangle. The same run twice shows
// the same pixels.
func TestCGuestTriangle(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/triangle.wasm")
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 320, 240
	run := func(until int64, args ...string) (*Process, *Machine) {
		m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: w, Height: h}}}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.SpawnWasm("triangle", wasm, args...)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Run(until); err != nil {
			t.Fatal(err)
		}
		return p, m
	}
	p, _ := run(forever, "30")
	if out, errOut := p.Output(); !strings.HasSuffix(out, "triangle: 30 frames shown, 0 vblanks missed\n") {
		t.Errorf("output:\n%s%s", out, errOut)
	}

	screen := func() []byte {
		p, m := run(Boot+500_000_000, "0")
		if _, exited := p.Exit(); exited {
			out, errOut := p.Output()
			t.Fatalf("triangle exited:\n%s%s", out, errOut)
		}
		s := m.Device().Scanout(0)
		if !s.Enabled || s.Width != w || s.Height != h {
			t.Fatalf("scanout %+v; want a %dx%d buffer shown", s, w, h)
		}
		return bytes.Clone(s.Pixels)
	}
	pix := screen()
	at := func(x, y int) [3]byte { // B8G8R8X8 → R, G, B
		p := pix[(y*w+x)*4:]
		return [3]byte{p[2], p[1], p[0]}
	}
	frame := -1
	for k := 1; k <= 60; k++ { // about 30 frames in half a second
		if shade := k * 2; at(0, 0) == [3]byte{byte(shade / 4), byte(shade / 3), byte(64 + shade/2)} {
			frame = k
		}
	}
	if frame < 0 {
		t.Errorf("top left = %v; want band 0 of a frame from 1 to 60", at(0, 0))
	}
	if got, want := at(0, h/16+2), [3]byte{16, 16, 32}; got != want {
		t.Errorf("between the bands = %v; want the clear colour %v", got, want)
	}
	for _, c := range at(w/2, h/2) {
		if c < 117-4 || c > 117+4 { // (0xff+0x30+0x30)/3, give or take the pixel centre
			t.Errorf("centre = %v; want each channel near 117", at(w/2, h/2))
			break
		}
	}
	if !bytes.Equal(screen(), pix) {
		t.Error("a second run with the same seed shows a different screen")
	}
}

// dumb paints a mapped dumb buffer with the CPU and commits only the
// damage: after the first full-screen flush, each flush covers where the
// square was and where it is, and the screen half a second in is the
// background with one whole square inside the last flushed rectangle.
func TestCGuestDumb(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/dumb.wasm")
	if err != nil {
		t.Fatal(err)
	}
	const w, h, side, background = 320, 240, 32, 0x00203040
	rec := &timeline.Recorder{}
	m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: w, Height: h}}, Sink: rec}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("dumb", wasm, "0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(Boot + 500_000_000); err != nil {
		t.Fatal(err)
	}
	if _, exited := p.Exit(); exited {
		out, errOut := p.Output()
		t.Fatalf("dumb exited:\n%s%s", out, errOut)
	}
	flushes := rec.Of(timeline.Flush)
	if len(flushes) < 20 {
		t.Fatalf("%d flushes in half a second; want one a frame", len(flushes))
	}
	if r := flushes[0].Rect; r != (timeline.Rect{W: w, H: h}) {
		t.Errorf("first flush %+v; want the whole screen", r)
	}
	for _, f := range flushes[1:] {
		if f.Rect.W > side+3 || f.Rect.H > side+2 {
			t.Fatalf("flush of %+v; want only the square's old and new place", f.Rect)
		}
	}
	last := flushes[len(flushes)-1].Rect
	s := m.Device().Scanout(0)
	var n int
	for y := range h {
		for x := range w {
			if le.Uint32(s.Pixels[(y*w+x)*4:])&0xffffff == background {
				continue
			}
			n++
			if x < int(last.X) || x >= int(last.X+last.W) || y < int(last.Y) || y >= int(last.Y+last.H) {
				t.Fatalf("pixel (%d, %d) is not background and outside the last flush %+v", x, y, last)
			}
		}
	}
	if n != side*side {
		t.Errorf("%d pixels differ from the background; want one %dx%d square", n, side, side)
	}
}
