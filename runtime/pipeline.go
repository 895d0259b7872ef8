package runtime

import (
	"errors"

	"github.com/weirproject/weir/connector"

	"context"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/runtime/operator"
)

// step is one pipeline step: a built-in operator or a processor instance.
type step struct {
	op   operator.Op
	proc *connNode
}

// pipeNode is a pipeline. Like a connNode, it outlives a topology when
// Reload keeps its definition.
type pipeNode struct {
	def    PipelineDef
	steps  []step
	router operator.Router // the last step, when it routes
	// outputs names the ports: the router's outputs, or just "".
	outputs []string
	pool    *pool
	c       counters
	masks   []uint64
	// wasLive is a bitset of the events live before a processor step
	// (see markLive); only the pipeline's worker touches it.
	wasLive []uint64
	// nextFlush is when the emitters next want a flush (zero: none).
	nextFlush time.Time
	state     atomic.Int32
	// base holds the final figures of the pipeline this one replaced in a
	// reload, its processor steps' included; stats adds them (see
	// carry). It is set before the node is published and never changes.
	base []ComponentStats
}

// stats returns the pipeline's entry and its processor steps'.
func (p *pipeNode) stats() []ComponentStats {
	var out []ComponentStats
	for _, st := range p.steps {
		if st.proc != nil {
			out = append(out, st.proc.stats()...)
		}
	}
	c := ComponentStats{Name: p.def.Name, Type: "pipeline", Role: StatPipeline, State: stateNames[p.state.Load()]}
	p.c.component(&c)
	return carry(append(out, c), p.base)
}

// emits reports whether any step is an Emitter.
func (p *pipeNode) emits() bool {
	for _, s := range p.steps {
		if _, ok := s.op.(operator.Emitter); ok {
			return true
		}
	}
	return false
}

// pipeRun is a pipeline's worker state for one topology.
type pipeRun struct {
	t     *topo
	p     *pipeNode
	in    *inbox
	ports [][]*edge // per output, in p.outputs order
	all   []*edge   // scratch: union of edges for a shared lease
	snd   *sender
	// final makes the emitters flush everything when the inputs end.
	final atomic.Bool
	// ctx ends when the engine is killed; it bounds processor restarts.
	ctx context.Context
}

