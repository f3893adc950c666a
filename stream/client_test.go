package stream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"fencelab/timeline"
)

// fakeServer runs handle for each stream connection; n counts them from 1.
func fakeServer(t *testing.T, handle func(n int, c *websocket.Conn)) string {
	t.Helper()
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.SetReadLimit(1 << 20)
		defer c.CloseNow()
		handle(int(n.Add(1)), c)
	}))
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http") + Path
}

// welcome reads the handshake and answers it.
func welcome(t *testing.T, c *websocket.Conn) bool {
	_, msg, err := c.Read(context.Background())
	if err != nil {
		return false
	}
	if _, err := DecodeFrame(msg, 0, nil); err != nil {
		t.Errorf("handshake %q: %v", msg, err)
		return false
	}
	return c.Write(context.Background(), websocket.MessageText, AppendWelcome(nil, "run1", "token1", 0)) == nil
}

func quick(o Options) Options {
	o.MinBackoff, o.MaxBackoff, o.FlushInterval = time.Millisecond, 10*time.Millisecond, time.Millisecond
	return o
}

func ev(i uint64) timeline.Event {
	return timeline.Event{Time: int64(i), Kind: timeline.Vblank, Count: i}
}

// With no server, the client gives up after a few dials, and from then
// on Emit keeps nothing.
func TestClientNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := New("ws://"+addr+Path, meta, quick(Options{FirstDials: 2}))
	c.Emit(ev(0))
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not give up")
	}
	st := c.Status()
	if st.State != Failed || st.Err == nil || !strings.Contains(st.Err.Error(), "no dev server") {
		t.Errorf("status %+v; want failed, no dev server", st)
	}
	for i := range uint64(1000) {
		c.Emit(ev(i))
	}
	if after := c.Status(); after.Emitted != st.Emitted || after.Buffered > 1 {
		t.Errorf("after giving up, Emit still keeps events: %+v", after)
	}
	if err := c.Close(context.Background()); err == nil {
		t.Error("Close after giving up: nil; want why")
	}
}

// A server that takes the connection and then reads nothing never holds
// the machine up: Emit returns at once, and memory stays within the
// bounds while the oldest events are dropped.
func TestClientStalledServer(t *testing.T) {
	release := make(chan struct{})
	u := fakeServer(t, func(n int, c *websocket.Conn) {
		if welcome(t, c) {
			<-release
		}
	})
	defer close(release)
	o := quick(Options{Capacity: 1000, Window: 500, FrameEvents: 100})
	c := New(u, meta, o)
	waitState(t, c, Streaming)
	var worst time.Duration
	for i := range uint64(200_000) {
		start := time.Now()
		c.Emit(ev(i))
		worst = max(worst, time.Since(start))
		if st := c.Status(); i%1000 == 0 && st.Buffered > 2*o.Capacity+o.Window {
			t.Fatalf("%d events held; the bound is %d", st.Buffered, 2*o.Capacity+o.Window)
		}
	}
	st := c.Status()
	if st.Dropped == 0 || st.Buffered > 2*o.Capacity+o.Window || st.Emitted != 200_000 {
		t.Errorf("status %+v; want drops, at most %d held", st, 2*o.Capacity+o.Window)
	}
	if worst > 100*time.Millisecond {
		t.Errorf("an Emit took %v", worst)
	}
	// Close gives up when its context does, and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Close(ctx); err == nil || !errors.Is(err, errAbandoned) {
		t.Errorf("Close on a stalled server: %v; want %v", err, errAbandoned)
	}
}

func waitState(t *testing.T, c *Client, s State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Status().State != s {
		if time.Now().After(deadline) {
			t.Fatalf("state %v; want %v", c.Status().State, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// A busy server is tried again; a server that says the stream is wrong
// is not.
func TestClientCloseCodes(t *testing.T) {
	t.Run("busy", func(t *testing.T) {
		var acks atomic.Int32
		u := fakeServer(t, func(n int, c *websocket.Conn) {
			if n == 1 {
				c.Close(websocket.StatusCode(CloseBusy), "busy")
				return
			}
			if !welcome(t, c) {
				return
			}
			for {
				_, msg, err := c.Read(context.Background())
				if err != nil {
					return
				}
				f, err := DecodeFrame(msg, 0, nil)
				if err != nil {
					t.Error(err)
					return
				}
				next := f.Seq + uint64(len(f.Events))
				c.Write(context.Background(), websocket.MessageText, AppendAck(nil, next))
				acks.Add(1)
				if f.Type == TypeEnd {
					c.Close(websocket.StatusNormalClosure, "run ended")
					return
				}
			}
		})
		c := New(u, meta, quick(Options{}))
		c.Emit(ev(1))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if st := c.Status(); st.State != Ended || st.Connects != 2 || st.Acked != 1 {
			t.Errorf("status %+v; want ended after 2 connections", st)
		}
	})
	t.Run("bad frame", func(t *testing.T) {
		u := fakeServer(t, func(n int, c *websocket.Conn) {
			if welcome(t, c) {
				c.Read(context.Background())
				c.Close(websocket.StatusCode(CloseBadFrame), "line 2: nonsense")
			}
		})
		c := New(u, meta, quick(Options{}))
		c.Emit(ev(1))
		<-c.Done()
		if st := c.Status(); st.State != Failed || st.Connects != 1 || !strings.Contains(st.Err.Error(), "nonsense") {
			t.Errorf("status %+v; want failed after one connection, with the reason", st)
		}
	})
	t.Run("server lies", func(t *testing.T) {
		u := fakeServer(t, func(n int, c *websocket.Conn) {
			if welcome(t, c) {
				c.Write(context.Background(), websocket.MessageText, AppendAck(nil, 1000))
				c.Read(context.Background())
			}
		})
		c := New(u, meta, quick(Options{}))
		c.Emit(ev(1))
		<-c.Done()
		if st := c.Status(); st.State != Failed || !errors.Is(st.Err, errProtocol) {
			t.Errorf("status %+v; want failed, protocol", st)
		}
	})
}

// A header that cannot be encoded fails at once.
func TestClientBadMeta(t *testing.T) {
	c := New("ws://127.0.0.1:1"+Path, timeline.Meta{Guest: "\xff"}, Options{})
	<-c.Done()
	if st := c.Status(); st.State != Failed {
		t.Errorf("status %+v; want failed", st)
	}
}
