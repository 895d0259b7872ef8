package runtime

import (
	"errors"

	"github.com/weirproject/weir/connector"

	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirproject/weir/cabi"
)

// Lifecycle states, as Stats reports them.
const (
	stCreating int32 = iota
	stConnecting
	stRunning
	stPaused
	stDraining
	stStopped
	stFailed
	// stStuck: the instance was abandoned because a call into it did
	// not return (see connNode.abandon).
	stStuck
)

var stateNames = [...]string{"creating", "connecting", "running", "paused", "draining", "stopped", "failed", "stuck"}

// ErrStuck is wrapped by the error Reload returns when a connector call
// has been in flight for longer than Options.DrainTimeout, so the running
// wiring could not be drained.
var ErrStuck = errors.New("connector call stuck")

// errAbandoned is what a call into an abandoned instance returns instead
// of calling it.
var errAbandoned = errors.New("instance abandoned after a stuck call")

// Breaker states.
const (
	brClosed int32 = iota
	brHalfOpen
	brOpen
)

var breakerNames = [...]string{"closed", "half_open", "open"}

// connNode is one connector instance with its supervision state. It
// outlives a topology when Reload keeps the connector.
type connNode struct {
	def  ConnectorDef
	typ  *connector.Type
	opts *Options
	log  *slog.Logger

	// mu serializes calls into the instance; held around Poll and Write
	// only when both sides run (dual).
	mu   sync.Mutex
	inst connector.Connector
	// counters adds up the instances' own connector.Counters.
	counters instCounters
	// base holds the final figures of the node this one replaced in a
	// reload, one entry per role; stats adds them (see carry). It is set
	// before the node is published and never changes.
	base   []ComponentStats
	src    connector.Source
	snk    connector.Sink
	ackr   connector.Acker
	opened bool
	closed bool
	// drained is set once Drain was called on inst (see drainLocked). It
	// is atomic because a non-dual source worker sets it without mu, and
	// finish may read it while a stuck worker still runs (after the kill
	// grace).
	drained atomic.Bool

	hasSource, hasSink, dual bool
	// proc marks a processor step of a pipeline.
	proc bool

	// gate admits every call into the instance (see callGate).
	gate callGate
	// stuck is set once the instance is abandoned (see abandon).
	stuck atomic.Bool
	// stuckCall is the call that was in flight when it was abandoned.
	stuckCall atomic.Pointer[string]

	state atomic.Int32
	// srcC counts the source side, or a processor's events; it also holds
	// the lifecycle counters (connects, restarts, panics) of every
	// connector.
	srcC    counters
	snkC    counters
	circuit atomic.Int32
	// failure is the message of the last create, connect or start error,
	// nil while the instance runs or before the first attempt.
	failure atomic.Pointer[string]
	// stopFailure is the first error of the final drain, stop or close
	// (see finish): what the instance still held may not have reached
	// its destination.
	stopFailure atomic.Pointer[string]

	// pauseReq counts open breakers downstream; the source worker pauses
	// while it is positive.
	pauseReq atomic.Int32
	paused   bool
	wake     chan struct{}
	acks     ackQueue
	ackBuf   []*tracker
	tracked  atomic.Int64 // trackers not yet acked, failed or dropped
	nextID   uint64
	pool     *pool
	// lent holds the batches whose events the source lent out of its own
	// memory while their holders may still have them (see deliverPolled),
	// under lentMu. It is a set, not one batch: a worker killed while it
	// waited (a reload that gave up on a stuck sink but keeps the source)
	// leaves its batch here, and the next topology's worker lends and gets
	// back batches of its own meanwhile.
	lentMu sync.Mutex
	lent   map[*lease]struct{}
	// gen numbers the instances from 1; it grows when one starts running.
	gen atomic.Uint64
	// polledGen and polledAcker describe the instance the last Poll went
	// to (its gen, and whether it is an Acker). Only the source worker
	// touches them.
	polledGen   uint64
	polledAcker bool
}

func newConnNode(def ConnectorDef, typ *connector.Type, opts *Options, hasSource, hasSink bool) *connNode {
	n := &connNode{
		def: def, typ: typ, opts: opts,
		log:       opts.Log.With("connector", def.Name, "type", def.Type),
		hasSource: hasSource, hasSink: hasSink, dual: hasSource && hasSink,
		wake: make(chan struct{}, 1),
	}
	n.acks.wake = n.wake
	if hasSource {
		n.pool = newPool(opts.BatchEvents, opts.BatchBytes, opts.PoolBatches)
	}
	return n
}

