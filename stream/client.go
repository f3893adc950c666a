package stream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"fencelab/timeline"
)

// Options tune a [Client]. The zero value of each field means its
// default.
type Options struct {
	// Capacity is how many events may wait to be sent; when a new event
	// finds the buffer full the oldest waiting one is dropped (and the
	// drop recorded, as [timeline.Ring] does). Default 1<<15 (5.5 MiB).
	Capacity int
	// Window is how many events may be sent and not yet acknowledged;
	// the client sends no more until acks come. It keeps them to send
	// again after a reconnection. Default 1<<13. The client holds at
	// most Capacity+Window+Capacity events: the waiting ones, and a
	// window that one batch may overfill by up to Capacity.
	Window int
	// FrameEvents and FrameBytes bound one message: it ends at
	// FrameEvents events or once it passes FrameBytes bytes (an event
	// line is at most timeline.MaxEventLine). Defaults 1024 and 256 KiB.
	FrameEvents int
	FrameBytes  int
	// FlushInterval is the longest an event waits before it is sent when
	// fewer than FrameEvents are waiting. Default 50 ms.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before dialling again;
	// it doubles from the first to the second while dials fail.
	// Defaults 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// FirstDials is how many dials may fail before the client has ever
	// connected, after which it gives up: a page served without a dev
	// server stops trying. Default 3; negative: never give up. Once
	// connected, the client redials for as long as the run lasts.
	FirstDials int
	// Timeout bounds the handshake, and how long sent events may go
	// unacknowledged before the connection is deemed dead. Default 30 s.
	Timeout time.Duration
	// Logf, if set, is told about connections made and lost.
	Logf func(format string, args ...any)
}

func (o *Options) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Capacity, 1<<15)
	def(&o.Window, 1<<13)
	def(&o.FrameEvents, 1024)
	def(&o.FrameBytes, 256<<10)
	defDur(&o.FlushInterval, 50*time.Millisecond)
	defDur(&o.MinBackoff, 250*time.Millisecond)
	defDur(&o.MaxBackoff, 30*time.Second)
	defDur(&o.Timeout, 30*time.Second)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.FirstDials == 0 {
		o.FirstDials = 3
	}
}

// State is where a [Client] is.
type State int

// The states of a client.
const (
	Connecting State = iota // dialling, never connected yet
	Streaming               // connected: events flow
	Retrying                // the connection was lost or refused; dialling again after a wait
	Ended                   // Close finished: the server has every event of the run
	Failed                  // gave up ([Status].Err says why); Emit drops everything
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Streaming:
		return "streaming"
	case Retrying:
		return "retrying"
	case Ended:
		return "ended"
	case Failed:
		return "failed"
	}
	return "state " + strconv.Itoa(int(s))
}

// Status is a snapshot of a [Client], for a page to show.
type Status struct {
	State    State
	Run      string // the run's id on the server; "" until the first welcome
	Err      error  // the last error: why the connection went, or why the client gave up
	Emitted  uint64 // events given to Emit (while the client took them)
	Dropped  uint64 // of those, lost because the buffer was full (recorded in the run as Dropped events)
	Acked    uint64 // events the server has stored, numbered as in the run
	Buffered int    // events held: waiting, and sent but not yet acknowledged
	Connects int    // connections made: 1, plus one per reconnection
}

// Client streams one run's events to a dev server. It is a
// [timeline.Sink]: Emit never blocks and is safe to call from any
// goroutine. Make one with [New]; end it with [Client.Close].
type Client struct {
	url  string
	meta timeline.Meta
	o    Options

	pending *timeline.Ring // emitted, not yet numbered
	hint    atomic.Int64   // emitted since the sender last took from pending
	stopped atomic.Bool    // Emit drops everything: closing, or given up
	wake    chan struct{}  // (cap 1) pokes the sender: events, acks, Flush, Close
	flush   atomic.Bool    // send what waits now
	closing chan struct{}  // closed by Close
	ctx     context.Context
	cancel  context.CancelFunc // abandons the run: Close's deadline passed
	done    chan struct{}      // closed when the sender goroutine has finished
	closeMu sync.Once

	// The sender goroutine's own: the numbered events [base, base+len(buf)-head)
	// are buf[head:]; the server has stored everything below base.
	buf      []timeline.Event
	head     int
	base     uint64
	lastTime int64 // Time of event base-1
	msg      []byte

	mu       sync.Mutex // guards the fields below, for Status
	state    State
	err      error
	run      string
	token    string
	acked    uint64
	held     int
	connects int
}

