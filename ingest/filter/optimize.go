package filter

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// The compiler tags simple tests, "field == k" (or >, >=) where field is a
// packet load at a constant offset, possibly masked. thread then does what
// libpcap's optimizer does for the common cases: along every jump it works
// out which field values are known (a field tested equal or not equal to a
// constant earlier on every path there) and sends jumps into a test whose
// outcome is known straight to that outcome, so "port 80 or port 443" tests
// the EtherType and IP protocol once; code no jump reaches any more is
// removed. Skipping a test skips only loads that already succeeded on the
// way, so a packet is never judged on bytes it lacks.

// fieldKey names a packet field: size bytes at off, masked; with hl, off
// is counted from the end of the IPv4 header at hlOff (4*(pkt[hlOff]&0xf)
// + off).
type fieldKey struct {
	off   uint64
	size  int
	mask  uint32
	hl    bool
	hlOff uint64
}

// testStart marks the first instruction of a simple test: load
// instructions leave the field in R0, then, when slot is not 0, one stores
// it to that stack slot, and the conditional jump is jcc instructions from
// the start.
type testStart struct {
	key  fieldKey
	load int
	slot int16
	jcc  int
}

// testJcc marks the conditional jump of a simple test on key, which
// compares R0 (the field) with the jump's constant; slot is where the test
// left the field, 0 for nowhere.
type testJcc struct {
	key  fieldKey
	slot int16
}

// availKey marks, in facts, that a field's value is in its stack slot.
type availKey struct{ key fieldKey }

// fieldFact is what is known of a field: its value (eq) or values it does
// not have.
type fieldFact struct {
	eq bool
	v  uint32
	ne []uint32
}

type facts map[any]fieldFact

