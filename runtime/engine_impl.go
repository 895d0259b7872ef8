package runtime

import (
	"github.com/weirproject/weir/connector"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirproject/weir/runtime/operator"
)

type engine struct {
	opts Options
	reg  *connector.Registry

	mu      sync.Mutex // serializes start, reload and shutdown
	plan    *plan
	nodesMu sync.RWMutex // guards the maps for stats during a reload
	conns   map[string]*connNode
	pipes   map[string]*pipeNode
	// retired lists what reloads took out, in order, whose figures each
	// snapshot reads (see Snapshot.Removed); under nodesMu.
	retired []retiree
	started bool
	stopped bool

	cur atomic.Pointer[topo]
	// edgeCounters carries edge counters across reloads, keyed by the
	// edge's ends; only buildTopo touches it, under mu.
	edgeCounters map[string]*counters
	// queues are the open disk buffers by path (see bufferKey); under mu.
	queues map[string]*diskQueue

	srv  *http.Server
	ln   net.Listener
	addr atomic.Pointer[string] // the metrics listener's address

	// killed is closed by Kill (once, under killOnce).
	killed   chan struct{}
	killOnce sync.Once
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.BatchEvents, 1024)
	def(&o.BatchBytes, 1<<20)
	def(&o.PoolBatches, 64)
	def(&o.EdgeCapacity, 16)
	def(&o.BreakerFailures, 5)
	def(&o.MaxPollErrors, 10)
	if o.PollTimeout <= 0 {
		o.PollTimeout = 50 * time.Millisecond
	}
	if o.ConnectBackoff.Min <= 0 {
		o.ConnectBackoff = Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
	}
	if o.ConnectBackoff.Max < o.ConnectBackoff.Min {
		o.ConnectBackoff.Max = o.ConnectBackoff.Min
	}
	if o.RetryBackoff.Min <= 0 {
		o.RetryBackoff = Backoff{Min: 5 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2}
	}
	if o.RetryBackoff.Max < o.RetryBackoff.Min {
		o.RetryBackoff.Max = o.RetryBackoff.Min
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = 2 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.NewOp == nil {
		o.NewOp = operator.New
	}
}

func newEngine(g Graph, reg *connector.Registry, opts Options) (*engine, error) {
	if reg == nil {
		reg = connector.Default
	}
	opts.setDefaults()
	e := &engine{opts: opts, reg: reg, conns: map[string]*connNode{}, pipes: map[string]*pipeNode{}, killed: make(chan struct{}), queues: map[string]*diskQueue{}}
	p, err := buildPlan(g, reg, &e.opts)
	if err != nil {
		return nil, err
	}
	e.plan = p
	return e, nil
}

func (e *engine) newPipeNode(pp *pipePlan) *pipeNode {
	pn := &pipeNode{def: pp.def, outputs: pp.outputs, pool: newPool(e.opts.BatchEvents, e.opts.BatchBytes, e.opts.PoolBatches), masks: make([]uint64, e.opts.BatchEvents)}
	for i, sp := range pp.steps {
		s := step{op: sp.op}
		if sp.proc != nil {
			def := ConnectorDef{Name: fmt.Sprintf("%s/%d", pp.def.Name, i+1), Type: sp.def.Type, Config: sp.def.Config, Pos: sp.def.Pos}
			s.proc = newConnNode(def, sp.proc, &e.opts, false, false)
			s.proc.proc = true
		}
		pn.steps = append(pn.steps, s)
	}
	if pp.router {
		pn.router, _ = pn.steps[len(pn.steps)-1].op.(operator.Router)
	}
	return pn
}

