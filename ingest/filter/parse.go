package filter

import (
	"net/netip"
	"strings"
)

// Expr is a parsed filter expression, ready to compile.
type Expr struct {
	src  string
	root node
}

// String returns the expression as it was given.
func (e *Expr) String() string { return e.src }

// MatchesAll reports whether the expression is empty and so keeps every
// packet.
func (e *Expr) MatchesAll() bool { _, ok := e.root.(trueNode); return ok }

type dirQual int

const (
	dDefault dirQual = iota
	dSrc
	dDst
	dOr
	dAnd
)

type addrQual int

const (
	aDefault addrQual = iota
	aHost
	aNet
	aPort
	aPortrange
	aProto
)

// qual is the qualifiers in force for an address, as libpcap's struct qual;
// bad is libpcap's qerr: no address may follow.
type qual struct {
	proto proto
	pname string
	dir   dirQual
	addr  addrQual
	bad   bool
}

var qerr = qual{bad: true}

// state is what "vlan" and "mpls" change for everything parsed after them.
type state struct {
	vlans int // VLAN tags skipped: each moves the EtherType and payload by 4
	mpls  int // MPLS labels skipped: each moves the network header by 4
}

type parser struct {
	src  string
	toks []token
	i    int
	st   state
}

// Parse parses a filter expression in tcpdump's syntax. An empty expression
// (only spaces) keeps every packet. Errors are *Error values naming the
// column and what was expected there.
func Parse(expr string) (*Expr, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks}
	if p.peek().kind == tEOF {
		return &Expr{src: expr, root: trueNode{}}, nil
	}
	n, _, err := p.expr(qerr)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.text == ")" {
			return nil, errAt(t.pos, "unbalanced ')'")
		}
		return nil, errAt(t.pos, "expected 'and', 'or' or the end of the expression, found %s", t)
	}
	return &Expr{src: expr, root: n}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

type mark struct {
	i  int
	st state
}

func (p *parser) save() mark     { return mark{p.i, p.st} }
func (p *parser) restore(m mark) { p.i, p.st = m.i, m.st }

func isWord(t token, ws ...string) bool {
	if t.kind != tWord {
		return false
	}
	for _, w := range ws {
		if t.text == w {
			return true
		}
	}
	return false
}

func isOp(t token, ops ...string) bool {
	if t.kind != tOp {
		return false
	}
	for _, o := range ops {
		if t.text == o {
			return true
		}
	}
	return false
}

func isAnd(t token) bool { return isWord(t, "and") || isOp(t, "&&") }
func isOr(t token) bool  { return isWord(t, "or") || isOp(t, "||") }
func isNot(t token) bool { return isWord(t, "not") || isOp(t, "!") }

// further returns the error that got further into the input.
func further(a, b error) error {
	ea, oka := a.(*Error)
	eb, okb := b.(*Error)
	if oka && okb && eb.Col > ea.Col {
		return b
	}
	return a
}

// expr: term { (and|or) (term | id) }, left-associative, and and or of
// equal precedence. A bare address after and/or takes the qualifiers of
// the term before it ("host a or b").
func (p *parser) expr(q qual) (node, qual, error) {
	n, q, err := p.term(q)
	if err != nil {
		return nil, q, err
	}
	for {
		t := p.peek()
		andOp := isAnd(t)
		if !andOp && !isOr(t) {
			return n, q, nil
		}
		p.next()
		m0 := p.save()
		var m node
		idn, errID := p.id(q)
		if errID == nil {
			if nt := p.peek(); nt.kind == tEOF || isAnd(nt) || isOr(nt) || isOp(nt, ")") {
				m = idn
			} else {
				errID = errAt(nt.pos, "expected 'and', 'or' or the end of the expression, found %s", nt)
			}
		}
		if m == nil {
			p.restore(m0)
			var q2 qual
			var errT error
			m, q2, errT = p.term(q)
			if errT != nil {
				return nil, q, further(errT, errID)
			}
			q = q2
		}
		if andOp {
			n = and(n, m)
		} else {
			n = or(n, m)
		}
	}
}

func (p *parser) term(q qual) (node, qual, error) {
	if isNot(p.peek()) {
		p.next()
		n, q2, err := p.term(q)
		if err != nil {
			return nil, q, err
		}
		return notNode{n}, q2, nil
	}
	return p.rterm(q)
}

var dirWords = map[string]bool{"src": true, "dst": true}
var addrWords = map[string]addrQual{"host": aHost, "net": aNet, "port": aPort, "portrange": aPortrange}

