package guest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A guest that never blocks would hold the machine for ever, and in the
// browser there is no second thread to stop it: Go's js/wasm port never
// preempts a goroutine, so neither wazero's context check nor the
// machine's watchdog timer gets to run while the guest spins. So every
// module is rewritten before it is compiled to count its own loop
// iterations: a mutable i64 global, exported as BudgetExport, holds how
// many loop iterations the process may still run before it next blocks,
// and each loop header checks and decrements it:
//
//	global.get $budget
//	i64.eqz
//	if
//	  unreachable
//	end
//	global.get $budget
//	i64.const 1
//	i64.sub
//	global.set $budget
//
// The machine refills the budget whenever the process resumes from a
// block (LoopBudget.Refill); a process that runs it out traps, at the
// same iteration every run, natively and in the browser alike.

// BudgetExport is the name the loop budget's global is exported under.
const BudgetExport = "fencelab.loop_budget"

// Wasm section ids (WebAssembly core 2.0 §5.5).
const (
	secCustom = iota
	secType
	secImport
	secFunction
	secTable
	secMemory
	secGlobal
	secExport
	secStart
	secElement
	secCode
	secData
	secDataCount
	secTag
)

var errTruncated = errors.New("truncated")

// reader decodes the binary format's integers from b.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) skip(n int) {
	if r.err != nil || n < 0 || len(r.b)-r.off < n {
		r.fail(errTruncated)
		return
	}
	r.off += n
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift >= bits || (bits-shift < 7 && c&0x7f>>(bits-shift) != 0) {
			r.fail(errors.New("integer too long"))
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }

// sleb skips a signed LEB128 of at most bits bits (the value is not
// needed, only its length).
func (r *reader) sleb(bits uint) {
	for n := uint(0); ; n += 7 {
		c := r.byte()
		if r.err != nil {
			return
		}
		if n >= bits {
			r.fail(errors.New("integer too long"))
			return
		}
		if c&0x80 == 0 {
			return
		}
	}
}

