package connector

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/weirproject/weir/cabi"
)

// Connector is the lifecycle every connector instance implements. The
// runtime calls, in order:
//
//	Connect (repeated with backoff until it returns nil; attempt counts from 1)
//	Start
//	(Pause, Resume)* (any number of times)
//	Drain (at most once: no more input arrives; flush what is held)
//	Stop
//	Close (exactly once, also after a failed Connect or Start)
//
// The runtime never calls one instance from two goroutines at once, except
// Env.Wakeup, which the instance itself may call from anywhere.
type Connector interface {
	Connect(ctx context.Context, attempt int) error
	Start() error
	Pause() error
	Resume() error
	Drain() error
	Stop() error
	Close() error
}

// Source is a connector that produces events.
type Source interface {
	Connector
	// Poll appends events to b at b.Len, up to b.Capacity, waiting at most
	// timeout for the first one. It returns cabi.OK when it appended events,
	// cabi.Timeout when none came, cabi.EOF when the source is exhausted
	// (events appended in the same call count), or cabi.Error with err.
	// Event bytes must live in b's arena or in memory that stays valid until
	// the next Poll.
	//
	// After Drain, a source stops taking new input and returns what it
	// still holds, then cabi.EOF: at a graceful Shutdown, and when Reload
	// replaces the connector, the runtime polls a drained source until it
	// answers cabi.EOF or cabi.Timeout, or the drain timeout expires. It is
	// never paused or resumed after Drain.
	Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error)
}

// Acker is implemented by sources that want to know the fate of each batch
// they produced. The runtime calls exactly one of Ack or Fail per batch, on
// the instance that produced it, once every sink the batch reached has
// answered. An instance never hears of another instance's batches: when
// one dies and is recreated, or the connector is shut down, the answers
// ready by then are delivered before it is stopped, and batches answered
// later get neither call and are counted in ComponentStats.AcksDropped.
type Acker interface {
	Ack(batchID uint64)
	Fail(batchID uint64)
}

// Sink is a connector that consumes events.
type Sink interface {
	Connector
	// Write consumes every event of b; b and its bytes are valid only
	// during the call. It returns cabi.OK once the batch is taken,
	// cabi.Retry to be offered the same batch again after a backoff, or
	// cabi.Error with err to give up on it.
	Write(b *cabi.Batch) (cabi.Status, error)
}

// Processor is a connector that works inside a pipeline: it marks events
// with cabi.FlagDrop or rewrites their bytes in place, and never changes
// b.Len or grows an event. The runtime hands it batches that no one else
// holds, with every event's bytes in b's own writable arena, copying first
// what a source lent or another consumer shares.
type Processor interface {
	Connector
	Process(b *cabi.Batch) error
}

// Env is what the runtime gives a connector instance when it creates it.
type Env struct {
	// Name is the instance's name in the configuration.
	Name string
	// Log is a logger tagged with the instance name.
	Log *slog.Logger
	// Wakeup tells the runtime that a source has events ready, so a
	// waiting Poll should run now. Safe from any goroutine.
	Wakeup func()
	// Isolation says where the instance runs; only types marked
	// Type.Isolatable honour it, and config validation refuses it for
	// the others.
	Isolation Isolation
}

// Isolation modes (Isolation.Mode).
const (
	// IsolateNone runs the instance in the host process.
	IsolateNone = "none"
	// IsolateProcess runs the instance in a child process that has no
	// capabilities, so that a crash or a hang there cannot take the host
	// down.
	IsolateProcess = "process"
	// IsolateSeccomp is IsolateProcess with a seccomp filter that allows
	// the child only the system calls a computing plugin needs: no new
	// files, sockets or processes.
	IsolateSeccomp = "seccomp"
)

// Isolation says where a connector instance runs.
type Isolation struct {
	// Mode is IsolateNone (or ""), IsolateProcess or IsolateSeccomp.
	Mode string
	// Deadline bounds each call into an isolated instance, beyond the
	// timeout a poll is given; a call that takes longer kills the child.
	// 0 means the default of the isolating connector.
	Deadline time.Duration
}

// Isolated reports whether the instance runs outside the host process.
func (i Isolation) Isolated() bool { return i.Mode == IsolateProcess || i.Mode == IsolateSeccomp }

// Base implements every Connector method as a no-op. Embed it in a
// connector that needs only some of them.
type Base struct{}

// Connect does nothing.
func (Base) Connect(context.Context, int) error { return nil }

// Start does nothing.
func (Base) Start() error { return nil }

// Pause does nothing.
func (Base) Pause() error { return nil }

// Resume does nothing.
func (Base) Resume() error { return nil }

// Drain does nothing.
func (Base) Drain() error { return nil }

// Stop does nothing.
func (Base) Stop() error { return nil }

// Close does nothing.
func (Base) Close() error { return nil }

// Counter is one count a connector keeps of its own, beyond the events the
// engine counts: what happened before events reached the engine, such as a
// kernel source's packets seen, filtered and dropped on a full ring.
type Counter struct {
	// Name is a metric-name fragment, [a-z0-9_]+, such as "ring_full".
	Name string
	// Help is one sentence saying what the counter counts.
	Help string
	// Value only grows over the instance's life, unless Gauge is set.
	Value uint64
	// Gauge marks a count that goes up and down, such as what waits in a
	// queue now; /metrics gives it the gauge type. A gauge's Value is read
	// as an int64 (two's complement), so it may be negative, and across
	// restarts the engine reports the last instance's value, not a sum.
	Gauge bool
	// Loss marks a count of events lost before they reached the engine
	// (such as a full kernel ring): the engine's ledger cannot see them,
	// so a summary that finds any does not call the run balanced.
	Loss bool
}

// Counting is implemented by connectors that keep Counters. The engine
// shows them in its Snapshot (each component's Counters), in the summary
// and on /metrics, and adds up those of every instance a connector had, so
// the totals grow across restarts and reloads. Counters may be called from
// any goroutine at any time, concurrently with the other calls and after
// Close, when it returns the final values; it returns the same names in the
// same order every time, though it may add names later (a plugin may
// declare a metric in any call).
type Counting interface {
	Counters() []Counter
}

// ErrPermanent is wrapped by Connect and Poll errors that retrying cannot
// cure: missing privileges, a device that does not exist or went away. The
// engine then fails the connector at once, naming the error, instead of
// retrying with backoff; a reload with another config may try again.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as one retrying cannot cure (see ErrPermanent). It
// returns nil for a nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// ErrLost is wrapped by the errors of an instance that is gone for good
// and cannot answer again, such as an isolated plugin whose child process
// died or was killed. The runtime then restarts the connector at once
// (Stop, Close, New), with backoff, instead of retrying the call.
var ErrLost = errors.New("connector instance lost")