func (p *parser) rterm(q qual) (node, qual, error) {
	t := p.peek()
	if isOp(t, "(") {
		m0 := p.save()
		p.next()
		n, _, err := p.expr(q)
		if err == nil && isOp(p.peek(), ")") {
			p.next()
			return n, q, nil
		}
		if err == nil {
			err = errAt(p.peek().pos, "expected ')', found %s", p.peek())
		}
		p.restore(m0)
		rn, errR := p.relation()
		if errR != nil {
			return nil, q, further(err, errR)
		}
		return rn, qerr, nil
	}
	if isOp(t, "-") {
		n, err := p.relation()
		return n, qerr, err
	}
	if t.kind != tWord {
		return nil, q, errAt(t.pos, "expected a primitive such as 'host', 'port', 'tcp' or 'ip[0] = 1', found %s", t)
	}
	w := t.text
	if why, ok := unsupportedWords[w]; ok {
		return nil, q, errAt(t.pos, "%q %s", w, why)
	}
	if pr, ok := protoWords[w]; ok {
		nt := p.peekN(1)
		switch {
		case isOp(nt, "["):
			n, err := p.relation()
			return n, qerr, err
		case isWord(nt, "src", "dst", "host", "net", "port", "portrange", "proto", "protochain", "gateway"):
			return p.head()
		case isWord(nt, "broadcast", "multicast"):
			p.next()
			p.next()
			n, err := p.castNode(pr, w, nt)
			return n, qerr, err
		}
		p.next()
		n, err := p.abbrev(pr, w, t.pos)
		return n, qerr, err
	}
	switch {
	case dirWords[w] || addrWords[w] != aDefault || w == "proto" || w == "protochain" || w == "gateway":
		return p.head()
	case w == "broadcast" || w == "multicast":
		p.next()
		n, err := p.castNode(pDefault, "", t)
		return n, qerr, err
	case w == "less" || w == "greater":
		p.next()
		v, err := p.num()
		if err != nil {
			return nil, q, err
		}
		if w == "less" {
			return relNode{op: relGt, neg: true, l: lenArith{}, r: numArith(v)}, qerr, nil
		}
		return relNode{op: relGe, l: lenArith{}, r: numArith(v)}, qerr, nil
	case w == "inbound" || w == "outbound":
		p.next()
		d := uint32(1)
		if w == "outbound" {
			d = 2
		}
		return relNode{op: relEq, l: metaDirection, r: numArith(d)}, qerr, nil
	case w == "ifindex":
		p.next()
		v, err := p.num()
		if err != nil {
			return nil, q, err
		}
		return relNode{op: relEq, l: metaIfindex, r: numArith(v)}, qerr, nil
	case w == "vlan":
		p.next()
		n, err := p.vlan(t.pos)
		return n, qerr, err
	case w == "mpls":
		p.next()
		n, err := p.mpls(t.pos)
		return n, qerr, err
	case w == "len":
		n, err := p.relation()
		return n, qerr, err
	}
	if _, isNum, _ := parseNum(w); isNum {
		n, err := p.relation()
		return n, qerr, err
	}
	if _, ok := numWords[w]; ok {
		n, err := p.relation()
		return n, qerr, err
	}
	if isKeyword(w) {
		return nil, q, errAt(t.pos, "expected a primitive, found %s", t)
	}
	return nil, q, errAt(t.pos, "expected a primitive such as 'host', 'port' or 'tcp', found %s (an address or name needs a qualifier such as 'host' before it)", t)
}

// isKeyword reports whether w is a reserved word, not an address or name.
func isKeyword(w string) bool {
	if _, ok := protoWords[w]; ok {
		return true
	}
	if _, ok := unsupportedWords[w]; ok {
		return true
	}
	switch w {
	case "and", "or", "not", "src", "dst", "host", "net", "port", "portrange", "proto", "mask",
		"broadcast", "multicast", "less", "greater", "len", "inbound", "outbound", "ifindex",
		"vlan", "mpls":
		return true
	}
	return false
}

// head: [pname] [dqual] (aqual | proto | protochain | gateway) id, or
// [pname] dqual id.
func (p *parser) head() (node, qual, error) {
	var q qual
	t := p.peek()
	if pr, ok := protoWords[t.text]; ok && t.kind == tWord {
		q.proto, q.pname = pr, t.text
		p.next()
	}
	hasDir := false
	if t := p.peek(); isWord(t, "src", "dst") {
		p.next()
		hasDir = true
		q.dir = dSrc
		if t.text == "dst" {
			q.dir = dDst
		}
		if c := p.peek(); (isAnd(c) || isOr(c)) && isWord(p.peekN(1), "src", "dst") && p.peekN(1).text != t.text {
			p.next()
			p.next()
			q.dir = dOr
			if isAnd(c) {
				q.dir = dAnd
			}
		}
	}
	t = p.peek()
	switch {
	case isWord(t, "host", "net", "port", "portrange"):
		q.addr = addrWords[t.text]
		p.next()
	case isWord(t, "proto") && !hasDir:
		q.addr = aProto
		p.next()
	case isWord(t, "protochain", "gateway"):
		return nil, q, errAt(t.pos, "%q %s", t.text, unsupportedWords[t.text])
	case !hasDir:
		return nil, q, errAt(t.pos, "expected 'host', 'net', 'port', 'portrange' or 'proto', found %s", t)
	}
	n, err := p.id(q)
	return n, q, err
}

