package runtime

import (
	"github.com/weirproject/weir/connector"

	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

// testOpts are engine options with every wait made small.
func testOpts() Options {
	return Options{
		BatchEvents:     64,
		BatchBytes:      64 * 128,
		PoolBatches:     32,
		EdgeCapacity:    4,
		PollTimeout:     5 * time.Millisecond,
		ConnectBackoff:  Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond},
		RetryBackoff:    Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond},
		BreakerFailures: 3,
		BreakerCooldown: 20 * time.Millisecond,
		MaxPollErrors:   3,
		DrainTimeout:    3 * time.Second,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// calls records lifecycle calls in order. Safe for concurrent use.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

func (c *calls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func (c *calls) count(s string) int {
	n := 0
	for _, x := range c.list() {
		if x == s {
			n++
		}
	}
	return n
}

// testSource emits batches of events whose first 8 bytes hold a running
// sequence number. It stops with EOF after limit batches (0: never), and
// once drained.
type testSource struct {
	calls
	eventsPer  int
	size       int
	limit      int
	failConn   int  // fail this many Connect calls
	permanent  bool // Connect failures are connector.Permanent
	connWaits  bool // the first Connect waits for its ctx to end, then succeeds
	drained    atomic.Bool
	attempts   []int
	gate       chan struct{} // if set, batch 2 onwards waits for it to close
	panicAt    int           // panic in this Poll call (1-based), once
	goneAt     int           // from this Poll call (1-based) on, fail for good
	produced   atomic.Int64  // batches
	polls      int
	paused     atomic.Bool
	ackMu      sync.Mutex
	acked      map[uint64]int
	failed     map[uint64]int
	wantsAcks  bool
	seq        uint64
	fixedBytes []byte
	// badEvery makes every badEvery-th poll append its events and then
	// fail (Error with an error), as a misbehaving plugin may.
	badEvery int
	badPolls atomic.Int64 // polls failed that way
}

func (s *testSource) Connect(ctx context.Context, attempt int) error {
	s.add("connect")
	s.mu.Lock()
	s.attempts = append(s.attempts, attempt)
	s.mu.Unlock()
	if attempt <= s.failConn {
		if s.permanent {
			return connector.Permanent(errors.New("refused for good"))
		}
		return errors.New("refused")
	}
	if s.connWaits && attempt == 1 {
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
			return errors.New("connect not cancelled within 3s")
		}
	}
	return nil
}
func (s *testSource) Start() error { s.add("start"); return nil }
func (s *testSource) Pause() error { s.add("pause"); s.paused.Store(true); return nil }
func (s *testSource) Resume() error {
	s.add("resume")
	s.paused.Store(false)
	return nil
}
func (s *testSource) Drain() error {
	s.add("drain")
	s.drained.Store(true)
	return nil
}
func (s *testSource) Stop() error  { s.add("stop"); return nil }
func (s *testSource) Close() error { s.add("close"); return nil }

func (s *testSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	s.polls++
	if s.polls == s.panicAt {
		panic("test source exploded")
	}
	if s.goneAt > 0 && s.polls >= s.goneAt {
		return cabi.Error, connector.Permanent(errors.New("device gone"))
	}
	n := s.produced.Load()
	if s.drained.Load() || s.limit > 0 && n >= int64(s.limit) {
		return cabi.EOF, nil
	}
	if n >= 1 && s.gate != nil {
		select {
		case <-s.gate:
		case <-time.After(timeout):
			return cabi.Timeout, nil
		}
	}
	if s.fixedBytes == nil {
		s.fixedBytes = make([]byte, s.size)
	}
	for i := 0; i < s.eventsPer; i++ {
		s.seq++
		binary.LittleEndian.PutUint64(s.fixedBytes, s.seq)
		if !b.Append(s.seq, 0, cabi.KindRaw, 0, s.fixedBytes) {
			panic("test source: batch too small")
		}
	}
	if s.badEvery > 0 && s.polls%s.badEvery == 0 {
		s.badPolls.Add(1)
		return cabi.Error, errors.New("test source: appended, then failed")
	}
	s.produced.Add(1)
	return cabi.OK, nil
}

// countingSource is a testSource that reports its batches as a connector
// counter.
type countingSource struct{ *testSource }

func (s countingSource) Counters() []connector.Counter {
	return []connector.Counter{{Name: "batches", Help: "Batches produced.", Value: uint64(s.produced.Load())}}
}

// ackSource is a testSource that wants acknowledgements.
type ackSource struct{ *testSource }

func (s ackSource) Ack(id uint64) {
	s.ackMu.Lock()
	s.acked[id]++
	s.ackMu.Unlock()
}

func (s ackSource) Fail(id uint64) {
	s.ackMu.Lock()
	s.failed[id]++
	s.ackMu.Unlock()
}

// testSink counts what it is given. Its behaviour is steered by the hooks.
type testSink struct {
	calls
	name     string
	events   atomic.Int64
	batches  atomic.Int64
	seqs     []uint64 // first sequence number of each batch
	block    chan struct{}
	entered  chan struct{} // closed on the first Write
	once     sync.Once
	failing  atomic.Bool // answer Retry
	erroring atomic.Bool // answer Error
	errEvery int         // answer Error for batches whose first seq/eventsPer % errEvery == 0
	perBatch int
	panicAt  int // panic on this Write call (1-based)
	writes   int
	seen     chan struct{} // signalled (non-blocking) per accepted batch
	inspect  func(b *cabi.Batch)
	flushErr error // returned by Drain, Stop and Close: a final flush that fails
}

func (s *testSink) Connect(ctx context.Context, attempt int) error {
	s.add("connect")
	return nil
}
func (s *testSink) Start() error  { s.add("start"); return nil }
func (s *testSink) Pause() error  { return nil }
func (s *testSink) Resume() error { return nil }
func (s *testSink) Drain() error  { s.add("drain"); return s.flushErr }
func (s *testSink) Stop() error   { s.add("stop"); return s.flushErr }
func (s *testSink) Close() error  { s.add("close"); return s.flushErr }

func (s *testSink) Write(b *cabi.Batch) (cabi.Status, error) {
	s.writes++
	if s.entered != nil {
		s.once.Do(func() { close(s.entered) })
	}
	if s.block != nil {
		<-s.block
	}
	if s.writes == s.panicAt {
		panic("test sink exploded")
	}
	if s.failing.Load() {
		return cabi.Retry, nil
	}
	if s.erroring.Load() {
		return cabi.Error, errors.New("test sink: refusing every batch")
	}
	first := binary.LittleEndian.Uint64(b.EventSlice()[0].Bytes())
	if s.errEvery > 0 && (first-1)/uint64(s.perBatch)%uint64(s.errEvery) == 0 {
		return cabi.Error, errors.New("refused by test")
	}
	if s.inspect != nil {
		s.inspect(b)
	}
	s.mu.Lock()
	s.seqs = append(s.seqs, first)
	s.mu.Unlock()
	s.events.Add(int64(b.Len))
	s.batches.Add(1)
	if s.seen != nil {
		select {
		case s.seen <- struct{}{}:
		default:
		}
	}
	return cabi.OK, nil
}

// fixture registers one instance per name in a fresh registry: the types
// "src" and "sink" hand out the instances in the maps by connector name.
type fixture struct {
	reg     *connector.Registry
	mu      sync.Mutex
	sources map[string]*testSource
	sinks   map[string]*testSink
	created map[string]int
	newSrc  func(name string) *testSource
	newSink func(name string) *testSink
	ackers  bool
	// counting makes sources report their batches as a connector
	// counter (countingSource).
	counting bool
}

func newFixture() *fixture {
	f := &fixture{reg: connector.NewRegistry(), sources: map[string]*testSource{}, sinks: map[string]*testSink{}, created: map[string]int{}}
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64} }
	f.newSink = func(name string) *testSink { return &testSink{name: name} }
	f.reg.MustRegister(connector.Type{ID: "src", Roles: connector.RoleSource, New: func(config []byte, env connector.Env) (connector.Connector, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		s := f.newSrc(env.Name)
		f.sources[env.Name] = s
		f.created[env.Name]++
		if f.ackers {
			s.wantsAcks = true
			s.acked, s.failed = map[uint64]int{}, map[uint64]int{}
			return ackSource{s}, nil
		}
		if f.counting {
			return countingSource{s}, nil
		}
		return s, nil
	}})
	f.reg.MustRegister(connector.Type{ID: "sink", Roles: connector.RoleSink, New: func(config []byte, env connector.Env) (connector.Connector, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		s := f.newSink(env.Name)
		f.sinks[env.Name] = s
		f.created[env.Name]++
		return s, nil
	}})
	return f
}

