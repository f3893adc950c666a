package stream

import (
	"context"
	"errors"
	"syscall/js"
	"time"
)

// browserConn is a [transport] over the browser's WebSocket.
//
// The WebSocket's event handlers run on the JavaScript event loop, which
// waits while they do, so they only hand over: open to a buffered
// channel, messages and the end to the inbox, none of which waits. The
// end is the first error or close event ([browserConn.finish]).
type browserConn struct {
	ws       js.Value
	in       *inbox
	opened   chan struct{} // (cap 1) the open event came
	closed   chan struct{} // closed by finish
	handlers []js.Func     // released by finish
}

// closeWait bounds how long Close waits for the server's close.
const closeWait = 5 * time.Second

func dial(ctx context.Context, url string) (transport, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("stream: this JavaScript has no WebSocket")
	}
	var ws js.Value
	if err := catch(func() { ws = ctor.New(url) }); err != nil {
		return nil, err // a URL the browser will not take
	}
	c := &browserConn{ws: ws, in: newInbox(maxReply),
		opened: make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	c.on("open", func(js.Value) {
		select {
		case c.opened <- struct{}{}:
		default:
		}
	})
	c.on("message", func(e js.Value) {
		data := e.Get("data")
		if data.Type() != js.TypeString {
			c.in.end(errors.New("stream: a binary message; the protocol is text"))
			return
		}
		c.in.put(data.String())
	})
	c.on("error", func(js.Value) { c.finish(errLost) })
	c.on("close", func(e js.Value) {
		c.finish(closedWith(e.Get("code").Int(), e.Get("reason").String()))
	})
	// The handlers are all in place before the browser can fire an event:
	// it fires them from its event loop, which waits for Go to yield.
	select {
	case <-c.opened:
		return c, nil
	case <-c.closed:
		return nil, errors.New("stream: the browser could not open the WebSocket")
	case <-ctx.Done():
		c.CloseNow() // its close or error event, when it comes, releases the handlers
		return nil, ctx.Err()
	}
}

// on sets the WebSocket's handler of event to fn.
func (c *browserConn) on(event string, fn func(e js.Value)) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(args[0])
		return nil
	})
	c.handlers = append(c.handlers, f)
	c.ws.Set("on"+event, f)
}

// finish ends the connection, on its first error or close event: the
// inbox learns why, and the handlers go. A browser follows an error
// event with a close event of code 1006 (no close frame came), which
// then finds no handler; Node's WebSocket fires no close event after a
// failed dial at all. Only event handlers call finish, one at a time.
func (c *browserConn) finish(err error) {
	c.in.end(err)
	select {
	case <-c.closed:
		return
	default:
	}
	close(c.closed)
	for _, event := range []string{"open", "message", "error", "close"} {
		c.ws.Set("on"+event, js.Null())
	}
	for _, f := range c.handlers {
		f.Release()
	}
}

func closeStatus(err error) StatusCode { return statusOf(err) }

// Write hands msg to the browser, which sends it in the background:
// it never waits, so ctx only matters if it has already ended.
func (c *browserConn) Write(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.in.ended(); err != nil {
		return err
	}
	return catch(func() { c.ws.Call("send", string(msg)) })
}

func (c *browserConn) Read(ctx context.Context) ([]byte, error) { return c.in.read(ctx) }

// Close asks the browser to close with code and reason; if it refuses
// them (a page may only use 1000 and 3000–4999, and a reason of up to
// 123 bytes) it closes without a code.
func (c *browserConn) Close(code StatusCode, reason string) error {
	if err := catch(func() { c.ws.Call("close", int(code), reason) }); err != nil {
		c.ws.Call("close")
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.closed:
		return nil
	case <-t.C:
		return errors.New("stream: the server did not close the connection")
	}
}

// CloseNow closes with 1000 and does not wait: a browser cannot drop a
// connection without the close handshake, so that happens in the
// background.
func (c *browserConn) CloseNow() error {
	return catch(func() { c.ws.Call("close", int(StatusNormalClosure)) })
}

// catch calls fn, returning a JavaScript exception it throws as an
// error.
func catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jerr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = jerr
		}
	}()
	fn()
	return nil
}
