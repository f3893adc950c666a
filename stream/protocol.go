package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"fencelab/timeline"
)

// Protocol is the version of the streaming protocol this package speaks.
// It changes when a message gains a field or changes meaning; the
// timeline's own format has its version in the header ([timeline.Version]).
const Protocol = 1

// Message types. Client to server: [TypeHello], [TypeResume],
// [TypeEvents], [TypeEnd]. Server to client: [TypeWelcome], [TypeAck].
const (
	TypeHello   = "hello"
	TypeResume  = "resume"
	TypeEvents  = "events"
	TypeEnd     = "end"
	TypeWelcome = "welcome"
	TypeAck     = "ack"
)

// A StatusCode is a WebSocket close code (RFC 6455 section 7.4): the
// number a connection's end carries, with a reason in words.
type StatusCode int

// WebSocket's own close codes that the protocol's connections end with
// (RFC 6455 section 7.4.1; the names are the RFC's).
const (
	StatusNormalClosure           StatusCode = 1000 // the run ended, or the client is done with the connection
	StatusGoingAway               StatusCode = 1001 // the server shuts down
	StatusUnsupportedData         StatusCode = 1003
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009 // a message over the size limit
	StatusInternalError           StatusCode = 1011 // the server failed, e.g. to store the run
)

// Close codes the server ends a connection with, besides WebSocket's
// own: 1000 after an end, 1001 when the server shuts down, 1009 for a
// message over the size limit. The reason says what was wrong in words.
// A client gives up on codes it cannot fix by retrying ([Fatal]).
const (
	// CloseBadFrame: a malformed message, a message out of order (events
	// before the handshake, a sequence number past what the server has),
	// or a binary message. Fatal.
	CloseBadFrame StatusCode = 4400
	// CloseUnknownRun: a resume names a run the server does not have open
	// (it restarted, or the token is wrong). The client starts a new run.
	CloseUnknownRun StatusCode = 4404
	// CloseSuperseded: another connection resumed this run.
	CloseSuperseded StatusCode = 4409
	// CloseLimit: a limit was reached: events per run, total storage,
	// number of runs. Fatal.
	CloseLimit StatusCode = 4413
	// CloseVersion: the server does not speak the client's protocol
	// version. Fatal.
	CloseVersion StatusCode = 4426
	// CloseBusy: the server has too many connections; retry later.
	CloseBusy StatusCode = 4503
	// CloseTimeout: the handshake did not come in time; retry.
	CloseTimeout StatusCode = 4408
)

// Fatal reports whether a connection closed with code should not be
// retried: the server said the stream itself is wrong or over a limit.
func Fatal(code StatusCode) bool {
	switch code {
	case CloseBadFrame, CloseSuperseded, CloseLimit, CloseVersion,
		StatusMessageTooBig, StatusUnsupportedData,
		StatusInvalidFramePayloadData, StatusPolicyViolation:
		return true
	}
	return false
}

// Limits of the protocol itself; a server may set lower ones.
const (
	// MaxRunID and MaxToken bound the run id and resume token.
	MaxRunID = 64
	MaxToken = 64
	// maxControl bounds a message's first line.
	maxControl = 512
)

// Frame is a decoded client message.
//
// A message is a WebSocket text message of newline-terminated lines. The
// first line is a JSON object, the control line, whose "type" says what
// the message is; what follows depends on the type:
//
//	hello   {"type":"hello","protocol":1}
//	        then the run's timeline header line (timeline.AppendHeader)
//	resume  {"type":"resume","protocol":1,"run":"ID","token":"TOKEN"}
//	events  {"type":"events","seq":S}
//	        then one or more event lines (timeline.AppendEvent): events
//	        S, S+1, … of the run, numbered from 0
//	end     {"type":"end","seq":N}
//	        the run is over and has N events
type Frame struct {
	Type     string
	Protocol int              // hello, resume
	Meta     timeline.Meta    // hello
	Run      string           // resume
	Token    string           // resume
	Seq      uint64           // events, end
	Events   []timeline.Event // events
}

// Reply is a decoded server message, a single control line:
//
//	welcome {"type":"welcome","protocol":1,"run":"ID","token":"TOKEN","next":N}
//	ack     {"type":"ack","next":N}
//
// Next is how many of the run's events the server has stored: a client
// sends (or resends) from event Next on, and may forget those before it.
type Reply struct {
	Type     string
	Protocol int    // welcome
	Run      string // welcome
	Token    string // welcome
	Next     uint64
}

// AppendHello appends a hello message for a new run described by m.
func AppendHello(dst []byte, m timeline.Meta) ([]byte, error) {
	dst = append(dst, `{"type":"hello","protocol":`...)
	dst = strconv.AppendInt(dst, Protocol, 10)
	dst = append(dst, "}\n"...)
	return timeline.AppendHeader(dst, m)
}

