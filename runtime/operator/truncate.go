package operator

import (
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var truncateSpec = spec.Spec{
	{Name: "max", Kind: spec.Size, Required: true, Max: uint64(1<<32 - 1), Doc: "Largest event length in bytes to keep; longer events are cut to it and flagged truncated."},
}

// Truncate cuts events longer than a maximum to that length and sets
// cabi.FlagTruncated on them. The bytes are not moved.
type Truncate struct {
	max uint32
}

var _ Op = (*Truncate)(nil)

func newTruncate(config []byte) (Op, error) {
	var c struct {
		Max uint32 `json:"max"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	return &Truncate{max: c.Max}, nil
}

// Apply shortens the live events longer than the maximum.
func (t *Truncate) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop == 0 && e.Len > t.max {
			e.Len = t.max
			e.Flags |= cabi.FlagTruncated
		}
	}
}