func (r *reader) name() string {
	n := int(r.u32())
	start := r.off
	r.skip(n)
	if r.err != nil {
		return ""
	}
	return string(r.b[start:r.off])
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// appendSLEB64 appends v as a signed LEB128.
func appendSLEB64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Instrument returns wasm with every loop counting against a loop budget
// of n iterations (see BudgetExport), and whether it has any loop to
// count (if not, wasm comes back as it was). It checks what it reads on
// the way, and that no count in the module claims more than its bytes
// could hold (plausible); the rest is the runtime's to validate, and a
// module whose original is valid stays valid.
func Instrument(wasm []byte, n uint64) ([]byte, bool, error) {
	out, ok, err := instrument(wasm, n)
	if err != nil {
		return nil, false, fmt.Errorf("reading the module: %w", err)
	}
	return out, ok, nil
}

type wasmSection struct {
	id   byte
	body []byte
}

func instrument(wasm []byte, n uint64) ([]byte, bool, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || binary.LittleEndian.Uint32(wasm[4:]) != 1 {
		return nil, false, errors.New("not a WebAssembly 1.0 binary module")
	}
	r := &reader{b: wasm, off: 8}
	var secs []wasmSection
	for r.off < len(wasm) && r.err == nil {
		id := r.byte()
		size := int(r.u32())
		start := r.off
		r.skip(size)
		if r.err != nil {
			return nil, false, fmt.Errorf("section %d: %w", id, r.err)
		}
		body := wasm[start:r.off]
		if err := plausible(id, body, len(wasm)); err != nil {
			return nil, false, err
		}
		secs = append(secs, wasmSection{id, body})
	}
	if r.err != nil {
		return nil, false, r.err
	}

	// The new global's index comes after the imported and defined ones.
	var globals uint64
	for _, s := range secs {
		switch s.id {
		case secImport:
			g, err := importedGlobals(s.body)
			if err != nil {
				return nil, false, fmt.Errorf("import section: %w", err)
			}
			globals += g
		case secGlobal:
			sr := &reader{b: s.body}
			globals += uint64(sr.u32())
			if sr.err != nil {
				return nil, false, fmt.Errorf("global section: %w", sr.err)
			}
		case secExport:
			if err := checkExports(s.body); err != nil {
				return nil, false, fmt.Errorf("export section: %w", err)
			}
		}
	}
	if globals >= 1<<32-1 {
		return nil, false, errors.New("too many globals")
	}
	g := uint32(globals)

	loops := false
	for i, s := range secs {
		if s.id != secCode {
			continue
		}
		body, found, err := instrumentCode(s.body, g)
		if err != nil {
			return nil, false, fmt.Errorf("code section: %w", err)
		}
		secs[i].body, loops = body, loops || found
	}
	if !loops {
		return wasm, false, nil
	}

	// The global: (global (mut i64) (i64.const n)), exported.
	global := []byte{0x7e, 0x01, 0x42}
	global = append(appendSLEB64(global, int64(n)), 0x0b)
	export := appendULEB(nil, uint64(len(BudgetExport)))
	export = append(export, BudgetExport...)
	export = appendULEB(append(export, 0x03), uint64(g))
	secs = addToVec(secs, secGlobal, global)
	secs = addToVec(secs, secExport, export)

	out := append([]byte(nil), wasm[:8]...)
	for _, s := range secs {
		out = append(out, s.id)
		out = appendULEB(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out, true, nil
}

// errImplausible marks a module whose section claims more entries than
// its bytes could hold.
var errImplausible = errors.New("implausible")

// plausible checks that the counts in a section could be true: that
// each vector's entries (a byte each at least) fit in the bytes left,
// and, for the data count, in the module. wazero 1.12 sizes its tables
// from such counts before it reads the entries, so a module of a few
// bytes claiming 2^32 data segments, or a function type 2^32 parameters,
// would have it allocate gigabytes: fencelab refuses such a module before
// the runtime sees it. The function bodies' locals are checked as the
// bodies are rewritten (instrumentBody).
func plausible(id byte, body []byte, size int) error {
	r := &reader{b: body}
	switch id {
	case secCustom:
		if r.name() == "name" && r.err == nil {
			nameSection(r)
		}
		// What else is wrong in a custom section is the runtime's to say.
		if errors.Is(r.err, errImplausible) {
			return fmt.Errorf("name section: %w", r.err)
		}
		return nil
	case secStart:
		return nil
	case secDataCount:
		if n := r.u32(); r.err == nil && uint64(n) > uint64(size) {
			return fmt.Errorf("data count %d in a module of %d bytes: %w", n, size, errImplausible)
		}
	case secType:
		for i, n := uint32(0), vecLen(r); i < n && r.err == nil; i++ {
			if form := r.byte(); form != 0x60 && r.err == nil {
				r.fail(fmt.Errorf("type form %#x", form))
			}
			r.skip(int(vecLen(r))) // parameters
			r.skip(int(vecLen(r))) // results
		}
	case secElement:
		for i, n := uint32(0), vecLen(r); i < n && r.err == nil; i++ {
			flags := r.u32()
			if flags > 7 {
				r.fail(fmt.Errorf("element segment flags %d", flags))
				break
			}
			if flags&0x02 != 0 && flags&0x01 == 0 { // 2, 6: a table index
				r.u32()
			}
			if flags&0x01 == 0 { // 0, 2, 4, 6: an offset
				skipExpr(r)
			}
			if flags != 0 && flags != 4 { // an element kind or a reference type
				r.byte()
			}
			for j, m := uint32(0), vecLen(r); j < m && r.err == nil; j++ {
				if flags&0x04 != 0 {
					skipExpr(r)
				} else {
					r.u32()
				}
			}
		}
	case secData:
		for i, n := uint32(0), vecLen(r); i < n && r.err == nil; i++ {
			switch flags := r.u32(); flags {
			case 0:
				skipExpr(r)
			case 1:
			case 2:
				r.u32()
				skipExpr(r)
			default:
				r.fail(fmt.Errorf("data segment flags %d", flags))
			}
			r.skip(int(vecLen(r)))
		}
	default:
		vecLen(r)
	}
	if r.err != nil {
		return fmt.Errorf("section %d: %w", id, r.err)
	}
	return nil
}

// nameSection reads the name section's subsections far enough to check
// their counts: the module's name, then maps of function and of local
// names (wazero reads this custom section, the others it skips).
func nameSection(r *reader) {
	for r.off < len(r.b) && r.err == nil {
		sub := r.byte()
		size := int(r.u32())
		if r.err != nil || size > len(r.b)-r.off {
			r.fail(errTruncated)
			return
		}
		sr := &reader{b: r.b[r.off : r.off+size]}
		r.off += size
		switch sub {
		case 1: // function names: index, name
			for i, n := uint32(0), vecLen(sr); i < n && sr.err == nil; i++ {
				sr.u32()
				sr.skip(int(vecLen(sr)))
			}
		case 2: // local names: function index, then its map
			for i, n := uint32(0), vecLen(sr); i < n && sr.err == nil; i++ {
				sr.u32()
				for j, m := uint32(0), vecLen(sr); j < m && sr.err == nil; j++ {
					sr.u32()
					sr.skip(int(vecLen(sr)))
				}
			}
		}
		if sr.err != nil {
			r.fail(sr.err)
		}
	}
}

// order is where a non-custom section stands in a module (the binary
// format fixes the order; data count and tag sections sit out of id
// order).
func order(id byte) int {
	switch id {
	case secTag:
		return secMemory*10 + 5
	case secDataCount:
		return secElement*10 + 5
	}
	return int(id) * 10
}

// addToVec appends entry to the vector that section id holds, making
// the section, in its place, if the module has none.
func addToVec(secs []wasmSection, id byte, entry []byte) []wasmSection {
	for i, s := range secs {
		if s.id != id {
			continue
		}
		r := &reader{b: s.body}
		count := r.uleb(32) // read before (instrument's first pass)
		body := appendULEB(nil, count+1)
		body = append(body, s.body[r.off:]...)
		secs[i].body = append(body, entry...)
		return secs
	}
	at := len(secs)
	for i, s := range secs {
		if s.id != secCustom && order(s.id) > order(id) {
			at = i
			break
		}
	}
	body := append(appendULEB(nil, 1), entry...)
	return append(secs[:at], append([]wasmSection{{id, body}}, secs[at:]...)...)
}

// importedGlobals counts the global imports.
func importedGlobals(b []byte) (uint64, error) {
	r := &reader{b: b}
	var globals uint64
	for i, count := uint32(0), r.u32(); i < count && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: a type index
			r.u32()
		case 0x01: // table: a reference type and limits
			r.byte()
			limits(r)
		case 0x02: // memory: limits
			limits(r)
		case 0x03: // global: a value type and mutability
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag (exception handling): an attribute and a type index
			r.byte()
			r.u32()
		default:
			r.fail(fmt.Errorf("import kind %#x", kind))
		}
	}
	return globals, r.err
}

func limits(r *reader) {
	flags := r.byte()
	if flags > 0x07 {
		r.fail(fmt.Errorf("limits flags %#x", flags))
		return
	}
	bits := uint(32)
	if flags&0x04 != 0 { // memory64
		bits = 64
	}
	r.uleb(bits)
	if flags&0x01 != 0 {
		r.uleb(bits)
	}
}

// checkExports refuses a module that already exports BudgetExport.
func checkExports(b []byte) error {
	r := &reader{b: b}
	for i, count := uint32(0), r.u32(); i < count && r.err == nil; i++ {
		if r.name() == BudgetExport {
			return fmt.Errorf("the module exports %q, fencelab's own", BudgetExport)
		}
		r.byte()
		r.u32()
	}
	return r.err
}

// instrumentCode rewrites the code section's function bodies; found
// reports whether any has a loop.
func instrumentCode(b []byte, g uint32) (out []byte, found bool, err error) {
	r := &reader{b: b}
	count := r.u32()
	out = appendULEB(nil, uint64(count))
	check := []byte{0x23}
	check = appendULEB(check, uint64(g))
	check = append(check, 0x50, 0x04, 0x40, 0x00, 0x0b, 0x23)
	check = appendULEB(check, uint64(g))
	check = append(check, 0x42, 0x01, 0x7d, 0x24)
	check = appendULEB(check, uint64(g))
	var body []byte
	for i := uint32(0); i < count && r.err == nil; i++ {
		size := int(r.u32())
		start := r.off
		r.skip(size)
		if r.err != nil {
			break
		}
		var loops bool
		body, loops, err = instrumentBody(body[:0], b[start:r.off], check)
		if err != nil {
			return nil, false, fmt.Errorf("function %d: %w", i, err)
		}
		found = found || loops
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	if r.err == nil && r.off != len(b) {
		r.fail(errors.New("bytes after the last function"))
	}
	return out, found, r.err
}

// maxLocals is the most locals a function may declare, as in browsers'
// engines (V8's limit); wazero would allocate whatever a body claims.
const maxLocals = 50_000

// instrumentBody copies one function body into out with check after
// every loop's block type.
func instrumentBody(out, b, check []byte) ([]byte, bool, error) {
	r := &reader{b: b}
	var locals uint64
	for i, n := uint32(0), r.u32(); i < n && r.err == nil; i++ { // locals: count and type
		locals += uint64(r.u32())
		r.byte()
		if locals > maxLocals {
			r.fail(fmt.Errorf("%d locals or more; at most %d: %w", locals, maxLocals, errImplausible))
		}
	}
	loops := false
	copied := 0
	for r.off < len(b) && r.err == nil {
		op := r.byte()
		if op != 0x03 {
			skipInstr(r, op)
			continue
		}
		blockType(r) // a loop: the check goes at its top
		if r.err == nil {
			out = append(out, b[copied:r.off]...)
			out = append(out, check...)
			copied = r.off
			loops = true
		}
	}
	if r.err != nil {
		return nil, false, r.err
	}
	return append(out, b[copied:]...), loops, nil
}

// skipExpr skips a constant expression, up to its end.
func skipExpr(r *reader) {
	for r.err == nil {
		op := r.byte()
		if op == 0x0b {
			return
		}
		skipInstr(r, op)
	}
}

// vecLen reads a vector's length, which must fit in what is left of r
// (each entry taking at least a byte).
func vecLen(r *reader) uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.off) {
		r.fail(fmt.Errorf("a vector claims %d entries in %d bytes: %w", n, len(r.b)-r.off, errImplausible))
		return 0
	}
	return n
}