// id: address | number | '\' name | name | '(' pid ')' | not id.
func (p *parser) id(q qual) (node, error) {
	t := p.peek()
	if isNot(t) {
		p.next()
		n, err := p.id(q)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if isOp(t, "(") {
		p.next()
		n, err := p.pid(q)
		if err != nil {
			return nil, err
		}
		if !isOp(p.peek(), ")") {
			return nil, errAt(p.peek().pos, "expected ')', found %s", p.peek())
		}
		p.next()
		return n, nil
	}
	return p.nid(q)
}

// pid: nid { (and|or) id }.
func (p *parser) pid(q qual) (node, error) {
	n, err := p.nid(q)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		andOp := isAnd(t)
		if !andOp && !isOr(t) {
			return n, nil
		}
		p.next()
		m, err := p.id(q)
		if err != nil {
			return nil, err
		}
		if andOp {
			n = and(n, m)
		} else {
			n = or(n, m)
		}
	}
}

// nid is one address, number or name under the qualifiers q.
func (p *parser) nid(q qual) (node, error) {
	t := p.peek()
	escaped := false
	if isOp(t, "\\") {
		p.next()
		t = p.peek()
		escaped = true
	}
	if t.kind != tWord {
		return nil, errAt(t.pos, "expected an address, a number or a name, found %s", t)
	}
	if q.bad {
		return nil, errAt(t.pos, "expected a primitive such as 'host', 'port' or 'tcp', found %s (an address or name needs a qualifier such as 'host' before it)", t)
	}
	w := t.text
	if !escaped {
		if v, isNum, ok := parseNum(w); isNum {
			if !ok {
				return nil, errAt(t.pos, "%q is not a number of at most 32 bits", w)
			}
			p.next()
			return p.ncode(q, v, 32, true, t)
		}
		if v, ok := numWords[w]; ok {
			p.next()
			return p.ncode(q, v, 32, true, t)
		}
		if v, bits, ok := parseHID(w); ok {
			p.next()
			return p.hid(q, v, bits, t)
		}
		if isIPv6(w) {
			p.next()
			return p.hid6(q, t)
		}
		if mac, ok := parseMAC(w); ok {
			p.next()
			if q.proto != pLink || (q.addr != aDefault && q.addr != aHost) {
				return nil, errAt(t.pos, "Ethernet address %s used in a non-ether expression (write 'ether host %s')", w, w)
			}
			return ehost(mac, q.dir), nil
		}
		if isKeyword(w) {
			return nil, errAt(t.pos, "expected an address, a number or a name, found %s", t)
		}
	}
	p.next()
	return p.scode(q, w, t)
}

// num reads a number (or a number word such as tcp-syn).
func (p *parser) num() (uint32, error) {
	t := p.peek()
	if isOp(t, "(") {
		p.next()
		v, err := p.num()
		if err != nil {
			return 0, err
		}
		if !isOp(p.peek(), ")") {
			return 0, errAt(p.peek().pos, "expected ')', found %s", p.peek())
		}
		p.next()
		return v, nil
	}
	if t.kind == tWord {
		if v, isNum, ok := parseNum(t.text); isNum {
			if !ok {
				return 0, errAt(t.pos, "%q is not a number of at most 32 bits", t.text)
			}
			p.next()
			return v, nil
		}
		if v, ok := numWords[t.text]; ok {
			p.next()
			return v, nil
		}
	}
	return 0, errAt(t.pos, "expected a number, found %s", t)
}

// nl is the offset of the network-layer header.
func (p *parser) nl() uint32          { return uint32(14 + 4*p.st.vlans + 4*p.st.mpls) }
func (p *parser) linkpl() uint32      { return uint32(14 + 4*p.st.vlans) }
func (p *parser) linktypeOff() uint32 { return uint32(12 + 4*p.st.vlans) }

// linktype tests the EtherType (or, after "mpls", the network header's
// version) as libpcap's gen_linktype does for Ethernet.
func (p *parser) linktype(v uint32, pos int) (node, error) {
	if p.st.mpls > 0 {
		nl := p.nl()
		bos := mcmp(nl-4+2, 1, 1, 1)
		switch v {
		case 0x0800:
			return and(bos, mcmp(nl, 1, 0x40, 0xf0)), nil
		case 0x86dd:
			return and(bos, mcmp(nl, 1, 0x60, 0xf0)), nil
		}
		return nil, errAt(pos, "only IPv4 and IPv6 are supported over MPLS")
	}
	switch v {
	case 0x06, 0xfe, 0xf0, 0xe0, 0x809b, 0x80f3:
		return nil, errAt(pos, "EtherType/SAP 0x%x is one of libpcap's LLC or SNAP special cases, which weir does not support", v)
	}
	if v <= 1500 {
		// An 802.3 length field: match the LLC DSAP.
		return and(relNode{op: relGt, neg: true, l: ld(p.linktypeOff(), 2), r: numArith(1500)}, cmp(p.linkpl(), 1, v)), nil
	}
	return cmp(p.linktypeOff(), 2, v), nil
}

