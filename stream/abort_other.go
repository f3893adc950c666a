//go:build !js

package stream

import "github.com/coder/websocket"

// abort ends a connection at once, without a close handshake.
func abort(c *websocket.Conn) { c.CloseNow() }
