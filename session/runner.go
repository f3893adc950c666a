package session

import (
	"time"
)

// Runner paces a session to wall time, as the browser shows it: while
// running, each Tick moves virtual time on by the wall time since the
// last one times Speed. It also takes the controls: pause, step one
// event, step one frame.
type Runner struct {
	S       *Session
	Running bool
	Speed   float64 // virtual seconds per wall second; 1 is real time
	Err     error   // why the machine stopped (a deadlock), if it did
}

// NewRunner returns a paused runner at real-time speed.
func NewRunner(s *Session) *Runner { return &Runner{S: s, Speed: 1} }

// maxTick bounds the virtual time one Tick covers, so a tab that was in
// the background does not come back to minutes of catching up.
const maxTick = 100 * time.Millisecond

// Tick advances the machine by wall × Speed of virtual time if it is
// running and has not stopped.
func (r *Runner) Tick(wall time.Duration) {
	if !r.Running || r.Err != nil || r.S.Done() {
		return
	}
	v := time.Duration(float64(min(wall, maxTick)) * r.Speed)
	if v <= 0 {
		return
	}
	r.Err = r.S.Run(r.S.M.Now() + v.Nanoseconds())
}

// Step does one scheduling step of the machine (machine.Step), paused.
func (r *Runner) Step() {
	r.Running = false
	if r.Err == nil {
		_, r.Err = r.S.M.Step(1<<63 - 1)
	}
}

// StepFrame runs to the next presented frame, paused; false if none
// came (the guests are done, or stuck).
func (r *Runner) StepFrame() bool {
	r.Running = false
	if r.Err != nil {
		return false
	}
	ok, err := r.S.StepFrame(1<<63 - 1)
	r.Err = err
	return ok
}
