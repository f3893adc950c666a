package timeline

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the JSON lines reader, as a whole
// stream and as one event line. It must never panic; whatever it accepts
// must be a well-formed event (Check) and must survive a re-encoding
// unchanged.
func FuzzDecode(f *testing.F) {
	golden, err := os.ReadFile(jsonlGoldenPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	for _, line := range bytes.Split(golden, []byte("\n")) {
		f.Add(line)
	}
	for _, s := range []string{
		`{"t":1,"kind":"vblank","count":1}`,
		`{"t":-9223372036854775808,"kind":"process-exit","pid":-2147483648,"status":-1}`,
		`{"t":1,"kind":"dropped","count":18446744073709551616}`,
		`{"t":1,"kind":"vblank","pid":1}`,
		`{"t":1e3,"kind":"vblank"}`,
		`{"t":01}`,
		`{"kind":"vbl`,
		"{\"format\":\"fencelab-timeline\",\"version\":1}\n\n",
		"{\"format\":\"fencelab-timeline\",\"version\":1,\"config\":{\"a\":\"\\u0000\"}}\n{\"t\":0,\"kind\":\"flip\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := ParseEvent(data); err == nil {
			if err := e.Check(); err != nil {
				t.Fatalf("ParseEvent(%q) accepted an event that fails Check: %v", data, err)
			}
			again, err := ParseEvent(AppendEvent(nil, e))
			if err != nil || again != e {
				t.Fatalf("ParseEvent(%q) = %+v; re-encoded it reads %+v, %v", data, e, again, err)
			}
		}
		m, evs, err := ReadAll(bytes.NewReader(data), 1000)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, m)
		if err != nil {
			return // metadata that decoded to invalid UTF-8 cannot be written back
		}
		for _, e := range evs {
			if err := w.WriteEvent(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		m2, evs2, err := ReadAll(&buf, 0)
		if err != nil || !reflect.DeepEqual(m2, m) || !reflect.DeepEqual(evs2, evs) {
			t.Fatalf("re-encoded stream reads differently: %v\n%+v\n%+v", err, m2, m)
		}
	})
}

// FuzzChrome builds event sequences from arbitrary bytes (8 bytes an
// event: kind, then small values for its fields and a time step) and
// checks WriteChrome's output against the trace format every time.
func FuzzChrome(f *testing.F) {
	f.Add([]byte{})
	var seed []byte
	for _, e := range goldenEvents() {
		seed = append(seed, byte(e.Kind), byte(e.Pid), byte(e.Fence.Context), byte(e.Fence.Seqno),
			byte(e.FenceID), byte(e.Syncobj), byte(e.Point), 1)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		var evs []Event
		var now int64
		for len(data) >= 8 && len(evs) < 300 {
			c := data[:8]
			data = data[8:]
			e := Event{Kind: Kind(c[0] % (byte(numKinds) + 2))}
			for k := key(0); k < numKeys; k++ {
				if e.Kind.fields()&(1<<k) != 0 {
					e.set(k, uint64(c[1+int(k)%6]>>(k%3))%4)
				}
			}
			step := int64(int8(c[7])) // may go backwards
			now += step * 100
			e.Time = now
			evs = append(evs, e)
		}
		var buf bytes.Buffer
		if err := WriteChrome(&buf, Meta{}, evs, Names{}); err != nil {
			t.Fatal(err)
		}
		checkChrome(t, buf.Bytes())
	})
}
