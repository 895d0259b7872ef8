package runtime

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/weirproject/weir/connector"
)

// Roles a component plays in a Snapshot.
const (
	// StatSource is the source side of a connector.
	StatSource = "source"
	// StatSink is the sink side of a connector.
	StatSink = "sink"
	// StatPipeline is a pipeline.
	StatPipeline = "pipeline"
	// StatProcessor is a processor connector inside a pipeline, named
	// PIPELINE/STEP (the step's position from 1).
	StatProcessor = "processor"
)

// Drop reasons, as they appear in Snapshot.Dropped maps and in the
// reason label of the weir_dropped_events_total metric.
const (
	// ReasonFull means an edge with policy drop_newest was full.
	ReasonFull = "full"
	// ReasonOldest means an edge with policy drop_oldest evicted its oldest batch.
	ReasonOldest = "oldest"
	// ReasonDecoupled means a full block edge in a fan-out that is not coupled
	// shed the batch so its siblings could proceed.
	ReasonDecoupled = "decoupled"
	// ReasonOperator means a pipeline operator or processor marked the
	// event with cabi.FlagDrop (filtered, sampled out, rate-limited,
	// absorbed).
	ReasonOperator = "operator"
	// ReasonUnrouted means a router sent the event to no output, or the output
	// it chose has no edge.
	ReasonUnrouted = "unrouted"
	// ReasonUnconnected means a source or pipeline output has no edge.
	ReasonUnconnected = "unconnected"
	// ReasonSinkError means a sink answered cabi.Error for the batch.
	ReasonSinkError = "sink_error"
	// ReasonShutdown means the drain timeout expired with the batch in flight,
	// or a processor failed on it.
	ReasonShutdown = "shutdown"
	// ReasonProcessor means a processor connector in a pipeline failed on the
	// batch.
	ReasonProcessor = "processor"
	// ReasonPollFailed means a source's poll failed (it answered an error,
	// or left a batch that failed the host's checks) after appending
	// events: whatever the batch held is discarded, never delivered.
	ReasonPollFailed = "poll_failed"
	// ReasonKept means the engine stopped before delivering a batch it had
	// read from a disk buffer: the batch stays in the buffer, and the next
	// start delivers it.
	ReasonKept = "kept_in_buffer"
	// ReasonBufferError means a disk buffer could not store the batch: the
	// write failed (a full disk, an I/O error, a read-only file system) or
	// the batch is larger than the buffer.
	ReasonBufferError = "buffer_error"
	// ReasonCorrupt means a batch in a disk buffer was found damaged when
	// read back (its checksum failed) and was skipped.
	ReasonCorrupt = "corrupt"
)

// Snapshot is a consistent-enough copy of every counter of an Engine. Each
// counter is read atomically; counters of different components are read
// one after another while traffic flows, so the accounting identity holds
// exactly only when the engine is idle or stopped.
type Snapshot struct {
	// Taken is when the snapshot was made.
	Taken time.Time
	// Components lists sources, sinks and pipelines, sorted by name and
	// role. A connector that is both source and sink has two entries.
	Components []ComponentStats
	// Edges lists every edge in graph order.
	Edges []EdgeStats
	// Removed holds the figures of what reloads took out of the config,
	// which Components and Edges no longer list.
	Removed RemovedStats
}

// RemovedStats are the final figures of the components and edges that
// reloads removed: a connector, pipeline or processor step whose name and
// role the new config no longer has (a removed connector or pipeline, a
// role a changed connector lost, a step a changed pipeline lost), and an
// edge whose ends it no longer connects (such as one from a source that
// stays to a sink that goes). Each is read at every snapshot from what
// the reload took out: once the reload has drained, stopped and closed
// it, its StopFailure, Abandoned and drops are there, and its ledger
// closes as a live one's does; one that a killed or timed-out reload left
// still finishing (an abandoned call that returns later, drops counted
// after the reload moved on) goes on counting. One removed more than once
// (added back by a later reload, then removed again) has one entry, the
// sum of its lives, with the Type, State and Circuit (and for an edge the
// settings and Buffer) of the last; while it is back, its live entry
// counts from zero (see Engine.Reload).
type RemovedStats struct {
	// Components are sorted by name and role, as Snapshot.Components.
	Components []ComponentStats
	// Edges are in the order they were removed.
	Edges []EdgeStats
}

