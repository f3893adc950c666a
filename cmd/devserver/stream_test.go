package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"fencelab/stream"
	"fencelab/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fast are client options for tests: short waits.
func fast(o stream.Options) stream.Options {
	o.MinBackoff, o.MaxBackoff = time.Millisecond, 20*time.Millisecond
	o.FlushInterval = 5 * time.Millisecond
	return o
}

var testMeta = timeline.Meta{Guest: "prodcons", Seed: 7,
	Config:    map[string]string{"link": "guest=prodcons&seed=7"},
	Processes: map[int32]string{1: "producer", 2: "consumer"}}

// goldenEvents is a fixed run: one of each shape of field, and values at
// the ends of their ranges.
var goldenEvents = []timeline.Event{
	{Time: 1_000_000_000, Kind: timeline.ProcessStart, Pid: 1},
	{Time: 1_000_000_000, Kind: timeline.IoctlEnter, Pid: 1, FD: 3, Ioctl: 0xc0106443},
	{Time: 1_000_000_500, Kind: timeline.QueueAdd, Queue: 0, Head: 65535, Cmd: 0x207, Flags: 3, FenceID: 1<<64 - 1, CtxID: 1, RingIdx: 63},
	{Time: 1_000_001_000, Kind: timeline.FenceEmitted, Pid: 1, FD: -1, Fence: timeline.Fence{Context: 9, Seqno: 1}, FenceID: 4, CtxID: 1, RingIdx: 1},
	{Time: 1_000_002_000, Kind: timeline.WaitSkipped, Pid: 2, FD: 4, Fence: timeline.Fence{Context: 9, Seqno: 1}, Syncobj: 3, Handle: 1, Point: 1 << 40, Reason: timeline.SkipOwnContext},
	{Time: 1_000_003_000, Kind: timeline.Cursor, Scanout: 0, X: -64, Y: -1 << 31, Resource: 5},
	{Time: 1_000_004_000, Kind: timeline.IoctlExit, Pid: 1, FD: 3, Ioctl: 0xc0106443, Errno: 62},
	{Time: 1_000_005_000, Kind: timeline.SyncobjTransfer, Pid: 2, Syncobj: 3, Handle: 1, Point: 2, Fence: timeline.Fence{Context: 9, Seqno: 1},
		SrcSyncobj: 4, SrcHandle: 2, SrcPoint: 7, SrcFence: timeline.Fence{Context: 9, Seqno: 1}},
	{Time: 1_000_006_000, Kind: timeline.Dropped, Count: 12},
	{Time: 1_000_007_000, Kind: timeline.ProcessExit, Pid: 1, Status: -2},
}

// The file a fixed run is stored as, byte for byte.
func TestStreamGolden(t *testing.T) {
	ts := startServer(t, nil)
	c := stream.New(ts.ws, testMeta, fast(stream.Options{}))
	for _, e := range goldenEvents {
		c.Emit(e)
	}
	st := closeClient(t, c)
	got, err := os.ReadFile(filepath.Join(ts.cfg.Recordings, st.Run+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "run.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stored run differs from %s (go test -update rewrites it):\n%s\nwant:\n%s", golden, hex.Dump(got), hex.Dump(want))
	}
	_, evs := ts.readRun(t, st.Run)
	checkEvents(t, evs, goldenEvents)
}

// A connection cut mid-run, again and again, loses and duplicates
// nothing: the client resumes and sends again from what the server has.
func TestStreamResume(t *testing.T) {
	ts := startServer(t, nil)
	p := newProxy(t, hostOf(ts.url))
	c := stream.New(p.url(), testMeta, fast(stream.Options{Capacity: 1 << 16, FrameEvents: 64, FirstDials: -1}))
	const rounds, per = 10, 500
	var n uint64
	for round := range rounds {
		for range per {
			c.Emit(genEvent(1, n))
			n++
		}
		c.Flush()
		// Cut while events are in flight (or just after).
		time.Sleep(time.Duration(round) * time.Millisecond)
		p.cut()
	}
	st := closeClient(t, c)
	if st.Connects < 2 {
		t.Errorf("%d connections; the cuts should have made more", st.Connects)
	}
	if st.Dropped != 0 || st.Acked != n {
		t.Errorf("status %+v; want %d acked, none dropped", st, n)
	}
	_, evs := ts.readRun(t, st.Run)
	checkEvents(t, evs, genEvents(1, 0, n))
	t.Logf("%d events over %d connections", n, st.Connects)
}