func (f *fixture) src(name string) *testSource {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sources[name]
}

func (f *fixture) sink(name string) *testSink {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sinks[name]
}

func (f *fixture) createdCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created[name]
}

// hang bounds how long a test waits for what must happen (an engine to
// finish, a call to return) before it calls it a hang. It is not a speed
// requirement: passing tests never get near it, even on a machine busy
// with other work.
const hang = 30 * time.Second

// minEventually is the least time eventually waits. A passing test never
// waits for its deadline, so a long one costs nothing, while a short one
// fails a correct engine on a machine busy with other work (make test
// must pass beside two CPU-bound processes).
const minEventually = 30 * time.Second

// eventually polls cond every millisecond until it holds, and fails the
// test when it has not after d or minEventually, whichever is longer. It
// checks that something happens, not how fast: a test whose property is a
// bound on time (a wakeup that must beat a timeout) makes the wrong
// outcome take far longer than minEventually instead.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	d = max(d, minEventually)
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFinished waits until every source of e has ended, or fails the
// test after hang.
func waitFinished(t *testing.T, e *Engine) {
	t.Helper()
	select {
	case <-e.Finished():
	case <-time.After(hang):
		t.Fatal("engine did not finish")
	}
}

// checkAccounting asserts in (+ emitted) = out + dropped + in flight for
// every component and edge of an idle engine, those reloads removed
// included, with nothing in flight.
func checkAccounting(t *testing.T, s Snapshot) {
	t.Helper()
	for _, c := range slices.Concat(s.Components, s.Removed.Components) {
		if c.InFlight != 0 {
			t.Errorf("%s %s: in %d + emitted %d != out %d + dropped %d (in flight %d)", c.Role, c.Name, c.EventsIn, c.Emitted, c.EventsOut, c.DroppedTotal(), c.InFlight)
		}
	}
	for _, e := range slices.Concat(s.Edges, s.Removed.Edges) {
		if e.EventsIn != e.EventsOut+e.DroppedTotal()+uint64(e.QueuedEvents) {
			t.Errorf("edge %s->%s: in %d != out %d + dropped %d + queued %d", e.From, e.To, e.EventsIn, e.EventsOut, e.DroppedTotal(), e.QueuedEvents)
		}
	}
}

