package runtime

import (
	"github.com/weirproject/weir/connector"

	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

func TestLifecycleOrderAndReconnect(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 16, limit: 3, failConn: 2} }
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, testOpts())
	waitFinished(t, e)
	shutdown(t, e)
	src, snk := f.src("in"), f.sink("out")
	if got, want := src.attempts, []int{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("connect attempts = %v; want %v", got, want)
	}
	if got, want := src.list(), []string{"connect", "connect", "connect", "start", "drain", "stop", "close"}; !slices.Equal(got, want) {
		t.Errorf("source calls = %v; want %v", got, want)
	}
	if got, want := snk.list(), []string{"connect", "start", "drain", "stop", "close"}; !slices.Equal(got, want) {
		t.Errorf("sink calls = %v; want %v", got, want)
	}
	s := e.Stats()
	c, _ := s.Component("in", StatSource)
	if c.ConnectAttempts != 3 || c.Errors != 2 {
		t.Errorf("source connect attempts %d, errors %d; want 3, 2", c.ConnectAttempts, c.Errors)
	}
	if got := snk.events.Load(); got != 12 {
		t.Errorf("sink got %d events; want 12", got)
	}
	checkAccounting(t, s)
}

func TestGracefulDrainLosesNothing(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64} } // endless
	g := graph([]string{"in:src", "a:sink", "b:sink"}, nil,
		EdgeDef{From: "in", To: "a", Couple: true}, EdgeDef{From: "in", To: "b", Capacity: 1, Couple: true})
	e := startEngine(t, g, f, testOpts())
	eventually(t, 3*time.Second, "some events delivered", func() bool { return f.sink("b") != nil && f.sink("b").events.Load() > 1000 })
	shutdown(t, e)
	s := e.Stats()
	src, _ := s.Component("in", StatSource)
	for _, name := range []string{"a", "b"} {
		if got := f.sink(name).events.Load(); uint64(got) != src.EventsOut {
			t.Errorf("sink %s got %d events; source produced %d", name, got, src.EventsOut)
		}
	}
	for _, ed := range s.Edges {
		if ed.DroppedTotal() != 0 {
			t.Errorf("edge %s->%s dropped %v", ed.From, ed.To, ed.Dropped)
		}
	}
	checkAccounting(t, s)
}

