package operator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weirproject/weir/cabi"
)

// ExprError is a syntax or meaning error in a predicate expression. Field
// names the config field that held the expression (such as "expr" or
// "outputs[1].when") and Offset is the byte offset of the problem in it, so
// the config loader can point at the exact column.
type ExprError struct {
	Field  string
	Offset int
	Msg    string
}

// Error formats e as "field FIELD, offset N: message".
func (e *ExprError) Error() string {
	return fmt.Sprintf("field %s, offset %d: %s", e.Field, e.Offset, e.Msg)
}

// FieldError is a problem with the value of one config field that the spec
// alone cannot catch, such as two route outputs with the same name. Field
// is the path of the field, as in "outputs[0].name".
type FieldError struct {
	Field string
	Msg   string
}

// Error formats e as "field FIELD: message".
func (e *FieldError) Error() string { return "field " + e.Field + ": " + e.Msg }

// Event fields a predicate can test.
const (
	fieldKind = iota
	fieldStream
	fieldLen
	fieldFlags
	fieldTs
)

var fieldNames = [...]string{fieldKind: "kind", fieldStream: "stream_id", fieldLen: "len", fieldFlags: "flags", fieldTs: "ts"}

// Predicate node operations.
const (
	opTrue = iota
	opFalse
	opOr
	opAnd
	opNot
	opCmp
	opIn
	opHas
)

// Comparison operators.
const (
	cmpEq = iota
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

var cmpNames = [...]string{cmpEq: "==", cmpNe: "!=", cmpLt: "<", cmpLe: "<=", cmpGt: ">", cmpGe: ">="}

// kindValues and flagValues name the constants a predicate may use for
// kind and flags.
var kindValues = map[string]uint64{
	"raw": uint64(cabi.KindRaw), "packet": uint64(cabi.KindPacket), "syscall": uint64(cabi.KindSyscall),
	"json": uint64(cabi.KindJSON), "text": uint64(cabi.KindText), "tick": uint64(cabi.KindTick),
}

var flagValues = map[string]uint64{"drop": uint64(cabi.FlagDrop), "truncated": uint64(cabi.FlagTruncated)}

// pred is a compiled predicate: a tree evaluated per event without
// allocating.
type pred struct {
	op    uint8
	field uint8
	cmp   uint8
	neg   bool // opCmp: the test is "outside [lo, lo+span]"
	val   uint64
	lo    uint64 // opCmp: the test is v-lo <= span (unsigned), see setRange
	span  uint64
	set   []uint64
	l, r  *pred
}

// setRange turns p's comparison into an unsigned range test, which is one
// subtraction and one compare per event whatever the operator: v is
// inside [lo, lo+span] exactly when v-lo <= span, with wrap-around.
func (p *pred) setRange() {
	const max = ^uint64(0)
	v := p.val
	switch p.cmp {
	case cmpEq:
		p.lo, p.span, p.neg = v, 0, false
	case cmpNe:
		p.lo, p.span, p.neg = v, 0, true
	case cmpLt: // v < val: outside [val, max]
		p.lo, p.span, p.neg = v, max-v, true
	case cmpLe: // outside [val+1, max]; val == max matches all
		if v == max {
			p.lo, p.span, p.neg = 0, max, false
		} else {
			p.lo, p.span, p.neg = v+1, max-v-1, true
		}
	case cmpGt: // inside [val+1, max]; val == max matches none
		if v == max {
			p.lo, p.span, p.neg = 0, max, true
		} else {
			p.lo, p.span, p.neg = v+1, max-v-1, false
		}
	case cmpGe:
		p.lo, p.span, p.neg = v, max-v, false
	}
}

func (p *pred) eval(e *cabi.Event) bool {
	switch p.op {
	case opTrue:
		return true
	case opFalse:
		return false
	case opOr:
		return p.l.eval(e) || p.r.eval(e)
	case opAnd:
		return p.l.eval(e) && p.r.eval(e)
	case opNot:
		return !p.l.eval(e)
	}
	v := fieldValue(e, p.field)
	switch p.op {
	case opHas:
		return v&p.val == p.val
	case opIn:
		for _, x := range p.set {
			if v == x {
				return true
			}
		}
		return false
	}
	return (v-p.lo <= p.span) != p.neg
}

func fieldValue(e *cabi.Event, f uint8) uint64 {
	switch f {
	case fieldKind:
		return uint64(e.Kind)
	case fieldStream:
		return e.StreamID
	case fieldLen:
		return uint64(e.Len)
	case fieldFlags:
		return uint64(e.Flags)
	}
	return e.TsNs
}

// String prints p in the expression syntax, fully parenthesised, with
// numbers in decimal; parsing the result yields the same tree.
func (p *pred) String() string {
	var b strings.Builder
	p.format(&b)
	return b.String()
}

func (p *pred) format(b *strings.Builder) {
	switch p.op {
	case opTrue:
		b.WriteString("true")
	case opFalse:
		b.WriteString("false")
	case opOr, opAnd:
		word := " or "
		if p.op == opAnd {
			word = " and "
		}
		b.WriteByte('(')
		p.l.format(b)
		b.WriteString(word)
		p.r.format(b)
		b.WriteByte(')')
	case opNot:
		b.WriteString("not ")
		p.l.format(b)
	case opCmp:
		fmt.Fprintf(b, "%s %s %d", fieldNames[p.field], cmpNames[p.cmp], p.val)
	case opHas:
		fmt.Fprintf(b, "%s has %d", fieldNames[p.field], p.val)
	case opIn:
		fmt.Fprintf(b, "%s in [", fieldNames[p.field])
		for i, v := range p.set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatUint(v, 10))
		}
		b.WriteByte(']')
	}
}

