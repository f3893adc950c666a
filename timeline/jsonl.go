package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// The JSON lines format.
//
// The first line is the header, an object:
//
//	{"format":"fencelab-timeline","version":1,"guest":"prodcons","seed":7,
//	 "config":{"threading":"per-ring"},"processes":{"1":"producer"}}
//
// (on one line; guest, seed, config and processes are omitted when empty).
// Every further line is one event, an object whose "t" is the virtual time
// in nanoseconds, "kind" the kind's stable name ([Kind.String]), and then
// exactly the fields that kind uses, as integers:
//
//	{"t":1000000,"kind":"job-start","fence_id":7,"ctx":1,"ring":0,"worker":0}
//
// Field names are the snake_case of the [Event] fields (fence_id, ctx for
// CtxID, ring for RingIdx, rect_x…rect_h, fence_ctx and fence_seqno for
// Fence, src_… for the Src fields). 64-bit values are written exactly; a
// JavaScript reader must parse them as BigInt beyond 2⁵³.
const (
	// Format is the header's "format".
	Format = "fencelab-timeline"
	// Version is the format version this package writes, and the newest it
	// reads. It changes when a kind gains a field or a kind is added.
	Version = 1

	// MaxHeaderLine and MaxEventLine bound the lines a [Reader] accepts,
	// newline included; [Writer] never writes longer ones.
	MaxHeaderLine = 512 << 10
	MaxEventLine  = 4 << 10
)

// NotReplayable is the Meta.Config key a runner sets, with the reason,
// when the run's link alone does not reproduce it (a module of the
// user's own, several guests on the command line).
const NotReplayable = "not-replayable"

// Meta describes a run: what a replay needs to reproduce it, and names for
// the viewer. It is the JSON lines header. Empty maps read back as nil.
type Meta struct {
	Guest     string            // the guest program(s), as the runner names them
	Seed      uint64            // the machine's seed
	Config    map[string]string // the rest of the configuration, as the runner spells it
	Processes map[int32]string  // process names by pid, for the viewer
}

type header struct {
	Format    *string           `json:"format"`
	Version   *int              `json:"version"`
	Guest     string            `json:"guest,omitempty"`
	Seed      uint64            `json:"seed,omitempty"`
	Config    map[string]string `json:"config,omitempty"`
	Processes map[int32]string  `json:"processes,omitempty"`
}

// FormatError is a malformed line of a JSON lines stream.
type FormatError struct {
	Line int    // 1 for the header; 0 when parsing a lone line
	Col  int    // byte column, from 1; 0 when not known
	Msg  string // what is wrong
}

func (e *FormatError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("timeline: line %d, column %d: %s", e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("timeline: line %d: %s", e.Line, e.Msg)
	case e.Col > 0:
		return fmt.Sprintf("timeline: column %d: %s", e.Col, e.Msg)
	}
	return "timeline: " + e.Msg
}

