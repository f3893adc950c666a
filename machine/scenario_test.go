package machine

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the scenario examples' expected output")

// newScenario makes a machine with the scenario guest spawned on script
// (its standard input), not yet run.
func newScenario(t testing.TB, wasm []byte, script string) (*Machine, *Process) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SpawnWasm("scenario", wasm)
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin = []byte(script)
	return m, p
}

// runScenario runs the scenario guest on script (from its standard
// input) until it exits or 10 s of virtual time pass.
func runScenario(t testing.TB, wasm []byte, script []byte) (out string, code int, runErr error, p *Process) {
	var m *Machine
	m, p = newScenario(t, wasm, string(script))
	runErr = m.Run(Boot + 10_000_000_000)
	out, _ = p.Output()
	code, _ = p.Exit()
	return out, code, runErr, p
}

func scenarioWasm(t testing.TB) []byte {
	wasm, err := os.ReadFile("../guests/bin/scenario.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// Every example under guests/scenarios runs to the end with its
// expectations met, and prints what its .out file says (go test
// ./machine -run ScenarioExamples -update rewrites them).
func TestScenarioExamples(t *testing.T) {
	wasm := scenarioWasm(t)
	scripts, _ := filepath.Glob("../guests/scenarios/*.scn")
	if len(scripts) == 0 {
		t.Fatal("no examples in guests/scenarios")
	}
	for _, s := range scripts {
		t.Run(filepath.Base(s), func(t *testing.T) {
			script, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			out, code, runErr, _ := runScenario(t, wasm, script)
			if runErr != nil || code != 0 {
				t.Fatalf("exit %d, %v:\n%s", code, runErr, out)
			}
			golden := strings.TrimSuffix(s, ".scn") + ".out"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output:\n%s\nwant (%s):\n%s", out, golden, want)
			}
		})
	}
}

// A script is checked whole before anything runs: a mistake anywhere
// is reported with its line, exit status 2, and no step is taken.
func TestScenarioErrors(t *testing.T) {
	wasm := scenarioWasm(t)
	for _, tt := range []struct{ script, want string }{
		{"syncobj a\nsubmit ring=0 cost=1ms out=b\n", "line 2: no syncobj \"b\" (declare it with syncobj)"},
		{"syncobj a\nwait a\nfrobnicate\n", "line 3: unknown step \"frobnicate\""},
		{"sleep 5", "line 1: \"5\" is not a duration up to an hour"},
		{"sleep 2h", "is not a duration up to an hour"},
		{"syncobj a a", "line 1: syncobj \"a\" already exists"},
		{"syncobj 1a", "line 1: bad name \"1a\""},
		{"syncobj a\nwait a@x", "line 2: \"x\" is not a number"},
		{"submit cost=1ms", "line 1: submit needs ring=N"},
		{"submit ring=0 cost=11s", "more than the renderer's 10 s"},
		{"flip fence-in=nope", "line 1: no sync_file \"nope\" yet"},
		{"expect ok", "line 1: expect follows the step whose result it checks"},
		{"syncobj a\nquery a@1", "line 2: query takes syncobjs without points"},
		{strings.Repeat("x", 300), "line 1: line longer than 255 characters"},
		{"echo hi\x00", "the script has a NUL byte"},
		{strings.Repeat("# comment\n", 7000), "the script is longer than 65536 bytes"},
	} {
		out, code, runErr, _ := runScenario(t, wasm, []byte(tt.script))
		if code != 2 || runErr != nil || !strings.Contains(out, tt.want) || strings.Count(out, "\n") != 1 {
			t.Errorf("script %.40q: exit %d, %v, output %q; want exit 2 and one line with %q", tt.script, code, runErr, out, tt.want)
		}
	}
}

// FuzzScenario feeds the scenario guest arbitrary scripts: it never
// traps or panics the machine; a script either does not parse (exit 2,
// one line saying where), or runs with every step reported (exit 0, or 1
// for an expectation not met), or blocks for ever, which the machine
// reports as a deadlock, or is still sleeping when the run ends.
func FuzzScenario(f *testing.F) {
	wasm := scenarioWasm(f)
	scripts, _ := filepath.Glob("../guests/scenarios/*.scn")
	for _, s := range scripts {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("syncobj a\nwait a for-submit\n"))
	f.Add([]byte("rings 64\nsubmit ring=63 cost=10s fence-out=x\nflip fence-in=x\nflip\n"))
	f.Fuzz(func(t *testing.T, script []byte) {
		out, code, runErr, p := runScenario(t, wasm, script)
		if p.Err() != nil {
			t.Fatalf("the guest failed: %v", p.Err())
		}
		if runErr != nil && !errors.Is(runErr, ErrDeadlock) {
			t.Fatalf("Run = %v", runErr)
		}
		_, exited := p.Exit()
		switch {
		case !exited:
		case code == 2:
			if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "scenario: ") {
				t.Fatalf("exit 2 with output %q; want one line", out)
			}
		case code == 0 || code == 1:
			if !bytes.HasSuffix([]byte(out), []byte("\n")) && out != "" {
				t.Fatalf("output %q does not end a line", out)
			}
		default:
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

// A step naming a sync_file that an earlier, failed step was to make
// gets EBADF rather than silently running without the fence.
func TestScenarioMissingFile(t *testing.T) {
	script := "rings 1\nsubmit ring=5 cost=1ms fence-out=x\nexpect EINVAL\nflip fence-in=x\nexpect EBADF\nsubmit ring=0 fence-in=x\nexpect EBADF\n"
	out, code, runErr, _ := runScenario(t, scenarioWasm(t), []byte(script))
	if code != 0 || runErr != nil {
		t.Errorf("exit %d, %v:\n%s", code, runErr, out)
	}
}
