package operator

import (
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var sampleSpec = spec.Spec{
	{Name: "n", Kind: spec.Uint, Required: true, Min: 1, Doc: "Keep one event in every n; 1 keeps all."},
}

// Sample keeps one event in every n: the first live event it sees, then
// every nth after it. The count runs across batches, so the result depends
// only on the order of events, never on timing.
type Sample struct {
	n, seen uint64
}

var _ Op = (*Sample)(nil)

func newSample(config []byte) (Op, error) {
	var c struct {
		N uint64 `json:"n"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	return &Sample{n: c.N}, nil
}

// Apply marks all but every nth live event dropped.
func (s *Sample) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop != 0 {
			continue
		}
		if s.seen != 0 {
			e.Flags |= cabi.FlagDrop
		}
		s.seen++
		if s.seen == s.n {
			s.seen = 0
		}
	}
}
