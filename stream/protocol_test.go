package stream

import (
	"reflect"
	"strings"
	"testing"

	"fencelab/timeline"
)

var meta = timeline.Meta{Guest: "triangle", Seed: 3, Config: map[string]string{"link": "guest=triangle&seed=3"}}

var someEvents = []timeline.Event{
	{Time: 1_000_000_000, Kind: timeline.ProcessStart, Pid: 1},
	{Time: 1_000_000_100, Kind: timeline.JobStart, Worker: 0, CtxID: 1, RingIdx: 1, FenceID: 1<<64 - 1},
	{Time: 1_000_000_200, Kind: timeline.Cursor, X: -5, Y: 7, Resource: 2},
	{Time: 1_000_000_300, Kind: timeline.Dropped, Count: 3},
}

// Every message reads back as what was written.
func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Type: TypeHello, Protocol: Protocol, Meta: meta},
		{Type: TypeResume, Protocol: Protocol, Run: "20261125-010203-abcdef", Token: "0123456789abcdef0123456789abcdef"},
		{Type: TypeEvents, Seq: 42, Events: someEvents},
		{Type: TypeEnd, Seq: 46},
	} {
		msg, err := AppendFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeFrame(msg, 0, nil)
		if err != nil {
			t.Fatalf("DecodeFrame(%q): %v", msg, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("DecodeFrame(%q) = %+v; want %+v", msg, got, f)
		}
	}
	for _, r := range []Reply{
		{Type: TypeWelcome, Protocol: Protocol, Run: "r1", Token: "t1", Next: 7},
		{Type: TypeAck, Next: 1<<64 - 1},
	} {
		var msg []byte
		if r.Type == TypeWelcome {
			msg = AppendWelcome(nil, r.Run, r.Token, r.Next)
		} else {
			msg = AppendAck(nil, r.Next)
		}
		got, err := DecodeReply(msg)
		if err != nil || got != r {
			t.Errorf("DecodeReply(%q) = %+v, %v; want %+v", msg, got, err, r)
		}
	}
}

// The wire form of each message, as the package doc shows it.
func TestFrameWire(t *testing.T) {
	hello, _ := AppendHello(nil, timeline.Meta{Guest: "hello"})
	for _, tt := range []struct{ got, want string }{
		{string(hello), `{"type":"hello","protocol":1}` + "\n" + `{"format":"fencelab-timeline","version":1,"guest":"hello"}` + "\n"},
		{string(AppendResume(nil, "r", "t")), `{"type":"resume","protocol":1,"run":"r","token":"t"}` + "\n"},
		{string(AppendEvents(nil, 5, someEvents[:1])), `{"type":"events","seq":5}` + "\n" + `{"t":1000000000,"kind":"process-start","pid":1}` + "\n"},
		{string(AppendEnd(nil, 6)), `{"type":"end","seq":6}` + "\n"},
		{string(AppendWelcome(nil, "r", "t", 0)), `{"type":"welcome","protocol":1,"run":"r","token":"t","next":0}` + "\n"},
		{string(AppendAck(nil, 9)), `{"type":"ack","next":9}` + "\n"},
	} {
		if tt.got != tt.want {
			t.Errorf("got  %q\nwant %q", tt.got, tt.want)
		}
	}
}

// Anything the Append functions would not write is refused, saying what
// is wrong.
func TestDecodeFrameErrors(t *testing.T) {
	hdr := `{"format":"fencelab-timeline","version":1}` + "\n"
	ev := `{"t":1,"kind":"process-start","pid":1}` + "\n"
	for _, tt := range []struct{ msg, want string }{
		{"", "no newline-terminated control line"},
		{`{"type":"end","seq":1}`, "no newline-terminated control line"},
		{"\n", "control line"},
		{`[1]` + "\n", "control line"},
		{`{"type":"end","seq":1} {}` + "\n", "data after the object"},
		{`{"type":"end","seq":1,"extra":1}` + "\n", `unknown field "extra"`},
		{`{"type":"end"}` + "\n", `no "seq" field`},
		{`{"type":"end","seq":-1}` + "\n", "control line"},
		{`{"type":"end","seq":1.5}` + "\n", "control line"},
		{`{"type":"end","seq":1,"run":"x"}` + "\n", `has a "run" field`},
		{`{"TYPE":"end","seq":1}` + "\n", `unknown field "TYPE"`},
		{`{"type":"end","seq":1,"seq":2}` + "\n", `repeated field "seq"`},
		{`{"type":"end","seq":"1"}` + "\n", `"seq" must be an integer`},
		{`{"type":1}` + "\n", `"type" must be a string`},
		{`{"seq":1}` + "\n", `no "type"`},
		{`{"type":"end","seq":{}}` + "\n", "control line"},
		{`{"type":"hello","protocol":4294967296}` + "\n", "out of range"},
		{`{"type":"end","seq":1}` + "\n" + ev, "more than one line"},
		{`{"type":"fly"}` + "\n", `unknown message type "fly"`},
		{`{"type":"hello"}` + "\n" + hdr, `no "protocol" field`},
		{`{"type":"hello","protocol":1}` + "\n", "no newline-terminated timeline header"},
		{`{"type":"hello","protocol":1}` + "\n" + hdr + hdr, "more than the timeline header"},
		{`{"type":"hello","protocol":1}` + "\n" + `{"format":"x","version":1}` + "\n", `format "x"`},
		{`{"type":"resume","protocol":1,"run":"../x","token":"t"}` + "\n", "run and token must be"},
		{`{"type":"resume","protocol":1,"run":"r","token":""}` + "\n", "run and token must be"},
		{`{"type":"resume","protocol":1,"run":"r"}` + "\n", `no "token" field`},
		{`{"type":"events","seq":0}` + "\n", "without events"},
		{`{"type":"events","seq":0}` + "\n" + `{"t":1,"kind":"process-start","pid":1}`, "without a newline"},
		{`{"type":"events","seq":0}` + "\n" + ev + "\n", "line 3"},
		{`{"type":"events","seq":0}` + "\n" + `{"t":1,"kind":"vblank","pid":1}` + "\n", `"pid" is not used by kind vblank`},
		{`{"type":"events","seq":9223372036854775807}` + "\n" + ev, "out of range"},
		{`{"type":"events","seq":0,"x":"` + strings.Repeat("y", 600) + `"}` + "\n" + ev, "control line of"},
	} {
		_, err := DecodeFrame([]byte(tt.msg), 0, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeFrame(%.60q) = %v; want an error with %q", tt.msg, err, tt.want)
		}
	}
	msg := AppendEvents(nil, 0, someEvents)
	if _, err := DecodeFrame(msg, 3, nil); err == nil || !strings.Contains(err.Error(), "more than 3 events") {
		t.Errorf("DecodeFrame over maxEvents: %v", err)
	}
}