func (e *engine) start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrStopped
	}
	if e.started {
		return errors.New("start engine: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if err := e.openQueues(e.plan); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if e.opts.MetricsAddr != "" {
		if err := e.serveMetrics(e.opts.MetricsAddr); err != nil {
			e.closeQueues(nil)
			return err
		}
	}
	e.nodesMu.Lock()
	defer e.nodesMu.Unlock()
	for _, cp := range e.plan.conns {
		e.conns[cp.def.Name] = newConnNode(cp.def, cp.typ, &e.opts, cp.hasSource, cp.hasSink)
	}
	for _, pp := range e.plan.pipes {
		e.pipes[pp.def.Name] = e.newPipeNode(pp)
	}
	e.cur.Store(e.buildTopo(e.plan))
	e.started = true
	return nil
}

func (e *engine) finished() <-chan struct{} {
	if t := e.cur.Load(); t != nil {
		return t.done
	}
	return nil
}

func (e *engine) shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrStopped
	}
	e.stopped = true
	ctx, giveUp, release := e.stopping(ctx)
	defer release()
	var err error
	if t := e.cur.Load(); t != nil {
		for name := range e.conns {
			t.setDrain(name)
		}
		if err = t.stop(ctx, giveUp); err != nil {
			err = fmt.Errorf("drain engine: %w", err)
		}
	}
	var ends []*connNode
	for _, n := range e.conns {
		ends = append(ends, n)
	}
	for _, pn := range e.pipes {
		ends = append(ends, pn.procs()...)
	}
	e.finishAll(ends, giveUp)
	for _, pn := range e.pipes {
		closePipe(pn)
	}
	e.closeQueues(nil)
	if e.srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e.srv.Shutdown(sctx)
		cancel()
	}
	return err
}

// closePipe marks a pipeline stopped and frees its batches; its processor
// steps are finished apart (see finishAll).
func closePipe(pn *pipeNode) {
	pn.state.Store(stStopped)
	pn.pool.close()
}

// procs lists the pipeline's processor steps.
func (pn *pipeNode) procs() []*connNode {
	var out []*connNode
	for _, s := range pn.steps {
		if s.proc != nil {
			out = append(out, s.proc)
		}
	}
	return out
}

// stopping prepares a stop (Shutdown or Reload) bounded by ctx: the ctx it
// returns ends with ctx or at Kill (its cause then ErrKilled), and giveUp is
// closed killGrace after that, or at once on Kill: a stop waits for no
// worker or connector call past it. release frees what stopping started.
func (e *engine) stopping(parent context.Context) (ctx context.Context, giveUp <-chan struct{}, release func()) {
	ctx, cancel := context.WithCancelCause(parent)
	up, quit := make(chan struct{}), make(chan struct{})
	wait := killGrace
	go func() {
		select {
		case <-ctx.Done():
		case <-e.killed:
			cancel(ErrKilled)
		case <-quit:
			return
		}
		grace := time.NewTimer(wait)
		defer grace.Stop()
		select {
		case <-grace.C:
		case <-e.killed:
		case <-quit:
			return
		}
		close(up)
	}()
	return ctx, up, func() {
		close(quit)
		cancel(nil)
	}
}

// kill makes a stop in progress, or the next one, give up at once.
func (e *engine) kill() {
	e.killOnce.Do(func() { close(e.killed) })
}

// finishAll finishes the nodes (see connNode.finish), each in its own
// goroutine, and waits for them until giveUp is closed; when the stop
// used up the grace already, they get a kill grace of their own, unless
// the engine is killed. A node whose finish has not ended by then, with a
// call in flight, is abandoned: that call is stuck.
func (e *engine) finishAll(nodes []*connNode, giveUp <-chan struct{}) {
	select {
	case <-giveUp:
		grace := time.NewTimer(killGrace)
		defer grace.Stop()
		fresh := make(chan struct{})
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-grace.C:
			case <-e.killed:
			case <-stop:
				return
			}
			close(fresh)
		}()
		giveUp = fresh
	default:
	}
	done := make([]chan struct{}, len(nodes))
	for i, n := range nodes {
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			n.finish(true)
		}()
	}
	for i, n := range nodes {
		select {
		case <-done[i]:
		case <-giveUp:
			select {
			case <-done[i]:
			default:
				// Only an instance with a call in flight is stuck; one
				// whose finish merely had not run yet (a second signal
				// gives up at once) is left to it, not named.
				n.abandon(false)
			}
		}
	}
}

