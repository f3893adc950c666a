package machine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fencelab/device"
	"fencelab/drm"
	"fencelab/guests"
	"fencelab/timeline"
)

// tracedRun runs the built guest name on a machine configured by cfg with
// a Recorder as its sink: its processes as the guest's recipe says, each
// given args after the recipe's, the first reading stdin, until they all
// exit or until passes. It returns the events and the processes.
func tracedRun(t *testing.T, cfg Config, name, stdin string, until int64, args ...string) ([]timeline.Event, []*Process) {
	t.Helper()
	rec := &timeline.Recorder{}
	cfg.Sink = rec
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wasm, ok := guests.Lookup(name)
	if !ok {
		t.Fatalf("no built guest %q", name)
	}
	var procs []*Process
	for _, recipe := range guests.Processes(name) {
		p, err := m.SpawnWasm(name, wasm, append(recipe, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	procs[0].Stdin = []byte(stdin)
	if err := m.Run(until); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Err() != nil {
			t.Fatalf("%s: %v", p.Name, p.Err())
		}
	}
	return rec.Events, procs
}

// checkTimeline checks what every recording must be: each event valid
// for its kind (timeline's Check), in order of virtual time, naming only
// the machine's processes (pid i+1 is procs[i]), each of which starts
// before it does anything and, if it exited, exits with its status after
// everything it did.
func checkTimeline(t *testing.T, events []timeline.Event, procs []*Process) {
	t.Helper()
	rec := timeline.Recorder{Events: events}
	if err := rec.Check(); err != nil {
		t.Fatal(err)
	}
	started := map[int32]bool{}
	exited := map[int32]bool{}
	for i, e := range events {
		if i > 0 && e.Time < events[i-1].Time {
			t.Fatalf("event %d (%v) at %d comes after one at %d", i, e.Kind, e.Time, events[i-1].Time)
		}
		if e.Pid < 0 || int(e.Pid) > len(procs) {
			t.Fatalf("event %d (%+v) names pid %d; the machine has %d processes", i, e, e.Pid, len(procs))
		}
		if e.Pid == 0 || e.Kind == timeline.EventfdFired {
			continue // it names its registrar, who may have exited before it fires
		}
		switch {
		case e.Kind == timeline.ProcessStart && started[e.Pid]:
			t.Fatalf("pid %d started twice", e.Pid)
		case e.Kind == timeline.ProcessStart:
			started[e.Pid] = true
		case !started[e.Pid]:
			t.Fatalf("event %d (%v) names pid %d before it started", i, e.Kind, e.Pid)
		case exited[e.Pid]:
			t.Fatalf("event %d (%v) names pid %d after it exited", i, e.Kind, e.Pid)
		case e.Kind == timeline.ProcessExit:
			exited[e.Pid] = true
			if code, done := procs[e.Pid-1].Exit(); !done || int32(code) != e.Status {
				t.Errorf("pid %d exited with %d on the timeline; the process says %d (exited: %v)", e.Pid, e.Status, code, done)
			}
		}
	}
	for i, p := range procs {
		if _, done := p.Exit(); done != exited[int32(i+1)] || !started[int32(i+1)] {
			t.Errorf("pid %d: started %v, exited %v on the timeline; exited %v", i+1, started[int32(i+1)], exited[int32(i+1)], done)
		}
		if p.Pid() != int32(i+1) {
			t.Errorf("process %d has pid %d", i, p.Pid())
		}
	}
}

func kindsOf(events []timeline.Event) map[timeline.Kind]int {
	n := map[timeline.Kind]int{}
	for _, e := range events {
		n[e.Kind]++
	}
	return n
}

// Every committed C guest gives a valid timeline with the kinds its work
// must show.
func TestTimelineOfEveryGuest(t *testing.T) {
	display := device.Config{Displays: []device.Display{{Width: 160, Height: 120}}}
	type run struct {
		name, guest, stdin string
		cfg                Config
		args               []string
		until              int64
		want               []timeline.Kind
	}
	runs := []run{
		{name: "hello", guest: "hello", until: forever,
			want: []timeline.Kind{timeline.IoctlEnter, timeline.WaitBlocked, timeline.WaitWoken, timeline.SyncobjSignal}},
		{name: "prodcons", guest: "prodcons", until: forever,
			want: []timeline.Kind{timeline.FenceEmitted, timeline.QueueAdd, timeline.JobStart, timeline.SyncobjAddPoint,
				timeline.WaitSkipped, timeline.WaitBlocked, timeline.WaitWoken, timeline.FenceSignalled}},
		{name: "triangle", guest: "triangle", cfg: Config{Device: display}, args: []string{"8"}, until: forever,
			want: []timeline.Kind{timeline.AtomicCommit, timeline.Vblank, timeline.Flip, timeline.SyncFileCreated, timeline.WaitBlocked}},
		{name: "dumb", guest: "dumb", cfg: Config{Device: display}, args: []string{"0"}, until: Boot + 100_000_000,
			want: []timeline.Kind{timeline.AtomicCommit, timeline.Vblank, timeline.Flip, timeline.Flush}},
		{name: "conformance", guest: "conformance", until: forever,
			want: []timeline.Kind{timeline.SyncobjReplace, timeline.SyncobjReset, timeline.SyncobjSignal, timeline.SyncobjTransfer,
				timeline.SyncFileCreated, timeline.EventfdFired, timeline.WaitBlocked, timeline.WaitWoken, timeline.FenceEmitted}},
		{name: "faults", guest: "scenario", stdin: "rings 1\nsyncobj a\nsubmit ring=0 cost=1ms out=a\nwait a\n",
			cfg:   Config{Device: device.Config{Faults: []device.Fault{{Ctx: 1, Kind: device.FaultDelay, Delay: 2_000_000}}}},
			until: forever, want: []timeline.Kind{timeline.FaultInjected, timeline.SyncobjReplace}},
	}
	// What each example scenario does, besides ioctls.
	scenarioKinds := map[string][]timeline.Kind{
		"compute-graphics.scn": {timeline.SyncobjAddPoint, timeline.WaitBlocked, timeline.WaitWoken, timeline.WaitSkipped},
		"flip.scn":             {timeline.AtomicCommit, timeline.Vblank, timeline.Flip, timeline.SyncFileCreated},
		"sync-file.scn":        {timeline.SyncFileCreated, timeline.SyncFileMerged, timeline.SyncobjReplace},
		"timeline.scn":         {timeline.SyncobjSignal, timeline.SyncobjTransfer, timeline.SyncobjReset, timeline.WaitBlocked},
	}
	scripts, _ := filepath.Glob("../guests/scenarios/*.scn")
	if len(scripts) == 0 {
		t.Fatal("no scenarios")
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{name: "scenario/" + filepath.Base(s), guest: "scenario", stdin: string(b), cfg: Config{Device: display},
			until: Boot + 10_000_000_000, want: append(scenarioKinds[filepath.Base(s)], timeline.IoctlEnter)})
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			events, procs := tracedRun(t, r.cfg, r.guest, r.stdin, r.until, r.args...)
			checkTimeline(t, events, procs)
			n := kindsOf(events)
			for _, k := range append(r.want, timeline.ProcessStart) {
				if n[k] == 0 {
					t.Errorf("no %v event (have %v)", k, n)
				}
			}
			if n[timeline.IoctlEnter] != n[timeline.IoctlExit] {
				t.Errorf("%d ioctls entered, %d left", n[timeline.IoctlEnter], n[timeline.IoctlExit])
			}
		})
	}
}