// While the server cannot be reached, the client's buffer keeps the
// newest events; the run says how many older ones were lost, where.
func TestStreamDropsOldestWhileAway(t *testing.T) {
	ts := startServer(t, nil)
	p := newProxy(t, hostOf(ts.url))
	c := stream.New(p.url(), testMeta, fast(stream.Options{Capacity: 100, FirstDials: -1}))
	first := genEvents(1, 0, 50)
	for _, e := range first {
		c.Emit(e)
	}
	waitFor(t, "the first events stored", func() bool { return c.Status().Acked == 50 })
	p.setDown(true)
	waitFor(t, "the client to see the server gone", func() bool { return c.Status().State == stream.Retrying })
	away := genEvents(1, 50, 1050)
	for _, e := range away {
		c.Emit(e)
	}
	if st := c.Status(); st.Buffered > 100 || st.Dropped != 900 {
		t.Errorf("while away: %+v; want at most 100 buffered, 900 dropped", st)
	}
	p.setDown(false)
	st := closeClient(t, c)
	_, evs := ts.readRun(t, st.Run)
	want := append(first, timeline.Event{Time: away[899].Time, Kind: timeline.Dropped, Count: 900})
	want = append(want, away[900:]...)
	checkEvents(t, evs, want)
}

// A server that restarted does not know the run; the client starts a
// new one there with what it still holds, after a Dropped event standing
// for what the old run has.
func TestStreamServerRestart(t *testing.T) {
	a := startServer(t, nil)
	b := startServer(t, nil)
	p := newProxy(t, hostOf(a.url))
	c := stream.New(p.url(), testMeta, fast(stream.Options{}))
	for _, e := range genEvents(1, 0, 100) {
		c.Emit(e)
	}
	waitFor(t, "100 events stored", func() bool { return c.Status().Acked == 100 })
	first := c.Status().Run
	p.setTarget(hostOf(b.url))
	for _, e := range genEvents(1, 100, 150) {
		c.Emit(e)
	}
	st := closeClient(t, c)
	if st.Run == first {
		t.Fatalf("still run %s after the restart", first)
	}
	_, evs := a.readRun(t, first)
	checkEvents(t, evs, genEvents(1, 0, 100))
	_, evs = b.readRun(t, st.Run)
	want := append([]timeline.Event{{Time: genEvent(1, 99).Time, Kind: timeline.Dropped, Count: 100}}, genEvents(1, 100, 150)...)
	checkEvents(t, evs, want)
}

// rawConn is a hand-driven WebSocket to the server.
type rawConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialRaw(t *testing.T, u string, h http.Header) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &rawConn{t, c}
}

func (r *rawConn) send(msg []byte) {
	r.t.Helper()
	if err := r.c.Write(context.Background(), websocket.MessageText, msg); err != nil {
		r.t.Fatal(err)
	}
}

// reply reads a reply, or the close that came instead.
func (r *rawConn) reply() (stream.Reply, websocket.CloseError) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, msg, err := r.c.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if !asClose(err, &ce) {
			r.t.Fatalf("read: %v", err)
		}
		return stream.Reply{}, ce
	}
	rep, err := stream.DecodeReply(msg)
	if err != nil {
		r.t.Fatalf("reply %q: %v", msg, err)
	}
	return rep, websocket.CloseError{}
}

func asClose(err error, ce *websocket.CloseError) bool { return errors.As(err, ce) }

func (r *rawConn) wantAck(next uint64) {
	r.t.Helper()
	rep, ce := r.reply()
	if ce.Code != 0 || rep.Type != stream.TypeAck || rep.Next != next {
		r.t.Fatalf("reply %+v, close %v; want ack %d", rep, ce, next)
	}
}

func (r *rawConn) wantClose(code stream.StatusCode, reason string) {
	r.t.Helper()
	for {
		rep, ce := r.reply()
		if ce.Code == 0 {
			if rep.Type == stream.TypeAck {
				continue // acks of what was stored before the limit
			}
			r.t.Fatalf("reply %+v; want close %d", rep, code)
		}
		if ce.Code != websocket.StatusCode(code) || !strings.Contains(ce.Reason, reason) {
			r.t.Fatalf("closed with %d %q; want %d and a reason with %q", ce.Code, ce.Reason, code, reason)
		}
		return
	}
}