func (e *engine) reload(g Graph) error {
	p, err := buildPlan(g, e.reg, &e.opts)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrStopped
	}
	if !e.started {
		e.plan = p
		return nil
	}
	keepConn := map[string]bool{}
	for _, cp := range p.conns {
		if old, ok := e.plan.connByName[cp.def.Name]; ok && sameConnector(old, cp) {
			keepConn[cp.def.Name] = true
		}
	}
	keepPipe := map[string]bool{}
	for _, pp := range p.pipes {
		if old, ok := e.plan.pipeByName[pp.def.Name]; ok && samePipeline(old.def, pp.def) {
			keepPipe[pp.def.Name] = true
		}
	}
	old := e.cur.Load()
	if err := old.stuckCalls(e.opts.DrainTimeout); err != nil {
		return fmt.Errorf("reload: the running config is kept: %w", err)
	}
	if err := e.openQueues(p); err != nil {
		return fmt.Errorf("reload: the running config is kept: %w", err)
	}
	for name := range e.conns {
		if !keepConn[name] {
			old.setDrain(name)
		}
	}
	for _, r := range old.pipes {
		r.final.Store(!keepPipe[r.p.def.Name])
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.DrainTimeout)
	ctx, giveUp, release := e.stopping(ctx)
	stopErr := old.stop(ctx, giveUp)
	if stopErr != nil {
		e.opts.Log.Warn("reload: drain timed out; in-flight batches dropped", "err", stopErr)
	}
	// An abandoned instance is never called again: its connector, or the
	// pipeline it is a step of, gets a new one even if unchanged.
	for name := range keepConn {
		if e.conns[name].stuck.Load() {
			delete(keepConn, name)
		}
	}
	for name := range keepPipe {
		for _, n := range e.pipes[name].procs() {
			if n.stuck.Load() {
				delete(keepPipe, name)
			}
		}
	}
	var ends []*connNode
	for name, n := range e.conns {
		if !keepConn[name] {
			ends = append(ends, n)
		}
	}
	for name, pn := range e.pipes {
		if !keepPipe[name] {
			ends = append(ends, pn.procs()...)
		}
	}
	e.finishAll(ends, giveUp)
	release()
	cancel()
	e.closeQueues(p)
	e.nodesMu.Lock()
	defer e.nodesMu.Unlock()
	// The final figures of each node that goes, by name, for the node
	// that replaces it (see carry); retire keeps the nodes, to read the
	// figures no node carries.
	retired := map[string][]ComponentStats{}
	gone := map[string]func() []ComponentStats{}
	for name, n := range e.conns {
		if !keepConn[name] {
			retired[name], gone[name] = n.stats(), n.stats
			delete(e.conns, name)
		}
	}
	for name, pn := range e.pipes {
		if !keepPipe[name] {
			closePipe(pn)
			retired[name], gone[name] = pn.stats(), pn.stats
			delete(e.pipes, name)
		}
	}
	for _, cp := range p.conns {
		if !keepConn[cp.def.Name] {
			n := newConnNode(cp.def, cp.typ, &e.opts, cp.hasSource, cp.hasSink)
			n.base = retired[cp.def.Name]
			e.conns[cp.def.Name] = n
		} else {
			e.conns[cp.def.Name].def = cp.def
		}
	}
	for _, pp := range p.pipes {
		if !keepPipe[pp.def.Name] {
			pn := e.newPipeNode(pp)
			pn.base = retired[pp.def.Name]
			e.pipes[pp.def.Name] = pn
		}
	}
	e.retire(retired, gone, old, p)
	e.plan = p
	e.cur.Store(e.buildTopo(p))
	e.opts.Log.Info("reloaded", "kept_connectors", len(keepConn), "kept_pipelines", len(keepPipe))
	return nil
}