// graph builds a Graph from connector "name:type" pairs, pipelines and
// edges.
func graph(conns []string, pipes []PipelineDef, edges ...EdgeDef) Graph {
	g := Graph{Pipelines: pipes, Connections: edges}
	for _, c := range conns {
		name, typ, _ := cut(c, ':')
		g.Connectors = append(g.Connectors, ConnectorDef{Name: name, Type: typ, Config: []byte("{}")})
	}
	return g
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func startEngine(t *testing.T, g Graph, f *fixture, opts Options) *Engine {
	t.Helper()
	e, err := New(g, f.reg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e
}

// shutdown shuts e down and fails the test on an error. Its deadline only
// catches a hang: a shutdown that passes returns long before it.
func shutdown(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// sinkBatches returns how many batches the named sink took (0 before it
// exists).
func (f *fixture) sinkBatches(name string) int64 {
	if s := f.sink(name); s != nil {
		return s.batches.Load()
	}
	return 0
}

// testProcessor drops events whose sequence number is a multiple of 4.
type testProcessor struct {
	calls
}

func (p *testProcessor) Connect(context.Context, int) error { p.add("connect"); return nil }
func (p *testProcessor) Start() error                       { p.add("start"); return nil }
func (p *testProcessor) Pause() error                       { return nil }
func (p *testProcessor) Resume() error                      { return nil }
func (p *testProcessor) Drain() error                       { p.add("drain"); return nil }
func (p *testProcessor) Stop() error                        { p.add("stop"); return nil }
func (p *testProcessor) Close() error                       { p.add("close"); return nil }

func (p *testProcessor) Process(b *cabi.Batch) error {
	evs := b.EventSlice()
	for i := range evs {
		if binary.LittleEndian.Uint64(evs[i].Bytes())%4 == 0 {
			evs[i].Flags |= cabi.FlagDrop
		}
	}
	return nil
}
