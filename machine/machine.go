// Package machine assembles one fencelab machine: guest memory, the
// virtio-gpu device, the guest kernel's DRM driver, the guest processes,
// and the scheduler that runs them on a virtual clock.
//
// A machine is a discrete-event simulation. Exactly one thing happens at
// a time: a guest process runs until it blocks in the kernel or exits;
// when none can run, virtual time jumps to the next thing due (a device
// job finishing, a timeout, a vblank) and what that wakes runs next. So
// the same processes, configuration and inputs give the same timeline,
// bit for bit, however fast the host is. That timeline is recorded, when
// [Config].Sink asks for it, from every layer into one sink, in the order
// things happen (package timeline).
//
// Processes here are Go functions making system calls through a
// [Process]; the guest runtime (package guest) runs WebAssembly
// guests as processes of the same kind.
package machine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fencelab/device"
	"fencelab/drm"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/guest"
	"fencelab/internal/flatmem"
	"fencelab/timeline"
	"fencelab/virtio"
)

// Boot is the virtual time a machine starts at: one second after boot, as
// CLOCK_MONOTONIC is never 0 on a running Linux.
const Boot int64 = 1_000_000_000

// Config describes a machine.
type Config struct {
	// Device is the virtio-gpu device's configuration (displays,
	// features, threading, faults). Its Interrupt is the machine's.
	Device device.Config
	// GuestMemory is the size of guest physical memory; 0 means 64 MiB.
	GuestMemory int
	// DriverArena is how much of it the driver uses for request buffers
	// and GEM backing; 0 means 32 MiB.
	DriverArena uint64
	// Seed seeds what guests read as random (each process's stream is
	// derived from it and the process's index).
	Seed uint64
	// Watchdog is how long (host time) a WebAssembly guest may run
	// without blocking before it is stopped; 0 means 5 s. Virtual time
	// stands still while a guest runs, so a guest that spins waiting for
	// it would otherwise never end.
	Watchdog time.Duration
	// LoopBudget is how many loop iterations a WebAssembly guest may run
	// without blocking before it is stopped (guest.Instrument); 0 means
	// DefaultLoopBudget. Unlike the watchdog it stops the guest at the
	// same point every run, and in the browser too, where no timer can
	// interrupt a guest that spins.
	LoopBudget uint64
	// HostWaits hands EXECBUFFER in-fences that are fences of other rings
	// of the device to the device to wait for, instead of waiting in the
	// guest kernel (drm.Driver.SetHostWaits; off as in Linux 6.12).
	HostWaits bool
	// Sink receives the machine's timeline: every layer's events, in the
	// order they happen, stamped with virtual time. The device's (its
	// queues, jobs, retirements, scanouts, faults), the guest kernel's
	// (ioctls, in-fence and syncobj waits, fences emitted and signalled,
	// syncobj changes, sync_files, eventfds, commits, vblanks and flips;
	// see package drm), the guest runtime's (poll waits on sync_files)
	// and the scheduler's (each process's start and exit). Events name
	// a process by its pid: its place in spawn order, from 1 (the
	// Processes of a session, in order); 0 is the kernel, the clock or
	// the device.
	//
	// Nil means Device.Sink, so a configuration that set only that gets
	// the whole timeline; with both set, Device.Sink gets the device's
	// events and Sink the rest. A sink is called on one goroutine at a
	// time, never concurrently, and must not call back into the machine.
	Sink timeline.Sink
}

// Machine is one machine.
type Machine struct {
	clock    *fence.ManualClock
	d        *fence.Domain
	mem      *virtio.Memory
	dev      *device.Device
	drv      *drm.Driver
	s        *sched
	procs    []*Process
	seed     uint64
	watchdog time.Duration
	// loopBudget is Config.LoopBudget.
	loopBudget uint64
	reaper     *actor         // closes what waits in channels when every process is done
	rt         *guest.Runtime // made when the first WebAssembly guest is spawned
	onDamage   func(mask uint32)
	sink       timeline.Sink // nil: no timeline
	closed     bool          // Close was called: calls keep their done contexts
}