func TestDecodeReplyErrors(t *testing.T) {
	for _, tt := range []struct{ msg, want string }{
		{`{"type":"ack","next":1}`, "one newline-terminated line"},
		{`{"type":"ack","next":1}` + "\n\n", "one newline-terminated line"},
		{`{"type":"ack"}` + "\n", `no "next" field`},
		{`{"type":"welcome","protocol":1,"run":"r","token":"t"}` + "\n", `no "next" field`},
		{`{"type":"welcome","protocol":1,"run":"a/b","token":"t","next":0}` + "\n", "bad run id"},
		{`{"type":"events","seq":0}` + "\n", `unknown reply type "events"`},
	} {
		_, err := DecodeReply([]byte(tt.msg))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeReply(%q) = %v; want an error with %q", tt.msg, err, tt.want)
		}
	}
}

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"20261125-010203-abcdef", true}, {"A_b-9", true}, {"", false}, {".", false}, {"..", false},
		{"a/b", false}, {`a\b`, false}, {"a.jsonl", false}, {"a b", false}, {"é", false},
		{strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false}, {"a\x00", false},
	} {
		if got := ValidID(tt.id); got != tt.ok {
			t.Errorf("ValidID(%q) = %v; want %v", tt.id, got, tt.ok)
		}
	}
}

func TestURLFromPage(t *testing.T) {
	for _, tt := range []struct{ page, want string }{
		{"http://127.0.0.1:8080/?guest=triangle&seed=3", "ws://127.0.0.1:8080/stream"},
		{"https://example.org/fencelab/index.html#x", "wss://example.org/stream"},
		{"http://[::1]:8080/", "ws://[::1]:8080/stream"},
		{"file:///tmp/index.html", ""},
		{"http:///x", ""},
	} {
		got, err := URLFromPage(tt.page)
		if tt.want == "" {
			if err == nil {
				t.Errorf("URLFromPage(%q) = %q; want an error", tt.page, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("URLFromPage(%q) = %q, %v; want %q", tt.page, got, err, tt.want)
		}
	}
}

// FuzzDecodeFrame: the server's decoder of client messages never panics,
// and what it accepts it writes back as a message that decodes the same.
func FuzzDecodeFrame(f *testing.F) {
	hello, _ := AppendHello(nil, meta)
	f.Add(hello)
	f.Add(AppendResume(nil, "20261125-010203-abcdef", "0123456789abcdef"))
	f.Add(AppendEvents(nil, 7, someEvents))
	f.Add(AppendEnd(nil, 11))
	f.Add([]byte(`{"type":"events","seq":0}` + "\n" + `{ "kind" : "vblank" , "t" : -1 , "count" : 0 }` + "\n"))
	f.Add([]byte(`{"type":"hello","protocol":1}` + "\n" + `{"format":"fencelab-timeline","version":1,"processes":{"1":"a"}}` + "\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := DecodeFrame(msg, 64, nil)
		if err != nil {
			if _, ok := err.(*FrameError); !ok {
				t.Fatalf("error %v is a %T; want *FrameError", err, err)
			}
			return
		}
		again, err := AppendFrame(nil, fr)
		if err != nil {
			t.Fatalf("AppendFrame(%+v): %v", fr, err)
		}
		back, err := DecodeFrame(again, 64, nil)
		if err != nil {
			t.Fatalf("re-encoded %q: %v", again, err)
		}
		if !reflect.DeepEqual(normal(back), normal(fr)) {
			t.Fatalf("%q decoded as %+v, re-encoded as %q, decoded as %+v", msg, fr, again, back)
		}
	})
}

// normal treats empty and nil maps alike, and any protocol number as
// this one (the Append functions write only this one; the server checks
// the number).
func normal(f Frame) Frame {
	if f.Type == TypeHello || f.Type == TypeResume {
		f.Protocol = Protocol
	}
	if len(f.Meta.Config) == 0 {
		f.Meta.Config = nil
	}
	if len(f.Meta.Processes) == 0 {
		f.Meta.Processes = nil
	}
	return f
}
