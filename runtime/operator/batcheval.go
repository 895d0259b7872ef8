package operator

import "github.com/weirproject/weir/cabi"

// evaluator computes a predicate for every event of a batch at once, as a
// bitmap: it copies each field the predicate tests into a column, then runs
// one tight loop per test over the column and combines the bitmaps word by
// word. That is several times faster per event than walking the tree for
// each event. Its buffers grow with the largest batch seen and are reused,
// so steady state allocates nothing. An evaluator is not safe for
// concurrent use.
type evaluator struct {
	root   *pred
	levels int
	bufs   [][]uint64 // one bitmap per nesting level
	cols   [len(fieldNames)][]uint64
	filled [len(fieldNames)]bool
	words  int
}

func newEvaluator(p *pred) *evaluator {
	return &evaluator{root: p, levels: height(p)}
}

// height is how many bitmaps evaluating p needs at once.
func height(p *pred) int {
	switch p.op {
	case opAnd, opOr:
		return max(height(p.l), 1+height(p.r))
	case opNot:
		return height(p.l)
	}
	return 1
}

// run returns the bitmap of the events in evs that match: bit i of word
// i/64 is event i. Bits past len(evs) are undefined.
func (v *evaluator) run(evs []cabi.Event) []uint64 {
	n := len(evs)
	v.words = (n + 63) / 64
	if len(v.bufs) < v.levels || cap(v.bufs[0]) < v.words {
		v.bufs = make([][]uint64, v.levels)
		for i := range v.bufs {
			v.bufs[i] = make([]uint64, v.words)
		}
		for f := range v.cols {
			v.cols[f] = make([]uint64, n)
		}
	}
	for f := range v.cols {
		if cap(v.cols[f]) < n {
			v.cols[f] = make([]uint64, n)
		}
		v.filled[f] = false
	}
	v.eval(v.root, evs, 0)
	return v.bufs[0][:v.words]
}

// column returns field f of every event, extracting it once per batch.
func (v *evaluator) column(f uint8, evs []cabi.Event) []uint64 {
	col := v.cols[f][:len(evs)]
	if v.filled[f] {
		return col
	}
	v.filled[f] = true
	switch f {
	case fieldKind:
		for i := range evs {
			col[i] = uint64(evs[i].Kind)
		}
	case fieldStream:
		for i := range evs {
			col[i] = evs[i].StreamID
		}
	case fieldLen:
		for i := range evs {
			col[i] = uint64(evs[i].Len)
		}
	case fieldFlags:
		for i := range evs {
			col[i] = uint64(evs[i].Flags)
		}
	default:
		for i := range evs {
			col[i] = evs[i].TsNs
		}
	}
	return col
}

func (v *evaluator) eval(p *pred, evs []cabi.Event, level int) {
	dst := v.bufs[level][:v.words]
	switch p.op {
	case opTrue:
		fill(dst, ^uint64(0))
	case opFalse:
		fill(dst, 0)
	case opAnd, opOr:
		v.eval(p.l, evs, level)
		v.eval(p.r, evs, level+1)
		other := v.bufs[level+1][:v.words]
		if p.op == opAnd {
			for i := range dst {
				dst[i] &= other[i]
			}
		} else {
			for i := range dst {
				dst[i] |= other[i]
			}
		}
	case opNot:
		v.eval(p.l, evs, level)
		for i := range dst {
			dst[i] = ^dst[i]
		}
	case opCmp:
		inRange(v.column(p.field, evs), p.lo, p.span, p.neg, dst)
	case opIn:
		col := v.column(p.field, evs)
		fill(dst, 0)
		for _, x := range p.set {
			orEqual(col, x, dst)
		}
	case opHas:
		hasBits(v.column(p.field, evs), p.val, dst)
	}
}

func fill(dst []uint64, w uint64) {
	for i := range dst {
		dst[i] = w
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// inRange sets dst to the bitmap of (col[i]-lo <= span) != neg.
func inRange(col []uint64, lo, span uint64, neg bool, dst []uint64) {
	flip := uint64(0)
	if neg {
		flip = ^uint64(0)
	}
	for w := range dst {
		chunk := col[w*64 : min(w*64+64, len(col))]
		var bits uint64
		for j, x := range chunk {
			bits |= b2u(x-lo <= span) << (uint(j) & 63)
		}
		dst[w] = bits ^ flip
	}
}

// orEqual ors into dst the bitmap of col[i] == x.
func orEqual(col []uint64, x uint64, dst []uint64) {
	for w := range dst {
		chunk := col[w*64 : min(w*64+64, len(col))]
		var bits uint64
		for j, c := range chunk {
			bits |= b2u(c == x) << (uint(j) & 63)
		}
		dst[w] |= bits
	}
}

// hasBits sets dst to the bitmap of col[i]&m == m.
func hasBits(col []uint64, m uint64, dst []uint64) {
	for w := range dst {
		chunk := col[w*64 : min(w*64+64, len(col))]
		var bits uint64
		for j, c := range chunk {
			bits |= b2u(c&m == m) << (uint(j) & 63)
		}
		dst[w] = bits
	}
}
