// Package guest runs WebAssembly guest programs against fencelab's guest
// kernel: a module is instantiated with WASI preview 1 (arguments,
// captured stdout and stderr, virtual clocks, seeded random, exit) and
// the `linux` module, whose functions are the system calls of the guest
// ABI (DESIGN.md "The guest ABI"): open, close, dup, ioctl, read, write,
// eventfd, with Linux's flags and struct layouts in the module's memory,
// results ≥ 0 or −errno.
//
// Modules run on wazero's interpreter, in the browser and natively alike,
// so tests see the per-call costs the browser will. A guest's system
// calls may block; the kernel then parks the calling process (see package
// machine), which is why a guest must run on a process's goroutine.
package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"fencelab/drm"
	"fencelab/timeline"
)

// Runtime compiles and runs guest modules. It is safe for concurrent use.
type Runtime struct {
	rt wazero.Runtime
}

// NewRuntime returns a runtime with WASI and the linux module ready.
func NewRuntime(ctx context.Context) (*Runtime, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	if err := instantiateLinux(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &Runtime{rt: rt}, nil
}

// Close releases the runtime and every module in it.
func (r *Runtime) Close(ctx context.Context) error { return r.rt.Close(ctx) }

// Module is a compiled guest program, its loops counted (Instrument).
type Module struct {
	c       wazero.CompiledModule
	counted bool // it has loops, and so the loop budget's global
}

// Compile checks and compiles a WebAssembly binary.
func (r *Runtime) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	// No limit until the process's LoopBudget sets one before _start.
	// The rewrite reads the module first, and refuses what would make
	// the runtime itself misbehave (plausible).
	counted, loops, err := Instrument(wasm, math.MaxInt64)
	if err != nil {
		return nil, fmt.Errorf("guest: %w", err)
	}
	c, err := r.rt.CompileModule(ctx, counted)
	if err != nil {
		return nil, fmt.Errorf("guest: %w", err)
	}
	return &Module{c: c, counted: loops}, nil
}

// LoopBudget is how many loop iterations a process may run between two
// blocks (see Instrument): the machine refills it each time the process
// resumes.
type LoopBudget struct {
	N uint64 // 0: no limit
	g api.MutableGlobal
}

// Refill gives the process its whole budget again.
func (b *LoopBudget) Refill() {
	if b.g != nil && b.N != 0 {
		b.g.Set(b.N)
	}
}

// syscallCost is what a system call takes from the loop budget: about
// as long as that many iterations of a tight loop, so that a guest
// spinning on calls that never block is stopped about as soon as one
// spinning on nothing.
const syscallCost = 4

// charge takes a system call's cost from the budget (down to 0: the next
// loop iteration stops the process).
func (b *LoopBudget) charge() {
	if b.g != nil && b.N != 0 {
		v := b.g.Get()
		b.g.Set(v - min(v, syscallCost))
	}
}

// ranOut reports whether the process has used up its budget.
func (b *LoopBudget) ranOut() bool { return b.g != nil && b.N != 0 && b.g.Get() == 0 }

// ErrLoopBudget is why a process that ran its loop budget out stopped.
var ErrLoopBudget = errors.New("stopped: it ran its whole loop budget without blocking (a busy loop waiting for virtual time, which stands still while a guest runs?)")

// Clock is the virtual time a guest sees, in nanoseconds since boot, and
// how it sleeps: Sleep returns once the clock has passed until.
type Clock interface {
	Now() int64
	Sleep(until int64)
}

// Epoch is the wall-clock time of boot a guest sees (CLOCK_REALTIME at
// CLOCK_MONOTONIC 0): 2026-01-01T00:00:00Z, fixed so runs repeat.
const Epoch int64 = 1767225600 * 1e9