// match is an expected event: its kind (0: any), and what else must hold.
type match struct {
	kind timeline.Kind
	what string
	ok   func(e timeline.Event) bool
}

// inOrder finds ms in events in order (others may come between) and
// returns their indexes.
func inOrder(t *testing.T, events []timeline.Event, ms ...match) []int {
	t.Helper()
	var at []int
	i := 0
	for _, m := range ms {
		for i < len(events) && (m.kind != 0 && events[i].Kind != m.kind || m.ok != nil && !m.ok(events[i])) {
			i++
		}
		if i == len(events) {
			t.Fatalf("no %v (%s) after the events matched so far (at %v):\n%s", m.kind, m.what, at, dump(events))
		}
		at = append(at, i)
		i++
	}
	return at
}

func dump(events []timeline.Event) string {
	var b strings.Builder
	for i, e := range events {
		if e.Kind == timeline.QueueAvail || e.Kind == timeline.QueueUsed || e.Kind == timeline.Request || e.Kind == timeline.Response {
			continue
		}
		fmt.Fprintf(&b, "\t%d: %d %v pid %d fd %d fence %v syncobj %d@%d id %d\n", i, e.Time-Boot, e.Kind, e.Pid, e.FD, e.Fence, e.Syncobj, e.Point, e.FenceID)
	}
	return b.String()
}

