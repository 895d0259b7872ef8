package filter

// The parser resolves an expression into a tree of these nodes: boolean
// nodes over relations between unsigned 32-bit arithmetic expressions, in
// which every packet load carries its absolute offset and the protocol
// checks that guard it, as libpcap's code generator resolves them.

// node is a boolean node: andNode, orNode, notNode, trueNode or relNode.
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }
type trueNode struct{}

// relOp is a comparison of two unsigned 32-bit values.
type relOp int

const (
	relEq relOp = iota // l == r
	relGt              // l > r
	relGe              // l >= r
)

// relNode is "l op r", negated when neg is set (!=, <=, <).
type relNode struct {
	op   relOp
	neg  bool
	l, r arith
}

func (andNode) isNode()  {}
func (orNode) isNode()   {}
func (notNode) isNode()  {}
func (trueNode) isNode() {}
func (relNode) isNode()  {}

// arith is an arithmetic node: numArith, lenArith, metaArith, binArith,
// negArith or loadArith.
type arith interface{ isArith() }

type numArith uint32

// lenArith is the packet's length on the wire.
type lenArith struct{}

// metaArith is a field of the hook's arguments.
type metaArith int

const (
	metaIfindex metaArith = iota
	metaDirection
)

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opMod
	opAnd
	opOr
	opXor
	opLsh
	opRsh
)

type binArith struct {
	op   binOp
	l, r arith
}

type negArith struct{ x arith }

// loadArith loads size bytes (1, 2 or 4, big-endian) at base + off, where
// off is 32-bit arithmetic and, when ipv4hl is set, plus the IPv4 header
// length 4*(pkt[ipv4hlOff] & 0xf). guard, when not nil, must hold before the
// relation that uses the load is evaluated.
type loadArith struct {
	guard     node
	off       arith
	base      uint32
	ipv4hl    bool
	ipv4hlOff uint32
	size      int
}

func (numArith) isArith()  {}
func (lenArith) isArith()  {}
func (metaArith) isArith() {}
func (binArith) isArith()  {}
func (negArith) isArith()  {}
func (loadArith) isArith() {}

func and(a, b node) node { return andNode{a, b} }
func or(a, b node) node  { return orNode{a, b} }

// ld loads size bytes at the constant offset off.
func ld(off uint32, size int) arith { return loadArith{off: numArith(0), base: off, size: size} }

// cmp is "pkt[off:size] == v".
func cmp(off uint32, size int, v uint32) node {
	return relNode{op: relEq, l: ld(off, size), r: numArith(v)}
}

// mcmp is "pkt[off:size] & mask == v"; with a full mask it is cmp.
func mcmp(off uint32, size int, v, mask uint32) node {
	if mask == 0xffffffff {
		return cmp(off, size, v)
	}
	return relNode{op: relEq, l: binArith{opAnd, ld(off, size), numArith(mask)}, r: numArith(v)}
}
