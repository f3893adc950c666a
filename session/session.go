// Package session is one run of fencelab as a person asks for it: a
// guest (a built one by name, or a module of their own), its arguments
// and standard input, and the machine's options — what a shared link
// carries — together with the machine, the presenter and the timeline
// sink that run it. The headless CLI and the browser drive the same
// Session, so a run looks the same in both.
package session

import (
	"errors"
	"fmt"
	"image"
	"strings"

	builtin "fencelab/guests"
	"fencelab/machine"
	"fencelab/present"
	"fencelab/timeline"
)

// Spec says what to run.
type Spec struct {
	// Guest is a built guest's name (guests.Names), or, for a module
	// given to New as bytes, its name in the output.
	Guest string
	// Args are the guest's arguments (after any its recipe adds).
	Args []string
	// Stdin is the first process's standard input (a scenario script).
	Stdin string
	// Options configure the machine.
	Options machine.Options
}

// Session is a running machine with its presenter.
type Session struct {
	Spec    Spec
	M       *machine.Machine
	Procs   []*machine.Process
	pr      *present.Presenter
	outputs int
	frames  int
	onFrame func(out int, img *image.RGBA, changed []image.Rectangle)
}

// New builds the machine the spec describes and spawns the guest's
// processes: wasm if it is not nil, else the built guest named
// spec.Guest, as many processes as its recipe says. Events go to sink
// (nil: none).
func New(spec Spec, wasm []byte, sink timeline.Sink) (*Session, error) {
	cfg, err := spec.Options.Config()
	if err != nil {
		return nil, err
	}
	if sink != nil {
		cfg.Device.Sink = sink
	}
	m, err := machine.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &Session{Spec: spec, M: m, outputs: max(len(cfg.Device.Displays), 1)}
	s.pr = present.New(m.Device(), s.outputs)
	m.OnDamage(s.damaged)
	if err := s.Add(spec.Guest, wasm, spec.Args); err != nil {
		return nil, err
	}
	s.Procs[0].Stdin = []byte(spec.Stdin)
	return s, nil
}

// Add spawns more processes into the session: the module wasm, or if it
// is nil the built guest called name, as many processes as its recipe
// says, each with args after what the recipe gives it.
func (s *Session) Add(name string, wasm []byte, args []string) error {
	if name == "" {
		return errors.New("the guest has no name")
	}
	recipe := [][]string{nil}
	if wasm == nil {
		b, ok := builtin.Lookup(name)
		if !ok {
			return fmt.Errorf("no built guest %q (built: %s)", name, strings.Join(builtin.Names(), ", "))
		}
		wasm, recipe = b, builtin.Processes(name)
	}
	for _, r := range recipe {
		p, err := s.M.SpawnWasm(name, wasm, append(r, args...)...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.Procs = append(s.Procs, p)
	}
	return nil
}

// OnFrame has fn called with each new frame of an output (the guest
// flushed to it, set or turned off its scanout, or moved the cursor on
// it), and the rectangles that changed since the last one. The image is
// the output's picture, which the session changes only just before
// calling fn again for that output: until then it holds this frame.
func (s *Session) OnFrame(fn func(out int, img *image.RGBA, changed []image.Rectangle)) {
	s.onFrame = fn
}

// Frames is how many frames have been presented, on all outputs.
func (s *Session) Frames() int { return s.frames }

// Outputs is the number of outputs.
func (s *Session) Outputs() int { return s.outputs }

// Frame is output out's current picture (nil before its first frame).
func (s *Session) Frame(out int) *image.RGBA { return s.pr.Frame(out) }

func (s *Session) damaged(mask uint32) {
	for i := range s.outputs {
		if mask&(1<<i) == 0 {
			continue
		}
		if changed := s.pr.Update(i); len(changed) > 0 {
			s.frames++
			if s.onFrame != nil {
				s.onFrame(i, s.pr.Frame(i), changed)
			}
		}
	}
}

// Close stops the session's guests and releases its machine
// (machine.Machine.Close): for a run dropped before its guests are done.
func (s *Session) Close() { s.M.Close() }

// ProcessNames names the session's processes by pid (pid i+1 is
// Procs[i]), for a timeline's header.
func (s *Session) ProcessNames() map[int32]string {
	names := make(map[int32]string, len(s.Procs))
	for i, p := range s.Procs {
		names[int32(i+1)] = p.Name
	}
	return names
}

// Done reports whether every process has exited.
func (s *Session) Done() bool {
	for _, p := range s.Procs {
		if _, exited := p.Exit(); !exited {
			return false
		}
	}
	return true
}

// Run runs the machine until virtual time until, or every process has
// exited, or a deadlock (machine.Run).
func (s *Session) Run(until int64) error { return s.M.Run(until) }

// StepFrame runs until the next frame is presented, every process has
// exited, or virtual time would pass until; it reports whether a frame
// came.
func (s *Session) StepFrame(until int64) (bool, error) {
	start := s.frames
	for s.frames == start {
		more, err := s.M.Step(until)
		if err != nil || !more {
			return s.frames != start, err
		}
	}
	return true, nil
}