// TestOverflowPolicies stalls a sink on its first batch, lets the source
// offer 10 batches into an edge of capacity 2, then releases the sink.
func TestOverflowPolicies(t *testing.T) {
	const batches, per = 10, 8
	tests := []struct {
		policy      string
		wantSeqs    []uint64 // first sequence numbers the sink gets
		wantDropped map[string]uint64
	}{
		{DropNewest, []uint64{1, 9, 17}, map[string]uint64{ReasonFull: 7 * per}},
		{DropOldest, []uint64{1, 65, 73}, map[string]uint64{ReasonOldest: 7 * per}},
		{Block, []uint64{1, 9, 17, 25, 33, 41, 49, 57, 65, 73}, map[string]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			f := newFixture()
			entered, block := make(chan struct{}), make(chan struct{})
			f.newSrc = func(string) *testSource {
				return &testSource{eventsPer: per, size: 8, limit: batches, gate: entered}
			}
			f.newSink = func(name string) *testSink { return &testSink{block: block, entered: entered} }
			g := graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out", Capacity: 2, Policy: tt.policy})
			e := startEngine(t, g, f, testOpts())
			if tt.policy == Block {
				eventually(t, 2*time.Second, "queue full", func() bool {
					ed, _ := e.Stats().Edge("in", "out")
					return ed.QueuedBatches == 2
				})
				// The source is blocked: it cannot have offered more.
				time.Sleep(20 * time.Millisecond)
				if n := f.src("in").produced.Load(); n != 4 {
					t.Errorf("blocked source produced %d batches; want 4 (1 in sink, 2 queued, 1 waiting)", n)
				}
			} else {
				eventually(t, 2*time.Second, "all batches offered", func() bool {
					ed, _ := e.Stats().Edge("in", "out")
					return ed.BatchesIn == batches
				})
			}
			close(block)
			waitFinished(t, e)
			s := e.Stats()
			ed, _ := s.Edge("in", "out")
			if ed.EventsIn != batches*per {
				t.Errorf("edge in = %d; want %d", ed.EventsIn, batches*per)
			}
			if !mapsEqual(ed.Dropped, tt.wantDropped) {
				t.Errorf("edge dropped = %v; want %v", ed.Dropped, tt.wantDropped)
			}
			if want := uint64(len(tt.wantSeqs) * per); ed.EventsOut != want {
				t.Errorf("edge out = %d; want %d", ed.EventsOut, want)
			}
			snk := f.sink("out")
			if !slices.Equal(snk.seqs, tt.wantSeqs) {
				t.Errorf("sink got batches starting at %v; want %v", snk.seqs, tt.wantSeqs)
			}
			sc, _ := s.Component("out", StatSink)
			if sc.EventsIn != ed.EventsOut || sc.EventsOut != ed.EventsOut {
				t.Errorf("sink in %d out %d; want %d", sc.EventsIn, sc.EventsOut, ed.EventsOut)
			}
			checkAccounting(t, s)
		})
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFanoutSlowSinkDoesNotStallSiblings(t *testing.T) {
	for _, couple := range []bool{false, true} {
		t.Run(fmt.Sprintf("couple=%v", couple), func(t *testing.T) {
			const batches = 40
			f := newFixture()
			block, entered := make(chan struct{}), make(chan struct{})
			// The source waits after batch 1 until the slow sink holds it.
			f.newSrc = func(string) *testSource {
				return &testSource{eventsPer: 4, size: 8, limit: batches, gate: entered}
			}
			f.newSink = func(name string) *testSink {
				if name == "slow" {
					return &testSink{block: block, entered: entered}
				}
				return &testSink{}
			}
			g := graph([]string{"in:src", "slow:sink", "fast:sink"}, nil,
				EdgeDef{From: "in", To: "slow", Capacity: 2, Couple: couple},
				EdgeDef{From: "in", To: "fast", Capacity: batches})
			e := startEngine(t, g, f, testOpts())
			if !couple {
				eventually(t, 3*time.Second, "fast sink gets everything", func() bool {
					return f.sink("fast") != nil && f.sink("fast").batches.Load() == batches
				})
			} else {
				eventually(t, 2*time.Second, "slow edge full", func() bool {
					ed, _ := e.Stats().Edge("in", "slow")
					return ed.QueuedBatches == 2
				})
				time.Sleep(30 * time.Millisecond)
				if n := f.sink("fast").batches.Load(); n > 5 {
					t.Errorf("coupled: fast sink got %d batches while its sibling was stalled; want at most 5", n)
				}
			}
			close(block)
			waitFinished(t, e)
			s := e.Stats()
			slow, _ := s.Edge("in", "slow")
			fast, _ := s.Edge("in", "fast")
			if fast.EventsOut != batches*4 || fast.DroppedTotal() != 0 {
				t.Errorf("fast edge out %d dropped %v; want %d, none", fast.EventsOut, fast.Dropped, batches*4)
			}
			if couple {
				if slow.EventsOut != batches*4 || slow.DroppedTotal() != 0 {
					t.Errorf("coupled slow edge out %d dropped %v; want %d, none", slow.EventsOut, slow.Dropped, batches*4)
				}
			} else {
				// 1 batch in the sink, 2 queued; the rest shed.
				if got, want := slow.Dropped[ReasonDecoupled], uint64((batches-3)*4); got != want {
					t.Errorf("slow edge decoupled drops = %d; want %d", got, want)
				}
			}
			checkAccounting(t, s)
		})
	}
}

func TestCircuitBreakerPausesAndResumesSources(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	f.newSink = func(string) *testSink {
		s := &testSink{}
		s.failing.Store(true)
		return s
	}
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, testOpts())
	eventually(t, 2*time.Second, "source paused", func() bool { return f.src("in") != nil && f.src("in").paused.Load() })
	c, _ := e.Stats().Component("out", StatSink)
	if c.Circuit != "open" && c.Circuit != "half_open" {
		t.Errorf("circuit = %q; want open or half_open", c.Circuit)
	}
	if sc, _ := e.Stats().Component("in", StatSource); sc.State != "paused" {
		t.Errorf("source state = %q; want paused", sc.State)
	}
	f.sink("out").failing.Store(false)
	eventually(t, 2*time.Second, "source resumed", func() bool { return !f.src("in").paused.Load() })
	eventually(t, 2*time.Second, "circuit closed", func() bool {
		c, _ := e.Stats().Component("out", StatSink)
		return c.Circuit == "closed"
	})
	before := f.sink("out").batches.Load()
	eventually(t, 2*time.Second, "writes flow again", func() bool { return f.sink("out").batches.Load() > before+10 })
	shutdown(t, e)
	s := e.Stats()
	c, _ = s.Component("out", StatSink)
	if c.Retries < 3 {
		t.Errorf("retries = %d; want at least 3", c.Retries)
	}
	if c.DroppedTotal() != 0 {
		t.Errorf("sink dropped %v; retried batches must not be lost", c.Dropped)
	}
	src := f.src("in")
	if src.count("pause") < 1 || src.count("resume") < 1 {
		t.Errorf("source calls %v; want pause and resume", src.list())
	}
	checkAccounting(t, s)
}

