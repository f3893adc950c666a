package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Chrome trace golden: the fixed run, written by WriteChrome.
//
//	go test ./timeline -run TestChromeGolden -update
const chromeGoldenPath = "testdata/golden.trace.json"

func encodeChrome(t testing.TB, m Meta, evs []Event, n Names) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteChrome(&buf, m, evs, n); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestChromeGolden(t *testing.T) {
	got := encodeChrome(t, goldenMeta, goldenEvents(), goldenNames)
	checkGolden(t, chromeGoldenPath, got)
	tr := checkChrome(t, got)

	// The arrows the fixed run must show, by flow name and the threads of
	// their two ends.
	for _, want := range []string{
		"wake: producer (pid 1)/main ← guest kernel/fence context 3",                           // in-fence signal → waiter
		"submit: virtio-gpu device/ctx 1 ring 0 ← producer (pid 1)/main",                       // out-fence emitted → job
		"signal: guest kernel/fence context 5 (ctx 1 ring 0) ← virtio-gpu device/ctx 1 ring 0", // job → out-fence
		"attach: guest kernel/syncobj 1 ← producer (pid 1)/main",                               // out-fence → syncobj point
		"point: consumer (pid 2)/main ← guest kernel/syncobj 1",                                // syncobj point → waiter
		"wake: consumer (pid 2)/main ← guest kernel/fence context 5 (ctx 1 ring 0)",            // signal → waiter
		"point: producer (pid 1)/main ← guest kernel/syncobj 1",                                // host-wait skip
		"transfer: guest kernel/syncobj 2 ← guest kernel/syncobj 1",
		"attach: consumer (pid 2)/main ← guest kernel/syncobj 2", // export
		"merge: consumer (pid 2)/main ← guest kernel/fence context 5 (ctx 1 ring 0)",
		"eventfd: guest kernel/syncobj 1 ← guest kernel/fence context 5 (ctx 1 ring 0)",
		"wake: guest kernel/kernel ← guest kernel/fence context 6 (ctx 1 ring 1)", // display's in-fence
		"flip: display/scanout 0 ← display/scanout 0",
		"signal: guest kernel/fence context 9 ← display/scanout 0", // flip → out-fence
	} {
		if !slices.Contains(tr.arrows, want) {
			t.Errorf("no arrow %q; have:\n%s", want, strings.Join(tr.arrows, "\n"))
		}
	}
	// The hung job is shown to the end, marked.
	if !strings.Contains(string(got), `"name":"job fence 3","args":{"fence_id":3,"ctx":2,"ring":0,"worker":2,"unfinished":true}`) {
		t.Error("the hung job is not an unfinished slice")
	}
	if !strings.Contains(string(got), `"name":"DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT → ETIME"`) {
		t.Error("a failed ioctl does not show its errno")
	}
}

// Random runs must always produce a valid trace, whatever the events say.
func TestChromeRandomIsValid(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		evs := make([]Event, 400)
		for i := range evs {
			e := randomEvent(r)
			// Small values, so that events refer to each other.
			for k := key(0); k < numKeys; k++ {
				if kindKeys[e.Kind]&(1<<k) != 0 {
					e.set(k, e.get(k)%4)
				}
			}
			e.Time = int64(i/4) * 1000
			if seed%2 == 1 {
				e.Time = int64(r.IntN(50)) * 1000 // out of order too
			}
			if seed == 3 {
				e.Kind = Kind(r.IntN(int(numKinds) + 3)) // and unknown kinds
			}
			evs[i] = e
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkChrome(t, encodeChrome(t, Meta{Processes: map[int32]string{1: "a\"b"}}, evs, Names{}))
		})
	}
}

func TestChromeEmpty(t *testing.T) {
	got := encodeChrome(t, Meta{}, nil, Names{})
	checkChrome(t, got)
	if !strings.HasPrefix(string(got), "{\"traceEvents\":[\n\n],") {
		t.Errorf("empty trace = %s", got)
	}
}

func TestAppendMicros(t *testing.T) {
	for _, tc := range []struct {
		ns   uint64
		want string
	}{
		{0, "0"}, {1, "0.001"}, {10, "0.01"}, {999, "0.999"}, {1000, "1"}, {1500, "1.5"},
		{16_666_666, "16666.666"}, {math.MaxUint64, "18446744073709551.615"},
	} {
		if got := string(appendMicros(nil, tc.ns)); got != tc.want {
			t.Errorf("appendMicros(%d) = %s; want %s", tc.ns, got, tc.want)
		}
	}
}

