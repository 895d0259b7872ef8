package operator

import (
	"math"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var rateLimitSpec = spec.Spec{
	{Name: "rate", Kind: spec.Float, Required: true, Min: 1e-6, Doc: "Events per second to pass on average."},
	{Name: "burst", Kind: spec.Uint, Default: 0, Doc: "Events that may pass at once after a quiet spell (the bucket size); 0 means one second's worth, at least 1."},
}

// RateLimit passes at most rate events per second on average, with bursts
// of up to burst events, by a token bucket that starts full and refills
// with the now passed to Apply. Events over the limit are marked dropped.
type RateLimit struct {
	rate, burst, tokens float64
	last                time.Time
}

var _ Op = (*RateLimit)(nil)

func newRateLimit(config []byte) (Op, error) {
	var c struct {
		Rate  float64 `json:"rate"`
		Burst uint64  `json:"burst"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	burst := float64(c.Burst)
	if burst == 0 {
		burst = math.Max(1, math.Ceil(c.Rate))
	}
	return &RateLimit{rate: c.Rate, burst: burst, tokens: burst}, nil
}

// Apply refills the bucket for the time since the last call and spends one
// token per live event, dropping the events it cannot pay for.
func (r *RateLimit) Apply(b *cabi.Batch, now time.Time) {
	if !r.last.IsZero() {
		if dt := now.Sub(r.last); dt > 0 {
			r.tokens = math.Min(r.burst, r.tokens+dt.Seconds()*r.rate)
		}
	}
	// Follow the clock even backwards, so that one far-off time (such as
	// the engine's final flush) cannot stop refills for good.
	r.last = now
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop != 0 {
			continue
		}
		if r.tokens >= 1 {
			r.tokens--
		} else {
			e.Flags |= cabi.FlagDrop
		}
	}
}
