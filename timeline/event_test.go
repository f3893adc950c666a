package timeline

import "testing"

// Kind numbers are part of the stored format: pin them.
func TestKindNumbersAreStable(t *testing.T) {
	want := map[Kind]uint16{
		QueueAvail: 1, QueueUsed: 2, QueueBroken: 3, Request: 4, Response: 5,
		JobStart: 6, JobEnd: 7, FenceRetired: 8, Flush: 9, ScanoutSet: 10, Cursor: 11,
	}
	for k, n := range want {
		if uint16(k) != n {
			t.Errorf("%v = %d; want %d", k, uint16(k), n)
		}
	}
	if got := Kind(999).String(); got != "kind-999" {
		t.Errorf("Kind(999).String() = %q; want kind-999", got)
	}
	if got := FenceRetired.String(); got != "fence-retired" {
		t.Errorf("FenceRetired.String() = %q", got)
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	r.Emit(Event{Kind: Request, Cmd: 1})
	r.Emit(Event{Kind: Response, Cmd: 1})
	r.Emit(Event{Kind: Request, Cmd: 2})
	if got := r.Of(Request); len(got) != 2 || got[1].Cmd != 2 {
		t.Errorf("Of(Request) = %+v; want the two requests in order", got)
	}
	Discard.Emit(Event{}) // must not panic
}
