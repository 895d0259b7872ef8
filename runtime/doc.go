// Package runtime is weir's event engine, usable as a Go library.
//
// It moves batches of cabi.Event descriptors from sources, through
// pipelines of operators, to sinks. Built-in connectors written in Go and
// plugin connectors loaded through cabi are registered in one Registry and
// are indistinguishable to the engine. Every edge between components is a
// bounded queue with its own overflow policy, and every event is accounted
// for: for each component and edge, in = out + dropped + in flight, where a
// pipeline's in counts what its edges delivered plus, apart, what its
// operators emitted.
//
// # Engine
//
// CheckGraph reports every way a Graph breaks the graph rules (names,
// types, roles, ports, queues, duplicate edges, cycles), each as a
// GraphProblem that locates the part concerned. New checks a Graph with
// it and fails with a GraphError listing them all; Start creates the connector
// instances and runs one goroutine per source, pipeline and sink; Shutdown
// drains; Reload switches to a new Graph keeping unchanged connectors;
// Stats returns a Snapshot of every counter, and Handler serves it as
// Prometheus text with a /healthz. Run does Start, waits, and Shutdown.
//
// Batches come from per-producer pools of off-heap cabi batches (a memory
// bound: a producer whose batches are all in flight waits). The engine
// works per batch only — a reference count, queue operations and counters —
// and allocates nothing in steady state.
//
// # Supervision
//
// Each instance is created, then Connect is retried with exponential
// backoff and jitter (attempt from 1), then Start. Panics in any connector
// call are recovered and counted. A source whose Poll fails MaxPollErrors
// times in a row, and a sink or processor that panics, is stopped, closed
// and recreated with backoff. A sink's circuit breaker opens after
// BreakerFailures consecutive failed writes (cabi.Retry or cabi.Error),
// pauses every source whose batches can reach the sink (Pause is called and
// polling stops, so a kernel ring drops in the kernel), and half-opens
// after BreakerCooldown on a timer: a batch still queued for the sink is
// the trial, or, when none is (a batch answered cabi.Error is dropped),
// the sources are resumed until the first write. A successful trial closes
// the breaker and resumes them; a failed one opens it again and pauses
// them. /healthz answers 503 while a breaker is open. A
// batch answered with cabi.Retry is retried, never dropped; one answered
// with cabi.Error is dropped (reason sink_error).
//
// A connector call that has not returned when Shutdown's drain timeout and
// a kill grace have passed (or at once, after Kill) is abandoned: that
// instance is never called again, nor stopped or closed, since a plugin
// instance destroyed under a running call would corrupt memory. Its state
// is "stuck", ComponentStats.Abandoned counts it, and the log names the
// connector, its type and the call. Reload refuses to start while a call
// has been stuck longer than the drain timeout. A Connect or Poll error
// that wraps connector.ErrPermanent fails the connector at once instead of
// being retried.
//
// # Fan-out and copies
//
// A batch sent to several edges is shared by reference count. Sinks only
// read, so edges into sinks share the batch; an edge into a pipeline, which
// may rewrite bytes in place, receives a deep copy whenever the batch is
// shared or borrows its bytes (copy-on-fanout). A router's outputs are
// built as descriptor-only batches whose bytes stay in the routed batch.
// A source whose events point outside the batch arena (into a ring or its
// own memory) is not polled again until that batch is fully delivered.
//
// A full edge with policy block makes its producer wait. In a fan-out, an
// edge that is not coupled makes it wait only while every sibling edge
// still has batches queued; when a sibling runs dry the batch is shed on
// the full edge (reason decoupled), so one slow sink never stalls the
// others. A coupled edge always waits, stalling its siblings.
//
// # Disk buffers
//
// An edge with a BufferDef keeps its queue in a crash-safe disk buffer
// (package diskbuf) instead of memory: offered batches are appended to
// checksummed segment files and its consumer reads them back in order. A
// batch leaves the buffer only once its consumer is done with it (written,
// or dropped and counted); an Acker source is acked once the batch is in
// the buffer as durably as the buffer's fsync policy promises. At a stop
// the consumer stops reading and what is left stays for the next start,
// which replays it first (EdgeStats.Buffer counts it as replayed, and it
// enters the edge's ledger as events in). A full buffer applies the
// edge's policy (block or drop_newest); a failed write drops the batch
// with ReasonBufferError, but a full disk makes a block edge wait while
// its buffer holds records whose delivery frees space; a batch read but not written when a stop gives
// up is counted with ReasonKept and stays in the buffer. A sink's breaker
// pauses no source behind a disk buffer.
//
// # Acknowledgements
//
// A source that implements Acker gets exactly one Ack or Fail per batch,
// in its own goroutine, once every copy and routed part of the batch has
// been written or dropped; any drop on the way makes it a Fail. Only the
// instance that produced a batch hears of it: a batch still in flight
// when its instance is recreated after dying, or when the connector is
// shut down, is counted as AcksDropped instead.
package runtime