func TestAcksExactlyOncePerBatch(t *testing.T) {
	const batches, per = 30, 4
	f := newFixture()
	f.ackers = true
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: per, size: 8, limit: batches} }
	f.newSink = func(name string) *testSink {
		if name == "picky" {
			return &testSink{errEvery: 3, perBatch: per}
		}
		return &testSink{}
	}
	g := graph([]string{"in:src", "ok:sink", "picky:sink"}, nil,
		EdgeDef{From: "in", To: "ok", Capacity: 64}, EdgeDef{From: "in", To: "picky", Capacity: 64})
	e := startEngine(t, g, f, testOpts())
	waitFinished(t, e)
	shutdown(t, e)
	src := f.src("in")
	for id := uint64(1); id <= batches; id++ {
		wantFail := (id-1)%3 == 0
		a, fl := src.acked[id], src.failed[id]
		if a+fl != 1 {
			t.Errorf("batch %d: %d acks, %d fails; want exactly one", id, a, fl)
		} else if wantFail != (fl == 1) {
			t.Errorf("batch %d: failed=%v; want %v", id, fl == 1, wantFail)
		}
	}
	if n := len(src.acked) + len(src.failed); n != batches {
		t.Errorf("acks/fails for %d batch IDs; want %d", n, batches)
	}
	s := e.Stats()
	c, _ := s.Component("in", StatSource)
	if c.Acks != 20 || c.Fails != 10 {
		t.Errorf("stats acks %d fails %d; want 20, 10", c.Acks, c.Fails)
	}
	checkAccounting(t, s)
}

func TestReloadKeepsUnchangedConnectors(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	g1 := graph([]string{"in:src", "keep:sink", "change:sink", "gone:sink"}, nil,
		EdgeDef{From: "in", To: "keep"}, EdgeDef{From: "in", To: "change"}, EdgeDef{From: "in", To: "gone"})
	e := startEngine(t, g1, f, testOpts())
	// Every sink must exist before the reload: on a busy machine one can
	// still be starting when another already has data.
	eventually(t, 2*time.Second, "flow", func() bool {
		for _, name := range []string{"keep", "change", "gone"} {
			if s := f.sink(name); s == nil || s.batches.Load() <= 5 {
				return false
			}
		}
		return true
	})
	src1, keep1, change1, gone1 := f.src("in"), f.sink("keep"), f.sink("change"), f.sink("gone")

	g2 := graph([]string{"in:src", "keep:sink", "change:sink", "new:sink"}, nil,
		EdgeDef{From: "in", To: "keep"}, EdgeDef{From: "in", To: "change"}, EdgeDef{From: "in", To: "new"})
	g2.Connectors[2].Config = []byte(`{"changed":true}`)
	if err := e.Reload(g2); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if f.src("in") != src1 || f.sink("keep") != keep1 || f.createdCount("in") != 1 || f.createdCount("keep") != 1 {
		t.Errorf("unchanged connectors were recreated")
	}
	for _, c := range []*calls{&src1.calls, &keep1.calls} {
		if c.count("stop") != 0 || c.count("connect") != 1 {
			t.Errorf("unchanged connector calls %v; want one connect and no stop", c.list())
		}
	}
	for _, c := range []*calls{&change1.calls, &gone1.calls} {
		if got := c.list(); !slices.Equal(got[len(got)-3:], []string{"drain", "stop", "close"}) {
			t.Errorf("replaced connector calls %v; want to end with drain, stop, close", got)
		}
	}
	eventually(t, 2*time.Second, "changed connector recreated", func() bool {
		return f.sink("change") != change1 && f.createdCount("change") == 2
	})
	eventually(t, 2*time.Second, "new sink gets data", func() bool { return f.sink("new") != nil && f.sink("new").batches.Load() > 5 })
	before := keep1.batches.Load()
	eventually(t, 2*time.Second, "kept sink keeps getting data", func() bool { return keep1.batches.Load() > before+5 })
	shutdown(t, e)
	checkAccounting(t, e.Stats())
	if err := e.Reload(g1); !errors.Is(err, ErrStopped) {
		t.Errorf("Reload after Shutdown = %v; want ErrStopped", err)
	}
}