// retiree is something a reload took out: a node, with the roles of it
// that no node of the new plan has, or an edge. Its figures are read at
// each snapshot, not once at the reload: a node that a killed reload
// stopped waiting for goes on finishing (dropping, closing) and counting.
type retiree struct {
	stats func() []ComponentStats
	roles []string
	edge  *edge
	// frozen: the edge has a disk buffer, and its queue is read as
	// queued, queuedBatches rather than live. A buffer the reload closed
	// counted what it held as kept_in_buffer on the live side (0 here);
	// one the new plan goes on using belongs to its live edge from then
	// on (what it held at the reload here).
	frozen                bool
	queued, queuedBatches int
}

// retire adds to e.retired what the reload from old to p takes out: each
// role of a gone node (retired holds their figures at the reload, gone
// reads them) that no node of p has, and each edge of old that p does not
// have.
func (e *engine) retire(retired map[string][]ComponentStats, gone map[string]func() []ComponentStats, old *topo, p *plan) {
	for _, name := range slices.Sorted(maps.Keys(retired)) {
		var now []ComponentStats
		if n, ok := e.conns[name]; ok {
			now = n.stats()
		} else if pn, ok := e.pipes[name]; ok {
			now = pn.stats()
		}
		r := retiree{stats: gone[name]}
		for _, c := range retired[name] {
			if !slices.ContainsFunc(now, func(l ComponentStats) bool { return l.Name == c.Name && l.Role == c.Role }) {
				r.roles = append(r.roles, c.Name+"\x00"+c.Role)
			}
		}
		if len(r.roles) > 0 {
			e.retired = append(e.retired, r)
		}
	}
	for _, ed := range old.edges {
		d := ed.def
		if slices.ContainsFunc(p.edges, func(n EdgeDef) bool { return n.From == d.From && n.FromPort == d.FromPort && n.To == d.To }) {
			continue
		}
		r := retiree{edge: ed, frozen: ed.dq != nil}
		if r.frozen && e.queues[bufferKey(ed.dq.def.Path)] == ed.dq {
			s := ed.stats()
			r.queued, r.queuedBatches = s.QueuedEvents, s.QueuedBatches
		}
		e.retired = append(e.retired, r)
	}
}

// removed sums the figures of everything reloads took out, as they are
// now; under nodesMu.
func (e *engine) removed() RemovedStats {
	var out RemovedStats
	for _, r := range e.retired {
		if r.edge != nil {
			s := r.edge.stats()
			if r.frozen {
				s.QueuedEvents, s.QueuedBatches = r.queued, r.queuedBatches
			}
			out.Edges = retireEdge(out.Edges, s)
			continue
		}
		for _, c := range r.stats() {
			if slices.Contains(r.roles, c.Name+"\x00"+c.Role) {
				out.Components = retireComponent(out.Components, c)
			}
		}
	}
	return out
}

func (e *engine) stats() Snapshot {
	s := Snapshot{Taken: time.Now()}
	e.nodesMu.RLock()
	s.Removed = e.removed()
	conns := make([]*connNode, 0, len(e.conns))
	for _, n := range e.conns {
		conns = append(conns, n)
	}
	pipes := make([]*pipeNode, 0, len(e.pipes))
	for _, p := range e.pipes {
		pipes = append(pipes, p)
	}
	e.nodesMu.RUnlock()
	for _, n := range conns {
		s.Components = append(s.Components, n.stats()...)
	}
	for _, p := range pipes {
		s.Components = append(s.Components, p.stats()...)
	}
	sort.Slice(s.Components, func(i, j int) bool {
		a, b := s.Components[i], s.Components[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Role < b.Role
	})
	if t := e.cur.Load(); t != nil {
		for _, ed := range t.edges {
			s.Edges = append(s.Edges, ed.stats())
		}
	}
	return s
}
