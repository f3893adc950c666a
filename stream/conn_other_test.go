//go:build !js

package stream

import (
	"errors"
	"fmt"
	"testing"

	"github.com/coder/websocket"
)

// The standard close codes are WebSocket's.
func TestStatusCodes(t *testing.T) {
	for _, tt := range []struct {
		ours   StatusCode
		theirs websocket.StatusCode
	}{
		{StatusNormalClosure, websocket.StatusNormalClosure},
		{StatusGoingAway, websocket.StatusGoingAway},
		{StatusUnsupportedData, websocket.StatusUnsupportedData},
		{StatusInvalidFramePayloadData, websocket.StatusInvalidFramePayloadData},
		{StatusPolicyViolation, websocket.StatusPolicyViolation},
		{StatusMessageTooBig, websocket.StatusMessageTooBig},
		{StatusInternalError, websocket.StatusInternalError},
	} {
		if int(tt.ours) != int(tt.theirs) {
			t.Errorf("%v is %d; want %d", tt.theirs, tt.ours, tt.theirs)
		}
	}
}

// closeStatus finds the close code in coder/websocket's errors.
func TestCloseStatus(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want StatusCode
	}{
		{fmt.Errorf("failed to read: %w", websocket.CloseError{Code: 4400, Reason: "bad"}), CloseBadFrame},
		{websocket.CloseError{Code: websocket.StatusNormalClosure}, StatusNormalClosure},
		{errors.New("EOF"), -1},
		{nil, -1},
	} {
		if got := closeStatus(tt.err); got != tt.want {
			t.Errorf("closeStatus(%v) = %d; want %d", tt.err, got, tt.want)
		}
	}
}