func (r *rawConn) hello() stream.Reply {
	r.t.Helper()
	msg, err := stream.AppendHello(nil, testMeta)
	if err != nil {
		r.t.Fatal(err)
	}
	r.send(msg)
	rep, ce := r.reply()
	if ce.Code != 0 || rep.Type != stream.TypeWelcome || rep.Next != 0 {
		r.t.Fatalf("reply %+v, close %v; want a welcome", rep, ce)
	}
	return rep
}

// A message starting below what the server has (a resend) stores only
// what is new; one starting above it (a gap) ends the connection; a
// resume continues the run; a wrong token does not.
func TestStreamSequence(t *testing.T) {
	ts := startServer(t, nil)
	r := dialRaw(t, ts.ws, nil)
	w := r.hello()
	r.send(stream.AppendEvents(nil, 0, genEvents(1, 0, 3)))
	r.wantAck(3)
	r.send(stream.AppendEvents(nil, 1, genEvents(1, 1, 5)))
	r.wantAck(5)
	r.send(stream.AppendEvents(nil, 0, genEvents(1, 0, 2)))
	r.wantAck(5)
	r.send(stream.AppendEvents(nil, 7, genEvents(1, 7, 8)))
	r.wantClose(stream.CloseBadFrame, "starts at event 7, but only 5 are stored")

	bad := dialRaw(t, ts.ws, nil)
	bad.send(stream.AppendResume(nil, w.Run, "0123456789abcdef0123456789abcdef"))
	bad.wantClose(stream.CloseUnknownRun, "no run "+w.Run)

	r = dialRaw(t, ts.ws, nil)
	r.send(stream.AppendResume(nil, w.Run, w.Token))
	rep, ce := r.reply()
	if ce.Code != 0 || rep.Type != stream.TypeWelcome || rep.Next != 5 || rep.Run != w.Run {
		t.Fatalf("resume: %+v, %v; want welcome at 5", rep, ce)
	}
	// A second resume takes the run over; the first connection is closed.
	r2 := dialRaw(t, ts.ws, nil)
	r2.send(stream.AppendResume(nil, w.Run, w.Token))
	if rep, _ := r2.reply(); rep.Next != 5 {
		t.Fatalf("second resume: %+v", rep)
	}
	r.wantClose(stream.CloseSuperseded, "another connection")
	r2.send(stream.AppendEvents(nil, 5, genEvents(1, 5, 9)))
	r2.wantAck(9)
	r2.send(stream.AppendEnd(nil, 9))
	r2.wantAck(9)
	r2.wantClose(stream.StatusNormalClosure, "run ended")
	_, evs := ts.readRun(t, w.Run)
	checkEvents(t, evs, genEvents(1, 0, 9))
}

