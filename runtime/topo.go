package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// dualPollTimeout caps Poll for a connector that is also a sink, because
// its Write waits while Poll runs.
const dualPollTimeout = 5 * time.Millisecond

// killGrace is how long a stop waits for workers after killing them. It
// is a variable only so that tests can shorten it.
var killGrace = 5 * time.Second

// topo is one wiring of the engine: the edges and the worker goroutines
// for a plan. Reload replaces it; nodes may carry over.
type topo struct {
	opts *Options
	// hold asks sources to stop polling (those in drainSet are drained
	// and polled dry first); pipelines and sinks then finish what is
	// queued.
	hold chan struct{}
	// kill makes every worker drop what it holds and return.
	kill chan struct{}
	// drainSet names the connectors to drain; Shutdown and Reload fill it
	// before they close hold, and source workers read it at the hold.
	// drainMu guards it.
	drainMu  sync.Mutex
	drainSet map[string]bool
	wg       sync.WaitGroup
	done     chan struct{}

	edges []*edge
	conns []*connNode
	pipes []*pipeRun
}

// buildTopo wires nodes for plan p and starts the workers.
func (e *engine) buildTopo(p *plan) *topo {
	t := &topo{opts: &e.opts, hold: make(chan struct{}), kill: make(chan struct{}), done: make(chan struct{}), drainSet: map[string]bool{}}
	inboxes := map[string]*inbox{}
	srcEdges := map[string][]*edge{}
	notify := map[string]chan struct{}{}
	pipeRuns := map[string]*pipeRun{}
	for _, cp := range p.conns {
		n := e.conns[cp.def.Name]
		t.conns = append(t.conns, n)
		if cp.hasSink {
			inboxes[cp.def.Name] = newInbox()
		}
	}
	for _, pp := range p.pipes {
		pn := e.pipes[pp.def.Name]
		r := &pipeRun{t: t, p: pn, in: newInbox(), ports: make([][]*edge, len(pn.outputs))}
		r.final.Store(true)
		inboxes[pp.def.Name] = r.in
		pipeRuns[pp.def.Name] = r
		t.pipes = append(t.pipes, r)
	}
	// producers of each consumer, for the breaker's upstream sources;
	// unbuffered leaves out the edges with a disk buffer, which absorbs
	// what the sink cannot take, so its breaker pauses no source behind
	// it.
	feeders := map[string][]string{}
	unbuffered := map[string][]string{}
	edgeCounters := map[string]*counters{}
	for _, d := range p.edges {
		_, toPipe := pipeRuns[d.To]
		ch := notify[d.From]
		if ch == nil {
			ch = make(chan struct{}, 1)
			notify[d.From] = ch
		}
		key := d.From + "." + d.FromPort + "->" + d.To
		c := e.edgeCounters[key]
		if c == nil {
			c = new(counters)
		}
		edgeCounters[key] = c
		ed := newEdge(d, inboxes[d.To], toPipe, ch, c)
		if d.Buffer != nil {
			q := e.queues[bufferKey(d.Buffer.Path)]
			ed.dq, ed.hold = q, t.hold
			if !q.counted {
				// What an earlier run left enters the edge now.
				st := q.buf.Stats()
				c.evIn.Add(st.ReplayedEvents)
				c.batIn.Add(st.Replayed)
				q.counted = true
			}
			q.kill.Store(&t.kill)
			q.edge.Store(ed)
		}
		t.edges = append(t.edges, ed)
		feeders[d.To] = append(feeders[d.To], d.From)
		if d.Buffer == nil {
			unbuffered[d.To] = append(unbuffered[d.To], d.From)
		}
		if r, ok := pipeRuns[d.From]; ok {
			i := indexString(r.p.outputs, d.FromPort)
			r.ports[i] = append(r.ports[i], ed)
		} else {
			srcEdges[d.From] = append(srcEdges[d.From], ed)
		}
	}
	e.edgeCounters = edgeCounters
	for _, r := range t.pipes {
		width := 0
		for _, es := range r.ports {
			width += len(es)
		}
		r.all = make([]*edge, 0, width)
		r.snd = newSender(r.p.pool, t.kill, notifyOf(notify, r.p.def.Name), width)
	}
	for _, cp := range p.conns {
		n := e.conns[cp.def.Name]
		// A dual connector's source worker drains it only once its sink
		// side is done, unless that would wait on itself.
		var sinkDone chan struct{}
		if n.dual {
			sinkDone = make(chan struct{})
		}
		if cp.hasSource {
			t.wg.Add(1)
			es := srcEdges[cp.def.Name]
			snd := newSender(n.pool, t.kill, notifyOf(notify, cp.def.Name), len(es))
			snd.wake = n.wake
			snd.onWake = func() { n.setPaused(n.pauseReq.Load() > 0) }
			wait := sinkDone
			if n.dual && e.feedsItself(feeders, cp.def.Name) {
				wait = nil
			}
			go t.runSource(n, es, snd, wait)
		}
		if cp.hasSink {
			t.wg.Add(1)
			go t.runSink(n, inboxes[cp.def.Name], e.upstreamSources(unbuffered, cp.def.Name), sinkDone)
		}
	}
	for _, r := range t.pipes {
		t.wg.Add(1)
		go t.runPipeline(r)
	}
	go func() {
		t.wg.Wait()
		close(t.done)
	}()
	return t
}