// New returns a client streaming the run m describes to the WebSocket
// URL u (ws://host/stream, see [URLFromPage]), and starts it dialling.
func New(u string, m timeline.Meta, o Options) *Client {
	o.defaults()
	c := &Client{url: u, meta: m, o: o,
		pending: timeline.NewRing(o.Capacity),
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if _, err := timeline.AppendHeader(nil, m); err != nil {
		c.fail(err)
		close(c.done)
		return c
	}
	go c.loop()
	return c
}

// URLFromPage returns the stream URL of the dev server that served the
// page at href: ws://host/stream for http://host/…, wss:// for https.
func URLFromPage(href string) (string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("stream: page %q is not served over http or https", href)
	}
	if u.Host == "" {
		return "", fmt.Errorf("stream: page %q has no host", href)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: Path}).String(), nil
}

// Path is where the dev server takes streams.
const Path = "/stream"

// Emit implements [timeline.Sink]. It takes a lock for a moment and
// never waits for the network. Events of an unknown kind are ignored.
func (c *Client) Emit(e timeline.Event) {
	if c.stopped.Load() || !e.Kind.Known() {
		return
	}
	c.pending.Emit(e)
	if c.hint.Add(1) == int64(c.o.FrameEvents) {
		c.poke()
	}
}

// Flush asks for what waits to be sent now rather than at the next
// FlushInterval. It does not wait.
func (c *Client) Flush() {
	c.flush.Store(true)
	c.poke()
}

func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close ends the run: it stops taking events, sends what it holds, says
// end, and waits for the server to have stored everything. If ctx ends
// first it abandons what is left. It returns nil when the server has the
// whole run, else why not. Close may be called more than once.
func (c *Client) Close(ctx context.Context) error {
	c.stopped.Store(true)
	c.closeMu.Do(func() { close(c.closing) })
	c.poke()
	select {
	case <-c.done:
	case <-ctx.Done():
		c.cancel()
		<-c.done
	}
	st := c.Status()
	if st.State == Ended {
		return nil
	}
	if st.Err == nil {
		return errors.New("stream: run abandoned")
	}
	return st.Err
}

// Done is closed when the client has finished: ended, or given up.
func (c *Client) Done() <-chan struct{} { return c.done }

// Status returns where the client is.
func (c *Client) Status() Status {
	emitted, dropped := c.pending.Stats()
	waiting := c.pending.Len()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{State: c.state, Run: c.run, Err: c.err, Emitted: emitted, Dropped: dropped,
		Acked: c.acked, Buffered: waiting + c.held, Connects: c.connects}
}

func (c *Client) logf(format string, args ...any) {
	if c.o.Logf != nil {
		c.o.Logf(format, args...)
	}
}

func (c *Client) setState(s State, err error) {
	c.mu.Lock()
	c.state = s
	if err != nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *Client) fail(err error) {
	c.stopped.Store(true)
	c.setState(Failed, err)
	c.logf("stream: giving up: %v", err)
}

// errProtocol marks a server that broke the protocol: not retried.
var errProtocol = errors.New("stream: the server broke the protocol")

// errAbandoned is why a run ended before its events were all stored.
var errAbandoned = errors.New("stream: run abandoned before the server had every event")

