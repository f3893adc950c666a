package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// This file is the browser transport's (conn_js.go) bookkeeping, kept
// free of syscall/js so that it builds, and is tested, everywhere.

// An inbox holds what a browser WebSocket has delivered and the client
// has not read yet: messages, in order, then how the connection ended.
// The WebSocket's event handlers, which run on the JavaScript event
// loop, fill it and never wait; [inbox.read] empties it, waiting. Make
// one with [newInbox].
type inbox struct {
	limit  int           // the longest message taken
	signal chan struct{} // (cap 1) a message came
	done   chan struct{} // closed when err is set

	mu   sync.Mutex // guards the fields below; never held while waiting
	msgs []string
	err  error
}

func newInbox(limit int) *inbox {
	return &inbox{limit: limit, signal: make(chan struct{}, 1), done: make(chan struct{})}
}

// put adds a message. One over the limit ends the inbox instead, as
// does anything that comes after the end.
func (b *inbox) put(msg string) {
	if len(msg) > b.limit {
		b.end(fmt.Errorf("stream: a message of %d bytes; at most %d", len(msg), b.limit))
		return
	}
	b.mu.Lock()
	if b.err == nil {
		b.msgs = append(b.msgs, msg)
	}
	b.mu.Unlock()
	b.wake()
}

// end records why the connection ended; reads return it once the
// messages before it are read. Only the first call counts.
func (b *inbox) end(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
		close(b.done)
	}
}

// ended returns why the connection ended, or nil while it is open.
func (b *inbox) ended() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *inbox) wake() {
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// read returns the next message, waiting for one until the inbox ends
// or ctx does.
func (b *inbox) read(ctx context.Context) ([]byte, error) {
	for {
		b.mu.Lock()
		if len(b.msgs) > 0 {
			msg := b.msgs[0]
			b.msgs[0] = ""
			b.msgs = b.msgs[1:]
			more := len(b.msgs) > 0
			b.mu.Unlock()
			if more {
				b.wake() // for another reader
			}
			return []byte(msg), nil
		}
		err := b.err
		b.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-b.signal:
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// A closeError is a connection's end that carried a close code: the
// server's, or the client's own echoed back.
type closeError struct {
	Code   StatusCode
	Reason string
}

func (e *closeError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("stream: connection closed with code %d", e.Code)
	}
	return fmt.Sprintf("stream: connection closed with code %d: %s", e.Code, e.Reason)
}

// errLost is a connection that ended without a close code: the network
// or the server went away.
var errLost = errors.New("stream: connection lost")

// statusAbnormalClosure is the code a browser's CloseEvent has when no
// close frame came (RFC 6455 section 7.1.5): the connection was lost.
const statusAbnormalClosure = 1006

// closedWith returns the error for a CloseEvent's code and reason.
func closedWith(code int, reason string) error {
	if code == statusAbnormalClosure {
		return errLost
	}
	return &closeError{Code: StatusCode(code), Reason: reason}
}

// statusOf returns the close code err carries, or -1.
func statusOf(err error) StatusCode {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