// OnDamage has fn called between the machine's steps whenever outputs
// may show something new (device.Damaged: pixels flushed to them, a
// scanout set or turned off, the cursor moved): bit i of mask for output
// i. fn may read the device and should take its damage (a
// present.Presenter's Update does), or it is called again after the
// next step.
func (m *Machine) OnDamage(fn func(mask uint32)) { m.onDamage = fn }

// damaged reports the outputs with damage to the OnDamage function.
func (m *Machine) damaged() {
	if m.onDamage != nil {
		if mask := m.dev.Damaged(); mask != 0 {
			m.onDamage(mask)
		}
	}
}

// transport is the driver's view of the device registers; notifications
// reach the device at the machine's current time.
type transport struct {
	*device.Device
	clock *fence.ManualClock
}

func (t transport) Notify(q int) { t.Device.Kick(q, t.clock.Now()) }

const arenaBase = 1 << 20

// New builds a machine and brings the device up (the driver's probe).
func New(cfg Config) (*Machine, error) {
	if cfg.GuestMemory == 0 {
		cfg.GuestMemory = 64 << 20
	}
	if cfg.DriverArena == 0 {
		cfg.DriverArena = 32 << 20
	}
	if uint64(cfg.GuestMemory) < arenaBase+cfg.DriverArena {
		return nil, fmt.Errorf("machine: %d bytes of guest memory cannot hold a %d-byte driver arena at %#x",
			cfg.GuestMemory, cfg.DriverArena, arenaBase)
	}
	if cfg.Watchdog == 0 {
		cfg.Watchdog = 5 * time.Second
	}
	if cfg.LoopBudget == 0 {
		cfg.LoopBudget = DefaultLoopBudget
	}
	m := &Machine{clock: fence.NewManualClock(Boot), mem: virtio.NewMemory(cfg.GuestMemory), seed: cfg.Seed,
		watchdog: cfg.Watchdog, loopBudget: cfg.LoopBudget}
	m.d = fence.NewDomain(m.clock)
	m.s = newSched(m.clock)
	m.drv = drm.NewDriver(m.d)
	m.drv.SetHostWaits(cfg.HostWaits)
	dc := cfg.Device
	m.sink = cfg.Sink
	if m.sink == nil {
		m.sink = dc.Sink
	}
	if dc.Sink == nil {
		dc.Sink = m.sink
	}
	if m.sink != nil {
		m.drv.SetTrace(m.sink, m.s.currentTask)
	}
	dc.Interrupt = func(q int) { m.drv.Interrupt(q) }
	dev, err := device.New(m.mem, dc)
	if err != nil {
		return nil, err
	}
	m.dev = dev
	if err := m.drv.Probe(transport{dev, m.clock}, m.mem, arenaBase, cfg.DriverArena); err != nil {
		return nil, err
	}
	// From now on every blocking call parks its process.
	m.d.SetBlocker(m.s.newWaiter)
	return m, nil
}

// Now is the machine's virtual time.
func (m *Machine) Now() int64 { return m.clock.Now() }

// Driver is the machine's guest kernel.
func (m *Machine) Driver() *drm.Driver { return m.drv }

// Device is the machine's virtio-gpu device.
func (m *Machine) Device() *device.Device { return m.dev }

// Process is a guest process: its memory, its fd table, and what it
// returned. Its system calls are methods; they may block, parking the
// process until what it waits for happens.
type Process struct {
	Name string
	// Stdin is what a WebAssembly guest reads on its standard input (set
	// it before Run).
	Stdin []byte
	Mem   *flatmem.Memory // a Go process's memory (nil for a WebAssembly one)
	m     *Machine
	task  *drm.Task
	a     *actor
	code  int
	err   error // why a WebAssembly guest could not run to its end
	done  bool
	sig   *signals // a WebAssembly guest's signal timer
	stop  context.CancelCauseFunc

	stdout, stderr capped
}