// AppendResume appends a resume message for run, proving it with token.
func AppendResume(dst []byte, run, token string) []byte {
	dst = append(dst, `{"type":"resume","protocol":`...)
	dst = strconv.AppendInt(dst, Protocol, 10)
	dst = append(dst, `,"run":`...)
	dst = strconv.AppendQuote(dst, run)
	dst = append(dst, `,"token":`...)
	dst = strconv.AppendQuote(dst, token)
	return append(dst, "}\n"...)
}

// AppendEvents appends an events message holding evs, the first of them
// event seq of the run. Every event's kind must be known
// ([timeline.Kind.Known]).
func AppendEvents(dst []byte, seq uint64, evs []timeline.Event) []byte {
	dst = append(dst, `{"type":"events","seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, "}\n"...)
	for _, e := range evs {
		dst = timeline.AppendEvent(dst, e)
	}
	return dst
}

// AppendEnd appends an end message: the run is over with n events.
func AppendEnd(dst []byte, n uint64) []byte {
	dst = append(dst, `{"type":"end","seq":`...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, "}\n"...)
}

// AppendWelcome appends a welcome message.
func AppendWelcome(dst []byte, run, token string, next uint64) []byte {
	dst = append(dst, `{"type":"welcome","protocol":`...)
	dst = strconv.AppendInt(dst, Protocol, 10)
	dst = append(dst, `,"run":`...)
	dst = strconv.AppendQuote(dst, run)
	dst = append(dst, `,"token":`...)
	dst = strconv.AppendQuote(dst, token)
	dst = append(dst, `,"next":`...)
	dst = strconv.AppendUint(dst, next, 10)
	return append(dst, "}\n"...)
}

// AppendAck appends an ack message.
func AppendAck(dst []byte, next uint64) []byte {
	dst = append(dst, `{"type":"ack","next":`...)
	dst = strconv.AppendUint(dst, next, 10)
	return append(dst, "}\n"...)
}

// control is a decoded control line; pointers tell a missing field from
// a zero one.
type control struct {
	Type     string
	Protocol *int
	Run      *string
	Token    *string
	Seq      *uint64
	Next     *uint64
}

// A FrameError is a message that does not follow the protocol.
type FrameError struct {
	Line int    // the message's line, from 1; 0 when not about one line
	Msg  string // what is wrong
	Err  error  // the timeline format error underneath, if any
}

func (e *FrameError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("stream: line %d: %s", e.Line, e.Msg)
	}
	return "stream: " + e.Msg
}

func (e *FrameError) Unwrap() error { return e.Err }

func frameErr(line int, format string, a ...any) error {
	return &FrameError{Line: line, Msg: fmt.Sprintf(format, a...)}
}

// nextLine splits msg's first newline-terminated line off.
func nextLine(msg []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(msg, '\n')
	if i < 0 {
		return nil, msg, false
	}
	return msg[:i], msg[i+1:], true
}

// parseControl decodes a control line strictly: one flat JSON object
// whose keys are spelt exactly as control's (JSON's decoder would take
// "TYPE" for "type"), none twice, "type" and the ids strings, the
// numbers unsigned integers.
func parseControl(line []byte) (control, error) {
	var c control
	if len(line) > maxControl {
		return c, frameErr(1, "control line of %d bytes; at most %d", len(line), maxControl)
	}
	bad := func(format string, a ...any) (control, error) {
		return control{}, frameErr(1, "control line: "+format, a...)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("want a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		key, _ := t.(string)
		if seen[key] {
			return bad("repeated field %q", key)
		}
		seen[key] = true
		v, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		str, isStr := v.(string)
		num, isNum := v.(json.Number)
		var n uint64
		if isNum {
			n, err = strconv.ParseUint(string(num), 10, 64)
			isNum = err == nil
		}
		switch key {
		case "type", "run", "token":
			if !isStr {
				return bad("%q must be a string", key)
			}
		case "protocol", "seq", "next":
			if !isNum {
				return bad("%q must be an integer from 0 to 2^64-1", key)
			}
		default:
			return bad("unknown field %q", key)
		}
		switch key {
		case "type":
			c.Type = str
		case "run":
			c.Run = &str
		case "token":
			c.Token = &str
		case "protocol":
			if n > 1<<31-1 {
				return bad("protocol %d out of range", n)
			}
			p := int(n)
			c.Protocol = &p
		case "seq":
			c.Seq = &n
		case "next":
			c.Next = &n
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return bad("unterminated object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("data after the object")
	}
	if !seen["type"] {
		return bad(`no "type"`)
	}
	return c, nil
}

// want checks that exactly the fields named are present.
func (c *control) want(line int, protocol, run, token, seq, next bool) error {
	check := func(name string, have, want bool) error {
		switch {
		case have && !want:
			return frameErr(line, "%s message has a %q field", c.Type, name)
		case !have && want:
			return frameErr(line, "%s message has no %q field", c.Type, name)
		}
		return nil
	}
	for _, err := range []error{
		check("protocol", c.Protocol != nil, protocol),
		check("run", c.Run != nil, run),
		check("token", c.Token != nil, token),
		check("seq", c.Seq != nil, seq),
		check("next", c.Next != nil, next),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// ValidID reports whether s can be a run id or a resume token: 1 to 64
// bytes of ASCII letters, digits, '-' and '_'. Such a name never
// contains a path separator or a dot, so it names a file in a directory
// and nothing else.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxRunID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DecodeFrame decodes a client message. Events are appended to
// evs[:0], which the frame keeps; at most maxEvents of them (≤ 0: no
// limit beyond the message's size). It rejects anything the Append
// functions would not write, bar JSON's freedom of whitespace and field
// order: errors are [*FrameError] values.
func DecodeFrame(msg []byte, maxEvents int, evs []timeline.Event) (Frame, error) {
	line, rest, ok := nextLine(msg)
	if !ok {
		return Frame{}, frameErr(1, "no newline-terminated control line")
	}
	c, err := parseControl(line)
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Type: c.Type}
	switch c.Type {
	case TypeHello:
		if err := c.want(1, true, false, false, false, false); err != nil {
			return Frame{}, err
		}
		f.Protocol = *c.Protocol
		hdr, after, ok := nextLine(rest)
		if !ok {
			return Frame{}, frameErr(2, "hello message has no newline-terminated timeline header")
		}
		if len(after) != 0 {
			return Frame{}, frameErr(3, "hello message has more than the timeline header")
		}
		m, err := timeline.ParseHeader(hdr)
		if err != nil {
			return Frame{}, &FrameError{Line: 2, Msg: err.Error(), Err: err}
		}
		f.Meta = m
	case TypeResume:
		if err := c.want(1, true, true, true, false, false); err != nil {
			return Frame{}, err
		}
		f.Protocol, f.Run, f.Token = *c.Protocol, *c.Run, *c.Token
		if !ValidID(f.Run) || !ValidID(f.Token) {
			return Frame{}, frameErr(1, "resume: run and token must be 1 to %d letters, digits, '-' or '_'", MaxRunID)
		}
		if len(rest) != 0 {
			return Frame{}, frameErr(2, "resume message has more than one line")
		}
	case TypeEvents:
		if err := c.want(1, false, false, false, true, false); err != nil {
			return Frame{}, err
		}
		f.Seq = *c.Seq
		evs = evs[:0]
		for n := 2; len(rest) > 0; n++ {
			line, rest, ok = nextLine(rest)
			if !ok {
				return Frame{}, frameErr(n, "event line without a newline")
			}
			if maxEvents > 0 && len(evs) == maxEvents {
				return Frame{}, frameErr(n, "more than %d events in one message", maxEvents)
			}
			e, err := timeline.ParseEvent(line)
			if err != nil {
				return Frame{}, &FrameError{Line: n, Msg: err.Error(), Err: err}
			}
			evs = append(evs, e)
		}
		if len(evs) == 0 {
			return Frame{}, frameErr(2, "events message without events")
		}
		if f.Seq > 1<<63-1-uint64(len(evs)) {
			return Frame{}, frameErr(1, "seq %d out of range", f.Seq)
		}
		f.Events = evs
	case TypeEnd:
		if err := c.want(1, false, false, false, true, false); err != nil {
			return Frame{}, err
		}
		f.Seq = *c.Seq
		if len(rest) != 0 {
			return Frame{}, frameErr(2, "end message has more than one line")
		}
	default:
		return Frame{}, frameErr(1, "unknown message type %q (hello, resume, events, end)", c.Type)
	}
	return f, nil
}

// AppendFrame appends f as the Append function for its type writes it.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	switch f.Type {
	case TypeHello:
		return AppendHello(dst, f.Meta)
	case TypeResume:
		return AppendResume(dst, f.Run, f.Token), nil
	case TypeEvents:
		return AppendEvents(dst, f.Seq, f.Events), nil
	case TypeEnd:
		return AppendEnd(dst, f.Seq), nil
	}
	return dst, fmt.Errorf("stream: unknown message type %q", f.Type)
}

// DecodeReply decodes a server message.
func DecodeReply(msg []byte) (Reply, error) {
	line, rest, ok := nextLine(msg)
	if !ok || len(rest) != 0 {
		return Reply{}, frameErr(0, "a reply is one newline-terminated line")
	}
	c, err := parseControl(line)
	if err != nil {
		return Reply{}, err
	}
	r := Reply{Type: c.Type}
	switch c.Type {
	case TypeWelcome:
		if err := c.want(1, true, true, true, false, true); err != nil {
			return Reply{}, err
		}
		r.Protocol, r.Run, r.Token, r.Next = *c.Protocol, *c.Run, *c.Token, *c.Next
		if !ValidID(r.Run) || !ValidID(r.Token) {
			return Reply{}, frameErr(1, "welcome: bad run id or token")
		}
	case TypeAck:
		if err := c.want(1, false, false, false, false, true); err != nil {
			return Reply{}, err
		}
		r.Next = *c.Next
	default:
		return Reply{}, frameErr(1, "unknown reply type %q (welcome, ack)", c.Type)
	}
	return r, nil
}
