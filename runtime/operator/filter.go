package operator

import (
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/runtime/spec"
)

var filterSpec = spec.Spec{
	{Name: "expr", Kind: spec.String, Required: true, Doc: "Predicate on event fields, such as `kind == packet and len > 64`; see the expression syntax."},
	{Name: "drop", Kind: spec.Bool, Default: false, Doc: "Drop the matching events instead of keeping them."},
}

// Filter keeps the events that match a predicate and marks the others
// dropped; with Drop set it does the opposite.
type Filter struct {
	p    *pred
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
	return &Filter{p: p, drop: c.Drop}, nil
}

// Apply marks with cabi.FlagDrop the live events the filter rejects.
func (f *Filter) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop != 0 {
			continue
		}
		if f.p.eval(e) == f.drop {
			e.Flags |= cabi.FlagDrop
		}
	}
}
