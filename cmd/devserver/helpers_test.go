package main

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fencelab/stream"
	"fencelab/timeline"
)

// testLog is a Logf that goes to the test's log until the test ends
// (a server's goroutines may outlive it by a moment).
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *testLog) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done && testing.Verbose() {
		l.t.Logf(format, args...)
	}
}

// testServer is a dev server on a loopback port.
type testServer struct {
	*server
	http *httptest.Server
	url  string // http://127.0.0.1:PORT
	ws   string // ws://127.0.0.1:PORT/stream
}

// startServer starts a dev server with temporary directories and the
// defaults, changed by mod.
func startServer(t testing.TB, mod func(*config)) *testServer {
	t.Helper()
	cfg := defaultConfig()
	cfg.Addr = ""
	cfg.Web = t.TempDir()
	cfg.Recordings = filepath.Join(t.TempDir(), "recordings")
	cfg.Src = ""
	cfg.Logf = newTestLog(t).Logf
	if mod != nil {
		mod(&cfg)
	}
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &testServer{server: s, http: ts, url: ts.URL, ws: "ws" + strings.TrimPrefix(ts.URL, "http") + stream.Path}
}

// readRun reads a stored run.
func (ts *testServer) readRun(t testing.TB, id string) (timeline.Meta, []timeline.Event) {
	t.Helper()
	f, err := os.Open(filepath.Join(ts.cfg.Recordings, id+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, evs, err := timeline.ReadAll(f, 0)
	if err != nil {
		t.Fatalf("run %s: %v", id, err)
	}
	return m, evs
}

// genEvent is event i of a test stream tagged tag: several kinds, the
// number i in a field of each, so a stream's events are all different.
func genEvent(tag int32, i uint64) timeline.Event {
	t := int64(1_000_000_000 + i*1000)
	switch i % 5 {
	case 0:
		return timeline.Event{Time: t, Kind: timeline.JobStart, Worker: tag, CtxID: 1, RingIdx: 2, FenceID: i}
	case 1:
		return timeline.Event{Time: t, Kind: timeline.JobEnd, Worker: tag, CtxID: 1, RingIdx: 2, FenceID: i}
	case 2:
		return timeline.Event{Time: t, Kind: timeline.FenceSignalled, Fence: timeline.Fence{Context: uint64(tag), Seqno: i}}
	case 3:
		return timeline.Event{Time: t, Kind: timeline.IoctlExit, Pid: tag, FD: -1, Ioctl: 0xc0186444, Errno: 62}
	}
	return timeline.Event{Time: t, Kind: timeline.Vblank, Scanout: uint32(tag), Count: i}
}

func genEvents(tag int32, from, to uint64) []timeline.Event {
	evs := make([]timeline.Event, 0, to-from)
	for i := from; i < to; i++ {
		evs = append(evs, genEvent(tag, i))
	}
	return evs
}

// checkEvents compares a stored stream with what was sent.
func checkEvents(t testing.TB, got, want []timeline.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("stored %d events; want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("event %d is %+v; want %+v", i, got[i], want[i])
			return
		}
	}
}

// closeClient ends a client's run and fails the test if the server does
// not have it all.
func closeClient(t testing.TB, c *stream.Client) stream.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v (status %+v)", err, c.Status())
	}
	return c.Status()
}

// proxy is a TCP relay on loopback between clients and a server, which
// a test can cut (every connection through it drops, with whatever was
// in flight) or hold down (connections are refused).
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
	cuts  int
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

// url is the proxy's stream URL.
func (p *proxy) url() string { return "ws://" + p.ln.Addr().String() + stream.Path }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut drops every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.cuts += len(p.conns) / 2
	clear(p.conns)
}

// setDown makes the proxy refuse connections (and cuts the current ones),
// or take them again.
func (p *proxy) setDown(down bool) {
	if down {
		p.cut()
	}
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// setTarget sends new connections to another server, as if it had
// restarted there.
func (p *proxy) setTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
	p.cut()
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func hostOf(u string) string {
	return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "ws://")
}