func TestReloadRejectsBadGraph(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, testOpts())
	err := e.Reload(graph([]string{"in:src", "out:nosuch"}, nil, EdgeDef{From: "in", To: "out"}))
	if !errors.Is(err, ErrGraph) {
		t.Fatalf("Reload(bad) = %v; want ErrGraph", err)
	}
	eventually(t, 2*time.Second, "flow", func() bool { return f.sinkBatches("out") > 0 })
	before := f.sinkBatches("out")
	eventually(t, 2*time.Second, "old graph still runs", func() bool { return f.sinkBatches("out") > before+5 })
}

func TestPanickingConnectorsContained(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, limit: 20, panicAt: 3} }
	f.newSink = func(string) *testSink {
		if f.created["out"] == 0 {
			return &testSink{panicAt: 2}
		}
		return &testSink{}
	}
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, testOpts())
	eventually(t, 3*time.Second, "sink recovers", func() bool {
		s := f.sink("out")
		return s != nil && f.createdCount("out") == 2 && s.batches.Load() > 3
	})
	shutdown(t, e)
	s := e.Stats()
	snk, _ := s.Component("out", StatSink)
	if snk.Panics != 1 || snk.Restarts != 1 || snk.Dropped[ReasonSinkError] != 4 {
		t.Errorf("sink panics %d restarts %d dropped %v; want 1, 1, sink_error:4", snk.Panics, snk.Restarts, snk.Dropped)
	}
	src, _ := s.Component("in", StatSource)
	if src.Panics != 1 {
		t.Errorf("source panics = %d; want 1", src.Panics)
	}
	checkAccounting(t, s)
}

