package timeline

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// Kind numbers and names are part of the stored format: pin them all.
func TestKindNumbersAndNamesAreStable(t *testing.T) {
	want := []struct {
		k    Kind
		n    uint16
		name string
	}{
		{QueueAvail, 1, "queue-avail"}, {QueueUsed, 2, "queue-used"}, {QueueBroken, 3, "queue-broken"},
		{Request, 4, "request"}, {Response, 5, "response"}, {JobStart, 6, "job-start"},
		{JobEnd, 7, "job-end"}, {FenceRetired, 8, "fence-retired"}, {Flush, 9, "flush"},
		{ScanoutSet, 10, "scanout-set"}, {Cursor, 11, "cursor"},
		{IoctlEnter, 12, "ioctl-enter"}, {IoctlExit, 13, "ioctl-exit"},
		{WaitSkipped, 14, "wait-skipped"}, {WaitBlocked, 15, "wait-blocked"}, {WaitWoken, 16, "wait-woken"},
		{QueueAdd, 17, "queue-add"}, {FenceEmitted, 18, "fence-emitted"}, {FenceSignalled, 19, "fence-signalled"},
		{SyncobjReplace, 20, "syncobj-replace"}, {SyncobjAddPoint, 21, "syncobj-add-point"},
		{SyncobjReset, 22, "syncobj-reset"}, {SyncobjSignal, 23, "syncobj-signal"},
		{SyncobjTransfer, 24, "syncobj-transfer"}, {SyncFileCreated, 25, "sync-file-created"},
		{SyncFileMerged, 26, "sync-file-merged"}, {EventfdFired, 27, "eventfd-fired"},
		{Vblank, 28, "vblank"}, {AtomicCommit, 29, "atomic-commit"}, {Flip, 30, "flip"},
		{FaultInjected, 31, "fault-injected"}, {ProcessStart, 32, "process-start"},
		{ProcessExit, 33, "process-exit"}, {Dropped, 34, "dropped"},
	}
	if len(want) != int(numKinds)-1 {
		t.Errorf("%d kinds pinned; the package has %d: pin the new ones", len(want), numKinds-1)
	}
	for _, w := range want {
		if uint16(w.k) != w.n {
			t.Errorf("%v = %d; want %d", w.k, uint16(w.k), w.n)
		}
		if got := w.k.String(); got != w.name {
			t.Errorf("Kind(%d).String() = %q; want %q", w.n, got, w.name)
		}
		if k, ok := ParseKind(w.name); !ok || k != w.k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", w.name, k, ok, w.k)
		}
	}
	for _, k := range []Kind{0, numKinds, 999} {
		if k.Known() {
			t.Errorf("Kind(%d).Known() = true", k)
		}
	}
	if got := Kind(999).String(); got != "kind-999" {
		t.Errorf("Kind(999).String() = %q; want kind-999", got)
	}
	if _, ok := ParseKind("kind-999"); ok {
		t.Error(`ParseKind("kind-999") succeeded`)
	}
}

// Field names are part of the stored format too; every field of Event
// (but Time and Kind) has exactly one.
func TestFieldTable(t *testing.T) {
	seen := map[string]bool{}
	for k := key(0); k < numKeys; k++ {
		n := keyNames[k]
		if n == "" || seen[n] || n == "t" || n == "kind" {
			t.Errorf("field %d has name %q (empty, repeated or reserved)", k, n)
		}
		seen[n] = true
		if keyWidth[k] == 0 {
			t.Errorf("field %s has no width", n)
		}
		// get and set agree, at the field's extremes.
		for _, v := range []uint64{1, 1<<(abs(keyWidth[k])-1) - 1} {
			var e Event
			e.set(k, v)
			if got := e.get(k); got != v {
				t.Errorf("field %s: set %d, get %d", n, v, got)
			}
			e.set(k, 0)
			if e != (Event{}) {
				t.Errorf("field %s: set 0 left %+v", n, e)
			}
		}
	}
	// Every field of Event but Time and Kind is one key: setting each key
	// in turn touches each leaf field (Rect and Fence counted by their
	// parts) exactly once.
	hit := map[string]key{}
	for k := key(0); k < numKeys; k++ {
		var e Event
		e.set(k, 1)
		for _, f := range leaves(reflect.ValueOf(e), "") {
			if f.nonzero {
				if old, dup := hit[f.name]; dup {
					t.Errorf("fields %s and %s both set Event.%s", keyNames[old], keyNames[k], f.name)
				}
				hit[f.name] = k
			}
		}
	}
	for _, f := range leaves(reflect.ValueOf(Event{}), "") {
		if _, ok := hit[f.name]; !ok && f.name != "Time" && f.name != "Kind" {
			t.Errorf("Event.%s has no field in the JSON table", f.name)
		}
	}
}

type leaf struct {
	name    string
	nonzero bool
}

// leaves lists the non-struct fields of v, with dotted names.
func leaves(v reflect.Value, prefix string) []leaf {
	var out []leaf
	for i := range v.NumField() {
		f, name := v.Field(i), prefix+v.Type().Field(i).Name
		if f.Kind() == reflect.Struct {
			out = append(out, leaves(f, name+".")...)
			continue
		}
		out = append(out, leaf{name, !f.IsZero()})
	}
	return out
}

func abs(w int8) int {
	if w < 0 {
		return int(-w)
	}
	return int(w)
}

// Every Event is copied on each Emit and held in rings: keep it small.
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(Event{}); n > 176 {
		t.Errorf("Event is %d bytes; it was 176 (rings hold DefaultCapacity of them)", n)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Event
		want string
	}{
		{"ok", Event{Kind: IoctlExit, Pid: 1, FD: 3, Ioctl: 7, Errno: 2}, ""},
		{"unknown kind", Event{Kind: 999}, "unknown kind 999"},
		{"zero kind", Event{}, "unknown kind 0"},
		{"foreign field", Event{Kind: Vblank, Scanout: 1, Pid: 3}, "vblank event sets pid"},
		{"rect on a cursor", Event{Kind: Cursor, Rect: Rect{W: 1}}, "sets rect_w"},
		{"src fence on a merge is fine", Event{Kind: SyncFileMerged, SrcFence: Fence{1, 2}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check(%+v) = %v; want %q", tc.e, err, tc.want)
			}
		})
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
	if err := r.Check(); err != nil {
		t.Errorf("Check = %v", err)
	}
	r.Emit(Event{Kind: Vblank, Pid: 1})
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "event 3:") {
		t.Errorf("Check = %v; want an error naming event 3", err)
	}
	Discard.Emit(Event{}) // must not panic
}

func TestFence(t *testing.T) {
	if !(Fence{}).IsZero() || (Fence{0, 1}).IsZero() {
		t.Error("IsZero is wrong")
	}
	if got := (Fence{5, 18446744073709551615}).String(); got != "5:18446744073709551615" {
		t.Errorf("String = %q", got)
	}
	if got := SkipHost.String(); got != "host wait" {
		t.Errorf("SkipHost.String() = %q", got)
	}
}

// Tee hands every event to each sink, in order.
func TestTee(t *testing.T) {
	var a, b Recorder
	s := Tee(&a, Discard, &b)
	s.Emit(Event{Time: 1, Kind: Vblank})
	s.Emit(Event{Time: 2, Kind: Flip})
	if len(a.Events) != 2 || len(b.Events) != 2 || a.Events[1] != b.Events[1] || a.Events[1].Kind != Flip {
		t.Errorf("a %v, b %v", a.Events, b.Events)
	}
}
