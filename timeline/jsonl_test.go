package timeline

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The JSON lines golden: the fixed run, written by Writer.
//
//	go test ./timeline -run TestJSONLinesGolden -update
const jsonlGoldenPath = "testdata/golden.jsonl"

func encodeJSONL(t testing.TB, m Meta, evs []Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteAll(&buf, m, evs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestJSONLinesGolden(t *testing.T) {
	got := encodeJSONL(t, goldenMeta, goldenEvents())
	checkGolden(t, jsonlGoldenPath, got)

	m, evs, err := ReadAll(bytes.NewReader(got), 0)
	if err != nil {
		t.Fatalf("ReadAll = %v", err)
	}
	if !reflect.DeepEqual(m, goldenMeta) {
		t.Errorf("Meta = %+v; want %+v", m, goldenMeta)
	}
	if want := goldenEvents(); !reflect.DeepEqual(evs, want) {
		for i := range min(len(evs), len(want)) {
			if evs[i] != want[i] {
				t.Fatalf("event %d = %+v; want %+v", i, evs[i], want[i])
			}
		}
		t.Fatalf("read %d events; want %d", len(evs), len(want))
	}
}

// randomEvent returns an event of a random known kind with random values
// in exactly the fields that kind uses.
func randomEvent(r *rand.Rand) Event {
	e := Event{Kind: Kind(1 + r.IntN(int(numKinds)-1)), Time: int64(r.Uint64())}
	for k := key(0); k < numKeys; k++ {
		if kindKeys[e.Kind]&(1<<k) == 0 {
			continue
		}
		v := r.Uint64()
		switch r.IntN(4) { // favour the edges
		case 0:
			v = 0
		case 1:
			v = math.MaxUint64
		}
		if w := keyWidth[k]; w < 0 {
			v = uint64(int64(v) >> (64 + w)) // sign-extended to the width
		} else if w < 64 {
			v &= 1<<uint(w) - 1
		}
		e.set(k, v)
	}
	return e
}

func TestJSONLinesRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var evs []Event
	for range 20000 {
		evs = append(evs, randomEvent(r))
	}
	m := Meta{Guest: "g\"\\\u00e9\n", Seed: math.MaxUint64, Config: map[string]string{"a": "", "": "b"}}
	data := encodeJSONL(t, m, evs)
	got, evs2, err := ReadAll(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("Meta = %+v; want %+v", got, m)
	}
	for i := range evs {
		if evs2[i] != evs[i] {
			t.Fatalf("event %d = %+v; want %+v", i, evs2[i], evs[i])
		}
	}
}

func TestAppendEventWritesOnlyTheKindsFields(t *testing.T) {
	e := Event{Time: 5, Kind: JobStart, Worker: 1, CtxID: 2, RingIdx: 3, FenceID: 4, Pid: 9, Cmd: 7}
	got := string(AppendEvent(nil, e))
	want := `{"t":5,"kind":"job-start","fence_id":4,"ctx":2,"ring":3,"worker":1}` + "\n"
	if got != want {
		t.Errorf("AppendEvent = %s; want %s", got, want)
	}
	if err := e.Check(); err == nil {
		t.Errorf("Check(%+v) = nil; want an error for pid and cmd", e)
	}
}

func TestParseEventRejects(t *testing.T) {
	long := `{"t":1,"kind":"vblank","count":1` + strings.Repeat(" ", MaxEventLine) + "}"
	for _, tc := range []struct{ name, line, want string }{
		{"empty", ``, "want '{'"},
		{"not an object", `[1]`, "want '{'"},
		{"empty object", `{}`, `no "kind"`},
		{"no time", `{"kind":"vblank"}`, `no "t"`},
		{"no kind", `{"t":1}`, `no "kind"`},
		{"unknown kind", `{"t":1,"kind":"nope"}`, "unknown kind"},
		{"kind by number", `{"t":1,"kind":12}`, "want a quoted kind name"},
		{"unknown field", `{"t":1,"kind":"vblank","colour":1}`, `unknown field "colour"`},
		{"field of another kind, after", `{"t":1,"kind":"vblank","pid":1}`, `field "pid" is not used by kind vblank`},
		{"field of another kind, before", `{"t":1,"pid":1,"kind":"vblank"}`, `field "pid" is not used by kind vblank`},
		{"repeated field", `{"t":1,"kind":"vblank","count":1,"count":2}`, `repeated field "count"`},
		{"repeated t", `{"t":1,"t":1,"kind":"vblank"}`, `repeated field "t"`},
		{"repeated kind", `{"t":1,"kind":"vblank","kind":"flip"}`, `repeated field "kind"`},
		{"fraction", `{"t":1.5,"kind":"vblank"}`, "not a fraction"},
		{"exponent", `{"t":1e3,"kind":"vblank"}`, "not a fraction"},
		{"leading zero", `{"t":01,"kind":"vblank"}`, "leading zero"},
		{"string value", `{"t":"1","kind":"vblank"}`, "want an integer"},
		{"null", `{"t":null,"kind":"vblank"}`, "want an integer"},
		{"overflow 64", `{"t":1,"kind":"vblank","count":18446744073709551616}`, "overflows"},
		{"t too big", `{"t":9223372036854775808,"kind":"vblank"}`, "t out of range"},
		{"u8 too big", `{"t":1,"kind":"queue-avail","queue":256,"head":0}`, "queue out of range"},
		{"negative unsigned", `{"t":1,"kind":"vblank","count":-1}`, "count out of range"},
		{"i32 too small", `{"t":1,"kind":"process-start","pid":-2147483649}`, "pid out of range"},
		{"i32 too big", `{"t":1,"kind":"process-start","pid":2147483648}`, "pid out of range"},
		{"trailing comma", `{"t":1,"kind":"vblank",}`, "want a field name"},
		{"missing comma", `{"t":1 "kind":"vblank"}`, "want ',' or '}'"},
		{"missing colon", `{"t" 1,"kind":"vblank"}`, "want ':'"},
		{"escaped name", `{"t":1,"kind":"vbl\u0061nk"}`, "bad character in kind name"},
		{"escaped key", `{"\u0074":1,"kind":"vblank"}`, "bad character in field name"},
		{"unterminated", `{"t":1,"kind":"vblank`, "unterminated"},
		{"truncated", `{"t":1,"kind":"vblank","count":`, "want an integer"},
		{"data after", `{"t":1,"kind":"vblank"} {}`, "data after the object"},
		{"two lines", "{\"t\":1,\"kind\":\"vblank\"}\n{\"t\":2,\"kind\":\"vblank\"}", "data after the object"},
		{"too long", long, "over the"},
		{"NUL", "{\"t\":1,\"kind\":\"vblank\"}\x00", "data after the object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(tc.line))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseEvent(%q) = %+v, %v; want a *FormatError", tc.line, e, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseEvent(%q) = %v; want it to say %q", tc.line, err, tc.want)
			}
		})
	}
}

func TestParseEventAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Event
	}{
		{"whitespace and order", " {\t\"count\" : 7 ,\"kind\":\"vblank\", \"t\":-3 }\r\n",
			Event{Time: -3, Kind: Vblank, Count: 7}},
		{"missing fields are zero", `{"t":0,"kind":"job-end"}`, Event{Kind: JobEnd}},
		{"extremes", `{"t":-9223372036854775808,"kind":"process-exit","pid":-2147483648,"status":2147483647}`,
			Event{Time: math.MinInt64, Kind: ProcessExit, Pid: math.MinInt32, Status: math.MaxInt32}},
		{"u64 max", `{"t":9223372036854775807,"kind":"dropped","count":18446744073709551615}`,
			Event{Time: math.MaxInt64, Kind: Dropped, Count: math.MaxUint64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tc.line))
			if err != nil || got != tc.want {
				t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"empty", ``, "header:"},
		{"not json", `hello`, "header:"},
		{"no format", `{"version":1}`, "no format"},
		{"other format", `{"format":"perfetto","version":1}`, `format "perfetto"`},
		{"no version", `{"format":"fencelab-timeline"}`, "no version"},
		{"version 0", `{"format":"fencelab-timeline","version":0}`, "bad version"},
		{"newer", `{"format":"fencelab-timeline","version":2}`, "newer than this reader"},
		{"unknown field", `{"format":"fencelab-timeline","version":1,"colour":"red"}`, "unknown field"},
		{"bad seed", `{"format":"fencelab-timeline","version":1,"seed":-1}`, "header:"},
		{"bad pid", `{"format":"fencelab-timeline","version":1,"processes":{"x":"a"}}`, "header:"},
		{"two objects", `{"format":"fencelab-timeline","version":1}{}`, "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader([]byte(tc.line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseHeader(%q) = %v; want an error saying %q", tc.line, err, tc.want)
			}
		})
	}
	if _, err := AppendHeader(nil, Meta{Guest: "\xff"}); err == nil {
		t.Error("AppendHeader with invalid UTF-8 = nil error; want one")
	}
	big := Meta{Config: map[string]string{"k": strings.Repeat("x", MaxHeaderLine)}}
	if _, err := AppendHeader(nil, big); err == nil {
		t.Error("AppendHeader of an oversized header = nil error; want one")
	}
	line, err := AppendHeader(nil, Meta{})
	if err != nil || string(line) != `{"format":"fencelab-timeline","version":1}`+"\n" {
		t.Errorf("AppendHeader(Meta{}) = %q, %v", line, err)
	}
}