// Output is what a WebAssembly guest wrote to stdout and stderr.
func (p *Process) Output() (stdout, stderr string) { return p.stdout.String(), p.stderr.String() }

// MaxOutput is how much of each of a guest's stdout and stderr is kept;
// what comes after is counted, and the output says so at its end.
const MaxOutput = 1 << 20

// capped is a guest's output, kept up to MaxOutput bytes.
type capped struct {
	b       bytes.Buffer
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	room := MaxOutput - c.b.Len()
	if room >= len(p) {
		return c.b.Write(p)
	}
	c.b.Write(p[:max(room, 0)])
	c.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

func (c *capped) String() string {
	if c.dropped == 0 {
		return c.b.String()
	}
	return c.b.String() + fmt.Sprintf("\n[fencelab: %d more bytes not kept]\n", c.dropped)
}

// Err is why a WebAssembly guest did not run to its end (a trap, a
// module that would not instantiate), or nil.
func (p *Process) Err() error { return p.err }

// SpawnWasm adds a process running a WebAssembly guest (wasm32, WASI
// preview 1 and the linux module) with args (args[0] is its name).
func (m *Machine) SpawnWasm(name string, wasm []byte, args ...string) (*Process, error) {
	ctx := context.Background()
	if m.rt == nil {
		rt, err := guest.NewRuntime(ctx)
		if err != nil {
			return nil, err
		}
		m.rt = rt
	}
	mod, err := m.rt.Compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	pid := int32(len(m.procs) + 1)
	seed := m.seed ^ uint64(pid)*0x9e3779b97f4a7c15
	callCtx, cancel := context.WithCancel(ctx)
	task := &drm.Task{FDs: drm.NewFDTable(0), Ctx: callCtx, Comm: name, Pid: pid}
	p := &Process{Name: name, m: m, task: task}
	p.sig = &signals{p: p, cancel: cancel}
	m.procs = append(m.procs, p)
	// The watchdog: the guest's context ends (and wazero stops it) when
	// it has held the processor for the whole budget.
	runCtx, stop := context.WithCancelCause(ctx)
	budget := &guest.LoopBudget{N: m.loopBudget}
	p.a = m.s.start(name, task, func() {
		defer stop(nil)
		m.emit(timeline.Event{Kind: timeline.ProcessStart, Pid: pid})
		gp := &guest.Process{Drv: m.drv, Task: task, Clock: machineClock{m}, Seed: seed, Sink: m.sink, Signals: p.sig,
			Args: append([]string{name}, args...), Stdin: bytes.NewReader(p.Stdin), Stdout: &p.stdout, Stderr: &p.stderr,
			Budget: budget}
		p.code, p.err = m.rt.Run(runCtx, mod, gp)
		if cause := context.Cause(runCtx); errors.Is(cause, errWatchdog) || errors.Is(cause, errClosed) {
			p.code, p.err = -1, fmt.Errorf("machine: %s: %w", name, cause)
		}
		p.exit()
	})
	p.stop = stop
	p.a.watchdog = func() { stop(errWatchdog) }
	p.a.refill = budget.Refill
	return p, nil
}

// exit ends the process: its files are closed, as exit(2) closes them
// (which may block), and then it is gone.
func (p *Process) exit() {
	// Closing files is not interruptible (exit's fput is not), whatever
	// ended the process: signals stop, and the closes get a live context.
	if p.sig != nil {
		p.sig.next = 0
	}
	p.task.Ctx = context.Background()
	p.task.FDs.CloseAll()
	p.done = true
	p.m.emit(timeline.Event{Kind: timeline.ProcessExit, Pid: p.task.Pid, Status: int32(p.code)})
}

// emit stamps e with the virtual time and sends it to the machine's sink,
// if it has one.
func (m *Machine) emit(e timeline.Event) {
	if m.sink != nil {
		e.Time = m.clock.Now()
		m.sink.Emit(e)
	}
}

// errClosed is why the processes of a closed machine stopped.
var errClosed = errors.New("stopped: the machine was closed")

// Close stops the machine's WebAssembly processes and lets each end,
// its files closed, so that nothing of the machine stays alive: for a
// machine dropped before its guests are done (the page's Run button
// starts a new one). A process asleep in a system call is woken with
// EINTR and the guest is stopped at its next instruction. Processes of
// Spawn are not stopped. Close gives up after 5 s of host time; the
// machine must not be run afterwards.
func (m *Machine) Close() {
	m.closed = true
	for _, p := range m.procs {
		if p.stop != nil {
			p.stop(errClosed)
		}
		if p.sig != nil {
			p.sig.cancel()
			p.sig.next = 0
		}
	}
	m.s.wakeAll()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !m.allExited(); {
		if more, err := m.Step(1<<63 - 1); !more || err != nil {
			break
		}
	}
	if m.rt != nil {
		m.rt.Close(context.Background())
	}
}

// allExited reports whether every WebAssembly process has ended.
func (m *Machine) allExited() bool {
	for _, p := range m.procs {
		if p.stop != nil && !p.done {
			return false
		}
	}
	return true
}

// errWatchdog is why a guest that never blocked was stopped.
// DefaultLoopBudget is the loop iterations a guest may run between two
// blocks unless Config.LoopBudget says otherwise: about a second of a
// tight loop in the browser's interpreter (BENCHMARKS.md), and far more
// than any of fencelab's guests runs between two system calls that wait.
const DefaultLoopBudget = 10_000_000

var errWatchdog = errors.New("stopped by the watchdog: it ran without blocking for the whole budget (a busy loop waiting for virtual time, which stands still while a guest runs?)")

// machineClock is the clock a guest reads and sleeps on: the machine's
// virtual time; a sleep parks the process until then.
type machineClock struct{ m *Machine }

func (c machineClock) Now() int64 { return c.m.clock.Now() }

func (c machineClock) Sleep(until int64) {
	for c.m.clock.Now() < until {
		c.m.d.NewWaiter().Wait(nil, until)
	}
}

// Spawn adds a process running fn, which starts when the machine runs;
// its return value is its exit status. Processes start in spawn order.
func (m *Machine) Spawn(name string, fn func(p *Process) int) *Process {
	mem := flatmem.New(0x10000, 16<<20)
	pid := int32(len(m.procs) + 1)
	p := &Process{Name: name, Mem: mem, m: m,
		task: &drm.Task{Mem: mem, FDs: drm.NewFDTable(0), Ctx: context.Background(), Comm: name, Pid: pid}}
	m.procs = append(m.procs, p)
	p.a = m.s.start(name, p.task, func() {
		m.emit(timeline.Event{Kind: timeline.ProcessStart, Pid: pid})
		p.code = fn(p)
		p.exit()
	})
	return p
}

// Pid is the process's id on the machine's timeline: its place in spawn
// order, from 1.
func (p *Process) Pid() int32 { return p.task.Pid }

// Exit is the process's exit status, and whether it has exited.
func (p *Process) Exit() (int, bool) { return p.code, p.done }

// Open is open(2).
func (p *Process) Open(path string) (int32, errno.Errno) {
	return p.m.drv.Open(p.task, path, drm.O_RDWR|drm.O_CLOEXEC)
}

// Close is close(2).
func (p *Process) Close(fd int32) errno.Errno { return p.task.FDs.Close(fd) }

// Ioctl is ioctl(2) with arg at addr in the process's memory.
func (p *Process) Ioctl(fd int32, req uint32, addr uint64) errno.Errno {
	return p.m.drv.Ioctl(p.task, fd, req, addr)
}

// IoctlBytes stores arg in the process's memory, runs the ioctl on it and
// returns the errno and the struct as the kernel left it.
func (p *Process) IoctlBytes(fd int32, req uint32, arg []byte) (errno.Errno, []byte) {
	addr := p.Mem.Put(arg)
	e := p.Ioctl(fd, req, addr)
	return e, p.Mem.Get(addr, len(arg))
}

// SendFD passes fd on the channel at chanFD (see drm.Driver.SendFD).
func (p *Process) SendFD(chanFD, fd int32) errno.Errno { return p.m.drv.SendFD(p.task, chanFD, fd) }

// RecvFD receives an fd from the channel at chanFD, waiting for one.
func (p *Process) RecvFD(chanFD int32) (int32, errno.Errno) {
	return p.m.drv.RecvFD(p.task, chanFD, false)
}

// Now is the virtual time the process sees.
func (p *Process) Now() int64 { return p.m.clock.Now() }

// FDs is the process's fd table (for passing fds between processes).
func (p *Process) FDs() *drm.FDTable { return p.task.FDs }

// ErrDeadlock is what Run returns when processes are blocked and nothing
// is due that could wake them.
var ErrDeadlock = errors.New("machine: deadlock")

// Run runs the machine until every process has exited (nil), until
// virtual time would pass until (nil, the clock reading until; what is
// due later stays due), or until the processes left are all blocked with
// nothing due to wake them (an error wrapping ErrDeadlock that names
// them).
func (m *Machine) Run(until int64) error {
	for {
		more, err := m.Step(until)
		if !more || err != nil {
			return err
		}
	}
}

// Step does one thing: runs a process that can run until it blocks or
// exits, or else moves virtual time to the next thing due and lets the
// device catch up. It reports whether there may be more to do before
// until, with Run's errors. The browser's "step one event" is a Step.
func (m *Machine) Step(until int64) (more bool, err error) {
	defer m.damaged()
	if a := m.s.next(); a != nil {
		var alarm *time.Timer
		if a.watchdog != nil {
			alarm = time.AfterFunc(m.watchdog, func() {
				// Only a guest still holding the processor is stopped.
				if m.s.isCurrent(a) {
					a.watchdog()
				}
			})
		}
		m.s.resume(a)
		if alarm != nil {
			alarm.Stop()
		}
		return true, nil
	}
	next, ok := m.dev.NextEvent()
	if d, due := m.clock.NextDeadline(); due && (!ok || d < next) {
		next, ok = d, true
	}
	// A signal timer is due too, but alone it cannot end a wait for
	// good (the guest restarts the call): with nothing else due, the
	// machine is stuck all the same.
	if ts, due := m.nextSignal(); due && ok && ts <= next {
		if ts > until {
			m.clock.AdvanceTo(until)
			m.dev.Advance(until)
			return false, nil
		}
		m.clock.AdvanceTo(ts)
		m.dev.Advance(ts)
		m.deliverSignals(ts)
		return true, nil
	}
	if !ok {
		if blocked := m.s.blocked(m.actors()); len(blocked) > 0 {
			return false, fmt.Errorf("%w: %s blocked at %v of virtual time with nothing due", ErrDeadlock, strings.Join(blocked, ", "), time.Duration(m.clock.Now()-Boot))
		}
		// Every process has exited: the files nobody received are
		// closed, by a process of the machine's own, as closing one
		// may block (a DRM file turning its framebuffers off).
		if m.drv.QueuedInChannels() {
			m.reaper = m.s.start("(channel reaper)", nil, m.drv.DropChannels)
			return true, nil
		}
		return false, nil
	}
	if next > until {
		// Time passes to until, where nothing is due.
		m.clock.AdvanceTo(until)
		m.dev.Advance(until)
		return false, nil
	}
	m.clock.AdvanceTo(next)
	m.dev.Advance(m.clock.Now())
	return true, nil
}

func (m *Machine) actors() []*actor {
	var as []*actor
	for _, p := range m.procs {
		as = append(as, p.a)
	}
	if m.reaper != nil {
		as = append(as, m.reaper)
	}
	return as
}