// AppendHeader appends m's header line, newline included. It fails if a
// string in m is not valid UTF-8 (it would not read back the same) or the
// line would exceed [MaxHeaderLine].
func AppendHeader(dst []byte, m Meta) ([]byte, error) {
	check := func(what, s string) error {
		if !utf8.ValidString(s) {
			return fmt.Errorf("timeline: meta %s %q is not valid UTF-8", what, s)
		}
		return nil
	}
	if err := check("guest", m.Guest); err != nil {
		return dst, err
	}
	for k, v := range m.Config {
		if err := check("config key", k); err != nil {
			return dst, err
		}
		if err := check("config value", v); err != nil {
			return dst, err
		}
	}
	for _, v := range m.Processes {
		if err := check("process name", v); err != nil {
			return dst, err
		}
	}
	f, v := Format, Version
	b, err := json.Marshal(header{Format: &f, Version: &v, Guest: m.Guest, Seed: m.Seed,
		Config: m.Config, Processes: m.Processes}) // map keys come out sorted
	if err != nil {
		return dst, fmt.Errorf("timeline: header: %w", err)
	}
	if len(b)+1 > MaxHeaderLine {
		return dst, fmt.Errorf("timeline: header is %d bytes, over the %d limit", len(b)+1, MaxHeaderLine)
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

// ParseHeader parses a header line (with or without its newline). It
// rejects another format, a version newer than [Version], and fields it
// does not know.
func ParseHeader(line []byte) (Meta, error) {
	if len(line) > MaxHeaderLine {
		return Meta{}, &FormatError{Msg: fmt.Sprintf("header is %d bytes, over the %d limit", len(line), MaxHeaderLine)}
	}
	if err := strictKeys(line); err != nil {
		return Meta{}, &FormatError{Msg: "header: " + err.Error()}
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Meta{}, &FormatError{Msg: "header: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Meta{}, &FormatError{Msg: "header: data after the object"}
	}
	switch {
	case h.Format == nil:
		return Meta{}, &FormatError{Msg: "header: no format (not a fencelab timeline?)"}
	case *h.Format != Format:
		return Meta{}, &FormatError{Msg: fmt.Sprintf("header: format %q, want %q", *h.Format, Format)}
	case h.Version == nil:
		return Meta{}, &FormatError{Msg: "header: no version"}
	case *h.Version < 1:
		return Meta{}, &FormatError{Msg: fmt.Sprintf("header: bad version %d", *h.Version)}
	case *h.Version > Version:
		return Meta{}, &FormatError{Msg: fmt.Sprintf("header: version %d is newer than this reader's %d", *h.Version, Version)}
	}
	return Meta{Guest: h.Guest, Seed: h.Seed, Config: h.Config, Processes: h.Processes}, nil
}

// keyPrefix[k] is `,"name":`, written before field k's value.
var keyPrefix = func() (p [numKeys]string) {
	for k, n := range keyNames {
		p[k] = `,"` + n + `":`
	}
	return p
}()

// kindPrefix[k] is `,"kind":"name"`.
var kindPrefix = func() (p [numKinds]string) {
	for k, n := range kindNames {
		p[k] = `,"kind":"` + n + `"`
	}
	return p
}()

// AppendEvent appends e's line, newline included: Time, Kind and the fields
// e's kind uses, nothing else. e.Kind must be known ([Kind.Known]); an
// unknown kind is written as its number, which [ParseEvent] rejects.
func AppendEvent(dst []byte, e Event) []byte {
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, e.Time, 10)
	if !e.Kind.Known() {
		dst = append(dst, `,"kind":`...)
		dst = strconv.AppendUint(dst, uint64(e.Kind), 10)
		return append(dst, "}\n"...)
	}
	dst = append(dst, kindPrefix[e.Kind]...)
	for m := kindKeys[e.Kind]; m != 0; m &= m - 1 {
		k := key(bits.TrailingZeros64(m))
		dst = append(dst, keyPrefix[k]...)
		if keyWidth[k] < 0 {
			dst = strconv.AppendInt(dst, int64(e.get(k)), 10)
		} else {
			dst = strconv.AppendUint(dst, e.get(k), 10)
		}
	}
	return append(dst, "}\n"...)
}

// ParseEvent parses one event line (with or without its newline), as
// [AppendEvent] writes it. It accepts JSON's whitespace and any field order,
// and is otherwise stricter than JSON: values are integers without
// fraction or exponent (the kind: a plain name), every field must belong
// to the kind, none may repeat, and "t" and "kind" are required. Errors are
// [*FormatError] values.
func ParseEvent(line []byte) (Event, error) {
	var e Event
	if len(line) > MaxEventLine {
		return e, &FormatError{Msg: fmt.Sprintf("line is %d bytes, over the %d limit", len(line), MaxEventLine)}
	}
	p := parser{b: line}
	p.ws()
	if !p.eat('{') {
		return e, p.fail("want '{'")
	}
	var seen uint64 // keys seen
	var haveT, haveKind bool
	for n := 0; ; n++ {
		p.ws()
		if p.eat('}') {
			break
		}
		if n > 0 {
			if !p.eat(',') {
				return e, p.fail("want ',' or '}'")
			}
			p.ws()
		}
		name, err := p.name()
		if err != nil {
			return e, err
		}
		p.ws()
		if !p.eat(':') {
			return e, p.fail("want ':'")
		}
		p.ws()
		switch string(name) {
		case "t":
			if haveT {
				return e, p.fail(`repeated field "t"`)
			}
			v, neg, err := p.integer()
			if err != nil {
				return e, err
			}
			t, ok := signed(v, neg, 64)
			if !ok {
				return e, p.fail("t out of range")
			}
			e.Time, haveT = t, true
		case "kind":
			if haveKind {
				return e, p.fail(`repeated field "kind"`)
			}
			s, err := p.str()
			if err != nil {
				return e, err
			}
			k, ok := kindByName[string(s)]
			if !ok {
				return e, p.fail(fmt.Sprintf("unknown kind %q", s))
			}
			e.Kind, haveKind = k, true
		default:
			k, ok := keyByName[string(name)]
			if !ok {
				return e, p.fail(fmt.Sprintf("unknown field %q", name))
			}
			if seen&(1<<k) != 0 {
				return e, p.fail(fmt.Sprintf("repeated field %q", name))
			}
			seen |= 1 << k
			v, neg, err := p.integer()
			if err != nil {
				return e, err
			}
			w := keyWidth[k]
			if w < 0 {
				s, ok := signed(v, neg, int(-w))
				if !ok {
					return e, p.fail(fmt.Sprintf("%s out of range", name))
				}
				v = uint64(s)
			} else if neg && v != 0 || w < 64 && v>>uint(w) != 0 {
				return e, p.fail(fmt.Sprintf("%s out of range", name))
			}
			if haveKind && kindKeys[e.Kind]&(1<<k) == 0 {
				return e, p.fail(fmt.Sprintf("field %q is not used by kind %s", name, e.Kind))
			}
			e.set(k, v)
		}
	}
	p.ws()
	if p.i < len(p.b) {
		return e, p.fail("data after the object")
	}
	switch {
	case !haveKind:
		return Event{}, &FormatError{Msg: `no "kind"`}
	case !haveT:
		return Event{}, &FormatError{Msg: `no "t"`}
	}
	if extra := seen &^ kindKeys[e.Kind]; extra != 0 {
		k := key(bits.TrailingZeros64(extra))
		return Event{}, &FormatError{Msg: fmt.Sprintf("field %q is not used by kind %s", keyNames[k], e.Kind)}
	}
	return e, nil
}

// signed converts a magnitude and sign to an int64 that fits in width bits.
func signed(v uint64, neg bool, width int) (int64, bool) {
	limit := uint64(1) << uint(width-1) // |min|; max is limit-1
	if neg {
		if v > limit {
			return 0, false
		}
		return int64(-v), true // two's complement: -limit comes out right
	}
	if v >= limit {
		return 0, false
	}
	return int64(v), true
}

// parser reads one event line.
type parser struct {
	b []byte
	i int
}

func (p *parser) fail(msg string) error { return &FormatError{Col: p.i + 1, Msg: msg} }

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// name reads a field name: a quoted run of [a-z_], at most 32 bytes.
func (p *parser) name() ([]byte, error) {
	return p.quoted("a field name", "field name", func(c byte) bool { return c >= 'a' && c <= 'z' || c == '_' })
}

// str reads a kind name: a quoted run of [a-z0-9-], at most 32 bytes.
func (p *parser) str() ([]byte, error) {
	return p.quoted("a quoted kind name", "kind name", func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	})
}

// quoted reads a quoted, non-empty run of at most 32 bytes that ok
// accepts (no escapes: the format never writes one); want and what name
// it in errors.
func (p *parser) quoted(want, what string, ok func(c byte) bool) ([]byte, error) {
	if !p.eat('"') {
		return nil, p.fail("want " + want)
	}
	start := p.i
	for p.i < len(p.b) && p.i-start <= 32 {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if p.i-1 == start {
				return nil, p.fail("empty " + what)
			}
			return p.b[start : p.i-1], nil
		case ok(c):
			p.i++
		default:
			return nil, p.fail("bad character in " + what)
		}
	}
	return nil, p.fail("unterminated or overlong " + what)
}