func (p *parser) mustLinktype(v uint32) node {
	n, err := p.linktype(v, 0)
	if err != nil {
		// Only reachable for IPv4/IPv6 over MPLS, which linktype handles.
		panic(err)
	}
	return n
}

func (p *parser) ipProto(v uint32) node {
	return and(p.mustLinktype(0x0800), cmp(p.nl()+9, 1, v))
}

func (p *parser) ip6Proto(v uint32) node {
	nl := p.nl()
	return and(p.mustLinktype(0x86dd), or(cmp(nl+6, 1, v), and(cmp(nl+6, 1, 44), cmp(nl+40, 1, v))))
}

// ipProtoAny is "ip proto v or ip6 proto v".
func (p *parser) ipProtoAny(v uint32) node { return or(p.ipProto(v), p.ip6Proto(v)) }

// notFrag is "not an IPv4 fragment other than the first".
func (p *parser) notFrag() node {
	return mcmp(p.nl()+6, 2, 0, 0x1fff)
}

// abbrev is a protocol name used alone ("tcp", "ip6", "arp").
func (p *parser) abbrev(pr proto, name string, pos int) (node, error) {
	switch pr {
	case pIP:
		return p.linktype(0x0800, pos)
	case pIP6:
		return p.linktype(0x86dd, pos)
	case pARP:
		return p.linktype(0x0806, pos)
	case pRARP:
		return p.linktype(0x8035, pos)
	case pDECnet:
		return p.linktype(0x6003, pos)
	case pLAT:
		return p.linktype(0x6004, pos)
	case pSCA:
		return p.linktype(0x6007, pos)
	case pMOPRC:
		return p.linktype(0x6002, pos)
	case pMOPDL:
		return p.linktype(0x6001, pos)
	case pTCP:
		return p.ipProtoAny(6), nil
	case pUDP:
		return p.ipProtoAny(17), nil
	case pSCTP:
		return p.ipProtoAny(132), nil
	case pPIM:
		return p.ipProtoAny(103), nil
	case pAH:
		return p.ipProtoAny(51), nil
	case pESP:
		return p.ipProtoAny(50), nil
	case pICMP:
		return p.ipProto(1), nil
	case pIGMP:
		return p.ipProto(2), nil
	case pIGRP:
		return p.ipProto(9), nil
	case pVRRP, pCARP:
		return p.ipProto(112), nil
	case pICMP6:
		return p.ip6Proto(58), nil
	}
	return nil, errAt(pos, "%q alone is not a test; expected for example '%s host', '%s proto' or '%s[0]'", name, name, name, name)
}

// castNode is [proto] broadcast|multicast.
func (p *parser) castNode(pr proto, name string, t token) (node, error) {
	nl := p.nl()
	bcast := t.text == "broadcast"
	switch pr {
	case pDefault, pLink:
		if bcast {
			return bcmp(0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), nil
		}
		return relNode{op: relEq, neg: true, l: binArith{opAnd, ld(0, 1), numArith(1)}, r: numArith(0)}, nil
	case pIP:
		if bcast {
			// With no netmask known, as when tcpdump reads a file: the
			// all-zeros and all-ones addresses.
			return and(p.mustLinktype(0x0800), or(cmp(nl+16, 4, 0), cmp(nl+16, 4, 0xffffffff))), nil
		}
		return and(p.mustLinktype(0x0800), relNode{op: relGe, l: ld(nl+16, 1), r: numArith(224)}), nil
	case pIP6:
		if !bcast {
			return and(p.mustLinktype(0x86dd), cmp(nl+24, 1, 0xff)), nil
		}
	}
	return nil, errAt(t.pos, "%q is not valid after %q", t.text, name)
}

// bcmp compares len(b) bytes at off, as libpcap's gen_bcmp: words from the
// end, then a half-word, then a byte.
func bcmp(off uint32, b []byte) node {
	var n node
	add := func(m node) {
		if n == nil {
			n = m
		} else {
			n = and(n, m)
		}
	}
	size := uint32(len(b))
	for size >= 4 {
		o := size - 4
		add(cmp(off+o, 4, uint32(b[o])<<24|uint32(b[o+1])<<16|uint32(b[o+2])<<8|uint32(b[o+3])))
		size -= 4
	}
	for size >= 2 {
		o := size - 2
		add(cmp(off+o, 2, uint32(b[o])<<8|uint32(b[o+1])))
		size -= 2
	}
	if size > 0 {
		add(cmp(off, 1, uint32(b[0])))
	}
	return n
}

