package stream

import "github.com/coder/websocket"

// abort ends a connection without waiting. A browser's WebSocket only
// lets a page close with 1000 or 3000–4999, so 1000 it is; the close
// completes in the background.
func abort(c *websocket.Conn) { go c.Close(websocket.StatusNormalClosure, "") }
