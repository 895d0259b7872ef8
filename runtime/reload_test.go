package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/connector"
)

// reloadFixture is a fixture of counting sources with the type "proc" (a
// testProcessor) besides "src" and "sink".
func reloadFixture() *fixture {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	f.counting = true
	f.reg.MustRegister(connector.Type{ID: "proc", Roles: connector.RoleProcessor, New: func([]byte, connector.Env) (connector.Connector, error) {
		return &testProcessor{}, nil
	}})
	return f
}

// TestReloadKeepsCountersOfReplacedComponents changes the config of a
// source, a sink and a pipeline with a processor step, so that a reload
// replaces them all, and checks that every counter keeps growing from
// its total before the reload, and that components and edges still agree
// after Shutdown.
func TestReloadKeepsCountersOfReplacedComponents(t *testing.T) {
	f := reloadFixture()
	opts := testOpts()
	opts.NewOp = testNewOp
	mk := func(v string) Graph {
		g := graph([]string{"in:src", "out:sink", "raw:sink"},
			[]PipelineDef{{Name: "p", Ops: []OpDef{{Type: "drop_every", Config: []byte(`{"N":` + v + `}`)}, {Type: "proc"}}}},
			EdgeDef{From: "in", To: "p"}, EdgeDef{From: "in", To: "raw"}, EdgeDef{From: "p", To: "out"})
		g.Connectors[0].Config = []byte(`{"v":` + v + `}`)
		g.Connectors[1].Config = []byte(`{"v":` + v + `}`)
		return g
	}
	e := startEngine(t, mk("3"), f, opts)
	eventually(t, 2*time.Second, "flow", func() bool { return f.sinkBatches("out") > 5 })
	out1 := f.sink("out")
	before := e.Stats()
	if err := e.Reload(mk("5")); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	checkGrows(t, before, e.Stats())
	eventually(t, 2*time.Second, "flow after the reload", func() bool {
		return f.createdCount("in") == 2 && f.sink("out") != out1 && f.sinkBatches("out") > 5
	})
	mid := e.Stats()
	checkGrows(t, before, mid)
	shutdown(t, e)
	s := e.Stats()
	checkGrows(t, mid, s)
	checkAccounting(t, s)

	in, _ := s.Component("in", StatSource)
	p, _ := s.Component("p", StatPipeline)
	out, _ := s.Component("out", StatSink)
	raw, _ := s.Component("raw", StatSink)
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"edge in->p offered / source out", edgeOf(s, "in", "p").EventsIn, in.EventsOut},
		{"edge in->raw offered / source out", edgeOf(s, "in", "raw").EventsIn, in.EventsOut},
		{"edge in->p delivered / pipeline in", edgeOf(s, "in", "p").EventsOut, p.EventsIn},
		{"edge p->out offered / pipeline out", edgeOf(s, "p", "out").EventsIn, p.EventsOut},
		{"edge p->out delivered / sink out in", edgeOf(s, "p", "out").EventsOut, out.EventsIn},
		{"edge in->raw delivered / sink raw in", edgeOf(s, "in", "raw").EventsOut, raw.EventsIn},
		{"source batches counted by its instances / source batches in", ownCounter(in, "batches"), in.BatchesIn},
		{"source connect attempts / instances", in.ConnectAttempts, 2},
		{"sink out connect attempts / instances", out.ConnectAttempts, 2},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d != %d", c.what, c.got, c.want)
		}
	}
	proc, _ := s.Component("p/2", StatProcessor)
	if proc.EventsIn != p.EventsIn-p.Dropped[ReasonOperator]+proc.Dropped[ReasonOperator] {
		t.Errorf("processor p/2 took in %d; the pipeline took in %d and its first step dropped %d",
			proc.EventsIn, p.EventsIn, p.Dropped[ReasonOperator]-proc.Dropped[ReasonOperator])
	}
}

// TestReloadForgetsRemovedComponents removes a sink with a reload and adds
// it back with another: it starts again from zero, as does its edge.
func TestReloadForgetsRemovedComponents(t *testing.T) {
	f := reloadFixture()
	both := graph([]string{"in:src", "a:sink", "b:sink"}, nil, EdgeDef{From: "in", To: "a"}, EdgeDef{From: "in", To: "b"})
	one := graph([]string{"in:src", "a:sink"}, nil, EdgeDef{From: "in", To: "a"})
	e := startEngine(t, both, f, testOpts())
	eventually(t, 2*time.Second, "flow", func() bool { return f.sinkBatches("b") > 5 })
	b1 := f.sink("b")
	if err := e.Reload(one); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, ok := e.Stats().Component("b", StatSink); ok {
		t.Fatalf("removed sink b is still in the snapshot")
	}
	if err := e.Reload(both); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	eventually(t, 2*time.Second, "flow to the new b", func() bool { return f.sink("b") != b1 && f.sinkBatches("b") > 5 })
	shutdown(t, e)
	s := e.Stats()
	checkAccounting(t, s)
	b, _ := s.Component("b", StatSink)
	if got := uint64(f.sink("b").events.Load()); b.EventsOut != got || b.ConnectAttempts != 1 {
		t.Errorf("re-added sink b wrote %d events in %d connects; want only its new instance's %d events and 1 connect", b.EventsOut, b.ConnectAttempts, got)
	}
	if ed := edgeOf(s, "in", "b"); ed.EventsOut != b.EventsIn {
		t.Errorf("edge in->b delivered %d; the re-added sink took in %d", ed.EventsOut, b.EventsIn)
	}
}

