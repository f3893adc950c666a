package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"fencelab/stream"
	"fencelab/timeline"
)

// run is a run this server has taken in (or is taking in).
type run struct {
	id, token string
	meta      timeline.Meta
	started   time.Time

	mu      sync.Mutex      // held while a message of the run is stored; guards the fields below
	f       *os.File        // the run's file, open while a connection streams it
	gen     int             // the connection streaming it: a resume makes a new one
	conn    *websocket.Conn // that connection, once attached
	live    bool            // a connection streams it
	next    uint64          // events stored
	first   int64           // Time of the first event
	last    int64           // Time of the last event
	size    int64           // bytes stored
	ended   bool            // the client said end
	stopped string          // why the server stopped it, if it did
}

func (r *run) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// stop is a connection's end: its close code and reason.
type stop struct {
	code   stream.StatusCode
	reason string
	lost   bool // the connection is gone: no close handshake
}

func (e *stop) Error() string { return fmt.Sprintf("%d %s", e.code, e.reason) }

func stopf(code stream.StatusCode, format string, a ...any) *stop {
	return &stop{code: code, reason: fmt.Sprintf(format, a...)}
}

// closeWith closes c with st's code and reason, the reason cut to what
// a close frame holds.
func closeWith(c *websocket.Conn, st *stop) {
	if st.lost {
		c.CloseNow()
		return
	}
	reason := st.reason
	if len(reason) > 123 {
		reason = reason[:120]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
		reason += "..."
	}
	c.Close(websocket.StatusCode(st.code), reason)
}

// serveStream takes a run's timeline over a WebSocket (package stream
// has the protocol).
func (s *server) serveStream(w http.ResponseWriter, r *http.Request) {
	// Accept checks that the Origin, if any, is this host: a page of
	// another site cannot stream here.
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.cfg.Logf("stream from %s refused: %v", r.RemoteAddr, err)
		return
	}
	c.SetReadLimit(s.cfg.MaxMessage)
	s.mu.Lock()
	busy := len(s.conns) >= s.cfg.MaxConns
	if !busy {
		s.conns[c] = true
	}
	s.mu.Unlock()
	if busy {
		closeWith(c, stopf(stream.CloseBusy, "the dev server has %d streams already; try again later", s.cfg.MaxConns))
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	st := s.ingest(c)
	if st.code != stream.StatusNormalClosure && st.code != stream.CloseSuperseded {
		s.cfg.Logf("stream from %s closed: %s", r.RemoteAddr, st.reason)
	}
	closeWith(c, st)
}

// ingest runs one connection: handshake, then messages, until it ends;
// it returns how to close the connection.
func (s *server) ingest(c *websocket.Conn) *stop {
	t := time.AfterFunc(s.cfg.Handshake, func() {
		closeWith(c, stopf(stream.CloseTimeout, "no hello or resume within %v", s.cfg.Handshake))
	})
	typ, msg, err := c.Read(s.ctx)
	t.Stop()
	if err != nil {
		return readStop(err)
	}
	if typ != websocket.MessageText {
		return stopf(stream.CloseBadFrame, "binary message; the protocol is text")
	}
	rn, gen, st := s.handshake(msg)
	if st != nil {
		return st
	}
	defer s.detach(rn, gen)
	next, ok := s.attach(rn, gen, c)
	if !ok {
		return stopf(stream.CloseSuperseded, "another connection resumed run %s", rn.id)
	}
	if err := s.write(c, stream.AppendWelcome(nil, rn.id, rn.token, next)); err != nil {
		return readStop(err)
	}
	var in inbox
	for {
		typ, msg, err := c.Read(s.ctx)
		if err != nil {
			return readStop(err)
		}
		if typ != websocket.MessageText {
			return stopf(stream.CloseBadFrame, "binary message; the protocol is text")
		}
		next, ack, st := s.message(rn, gen, msg, &in)
		if ack {
			if err := s.write(c, stream.AppendAck(nil, next)); err != nil {
				return readStop(err)
			}
		}
		if st != nil {
			return st
		}
	}
}

// handshake takes a connection's first message: a hello makes a run, a
// resume finds one. It returns the run and the connection's generation
// on it, or how to close the connection.
func (s *server) handshake(msg []byte) (*run, int, *stop) {
	f, err := stream.DecodeFrame(msg, 0, nil)
	if err != nil {
		return nil, 0, stopf(stream.CloseBadFrame, "%v", err)
	}
	switch f.Type {
	case stream.TypeHello:
		return s.hello(f)
	case stream.TypeResume:
		return s.resume(f)
	}
	return nil, 0, stopf(stream.CloseBadFrame, "%s message before hello or resume", f.Type)
}