// Malformed, hostile and oversized streams are closed with a reason,
// and a run streaming beside them is not harmed.
func TestStreamRejects(t *testing.T) {
	ts := startServer(t, func(c *config) {
		c.MaxMessage = 64 << 10
		c.MaxEvents = 20
		c.Handshake = 200 * time.Millisecond
	})
	good := stream.New(ts.ws, testMeta, fast(stream.Options{FrameEvents: 2}))
	var mu sync.Mutex
	var sent uint64
	emit := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		for range n {
			good.Emit(genEvent(2, sent))
			sent++
		}
	}
	emit(3)

	hello, _ := stream.AppendHello(nil, testMeta)
	for _, tt := range []struct {
		name   string
		msgs   [][]byte
		binary bool
		code   stream.StatusCode
		reason string
	}{
		{"not json", [][]byte{[]byte("hello\n")}, false, stream.CloseBadFrame, "control line"},
		{"binary", [][]byte{hello}, true, stream.CloseBadFrame, "binary message"},
		{"events first", [][]byte{stream.AppendEvents(nil, 0, genEvents(1, 0, 1))}, false, stream.CloseBadFrame, "events message before hello"},
		{"version", [][]byte{[]byte(`{"type":"hello","protocol":99}` + "\n" + string(hello[strings.IndexByte(string(hello), '\n')+1:]))}, false, stream.CloseVersion, "protocol 99"},
		{"bad event", [][]byte{hello, []byte(`{"type":"events","seq":0}` + "\n" + `{"t":1,"kind":"vblank","pid":1}` + "\n")}, false, stream.CloseBadFrame, `field "pid" is not used by kind vblank`},
		{"unknown kind", [][]byte{hello, []byte(`{"type":"events","seq":0}` + "\n" + `{"t":1,"kind":"teleport"}` + "\n")}, false, stream.CloseBadFrame, `unknown kind "teleport"`},
		{"too big", [][]byte{hello, append([]byte(`{"type":"events","seq":0}`+"\n"), bytes.Repeat([]byte("x"), 65<<10)...)}, false, stream.StatusMessageTooBig, "read limited at"},
		{"too many events", [][]byte{hello, stream.AppendEvents(nil, 0, genEvents(1, 0, 21))}, false, stream.CloseLimit, "limit of 20 events per run"},
		{"end early", [][]byte{hello, stream.AppendEnd(nil, 3)}, false, stream.CloseBadFrame, "end at 3 events, but 0 are stored"},
		{"hello twice", [][]byte{hello, hello}, false, stream.CloseBadFrame, "hello message after the handshake"},
		{"path as run", [][]byte{[]byte(`{"type":"resume","protocol":1,"run":"../../etc/passwd","token":"x"}` + "\n")}, false, stream.CloseBadFrame, "run and token must be"},
		{"silence", nil, false, stream.CloseTimeout, "no hello or resume within"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := dialRaw(t, ts.ws, nil)
			for i, m := range tt.msgs {
				typ := websocket.MessageText
				if tt.binary {
					typ = websocket.MessageBinary
				}
				if err := r.c.Write(context.Background(), typ, m); err != nil {
					t.Fatal(err)
				}
				if i == 0 && len(tt.msgs) > 1 {
					if rep, ce := r.reply(); rep.Type != stream.TypeWelcome {
						t.Fatalf("after hello: %+v %v", rep, ce)
					}
				}
			}
			r.wantClose(tt.code, tt.reason)
			emit(1)
		})
	}
	st := closeClient(t, good)
	_, evs := ts.readRun(t, st.Run)
	checkEvents(t, evs, genEvents(2, 0, sent))

	// The run stopped at its limit holds exactly the limit.
	runs, err := ts.listRuns()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ri := range runs {
		if strings.Contains(ri.State, "limit of 20 events") {
			found = true
			if ri.Events != 20 {
				t.Errorf("run stopped at the limit has %d events; want 20", ri.Events)
			}
		}
	}
	if !found {
		t.Errorf("no run listed as stopped at the limit: %+v", runs)
	}
}

// Storage, run count and connection limits close new streams with why.
func TestStreamServerLimits(t *testing.T) {
	t.Run("storage", func(t *testing.T) {
		ts := startServer(t, func(c *config) { c.MaxStorage = 2000 })
		r := dialRaw(t, ts.ws, nil)
		r.hello()
		r.send(stream.AppendEvents(nil, 0, genEvents(1, 0, 100)))
		r.wantClose(stream.CloseLimit, "recordings directory is full")
		// A client told so gives up rather than retrying.
		c := stream.New(ts.ws, testMeta, fast(stream.Options{}))
		for _, e := range genEvents(1, 0, 100) {
			c.Emit(e)
		}
		<-c.Done()
		if st := c.Status(); st.State != stream.Failed || !strings.Contains(st.Err.Error(), "full") {
			t.Errorf("client status %+v; want failed, full", st)
		}
	})
	t.Run("runs", func(t *testing.T) {
		ts := startServer(t, func(c *config) { c.MaxRuns = 2 })
		dialRaw(t, ts.ws, nil).hello()
		dialRaw(t, ts.ws, nil).hello()
		r := dialRaw(t, ts.ws, nil)
		hello, _ := stream.AppendHello(nil, testMeta)
		r.send(hello)
		r.wantClose(stream.CloseLimit, "holds 2 runs, the limit")
	})
	t.Run("connections", func(t *testing.T) {
		ts := startServer(t, func(c *config) { c.MaxConns = 1 })
		dialRaw(t, ts.ws, nil).hello()
		r := dialRaw(t, ts.ws, nil)
		r.wantClose(stream.CloseBusy, "try again later")
	})
}

// A WebSocket from a page of another site is refused; one from this
// host's page is taken.
func TestStreamOrigin(t *testing.T) {
	ts := startServer(t, nil)
	for _, tt := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{ts.url, true},
		{"http://evil.example", false},
		{"http://127.0.0.1:1", false},
		{"null", false},
	} {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, ts.ws, &websocket.DialOptions{HTTPHeader: h})
		cancel()
		if tt.ok {
			if err != nil {
				t.Errorf("Origin %q: %v; want accepted", tt.origin, err)
				continue
			}
			c.CloseNow()
			continue
		}
		if err == nil {
			c.CloseNow()
			t.Errorf("Origin %q accepted; want refused", tt.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: %v, %v; want 403", tt.origin, err, resp)
		}
	}
}