func (n *connNode) wakeup() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// recovered turns a recovered panic value into an error and counts it.
func (n *connNode) recovered(op string, r any) error {
	n.srcC.panics.Add(1)
	err := fmt.Errorf("%s %s: panic: %v", op, n.def.Name, r)
	n.log.Error("connector panicked", "op", op, "panic", r)
	return err
}

// call runs one lifecycle method from a worker, containing panics.
func (n *connNode) call(op string, f func() error) error { return n.callAs(op, false, f) }

// callAs runs one lifecycle method, containing panics; final marks a call
// from finish (see callGate).
func (n *connNode) callAs(op string, final bool, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = n.recovered(op, r)
		}
	}()
	if !n.gate.enter(op, final) {
		return fmt.Errorf("%s %s: %w", op, n.def.Name, errAbandoned)
	}
	defer n.gate.leave()
	if err := f(); err != nil {
		return fmt.Errorf("%s %s: %w", op, n.def.Name, err)
	}
	return nil
}

// create makes a new instance and checks it implements the roles used.
func (n *connNode) create() (connector.Connector, error) {
	var inst connector.Connector
	env := connector.Env{Name: n.def.Name, Log: n.log, Wakeup: n.wakeup, Isolation: n.def.Isolation}
	err := n.call("create", func() error {
		var err error
		inst, err = n.typ.New(n.def.Config, env)
		return err
	})
	if err != nil {
		return nil, err
	}
	if inst == nil {
		return nil, fmt.Errorf("create %s: constructor of type %q returned no instance", n.def.Name, n.def.Type)
	}
	if _, ok := inst.(connector.Source); n.hasSource && !ok {
		n.closeInst(inst, false)
		return nil, fmt.Errorf("create %s: type %q used as a source does not implement Source", n.def.Name, n.def.Type)
	}
	if _, ok := inst.(connector.Processor); n.proc && !ok {
		n.closeInst(inst, false)
		return nil, fmt.Errorf("create %s: type %q used as a processor does not implement Processor", n.def.Name, n.def.Type)
	}
	if _, ok := inst.(connector.Sink); n.hasSink && !ok {
		n.closeInst(inst, false)
		return nil, fmt.Errorf("create %s: type %q used as a sink does not implement Sink", n.def.Name, n.def.Type)
	}
	n.counters.open(inst)
	return inst, nil
}

// ensureOpen creates, connects and starts the instance unless it runs
// already, retrying with backoff until ctx ends. It reports whether the
// instance is running.
func (n *connNode) ensureOpen(ctx context.Context) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.openLocked(ctx)
}

func (n *connNode) openLocked(ctx context.Context) bool {
	if n.opened {
		return true
	}
	if n.closed {
		return false
	}
	for try := 1; ; try++ {
		if try > 1 && !sleep(n.opts.ConnectBackoff.delay(try-1), ctx.Done()) {
			return false
		}
		n.state.Store(stCreating)
		inst, err := n.create()
		if err != nil {
			n.fail(err)
			n.srcC.errors.Add(1)
			// New has no side effects and its config does not change, so
			// a retry would fail the same way: the connector is failed
			// until a reload gives it another config.
			n.log.Error("connector create failed", "err", err)
			n.state.Store(stFailed)
			return false
		}
		if !n.connect(ctx, inst) {
			n.closeInst(inst, false)
			return false
		}
		if err := n.call("start", inst.Start); err != nil {
			n.fail(err)
			n.srcC.errors.Add(1)
			n.log.Error("connector start failed", "err", err)
			n.closeInst(inst, false)
			continue
		}
		n.inst = inst
		n.src, _ = inst.(connector.Source)
		n.snk, _ = inst.(connector.Sink)
		n.ackr, _ = inst.(connector.Acker)
		n.gen.Add(1)
		n.opened = true
		n.drained.Store(false)
		n.paused = false
		n.failure.Store(nil)
		n.state.Store(stRunning)
		n.log.Info("connector running", "attempts", try)
		return true
	}
}

