package session

// Runner paces a session to the display, as the browser shows it: while
// running, each Frame (one per frame the browser draws) moves virtual
// time to the first output's next vblank, or on by Speed vblanks, so
// each drawn frame shows one frame of the guest's display. When the
// browser cannot keep up, virtual time slows down rather than frames
// being skipped. It also takes the controls: pause, step one event, step
// one frame.
type Runner struct {
	S       *Session
	Running bool
	Speed   float64 // vblanks a drawn frame; 1 is real time
	Err     error   // why the machine stopped (a deadlock), if it did
}

// NewRunner returns a paused runner at real-time speed.
func NewRunner(s *Session) *Runner { return &Runner{S: s, Speed: 1} }

// DefaultPeriod is the frame time while no output is lit: 60 Hz.
const DefaultPeriod = 16_666_667

// Frame advances the machine by one drawn frame if it is running and
// has not stopped.
func (r *Runner) Frame() {
	if !r.Running || r.Err != nil || r.S.Done() {
		return
	}
	now := r.S.M.Now()
	next, period, ok := r.S.M.Driver().Vblank(0, now+1)
	if !ok {
		next, period = now+DefaultPeriod, DefaultPeriod
	}
	// At speed 1 or more, to a vblank; slower, a share of a period a
	// frame (a guest frame then shows on several drawn ones).
	target := next + int64((r.Speed-1)*float64(period))
	if r.Speed < 1 {
		target = now + max(int64(r.Speed*float64(period)), 1)
	}
	r.Err = r.S.Run(target)
}

// Step does one scheduling step of the machine (machine.Step), paused.
func (r *Runner) Step() {
	r.Running = false
	if r.Err == nil {
		_, r.Err = r.S.M.Step(1<<63 - 1)
	}
}

// maxStepFrame bounds how much virtual time StepFrame runs looking for a
// frame: a guest that never presents one must not hang the page.
const maxStepFrame = 10_000_000_000

// StepFrame runs to the next presented frame, paused; false if none
// came within 10 s of virtual time (the guests are done, stuck, or show
// nothing).
func (r *Runner) StepFrame() bool {
	r.Running = false
	if r.Err != nil {
		return false
	}
	ok, err := r.S.StepFrame(r.S.M.Now() + maxStepFrame)
	r.Err = err
	return ok
}