// skipInstr skips the immediates of the instruction whose opcode op was
// just read.
func skipInstr(r *reader, op byte) {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		blockType(r)
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 || op == 0xd2 ||
		op >= 0x20 && op <= 0x26 || op == 0x3f || op == 0x40:
		r.u32() // br, br_if, call, return_call, ref.func, locals, globals, tables, memory.size/grow
	case op == 0x0e: // br_table
		for j, k := uint32(0), vecLen(r); j <= k && r.err == nil; j++ {
			r.u32()
		}
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		r.skip(int(vecLen(r)))
	case op >= 0x28 && op <= 0x3e: // loads and stores
		memarg(r)
	case op == 0x41:
		r.sleb(32)
	case op == 0x42:
		r.sleb(64)
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xfc:
		miscOp(r)
	case op == 0xfd:
		simdOp(r)
	case op == 0xfe:
		if r.u32() == 0x03 { // atomic.fence
			r.byte()
		} else {
			memarg(r)
		}
	case op <= 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x1a || op == 0x1b ||
		op >= 0x45 && op <= 0xc4 || op == 0xd1:
		// no immediates
	default:
		r.fail(fmt.Errorf("opcode %#x at byte %d", op, r.off-1))
	}
}

// blockType skips a block type: empty, a value type, or a type index
// (a non-negative s33).
func blockType(r *reader) {
	if r.off < len(r.b) {
		switch r.b[r.off] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.off++
			return
		}
	}
	r.sleb(33)
}

// memarg skips an alignment (whose bit 6 says a memory index follows,
// for multiple memories) and an offset.
func memarg(r *reader) {
	if r.u32()&0x40 != 0 {
		r.u32()
	}
	r.uleb(64)
}

// miscOp skips the 0xFC prefix's operation: saturating truncations, bulk
// memory and tables.
func miscOp(r *reader) {
	switch sub := r.u32(); {
	case sub <= 7:
	case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail(fmt.Errorf("opcode 0xfc %d", sub))
	}
}

// simdOp skips the 0xFD prefix's operation (128-bit SIMD).
func simdOp(r *reader) {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads and stores
		memarg(r)
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.skip(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // lane loads and stores
		memarg(r)
		r.byte()
	case sub <= 0x113:
	default:
		r.fail(fmt.Errorf("opcode 0xfd %d", sub))
	}
}