// runPipeline processes batches from the pipeline's edges until they are
// all closed and empty, or the engine is killed.
func (t *topo) runPipeline(r *pipeRun) {
	defer t.wg.Done()
	defer func() {
		for _, es := range r.ports {
			for _, e := range es {
				e.close()
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.kill:
		case <-ctx.Done():
		}
		cancel()
	}()
	r.ctx = ctx
	for _, s := range r.p.steps {
		if s.proc != nil && !s.proc.ensureOpen(ctx) {
			t.discard(r.in, &r.p.c, rProcessor)
			return
		}
	}
	r.p.state.Store(stRunning)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	emits := r.p.emits()
	if emits && r.p.nextFlush.IsZero() {
		r.p.nextFlush = time.Now()
	}
	for {
		l := r.in.pop()
		if l != nil {
			r.process(l)
			if emits && !r.p.nextFlush.IsZero() && !time.Now().Before(r.p.nextFlush) {
				r.flush(time.Now(), false)
			}
			continue
		}
		if r.in.done() {
			if emits && r.final.Load() {
				r.flush(farFuture, true)
			}
			return
		}
		var tc <-chan time.Time
		if emits && !r.p.nextFlush.IsZero() {
			timer.Reset(time.Until(r.p.nextFlush))
			tc = timer.C
		}
		select {
		case <-r.in.wake:
		case <-tc:
			r.flush(time.Now(), false)
		case <-t.kill:
			t.discard(r.in, &r.p.c, rShutdown)
			return
		}
		if tc != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// farFuture is the flush time at a final drain: every window is due.
var farFuture = time.Unix(1<<40, 0)

// process runs every step on l, then routes it.
func (r *pipeRun) process(l *lease) {
	p := r.p
	p.c.in(uint64(l.b.Len), l.bytes)
	var now time.Time
	if len(p.steps) > 0 {
		now = time.Now()
	}
	r.run(l, 0, now)
}

// run runs the steps from index first on l, then routes what is left. On a
// processor failure it drops the batch.
//
// A processor may rewrite event bytes in place, so before the first
// processor step l must be the pipeline's alone and hold its bytes in its
// own arena; otherwise own copies it. Built-in operators do not write
// bytes, so a pipeline without processors never copies.
func (r *pipeRun) run(l *lease, first int, now time.Time) {
	owned := false
	for i := first; i < len(r.p.steps); i++ {
		s := r.p.steps[i]
		if s.proc == nil {
			s.op.Apply(l.b, now)
			continue
		}
		if !owned {
			if !l.writable() {
				r.own(l, i, now)
				return
			}
			owned = true
		}
		// The processor's own figures: the events still live when it gets
		// the batch go in; those it leaves unmarked go out.
		c := &s.proc.srcC
		in, inBytes := r.p.markLive(l.b)
		c.in(in, inBytes)
		if err := r.processOne(s.proc, l.b); err != nil {
			c.errors.Add(1)
			c.drop(rProcessor, in)
			r.p.c.errors.Add(1)
			s.proc.log.Warn("processor failed; batch dropped", "err", err)
			r.p.c.drop(rProcessor, uint64(l.b.Len))
			l.release(false)
			return
		}
		// It may only mark drops: an event dropped before the step stays
		// dropped (keptLive marks it again), so out + dropped = in and the
		// pipeline's own accounting holds.
		out, outBytes := r.p.keptLive(l.b)
		if out < in {
			c.drop(rOperator, in-out)
		}
		c.out(out, outBytes)
	}
	r.route(l)
}

// markLive counts the events of b not marked cabi.FlagDrop, and their
// bytes, and records which they are in p.wasLive for keptLive.
func (p *pipeNode) markLive(b *cabi.Batch) (events, bytes uint64) {
	evs := b.EventSlice()
	words := (len(evs) + 63) / 64
	if cap(p.wasLive) < words {
		p.wasLive = make([]uint64, words)
	}
	p.wasLive = p.wasLive[:words]
	clear(p.wasLive)
	for i := range evs {
		if evs[i].Flags&cabi.FlagDrop == 0 {
			p.wasLive[i/64] |= 1 << (i % 64)
			events++
			bytes += uint64(evs[i].Len)
		}
	}
	return events, bytes
}

// keptLive counts the events of b that markLive found live and that are
// still not marked cabi.FlagDrop, and their bytes now. An event that was
// dropped before the step and is unmarked now (a processor may only add
// drops) is marked cabi.FlagDrop again. b must have the length it had at
// markLive.
func (p *pipeNode) keptLive(b *cabi.Batch) (events, bytes uint64) {
	evs := b.EventSlice()
	for i := range evs {
		switch {
		case p.wasLive[i/64]&(1<<(i%64)) == 0:
			evs[i].Flags |= cabi.FlagDrop
		case evs[i].Flags&cabi.FlagDrop == 0:
			events++
			bytes += uint64(evs[i].Len)
		}
	}
	return events, bytes
}

// own deep-copies l's events into batches of the pipeline's own pool and
// runs each copy from step first on, then releases l. l's bytes may be
// lent by a source (even mapped read-only, as a kernel ring is), held by a
// parent batch, or shared with another consumer; the copies are writable
// and private. Bytes that outgrow one arena are split over several
// batches, and an event larger than an arena gets a batch of its own
// size. Events that cannot be copied because the engine is killed (or
// memory runs out) are dropped and counted.
func (r *pipeRun) own(l *lease, first int, now time.Time) {
	evs := l.b.EventSlice()
	for len(evs) > 0 {
		c, err := r.snd.pool.get(r.t.kill)
		if c != nil && appendCopies(c.b, evs) == 0 {
			c.release(true)
			c, err = oneOff(int(evs[0].Len))
			if c != nil {
				appendCopies(c.b, evs[:1])
			}
		}
		if c == nil {
			why := rShutdown
			if err != nil {
				why = rProcessor
				r.p.c.errors.Add(1)
				r.t.opts.Log.Error("copy batch for a processor failed; events dropped", "pipeline", r.p.def.Name, "events", len(evs), "err", err)
			}
			r.p.c.drop(why, uint64(len(evs)))
			l.release(false)
			return
		}
		c.b.ID = l.b.ID
		c.bytes = c.b.ArenaLen
		c.adopt(l.track)
		evs = evs[c.b.Len:]
		r.run(c, first, now)
	}
	l.release(true)
}

func (r *pipeRun) processOne(n *connNode, b *cabi.Batch) (err error) {
	defer func() {
		if x := recover(); x != nil {
			err = n.recovered("process", x)
			n.restart(r.ctx, err)
		} else if errors.Is(err, connector.ErrLost) {
			n.restart(r.ctx, err)
		}
	}()
	proc, ok := n.inst.(connector.Processor)
	if !ok {
		return fmt.Errorf("process %s: instance not running", n.def.Name)
	}
	if !n.gate.enter("process", false) {
		return fmt.Errorf("process %s: %w", n.def.Name, errAbandoned)
	}
	defer n.gate.leave()
	length := b.Len
	if err := proc.Process(b); err != nil {
		return fmt.Errorf("process %s: %w", n.def.Name, err)
	}
	if b.Len != length {
		b.Len = length
		return fmt.Errorf("process %s: processor changed the batch length", n.def.Name)
	}
	return nil
}

// route compacts dropped events away and sends l to its outputs.
func (r *pipeRun) route(l *lease) {
	p := r.p
	n, bytes := compact(l.b)
	if n > 0 {
		p.c.drop(rOperator, n)
	}
	l.bytes = bytes
	events := uint64(l.b.Len)
	if events == 0 {
		l.release(true)
		return
	}
	if p.router == nil {
		if !r.snd.send(r.ports[0], l) {
			p.c.drop(rUnconnected, events)
			l.release(false)
			return
		}
		p.c.out(events, bytes)
		return
	}
	// Route each event; mask off outputs that have no edge.
	var connected uint64
	for i, es := range r.ports {
		if len(es) > 0 {
			connected |= 1 << i
		}
	}
	evs := l.b.EventSlice()
	masks := p.masks[:len(evs)]
	var union uint64
	same := true
	for i := range evs {
		m := p.router.Route(&evs[i]) & connected
		if m == 0 {
			evs[i].Flags |= cabi.FlagDrop
		}
		masks[i] = m
		union |= m
		same = same && m == masks[0]
	}
	if union == 0 {
		p.c.drop(rUnrouted, events)
		l.release(true)
		return
	}
	if same {
		// Every event goes to the same outputs: share the batch.
		r.all = r.all[:0]
		for m := union; m != 0; m &= m - 1 {
			r.all = append(r.all, r.ports[bits.TrailingZeros64(m)]...)
		}
		r.snd.send(r.all, l)
		p.c.out(events, bytes)
		return
	}
	// Build one batch of descriptors per output; bytes stay in l's arena.
	var sent uint64
	for m := union; m != 0; m &= m - 1 {
		bit := bits.TrailingZeros64(m)
		d, _ := r.snd.pool.get(r.t.kill)
		if d == nil {
			break // killed: what was not sent is counted below
		}
		out := d.b.Slots()
		k := 0
		d.bytes = 0
		for i := range evs {
			if masks[i]&(1<<bit) != 0 {
				out[k] = evs[i]
				d.bytes += uint64(evs[i].Len)
				k++
			}
		}
		d.b.Len = uint32(k)
		d.b.ID = l.b.ID
		d.parent = l
		l.refs.Add(1)
		d.adopt(l.track)
		r.snd.send(r.ports[bit], d)
		sent |= 1 << bit
	}
	var routed, routedBytes, unrouted, lost uint64
	for i := range evs {
		switch {
		case masks[i] == 0:
			unrouted++
		case masks[i]&sent != 0:
			routed++
			routedBytes += uint64(evs[i].Len)
		default:
			lost++
		}
	}
	if unrouted > 0 {
		p.c.drop(rUnrouted, unrouted)
	}
	if lost > 0 {
		p.c.drop(rShutdown, lost)
	}
	p.c.evOut.Add(routed)
	p.c.bytesOut.Add(routedBytes)
	p.c.batOut.Add(1)
	if lost > 0 && l.track != nil {
		l.track.failed.Store(true)
	}
	l.release(true)
}

// flush asks each Emitter for the events due at now and runs them through
// the steps after it. With all set it repeats until nothing is pending.
func (r *pipeRun) flush(now time.Time, all bool) {
	p := r.p
	p.nextFlush = time.Time{}
	for i, s := range p.steps {
		em, ok := s.op.(operator.Emitter)
		if !ok {
			continue
		}
		for round := 0; round < 1<<16; round++ {
			l, _ := r.snd.pool.get(r.t.kill)
			if l == nil {
				return
			}
			next := em.Flush(now, l.b)
			n := uint64(l.b.Len)
			if n > 0 {
				// Emitted events are no input: they count apart, so that
				// EventsIn is what the edges delivered.
				p.c.emitted.Add(n)
				l.bytes = batchBytes(l.b)
				r.run(l, i+1, now)
			} else {
				l.release(true)
			}
			if !next.IsZero() && (p.nextFlush.IsZero() || next.Before(p.nextFlush)) {
				p.nextFlush = next
			}
			if !all || n == 0 {
				break
			}
		}
	}
	if all {
		p.nextFlush = time.Time{}
	}
}