// Process is one guest process's side of the runtime: its kernel task,
// whose memory becomes the module's on the first system call.
type Process struct {
	Drv    *drm.Driver
	Task   *drm.Task
	Clock  Clock
	Seed   uint64
	Args   []string
	Stdin  io.Reader // nil: end of file at once
	Stdout io.Writer
	Stderr io.Writer
	// Sink receives the runtime's timeline events (nil: none): a poll
	// that sleeps on sync_files, as the waits of process Task.Pid. The
	// kernel's events are the driver's (drm.Driver.SetTrace).
	Sink timeline.Sink
	// Signals is the process's signal timer (the sigtimer call); nil:
	// sigtimer is ENOSYS.
	Signals Signals
	// Budget limits the loop iterations it runs between blocks (nil or
	// N 0: no limit).
	Budget *LoopBudget
}

// Signals is what the runtime needs of a process's signals: the
// sigtimer call sets the interval of virtual time between signals (0:
// none) and returns how many were delivered; before every system call
// the runtime lets it put back what an earlier signal took (EnterCall).
type Signals interface {
	SetTimer(intervalNS int64) (delivered int32)
	EnterCall()
}

type procKey struct{}

// Run instantiates m for p and runs its _start: the exit status it
// passed to proc_exit (0 if it returned), or an error if it trapped or
// could not start.
func (r *Runtime) Run(ctx context.Context, m *Module, p *Process) (int, error) {
	rng := rand.NewChaCha8(seedBytes(p.Seed))
	cfg := wazero.NewModuleConfig().WithName("").
		WithArgs(p.Args...).
		WithStdin(orEmpty(p.Stdin)).WithStdout(orDiscard(p.Stdout)).WithStderr(orDiscard(p.Stderr)).
		WithRandSource(rng).
		WithNanotime(func() int64 { return p.Clock.Now() }, 1).
		WithWalltime(func() (int64, int32) {
			t := Epoch + p.Clock.Now()
			return t / 1e9, int32(t % 1e9)
		}, 1).
		WithNanosleep(func(ns int64) { p.Clock.Sleep(p.Clock.Now() + max(ns, 0)) }).
		WithOsyield(func() {})
	pr := &proc{Process: p}
	defer pr.releaseMaps()
	ctx = context.WithValue(ctx, procKey{}, pr)
	// Instantiated first, _start called second: the budget goes in
	// between.
	mod, err := r.rt.InstantiateModule(ctx, m.c, cfg.WithStartFunctions())
	if mod != nil {
		defer mod.Close(context.Background())
	}
	if err == nil {
		if b := p.Budget; b != nil && m.counted {
			b.g, _ = mod.ExportedGlobal(BudgetExport).(api.MutableGlobal)
			b.Refill()
		}
		if start := mod.ExportedFunction("_start"); start != nil {
			_, err = start.Call(ctx)
		}
	}
	var exit *sys.ExitError
	switch {
	case err != nil && p.Budget != nil && p.Budget.ranOut():
		return -1, fmt.Errorf("guest: %w (%d loop iterations, a system call costing %d)", ErrLoopBudget, p.Budget.N, syscallCost)
	case errors.As(err, &exit):
		return int(exit.ExitCode()), nil
	case err != nil:
		return -1, fmt.Errorf("guest: %w", err)
	}
	return 0, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

func seedBytes(seed uint64) (b [32]byte) {
	for i := range 4 {
		v := seed*0x9e3779b97f4a7c15 + uint64(i)*0xbf58476d1ce4e5b9
		for j := range 8 {
			b[8*i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// proc is a running process as the linux module sees it.
type proc struct {
	*Process
	mem  *memory
	maps []*mapping
}

// from finds the calling process and binds its task to the module's
// memory (the same for the life of the instance).
func from(ctx context.Context, mod api.Module) *proc {
	p, _ := ctx.Value(procKey{}).(*proc)
	if p == nil {
		return nil
	}
	if p.mem == nil {
		p.mem = &memory{m: mod.Memory()}
		p.Task.Mem = p.mem
	}
	return p
}