// TestReloadKeepsFiguresOfRemovedComponents removes with a reload a sink
// whose final flush fails, adds it back and removes it again: the live
// entries no longer list it or its edge, and Snapshot.Removed holds
// their figures summed over both lives, with the first stop failure, so
// that the ledger still closes and names the failure.
func TestReloadKeepsFiguresOfRemovedComponents(t *testing.T) {
	f := reloadFixture()
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		if name == "b" {
			s.flushErr = errors.New("flush: no space left on device")
		}
		return s
	}
	both := graph([]string{"in:src", "a:sink", "b:sink"}, nil, EdgeDef{From: "in", To: "a"}, EdgeDef{From: "in", To: "b"})
	one := graph([]string{"in:src", "a:sink"}, nil, EdgeDef{From: "in", To: "a"})
	e := startEngine(t, both, f, testOpts())
	var wrote uint64
	for life := 1; ; life++ {
		eventually(t, 2*time.Second, "flow to b", func() bool { return f.createdCount("b") == life && f.sinkBatches("b") > 5 })
		b := f.sink("b")
		if err := e.Reload(one); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		wrote += uint64(b.events.Load())
		s := e.Stats()
		if _, ok := s.Component("b", StatSink); ok {
			t.Fatalf("removed sink b is still a live component")
		}
		if _, ok := s.Edge("in", "b"); ok {
			t.Fatalf("removed edge in->b is still a live edge")
		}
		if life == 2 {
			break
		}
		if err := e.Reload(both); err != nil {
			t.Fatalf("Reload: %v", err)
		}
	}
	shutdown(t, e)
	s := e.Stats()
	checkAccounting(t, s)
	if line, ok := s.Verdict(); !ok {
		t.Errorf("Verdict() = %q; want balanced", line)
	}
	if len(s.Removed.Components) != 1 || len(s.Removed.Edges) != 1 {
		t.Fatalf("Removed = %+v; want sink b and edge in->b", s.Removed)
	}
	b, ed := s.Removed.Components[0], s.Removed.Edges[0]
	if b.Name != "b" || b.Role != StatSink || b.Type != "sink" {
		t.Errorf("removed component is %s %s (type %s); want sink b (type sink)", b.Role, b.Name, b.Type)
	}
	if b.EventsOut != wrote || b.ConnectAttempts != 2 || b.EventsIn != b.EventsOut+b.DroppedTotal() {
		t.Errorf("removed sink b: in %d, out %d, dropped %d, %d connects; want out %d, the events of both instances, and 2 connects",
			b.EventsIn, b.EventsOut, b.DroppedTotal(), b.ConnectAttempts, wrote)
	}
	if b.StopFailure != "drain b: flush: no space left on device" {
		t.Errorf("removed sink b StopFailure = %q; want its drain error", b.StopFailure)
	}
	if ed.From != "in" || ed.To != "b" || ed.EventsOut != b.EventsIn {
		t.Errorf("removed edge %s->%s delivered %d; want in->b, with the %d events sink b took in", ed.From, ed.To, ed.EventsOut, b.EventsIn)
	}
	var sum strings.Builder
	if err := s.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nb (removed)  sink  ", "\nin -> b (removed)  "} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

// TestReloadKeepsFiguresOfRemovedSteps replaces a pipeline with one that
// lacks its processor step: the step's figures go to Snapshot.Removed,
// while the pipeline's carry over.
func TestReloadKeepsFiguresOfRemovedSteps(t *testing.T) {
	f := reloadFixture()
	opts := testOpts()
	opts.NewOp = testNewOp
	mk := func(ops ...OpDef) Graph {
		return graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "p", Ops: ops}}, EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "out"})
	}
	drop := OpDef{Type: "drop_every", Config: []byte(`{"N":3}`)}
	e := startEngine(t, mk(drop, OpDef{Type: "proc"}), f, opts)
	eventually(t, 2*time.Second, "flow", func() bool { return f.sinkBatches("out") > 5 })
	if err := e.Reload(mk(drop)); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	shutdown(t, e)
	s := e.Stats()
	checkAccounting(t, s)
	if _, ok := s.Component("p/2", StatProcessor); ok {
		t.Errorf("removed step p/2 is still a live component")
	}
	if len(s.Removed.Components) != 1 || s.Removed.Components[0].Name != "p/2" || s.Removed.Components[0].Role != StatProcessor {
		t.Fatalf("Removed.Components = %+v; want processor p/2 only", s.Removed.Components)
	}
	if proc := s.Removed.Components[0]; proc.EventsIn == 0 || proc.Dropped[ReasonOperator] == 0 {
		t.Errorf("removed processor p/2 took in %d events and dropped %v; want its figures", proc.EventsIn, proc.Dropped)
	}
	if len(s.Removed.Edges) != 0 {
		t.Errorf("Removed.Edges = %+v; want none", s.Removed.Edges)
	}
}

