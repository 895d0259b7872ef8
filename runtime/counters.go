package runtime

import "sync/atomic"

// reason indexes the drop counters; reasonNames gives the label.
type reason int

const (
	rFull reason = iota
	rOldest
	rDecoupled
	rOperator
	rUnrouted
	rUnconnected
	rSinkError
	rShutdown
	rProcessor
	rPollFailed
	rKept
	rBufferError
	rCorrupt
	numReasons
)

var reasonNames = [numReasons]string{
	rFull:        ReasonFull,
	rOldest:      ReasonOldest,
	rDecoupled:   ReasonDecoupled,
	rOperator:    ReasonOperator,
	rUnrouted:    ReasonUnrouted,
	rUnconnected: ReasonUnconnected,
	rSinkError:   ReasonSinkError,
	rShutdown:    ReasonShutdown,
	rProcessor:   ReasonProcessor,
	rPollFailed:  ReasonPollFailed,
	rKept:        ReasonKept,
	rBufferError: ReasonBufferError,
	rCorrupt:     ReasonCorrupt,
}

// counters are one component's or edge's figures. All are atomic so the
// hot path never takes a lock or allocates to count.
type counters struct {
	evIn, evOut       atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
	batIn, batOut     atomic.Uint64
	emitted           atomic.Uint64
	drops             [numReasons]atomic.Uint64
	dropBatches       [numReasons]atomic.Uint64
	errors, retries   atomic.Uint64
	restarts, panics  atomic.Uint64
	connects          atomic.Uint64
	acks, fails       atomic.Uint64
	// ackDrops counts finished batches of an Acker source whose instance
	// had ended, so neither Ack nor Fail could be called.
	ackDrops atomic.Uint64
}

func (c *counters) in(events, bytes uint64) {
	c.evIn.Add(events)
	c.bytesIn.Add(bytes)
	c.batIn.Add(1)
}

func (c *counters) out(events, bytes uint64) {
	c.evOut.Add(events)
	c.bytesOut.Add(bytes)
	c.batOut.Add(1)
}

func (c *counters) drop(r reason, events uint64) {
	c.drops[r].Add(events)
	c.dropBatches[r].Add(1)
}

// dropMaps returns the non-zero drop counters by reason name.
func (c *counters) dropMaps() (events, batches map[string]uint64) {
	events = map[string]uint64{}
	batches = map[string]uint64{}
	for r := reason(0); r < numReasons; r++ {
		if v := c.drops[r].Load(); v != 0 {
			events[reasonNames[r]] = v
		}
		if v := c.dropBatches[r].Load(); v != 0 {
			batches[reasonNames[r]] = v
		}
	}
	return events, batches
}

// component fills the counter fields of a ComponentStats.
func (c *counters) component(s *ComponentStats) {
	s.EventsIn, s.EventsOut = c.evIn.Load(), c.evOut.Load()
	s.BytesIn, s.BytesOut = c.bytesIn.Load(), c.bytesOut.Load()
	s.BatchesIn, s.BatchesOut = c.batIn.Load(), c.batOut.Load()
	s.Emitted = c.emitted.Load()
	s.Dropped, _ = c.dropMaps()
	s.Errors, s.Retries = c.errors.Load(), c.retries.Load()
	s.Restarts, s.Panics = c.restarts.Load(), c.panics.Load()
	s.ConnectAttempts = c.connects.Load()
	s.Acks, s.Fails = c.acks.Load(), c.fails.Load()
	s.AcksDropped = c.ackDrops.Load()
	s.InFlight = s.inFlight()
}