// loop is the sender goroutine: dial, serve the connection, and again.
func (c *Client) loop() {
	defer close(c.done)
	backoff, failures := c.o.MinBackoff, 0
	for {
		if c.ctx.Err() != nil {
			c.fail(errAbandoned)
			return
		}
		dctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
		conn, err := dial(dctx, c.url)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.connects++
			c.mu.Unlock()
			var progress bool
			progress, err = c.serve(conn)
			if err == nil {
				c.setState(Ended, nil)
				c.logf("stream: run %s ended with %d events", c.run, c.base)
				return
			}
			code := closeStatus(err)
			switch {
			case code == CloseUnknownRun:
				c.logf("stream: the server does not know run %s any more; starting a new run", c.run)
				c.newRun()
				backoff = c.o.MinBackoff
				continue
			case Fatal(code) || errors.Is(err, errProtocol):
				c.fail(err)
				return
			}
			if progress {
				backoff = c.o.MinBackoff
			}
		} else {
			failures++
			c.mu.Lock()
			never := c.connects == 0
			c.mu.Unlock()
			if never && c.o.FirstDials > 0 && failures >= c.o.FirstDials {
				c.fail(fmt.Errorf("stream: no dev server at %s: %w", c.url, err))
				return
			}
		}
		if c.ctx.Err() != nil {
			c.fail(errAbandoned)
			return
		}
		c.setState(Retrying, err)
		c.logf("stream: %v; dialling again in %v", err, backoff)
		// Closing: the next dial is the last chance, so it comes soon.
		wait, closing := backoff, c.closing
		select {
		case <-closing:
			wait, closing = min(wait, c.o.MinBackoff), nil
		default:
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
		case <-closing:
		}
		t.Stop()
		backoff = min(2*backoff, c.o.MaxBackoff)
	}
}

// newRun starts the stream over as a new run, after the server forgot
// the old one: what it holds goes again, after a Dropped event standing
// for the events stored under the old run.
func (c *Client) newRun() {
	if c.base > 0 {
		d := timeline.Event{Time: c.lastTime, Kind: timeline.Dropped, Count: c.base}
		if c.head > 0 {
			c.head--
			c.buf[c.head] = d
		} else {
			c.buf = append([]timeline.Event{d}, c.buf...)
		}
	}
	c.base = 0
	c.mu.Lock()
	c.run, c.token, c.acked = "", "", 0
	c.mu.Unlock()
}

// inflight returns the numbered events not yet acknowledged.
func (c *Client) inflight() []timeline.Event { return c.buf[c.head:] }

// trim forgets the events below next, which the server has stored.
func (c *Client) trim(next uint64) error {
	end := c.base + uint64(len(c.inflight()))
	if next < c.base || next > end {
		return fmt.Errorf("%w: it has %d events stored, but this client has sent %d of which %d were stored before", errProtocol, next, end, c.base)
	}
	k := int(next - c.base)
	if k > 0 {
		c.lastTime = c.buf[c.head+k-1].Time
		c.head += k
		c.base = next
		switch {
		case c.head == len(c.buf):
			c.buf, c.head = c.buf[:0], 0
		case c.head >= 1024 && c.head > len(c.buf)/2:
			n := copy(c.buf, c.buf[c.head:])
			c.buf, c.head = c.buf[:n], 0
		}
	}
	c.mu.Lock()
	c.acked, c.held = next, len(c.inflight())
	c.mu.Unlock()
	return nil
}