func TestReaderErrors(t *testing.T) {
	hdr := `{"format":"fencelab-timeline","version":1}` + "\n"
	ev := `{"t":1,"kind":"vblank","scanout":0,"count":1}` + "\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty stream", ``, "line 1: empty stream"},
		{"header too long", strings.Repeat("x", MaxHeaderLine+10), "line 1: line longer than"},
		{"bad header", "{}\n" + ev, "line 1: header: no format"},
		{"event too long", hdr + ev + `{"t":1,"kind":"vblank"` + strings.Repeat(" ", MaxEventLine) + "}\n",
			"line 3: line longer than"},
		{"huge event", hdr + strings.Repeat("x", 1<<20), "line 2: line longer than"},
		{"empty line", hdr + ev + "\n" + ev, "line 3: empty line"},
		{"bad event", hdr + ev + `{"t":1,"kind":"vblank","count":x}` + "\n", "line 3, column 32: want an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadAll(strings.NewReader(tc.in), 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadAll = %v; want an error saying %q", err, tc.want)
			}
		})
	}

	// The last line may lack its newline; errors are sticky.
	_, evs, err := ReadAll(strings.NewReader(hdr+ev+strings.TrimSuffix(ev, "\n")), 0)
	if err != nil || len(evs) != 2 {
		t.Errorf("ReadAll without a final newline = %d events, %v; want 2, nil", len(evs), err)
	}
	if _, _, err := ReadAll(strings.NewReader(hdr+ev+ev+ev), 2); err == nil || !strings.Contains(err.Error(), "more than 2 events") {
		t.Errorf("ReadAll over the limit = %v; want an error", err)
	}
	rd, err := NewReader(strings.NewReader(hdr + "{\n" + ev))
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := rd.Next()
	_, err2 := rd.Next()
	if err1 == nil || err2 != err1 {
		t.Errorf("Next after an error = %v, then %v; want the same error twice", err1, err2)
	}
}

// A writer error is returned and kept.
func TestWriterError(t *testing.T) {
	w, err := NewWriter(failWriter{}, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEvent(Event{Kind: Kind(999)}); err == nil {
		t.Error("WriteEvent(unknown kind) = nil; want an error")
	}
	if err := w.Flush(); err != io.ErrShortWrite {
		t.Errorf("Flush = %v; want %v", err, io.ErrShortWrite)
	}
	if err := w.WriteEvent(Event{Kind: Vblank}); err != io.ErrShortWrite {
		t.Errorf("WriteEvent after a failed Flush = %v; want %v", err, io.ErrShortWrite)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

// A header is as strict as an event line: no repeated keys, at any
// depth, and the top level's keys spelled exactly.
func TestHeaderStrictKeys(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{`{"format":"fencelab-timeline","version":1,"formAt":"x"}`, `unknown field "formAt"`},
		{`{"format":"fencelab-timeline","version":1,"Guest":"x"}`, `unknown field "Guest"`},
		{`{"format":"fencelab-timeline","version":1,"guest":"a","guest":"b"}`, `key "guest" repeated`},
		{`{"format":"fencelab-timeline","version":1,"config":{"a":"1","a":"2"}}`, `key "a" repeated`},
		{`{"format":"fencelab-timeline","version":1,"processes":{"1":"x","1":"y"}}`, `key "1" repeated`},
	} {
		if _, err := ParseHeader([]byte(tt.line)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error with %s", tt.line, err, tt.want)
		}
	}
	good := `{"format":"fencelab-timeline","version":1,"guest":"g","config":{"a":"1","b":"guest"},"processes":{"1":"x","2":"y"}}`
	if m, err := ParseHeader([]byte(good)); err != nil || m.Guest != "g" || m.Config["b"] != "guest" || m.Processes[2] != "y" {
		t.Errorf("%s: %+v, %v", good, m, err)
	}
}
