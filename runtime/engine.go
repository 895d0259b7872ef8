package runtime

import (
	"github.com/weirproject/weir/connector"

	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/weirproject/weir/runtime/operator"
)

// Backoff is an exponential backoff with jitter: the delay before retry n
// (n from 1) is Min·2^(n-1), capped at Max, then shortened by a random
// fraction of at most Jitter.
type Backoff struct {
	Min, Max time.Duration
	// Jitter is in [0, 1]; 0.2 means up to 20% shorter.
	Jitter float64
}

// OpFactory builds a built-in pipeline operator from its type and JSON
// config.
type OpFactory func(typ string, config []byte) (operator.Op, error)

// Options tune an Engine. The zero value of each field selects the default
// named in its comment.
type Options struct {
	// BatchEvents is the event capacity of each batch (1024).
	BatchEvents int
	// BatchBytes is the arena size of each batch in bytes (1 MiB).
	BatchBytes int
	// PoolBatches is how many batches each source and each pipeline may
	// have in flight at once (64). A source whose batches are all in
	// flight waits, which is backpressure.
	PoolBatches int
	// EdgeCapacity is the queue length of edges whose EdgeDef.Capacity is
	// 0 (16 batches).
	EdgeCapacity int
	// PollTimeout bounds each Poll call (50ms).
	PollTimeout time.Duration
	// ConnectBackoff paces Connect retries and instance restarts
	// (100ms to 30s, jitter 0.2).
	ConnectBackoff Backoff
	// RetryBackoff paces retried sink writes (5ms to 2s, jitter 0.2).
	RetryBackoff Backoff
	// BreakerFailures is how many consecutive failed writes open a sink's
	// circuit breaker (5).
	BreakerFailures int
	// BreakerCooldown is how long an open breaker waits before it lets one
	// write through (half-open) (2s).
	BreakerCooldown time.Duration
	// MaxPollErrors is how many consecutive Poll errors make the engine
	// restart a source instance (10).
	MaxPollErrors int
	// DrainTimeout bounds the drain in Run and Reload (10s).
	DrainTimeout time.Duration
	// MetricsAddr is where Start serves /healthz and /metrics; "" serves
	// nothing. Use "127.0.0.1:9464" for the conventional loopback port.
	MetricsAddr string
	// NewOp builds the built-in operators named in pipelines
	// (operator.New). Processor connector types from the registry take
	// precedence over operators of the same name.
	NewOp OpFactory
	// Log receives lifecycle and failure reports (slog.Default()).
	Log *slog.Logger
}

// ErrKilled is the cause of the error Shutdown returns when Kill ended it.
var ErrKilled = errors.New("engine killed")

// ErrStopped is returned by Engine methods called after Shutdown.
var ErrStopped = errors.New("engine stopped")

// ErrGraph wraps every error New and Reload return for an invalid graph.
var ErrGraph = errors.New("invalid graph")

// Engine runs a Graph: it creates and supervises the connector instances,
// moves batches through pipelines and edges, and keeps the counters a
// Snapshot reports. Its methods are safe for concurrent use.
//
// The life of an engine is New, Start (or Run), any number of Reload and
// Stats calls, then Shutdown.
type Engine struct {
	eng *engine
}

// New checks opts (see Options.Check) and g against reg and prepares an
// engine for it. It creates no connector instance; Start does.
func New(g Graph, reg *connector.Registry, opts Options) (*Engine, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	e, err := newEngine(g, reg, opts)
	if err != nil {
		return nil, err
	}
	return &Engine{eng: e}, nil
}

// Start creates every connector instance and starts moving events. It
// returns once the goroutines are running; connectors connect in the
// background, with retries, and Stats shows their state. ctx bounds only
// the start itself. Start fails if the metrics address cannot be bound.
func (e *Engine) Start(ctx context.Context) error { return e.eng.start(ctx) }

// Run starts the engine, waits until ctx is cancelled or every source has
// reached its end and everything it produced has been delivered, then
// drains within Options.DrainTimeout and stops.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-e.Finished():
	}
	dctx, cancel := context.WithTimeout(context.Background(), e.eng.opts.DrainTimeout)
	defer cancel()
	return e.Shutdown(dctx)
}