// fail records err as the reason the instance is not running.
func (n *connNode) fail(err error) {
	msg := err.Error()
	n.failure.Store(&msg)
}

// waitLent waits until the holders of every batch the source lent out of
// its own memory are done with it: a killed source worker stops waiting
// for them, but Stop and Close may free that memory, and a sink write
// still reading it (slow, or stuck and abandoned) would then read freed
// memory and crash the process. A stuck holder makes finish wait for
// good, which finishAll does not wait for: the instance is then left open.
func (n *connNode) waitLent() {
	for i := 0; !n.lentDone(); i++ {
		if i == 0 {
			n.log.Warn("waiting for a sink to finish with a batch in the source's memory before closing the source")
		}
		select {
		case <-n.pool.avail:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// lend records that l's events are in the source's own memory; call it
// before any holder may have l.
func (n *connNode) lend(l *lease) {
	n.lentMu.Lock()
	if n.lent == nil {
		n.lent = map[*lease]struct{}{}
	}
	n.lent[l] = struct{}{}
	n.lentMu.Unlock()
}

// unlend records that the holders of l are done with it.
func (n *connNode) unlend(l *lease) {
	n.lentMu.Lock()
	delete(n.lent, l)
	n.lentMu.Unlock()
}

// lentDone forgets the lent batches that are back in the pool and reports
// whether none is left.
func (n *connNode) lentDone() bool {
	n.lentMu.Lock()
	defer n.lentMu.Unlock()
	for l := range n.lent {
		if n.pool.isFree(l) {
			delete(n.lent, l)
		}
	}
	return len(n.lent) == 0
}

// stopFailed records err as the first failure of the final drain, stop
// or close.
func (n *connNode) stopFailed(err error) {
	msg := err.Error()
	n.stopFailure.CompareAndSwap(nil, &msg)
}

// connect calls Connect with attempts 1, 2, ... and backoff until it
// succeeds or ctx ends.
func (n *connNode) connect(ctx context.Context, inst connector.Connector) bool {
	n.state.Store(stConnecting)
	for attempt := 1; ; attempt++ {
		n.srcC.connects.Add(1)
		err := n.call("connect", func() error { return inst.Connect(ctx, attempt) })
		if err == nil {
			return true
		}
		if ctx.Err() == nil {
			// An attempt cut short by a stop is no failure of its own.
			n.fail(err)
		}
		n.srcC.errors.Add(1)
		if errors.Is(err, connector.ErrPermanent) {
			n.log.Error("connector connect failed; retrying cannot help", "err", err)
			n.state.Store(stFailed)
			return false
		}
		n.log.Warn("connector connect failed", "attempt", attempt, "err", err)
		if !sleep(n.opts.ConnectBackoff.delay(attempt), ctx.Done()) {
			return false
		}
	}
}

func (n *connNode) closeInst(inst connector.Connector, final bool) {
	if err := n.callAs("close", final, inst.Close); err != nil {
		n.log.Error("connector close failed", "err", err)
		if final && !errors.Is(err, errAbandoned) {
			n.stopFailed(err)
		}
	}
	n.counters.close(inst)
}

// restart stops and closes a dead instance and opens a new one.
func (n *connNode) restart(ctx context.Context, why error) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.srcC.restarts.Add(1)
	n.log.Error("connector died; restarting", "err", why)
	n.closeOpenLocked()
	n.state.Store(stFailed)
	if !sleep(n.opts.ConnectBackoff.delay(int(min(n.srcC.restarts.Load(), 30))), ctx.Done()) {
		return false
	}
	return n.openLocked(ctx)
}

// giveUp stops and closes an instance that failed with an error retrying
// cannot cure (connector.ErrPermanent), and leaves the connector failed
// with that error.
func (n *connNode) giveUp(why error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.srcC.errors.Add(1)
	n.log.Error("connector failed; retrying cannot help", "err", why)
	n.closeOpenLocked()
	n.fail(why)
	n.state.Store(stFailed)
}

// closeOpenLocked stops and closes the open instance, if any.
func (n *connNode) closeOpenLocked() {
	if !n.opened {
		return
	}
	// Acks ready now still reach the instance that produced their
	// batches; later ones are dropped (see ackQueue).
	n.deliverAcksLocked()
	n.opened = false
	inst := n.inst
	if err := n.call("stop", inst.Stop); err != nil {
		n.log.Error("connector stop failed", "err", err)
	}
	n.closeInst(inst, false)
	n.inst, n.src, n.snk, n.ackr = nil, nil, nil, nil
}

// finish ends the instance for good: remaining acks, Drain (unless the
// source worker drained it already, as it does for a source still polling
// at the hold; finish never polls), Stop, Close. Acks that finish later
// reach no instance and are counted as dropped.
//
// finish makes no call into an instance that a call is still in, nor
// waits for it: it abandons it instead (see claim). A call of its own that
// sticks leaves the instance to be abandoned by the caller, which does not
// wait for finish past the kill grace (see finishAll); finish then makes
// no further call either.
func (n *connNode) finish(drain bool) {
	n.waitLent()
	if !n.claim() {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deliverAcksLocked()
	n.closed = true
	defer n.closeAcksLocked()
	if !n.opened {
		if n.failure.Load() != nil {
			n.state.Store(stFailed) // it never ran: keep saying why
		} else {
			n.state.Store(stStopped)
		}
		return
	}
	inst := n.inst
	if drain && !n.drained.Load() {
		n.state.Store(stDraining)
		if err := n.drainLocked(true); err != nil && !errors.Is(err, errAbandoned) {
			n.log.Error("connector drain failed", "err", err)
			n.stopFailed(err)
		}
	}
	if err := n.callAs("stop", true, inst.Stop); err != nil && !errors.Is(err, errAbandoned) {
		n.log.Error("connector stop failed", "err", err)
		n.stopFailed(err)
	}
	n.closeInst(inst, true)
	if n.stuck.Load() {
		return // abandoned during a call of finish's own: leave it alone
	}
	n.opened = false
	n.inst, n.src, n.snk, n.ackr = nil, nil, nil, nil
	n.state.Store(stStopped)
	if n.pool != nil {
		n.pool.close()
	}
}

// drainLocked calls Drain on the running instance unless it was drained
// already, so that each instance is drained at most once: by the source
// worker at a hold that asks it to drain (it then polls the instance dry;
// a dual connector only once its sink side is done, see pollLoop), or else
// by finish (a sink, a source that had stopped polling before the hold:
// EOF, failure, or killed while opening, or a dual connector that feeds
// itself). The caller holds the instance (n.mu, or n.lock in the source
// worker); final marks finish.
func (n *connNode) drainLocked(final bool) error {
	if !n.drained.CompareAndSwap(false, true) {
		return nil
	}
	return n.callAs("drain", final, n.inst.Drain)
}

// deliverAcksLocked calls Ack or Fail for every finished batch whose
// instance still runs, and counts the others as dropped (see ackQueue).
// It runs in the goroutine that owns the instance.
func (n *connNode) deliverAcksLocked() {
	if !n.acks.pending() {
		return
	}
	n.ackBuf = n.acks.take(n.ackBuf)
	gen := n.gen.Load()
	for _, t := range n.ackBuf {
		if n.ackr == nil || t.gen != gen || !n.gate.enter("ack", n.gate.isFinal()) {
			n.dropAck()
			continue
		}
		failed := t.failed.Load()
		n.ackOne(t.id, failed)
		n.gate.leave()
		if failed {
			n.srcC.fails.Add(1)
		} else {
			n.srcC.acks.Add(1)
		}
		n.tracked.Add(-1)
	}
	n.acks.recycle(n.ackBuf)
}

// closeAcksLocked closes the ack queue of a finished connector and counts
// what it still holds as dropped: no instance is left to tell.
func (n *connNode) closeAcksLocked() {
	n.acks.close()
	n.deliverAcksLocked()
}

// dropAck counts a finished batch whose instance has ended.
func (n *connNode) dropAck() {
	n.srcC.ackDrops.Add(1)
	n.tracked.Add(-1)
}

func (n *connNode) ackOne(id uint64, failed bool) {
	defer func() {
		if r := recover(); r != nil {
			n.recovered("ack", r)
		}
	}()
	if failed {
		n.ackr.Fail(id)
	} else {
		n.ackr.Ack(id)
	}
}

func (n *connNode) lock() {
	if n.dual {
		n.mu.Lock()
	}
}

func (n *connNode) unlock() {
	if n.dual {
		n.mu.Unlock()
	}
}

// poll calls Poll, containing panics.
func (n *connNode) poll(b *cabi.Batch, timeout time.Duration) (st cabi.Status, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = cabi.Error, n.recovered("poll", r)
		}
	}()
	n.lock()
	defer n.unlock()
	if n.src == nil {
		return cabi.Error, fmt.Errorf("poll %s: instance not running", n.def.Name)
	}
	if !n.gate.enter("poll", false) {
		return cabi.Error, fmt.Errorf("poll %s: %w", n.def.Name, errAbandoned)
	}
	defer n.gate.leave()
	n.polledGen, n.polledAcker = n.gen.Load(), n.ackr != nil
	return n.src.Poll(b, timeout)
}

// write calls Write, containing panics; panicked reports a panic.
func (n *connNode) write(b *cabi.Batch) (st cabi.Status, err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			st, err, panicked = cabi.Error, n.recovered("write", r), true
		}
	}()
	n.lock()
	defer n.unlock()
	if n.snk == nil {
		return cabi.Error, fmt.Errorf("write %s: instance not running", n.def.Name), false
	}
	if !n.gate.enter("write", false) {
		return cabi.Error, fmt.Errorf("write %s: %w", n.def.Name, errAbandoned), false
	}
	defer n.gate.leave()
	st, err = n.snk.Write(b)
	return st, err, false
}