func ehost(mac [6]byte, d dirQual) node {
	src := bcmp(6, mac[:])
	dst := bcmp(0, mac[:])
	switch d {
	case dSrc:
		return src
	case dDst:
		return dst
	case dAnd:
		return and(src, dst)
	}
	return or(src, dst)
}

// ncode is a number (bits 32) or dotted address (bits 8..32, v in the low
// bits) under q, as libpcap's gen_ncode.
func (p *parser) ncode(q qual, v uint32, bits int, isNum bool, t token) (node, error) {
	switch q.addr {
	case aDefault, aHost, aNet:
		if q.proto == pLink {
			return nil, errAt(t.pos, "'ether' needs a MAC address, found %s", t)
		}
		mask := uint32(0xffffffff)
		if isNum && q.addr == aNet {
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		} else if bits < 32 {
			v <<= 32 - bits
			mask <<= 32 - bits
		}
		return p.host(q, v, mask, t)
	case aPort, aPortrange:
		if v > 65535 {
			return nil, errAt(t.pos, "port %d is greater than 65535", v)
		}
		return p.port(q, v, v, t)
	case aProto:
		return p.proto(q, v, t)
	}
	return nil, errAt(t.pos, "unexpected %s", t)
}

func (p *parser) hid(q qual, v uint32, bits int, t token) (node, error) {
	kind := "IP address"
	if nt := p.peek(); isOp(nt, "/") || isWord(nt, "mask") {
		kind = "IP address and prefix length"
		if nt.text == "mask" {
			kind = "IP address and netmask"
		}
	}
	switch q.addr {
	case aPort, aPortrange, aProto:
		return nil, errAt(t.pos, "'%s' applied to an %s", [...]string{aPort: "port", aPortrange: "portrange", aProto: "proto"}[q.addr], kind)
	}
	nt := p.peek()
	if !isOp(nt, "/") && !isWord(nt, "mask") {
		return p.ncode(q, v, bits, false, t)
	}
	p.next()
	n := v << (32 - bits)
	var m uint32
	if nt.text == "/" {
		l, err := p.num()
		if err != nil {
			return nil, err
		}
		if l > 32 {
			return nil, errAt(nt.pos+1, "prefix length %d is greater than 32", l)
		}
		if l > 0 {
			m = 0xffffffff << (32 - l)
		}
	} else {
		mt := p.next()
		mv, mbits, ok := parseHID(mt.text)
		if mt.kind != tWord || !ok {
			return nil, errAt(mt.pos, "expected a dotted netmask after 'mask', found %s", mt)
		}
		m = mv << (32 - mbits)
	}
	if q.addr != aNet {
		return nil, errAt(t.pos, "a prefix length or mask needs 'net', not 'host' (write 'net %s')", p.src[t.pos:p.peek().pos])
	}
	if n&^m != 0 {
		return nil, errAt(t.pos, "%q has host bits set beyond its mask", strings.TrimSpace(p.src[t.pos:p.peek().pos]))
	}
	return p.host(q, n, m, t)
}

func (p *parser) hid6(q qual, t token) (node, error) {
	a := netip.MustParseAddr(t.text)
	bits := 128
	if isOp(p.peek(), "/") {
		p.next()
		l, err := p.num()
		if err != nil {
			return nil, err
		}
		if l > 128 {
			return nil, errAt(t.pos, "prefix length %d is greater than 128", l)
		}
		bits = int(l)
	}
	switch q.addr {
	case aPort, aPortrange, aProto:
		return nil, errAt(t.pos, "'%s' applied to an IPv6 address", [...]string{aPort: "port", aPortrange: "portrange", aProto: "proto"}[q.addr])
	}
	if bits != 128 && q.addr != aNet {
		return nil, errAt(t.pos, "a prefix length needs 'net', not 'host'")
	}
	pfx := netip.PrefixFrom(a, bits)
	if pfx.Masked().Addr() != a {
		return nil, errAt(t.pos, "%q has host bits set beyond its prefix length", strings.TrimSpace(p.src[t.pos:p.peek().pos]))
	}
	switch q.proto {
	case pDefault, pIP6:
	case pIP:
		return nil, errAt(t.pos, "'ip' applied to an IPv6 address (use 'ip6')")
	default:
		return nil, errAt(t.pos, "%q applied to an IPv6 address", q.pname)
	}
	b := a.As16()
	var mask [16]byte
	for i := 0; i < bits; i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	word := func(x [16]byte, i int) uint32 {
		return uint32(x[4*i])<<24 | uint32(x[4*i+1])<<16 | uint32(x[4*i+2])<<8 | uint32(x[4*i+3])
	}
	nl := p.nl()
	op := func(off uint32) node {
		var n node
		for i := 0; i < 4; i++ {
			c := mcmp6(off+uint32(4*i), word(b, i), word(mask, i))
			if n == nil {
				n = c
			} else {
				n = and(n, c)
			}
		}
		return and(p.mustLinktype(0x86dd), n)
	}
	return dirNode(q.dir, func() node { return op(nl + 8) }, func() node { return op(nl + 24) }), nil
}

