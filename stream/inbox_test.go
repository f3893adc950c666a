package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
)

// drain reads b until it fails, tracing each read: a message as itself,
// the failure as "error (status N): text". A read that would wait
// fails the synctest bubble as a deadlock.
func drain(b *inbox) string {
	var trace []string
	for {
		msg, err := b.read(context.Background())
		if err != nil {
			trace = append(trace, fmt.Sprintf("error (status %d): %v", statusOf(err), err))
			return strings.Join(trace, "\n")
		}
		trace = append(trace, string(msg))
	}
}

// What the browser delivers reads back in order, then how it ended.
func TestInboxEvents(t *testing.T) {
	for _, tt := range []struct {
		name   string
		events func(b *inbox)
		want   string
	}{
		{"messages then close", func(b *inbox) {
			b.put("a")
			b.put("b")
			b.end(closedWith(4400, "line 2: nonsense"))
		}, "a\nb\nerror (status 4400): stream: connection closed with code 4400: line 2: nonsense"},
		{"close without reason", func(b *inbox) {
			b.end(closedWith(1000, ""))
		}, "error (status 1000): stream: connection closed with code 1000"},
		{"no status", func(b *inbox) {
			b.end(closedWith(1005, ""))
		}, "error (status 1005): stream: connection closed with code 1005"},
		{"lost", func(b *inbox) {
			b.put("a")
			b.end(closedWith(1006, ""))
		}, "a\nerror (status -1): stream: connection lost"},
		{"first end counts", func(b *inbox) {
			b.end(closedWith(int(CloseUnknownRun), "no run"))
			b.end(closedWith(1006, ""))
		}, "error (status 4404): stream: connection closed with code 4404: no run"},
		{"nothing after the end", func(b *inbox) {
			b.end(closedWith(1000, "run ended"))
			b.put("late")
		}, "error (status 1000): stream: connection closed with code 1000: run ended"},
		{"too big", func(b *inbox) {
			b.put("ok")
			b.put("12345")
			b.put("late")
			b.end(closedWith(1000, ""))
		}, "ok\nerror (status -1): stream: a message of 5 bytes; at most 4"},
		{"at the limit", func(b *inbox) {
			b.put("1234")
			b.end(closedWith(1000, ""))
		}, "1234\nerror (status 1000): stream: connection closed with code 1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newInbox(4)
				tt.events(b)
				if got := drain(b); got != tt.want {
					t.Errorf("reads:\n%s\nwant:\n%s", got, tt.want)
				}
				if _, err := b.read(context.Background()); b.ended() == nil || err != b.ended() {
					t.Errorf("read after the end = %v, ended() = %v; want the same error", err, b.ended())
				}
			})
		})
	}
}

// A read waits for a message, and for the end.
func TestInboxReadWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newInbox(maxReply)
		got := make(chan string, 2)
		go func() {
			for {
				msg, err := b.read(context.Background())
				if err != nil {
					got <- err.Error()
					return
				}
				got <- string(msg)
			}
		}()
		synctest.Wait()
		b.put("ack")
		if msg := <-got; msg != "ack" {
			t.Errorf("read = %q; want ack", msg)
		}
		synctest.Wait()
		b.end(errLost)
		if msg := <-got; msg != errLost.Error() {
			t.Errorf("read = %q; want %v", msg, errLost)
		}
	})
}

// Two readers waiting get a message each, though the two came at once.
func TestInboxTwoReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newInbox(maxReply)
		got := make(chan string, 2)
		for range 2 {
			go func() {
				msg, _ := b.read(context.Background())
				got <- string(msg)
			}()
		}
		synctest.Wait()
		b.put("1")
		b.put("2")
		if a, c := <-got, <-got; a+c != "12" && a+c != "21" {
			t.Errorf("reads %q and %q; want 1 and 2", a, c)
		}
	})
}

// Ending the context ends a waiting read, and only the read.
func TestInboxReadContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newInbox(maxReply)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := b.read(ctx)
			errc <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("read = %v; want %v", err, context.Canceled)
		}
		if b.ended() != nil {
			t.Errorf("ended() = %v after a cancelled read; want nil", b.ended())
		}
		b.put("ack")
		if msg, err := b.read(context.Background()); string(msg) != "ack" || err != nil {
			t.Errorf("read = %q, %v; want ack", msg, err)
		}
	})
}