// ComponentStats are the counters of one side of a connector, or of a
// pipeline. For every entry EventsIn + Emitted = EventsOut + dropped +
// InFlight, where Emitted is zero except for a pipeline:
//   - for a source, EventsIn counts events polled, EventsOut events handed
//     to at least one edge;
//   - for a pipeline, EventsIn counts events received from its edges,
//     Emitted events its operators created (an aggregate's rollups),
//     EventsOut events handed to at least one edge, and dropped both kinds:
//     an aggregate drops every event it absorbs with ReasonOperator and
//     emits its rollups;
//   - for a sink, EventsIn counts events taken from its edges, EventsOut
//     events written with cabi.OK;
//   - for a processor, EventsIn counts the events of the batches handed to
//     it that earlier steps had not marked dropped, EventsOut those it left
//     unmarked; the events it marked are dropped with ReasonOperator, and
//     every event of a batch it failed on with ReasonProcessor.
//
// Every counter only grows, across restarts and reloads alike: a component
// that a reload replaces (a connector or pipeline whose definition
// changed) keeps adding to the totals of the one it replaces, for each
// role it had before and still has, and the final figures of a role it
// lost, or of a component a reload removes, go to Snapshot.Removed; see
// Engine.Reload.
type ComponentStats struct {
	Name string
	// Type is the connector type ID, or "pipeline".
	Type string
	// Role is StatSource, StatSink, StatPipeline or StatProcessor.
	Role string
	// State is the lifecycle state: "creating", "connecting", "running",
	// "paused", "draining", "stopped", "failed" or "stuck". A connector
	// that never ran because its create, connect or start failed stays
	// "failed" after Shutdown. One whose instance was abandoned because a
	// call into it did not return within the drain timeout and the kill
	// grace is "stuck" (see Abandoned).
	State string
	// Failure is the last create, connect or start error of a connector
	// that is not running because of it; empty once it runs, and for
	// pipelines.
	Failure string
	// StopFailure is the first error of the connector's final drain,
	// stop or close, when it is stopped or removed: what it still held
	// (a sink's buffered output) may not have reached its destination,
	// although the events count as written. On the first entry of a
	// connector with two roles only.
	StopFailure string
	// StopFailureType is the type of the instance whose StopFailure it
	// is when a reload replaced it with one of another type (Type), and
	// empty when it is Type.
	StopFailureType string

	EventsIn, EventsOut   uint64
	BytesIn, BytesOut     uint64
	BatchesIn, BatchesOut uint64
	// Emitted counts events created by pipeline operators; they are not
	// in EventsIn, BytesIn or BatchesIn.
	Emitted uint64
	// Dropped counts dropped events by reason.
	Dropped map[string]uint64
	// InFlight is EventsIn + Emitted - EventsOut - dropped.
	InFlight int64

	// Errors counts failed calls (Poll, Write, Process, lifecycle).
	Errors uint64
	// Retries counts sink writes retried after cabi.Retry or an error.
	Retries uint64
	// Restarts counts how often the instance was recreated after dying.
	Restarts uint64
	// ConnectAttempts counts Connect calls.
	ConnectAttempts uint64
	// Panics counts recovered panics from connector calls.
	Panics uint64
	// Abandoned counts instances given up on because a call into them
	// (named in the log) had not returned when Shutdown or Reload gave up
	// waiting: such an instance is never called again, nor stopped or
	// closed, and the events of that call stay in flight.
	Abandoned uint64
	// StuckCall is the call (such as "write") that had not returned when
	// the live instance was abandoned; "" when it was not.
	StuckCall string
	// Acks and Fails count acknowledgement callbacks to an Acker source.
	Acks, Fails uint64
	// AcksDropped counts batches of an Acker source that got neither Ack
	// nor Fail because the instance that produced them had ended first:
	// it died and was recreated, or the connector was shut down, before
	// every sink answered. Once the engine has stopped, Acks + Fails +
	// AcksDropped is the number of batches the source produced.
	AcksDropped uint64
	// Circuit is the sink's breaker state: "closed", "open" or
	// "half_open"; empty for other roles.
	Circuit string
	// Counters are the connector's own counts (connector.Counting),
	// summed over every instance it had, across restarts and reloads:
	// for a kernel source, what happened to packets before the engine
	// saw them. They are shown on the source side of a connector that
	// has one.
	Counters []connector.Counter
}

// DroppedTotal sums Dropped over every reason.
func (c ComponentStats) DroppedTotal() uint64 { return sumDrops(c.Dropped) }

// inFlight is what the accounting identity leaves in the component.
func (c ComponentStats) inFlight() int64 {
	return int64(c.EventsIn) + int64(c.Emitted) - int64(c.EventsOut) - int64(c.DroppedTotal())
}

// add adds the counters of o to c, which keeps its own name, type, role,
// state, failure and circuit; InFlight follows the sums. It never changes
// o's maps or slices.
func (c *ComponentStats) add(o ComponentStats) {
	c.EventsIn, c.EventsOut = c.EventsIn+o.EventsIn, c.EventsOut+o.EventsOut
	c.BytesIn, c.BytesOut = c.BytesIn+o.BytesIn, c.BytesOut+o.BytesOut
	c.BatchesIn, c.BatchesOut = c.BatchesIn+o.BatchesIn, c.BatchesOut+o.BatchesOut
	c.Emitted += o.Emitted
	c.Dropped = addDrops(c.Dropped, o.Dropped)
	c.Errors, c.Retries = c.Errors+o.Errors, c.Retries+o.Retries
	c.Restarts, c.Panics = c.Restarts+o.Restarts, c.Panics+o.Panics
	c.Abandoned += o.Abandoned
	if c.StuckCall == "" {
		c.StuckCall = o.StuckCall
	}
	if c.StopFailure == "" && o.StopFailure != "" {
		c.StopFailure, c.StopFailureType = o.StopFailure, o.StopFailureType
		if c.StopFailureType == "" {
			c.StopFailureType = o.Type
		}
		if c.StopFailureType == c.Type {
			c.StopFailureType = ""
		}
	}
	c.Acks, c.Fails = c.Acks+o.Acks, c.Fails+o.Fails
	c.ConnectAttempts, c.AcksDropped = c.ConnectAttempts+o.ConnectAttempts, c.AcksDropped+o.AcksDropped
	c.Counters = addCounters(c.Counters, o.Counters)
	c.InFlight = c.inFlight()
}

