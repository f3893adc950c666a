package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fencelab/internal/gotool"
	"fencelab/session"
	"fencelab/timeline"
)

// buildProbe builds machine/testdata/probe for wasip1 into dir.
func buildProbe(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "probe.wasm")
	cmd := exec.Command(gotool.Path(), "build", "-o", out, "../../machine/testdata/probe")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe guest: %v\n%s", err, msg)
	}
	return out
}

func TestRun(t *testing.T) {
	probe := buildProbe(t, t.TempDir())
	var out, errOut bytes.Buffer
	code := run([]string{"run", "--seed", "3", probe, "--", "x", "y"}, nil, &out, &errOut)
	if code != 3 {
		t.Errorf("exit status %d; want the guest's 3\nstderr: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "args: [x y]\nrandom: ") || !strings.Contains(out.String(), "slept: 15ms\n") {
		t.Errorf("stdout:\n%s", out.String())
	}
	// Two guests: both run, each output under its name.
	out.Reset()
	if code := run([]string{"run", probe, probe}, nil, &out, &errOut); code != 3 || strings.Count(out.String(), "== probe\n") != 2 {
		t.Errorf("two guests: status %d, stdout:\n%s", code, out.String())
	}
	// --until stops the machine with the guest still running.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"run", "--until", "7ms", probe}, nil, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "still running at 7ms") {
		t.Errorf("--until 7ms: status %d, stderr %q", code, errOut.String())
	}
}

// Built guests run by name.
func TestRunBuiltin(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"run", "prodcons"}, nil, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "consumer: all done at 16.0 ms (0)") {
		t.Errorf("prodcons by name: status %d, stdout:\n%s\nstderr: %s", code, out.String(), errOut.String())
	}
	// conformance by name is two processes, the test and its helper
	// (guests.Processes); without the helper some subtests fail.
	out.Reset()
	if code := run([]string{"run", "conformance"}, nil, &out, &errOut); code != 0 ||
		strings.Count(out.String(), "== conformance\n") != 2 || !strings.Contains(out.String(), "223 passed, 0 failed\n") {
		t.Errorf("conformance by name: status %d, stdout:\n%s\nstderr: %s", code, out.String(), errOut.String())
	}
	// triangle with 0 frames never exits; its progress lines (one each
	// 60 frames) are written as they come, not held for an exit.
	out.Reset()
	run([]string{"run", "--until", "1500ms", "triangle", "--", "0"}, nil, &out, &errOut)
	if !strings.Contains(out.String(), "t=0.983s frame 59 on screen at vblank 59, 0 missed\n") {
		t.Errorf("triangle 0 for 1.5 s: stdout:\n%s", out.String())
	}
}

func TestRunErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"run"}, "no guest given"},
		{[]string{"run", "/nonexistent.wasm"}, "no such file"},
		{[]string{"run", "nope"}, "no built guest of that name (built: conformance, "},
		{[]string{"run", "--displays", "0x5", "a.wasm"}, `display "0x5" is not WxH`},
		{[]string{"run", "--bogus", "a.wasm"}, "flag provided but not defined"},
		{[]string{"run", "--threading", "lots", "hello"}, `threading: "lots"`},
		{[]string{"run", "--config", "/nonexistent.json", "hello"}, "--config: open /nonexistent.json"},
		{[]string{"run", "--stdin", "/nonexistent", "hello"}, "--stdin: open /nonexistent"},
		{[]string{"run", "--stdin", "-", "hello"}, "standard input is a terminal"},
		{[]string{"run", "--trace", "/nonexistent/t.json", "hello"}, "--trace: open /nonexistent/t.json"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tt.args, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("run %q = %d, stderr %q; want 2 and %q", tt.args, code, errOut.String(), tt.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("not wasm"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"run", bad}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "bad.wasm") {
		t.Errorf("a file that is not wasm: %d, %q", code, errOut.String())
	}
}

