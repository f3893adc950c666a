package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildProbe builds machine/testdata/probe for wasip1 into dir.
func buildProbe(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "probe.wasm")
	cmd := exec.Command("go", "build", "-o", out, "../../machine/testdata/probe")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe guest: %v\n%s", err, msg)
	}
	return out
}

func TestRun(t *testing.T) {
	probe := buildProbe(t, t.TempDir())
	var out, errOut bytes.Buffer
	code := run([]string{"run", "--seed", "3", probe, "--", "x", "y"}, &out, &errOut)
	if code != 3 {
		t.Errorf("exit status %d; want the guest's 3\nstderr: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "args: [x y]\nrandom: ") || !strings.Contains(out.String(), "slept: 15ms\n") {
		t.Errorf("stdout:\n%s", out.String())
	}
	// Two guests: both run, each output under its name.
	out.Reset()
	if code := run([]string{"run", probe, probe}, &out, &errOut); code != 3 || strings.Count(out.String(), "== probe\n") != 2 {
		t.Errorf("two guests: status %d, stdout:\n%s", code, out.String())
	}
	// --until stops the machine with the guest still running.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"run", "--until", "7ms", probe}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "still running at 7ms") {
		t.Errorf("--until 7ms: status %d, stderr %q", code, errOut.String())
	}
}

// Built guests run by name.
func TestRunBuiltin(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"run", "prodcons", "prodcons"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "consumer: all done at 16.0 ms (0)") {
		t.Errorf("prodcons by name: status %d, stdout:\n%s\nstderr: %s", code, out.String(), errOut.String())
	}
	// conformance by name is two processes, the test and its helper
	// (guests.Processes); without the helper some subtests fail.
	out.Reset()
	if code := run([]string{"run", "conformance"}, &out, &errOut); code != 0 ||
		strings.Count(out.String(), "== conformance\n") != 2 || !strings.Contains(out.String(), " passed, 0 failed, ") {
		t.Errorf("conformance by name: status %d, stdout:\n%s\nstderr: %s", code, out.String(), errOut.String())
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
		{[]string{"run", "--displays", "0x5", "a.wasm"}, "--displays"},
		{[]string{"run", "--bogus", "a.wasm"}, "flag provided but not defined"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tt.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("run %q = %d, stderr %q; want 2 and %q", tt.args, code, errOut.String(), tt.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("not wasm"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"run", bad}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "bad.wasm") {
		t.Errorf("a file that is not wasm: %d, %q", code, errOut.String())
	}
}