// Times before zero shift the whole trace, so Perfetto keeps every event.
func TestChromeShiftsNegativeTimes(t *testing.T) {
	evs := []Event{
		{Time: math.MinInt64, Kind: ProcessStart, Pid: 1},
		{Time: -500, Kind: IoctlEnter, Pid: 1},
		{Time: math.MaxInt64, Kind: IoctlExit, Pid: 1},
	}
	got := encodeChrome(t, Meta{}, evs, Names{})
	checkChrome(t, got)
	for _, want := range []string{`"ts":0,`, `"ts":9223372036854775.308,`, `"ts":18446744073709551.615}`, `"ts_shift_ns":"9223372036854775808"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("trace lacks %s:\n%s", want, got)
		}
	}
}

// chromeTrace is what checkChrome learnt from a trace.
type chromeTrace struct {
	arrows  []string // "name: to-track ← from-track"
	threads []string // every thread's name
}

// checkChrome decodes a trace and checks it against the Chrome trace event
// format as Perfetto's JSON importer reads it (../shared/spec/anchors.md
// §B.1), and against the properties WriteChrome promises.
func checkChrome(t *testing.T, data []byte) chromeTrace {
	t.Helper()
	var doc struct {
		TraceEvents     []map[string]json.RawMessage `json:"traceEvents"`
		DisplayTimeUnit string                       `json:"displayTimeUnit"`
		OtherData       map[string]any               `json:"otherData"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("trace is not the JSON object format: %v", err)
	}
	if doc.TraceEvents == nil {
		t.Fatal("no traceEvents array")
	}
	if doc.DisplayTimeUnit != "ns" {
		t.Errorf("displayTimeUnit = %q", doc.DisplayTimeUnit)
	}

	type track struct{ pid, tid int64 }
	type ev struct {
		ph, name, cat, scope, bp string
		pid, tid, id             int64
		hasPid, hasTid, hasID    bool
		ts                       uint64 // ns
		dur                      uint64
		hasTs, hasDur            bool
		argName                  string
	}
	integer := func(i int, f string, raw json.RawMessage) int64 {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			t.Fatalf("event %d: %s = %s; want an integer", i, f, raw)
		}
		return n
	}
	micros := func(i int, f string, raw json.RawMessage) uint64 {
		s := string(raw)
		if strings.HasPrefix(s, "-") {
			t.Errorf("event %d: %s %s is negative; Perfetto drops it", i, f, s)
			return 0
		}
		whole, frac, _ := strings.Cut(s, ".")
		w, err := strconv.ParseUint(whole, 10, 64)
		if err != nil || w > math.MaxUint64/1000 || len(frac) > 3 || strings.HasSuffix(frac, "0") {
			t.Fatalf("event %d: %s = %s; want microseconds with at most 3 significant decimals", i, f, s)
		}
		frac += strings.Repeat("0", 3-len(frac))
		fn, _ := strconv.ParseUint(frac, 10, 64)
		return w*1000 + fn
	}
	str := func(i int, f string, raw json.RawMessage) string {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("event %d: %s = %s; want a string", i, f, raw)
		}
		return s
	}

	var evs []ev
	for i, m := range doc.TraceEvents {
		var e ev
		for f, raw := range m {
			switch f {
			case "ph":
				e.ph = str(i, f, raw)
			case "name":
				e.name = str(i, f, raw)
			case "cat":
				e.cat = str(i, f, raw)
			case "s":
				e.scope = str(i, f, raw)
			case "bp":
				e.bp = str(i, f, raw)
			case "pid":
				e.pid, e.hasPid = integer(i, f, raw), true
			case "tid":
				e.tid, e.hasTid = integer(i, f, raw), true
			case "id":
				e.id, e.hasID = integer(i, f, raw), true
			case "ts":
				e.ts, e.hasTs = micros(i, f, raw), true
			case "dur":
				e.dur, e.hasDur = micros(i, f, raw), true
			case "args":
				var args map[string]any
				if err := json.Unmarshal(raw, &args); err != nil {
					t.Fatalf("event %d: args = %s; want an object", i, raw)
				}
				if n, ok := args["name"].(string); ok {
					e.argName = n
				}
			default:
				t.Errorf("event %d: unexpected field %q", i, f)
			}
		}
		// Required fields per phase (anchors §B.1).
		need := func(ok bool, what string) {
			if !ok {
				t.Errorf("event %d (ph %q): no %s", i, e.ph, what)
			}
		}
		switch e.ph {
		case "M":
			need(e.name == "process_name" || e.name == "thread_name", "process_name/thread_name name")
			need(e.hasPid, "pid")
			need(e.name != "thread_name" || e.hasTid, "tid")
			need(e.argName != "", "args.name")
		case "B":
			need(e.hasPid && e.hasTid && e.hasTs && e.name != "", "pid, tid, ts and name")
		case "E":
			need(e.hasPid && e.hasTid && e.hasTs, "pid, tid and ts")
		case "X":
			need(e.hasPid && e.hasTid && e.hasTs && e.name != "" && e.hasDur, "pid, tid, ts, name and dur")
		case "i":
			need(e.hasTs && e.name != "", "ts and name")
			switch e.scope {
			case "t":
				need(e.hasPid && e.hasTid, "pid and tid for a thread instant")
			case "g":
			default:
				t.Errorf("event %d: instant scope %q", i, e.scope)
			}
		case "s", "f":
			need(e.hasPid && e.hasTid && e.hasTs && e.cat != "" && e.name != "" && e.hasID, "pid, tid, ts, cat, name and id")
			need(e.ph == "s" || e.bp == "e", `"bp":"e"`)
		default:
			t.Errorf("event %d: phase %q is not one WriteChrome uses", i, e.ph)
		}
		evs = append(evs, e)
	}

	// Metadata names every process and thread used, once.
	procNames := map[int64]string{}
	threadNames := map[track]string{}
	for i, e := range evs {
		switch {
		case e.ph == "M" && e.name == "process_name":
			if _, dup := procNames[e.pid]; dup {
				t.Errorf("event %d: process %d named twice", i, e.pid)
			}
			procNames[e.pid] = e.argName
		case e.ph == "M":
			if _, dup := threadNames[track{e.pid, e.tid}]; dup {
				t.Errorf("event %d: thread %d named twice", i, e.tid)
			}
			threadNames[track{e.pid, e.tid}] = e.argName
		}
	}
	tidPid := map[int64]int64{}
	for k := range threadNames {
		if p, ok := tidPid[k.tid]; ok && p != k.pid {
			t.Errorf("tid %d is used by processes %d and %d", k.tid, p, k.pid)
		}
		tidPid[k.tid] = k.pid
		if _, ok := procNames[k.tid]; ok {
			t.Errorf("tid %d equals a pid", k.tid)
		}
	}
	for i, e := range evs {
		if e.ph == "M" || e.ph == "i" && e.scope == "g" {
			continue
		}
		if _, ok := procNames[e.pid]; !ok {
			t.Errorf("event %d: process %d has no process_name", i, e.pid)
		}
		if _, ok := threadNames[track{e.pid, e.tid}]; !ok {
			t.Errorf("event %d: thread %d/%d has no thread_name", i, e.pid, e.tid)
		}
	}

	// The file is in the order Perfetto's importer processes it: by ts,
	// then ends first, then file order (its sorter; "X" would sort by
	// duration, so only dur 0 is used).
	sortKey := func(e ev) uint64 {
		switch e.ph {
		case "E":
			return 0
		case "X":
			return math.MaxUint64 - e.dur
		}
		return math.MaxUint64
	}
	var prev *ev
	for i := range evs {
		e := &evs[i]
		if e.ph == "M" {
			if prev != nil {
				t.Errorf("event %d: metadata after timed events", i)
			}
			continue
		}
		if e.ph == "X" && e.dur != 0 {
			t.Errorf("event %d: X with dur %d; WriteChrome only writes dur 0", i, e.dur)
		}
		if prev != nil && (e.ts < prev.ts || e.ts == prev.ts && sortKey(*e) < sortKey(*prev)) {
			t.Errorf("event %d (%s %q at %d) sorts before the one above it", i, e.ph, e.name, e.ts)
		}
		prev = e
	}

	// Slices nest per thread; flow events bind to the slice or instant
	// just before them on their thread; every flow has one start and one
	// end, the start first, with the same cat and name.
	stacks := map[track][]int{}
	lastSlice := map[track]int{} // index of the last B, X or i on the thread
	type flow struct{ s, f int }
	flows := map[int64]*flow{}
	var tr chromeTrace
	for _, n := range threadNames {
		tr.threads = append(tr.threads, n)
	}
	for i, e := range evs {
		k := track{e.pid, e.tid}
		switch e.ph {
		case "B":
			stacks[k] = append(stacks[k], i)
			lastSlice[k] = i
		case "E":
			st := stacks[k]
			if len(st) == 0 {
				t.Fatalf("event %d: E with nothing open on %v", i, k)
			}
			if b := evs[st[len(st)-1]]; e.ts < b.ts {
				t.Errorf("event %d: E at %d before its B at %d", i, e.ts, b.ts)
			}
			stacks[k] = st[:len(st)-1]
			delete(lastSlice, k)
		case "X", "i":
			if e.scope != "g" {
				lastSlice[k] = i
			}
		case "s", "f":
			j, ok := lastSlice[k]
			if !ok || evs[j].ts != e.ts {
				t.Errorf("event %d: flow %s %d has no slice at %d just before it on its thread", i, e.ph, e.id, e.ts)
			}
			fl := flows[e.id]
			if fl == nil {
				fl = &flow{-1, -1}
				flows[e.id] = fl
			}
			if e.ph == "s" {
				if fl.s >= 0 {
					t.Errorf("event %d: flow %d starts twice", i, e.id)
				}
				fl.s = i
			} else {
				if fl.f >= 0 {
					t.Errorf("event %d: flow %d ends twice", i, e.id)
				}
				if fl.s < 0 {
					t.Errorf("event %d: flow %d ends before it starts", i, e.id)
				}
				fl.f = i
			}
		}
	}
	for k, st := range stacks {
		if len(st) > 0 {
			t.Errorf("thread %v: %d slices never end", k, len(st))
		}
	}
	ids := make([]int64, 0, len(flows))
	for id := range flows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fl := flows[id]
		if fl.s < 0 || fl.f < 0 {
			t.Errorf("flow %d: start %d, end %d; want both", id, fl.s, fl.f)
			continue
		}
		s, f := evs[fl.s], evs[fl.f]
		if s.cat != f.cat || s.name != f.name {
			t.Errorf("flow %d: start %s/%s, end %s/%s", id, s.cat, s.name, f.cat, f.name)
		}
		if f.ts < s.ts {
			t.Errorf("flow %d ends at %d, before its start at %d", id, f.ts, s.ts)
		}
		name := func(e ev) string {
			return procNames[e.pid] + "/" + threadNames[track{e.pid, e.tid}]
		}
		tr.arrows = append(tr.arrows, s.name+": "+name(f)+" ← "+name(s))
	}
	return tr
}

// Fences on the device's global timeline (no INFO_RING_IDX: context 0
// in the events, which no context has) show on a track named for it,
// not as a ring of a context 0.
func TestChromeGlobalTimeline(t *testing.T) {
	f := Fence{Context: 2, Seqno: 1}
	evs := []Event{ // as the driver and device report an unringed submit of context 1
		{Time: 1000, Kind: FenceEmitted, Pid: 1, Fence: f, FenceID: 1},
		{Time: 2000, Kind: JobStart, Worker: 1, CtxID: 1, FenceID: 1},
		{Time: 3000, Kind: JobEnd, Worker: 1, CtxID: 1, FenceID: 1},
		{Time: 3000, Kind: FenceRetired, FenceID: 1},
		{Time: 3000, Kind: FenceSignalled, Fence: f},
	}
	tr := checkChrome(t, encodeChrome(t, Meta{}, evs, Names{}))
	for _, want := range []string{"global fence timeline", "fence context 2 (global)"} {
		if !slices.Contains(tr.threads, want) {
			t.Errorf("no track %q; have %q", want, tr.threads)
		}
	}
	for _, n := range tr.threads {
		if strings.Contains(n, "ctx 0") {
			t.Errorf("track %q", n)
		}
	}
}