// integer reads a JSON integer as a magnitude and a sign.
func (p *parser) integer() (v uint64, neg bool, err error) {
	neg = p.eat('-')
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c < '0' || c > '9' {
			break
		}
		if p.i > start && p.b[start] == '0' {
			return 0, false, p.fail("leading zero")
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false, p.fail("integer overflows 64 bits")
		}
		v = v*10 + d
		p.i++
	}
	if p.i == start {
		return 0, false, p.fail("want an integer")
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false, p.fail("want an integer, not a fraction or exponent")
		}
	}
	return v, neg, nil
}

// Writer writes a JSON lines timeline: the header, then events, buffered.
// Call [Writer.Flush] at the end. A Writer is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
	err error
}

const writerFlushAt = 32 << 10

// NewWriter returns a Writer on w and buffers m's header. It fails only
// if the header cannot be encoded ([AppendHeader]).
func NewWriter(w io.Writer, m Meta) (*Writer, error) {
	buf, err := AppendHeader(make([]byte, 0, writerFlushAt+MaxEventLine), m)
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, buf: buf}, nil
}

// WriteEvent writes e's line. It fails for an unknown kind, and returns
// the first write error of w from then on.
func (w *Writer) WriteEvent(e Event) error {
	if w.err != nil {
		return w.err
	}
	if !e.Kind.Known() {
		return fmt.Errorf("timeline: cannot write unknown kind %d", uint16(e.Kind))
	}
	w.buf = AppendEvent(w.buf, e)
	if len(w.buf) >= writerFlushAt {
		return w.Flush()
	}
	return nil
}

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) > 0 {
		_, w.err = w.w.Write(w.buf)
		w.buf = w.buf[:0]
	}
	return w.err
}

