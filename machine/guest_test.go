package machine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fencelab/device"
	"fencelab/guest"
	"fencelab/internal/gotool"
	"fencelab/timeline"
)

var (
	builds   sync.Map // package path → *guestBuild
	buildDir string
)

type guestBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fencelab-guests")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildGuest builds a Go guest package for GOOS=wasip1 GOARCH=wasm, once
// per test binary.
func buildGuest(t testing.TB, pkg string) []byte {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &guestBuild{})
	b := v.(*guestBuild)
	b.once.Do(func() {
		out := filepath.Join(buildDir, strings.ReplaceAll(pkg, "/", "_")+".wasm")
		cmd := exec.Command(gotool.Path(), "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = err
			b.wasm = msg
			return
		}
		b.wasm, b.err = os.ReadFile(out)
	})
	if b.err != nil {
		t.Fatalf("building %s for wasip1: %v\n%s", pkg, b.err, b.wasm)
	}
	return b.wasm
}

// A Go guest built for wasip1 runs on the machine: its arguments, the
// linux module's calls with Linux errnos (a bad pointer is EFAULT), a
// syncobj wait that times out in virtual time, a sleep, and its exit
// status.
func TestWasmGuest(t *testing.T) {
	wasm := buildGuest(t, "./testdata/probe")
	m, err := New(Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("probe", wasm, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := p.Output()
	code, done := p.Exit()
	if !done || code != 3 || p.Err() != nil {
		t.Errorf("exit %d (done %v, err %v); want 3\nstderr: %s", code, done, p.Err(), stderr)
	}
	lines := strings.SplitN(stdout, "\n", 3)
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "random: ") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	stdout = lines[0] + "\n" + lines[2]
	want := strings.Join([]string{
		"args: [a b]",
		"open: 0 <nil>",
		"version: <nil> virtio_gpu 0.1.0",
		"version at a bad address: EFAULT",
		"open /dev/nope: ENOENT",
		"wait: ETIME 5ms",
		"slept: 15ms",
		"poll an idle eventfd for 20 ms: 0 <nil> 35ms",
		"poll after a write: 2 <nil> revents 0x1 0x20",
		"mmap without MAP_FIXED: EINVAL",
		"mmap of an offset no object has: EINVAL",
		"mmap of an eventfd: ENODEV",
		"two mappings: 11 22 11 22",
	}, "\n") + "\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if m.Now() != Boot+35_000_000 {
		t.Errorf("the machine ended at %d; want %d (the guest's 5 ms wait, 10 ms sleep and 20 ms poll)", m.Now(), Boot+35_000_000)
	}
}

// runProbe runs the probe guest on a machine seeded with seed and returns
// what it printed.
func runProbe(t *testing.T, seed uint64) string {
	m, err := New(Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("probe", buildGuest(t, "./testdata/probe"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	out, _ := p.Output()
	return out
}

// The same guest and seed print the same, random numbers included; a
// different seed gives different random numbers.
func TestWasmGuestIsDeterministic(t *testing.T) {
	a, b, c := runProbe(t, 7), runProbe(t, 7), runProbe(t, 8)
	if a != b {
		t.Errorf("two runs with seed 7 differ:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 printed the same:\n%s", a)
	}
}

// A guest that spins is stopped by its loop budget whatever the host's
// speed (the watchdog is an hour here), at the same point every run, with
// a message that says why; the machine goes on. This is what stops such
// a guest in the browser, where the watchdog's timer cannot fire.
func TestLoopBudgetStopsASpinningGuest(t *testing.T) {
	run := func() (string, int64) {
		rec := &timeline.Recorder{}
		m, err := New(Config{Watchdog: time.Hour, LoopBudget: 200_000, Sink: rec})
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.SpawnWasm("spin", buildGuest(t, "./testdata/spin"))
		if err != nil {
			t.Fatal(err)
		}
		var after bool
		m.Spawn("after", func(*Process) int { after = true; return 0 })
		if err := m.Run(forever); err != nil {
			t.Fatal(err)
		}
		if code, done := p.Exit(); !done || code != -1 || !errors.Is(p.Err(), guest.ErrLoopBudget) || !after {
			t.Fatalf("spin exited %d (done %v) with %v, the next process ran: %v; want the loop budget's error", code, done, p.Err(), after)
		}
		return fmt.Sprint(len(rec.Events)), m.Now()
	}
	events1, now1 := run()
	events2, now2 := run()
	if events1 != events2 || now1 != now2 {
		t.Errorf("two runs stopped at %s events, %d ns and %s events, %d ns", events1, now1, events2, now2)
	}
}

// A guest that spins waiting for virtual time is stopped by the watchdog
// with a message that says why; the machine goes on.
func TestWatchdogStopsASpinningGuest(t *testing.T) {
	m, err := New(Config{Watchdog: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("spin", buildGuest(t, "./testdata/spin"))
	if err != nil {
		t.Fatal(err)
	}
	var after bool
	m.Spawn("after", func(*Process) int { after = true; return 0 })
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	out, _ := p.Output()
	if code, done := p.Exit(); !done || code != -1 || p.Err() == nil || !strings.Contains(p.Err().Error(), "watchdog") {
		t.Errorf("spin exited %d (done %v) with %v; want the watchdog's error", code, done, p.Err())
	}
	if out != "waiting for a second to pass\n" || !after {
		t.Errorf("stdout %q, the next process ran: %v", out, after)
	}
}

// The 2D path end to end: a guest maps a dumb buffer, fills it, and sets
// a mode on it; the device's scanout shows the guest's pixels.
func TestWasmDumbBufferOnScreen(t *testing.T) {
	m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: 64, Height: 64}}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("dumb", buildGuest(t, "./testdata/dumb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(Boot + 500_000_000); err != nil {
		t.Fatal(err)
	}
	out, errOut := p.Output()
	if _, done := p.Exit(); done || out != "showing 64x64\n" {
		t.Fatalf("at 500 ms: exited %v, stdout %q, stderr %q, err %v", done, out, errOut, p.Err())
	}
	s := m.Device().Scanout(0)
	if !s.Enabled || len(s.Pixels) < 4 {
		t.Fatalf("scanout %+v", s)
	}
	for i := 0; i+4 <= len(s.Pixels); i += 4 {
		if px := s.Pixels[i : i+3]; px[0] != 0x40 || px[1] != 0x80 || px[2] != 0xff {
			t.Fatalf("pixel %d is % x; want 40 80 ff (the guest's XRGB 0xff8040)", i/4, px)
		}
	}
	// When it exits, its framebuffer, and the picture, go.
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	if code, done := p.Exit(); !done || code != 0 || m.Device().Scanout(0).Enabled {
		t.Errorf("after exit: done %v code %d, scanout still on: %v", done, code, m.Device().Scanout(0).Enabled)
	}
}
