package operator

import (
	"math/rand/v2"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var sampleSpec = spec.Spec{
	{Name: "n", Kind: spec.Uint, Required: true, Min: 1, Doc: "Keep one event in every n on average; 1 keeps all."},
	{Name: "mode", Kind: spec.Enum, Enum: []string{"random", "every"}, Default: "random",
		Doc: "random keeps each live event with probability 1/n, independently, so no pattern in the stream (request then reply) lines up with the rate; every keeps the first live event and then every nth, which is exact but biased by such patterns."},
	{Name: "seed", Kind: spec.Uint, Default: uint64(0), Doc: "Seed of the random draw, for a repeatable run; 0 draws a new seed at start."},
}

// Sample keeps one event in every n. In random mode (the default) each live
// event is kept with probability 1/n, drawn independently, so the kept
// events are an unbiased sample of the stream whatever its pattern. In
// every mode it keeps the first live event, then every nth after it; the
// count runs across batches, so the result depends only on the order of
// events.
type Sample struct {
	n, seen uint64
	rng     *rand.Rand // nil in every mode
}

var _ Op = (*Sample)(nil)

func newSample(config []byte) (Op, error) {
	var c struct {
		N    uint64 `json:"n"`
		Mode string `json:"mode"`
		Seed uint64 `json:"seed"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	s := &Sample{n: c.N}
	if c.Mode != "every" {
		seed := c.Seed
		if seed == 0 {
			seed = rand.Uint64()
		}
		s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	return s, nil
}

// Apply marks the live events it does not keep dropped.
func (s *Sample) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop != 0 {
			continue
		}
		if s.rng != nil {
			if s.n > 1 && s.rng.Uint64N(s.n) != 0 {
				e.Flags |= cabi.FlagDrop
			}
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