// carry adds to each entry of live the entry of base with the same name
// and role, if any: the final figures of what a reload replaced.
func carry(live, base []ComponentStats) []ComponentStats {
	for _, b := range base {
		for i := range live {
			if live[i].Name == b.Name && live[i].Role == b.Role {
				live[i].add(b)
			}
		}
	}
	return live
}

// header returns c's name, type, role, state, failure and circuit, with
// every counter zero.
func (c ComponentStats) header() ComponentStats {
	return ComponentStats{Name: c.Name, Type: c.Type, Role: c.Role, State: c.State, Failure: c.Failure, Circuit: c.Circuit}
}

// retireComponent returns removed with gone summed into the entry of the
// same name and role, or added in order; the sum has gone's header (see
// RemovedStats).
func retireComponent(removed []ComponentStats, gone ComponentStats) []ComponentStats {
	sum := gone.header()
	i, found := slices.BinarySearchFunc(removed, gone, func(a, b ComponentStats) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Role, b.Role))
	})
	if found {
		sum.add(removed[i])
		sum.add(gone)
		removed[i] = sum
		return removed
	}
	sum.add(gone)
	return slices.Insert(removed, i, sum)
}

// EdgeStats are the counters of one edge. EventsIn = EventsOut + dropped +
// QueuedEvents, and likewise for batches.
type EdgeStats struct {
	From, FromPort, To string
	Policy             string
	Couple             bool
	Capacity           int

	EventsIn, EventsOut   uint64
	BatchesIn, BatchesOut uint64
	BytesIn               uint64
	// Dropped counts dropped events by reason; DroppedBatches likewise
	// for batches.
	Dropped        map[string]uint64
	DroppedBatches map[string]uint64
	// QueuedEvents and QueuedBatches are what sits in the queue now; for
	// an edge with a disk buffer, what waits on disk to be read (after a
	// stop, what the next start replays).
	QueuedEvents, QueuedBatches int
	// Buffer holds the disk buffer's counters, nil for a memory queue.
	// Its replayed events count in EventsIn.
	Buffer *BufferStats
}

// DroppedTotal sums Dropped over every reason.
func (e EdgeStats) DroppedTotal() uint64 { return sumDrops(e.Dropped) }

// retireEdge returns removed with gone summed into the entry with the
// same ends, or appended; the sum has gone's settings and Buffer (see
// RemovedStats).
func retireEdge(removed []EdgeStats, gone EdgeStats) []EdgeStats {
	i := slices.IndexFunc(removed, func(r EdgeStats) bool {
		return r.From == gone.From && r.FromPort == gone.FromPort && r.To == gone.To
	})
	if i < 0 {
		return append(removed, gone)
	}
	r := removed[i]
	gone.EventsIn, gone.EventsOut = gone.EventsIn+r.EventsIn, gone.EventsOut+r.EventsOut
	gone.BatchesIn, gone.BatchesOut = gone.BatchesIn+r.BatchesIn, gone.BatchesOut+r.BatchesOut
	gone.BytesIn += r.BytesIn
	gone.QueuedEvents, gone.QueuedBatches = gone.QueuedEvents+r.QueuedEvents, gone.QueuedBatches+r.QueuedBatches
	gone.Dropped = addDrops(maps.Clone(r.Dropped), gone.Dropped)
	gone.DroppedBatches = addDrops(maps.Clone(r.DroppedBatches), gone.DroppedBatches)
	removed[i] = gone
	return removed
}

// addDrops adds the counts of more to sum, which it makes if nil, and
// returns it.
func addDrops(sum, more map[string]uint64) map[string]uint64 {
	if len(more) > 0 && sum == nil {
		sum = map[string]uint64{}
	}
	for r, v := range more {
		sum[r] += v
	}
	return sum
}

func sumDrops(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// Component returns the entry for name and role, and whether it exists.
func (s Snapshot) Component(name, role string) (ComponentStats, bool) {
	for _, c := range s.Components {
		if c.Name == name && c.Role == role {
			return c, true
		}
	}
	return ComponentStats{}, false
}

// Edge returns the first edge from from to to, and whether it exists.
func (s Snapshot) Edge(from, to string) (EdgeStats, bool) {
	for _, e := range s.Edges {
		if e.From == from && e.To == to {
			return e, true
		}
	}
	return EdgeStats{}, false
}
