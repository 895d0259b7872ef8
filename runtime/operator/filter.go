package operator

import (
	"math/bits"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var filterSpec = spec.Spec{
	{Name: "expr", Kind: spec.String, Required: true, Doc: "Predicate on event fields, such as `kind == packet and len > 64`; see the expression syntax."},
	{Name: "drop", Kind: spec.Bool, Default: false, Doc: "Drop the matching events instead of keeping them."},
}

// Filter keeps the events that match a predicate and marks the others
// dropped; with Drop set it does the opposite.
type Filter struct {
	p    *pred
	ev   *evaluator
	drop bool
}

var _ Op = (*Filter)(nil)

func newFilter(config []byte) (Op, error) {
	var c struct {
		Expr string `json:"expr"`
		Drop bool   `json:"drop"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	p, err := parsePred("expr", c.Expr)
	if err != nil {
		return nil, err
	}
	return &Filter{p: p, ev: newEvaluator(p), drop: c.Drop}, nil
}

// Apply marks with cabi.FlagDrop the live events the filter rejects. It
// evaluates the predicate over the whole batch at once.
func (f *Filter) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	if len(evs) == 0 {
		return
	}
	match := f.ev.run(evs)
	// An event is dropped when its match bit equals drop.
	flip := uint64(0)
	if !f.drop {
		flip = ^uint64(0)
	}
	for w, m := range match {
		d := m ^ flip
		if rest := len(evs) - w*64; rest < 64 {
			d &= 1<<rest - 1
		}
		for d != 0 {
			evs[w*64+bits.TrailingZeros64(d)].Flags |= cabi.FlagDrop
			d &= d - 1
		}
	}
}