// mcmp6 is one word of an IPv6 address comparison; libpcap masks even with
// a zero mask, so the load happens (and can fail) either way.
func mcmp6(off, v, mask uint32) node {
	if mask == 0xffffffff {
		return cmp(off, 4, v)
	}
	return relNode{op: relEq, l: binArith{opAnd, ld(off, 4), numArith(mask)}, r: numArith(v & mask)}
}

func dirNode(d dirQual, src, dst func() node) node {
	switch d {
	case dSrc:
		return src()
	case dDst:
		return dst()
	case dAnd:
		return and(src(), dst())
	}
	return or(src(), dst())
}

// host tests an IPv4 address and mask under q, as libpcap's gen_host.
func (p *parser) host(q qual, v, mask uint32, t token) (node, error) {
	kind := "host"
	if q.addr == aNet {
		kind = "net"
	}
	nl := p.nl()
	op := func(etype, srcOff, dstOff uint32) node {
		return dirNode(q.dir,
			func() node { return and(p.mustLinktype(etype), mcmp(nl+srcOff, 4, v, mask)) },
			func() node { return and(p.mustLinktype(etype), mcmp(nl+dstOff, 4, v, mask)) })
	}
	switch q.proto {
	case pDefault:
		n := op(0x0800, 12, 16)
		if p.st.mpls == 0 {
			n = or(n, or(op(0x0806, 14, 24), op(0x8035, 14, 24)))
		}
		return n, nil
	case pIP:
		return op(0x0800, 12, 16), nil
	case pARP:
		if p.st.mpls > 0 {
			return nil, errAt(t.pos, "only IPv4 and IPv6 are supported over MPLS")
		}
		return op(0x0806, 14, 24), nil
	case pRARP:
		if p.st.mpls > 0 {
			return nil, errAt(t.pos, "only IPv4 and IPv6 are supported over MPLS")
		}
		return op(0x8035, 14, 24), nil
	case pLink:
		return nil, errAt(t.pos, "'ether %s' needs a MAC address, found %s", kind, t)
	case pIP6:
		return nil, errAt(t.pos, "'ip6' applied to an IPv4 address (use 'ip')")
	}
	return nil, errAt(t.pos, "%q is not valid before '%s'", q.pname, kind)
}