// Reader reads a JSON lines timeline. Lines longer than [MaxHeaderLine]
// (the header) or [MaxEventLine] (events) are errors; nothing is buffered
// beyond one line. A Reader is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	meta Meta
	line int
	err  error
}

// NewReader reads the header from r and returns a Reader positioned at the
// first event.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, MaxHeaderLine)}
	line, err := rd.readLine(MaxHeaderLine)
	if err == io.EOF {
		return nil, &FormatError{Line: 1, Msg: "empty stream: no header"}
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseHeader(line)
	if err != nil {
		return nil, atLine(err, 1)
	}
	rd.meta = m
	return rd, nil
}

// Meta returns the header's run description.
func (r *Reader) Meta() Meta { return r.meta }

// Line returns the number of the last line read (1: the header).
func (r *Reader) Line() int { return r.line }

// Next returns the next event, or io.EOF after the last. Errors are sticky.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	line, err := r.readLine(MaxEventLine)
	if err != nil {
		r.err = err
		return Event{}, err
	}
	e, err := ParseEvent(line)
	if err != nil {
		r.err = atLine(err, r.line)
		return Event{}, r.err
	}
	return e, nil
}

// WriteAll writes a whole timeline: m's header, then evs.
func WriteAll(w io.Writer, m Meta, evs []Event) error {
	tw, err := NewWriter(w, m)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if err := tw.WriteEvent(e); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// ReadAll reads a whole timeline, failing if it holds more than max events
// (max ≤ 0: no limit).
func ReadAll(r io.Reader, max int) (Meta, []Event, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Meta{}, nil, err
	}
	var evs []Event
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return rd.meta, evs, nil
		}
		if err != nil {
			return rd.meta, evs, err
		}
		if max > 0 && len(evs) == max {
			return rd.meta, evs, &FormatError{Line: rd.line, Msg: fmt.Sprintf("more than %d events", max)}
		}
		evs = append(evs, e)
	}
}

// readLine returns the next line without its newline; io.EOF at a clean
// end. A last line without a newline is accepted.
func (r *Reader) readLine(limit int) ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	r.line++
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || len(line) > limit:
		return nil, &FormatError{Line: r.line, Msg: fmt.Sprintf("line longer than %d bytes", limit)}
	case err == io.EOF && len(line) == 0:
		r.line--
		return nil, io.EOF
	case err != nil && err != io.EOF:
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		return nil, &FormatError{Line: r.line, Msg: "empty line"}
	}
	return line, nil
}

func atLine(err error, line int) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		c := *fe
		c.Line = line
		return &c
	}
	return err
}

// headerKeys are the header's keys, spelled as the format spells them.
var headerKeys = map[string]bool{"format": true, "version": true, "guest": true, "seed": true, "config": true, "processes": true}

// strictKeys holds a header to what ParseEvent holds an event to, where
// encoding/json is lenient: no object may repeat a key (json keeps the
// last), and the top level's keys must be spelled exactly (json takes
// "Guest" for "guest"). Syntax errors are left to the decoder.
func strictKeys(line []byte) error {
	type level struct {
		seen    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*level
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &level{seen: map[string]bool{}, wantKey: true})
				continue
			case '[':
				stack = append(stack, &level{})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].seen != nil && stack[n-1].wantKey {
				top := stack[n-1]
				if top.seen[v] {
					return fmt.Errorf("key %q repeated", v)
				}
				if n == 1 && !headerKeys[v] {
					return fmt.Errorf("unknown field %q", v)
				}
				top.seen[v], top.wantKey = true, false
				continue
			}
		}
		// A value ended: the object around it, if any, wants a key next.
		if n := len(stack); n > 0 && stack[n-1].seen != nil {
			stack[n-1].wantKey = true
		}
	}
}