// checkGrows fails for every counter of a component or edge in a that is
// smaller in b, or missing from b.
func checkGrows(t *testing.T, a, b Snapshot) {
	t.Helper()
	for _, ca := range a.Components {
		cb, ok := b.Component(ca.Name, ca.Role)
		if !ok {
			t.Errorf("%s %s vanished", ca.Role, ca.Name)
			continue
		}
		va, vb := componentCounts(ca), componentCounts(cb)
		for k, v := range va {
			if vb[k] < v {
				t.Errorf("%s %s: %s went from %d to %d", ca.Role, ca.Name, k, v, vb[k])
			}
		}
	}
	for _, ea := range a.Edges {
		eb := edgeOf(b, ea.From, ea.To)
		if eb.EventsIn < ea.EventsIn || eb.EventsOut < ea.EventsOut || eb.BatchesIn < ea.BatchesIn || eb.BytesIn < ea.BytesIn {
			t.Errorf("edge %s->%s went from %+v to %+v", ea.From, ea.To, ea, eb)
		}
	}
}

// componentCounts names every counter of c.
func componentCounts(c ComponentStats) map[string]uint64 {
	m := map[string]uint64{
		"events in": c.EventsIn, "events out": c.EventsOut, "bytes in": c.BytesIn, "bytes out": c.BytesOut,
		"batches in": c.BatchesIn, "batches out": c.BatchesOut, "emitted": c.Emitted,
		"errors": c.Errors, "retries": c.Retries, "restarts": c.Restarts, "connect attempts": c.ConnectAttempts,
		"panics": c.Panics, "acks": c.Acks, "fails": c.Fails, "acks dropped": c.AcksDropped,
	}
	for r, v := range c.Dropped {
		m["dropped "+r] = v
	}
	for _, k := range c.Counters {
		m["counter "+k.Name] = k.Value
	}
	return m
}

func edgeOf(s Snapshot, from, to string) EdgeStats {
	e, _ := s.Edge(from, to)
	return e
}

func ownCounter(c ComponentStats, name string) uint64 {
	for _, k := range c.Counters {
		if k.Name == name {
			return k.Value
		}
	}
	return 0
}

// TestRemovedFiguresFollowAFinishingNode: a sink that a reload removes
// while its write is stuck is abandoned, and the reload moves on; when the
// write returns at last, the figures in Snapshot.Removed follow, instead of
// keeping the events in flight that the reload saw.
func TestRemovedFiguresFollowAFinishingNode(t *testing.T) {
	defer func(g time.Duration) { killGrace = g }(killGrace)
	killGrace = time.Millisecond
	f := reloadFixture()
	block, entered := make(chan struct{}), make(chan struct{})
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		if name == "b" {
			s.block, s.entered = block, entered
		}
		return s
	}
	both := graph([]string{"in:src", "a:sink", "b:sink"}, nil, EdgeDef{From: "in", To: "a"}, EdgeDef{From: "in", To: "b"})
	one := graph([]string{"in:src", "a:sink"}, nil, EdgeDef{From: "in", To: "a"})
	opts := testOpts()
	opts.DrainTimeout = 50 * time.Millisecond
	e := startEngine(t, both, f, opts)
	select {
	case <-entered:
	case <-time.After(hang):
		t.Fatal("sink b never wrote")
	}
	if err := e.Reload(one); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	b, ok := removedComponent(e.Stats(), "b", StatSink)
	if !ok || b.Abandoned != 1 || b.InFlight <= 0 {
		t.Fatalf("removed sink b = %+v, %v; want it abandoned with its write's events in flight", b, ok)
	}
	close(block)
	eventually(t, hang, "the removed sink's write to count", func() bool {
		b, _ := removedComponent(e.Stats(), "b", StatSink)
		return b.InFlight == 0 && b.EventsOut > 0
	})
}

// removedComponent returns the entry of Snapshot.Removed for name and role.
func removedComponent(s Snapshot, name, role string) (ComponentStats, bool) {
	for _, c := range s.Removed.Components {
		if c.Name == name && c.Role == role {
			return c, true
		}
	}
	return ComponentStats{}, false
}
