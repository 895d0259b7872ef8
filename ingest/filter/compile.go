package filter

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Offsets in struct weir_filter_args (ingest/packet.FilterArgs; a test
// keeps them equal).
const (
	argsHead      = 0
	argsHeadSize  = 128
	argsHeadLen   = 128
	argsWireLen   = 132
	argsIfindex   = 136
	argsDirection = 147
)

// Registers the compiled program keeps for its whole run; R0-R5 are
// scratch (a helper call clobbers them).
const (
	rCtx     = asm.R6
	rArgs    = asm.R7
	rHeadLen = asm.R8
	rWireLen = asm.R9
)

const (
	// bufOff is the stack slot bpf_xdp_load_bytes copies into.
	bufOff = -8
	// maxDepth bounds the temporaries of nested arithmetic, one 8-byte
	// stack slot each below bufOff.
	maxDepth = 8
	// maxCached is how many fields get a stack slot below the
	// temporaries, where a test leaves the value it loaded for later
	// tests of the same field (see thread). The frame stays within 152
	// bytes: the verifier limits the caller's and the filter's together
	// to 512, and the capture programs use about 280 (TestStackBudget
	// loads the largest frame).
	maxCached = 10
	// maxInsns bounds the program (jump offsets are 16-bit and the
	// verifier's budget is finite).
	maxInsns = 8192
	// maxRawInsns bounds the program before the optimizer shares the
	// protocol tests of its terms (about 166 instructions a port become
	// about 30), so that the optimizer's time stays bounded.
	maxRawInsns = 4 * maxInsns
	// maxOffset is beyond any packet: a load there always fails.
	maxOffset = 1 << 30
)

// MaxInstructions is the largest program Compile produces; longer
// expressions are refused.
const MaxInstructions = maxInsns

type compiler struct {
	out     asm.Instructions
	pending []string
	alias   map[string]string
	cached  map[fieldKey]int16 // the stack slot of each cached field
	labels  int
	err     error
}

// Compile parses expr and compiles it; see Expr.Compile.
func Compile(expr string) (asm.Instructions, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	return e.Compile()
}

// Compile returns the expression as the body of the filter hook
//
//	int weir_filter(void *ctx, const struct weir_filter_args *args)
//
// for ingest/packet's Config.Filter: R0 is 1 for a packet the expression
// matches and 0 otherwise (and for a NULL args). The program reads
// args->head and, past its head_len bytes, calls bpf_xdp_load_bytes on ctx,
// which ingest/packet turns into bpf_skb_load_bytes in TCX programs.
func (e *Expr) Compile() (asm.Instructions, error) {
	c := &compiler{alias: map[string]string{}, cached: map[fieldKey]int16{}}
	c.emit(
		asm.Mov.Imm(asm.R0, 0),
		asm.JEq.Imm(asm.R2, 0, "weir_filter.drop"),
		asm.Mov.Reg(rCtx, asm.R1),
		asm.Mov.Reg(rArgs, asm.R2),
		asm.LoadMem(rHeadLen, rArgs, argsHeadLen, asm.Word),
		asm.LoadMem(rWireLen, rArgs, argsWireLen, asm.Word),
		// The hook copies min(wire_len, 128) bytes; if it could not (a
		// failed bpf_xdp_load_bytes, head_len 0), keep the packet rather
		// than judge it on bytes that are not there.
		asm.Mov.Reg(asm.R1, rWireLen),
		asm.JLE.Imm(asm.R1, argsHeadSize, "weir_filter.head"),
		asm.Mov.Imm(asm.R1, argsHeadSize),
		asm.JNE.Reg(rHeadLen, asm.R1, "weir_filter.keep").WithSymbol("weir_filter.head"),
	)
	c.cond(e.root, "weir_filter.keep", "weir_filter.drop", "weir_filter.keep")
	c.place("weir_filter.keep")
	c.emit(asm.Mov.Imm(asm.R0, 1), asm.Return())
	c.place("weir_filter.drop")
	c.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	if c.err != nil {
		return nil, c.err
	}
	if len(c.out) > maxRawInsns {
		return nil, &Error{Col: 1, Msg: fmt.Sprintf("expression compiles to %d instructions before optimizing, more than the %d allowed (at most %d after)", len(c.out), maxRawInsns, maxInsns)}
	}
	for i := range c.out {
		if r := c.out[i].Reference(); r != "" {
			if a, ok := c.alias[r]; ok {
				c.out[i] = c.out[i].WithReference(a)
			}
		}
	}
	out, err := thread(c.out)
	if err != nil {
		return nil, err
	}
	if len(out) > maxInsns {
		return nil, &Error{Col: 1, Msg: fmt.Sprintf("expression compiles to %d instructions, more than the %d allowed", len(out), maxInsns)}
	}
	return out, nil
}

func (c *compiler) label() string {
	c.labels++
	return fmt.Sprintf("weir_filter.L%d", c.labels)
}

// place puts label l on the next instruction emitted.
func (c *compiler) place(l string) { c.pending = append(c.pending, l) }

func (c *compiler) emit(insns ...asm.Instruction) {
	for _, ins := range insns {
		if len(c.pending) > 0 {
			ins = ins.WithSymbol(c.pending[0])
			for _, l := range c.pending[1:] {
				c.alias[l] = c.pending[0]
			}
			c.pending = c.pending[:0]
		}
		c.out = append(c.out, ins)
	}
}

func (c *compiler) jump(to, next string) {
	if to != next {
		c.emit(asm.Ja.Label(to))
	}
}

// cond emits code that jumps to t when n holds and to f when it does not;
// next is the label placed right after the code, to which no jump is
// needed.
func (c *compiler) cond(n node, t, f, next string) {
	switch n := n.(type) {
	case trueNode:
		c.jump(t, next)
	case notNode:
		c.cond(n.x, f, t, next)
	case andNode:
		mid := c.label()
		c.cond(n.l, mid, f, mid)
		c.place(mid)
		c.cond(n.r, t, f, next)
	case orNode:
		mid := c.label()
		c.cond(n.l, t, mid, mid)
		c.place(mid)
		c.cond(n.r, t, f, next)
	case relNode:
		c.rel(n, t, f, next)
	default:
		panic(fmt.Sprintf("filter: unknown node %T", n))
	}
}

func guards(a arith, out []node) []node {
	switch a := a.(type) {
	case loadArith:
		out = guards(a.off, out)
		if a.guard != nil {
			out = append(out, a.guard)
		}
	case binArith:
		out = guards(a.r, guards(a.l, out))
	case negArith:
		out = guards(a.x, out)
	}
	return out
}

func (c *compiler) rel(n relNode, t, f, next string) {
	if n.neg {
		t, f = f, t
	}
	for _, g := range guards(n.r, guards(n.l, nil)) {
		mid := c.label()
		// A failed guard makes the relation false, whatever neg says.
		if n.neg {
			c.cond(g, mid, t, mid)
		} else {
			c.cond(g, mid, f, mid)
		}
		c.place(mid)
	}
	var op asm.JumpOp
	switch n.op {
	case relEq:
		op = asm.JEq
	case relGt:
		op = asm.JGT
	case relGe:
		op = asm.JGE
	}
	if k, ok := n.r.(numArith); ok {
		start := len(c.out)
		c.eval(n.l, 0)
		if key, ok := simpleField(n.l); ok && len(c.out) > start {
			ts := testStart{key: key, load: len(c.out) - start}
			sl, ok := c.cached[key]
			if !ok && len(c.cached) < maxCached {
				sl = cacheSlot(len(c.cached))
				c.cached[key] = sl
				ok = true
			}
			if ok {
				c.emit(asm.StoreMem(asm.RFP, sl, asm.R0, asm.DWord))
				ts.slot = sl
			}
			ts.jcc = len(c.out) - start
			c.out[start].Metadata.Set(testStart{}, ts)
			defer func(jcc int) { c.out[jcc].Metadata.Set(testJcc{}, testJcc{key: key, slot: ts.slot}) }(len(c.out))
		}
		c.cjump(op, func(op asm.JumpOp, l string) asm.Instruction {
			return op.Imm32(asm.R0, int32(uint32(k)), l)
		}, t, f, next)
		return
	}
	c.eval(n.r, 0)
	c.emit(asm.StoreMem(asm.RFP, slot(0), asm.R0, asm.DWord))
	c.eval(n.l, 1)
	c.emit(asm.LoadMem(asm.R1, asm.RFP, slot(0), asm.DWord))
	c.cjump(op, func(op asm.JumpOp, l string) asm.Instruction {
		return op.Reg32(asm.R0, asm.R1, l)
	}, t, f, next)
}

// simpleField tells whether a is a packet field at a constant offset,
// possibly masked, which thread can reason about.
func simpleField(a arith) (fieldKey, bool) {
	mask := uint32(0xffffffff)
	if b, ok := a.(binArith); ok && b.op == opAnd {
		m, ok := b.r.(numArith)
		if !ok {
			return fieldKey{}, false
		}
		mask, a = uint32(m), b.l
	}
	l, ok := a.(loadArith)
	if !ok || l.guard != nil {
		return fieldKey{}, false
	}
	off, ok := l.off.(numArith)
	if !ok {
		return fieldKey{}, false
	}
	k := fieldKey{off: uint64(l.base) + uint64(off), size: l.size, mask: mask}
	if l.ipv4hl {
		k.hl, k.hlOff = true, uint64(l.ipv4hlOff)
	}
	return k, true
}

func invert(op asm.JumpOp) asm.JumpOp {
	switch op {
	case asm.JEq:
		return asm.JNE
	case asm.JGT:
		return asm.JLE
	case asm.JGE:
		return asm.JLT
	}
	panic("filter: no inverse")
}

func (c *compiler) cjump(op asm.JumpOp, mk func(asm.JumpOp, string) asm.Instruction, t, f, next string) {
	switch next {
	case f:
		c.emit(mk(op, t))
	case t:
		c.emit(mk(invert(op), f))
	default:
		c.emit(mk(op, t))
		c.jump(f, next)
	}
}

func slot(depth int) int16 { return int16(bufOff - 8 - 8*depth) }

func cacheSlot(i int) int16 { return slot(maxDepth) - int16(8*i) }

var aluOps = map[binOp]asm.ALUOp{
	opAdd: asm.Add, opSub: asm.Sub, opMul: asm.Mul, opDiv: asm.Div, opMod: asm.Mod,
	opAnd: asm.And, opOr: asm.Or, opXor: asm.Xor, opLsh: asm.LSh, opRsh: asm.RSh,
}

// eval leaves the 32-bit value of a in R0, using stack slots from depth on
// for temporaries.
func (c *compiler) eval(a arith, depth int) {
	if depth >= maxDepth {
		if c.err == nil {
			c.err = &Error{Col: 1, Msg: "arithmetic nests too deeply"}
		}
		return
	}
	switch a := a.(type) {
	case numArith:
		c.emit(asm.Mov.Imm32(asm.R0, int32(uint32(a))))
	case lenArith:
		c.emit(asm.Mov.Reg32(asm.R0, rWireLen))
	case metaArith:
		switch a {
		case metaIfindex:
			c.emit(asm.LoadMem(asm.R0, rArgs, argsIfindex, asm.Word))
		case metaDirection:
			c.emit(asm.LoadMem(asm.R0, rArgs, argsDirection, asm.Byte))
		}
	case negArith:
		c.eval(a.x, depth)
		c.emit(asm.Neg.Imm32(asm.R0, 0))
	case binArith:
		alu := aluOps[a.op]
		if k, ok := a.r.(numArith); ok {
			c.eval(a.l, depth)
			c.emit(alu.Imm32(asm.R0, int32(uint32(k))))
			return
		}
		c.eval(a.r, depth)
		c.emit(asm.StoreMem(asm.RFP, slot(depth), asm.R0, asm.DWord))
		c.eval(a.l, depth+1)
		c.emit(asm.LoadMem(asm.R1, asm.RFP, slot(depth), asm.DWord))
		switch a.op {
		case opDiv, opMod:
			// libpcap rejects the packet on a division by zero.
			c.emit(asm.JEq.Imm(asm.R1, 0, "weir_filter.drop"))
			c.emit(alu.Reg32(asm.R0, asm.R1))
		case opLsh, opRsh:
			// libpcap shifts by 32 or more to 0.
			big, done := c.label(), c.label()
			c.emit(asm.JGT.Imm(asm.R1, 31, big), alu.Reg32(asm.R0, asm.R1), asm.Ja.Label(done))
			c.place(big)
			c.emit(asm.Mov.Imm32(asm.R0, 0))
			c.place(done)
		default:
			c.emit(alu.Reg32(asm.R0, asm.R1))
		}
	case loadArith:
		c.load(a, depth)
	default:
		panic(fmt.Sprintf("filter: unknown arith %T", a))
	}
}

func (c *compiler) load(a loadArith, depth int) {
	k, constOff := a.off.(numArith)
	if constOff && !a.ipv4hl {
		c.loadConst(uint64(a.base)+uint64(k), a.size)
		return
	}
	if a.ipv4hl {
		// X = 4 * (pkt[ipv4hlOff] & 0xf), the IPv4 header length.
		c.loadConst(uint64(a.ipv4hlOff), 1)
		c.emit(asm.And.Imm32(asm.R0, 0xf), asm.LSh.Imm32(asm.R0, 2))
		if constOff {
			if k != 0 {
				c.emit(asm.Add.Imm32(asm.R0, int32(uint32(k))))
			}
		} else {
			c.emit(asm.StoreMem(asm.RFP, slot(depth), asm.R0, asm.DWord))
			c.eval(a.off, depth+1)
			c.emit(asm.LoadMem(asm.R1, asm.RFP, slot(depth), asm.DWord), asm.Add.Reg32(asm.R0, asm.R1))
		}
	} else {
		c.eval(a.off, depth)
	}
	maxOff := maxOf(a.off)
	if a.ipv4hl {
		maxOff += 60
	}
	c.loadDyn(a.base, a.size, min(maxOff, 1<<32-1))
}

// maxOf is an upper bound of the value of a.
func maxOf(a arith) uint64 {
	const top = 1<<32 - 1
	switch a := a.(type) {
	case numArith:
		return uint64(a)
	case loadArith:
		return 1<<(8*a.size) - 1
	case binArith:
		l, r := maxOf(a.l), maxOf(a.r)
		switch a.op {
		case opAdd:
			if l+r <= top {
				return l + r
			}
		case opMul:
			if r == 0 || l <= top/r {
				return l * r
			}
		case opDiv:
			return l
		case opMod:
			return min(l, r)
		case opAnd:
			return min(l, r)
		case opRsh:
			if k, ok := a.r.(numArith); ok {
				return l >> uint(k)
			}
			return l
		case opLsh:
			if k, ok := a.r.(numArith); ok && l<<uint(k) <= top {
				return l << uint(k)
			}
		}
	}
	return 1<<32 - 1
}

var sizes = map[int]asm.Size{1: asm.Byte, 2: asm.Half, 4: asm.Word}

// fromBE turns the big-endian value of size bytes in R0 to a number.
func (c *compiler) fromBE(size int) {
	if size > 1 {
		c.emit(asm.HostTo(asm.BE, asm.R0, sizes[size]))
	}
}

// loadConst loads size bytes at the constant offset off into R0, or
// rejects the packet if it is shorter than off+size.
func (c *compiler) loadConst(off uint64, size int) {
	end := off + uint64(size)
	if end > maxOffset {
		c.emit(asm.Ja.Label("weir_filter.drop"))
		return
	}
	if end <= argsHeadSize {
		// head_len is min(wire_len, 128) (checked on entry), so a field
		// within the first 128 bytes is either in the head or beyond the
		// packet.
		c.emit(
			asm.JLT.Imm(rHeadLen, int32(end), "weir_filter.drop"),
			asm.LoadMem(asm.R0, rArgs, int16(argsHead+off), sizes[size]),
		)
		c.fromBE(size)
		return
	}
	c.emit(
		asm.JLT.Imm(rWireLen, int32(end), "weir_filter.drop"),
		asm.Mov.Imm32(asm.R2, int32(off)),
	)
	c.helperLoad(size)
}

// loadDyn loads size bytes at base + R0 (a 32-bit offset) into R0, or
// rejects the packet if it is shorter.
func (c *compiler) loadDyn(base uint32, size int, maxOff uint64) {
	end := uint32(size) + base
	if maxOff+uint64(end) <= argsHeadSize {
		// The field always ends within the first 128 bytes: in the head,
		// or beyond the packet.
		c.emit(
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.Add.Imm(asm.R1, int32(end)),
			asm.JGT.Reg(asm.R1, rHeadLen, "weir_filter.drop"),
			// Never taken (the verifier needs the bound).
			asm.JGT.Imm(asm.R0, int32(argsHeadSize-end), "weir_filter.drop"),
			asm.Mov.Reg(asm.R1, rArgs),
			asm.Add.Reg(asm.R1, asm.R0),
			asm.LoadMem(asm.R0, asm.R1, int16(argsHead+base), sizes[size]),
		)
		c.fromBE(size)
		return
	}
	slow, done := c.label(), c.label()
	// R1 = R0 + base + size, the end of the field (no 64-bit overflow).
	c.emit(
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Add.Imm(asm.R1, int32(end)),
		asm.JGT.Reg(asm.R1, rHeadLen, slow),
	)
	if end <= argsHeadSize {
		c.emit(
			// Never taken, as head_len <= 128, but the verifier needs the
			// bound.
			asm.JGT.Imm(asm.R0, int32(argsHeadSize-end), slow),
			asm.Mov.Reg(asm.R1, rArgs),
			asm.Add.Reg(asm.R1, asm.R0),
			asm.LoadMem(asm.R0, asm.R1, int16(argsHead+base), sizes[size]),
		)
		c.fromBE(size)
		c.emit(asm.Ja.Label(done))
	}
	c.place(slow)
	c.emit(
		asm.JGT.Reg(asm.R1, rWireLen, "weir_filter.drop"),
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.Add.Imm(asm.R2, int32(base)),
	)
	c.helperLoad(size)
	c.place(done)
}

// helperLoad copies size bytes at offset R2 with bpf_xdp_load_bytes into
// the stack buffer and loads them into R0; a failure rejects the packet.
func (c *compiler) helperLoad(size int) {
	c.emit(
		asm.Mov.Reg(asm.R1, rCtx),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, bufOff),
		asm.Mov.Imm(asm.R4, int32(size)),
		asm.FnXdpLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "weir_filter.drop"),
		asm.LoadMem(asm.R0, asm.RFP, bufOff, sizes[size]),
	)
	c.fromBE(size)
}