const crossRing = "rings 2\nsyncobj a\nsubmit ring=0 cost=4ms out=a@1\nsubmit ring=1 cost=1ms in=a@1\n"

// A submission waiting for another ring's point: the first submission's
// fence is on the timeline before its job starts, the point gets it, the
// second submission blocks on it and wakes when it signals, at 4 ms.
func TestTimelineInFenceWait(t *testing.T) {
	events, procs := tracedRun(t, Config{}, "scenario", crossRing, forever)
	checkTimeline(t, events, procs)
	isExec := func(e timeline.Event) bool { return e.Pid == 1 && e.Ioctl == drm.DRM_IOCTL_VIRTGPU_EXECBUFFER }
	var out timeline.Event
	at := inOrder(t, events,
		match{timeline.ProcessStart, "the scenario", func(e timeline.Event) bool { return e.Pid == 1 }},
		match{timeline.IoctlEnter, "the first EXECBUFFER", isExec},
		match{timeline.FenceEmitted, "its out-fence", func(e timeline.Event) bool {
			out = e
			return e.Pid == 1 && e.RingIdx == 0 && e.FenceID != 0 && !e.Fence.IsZero()
		}},
		match{timeline.QueueAdd, "its SUBMIT_3D", func(e timeline.Event) bool { return e.FenceID == out.FenceID }},
		match{timeline.JobStart, "its job", func(e timeline.Event) bool { return e.FenceID == out.FenceID }},
		match{timeline.SyncobjAddPoint, "a@1", func(e timeline.Event) bool {
			return e.Pid == 1 && e.Syncobj == 1 && e.Point == 1 && e.Fence == out.Fence
		}},
		match{timeline.IoctlExit, "the first EXECBUFFER", isExec},
		match{timeline.IoctlEnter, "the second EXECBUFFER", isExec},
		match{timeline.WaitBlocked, "on the ring-0 fence", func(e timeline.Event) bool {
			return e.Pid == 1 && e.Fence == out.Fence && e.Syncobj == 1 && e.Point == 1
		}},
		match{timeline.JobEnd, "ring 0's job", func(e timeline.Event) bool { return e.FenceID == out.FenceID }},
		match{timeline.FenceSignalled, "ring 0's fence", func(e timeline.Event) bool { return e.Fence == out.Fence }},
		match{timeline.WaitWoken, "by it", func(e timeline.Event) bool { return e.Pid == 1 && e.Fence == out.Fence && e.Errno == 0 }},
		match{timeline.IoctlExit, "the second EXECBUFFER", isExec},
		match{timeline.ProcessExit, "the scenario", func(e timeline.Event) bool { return e.Pid == 1 && e.Status == 0 }},
	)
	if woke := events[at[11]].Time; woke != Boot+4_000_000 {
		t.Errorf("woken at %d ns; want at 4 ms", woke-Boot)
	}
	for _, e := range events {
		if e.Kind == timeline.WaitSkipped {
			t.Errorf("a wait was skipped: %+v", e)
		}
	}
}

// With host waits the second submission does not block: its wait is
// skipped, handed to the host, and its job starts when ring 0's retires.
func TestTimelineHostWaitSkipped(t *testing.T) {
	events, procs := tracedRun(t, Config{HostWaits: true}, "scenario", crossRing, forever)
	checkTimeline(t, events, procs)
	var out timeline.Event
	at := inOrder(t, events,
		match{timeline.FenceEmitted, "ring 0's fence", func(e timeline.Event) bool { out = e; return e.RingIdx == 0 }},
		match{timeline.WaitSkipped, "handed to the host", func(e timeline.Event) bool {
			return e.Reason == timeline.SkipHost && e.Fence == out.Fence && e.Syncobj == 1 && e.Point == 1 && e.Pid == 1
		}},
		match{timeline.QueueAdd, "the second SUBMIT_3D, at once", func(e timeline.Event) bool { return e.Cmd == device.VIRTIO_GPU_CMD_SUBMIT_3D }},
		match{timeline.FenceRetired, "ring 0", func(e timeline.Event) bool { return e.FenceID == out.FenceID }},
		match{timeline.JobStart, "the second job (unfenced)", func(e timeline.Event) bool { return e.FenceID == 0 }},
	)
	if events[at[2]].Time != Boot || events[at[4]].Time != Boot+4_000_000 {
		t.Errorf("second submission queued at %d, started at %d; want 0 and 4 ms", events[at[2]].Time-Boot, events[at[4]].Time-Boot)
	}
	if n := kindsOf(events)[timeline.WaitBlocked]; n != 0 {
		t.Errorf("%d waits blocked; want none", n)
	}
}