// Finished is closed when every source has reached EOF (or failed for good)
// and every batch it produced has reached its sinks.
func (e *Engine) Finished() <-chan struct{} { return e.eng.finished() }

// Shutdown drains the engine: sources stop taking input and are polled
// dry, pipelines flush, sinks write what is queued; then every instance is
// stopped and closed. Each source instance still polling gets Drain once
// and is then polled until it answers cabi.EOF or cabi.Timeout; what it
// returns flows to the sinks like any other batch. (A source that reached
// EOF earlier gets Drain without further polls.) A connector that is both
// source and sink gets no Write after Drain: it is drained only once its
// sink side has written everything sent to it, and is polled until then;
// one that feeds its own sink side (through pipelines or other such
// connectors) stops polling at once and is drained after its last Write,
// so what it still holds then is not polled. When ctx expires first,
// polling stops and what is still in flight is dropped with reason
// ReasonShutdown (and failed to Acker sources); so a source that keeps
// returning events after Drain holds Shutdown until ctx expires. Shutdown
// returns ctx's error in that case. Calling it again returns ErrStopped.
//
// Shutdown never waits on a connector call for long, whatever the call
// does: for the workers, at most a kill grace (5s) after ctx ends; for the
// Drain, Stop and Close it then makes, until the same moment, or one more
// kill grace if the workers used it up. An instance still in a call then
// (a Write, a Poll, or one of those) is abandoned: it is never called again, nor stopped or closed, since
// destroying it under a running call could corrupt memory. Its state is
// "stuck", ComponentStats.Abandoned counts it, and the log names the
// connector, its type and the call; the events of that call stay in
// flight. Kill ends the grace at once.
func (e *Engine) Shutdown(ctx context.Context) error { return e.eng.shutdown(ctx) }

// Kill makes a Shutdown in progress, or the next one, give up at once: its
// drain ends as if its ctx had expired, with cause ErrKilled, and it waits
// out no kill grace, so every connector still in a call is abandoned (see
// Shutdown). A Reload in progress gives up likewise. Kill may be called
// any number of times, from any goroutine.
func (e *Engine) Kill() { e.eng.kill() }

// Reload switches the engine to g. Connectors whose name, type and config
// are unchanged keep their running instance; changed and removed ones are
// drained (a source is polled dry as in Shutdown, within
// Options.DrainTimeout), stopped and closed; new ones are created.
// Pipelines are rebuilt unless their definition is unchanged, in which
// case their operators (and any window state) are kept. Batches in flight
// are delivered under the old wiring before the new one starts. When g is
// invalid nothing changes.
//
// Nothing changes either, and Reload returns at once with an error
// wrapping ErrStuck that names them, while a connector has had a call
// other than Connect in flight for longer than Options.DrainTimeout: the
// old wiring could not be drained. A call that sticks during the drain is
// abandoned as in Shutdown, and the connector (or the pipeline it is a
// step of) gets a new instance even if it did not change.
//
// Counters stay monotonic, as Prometheus counters must. A connector or
// pipeline that is replaced keeps its totals: the new one's counters (and
// connector.Counting counts) add to the old one's for each role, and
// processor step, that keeps its name and role; an edge between the same
// ends keeps its counters too. A component, role or edge that g removes
// leaves Snapshot.Components and Edges, and /metrics: its final figures,
// its stop failure and its drops included, go to Snapshot.Removed, so the
// ledger still explains every event. If a later Reload adds it back it
// starts from zero, like one never seen (Prometheus takes that as a new
// series after a gap, or a counter reset), and if that one is removed
// too, its figures add to the removed entry. So the accounting identity
// holds for every component and edge after a reload as before.
func (e *Engine) Reload(g Graph) error { return e.eng.reload(g) }

// Stats returns the current counters.
func (e *Engine) Stats() Snapshot { return e.eng.stats() }

// Handler serves /healthz and /metrics (Prometheus text format) for the
// engine, for embedding in another server.
func (e *Engine) Handler() http.Handler { return e.eng.handler() }

// MetricsAddr returns the address the metrics server listens on, or "" if
// none runs. Useful with Options.MetricsAddr "127.0.0.1:0".
func (e *Engine) MetricsAddr() string { return e.eng.metricsAddr() }