// port tests a port range (lo == hi for one port) under q, as libpcap's
// gen_port6 or gen_port.
func (p *parser) port(q qual, lo, hi uint32, t token) (node, error) {
	var protos []uint32
	switch q.proto {
	case pDefault:
		protos = []uint32{132, 6, 17}
	case pTCP:
		protos = []uint32{6}
	case pUDP:
		protos = []uint32{17}
	case pSCTP:
		protos = []uint32{132}
	default:
		return nil, errAt(t.pos, "%q is not valid before 'port' (only tcp, udp and sctp are)", q.pname)
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	nl := p.nl()
	atom := func(l func(off uint32) arith, off uint32) node {
		if lo == hi {
			return relNode{op: relEq, l: l(off), r: numArith(lo)}
		}
		return and(relNode{op: relGe, l: l(off), r: numArith(lo)}, relNode{op: relGt, neg: true, l: l(off), r: numArith(hi)})
	}
	ports := func(l func(off uint32) arith) node {
		return dirNode(q.dir, func() node { return atom(l, 0) }, func() node { return atom(l, 2) })
	}
	l4 := func(off uint32) arith {
		return loadArith{off: numArith(0), base: nl + off, ipv4hl: true, ipv4hlOff: nl, size: 2}
	}
	l6 := func(off uint32) arith { return ld(nl+40+off, 2) }
	var b4, b6 node
	for _, pr := range protos {
		op4 := and(and(cmp(nl+9, 1, pr), p.notFrag()), ports(l4))
		op6 := and(cmp(nl+6, 1, pr), ports(l6))
		if b4 == nil {
			b4, b6 = op4, op6
		} else {
			b4, b6 = or(b4, op4), or(b6, op6)
		}
	}
	return or(and(p.mustLinktype(0x86dd), b6), and(p.mustLinktype(0x0800), b4)), nil
}

// proto is "[ip|ip6|ether] proto v".
func (p *parser) proto(q qual, v uint32, t token) (node, error) {
	switch q.proto {
	case pDefault:
		return or(p.ipProto(v), p.ip6Proto(v)), nil
	case pIP:
		return p.ipProto(v), nil
	case pIP6:
		return p.ip6Proto(v), nil
	case pLink:
		return p.linktype(v, t.pos)
	}
	return nil, errAt(t.pos, "%q is not valid before 'proto' (only ether, ip and ip6 are)", q.pname)
}

// scode is a name under q: a protocol name after "proto", a port range
// "lo-hi" after "portrange"; host and service names are refused.
func (p *parser) scode(q qual, w string, t token) (node, error) {
	switch q.addr {
	case aProto:
		if q.proto == pLink {
			v, ok := etherProtoNames[w]
			if !ok {
				return nil, errAt(t.pos, "unknown EtherType name %q (give a number)", w)
			}
			return p.linktype(v, t.pos)
		}
		v, ok := ipProtoNames[w]
		if !ok {
			return nil, errAt(t.pos, "unknown IP protocol name %q (give a number)", w)
		}
		return p.proto(q, v, t)
	case aPortrange:
		if i := strings.IndexByte(w, '-'); i > 0 {
			lo, isLo, okLo := parseNum(w[:i])
			hi, isHi, okHi := parseNum(w[i+1:])
			if isLo && isHi && okLo && okHi {
				if lo > 65535 || hi > 65535 {
					return nil, errAt(t.pos, "port range %s goes beyond 65535", w)
				}
				return p.port(q, lo, hi, t)
			}
		}
		return nil, errAt(t.pos, "expected a port range such as 1024-2047, found %s (service names are not supported)", t)
	case aPort:
		if lo, hi, ok := strings.Cut(w, "-"); ok {
			if _, isLo, _ := parseNum(lo); isLo {
				if _, isHi, _ := parseNum(hi); isHi {
					return nil, errAt(t.pos, "a port range needs 'portrange', not 'port' (write 'portrange %s')", w)
				}
			}
		}
		return nil, errAt(t.pos, "expected a port number, found %s (service names are not supported)", t)
	}
	if q.proto == pLink {
		return nil, errAt(t.pos, "expected a MAC address such as 00:11:22:33:44:55, found %s", t)
	}
	return nil, errAt(t.pos, "expected an IP address, found %s (host names are not supported: weir does no name lookups)", t)
}

const (
	tpid8021Q  = 0x8100
	tpid8021AD = 0x88a8
	tpidQinQ   = 0x9100
)

// vlan: "vlan [id]", which also moves every later header by 4 bytes.
func (p *parser) vlan(pos int) (node, error) {
	if p.st.mpls > 0 {
		return nil, errAt(pos, "'vlan' cannot follow 'mpls'")
	}
	lt := p.linktypeOff()
	n := or(or(cmp(lt, 2, tpid8021Q), cmp(lt, 2, tpid8021AD)), cmp(lt, 2, tpidQinQ))
	if p.startsNum() {
		t := p.peek()
		id, err := p.num()
		if err != nil {
			return nil, err
		}
		if id > 4095 {
			return nil, errAt(t.pos, "VLAN ID %d is greater than 4095", id)
		}
		n = and(n, mcmp(p.linkpl(), 2, id, 0x0fff))
	}
	p.st.vlans++
	return n, nil
}

// mpls: "mpls [label]", which moves every later network header by 4 bytes.
func (p *parser) mpls(pos int) (node, error) {
	var n node
	if p.st.mpls > 0 {
		n = mcmp(p.nl()-4+2, 1, 0, 1)
	} else {
		n = cmp(p.linktypeOff(), 2, 0x8847)
	}
	if p.startsNum() {
		t := p.peek()
		l, err := p.num()
		if err != nil {
			return nil, err
		}
		if l > 0xfffff {
			return nil, errAt(t.pos, "MPLS label %d is greater than 1048575", l)
		}
		n = and(n, mcmp(p.nl(), 4, l<<12, 0xfffff000))
	}
	p.st.mpls++
	return n, nil
}

func (p *parser) startsNum() bool {
	t := p.peek()
	if isOp(t, "(") {
		return p.peekN(1).kind == tWord && func() bool { _, isNum, _ := parseNum(p.peekN(1).text); return isNum }()
	}
	if t.kind != tWord {
		return false
	}
	if _, isNum, _ := parseNum(t.text); isNum {
		return true
	}
	_, ok := numWords[t.text]
	return ok
}

// relation: arith relop arith.
func (p *parser) relation() (node, error) {
	l, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	var n relNode
	switch {
	case isOp(t, ">"):
		n = relNode{op: relGt}
	case isOp(t, ">="):
		n = relNode{op: relGe}
	case isOp(t, "=", "=="):
		n = relNode{op: relEq}
	case isOp(t, "<="):
		n = relNode{op: relGt, neg: true}
	case isOp(t, "<"):
		n = relNode{op: relGe, neg: true}
	case isOp(t, "!="):
		n = relNode{op: relEq, neg: true}
	default:
		return nil, errAt(t.pos, "expected a comparison (=, !=, <, <=, >, >=) or an arithmetic operator, found %s", t)
	}
	p.next()
	r, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	n.l, n.r = l, r
	return n, nil
}

// Binding powers of the arithmetic operators, as libpcap's grammar declares
// them. '%' and '^' have none there, so bison always shifts them: they bind
// to the operand just before them and take everything after them.
var binops = map[string]struct {
	op binOp
	bp int
}{
	"|": {opOr, 1}, "&": {opAnd, 2}, "<<": {opLsh, 3}, ">>": {opRsh, 3},
	"+": {opAdd, 4}, "-": {opSub, 4}, "*": {opMul, 5}, "/": {opDiv, 5},
	"%": {opMod, 100}, "^": {opXor, 100},
}

const unaryBP = 6

func (p *parser) arith(minBP int) (arith, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		b, ok := binops[t.text]
		if t.kind != tOp || !ok || b.bp <= minBP {
			return l, nil
		}
		p.next()
		rbp := b.bp
		if b.bp == 100 {
			rbp = 0
		}
		r, err := p.arith(rbp)
		if err != nil {
			return nil, err
		}
		switch b.op {
		case opDiv, opMod:
			if leadingConst(r, func(v uint32) bool { return v == 0 }) {
				return nil, errAt(t.pos, "division by zero")
			}
		case opLsh, opRsh:
			if leadingConst(r, func(v uint32) bool { return v > 31 }) {
				return nil, errAt(t.pos, "shift by more than 31 bits")
			}
		}
		l = binArith{b.op, l, r}
	}
}