// triangle's commits: each is an atomic commit, whose in-fence (the
// kernel's wait, a nonblocking commit's) has signalled before its flip,
// which follows the vblank it landed on.
func TestTimelineTriangleFlips(t *testing.T) {
	events, procs := tracedRun(t, Config{Device: device.Config{Displays: []device.Display{{Width: 160, Height: 120}}}},
		"triangle", "", forever, "6")
	checkTimeline(t, events, procs)
	commits, flips := 0, 0
	for i, e := range events {
		// triangle's frames are nonblocking commits (the first one also
		// sets the mode); closing its card at exit makes one more.
		if e.Kind != timeline.AtomicCommit || e.Pid != 1 || e.Flags&drm.DRM_MODE_ATOMIC_NONBLOCK == 0 {
			continue
		}
		commits++
		serial := e.Count
		if e.Fence.IsZero() {
			t.Errorf("commit %d has no out-fence (triangle asks for one)", serial)
		}
		rest := events[i+1:]
		var in timeline.Fence
		at := inOrder(t, rest,
			match{timeline.SyncFileCreated, "the out-fence's fd", func(x timeline.Event) bool { return x.Fence == e.Fence && x.Pid == 1 }},
			match{0, "the kernel's wait for the in-fence", func(x timeline.Event) bool {
				// A nonblocking commit's in-fence wait: skipped or blocked,
				// by the kernel.
				in = x.Fence
				return (x.Kind == timeline.WaitSkipped || x.Kind == timeline.WaitBlocked) && x.Pid == 0
			}},
		)
		_ = at
		flip := inOrder(t, rest, match{timeline.Flip, "the flip", func(x timeline.Event) bool { return x.Count == serial }})[0]
		signal := -1
		for j, x := range events[:i+1+flip] {
			if x.Kind == timeline.FenceSignalled && x.Fence == in {
				signal = j
			}
		}
		if signal < 0 {
			t.Errorf("commit %d flipped before its in-fence %v signalled", serial, in)
		}
		vblank := -1
		for j, x := range rest[:flip] {
			if x.Kind == timeline.Vblank && x.Scanout == e.Scanout {
				vblank = j
			}
		}
		// (A modeset switches the CRTC on: there is no vblank to wait for.)
		if modeset := e.Flags&drm.DRM_MODE_ATOMIC_ALLOW_MODESET != 0; !modeset && (vblank < 0 || rest[vblank].Time != rest[flip].Time) {
			t.Errorf("commit %d: no vblank at its flip (vblank at %d)", serial, vblank)
		}
		flips++
	}
	if commits != 6 || flips != commits {
		t.Errorf("%d commits by the guest, %d flips; want one a frame", commits, flips)
	}
}