// token kinds of the expression lexer.
const (
	tokEOF = iota
	tokIdent
	tokNum
	tokOp // == != < <= > >= && || !
	tokPunct
)

type token struct {
	kind int
	text string
	off  int
}

type parser struct {
	field string
	src   string
	pos   int
	tok   token
	depth int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 100

// parsePred compiles an expression. The grammar:
//
//	expr    = and { ("or" | "||") and }
//	and     = unary { ("and" | "&&") unary }
//	unary   = ("not" | "!") unary | "(" expr ")" | "true" | "false" | test
//	test    = field cmp value
//	        | field ["not"] "in" "[" value { "," value } "]"
//	        | field "has" value
//	field   = "kind" | "stream_id" | "len" | "flags" | "ts"
//	cmp     = "==" | "!=" | "<" | "<=" | ">" | ">="
//	value   = integer (decimal, 0x hex, 0o octal or 0b binary)
//	        | kind name (raw packet syscall json text tick), for kind
//	        | flag name (drop truncated), for flags
func parsePred(field, src string) (*pred, error) {
	p := &parser{field: field, src: src}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errAt(0, "empty expression; want a test such as len > 64")
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errAt(p.tok.off, "unexpected %q after a complete expression; join tests with and/or", p.tok.text)
	}
	return e, nil
}