func TestNewRejectsBadGraphs(t *testing.T) {
	f := newFixture()
	tests := []struct {
		name string
		g    Graph
		want string
	}{
		{"unknown type", graph([]string{"a:nope"}, nil), `connector "a": unknown connector type "nope"; known types: `},
		{"duplicate name", graph([]string{"a:src", "a:sink"}, nil), `duplicate name "a": already used by the connector`},
		{"dangling edge", graph([]string{"a:src"}, nil, EdgeDef{From: "a", To: "b"}), `connection a -> b: to: no connector or pipeline named "b"`},
		{"sink as source", graph([]string{"a:sink", "b:sink"}, nil, EdgeDef{From: "a", To: "b"}), `connection a -> b: from: connector "a" (type sink) is a sink only`},
		{"bad policy", graph([]string{"a:src", "b:sink"}, nil, EdgeDef{From: "a", To: "b", Policy: "maybe"}), `unknown policy "maybe"`},
		{"unknown op", graph([]string{"a:src"}, []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "frob"}}}}), `pipeline "p" step 1: unknown operator "frob"; want one of `},
		{"duplicate edge", graph([]string{"a:src", "b:sink"}, nil, EdgeDef{From: "a", To: "b"}, EdgeDef{From: "a", To: "b"}), `connection a -> b: duplicate connection`},
		{"cycle", graph(nil, []PipelineDef{{Name: "p"}, {Name: "q"}}, EdgeDef{From: "p", To: "q"}, EdgeDef{From: "q", To: "p"}), `connection q -> p closes a cycle: p -> q -> p`},
	}
	for _, tt := range tests {
		_, err := New(tt.g, f.reg, testOpts())
		if err == nil || !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New() = %v; want ErrGraph containing %q", tt.name, err, tt.want)
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	e, err := New(graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f.reg, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	eventually(t, 2*time.Second, "flow", func() bool { return f.sink("out") != nil && f.sink("out").batches.Load() > 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	case <-time.After(hang):
		t.Fatal("Run did not return after cancel")
	}
	checkAccounting(t, e.Stats())
}

// TestDrainTimeoutDropsAndAccounts shuts down while a sink refuses every
// batch: the drain times out, what was in flight is dropped with reason
// shutdown and failed back to the source, and the books still balance.
func TestDrainTimeoutDropsAndAccounts(t *testing.T) {
	f := newFixture()
	f.ackers = true
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	f.newSink = func(string) *testSink {
		s := &testSink{}
		s.failing.Store(true)
		return s
	}
	opts := testOpts()
	opts.BreakerCooldown = time.Hour
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	eventually(t, 2*time.Second, "breaker open", func() bool {
		c, _ := e.Stats().Component("out", StatSink)
		return c.Circuit == "open"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want a deadline error", err)
	}
	s := e.Stats()
	checkAccounting(t, s)
	snk, _ := s.Component("out", StatSink)
	ed, _ := s.Edge("in", "out")
	lost := snk.Dropped[ReasonShutdown] + ed.Dropped[ReasonShutdown]
	src, _ := s.Component("in", StatSource)
	if lost == 0 || lost != src.EventsOut {
		t.Errorf("dropped at shutdown %d events; want all %d the source produced", lost, src.EventsOut)
	}
	if src.Fails != src.BatchesOut || src.Acks != 0 {
		t.Errorf("source acks %d fails %d; want 0, %d", src.Acks, src.Fails, src.BatchesOut)
	}
	if err := e.Shutdown(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("second Shutdown = %v; want ErrStopped", err)
	}
}

// echo is both a sink and a source: every event written to it comes out of
// its source side again.
type echo struct {
	connector.Base
	pending int
}

func (e *echo) Write(b *cabi.Batch) (cabi.Status, error) {
	e.pending += int(b.Len)
	return cabi.OK, nil
}

func (e *echo) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if e.pending == 0 {
		time.Sleep(timeout / 4)
		return cabi.Timeout, nil
	}
	var buf [8]byte
	for e.pending > 0 && b.Append(0, 0, cabi.KindRaw, 0, buf[:]) {
		e.pending--
	}
	return cabi.OK, nil
}

func TestConnectorBothSourceAndSink(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, limit: 20} }
	f.reg.MustRegister(connector.Type{ID: "echo", Roles: connector.RoleSource | connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) { return &echo{}, nil }})
	g := graph([]string{"in:src", "mid:echo", "out:sink"}, nil, EdgeDef{From: "in", To: "mid"}, EdgeDef{From: "mid", To: "out"})
	e := startEngine(t, g, f, testOpts())
	eventually(t, 3*time.Second, "events echoed", func() bool { return f.sink("out") != nil && f.sink("out").events.Load() == 80 })
	shutdown(t, e)
	s := e.Stats()
	if c, _ := s.Component("mid", StatSink); c.EventsOut != 80 {
		t.Errorf("echo sink side wrote %d events; want 80", c.EventsOut)
	}
	if c, _ := s.Component("mid", StatSource); c.EventsOut != 80 {
		t.Errorf("echo source side produced %d events; want 80", c.EventsOut)
	}
	checkAccounting(t, s)
}

// borrowSource points its events at its own buffer, which it overwrites on
// every Poll, as a kernel ring reader does: the engine must not poll again
// until every holder of the previous batch is done.
type borrowSource struct {
	connector.Base
	buf   []byte
	n     uint64
	limit uint64
}

