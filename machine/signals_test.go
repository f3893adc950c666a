package machine

import (
	"errors"
	"strings"
	"testing"
)

// The guests' own use of sigtimer is in TestCGuestConformance (IGT's
// *-interrupted subtests). Here the machine's side, with the timer set as
// the guest's call sets it. A process asleep for good with only its
// signal timer due is a deadlock, reported at once, not an endless run of
// interrupted and restarted waits.
func TestSignalTimerAloneIsStuck(t *testing.T) {
	m, p := newScenario(t, scenarioWasm(t), "syncobj a\nwait a for-submit\n")
	p.sig.SetTimer(1_000_000) // as if the guest had called sigtimer(1000)
	err := m.Run(forever)
	if !errors.Is(err, ErrDeadlock) || !strings.Contains(err.Error(), "scenario") {
		t.Fatalf("Run = %v; want a deadlock naming the process", err)
	}
	// With nothing else due no signal is delivered: time stays put.
	if p.sig.delivered != 0 || m.Now() != Boot {
		t.Errorf("%d signals delivered, clock at %d; want none, at boot", p.sig.delivered, m.Now())
	}
}

// Signals come every interval while something else is due, each ending
// the wait in progress with EINTR, which the guest's drmIoctl restarts:
// the wait still times out at its deadline.
func TestSignalsInterruptWaits(t *testing.T) {
	m, p := newScenario(t, scenarioWasm(t), "syncobj a\nsignal a@1\nwait a@2 for-submit timeout=10ms\nexpect ETIME\n")
	p.sig.SetTimer(1_000_000)
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	out, _ := p.Output()
	if code, _ := p.Exit(); code != 0 || !strings.Contains(out, "    10.000 ms  wait a@2 for-submit timeout=10ms: ETIME") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if p.sig.delivered != 10 { // at 1, 2, ... 10 ms; the one at 10 ms finds the wait ended
		t.Errorf("%d signals in 10 ms at one a millisecond; want 10", p.sig.delivered)
	}
}