// leadingConst reports whether a starts with a constant for which f holds,
// which is when libpcap refuses a division or shift at compile time.
func leadingConst(a arith, f func(uint32) bool) bool {
	switch a := a.(type) {
	case numArith:
		return f(uint32(a))
	case negArith:
		return leadingConst(a.x, f)
	}
	return false
}

func (p *parser) primary() (arith, error) {
	t := p.peek()
	switch {
	case isOp(t, "-"):
		p.next()
		x, err := p.arith(unaryBP)
		if err != nil {
			return nil, err
		}
		return negArith{x}, nil
	case isOp(t, "("):
		p.next()
		x, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		if !isOp(p.peek(), ")") {
			return nil, errAt(p.peek().pos, "expected ')' or an arithmetic operator, found %s", p.peek())
		}
		p.next()
		return x, nil
	case t.kind != tWord:
		return nil, errAt(t.pos, "expected a number, 'len' or a packet field such as ip[0], found %s", t)
	case t.text == "len":
		p.next()
		return lenArith{}, nil
	}
	if pr, ok := protoWords[t.text]; ok && isOp(p.peekN(1), "[") {
		p.next()
		p.next()
		idx, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		size := uint32(1)
		if isOp(p.peek(), ":") {
			p.next()
			st := p.peek()
			size, err = p.num()
			if err != nil {
				return nil, err
			}
			if size != 1 && size != 2 && size != 4 {
				return nil, errAt(st.pos, "field size must be 1, 2 or 4, found %d", size)
			}
		}
		if !isOp(p.peek(), "]") {
			return nil, errAt(p.peek().pos, "expected ']', found %s", p.peek())
		}
		p.next()
		return p.load(pr, t, idx, int(size))
	}
	if why, ok := unsupportedWords[t.text]; ok {
		return nil, errAt(t.pos, "%q %s", t.text, why)
	}
	v, err := p.num()
	if err != nil {
		if _, isNum, _ := parseNum(t.text); isNum {
			return nil, err
		}
		return nil, errAt(t.pos, "expected a number, 'len' or a packet field such as ip[0], found %s", t)
	}
	return numArith(v), nil
}

// load is proto[idx:size], as libpcap's gen_load.
func (p *parser) load(pr proto, t token, idx arith, size int) (arith, error) {
	nl := p.nl()
	switch pr {
	case pLink:
		return loadArith{off: idx, base: 0, size: size}, nil
	case pIP, pIP6, pARP, pRARP:
		g, err := p.abbrev(pr, t.text, t.pos)
		if err != nil {
			return nil, err
		}
		return loadArith{guard: g, off: idx, base: nl, size: size}, nil
	case pTCP, pUDP, pSCTP, pICMP, pIGMP, pIGRP, pPIM, pVRRP, pCARP:
		g, _ := p.abbrev(pr, t.text, t.pos)
		return loadArith{
			guard: and(p.mustLinktype(0x0800), and(g, p.notFrag())),
			off:   idx, base: nl, ipv4hl: true, ipv4hlOff: nl, size: size,
		}, nil
	case pICMP6:
		return loadArith{guard: and(p.mustLinktype(0x86dd), cmp(nl+6, 1, 58)), off: idx, base: nl + 40, size: size}, nil
	}
	return nil, errAt(t.pos, "%s[...] is not supported", t.text)
}