func (s *borrowSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if s.n == s.limit {
		return cabi.EOF, nil
	}
	s.n++
	for i := 0; i < len(s.buf); i += 8 {
		binary.LittleEndian.PutUint64(s.buf[i:], s.n)
	}
	slots := b.Slots()
	for i := 0; i < len(s.buf)/8; i++ {
		slots[i] = cabi.Event{Data: unsafe.Pointer(&s.buf[i*8]), Len: 8}
	}
	b.Len = uint32(len(s.buf) / 8)
	return cabi.OK, nil
}

func TestBorrowedBytesStayValidUntilDelivered(t *testing.T) {
	f := newFixture()
	src := &borrowSource{buf: make([]byte, 8*16), limit: 50}
	f.reg.MustRegister(connector.Type{ID: "borrow", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) { return src, nil }})
	var bad atomic.Int64
	f.newSink = func(name string) *testSink {
		var last uint64
		return &testSink{inspect: func(b *cabi.Batch) {
			time.Sleep(200 * time.Microsecond) // give a racing Poll time to overwrite
			// Batch k must still hold k in every event.
			last++
			evs := b.EventSlice()
			for i := range evs {
				if seqOf(&evs[i]) != last {
					bad.Add(1)
				}
			}
		}}
	}
	g := graph([]string{"in:borrow", "a:sink", "b:sink"}, []PipelineDef{{Name: "p"}},
		EdgeDef{From: "in", To: "a", Couple: true}, EdgeDef{From: "in", To: "p", Couple: true}, EdgeDef{From: "p", To: "b"})
	runToEnd(t, g, f, testOpts())
	if n := bad.Load(); n != 0 {
		t.Errorf("%d events were overwritten before their batch was delivered", n)
	}
	if f.sink("a").events.Load() != 800 || f.sink("b").events.Load() != 800 {
		t.Errorf("sinks got %d and %d events; want 800 each", f.sink("a").events.Load(), f.sink("b").events.Load())
	}
}

// TestSinkThatCannotBeCreated keeps the graph flowing when a sink's type
// refuses to build an instance for good: its batches are dropped and
// counted, the source is not stuck, and the sink is reported failed.
func TestSinkThatCannotBeCreated(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, limit: 40} }
	f.reg.MustRegister(connector.Type{ID: "mute", Roles: connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) { return &testSource{}, nil }})
	g := graph([]string{"in:src", "bad:mute", "good:sink"}, nil,
		EdgeDef{From: "in", To: "bad", Capacity: 1, Couple: true}, EdgeDef{From: "in", To: "good", Couple: true})
	s := runToEnd(t, g, f, testOpts())
	bad, _ := s.Component("bad", StatSink)
	if bad.State != "failed" && bad.State != "stopped" || bad.Dropped[ReasonSinkError] != 160 {
		t.Errorf("bad sink state %q dropped %v; want failed, sink_error:160", bad.State, bad.Dropped)
	}
	if got := f.sink("good").events.Load(); got != 160 {
		t.Errorf("good sink got %d events; want 160", got)
	}
}

// TestCreateErrorIsFinal: a constructor error is reported once and the sink
// is failed, not retried; the rest of the graph keeps flowing.
func TestCreateErrorIsFinal(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, limit: 40} }
	var calls atomic.Int64
	f.reg.MustRegister(connector.Type{ID: "broken", Roles: connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) {
		calls.Add(1)
		return nil, errors.New("events.jsonl:3:7: bad event")
	}})
	g := graph([]string{"in:src", "bad:broken", "good:sink"}, nil,
		EdgeDef{From: "in", To: "bad", Capacity: 1, Couple: true}, EdgeDef{From: "in", To: "good", Couple: true})
	s := runToEnd(t, g, f, testOpts())
	bad, _ := s.Component("bad", StatSink)
	if calls.Load() != 1 || bad.State != "failed" && bad.State != "stopped" || bad.Dropped[ReasonSinkError] != 160 {
		t.Errorf("New called %d times, bad sink state %q dropped %v; want 1 call, failed, sink_error:160", calls.Load(), bad.State, bad.Dropped)
	}
	if got := f.sink("good").events.Load(); got != 160 {
		t.Errorf("good sink got %d events; want 160", got)
	}
}