// serve runs one connection: the handshake, then events out and acks in,
// until the run ends (nil) or the connection fails. progress says
// whether the server stored anything new on it.
func (c *Client) serve(conn transport) (progress bool, err error) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	defer func() {
		if err != nil {
			conn.CloseNow()
		}
	}()

	// The handshake.
	c.mu.Lock()
	run, token := c.run, c.token
	c.mu.Unlock()
	if run == "" {
		c.msg, err = AppendHello(c.msg[:0], c.meta)
	} else {
		c.msg = AppendResume(c.msg[:0], run, token)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %v", errProtocol, err)
	}
	hctx, hcancel := context.WithTimeout(ctx, c.o.Timeout)
	defer hcancel()
	if err := conn.Write(hctx, c.msg); err != nil {
		return false, err
	}
	msg, err := conn.Read(hctx)
	if err != nil {
		return false, err
	}
	hcancel()
	w, err := DecodeReply(msg)
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: %v", errProtocol, err)
	case w.Type != TypeWelcome:
		return false, fmt.Errorf("%w: a %s reply before the welcome", errProtocol, w.Type)
	case w.Protocol != Protocol:
		return false, fmt.Errorf("%w: it speaks protocol %d, this client %d", errProtocol, w.Protocol, Protocol)
	case run != "" && w.Run != run:
		return false, fmt.Errorf("%w: resumed run %s as %s", errProtocol, run, w.Run)
	}
	if run == "" {
		c.mu.Lock()
		c.run, c.token = w.Run, w.Token
		c.mu.Unlock()
		c.logf("stream: streaming run %s to %s", w.Run, c.url)
	} else {
		c.logf("stream: resumed run %s at event %d", w.Run, w.Next)
	}
	if err := c.trim(w.Next); err != nil {
		return false, err
	}
	c.setState(Streaming, nil)

	// Acks come in on a goroutine of their own, which keeps the newest
	// in ackNext.
	var ackNext atomic.Uint64
	ackNext.Store(w.Next)
	readErr := make(chan error, 1)
	go func() {
		for {
			msg, err := conn.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			r, err := DecodeReply(msg)
			if err == nil && r.Type != TypeAck {
				err = fmt.Errorf("a %s reply in the stream", r.Type)
			}
			if err != nil {
				readErr <- fmt.Errorf("%w: %v", errProtocol, err)
				return
			}
			for {
				old := ackNext.Load()
				if r.Next <= old || ackNext.CompareAndSwap(old, r.Next) {
					break
				}
			}
			c.poke()
		}
	}()

	tick := time.NewTicker(c.o.FlushInterval)
	defer tick.Stop()
	sent := c.base      // the next event to send
	since := time.Now() // when the oldest unacknowledged message went, or the last ack came
	closing := c.closing
	ended, endSent, tickDue := false, false, false
	for {
		if a := ackNext.Load(); a > c.base {
			if a > sent {
				return progress, fmt.Errorf("%w: it acknowledged %d events, %d were sent", errProtocol, a, sent)
			}
			if err := c.trim(a); err != nil {
				return progress, err
			}
			progress, since = true, time.Now()
		}
		if endSent && c.base == sent {
			// The server has the whole run, and closes the connection.
			conn.Close(StatusNormalClosure, "run ended")
			return progress, nil
		}
		if !ended {
			select {
			case <-closing:
				ended, closing = true, nil
			default:
			}
		}

		// Number what waits, if it is time and the window has room, and
		// send what is not sent.
		due := ended || tickDue || c.flush.Swap(false) || c.pending.Len() >= c.o.FrameEvents
		tickDue = false
		if due && len(c.inflight()) < c.o.Window {
			c.hint.Store(0)
			c.buf = c.pending.Drain(c.buf)
			c.mu.Lock()
			c.held = len(c.inflight())
			c.mu.Unlock()
		}
		end := c.base + uint64(len(c.inflight()))
		if sent == c.base && sent < end {
			since = time.Now()
		}
		for sent < end {
			n := c.frame(sent)
			if err := conn.Write(ctx, c.msg); err != nil {
				return progress, err
			}
			sent += uint64(n)
		}
		if ended && !endSent && c.pending.Len() == 0 {
			c.msg = AppendEnd(c.msg[:0], sent)
			if err := conn.Write(ctx, c.msg); err != nil {
				return progress, err
			}
			endSent = true
		}

		select {
		case <-c.wake:
		case <-tick.C:
			tickDue = true
			if sent > c.base && time.Since(since) > c.o.Timeout {
				return progress, fmt.Errorf("stream: no ack for %v", c.o.Timeout)
			}
		case <-closing:
			ended, closing = true, nil
		case err := <-readErr:
			if a := ackNext.Load(); a > c.base && a <= sent && c.trim(a) == nil {
				progress = true
			}
			if endSent && c.base == sent {
				return progress, nil // the end's ack came, then the server's close
			}
			return progress, err
		case <-ctx.Done():
			return progress, errAbandoned
		}
	}
}

// frame encodes a message of events from seq on into c.msg and returns
// how many it holds.
func (c *Client) frame(seq uint64) int {
	evs := c.inflight()[seq-c.base:]
	c.msg = AppendEvents(c.msg[:0], seq, nil)
	n := 0
	for _, e := range evs {
		if n == c.o.FrameEvents || len(c.msg) >= c.o.FrameBytes {
			break
		}
		c.msg = timeline.AppendEvent(c.msg, e)
		n++
	}
	return n
}
