package operator

import (
	"time"

	"github.com/weirproject/weir/cabi"
)

// Op is one step of a pipeline. Apply looks at every event of b not yet
// marked with cabi.FlagDrop, marks the ones to drop, and may rewrite events
// in place (shorten Len, set flags). It never changes b.Len. The pipeline
// compacts dropped events away after its last step.
type Op interface {
	Apply(b *cabi.Batch, now time.Time)
}

// Router is an Op that also sends events to named outputs. Outputs lists
// the output names in a fixed order; Route returns, for one event, a bit
// mask over that order (bit i set: the event goes to Outputs()[i]). An event
// with mask 0 goes nowhere and is counted as dropped by the route.
type Router interface {
	Op
	Outputs() []string
	Route(e *cabi.Event) uint64
}

// Emitter is an Op that makes new events of its own, like a windowed
// aggregation. Apply consumes (marks dropped) the events it absorbs; Flush
// appends the events due at now to out and returns the time it next wants
// to be flushed (zero: no pending work).
type Emitter interface {
	Op
	Flush(now time.Time, out *cabi.Batch) (next time.Time)
}