// --config gives the machine's options, flags override them; standard
// input reaches the first guest; --frames writes one PNG a frame shown; --trace
// writes the timeline as JSON lines or, for .json, a Chrome trace.
func TestRunOptionsAndOutputs(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	os.WriteFile(config, []byte(`{"displays": ["160x120"], "host_waits": true}`), 0o644)
	script := "rings 2\nsyncobj a\nsubmit ring=0 cost=4ms out=a@1\nsubmit ring=1 cost=1ms in=a@1\nflip\n"

	var out, errOut bytes.Buffer
	frames := filepath.Join(dir, "frames")
	trace := filepath.Join(dir, "run.jsonl")
	code := run([]string{"run", "--config", config, "--frames", frames, "--trace", trace, "scenario"},
		strings.NewReader(script), &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "     0.000 ms  submit ring=1 cost=1ms in=a@1: ok") {
		t.Fatalf("status %d (host waits from the config should make the submit return at once):\n%s%s", code, out.String(), errOut.String())
	}
	pngs, _ := filepath.Glob(filepath.Join(frames, "out0-*.png"))
	if len(pngs) != 3 { // the first flip lights the display, then flips; at exit it goes off
		t.Errorf("%d frames written; want 3 (%s)", len(pngs), errOut.String())
	}
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, events, err := timeline.ReadAll(f, 1<<20)
	if err != nil || meta.Guest != "scenario" || meta.Processes[1] != "scenario" || len(events) == 0 {
		t.Fatalf("trace: %v, meta %+v, %d events", err, meta, len(events))
	}
	// The header's link is the whole run: a replay needs the script too.
	link, err := url.ParseQuery(meta.Config["link"])
	if spec, err2 := session.ParseQuery(link); err != nil || err2 != nil || spec.Stdin != script || !spec.Options.HostWaits ||
		len(spec.Options.Displays) != 1 || spec.Options.Displays[0] != "160x120" {
		t.Errorf("the trace's link %q does not give back the run (%v, %v)", meta.Config["link"], err, err2)
	}
	var jobs int
	for _, e := range events {
		if e.Kind == timeline.JobEnd {
			jobs++
		}
	}
	if jobs != 2 {
		t.Errorf("%d jobs in the trace; want the script's 2", jobs)
	}

	// The flag beats the config; a Chrome trace for .json.
	out.Reset()
	chrome := filepath.Join(dir, "run.json")
	if code := run([]string{"run", "--config", config, "--host-waits=false", "--trace", chrome, "scenario"},
		strings.NewReader(script), &out, &errOut); code != 0 || !strings.Contains(out.String(), "     4.000 ms  submit ring=1") {
		t.Errorf("--host-waits=false over the config: status %d:\n%s", code, out.String())
	}
	b, err := os.ReadFile(chrome)
	if err != nil || !json.Valid(b) || !bytes.Contains(b, []byte(`"traceEvents"`)) || !bytes.Contains(b, []byte("SUBMIT_3D")) {
		t.Errorf("Chrome trace: %v, %.200s", err, b)
	}
}

// A pipe on standard input is read only with --stdin -: one that never
// closes must not hang a guest that never reads it.
func TestStdinPipeNotRead(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	done := make(chan int, 1)
	var out, errOut bytes.Buffer
	go func() { done <- run([]string{"run", "hello"}, r, &out, &errOut) }()
	select {
	case code := <-done:
		if code != 7 {
			t.Errorf("hello exited %d; want its 7\n%s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fencelab run hello waited for a pipe nobody closes")
	}
}

// The trace of a module of one's own, or of several guests, says that
// its link does not reproduce the run, so no replay runs something else.
func TestTraceNotReplayable(t *testing.T) {
	dir := t.TempDir()
	probe := buildProbe(t, dir)
	for _, args := range [][]string{{probe}, {"hello", "hello"}} {
		trace := filepath.Join(dir, "t.jsonl")
		var out, errOut bytes.Buffer
		run(append([]string{"run", "--trace", trace}, args...), nil, &out, &errOut)
		f, err := os.Open(trace)
		if err != nil {
			t.Fatal(err)
		}
		meta, _, err := timeline.ReadAll(f, 1<<20)
		f.Close()
		if err != nil || meta.Config[timeline.NotReplayable] == "" {
			t.Errorf("%v: header %+v, %v; want it marked not replayable", args, meta, err)
		}
	}
	trace := filepath.Join(dir, "ok.jsonl")
	var out, errOut bytes.Buffer
	run([]string{"run", "--trace", trace, "hello"}, nil, &out, &errOut)
	f, _ := os.Open(trace)
	defer f.Close()
	if meta, _, err := timeline.ReadAll(f, 1<<20); err != nil || meta.Config[timeline.NotReplayable] != "" {
		t.Errorf("a built guest's trace: %+v, %v; want it replayable", meta, err)
	}
}