func (f facts) with(k fieldKey, x fieldFact) facts {
	g := make(facts, len(f)+2)
	for kk, v := range f {
		g[kk] = v
	}
	if old, ok := g[k]; ok && !x.eq {
		if old.eq {
			return g // knowing the value says more
		}
		x.ne = append(append([]uint32(nil), old.ne...), x.ne...)
	}
	g[k] = x
	return g
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// intersect keeps what both a and b know.
func intersect(a, b facts) facts {
	out := facts{}
	for k, x := range a {
		y, ok := b[k]
		if !ok {
			continue
		}
		if _, isAvail := k.(availKey); isAvail {
			out[k] = x
			continue
		}
		switch {
		case x.eq && y.eq && x.v == y.v:
			out[k] = x
		case x.eq && y.eq:
		default:
			// What neither side allows.
			var ne []uint32
			cand := x.ne
			if x.eq {
				cand = y.ne
			}
			for _, v := range cand {
				okA := (x.eq && x.v != v) || (!x.eq && containsU32(x.ne, v))
				okB := (y.eq && y.v != v) || (!y.eq && containsU32(y.ne, v))
				if okA && okB {
					ne = append(ne, v)
				}
			}
			if len(ne) > 0 {
				out[k] = fieldFact{ne: ne}
			}
		}
	}
	return out
}

// edgeFacts are the facts along the taken (taken true) or fall-through
// edge of the jump ins, given the facts before it.
func edgeFacts(ins asm.Instruction, in facts, taken bool) facts {
	tj, ok := ins.Metadata.Get(testJcc{}).(testJcc)
	if !ok {
		return in
	}
	if tj.slot != 0 {
		if _, ok := in[availKey{tj.key}]; !ok {
			g := make(facts, len(in)+2)
			for kk, v := range in {
				g[kk] = v
			}
			g[availKey{tj.key}] = fieldFact{eq: true}
			in = g
		}
	}
	op := ins.OpCode.JumpOp()
	k := uint32(ins.Constant)
	if !taken {
		switch op {
		case asm.JEq:
			op = asm.JNE
		case asm.JNE:
			op = asm.JEq
		default:
			return in
		}
	}
	switch op {
	case asm.JEq:
		return in.with(tj.key, fieldFact{eq: true, v: k})
	case asm.JNE:
		return in.with(tj.key, fieldFact{ne: []uint32{k}})
	}
	return in
}

// decide tells the outcome of the conditional jump ins of a test on key,
// if the facts know it.
func decide(ins asm.Instruction, key fieldKey, f facts) (taken, known bool) {
	k := uint32(ins.Constant)
	x, ok := f[key]
	if !ok && key.mask != 0xffffffff {
		// A known whole value decides a masked test too.
		if w, ok2 := f[fieldKey{off: key.off, size: key.size, mask: 0xffffffff, hl: key.hl, hlOff: key.hlOff}]; ok2 && w.eq {
			x, ok = fieldFact{eq: true, v: w.v & key.mask}, true
		}
	}
	if !ok {
		return false, false
	}
	op := ins.OpCode.JumpOp()
	if !x.eq {
		if containsU32(x.ne, k) {
			switch op {
			case asm.JEq:
				return false, true
			case asm.JNE:
				return true, true
			}
		}
		return false, false
	}
	v := x.v
	switch op {
	case asm.JEq:
		return v == k, true
	case asm.JNE:
		return v != k, true
	case asm.JGT:
		return v > k, true
	case asm.JLE:
		return v <= k, true
	case asm.JGE:
		return v >= k, true
	case asm.JLT:
		return v < k, true
	}
	return false, false
}

func isJump(ins asm.Instruction) bool {
	c := ins.OpCode.Class()
	if !c.IsJump() {
		return false
	}
	op := ins.OpCode.JumpOp()
	return op != asm.Call && op != asm.Exit
}

// thread threads jumps through tests whose outcome is known and removes
// the code that becomes unreachable.
func thread(insns asm.Instructions) (asm.Instructions, error) {
	labels := 0
	for round := 0; round < 16; round++ {
		idx := map[string]int{}
		for i, ins := range insns {
			if s := ins.Symbol(); s != "" {
				idx[s] = i
			}
		}
		n := len(insns)
		in := make([]facts, n+1)
		have := make([]bool, n+1)
		merge := func(j int, f facts) {
			if !have[j] {
				in[j], have[j] = f, true
			} else {
				in[j] = intersect(in[j], f)
			}
		}
		target := func(ins asm.Instruction) (int, error) {
			j, ok := idx[ins.Reference()]
			if !ok {
				return 0, fmt.Errorf("filter: jump to unknown label %q", ins.Reference())
			}
			return j, nil
		}
		merge(0, facts{})
		for i := 0; i < n; i++ {
			if !have[i] {
				continue
			}
			ins := insns[i]
			switch {
			case isJump(ins):
				j, err := target(ins)
				if err != nil {
					return nil, err
				}
				if ins.OpCode.JumpOp() == asm.Ja {
					merge(j, in[i])
				} else {
					merge(j, edgeFacts(ins, in[i], true))
					merge(i+1, edgeFacts(ins, in[i], false))
				}
			case ins.OpCode.JumpOp() == asm.Exit && ins.OpCode.Class().IsJump():
			default:
				merge(i+1, in[i])
			}
		}
		// labelAt returns a label on instruction j, adding one if needed.
		labelAt := func(j int) string {
			if s := insns[j].Symbol(); s != "" {
				return s
			}
			labels++
			s := fmt.Sprintf("weir_filter.T%d", labels)
			insns[j] = insns[j].WithSymbol(s)
			return s
		}
		// resolve follows decided tests from j with facts f; it returns
		// the instruction reached and whether it moved.
		resolve := func(j int, f facts) (int, bool) {
			moved := false
			for hops := 0; hops < 64 && j < n; hops++ {
				ts, ok := insns[j].Metadata.Get(testStart{}).(testStart)
				if !ok {
					break
				}
				jcc := insns[j+ts.jcc]
				taken, known := decide(jcc, ts.key, f)
				if !known {
					break
				}
				if taken {
					t, err := target(jcc)
					if err != nil {
						break
					}
					j = t
				} else {
					j = j + ts.jcc + 1
				}
				moved = true
			}
			return j, moved
		}
		changed := false
		out := make(asm.Instructions, 0, n)
		// Retarget jumps; give decided fall-throughs an explicit jump.
		type fix struct {
			after int
			label string
		}
		var fixes []fix
		for i := 0; i < n; i++ {
			if !have[i] {
				continue
			}
			ins := insns[i]
			if isJump(ins) {
				j, _ := target(ins)
				f := in[i]
				if ins.OpCode.JumpOp() != asm.Ja {
					f = edgeFacts(ins, in[i], true)
				}
				if nj, moved := resolve(j, f); moved {
					insns[i] = insns[i].WithReference(labelAt(nj))
					changed = true
				}
				if ins.OpCode.JumpOp() == asm.Ja {
					continue
				}
				if nj, moved := resolve(i+1, edgeFacts(ins, in[i], false)); moved {
					fixes = append(fixes, fix{i, labelAt(nj)})
				}
				continue
			}
			if ins.OpCode.JumpOp() == asm.Exit && ins.OpCode.Class().IsJump() {
				continue
			}
			if nj, moved := resolve(i+1, in[i]); moved {
				fixes = append(fixes, fix{i, labelAt(nj)})
			}
		}
		fi := 0
		for i := 0; i < n; i++ {
			if !have[i] {
				changed = true
				continue
			}
			out = append(out, insns[i])
			for fi < len(fixes) && fixes[fi].after == i {
				out = append(out, asm.Ja.Label(fixes[fi].label))
				changed = true
				fi++
			}
		}
		insns = out
		if !changed {
			// Last, tests of a field whose value is in its slot on every
			// path there read the slot instead of the packet.
			return dropJumpsToNext(useCached(insns, have, in)), nil
		}
	}
	return dropJumpsToNext(insns), nil
}

// useCached replaces the loads of tests whose field is in its stack slot on
// entry (facts in) by one load from the slot.
func useCached(insns asm.Instructions, have []bool, in []facts) asm.Instructions {
	out := make(asm.Instructions, 0, len(insns))
	for i := 0; i < len(insns); i++ {
		ins := insns[i]
		ts, ok := ins.Metadata.Get(testStart{}).(testStart)
		if ok && have[i] && ts.slot != 0 {
			if _, avail := in[i][availKey{ts.key}]; avail {
				ld := asm.LoadMem(asm.R0, asm.RFP, ts.slot, asm.DWord).WithSymbol(ins.Symbol())
				out = append(out, ld)
				i += ts.load // skip the loads and the store
				continue
			}
		}
		out = append(out, ins)
	}
	return out
}

// dropJumpsToNext removes unconditional jumps to the next instruction.
func dropJumpsToNext(insns asm.Instructions) asm.Instructions {
	out := make(asm.Instructions, 0, len(insns))
	for i, ins := range insns {
		if isJump(ins) && ins.OpCode.JumpOp() == asm.Ja && ins.Symbol() == "" && i+1 < len(insns) && insns[i+1].Symbol() == ins.Reference() {
			continue
		}
		out = append(out, ins)
	}
	return out
}