func (p *parser) errAt(off int, format string, args ...any) error {
	return &ExprError{Field: p.field, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// next reads the next token into p.tok.
func (p *parser) next() error {
	s := p.src
	for p.pos < len(s) && (s[p.pos] == ' ' || s[p.pos] == '\t' || s[p.pos] == '\n' || s[p.pos] == '\r') {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(s) {
		p.tok = token{kind: tokEOF, off: start}
		return nil
	}
	c := s[p.pos]
	switch {
	case isIdentByte(c, true):
		for p.pos < len(s) && isIdentByte(s[p.pos], false) {
			p.pos++
		}
		p.tok = token{kind: tokIdent, text: s[start:p.pos], off: start}
	case c >= '0' && c <= '9':
		for p.pos < len(s) && (isIdentByte(s[p.pos], false) || s[p.pos] == '.') {
			p.pos++
		}
		p.tok = token{kind: tokNum, text: s[start:p.pos], off: start}
	case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
		p.pos++
		p.tok = token{kind: tokPunct, text: s[start:p.pos], off: start}
	default:
		two := ""
		if p.pos+1 < len(s) {
			two = s[p.pos : p.pos+2]
		}
		switch two {
		case "==", "!=", "<=", ">=", "&&", "||":
			p.pos += 2
			p.tok = token{kind: tokOp, text: two, off: start}
			return nil
		}
		switch c {
		case '<', '>', '!':
			p.pos++
			p.tok = token{kind: tokOp, text: s[start:p.pos], off: start}
			return nil
		case '=':
			return p.errAt(start, "unexpected \"=\"; use == to compare")
		case '&', '|':
			return p.errAt(start, "unexpected %q; use && or || (or the words and, or)", string(c))
		}
		return p.errAt(start, "unexpected character %q", string(rune(c)))
	}
	return nil
}

func (p *parser) isWord(w string) bool { return p.tok.kind == tokIdent && p.tok.text == w }

func (p *parser) isSym(kind int, s string) bool { return p.tok.kind == kind && p.tok.text == s }

func (p *parser) expr() (*pred, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(p.tok.off, "expression nested deeper than %d levels", maxDepth)
	}
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") || p.isSym(tokOp, "||") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &pred{op: opOr, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (*pred, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") || p.isSym(tokOp, "&&") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &pred{op: opAnd, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (*pred, error) {
	switch {
	case p.isWord("not") || p.isSym(tokOp, "!"):
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errAt(p.tok.off, "expression nested deeper than %d levels", maxDepth)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &pred{op: opNot, l: x}, nil
	case p.isSym(tokPunct, "("):
		open := p.tok.off
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.isSym(tokPunct, ")") {
			return nil, p.errAt(p.tok.off, "want ) to close the ( at offset %d, found %s", open, p.found())
		}
		return x, p.next()
	case p.isWord("true"):
		return &pred{op: opTrue}, p.next()
	case p.isWord("false"):
		return &pred{op: opFalse}, p.next()
	}
	return p.test()
}

func (p *parser) found() string {
	if p.tok.kind == tokEOF {
		return "end of expression"
	}
	return strconv.Quote(p.tok.text)
}

func (p *parser) test() (*pred, error) {
	if p.tok.kind != tokIdent {
		return nil, p.errAt(p.tok.off, "want a field (kind, stream_id, len, flags, ts), found %s", p.found())
	}
	field := -1
	for i, n := range fieldNames {
		if p.tok.text == n {
			field = i
		}
	}
	if field < 0 {
		return nil, p.errAt(p.tok.off, "unknown field %q; want kind, stream_id, len, flags or ts", p.tok.text)
	}
	fieldOff := p.tok.off
	if err := p.next(); err != nil {
		return nil, err
	}
	node := &pred{field: uint8(field)}
	switch {
	case p.tok.kind == tokOp && p.tok.text != "!" && p.tok.text != "&&" && p.tok.text != "||":
		node.op = opCmp
		for i, n := range cmpNames {
			if n == p.tok.text {
				node.cmp = uint8(i)
			}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		v, err := p.value(field)
		if err != nil {
			return nil, err
		}
		node.val = v
		node.setRange()
		return node, nil
	case p.isWord("has"):
		if field != fieldFlags {
			return nil, p.errAt(p.tok.off, "has tests bits of flags, not %s", fieldNames[field])
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		v, err := p.value(field)
		if err != nil {
			return nil, err
		}
		node.op, node.val = opHas, v
		return node, nil
	case p.isWord("in"), p.isWord("not"):
		negate := p.isWord("not")
		if negate {
			if err := p.next(); err != nil {
				return nil, err
			}
			if !p.isWord("in") {
				return nil, p.errAt(p.tok.off, "want in after %s not, found %s", fieldNames[field], p.found())
			}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if !p.isSym(tokPunct, "[") {
			return nil, p.errAt(p.tok.off, "want [ to start the list after in, found %s", p.found())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		node.op = opIn
		for {
			v, err := p.value(field)
			if err != nil {
				return nil, err
			}
			node.set = append(node.set, v)
			if p.isSym(tokPunct, "]") {
				break
			}
			if !p.isSym(tokPunct, ",") {
				return nil, p.errAt(p.tok.off, "want , or ] in the list, found %s", p.found())
			}
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if negate {
			return &pred{op: opNot, l: node}, nil
		}
		return node, nil
	}
	return nil, p.errAt(p.tok.off, "want a comparison (== != < <= > >=), in or has after %s at offset %d, found %s", fieldNames[field], fieldOff, p.found())
}

// maxFor is the largest value each field can hold.
var maxFor = [...]uint64{fieldKind: 0xffff, fieldStream: ^uint64(0), fieldLen: 0xffffffff, fieldFlags: 0xffff, fieldTs: ^uint64(0)}

func (p *parser) value(field int) (uint64, error) {
	t := p.tok
	switch t.kind {
	case tokNum:
		v, err := strconv.ParseUint(t.text, 0, 64)
		if err != nil {
			return 0, p.errAt(t.off, "bad number %q; want a non-negative integer such as 42 or 0x2a", t.text)
		}
		if v > maxFor[field] {
			return 0, p.errAt(t.off, "%d is larger than %s can be (%d)", v, fieldNames[field], maxFor[field])
		}
		return v, p.next()
	case tokIdent:
		var names map[string]uint64
		switch field {
		case fieldKind:
			names = kindValues
		case fieldFlags:
			names = flagValues
		default:
			return 0, p.errAt(t.off, "want a number to compare with %s, found %q", fieldNames[field], t.text)
		}
		v, ok := names[t.text]
		if !ok {
			return 0, p.errAt(t.off, "unknown %s %q; want a number or one of %s", fieldNames[field], t.text, strings.Join(sortedKeys(names), ", "))
		}
		return v, p.next()
	}
	return 0, p.errAt(t.off, "want a value to compare with %s, found %s", fieldNames[field], p.found())
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Order by value, so kinds list in their numeric order.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && m[keys[j]] < m[keys[j-1]]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
