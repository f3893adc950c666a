package stream

import "context"

// A transport is one WebSocket connection to the dev server, as the
// client uses it: text messages out, messages in, a close. There is one
// implementation per platform, chosen by build tags:
//
//   - conn_other.go: github.com/coder/websocket, for native programs;
//   - conn_js.go: the browser's own WebSocket through syscall/js, which
//     keeps net/http and crypto/tls (a megabyte) out of the page's wasm.
//
// Each also provides
//
//	dial(ctx context.Context, url string) (transport, error)
//
// which connects, giving up when ctx ends, and
//
//	closeStatus(err error) StatusCode
//
// which returns the close code a transport's error carries, or -1 if
// the error is not about a close (the connection was lost, a context
// ended).
//
// Read and Write may be called from different goroutines, and either of
// them with Close or CloseNow.
type transport interface {
	// Write sends msg as one text message. It fails once the connection
	// has closed.
	Write(ctx context.Context, msg []byte) error
	// Read returns the next message, of at most maxReply bytes; a longer
	// one is an error. After the connection has closed it returns an
	// error telling how ([closeStatus]).
	Read(ctx context.Context) ([]byte, error)
	// Close closes the connection with code and reason and waits, a few
	// seconds at most, for the server to close its side.
	Close(code StatusCode, reason string) error
	// CloseNow ends the connection without waiting.
	CloseNow() error
}

// maxReply bounds the messages the client reads: a reply is one
// control line.
const maxReply = 4 << 10