// chromeTrace is what a test reads of a Chrome trace: each flow arrow as
// "name: from-thread → to-thread", threads named "process/thread".
func chromeArrows(t *testing.T, b []byte) []string {
	t.Helper()
	var tr struct {
		TraceEvents []struct {
			Ph   string `json:"ph"`
			Name string `json:"name"`
			Pid  int    `json:"pid"`
			Tid  int    `json:"tid"`
			ID   int    `json:"id"`
			Args struct {
				Name string `json:"name"`
			} `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("the Chrome trace is not JSON: %v", err)
	}
	procs, threads := map[int]string{}, map[[2]int]string{}
	starts := map[int]string{}
	var arrows []string
	for _, e := range tr.TraceEvents {
		where := procs[e.Pid] + "/" + threads[[2]int{e.Pid, e.Tid}]
		switch e.Ph {
		case "M":
			if e.Name == "process_name" {
				procs[e.Pid] = e.Args.Name
			} else {
				threads[[2]int{e.Pid, e.Tid}] = e.Args.Name
			}
		case "s":
			starts[e.ID] = where
		case "f":
			arrows = append(arrows, e.Name+": "+starts[e.ID]+" → "+where)
		}
	}
	return arrows
}

// WriteChrome on prodcons' timeline draws each fence's path: the
// producer's submission to its job on the device, the job to the
// fence's signal, the signal to the consumer it wakes, and the syncobj
// point to that waiter.
func TestTimelineChromeFlows(t *testing.T) {
	events, procs := tracedRun(t, Config{}, "prodcons", "", forever)
	checkTimeline(t, events, procs)
	meta := timeline.Meta{Guest: "prodcons", Processes: map[int32]string{1: "producer", 2: "consumer"}}
	var buf bytes.Buffer
	if err := timeline.WriteChrome(&buf, meta, events, timeline.Names{Ioctl: drm.IoctlName, Cmd: device.WireName}); err != nil {
		t.Fatal(err)
	}
	arrows := chromeArrows(t, buf.Bytes())
	has := func(prefix, from, to string) bool {
		for _, a := range arrows {
			name, ends, _ := strings.Cut(a, ": ")
			f, g, _ := strings.Cut(ends, " → ")
			if name == prefix && strings.HasPrefix(f, from) && strings.HasPrefix(g, to) {
				return true
			}
		}
		return false
	}
	for _, w := range []struct{ name, from, to string }{
		{"submit", "producer (pid 1)/main", "virtio-gpu device/ctx 1 ring 0"},                       // out-fence emitted → job
		{"signal", "virtio-gpu device/ctx 1 ring 0", "guest kernel/fence context 3 (ctx 1 ring 0)"}, // job → signal
		{"wake", "guest kernel/fence context 3 (ctx 1 ring 0)", "consumer (pid 2)/main"},            // signal → the consumer's in-fence wait
		{"attach", "producer (pid 1)/main", "guest kernel/syncobj 1"},                               // out-fence → syncobj point
		{"point", "guest kernel/syncobj 1", "consumer (pid 2)/main"},                                // point → waiter
		{"submit", "consumer (pid 2)/main", "virtio-gpu device/ctx 2 ring 0"},                       // the consumer's own job
		{"signal", "virtio-gpu device/ctx 2 ring 0", "guest kernel/fence context 5 (ctx 2 ring 0)"}, // and its fence
		{"wake", "guest kernel/fence context 5 (ctx 2 ring 0)", "consumer (pid 2)/main"},            // which it waits for at the end
	} {
		if !has(w.name, w.from, w.to) {
			t.Errorf("no %s arrow from %s… to %s…; have:\n\t%s", w.name, w.from, w.to, strings.Join(arrows, "\n\t"))
			break
		}
	}
}

// A configuration with a sink for the machine and another for the device:
// each gets its own events, and together they are the whole timeline.
func TestTimelineSinksSplit(t *testing.T) {
	whole, _ := tracedRun(t, Config{}, "scenario", crossRing, forever)
	dev, rest := &timeline.Recorder{}, &timeline.Recorder{}
	m, err := New(Config{Sink: rest, Device: device.Config{Sink: dev}})
	if err != nil {
		t.Fatal(err)
	}
	wasm, _ := guests.Lookup("scenario")
	p, _ := m.SpawnWasm("scenario", wasm)
	p.Stdin = []byte(crossRing)
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	for _, e := range dev.Events {
		if e.Kind >= timeline.IoctlEnter && e.Kind != timeline.FaultInjected {
			t.Fatalf("the device's sink got %v", e.Kind)
		}
	}
	for _, e := range rest.Events {
		if e.Kind < timeline.IoctlEnter || e.Kind == timeline.FaultInjected {
			t.Fatalf("the machine's sink got the device's %v", e.Kind)
		}
	}
	if len(dev.Events)+len(rest.Events) != len(whole) {
		t.Errorf("%d + %d events split; %d in one sink", len(dev.Events), len(rest.Events), len(whole))
	}
}
