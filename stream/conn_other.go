//go:build !js

package stream

import (
	"context"

	"github.com/coder/websocket"
)

// nativeConn is a [transport] over github.com/coder/websocket.
type nativeConn struct{ c *websocket.Conn }

func dial(ctx context.Context, url string) (transport, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(maxReply)
	return nativeConn{c}, nil
}

func closeStatus(err error) StatusCode { return StatusCode(websocket.CloseStatus(err)) }

func (n nativeConn) Write(ctx context.Context, msg []byte) error {
	return n.c.Write(ctx, websocket.MessageText, msg)
}

func (n nativeConn) Read(ctx context.Context) ([]byte, error) {
	_, msg, err := n.c.Read(ctx)
	return msg, err
}

func (n nativeConn) Close(code StatusCode, reason string) error {
	return n.c.Close(websocket.StatusCode(code), reason)
}

// CloseNow ends the connection at once, without a close handshake.
func (n nativeConn) CloseNow() error { return n.c.CloseNow() }
