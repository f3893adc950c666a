package guest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"fencelab/drm"
	"fencelab/fence"
)

// counter is a module whose _start runs a loop k times, counting down in
// a global it defines (withGlobal) or in a local: its loop header is
// entered exactly k times.
func counter(k int64, withGlobal bool) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(secType, []byte{0x60, 0, 0})...)
	m = append(m, section(secFunction, []byte{0})...)
	var body []byte
	if withGlobal {
		m = append(m, section(secGlobal, append(appendSLEB64([]byte{0x7f, 0x01, 0x41}, k), 0x0b))...)
		body = []byte{0, 0x03, 0x40, 0x23, 0, 0x41, 1, 0x6b, 0x24, 0, 0x23, 0, 0x0d, 0, 0x0b, 0x0b}
	} else {
		body = append(appendSLEB64([]byte{1, 1, 0x7f, 0x41}, k), 0x21, 0, // (local i32) local.set 0 k
			0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x0b)
	}
	m = append(m, section(secExport, append(name("_start"), 0x00, 0))...)
	return append(m, section(secCode, append(uleb(uint32(len(body))), body...))...)
}

type stillClock struct{}

func (stillClock) Now() int64  { return 0 }
func (stillClock) Sleep(int64) {}

// runBudget runs wasm with a loop budget of n (0: none).
func runBudget(t *testing.T, wasm []byte, n uint64) error {
	t.Helper()
	ctx := context.Background()
	r, err := NewRuntime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.Compile(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	d := fence.NewDomain(fence.NewManualClock(1e9))
	p := &Process{Drv: drm.NewDriver(d), Task: &drm.Task{FDs: drm.NewFDTable(0), Ctx: ctx, Comm: "loop"},
		Clock: stillClock{}, Budget: &LoopBudget{N: n}}
	code, err := r.Run(ctx, m, p)
	if err == nil && code != 0 {
		t.Fatalf("exit status %d", code)
	}
	return err
}

// A loop entered k times runs on a budget of k and stops, with
// ErrLoopBudget, on one of k−1: the count is exact, so a run that stops
// stops at the same iteration every time. Without a budget it runs.
func TestLoopBudget(t *testing.T) {
	for _, withGlobal := range []bool{true, false} {
		wasm := counter(1000, withGlobal)
		if err := runBudget(t, wasm, 1000); err != nil {
			t.Errorf("global %v: a budget of 1000 for 1000 iterations: %v", withGlobal, err)
		}
		if err := runBudget(t, wasm, 999); !errors.Is(err, ErrLoopBudget) {
			t.Errorf("global %v: a budget of 999 for 1000 iterations: %v; want ErrLoopBudget", withGlobal, err)
		}
		if err := runBudget(t, counter(1e6, withGlobal), 0); err != nil {
			t.Errorf("global %v: no budget: %v", withGlobal, err)
		}
	}
}

// The rewrite adds its global after the module's own (so their indices
// stay), with the section made where a module has none; a module with no
// loop is left as it is, and one that exports fencelab's name is refused.
func TestInstrumentShape(t *testing.T) {
	for _, withGlobal := range []bool{true, false} {
		out, loops, err := Instrument(counter(5, withGlobal), 7)
		if err != nil || !loops {
			t.Fatalf("Instrument: %v, loops %v", err, loops)
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer rt.Close(ctx)
		mod, err := rt.Instantiate(ctx, out)
		if err != nil {
			t.Fatalf("global %v: the rewritten module: %v", withGlobal, err)
		}
		g := mod.ExportedGlobal(BudgetExport)
		if g == nil || g.Get() != 7-5 {
			t.Errorf("global %v: the budget after 5 iterations of 7: %v", withGlobal, g)
		}
	}

	plain := []byte("\x00asm\x01\x00\x00\x00")
	plain = append(plain, section(secType, []byte{0x60, 0, 0})...)
	plain = append(plain, section(secFunction, []byte{0})...)
	plain = append(plain, section(secCode, []byte{2, 0, 0x0b})...)
	if out, loops, err := Instrument(plain, 7); err != nil || loops || !bytes.Equal(out, plain) {
		t.Errorf("a module with no loop: %v, loops %v, changed %v", err, loops, !bytes.Equal(out, plain))
	}

	clash := []byte("\x00asm\x01\x00\x00\x00")
	clash = append(clash, section(secType, []byte{0x60, 0, 0})...)
	clash = append(clash, section(secFunction, []byte{0})...)
	clash = append(clash, section(secExport, append(name(BudgetExport), 0x00, 0))...)
	clash = append(clash, section(secCode, []byte{5, 0, 0x03, 0x40, 0x0b, 0x0b})...)
	if _, _, err := Instrument(clash, 7); err == nil {
		t.Error("a module exporting fencelab's name was rewritten")
	}
}

// FuzzInstrument: the rewrite never panics, and any module the runtime
// accepts, it rewrites into one the runtime accepts too.
func FuzzInstrument(f *testing.F) {
	f.Add(counter(3, true))
	f.Add(counter(3, false))
	bins, _ := filepath.Glob("../guests/bin/*.wasm")
	for _, b := range bins {
		if wasm, err := os.ReadFile(b); err == nil && len(wasm) < 64<<10 {
			f.Add(wasm)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, loops, err := Instrument(wasm, 1000)
		if errors.Is(err, errImplausible) {
			return // the runtime would try to allocate what it claims
		}
		c, cerr := rt.CompileModule(ctx, wasm)
		if cerr != nil {
			return
		}
		c.Close(ctx)
		if err != nil {
			t.Fatalf("the runtime compiles the module, the rewrite refuses it: %v", err)
		}
		if !loops {
			return
		}
		c, err = rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the rewritten module does not compile: %v", err)
		}
		c.Close(ctx)
	})
}

// A module of a few bytes that claims 2^31 entries of any kind is
// refused with an error before the runtime sees it: wazero 1.12 would
// size a table for them first and run the host out of memory (the fuzzer
// found it, for data segments and for a function type's parameters).
func TestCompileRefusesImplausibleCounts(t *testing.T) {
	ctx := context.Background()
	r, err := NewRuntime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x07}
	for _, tt := range []struct {
		what string
		id   byte
		body []byte
	}{
		{"types", secType, huge},
		{"imports", secImport, huge},
		{"functions", secFunction, huge},
		{"globals", secGlobal, huge},
		{"exports", secExport, huge},
		{"bodies", secCode, huge},
		{"data segments", secData, huge},
		{"data count", secDataCount, huge},
		{"elements", secElement, huge},
		{"a type's parameters", secType, append([]byte{1, 0x60}, huge...)},
		{"a type's results", secType, append([]byte{1, 0x60, 0}, huge...)},
		{"a data segment's bytes", secData, append([]byte{1, 1}, huge...)},
		{"an element segment's functions", secElement, append([]byte{1, 0, 0x41, 0, 0x0b}, huge...)},
		{"a body's locals", secCode, append([]byte{1, 8, 1}, append(huge, 0x7f, 0x0b)...)},
		{"a br_table's labels", secCode, append([]byte{1, 8, 0, 0x0e}, append(huge, 0x0b)...)},
		{"names", secCustom, append(append(name("name"), 1, 5), huge...)},
	} {
		wasm := append([]byte("\x00asm\x01\x00\x00\x00"), tt.id)
		wasm = append(append(wasm, uleb(uint32(len(tt.body)))...), tt.body...)
		if _, err := r.Compile(ctx, wasm); !errors.Is(err, errImplausible) || !strings.Contains(err.Error(), "2147483647") {
			t.Errorf("%s: 2^31-1 of them: %v", tt.what, err)
		}
	}
}