// inbox is a connection's buffers, reused from message to message.
type inbox struct {
	evs []timeline.Event
	buf []byte
}

// message takes a message after the handshake. It returns how many
// events the run has stored and whether to say so (ack), and how to
// close the connection if it must be (1000 after an end).
func (s *server) message(rn *run, gen int, msg []byte, in *inbox) (next uint64, ack bool, st *stop) {
	f, err := stream.DecodeFrame(msg, 0, in.evs)
	if err != nil {
		return 0, false, stopf(stream.CloseBadFrame, "%v", err)
	}
	in.evs = f.Events[:0]
	next, done, st := s.store(rn, gen, f, &in.buf)
	switch {
	case st != nil:
		// What was stored before a limit is acknowledged, so the client
		// knows.
		return next, st.code == stream.CloseLimit, st
	case done:
		return next, true, &stop{code: stream.StatusNormalClosure, reason: "run ended"}
	}
	return next, true, nil
}

// write sends a message, giving up on a client that does not read.
func (s *server) write(c *websocket.Conn, msg []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, msg)
}

const writeTimeout = 30 * time.Second

// readStop turns a read or write error into a connection's end.
func readStop(err error) *stop {
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		return stopf(stream.StatusMessageTooBig, "message over the size limit")
	case websocket.CloseStatus(err) != -1:
		return stopf(stream.StatusCode(websocket.CloseStatus(err)), "connection closed: %v", err)
	}
	st := stopf(stream.StatusGoingAway, "connection lost: %v", err)
	st.lost = true
	return st
}

// hello makes a new run.
func (s *server) hello(f stream.Frame) (*run, int, *stop) {
	if f.Protocol != stream.Protocol {
		return nil, 0, stopf(stream.CloseVersion, "protocol %d; this server speaks %d", f.Protocol, stream.Protocol)
	}
	if !s.newRunFile() {
		return nil, 0, stopf(stream.CloseLimit, "the recordings directory holds %d runs, the limit: delete some", s.cfg.MaxRuns)
	}
	hdr, err := timeline.AppendHeader(nil, f.Meta)
	if err != nil {
		return nil, 0, stopf(stream.CloseBadFrame, "%v", err)
	}
	if !s.reserve(int64(len(hdr))) {
		s.forget(0)
		return nil, 0, s.fullStop()
	}
	rn := &run{meta: f.Meta, token: randomHex(16), started: time.Now(), gen: 1, live: true}
	for tries := 0; ; tries++ {
		rn.id = time.Now().UTC().Format("20060102-150405") + "-" + randomHex(3)
		rn.f, err = s.root.OpenFile(rn.id+".jsonl", os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err == nil || !errors.Is(err, os.ErrExist) || tries == 10 {
			break
		}
	}
	if err != nil {
		s.forget(int64(len(hdr)))
		s.cfg.Logf("new run: %v", err)
		return nil, 0, stopf(stream.StatusInternalError, "the server cannot store the run")
	}
	if _, err := rn.f.Write(hdr); err != nil {
		rn.f.Close()
		s.forget(int64(len(hdr)))
		s.cfg.Logf("run %s: %v", rn.id, err)
		return nil, 0, stopf(stream.StatusInternalError, "the server cannot store the run")
	}
	rn.size = int64(len(hdr))
	s.mu.Lock()
	s.runs[rn.id] = rn
	s.mu.Unlock()
	s.cfg.Logf("run %s: %s, seed %d", rn.id, f.Meta.Guest, f.Meta.Seed)
	return rn, rn.gen, nil
}

// forget takes back a new run's accounting when it could not be made.
func (s *server) forget(bytes int64) {
	s.mu.Lock()
	s.files--
	s.used -= bytes
	s.mu.Unlock()
}

// resume finds a run for a connection that lost it; attach then closes
// any connection still attached (the client has given up on it).
func (s *server) resume(f stream.Frame) (*run, int, *stop) {
	if f.Protocol != stream.Protocol {
		return nil, 0, stopf(stream.CloseVersion, "protocol %d; this server speaks %d", f.Protocol, stream.Protocol)
	}
	s.mu.Lock()
	rn := s.runs[f.Run]
	s.mu.Unlock()
	if rn == nil || subtle.ConstantTimeCompare([]byte(rn.token), []byte(f.Token)) != 1 {
		return nil, 0, stopf(stream.CloseUnknownRun, "no run %s open here (the server restarted?); start a new run", f.Run)
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.stopped != "" {
		return nil, 0, stopf(stream.CloseLimit, "%s", rn.stopped)
	}
	rn.gen++
	rn.live = true
	if rn.f == nil && !rn.ended {
		var err error
		rn.f, err = s.root.OpenFile(rn.id+".jsonl", os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			rn.live = false
			s.cfg.Logf("run %s: %v", rn.id, err)
			return nil, 0, stopf(stream.CloseUnknownRun, "the file of run %s is gone; start a new run", rn.id)
		}
	}
	return rn, rn.gen, nil
}

// attach makes c the connection of rn, generation gen, and closes the
// one before it, which the client has given up on. It returns how many
// events rn has, or false if yet another connection resumed rn already.
func (s *server) attach(rn *run, gen int, c *websocket.Conn) (uint64, bool) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.gen != gen {
		return 0, false
	}
	if old := rn.conn; old != nil {
		go closeWith(old, stopf(stream.CloseSuperseded, "another connection resumed run %s", rn.id))
	}
	rn.conn = c
	return rn.next, true
}

// detach ends connection gen's hold on rn.
func (s *server) detach(rn *run, gen int) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.gen == gen {
		rn.live = false
		rn.conn = nil
		rn.closeFile()
	}
}