// lazySource never blocks in Poll: it has an event only after the test
// calls its wakeup, and otherwise returns cabi.Timeout at once.
type lazySource struct {
	connector.Base
	polls  atomic.Int64
	ready  atomic.Int64
	wakeup func()
}

func (s *lazySource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	s.polls.Add(1)
	if s.ready.Load() == 0 {
		return cabi.Timeout, nil
	}
	s.ready.Add(-1)
	b.Append(uint64(time.Now().UnixNano()), 0, cabi.KindRaw, 0, make([]byte, 8))
	return cabi.OK, nil
}

func TestIdleSourceDoesNotSpinAndWakes(t *testing.T) {
	f := newFixture()
	src := &lazySource{}
	f.reg.MustRegister(connector.Type{ID: "lazy", Roles: connector.RoleSource, New: func(_ []byte, env connector.Env) (connector.Connector, error) {
		src.wakeup = env.Wakeup
		return src, nil
	}})
	// A poll timeout no test run reaches: an event that arrives at all
	// was fetched because of the Wakeup, however busy the machine (a
	// bound of 100ms against a 200ms timeout failed under load).
	const pollTimeout = time.Hour
	opts := testOpts()
	opts.PollTimeout = pollTimeout
	e := startEngine(t, graph([]string{"in:lazy", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	time.Sleep(100 * time.Millisecond)
	if n := src.polls.Load(); n > 3 {
		t.Errorf("idle source polled %d times in 100ms with a %v poll timeout; want at most 3", n, pollTimeout)
	}
	src.ready.Add(1)
	src.wakeup()
	eventually(t, time.Minute, "event after wakeup, long before the poll timeout", func() bool { return f.sinkBatches("out") == 1 })
	shutdown(t, e)
}

// TestReloadResumesSourcePausedByBreaker replaces a failing sink while its
// breaker holds the source paused: the source is kept, and resumes.
func TestReloadResumesSourcePausedByBreaker(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	f.newSink = func(string) *testSink {
		s := &testSink{}
		s.failing.Store(f.created["out"] == 0) // only the first instance fails
		return s
	}
	opts := testOpts()
	opts.BreakerCooldown = time.Hour
	opts.DrainTimeout = 100 * time.Millisecond
	g := graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
	e := startEngine(t, g, f, opts)
	eventually(t, 2*time.Second, "source paused", func() bool { return f.src("in") != nil && f.src("in").paused.Load() })
	src := f.src("in")
	g.Connectors[1].Config = []byte(`{"fixed":true}`)
	if err := e.Reload(g); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	eventually(t, 2*time.Second, "source resumed", func() bool { return !src.paused.Load() })
	eventually(t, 2*time.Second, "new sink gets data", func() bool { return f.sinkBatches("out") > 5 })
	if f.src("in") != src || src.count("connect") != 1 {
		t.Errorf("source was recreated or reconnected: calls %v", src.list())
	}
	shutdown(t, e)
	checkAccounting(t, e.Stats())
}

// TestStopFailure: a sink whose final drain, stop and close fail (what it
// buffered could not be written out) is named in the snapshot with the
// first of those errors, and one that stops cleanly is not.
func TestStopFailure(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 16, limit: 3} }
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		if name == "bad" {
			s.flushErr = errors.New("flush: no space left on device")
		}
		return s
	}
	g := graph([]string{"in:src", "bad:sink", "good:sink"}, nil, EdgeDef{From: "in", To: "bad"}, EdgeDef{From: "in", To: "good"})
	e := startEngine(t, g, f, testOpts())
	waitFinished(t, e)
	shutdown(t, e)
	s := e.Stats()
	bad, _ := s.Component("bad", StatSink)
	if bad.StopFailure != "drain bad: flush: no space left on device" {
		t.Errorf("bad sink StopFailure = %q; want its drain error", bad.StopFailure)
	}
	for _, name := range []string{"good", "in"} {
		for _, c := range s.Components {
			if c.Name == name && c.StopFailure != "" {
				t.Errorf("%s %s StopFailure = %q; want none", c.Role, name, c.StopFailure)
			}
		}
	}
	checkAccounting(t, s)
}