// setPaused calls Pause or Resume on the source when the wanted state
// differs from the current one, and never once the instance is drained:
// a breaker that opens while the source is polled dry leaves it running.
// Only the source worker calls it.
func (n *connNode) setPaused(want bool) {
	if want == n.paused {
		return
	}
	n.lock()
	inst, drained := n.inst, n.drained.Load()
	n.unlock()
	if inst == nil || drained {
		return
	}
	op, f := "resume", inst.Resume
	if want {
		op, f = "pause", inst.Pause
	}
	n.lock()
	err := n.call(op, f)
	n.unlock()
	if err != nil {
		n.srcC.errors.Add(1)
		n.log.Error("connector "+op+" failed", "err", err)
	}
	n.paused = want
	if want {
		n.state.Store(stPaused)
		n.log.Info("source paused by circuit breaker")
	} else {
		n.state.Store(stRunning)
		n.log.Info("source resumed")
	}
}

func (n *connNode) stats() []ComponentStats {
	var out []ComponentStats
	st := stateNames[n.state.Load()]
	var failure string
	if f := n.failure.Load(); f != nil {
		failure = *f
	}
	var stopFailure string
	if f := n.stopFailure.Load(); f != nil {
		stopFailure = *f
	}
	var abandoned uint64
	var stuckCall string
	if n.stuck.Load() {
		st, abandoned = stateNames[stStuck], 1
		if c := n.stuckCall.Load(); c != nil {
			stuckCall = *c
		}
	}
	if n.proc {
		s := ComponentStats{Name: n.def.Name, Type: n.def.Type, Role: StatProcessor, State: st, Failure: failure}
		n.srcC.component(&s)
		s.Abandoned, s.StuckCall, s.StopFailure = abandoned, stuckCall, stopFailure
		return append(out, s)
	}
	if n.hasSource {
		s := ComponentStats{Name: n.def.Name, Type: n.def.Type, Role: StatSource, State: st, Failure: failure}
		n.srcC.component(&s)
		s.Counters = n.counters.snapshot()
		s.Abandoned, s.StuckCall, s.StopFailure = abandoned, stuckCall, stopFailure
		out = append(out, s)
	}
	if n.hasSink {
		s := ComponentStats{Name: n.def.Name, Type: n.def.Type, Role: StatSink, State: st, Failure: failure, Circuit: breakerNames[n.circuit.Load()]}
		n.snkC.component(&s)
		if !n.hasSource {
			// Lifecycle counters live on srcC for every connector.
			s.Restarts, s.ConnectAttempts = n.srcC.restarts.Load(), n.srcC.connects.Load()
			s.Panics = n.srcC.panics.Load()
			s.Errors += n.srcC.errors.Load()
			s.Counters = n.counters.snapshot()
			s.Abandoned, s.StuckCall, s.StopFailure = abandoned, stuckCall, stopFailure
		}
		out = append(out, s)
	}
	return carry(out, n.base)
}