func (s *server) fullStop() *stop {
	return stopf(stream.CloseLimit, "the recordings directory is full (limit %s): delete old runs", sizeString(s.cfg.MaxStorage))
}

// store stores the events of f that rn does not have yet, or ends rn.
// It returns how many events rn has, whether it ended, and how to close
// the connection if it must be.
func (s *server) store(rn *run, gen int, f stream.Frame, buf *[]byte) (next uint64, done bool, st *stop) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.gen != gen {
		return 0, false, stopf(stream.CloseSuperseded, "another connection resumed run %s", rn.id)
	}
	switch f.Type {
	case stream.TypeEvents:
	case stream.TypeEnd:
		if f.Seq != rn.next {
			return rn.next, false, stopf(stream.CloseBadFrame, "end at %d events, but %d are stored", f.Seq, rn.next)
		}
		if !rn.ended {
			rn.ended = true
			rn.closeFile()
			s.cfg.Logf("run %s: ended, %d events", rn.id, rn.next)
		}
		return rn.next, true, nil
	default:
		return rn.next, false, stopf(stream.CloseBadFrame, "%s message after the handshake", f.Type)
	}
	if rn.ended {
		return rn.next, false, stopf(stream.CloseBadFrame, "events after the end of run %s", rn.id)
	}
	if f.Seq > rn.next {
		return rn.next, false, stopf(stream.CloseBadFrame, "message starts at event %d, but only %d are stored", f.Seq, rn.next)
	}
	evs := f.Events
	skip := rn.next - f.Seq
	if skip >= uint64(len(evs)) {
		return rn.next, false, nil // all sent before
	}
	evs = evs[skip:]
	if room := s.cfg.MaxEvents - rn.next; uint64(len(evs)) > room {
		evs = evs[:room]
		rn.stopped = fmt.Sprintf("run %s reached the limit of %d events per run", rn.id, s.cfg.MaxEvents)
		st = stopf(stream.CloseLimit, "%s", rn.stopped)
	}
	b := (*buf)[:0]
	for _, e := range evs {
		b = timeline.AppendEvent(b, e)
	}
	*buf = b
	if len(b) > 0 {
		if !s.reserve(int64(len(b))) {
			rn.stopped = "the recordings directory is full"
			return rn.next, false, s.fullStop()
		}
		if _, err := rn.f.Write(b); err != nil {
			s.cfg.Logf("run %s: %v", rn.id, err)
			rn.stopped = "the server could not write the run"
			return rn.next, false, stopf(stream.StatusInternalError, "the server could not write the run")
		}
		if rn.next == 0 {
			rn.first = evs[0].Time
		}
		rn.next += uint64(len(evs))
		rn.last = evs[len(evs)-1].Time
		rn.size += int64(len(b))
	}
	return rn.next, false, st
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
