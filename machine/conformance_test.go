package machine

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"fencelab/guests"
)

// conformanceSubtests is how many subtests each IGT binary has
// (kernel-semantics.md §5): the conformance guest must print a line for
// every one.
var conformanceSubtests = map[string]int{
	"syncobj_basic":    12,
	"syncobj_wait":     69,
	"syncobj_timeline": 121,
	"syncobj_eventfd":  10,
	"drm_virtgpu":      11,
}

// runConformance runs the conformance guest as its recipe says (the test
// and its helper) and returns the test's output, its exit status and the
// virtual time the machine stopped at.
func runConformance(t *testing.T, wasm []byte) (string, int, int64) {
	t.Helper()
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var procs []*Process
	for _, args := range guests.Processes("conformance") {
		p, err := m.SpawnWasm("conformance", wasm, args...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	if len(procs) != 2 {
		t.Fatalf("the conformance recipe has %d processes; want the test and its helper", len(procs))
	}
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Err() != nil {
			t.Fatalf("%s: %v", p.Name, p.Err())
		}
	}
	helperOut, helperErr := procs[1].Output()
	if code, done := procs[1].Exit(); !done || code != 0 || helperOut != "" || helperErr != "" {
		t.Errorf("the helper: exit %d (done %v), stdout %q, stderr %q; want 0 and nothing written", code, done, helperOut, helperErr)
	}
	out, errOut := procs[0].Output()
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
	code, _ := procs[0].Exit()
	return out, code, m.Now()
}

// The conformance guest (guests/c/conformance.c) is IGT's syncobj_basic,
// syncobj_wait, syncobj_timeline and syncobj_eventfd, and drm_virtgpu,
// written against Linux's UAPI headers and run through the whole guest
// path: every subtest passes (the *-interrupted ones under sigtimer's
// signals), and two runs print the same and end at the same virtual
// time.
func TestCGuestConformance(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/conformance.wasm")
	if err != nil {
		t.Fatal(err)
	}
	out, code, end := runConformance(t, wasm)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	total := 0
	for _, n := range conformanceSubtests {
		total += n
	}
	if len(lines) != total+1 {
		t.Errorf("%d lines; want one per subtest (%d) and the count", len(lines), total)
	}
	got := map[string]int{}
	for _, l := range lines[:len(lines)-1] {
		verdict, rest, _ := strings.Cut(l, " ")
		name, _, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
		binary, _, _ := strings.Cut(name, "/")
		got[binary]++
		if verdict != "ok" {
			t.Errorf("%s", l)
		}
	}
	for binary, n := range conformanceSubtests {
		if got[binary] != n {
			t.Errorf("%s: %d subtests printed; want %d", binary, got[binary], n)
		}
	}
	want := fmt.Sprintf("%d passed, 0 failed", total)
	if last := lines[len(lines)-1]; last != want {
		t.Errorf("count line %q; want %q", last, want)
	}
	if code != 0 {
		t.Errorf("exit status %d; want 0", code)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}

	again, code2, end2 := runConformance(t, wasm)
	if again != out || code2 != code || end2 != end {
		t.Errorf("a second run differs: exit %d, ended at %d ns (first: %d, %d ns); output:\n%s", code2, end2, code, end, again)
	}
}