// upstreamSources lists the source connectors whose batches can reach name.
func (e *engine) upstreamSources(feeders map[string][]string, name string) []*connNode {
	seen := map[string]bool{}
	var out []*connNode
	var walk func(string)
	walk = func(to string) {
		for _, from := range feeders[to] {
			if seen[from] {
				continue
			}
			seen[from] = true
			if n, ok := e.conns[from]; ok {
				out = append(out, n)
			} else {
				walk(from)
			}
		}
	}
	walk(name)
	return out
}

// feedsItself reports whether the dual connector name can reach its own
// sink side: through pipelines, and through dual connectors (whose source
// side, held, waits for their sink side). Its source worker then must not
// wait for its sink side to finish before it drains, or the stop would
// wait for itself until its ctx expires.
func (e *engine) feedsItself(feeders map[string][]string, name string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(to string) bool {
		for _, from := range feeders[to] {
			if from == name {
				return true
			}
			if seen[from] {
				continue
			}
			seen[from] = true
			if n, ok := e.conns[from]; ok && !n.dual {
				continue // a plain source waits on nothing
			}
			if walk(from) {
				return true
			}
		}
		return false
	}
	return walk(name)
}

// stop holds the sources, which drain and poll dry those in drainSet (see
// pollLoop), and waits for everything they produced to be delivered; when
// ctx ends first it kills the workers, which stops that polling too.
// Whatever is still queued is then dropped with reason shutdown.
//
// Workers that a kill does not stop by giveUp (see engine.stopping) are in
// a connector call that does not return: stop abandons each connector
// with a call in flight (see connNode.abandon) and returns without them.
func (t *topo) stop(ctx context.Context, giveUp <-chan struct{}) error {
	close(t.hold)
	var err error
	select {
	case <-t.done:
	case <-ctx.Done():
		err = context.Cause(ctx)
		close(t.kill)
		select {
		case <-t.done:
		case <-giveUp:
			if t.abandonBusy() == 0 {
				t.opts.Log.Error("workers did not stop after the drain timeout and the kill grace, though no connector call is in flight")
			}
		}
	}
	for _, ed := range t.edges {
		ed.seal(rShutdown)
	}
	return err
}

// nodes lists the connector instances of the topology: its connectors and
// its pipelines' processor steps.
func (t *topo) nodes() []*connNode {
	out := append([]*connNode(nil), t.conns...)
	for _, r := range t.pipes {
		out = append(out, r.p.procs()...)
	}
	return out
}

// abandonBusy abandons every instance of the topology that a call is in,
// and returns how many.
func (t *topo) abandonBusy() int {
	n := 0
	for _, c := range t.nodes() {
		if c.abandon(false) {
			n++
		}
	}
	return n
}

// stuckCalls returns an error wrapping ErrStuck for each instance of the
// topology with a call in flight for longer than limit, or nil. Connect is
// not counted: it gets a ctx that the stop cancels.
func (t *topo) stuckCalls(limit time.Duration) error {
	var errs []error
	for _, c := range t.nodes() {
		if op, d, ok := c.gate.inFlight(); ok && op != "connect" && d > limit {
			errs = append(errs, fmt.Errorf("connector %s (type %s) is stuck in %s for %v: %w", c.def.Name, c.def.Type, op, d.Round(time.Millisecond), ErrStuck))
		}
	}
	return errors.Join(errs...)
}

// setDrain marks the named connector to be drained when hold closes.
func (t *topo) setDrain(name string) {
	t.drainMu.Lock()
	t.drainSet[name] = true
	t.drainMu.Unlock()
}

// drains reports whether the named connector is marked to be drained. A
// source worker asks when it sees the hold; the mark is set before hold
// closes, so the answer is final by then. A source that ignores Drain and
// always has data is then polled until the stop's ctx ends.
func (t *topo) drains(name string) bool {
	t.drainMu.Lock()
	defer t.drainMu.Unlock()
	return t.drainSet[name]
}

// notifyOf returns the producer's wake-up channel, or a fresh one for a
// producer without edges.
func notifyOf(m map[string]chan struct{}, name string) chan struct{} {
	if ch := m[name]; ch != nil {
		return ch
	}
	return make(chan struct{}, 1)
}
