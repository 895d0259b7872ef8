package runtime

import (
	"github.com/weirproject/weir/connector"

	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/runtime/operator"
)

func seqOf(e *cabi.Event) uint64 { return binary.LittleEndian.Uint64(e.Bytes()) }

// dropEvery drops events whose sequence number is a multiple of n.
type dropEvery struct{ n uint64 }

func (d dropEvery) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		if seqOf(&evs[i])%d.n == 0 {
			evs[i].Flags |= cabi.FlagDrop
		}
	}
}

// scribble overwrites the last byte of every event in place.
type scribble struct{}

func (scribble) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		if evs[i].Len > 8 {
			evs[i].Bytes()[evs[i].Len-1] = 0xff
		}
	}
}

// parity routes even sequence numbers to "even", odd to "odd", multiples
// of 5 to both, and multiples of 7 nowhere.
type parity struct{}

func (parity) Apply(*cabi.Batch, time.Time) {}
func (parity) Outputs() []string            { return []string{"even", "odd"} }
func (parity) Route(e *cabi.Event) uint64 {
	s := seqOf(e)
	switch {
	case s%7 == 0:
		return 0
	case s%5 == 0:
		return 3
	case s%2 == 0:
		return 1
	}
	return 2
}

// counter absorbs every event and emits one 8-byte event holding how many
// it absorbed since the last flush.
type counter struct {
	mu sync.Mutex
	n  uint64
}

func (c *counter) Apply(b *cabi.Batch, _ time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		if evs[i].Flags&cabi.FlagDrop == 0 {
			evs[i].Flags |= cabi.FlagDrop
			c.n++
		}
	}
}

func (c *counter) Flush(now time.Time, out *cabi.Batch) time.Time {
	if c.n > 0 {
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], c.n)
		if out.Append(uint64(now.UnixNano()), 0, cabi.KindRaw, 0, buf[:]) {
			c.n = 0
		}
	}
	return now.Add(5 * time.Millisecond)
}

var (
	_ operator.Router  = parity{}
	_ operator.Emitter = (*counter)(nil)
)

// testNewOp builds the test operators, and the built-in ones by their
// names.
func testNewOp(typ string, cfg []byte) (operator.Op, error) {
	switch typ {
	case "drop_every":
		var c struct{ N uint64 }
		if err := json.Unmarshal(cfg, &c); err != nil || c.N == 0 {
			return nil, fmt.Errorf("drop_every: bad config %s", cfg)
		}
		return dropEvery{c.N}, nil
	case "scribble":
		return scribble{}, nil
	case "parity":
		return parity{}, nil
	case "counter":
		return &counter{}, nil
	}
	return operator.New(typ, cfg)
}

// runToEnd starts g (with testNewOp's operators and the built-in ones),
// waits for it to finish, shuts it down and returns the snapshot.
func runToEnd(t *testing.T, g Graph, f *fixture, opts Options) Snapshot {
	t.Helper()
	opts.NewOp = testNewOp
	e := startEngine(t, g, f, opts)
	waitFinished(t, e)
	shutdown(t, e)
	s := e.Stats()
	checkAccounting(t, s)
	return s
}

func TestPipelineDropsAndCompacts(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 10, size: 8, limit: 30} }
	g := graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "drop_every", Config: []byte(`{"N":3}`)}}}},
		EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "out"})
	s := runToEnd(t, g, f, testOpts())
	p, _ := s.Component("p", StatPipeline)
	if p.EventsIn != 300 || p.EventsOut != 200 || p.Dropped[ReasonOperator] != 100 {
		t.Errorf("pipeline in %d out %d dropped %v; want 300, 200, operator:100", p.EventsIn, p.EventsOut, p.Dropped)
	}
	if got := f.sink("out").events.Load(); got != 200 {
		t.Errorf("sink got %d events; want 200", got)
	}
}

func TestPipelineRoutes(t *testing.T) {
	const n = 20 * 7 // events 1..140
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 7, size: 8, limit: 20} }
	g := graph([]string{"in:src", "even:sink", "odd:sink"}, []PipelineDef{{Name: "r", Ops: []OpDef{{Type: "parity"}}}},
		EdgeDef{From: "in", To: "r"}, EdgeDef{From: "r", FromPort: "even", To: "even"}, EdgeDef{From: "r", FromPort: "odd", To: "odd"})
	s := runToEnd(t, g, f, testOpts())
	var even, odd, none uint64
	for i := uint64(1); i <= n; i++ {
		switch {
		case i%7 == 0:
			none++
		case i%5 == 0:
			even++
			odd++
		case i%2 == 0:
			even++
		default:
			odd++
		}
	}
	if got := uint64(f.sink("even").events.Load()); got != even {
		t.Errorf("even sink got %d events; want %d", got, even)
	}
	if got := uint64(f.sink("odd").events.Load()); got != odd {
		t.Errorf("odd sink got %d events; want %d", got, odd)
	}
	p, _ := s.Component("r", StatPipeline)
	if p.Dropped[ReasonUnrouted] != none || p.EventsOut != n-none {
		t.Errorf("router dropped %v out %d; want unrouted:%d out %d", p.Dropped, p.EventsOut, none, n-none)
	}
}

func TestPipelineRouteUnknownPortRejected(t *testing.T) {
	f := newFixture()
	opts := testOpts()
	opts.NewOp = testNewOp
	g := graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "r", Ops: []OpDef{{Type: "parity"}}}},
		EdgeDef{From: "in", To: "r"}, EdgeDef{From: "r", FromPort: "prime", To: "out"})
	if _, err := New(g, f.reg, opts); err == nil {
		t.Fatal("New accepted an edge from a router output that does not exist")
	}
}

// TestCopyOnFanout checks that a pipeline rewriting bytes in place does
// not change what a sibling sink sees of the same source batch.
func TestCopyOnFanout(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 8, size: 16, limit: 50} }
	var dirty, clean sync.Map
	f.newSink = func(name string) *testSink {
		return &testSink{name: name, inspect: func(b *cabi.Batch) { inspectLastByte(name, b, &dirty, &clean) }}
	}
	g := graph([]string{"in:src", "raw:sink", "cooked:sink"}, []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "scribble"}}}},
		EdgeDef{From: "in", To: "p", Couple: true}, EdgeDef{From: "in", To: "raw", Couple: true}, EdgeDef{From: "p", To: "cooked"})
	runToEnd(t, g, f, testOpts())
	if n, ok := dirty.Load("raw"); ok {
		t.Errorf("raw sink saw %d scribbled events; copy-on-fanout failed", *n.(*int))
	}
	if n, ok := clean.Load("cooked"); ok {
		t.Errorf("cooked sink saw %d unscribbled events", *n.(*int))
	}
	if f.sink("raw").events.Load() != 400 || f.sink("cooked").events.Load() != 400 {
		t.Errorf("sinks got %d and %d events; want 400 each", f.sink("raw").events.Load(), f.sink("cooked").events.Load())
	}
}

func inspectLastByte(name string, b *cabi.Batch, dirty, clean *sync.Map) {
	for _, e := range b.EventSlice() {
		m := clean
		if e.Bytes()[e.Len-1] == 0xff {
			m = dirty
		}
		v, _ := m.LoadOrStore(name, new(int))
		*v.(*int)++
	}
}

// emitterFixture is a fixture whose sources give 100 events in 25 batches
// and whose sinks add up the little-endian uint64 at offset of every event
// they write; sum returns the total.
func emitterFixture(offset int) (f *fixture, sum func() uint64) {
	f = newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, limit: 25} }
	var total uint64
	var mu sync.Mutex
	f.newSink = func(name string) *testSink {
		return &testSink{name: name, inspect: func(b *cabi.Batch) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range b.EventSlice() {
				total += binary.LittleEndian.Uint64(e.Bytes()[offset:])
			}
		}}
	}
	return f, func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return total
	}
}

func TestEmitterFlushesOnTimerAndAtDrain(t *testing.T) {
	f, total := emitterFixture(0)
	g := graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "agg", Ops: []OpDef{{Type: "counter"}}}},
		EdgeDef{From: "in", To: "agg"}, EdgeDef{From: "agg", To: "out"})
	s := runToEnd(t, g, f, testOpts())
	if got := total(); got != 100 {
		t.Errorf("emitted counts sum to %d; want 100", got)
	}
	p, _ := s.Component("agg", StatPipeline)
	if p.Dropped[ReasonOperator] != 100 || p.Emitted == 0 || p.EventsOut != p.Emitted {
		t.Errorf("aggregation dropped %v emitted %d out %d; want operator:100, out = emitted > 0", p.Dropped, p.Emitted, p.EventsOut)
	}
}

// TestAggregateCountsOnlyEdgeInput runs the aggregate operator and checks
// the pipeline's books: EventsIn is what its edge delivered, Emitted the
// rollups, and in + emitted = out + dropped.
func TestAggregateCountsOnlyEdgeInput(t *testing.T) {
	f, counted := emitterFixture(24) // a binary rollup's event count
	g := graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "agg", Ops: []OpDef{{Type: "aggregate", Config: []byte(`{"window":"5ms","group_by":"none"}`)}}}},
		EdgeDef{From: "in", To: "agg"}, EdgeDef{From: "agg", To: "out"})
	s := runToEnd(t, g, f, testOpts())
	if got := counted(); got != 100 {
		t.Errorf("rollups count %d events; want 100", got)
	}
	p, _ := s.Component("agg", StatPipeline)
	into, _ := s.Edge("in", "agg")
	outOf, _ := s.Edge("agg", "out")
	if p.EventsIn != 100 || p.EventsIn != into.EventsOut || p.BatchesIn != into.BatchesOut || p.BytesIn != 8*100 {
		t.Errorf("pipeline took in %d events, %d batches, %d bytes; its edge delivered %d events, %d batches of 8 bytes each",
			p.EventsIn, p.BatchesIn, p.BytesIn, into.EventsOut, into.BatchesOut)
	}
	if p.Emitted == 0 || p.EventsOut != p.Emitted || p.EventsOut != outOf.EventsIn || p.Dropped[ReasonOperator] != 100 {
		t.Errorf("pipeline emitted %d, out %d (edge took %d), dropped %v; want out = emitted = edge > 0, operator:100",
			p.Emitted, p.EventsOut, outOf.EventsIn, p.Dropped)
	}
	var prom, sum bytes.Buffer
	if err := WritePrometheus(&prom, s); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("weir_component_events_emitted_total{component=\"agg\",role=\"pipeline\",type=\"pipeline\"} %d\n", p.Emitted)
	if !strings.Contains(prom.String(), want) {
		t.Errorf("metrics lack %q", want)
	}
	if err := s.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf("agg pipeline stopped 100 %d %d 100 operator 0 ", p.Emitted, p.Emitted)
	if !strings.Contains(strings.Join(strings.Fields(sum.String()), " "), row) {
		t.Errorf("summary lacks the row %q:\n%s", row, sum.String())
	}
}

func TestProcessorConnectorInPipeline(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 8, size: 8, limit: 10} }
	var proc *testProcessor
	f.reg.MustRegister(connector.Type{ID: "proc", Roles: connector.RoleProcessor, New: func([]byte, connector.Env) (connector.Connector, error) {
		proc = &testProcessor{}
		return proc, nil
	}})
	g := graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "proc"}}}},
		EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "out"})
	s := runToEnd(t, g, f, testOpts())
	if got := f.sink("out").events.Load(); got != 60 {
		t.Errorf("sink got %d events; want 60", got)
	}
	if got, want := proc.list(), []string{"connect", "start", "drain", "stop", "close"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("processor calls = %v; want %v", got, want)
	}
	p, _ := s.Component("p", StatPipeline)
	if p.Dropped[ReasonOperator] != 20 {
		t.Errorf("pipeline dropped %v; want operator:20", p.Dropped)
	}
}

// TestAccountingUnderOverload runs a fast source into slow sinks through
// every policy, a filtering pipeline and a router, stops mid-flow, and
// checks the books: each component balances, and what each edge delivered
// is what its consumer took in.
func TestAccountingUnderOverload(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 7, size: 16} }
	f.newSink = func(name string) *testSink {
		return &testSink{name: name, inspect: func(*cabi.Batch) {
			if name != "fast" {
				time.Sleep(100 * time.Microsecond)
			}
		}}
	}
	opts := testOpts()
	opts.NewOp = testNewOp
	g := graph([]string{"in:src", "newest:sink", "oldest:sink", "even:sink", "odd:sink", "fast:sink"},
		[]PipelineDef{
			{Name: "filter", Ops: []OpDef{{Type: "drop_every", Config: []byte(`{"N":3}`)}}},
			{Name: "route", Ops: []OpDef{{Type: "parity"}}},
		},
		EdgeDef{From: "in", To: "filter", Capacity: 2},
		EdgeDef{From: "in", To: "fast", Capacity: 2},
		EdgeDef{From: "filter", To: "newest", Capacity: 2, Policy: DropNewest},
		EdgeDef{From: "filter", To: "oldest", Capacity: 2, Policy: DropOldest},
		EdgeDef{From: "filter", To: "route", Capacity: 2},
		EdgeDef{From: "route", FromPort: "even", To: "even", Capacity: 1, Policy: DropNewest},
		EdgeDef{From: "route", FromPort: "odd", To: "odd", Capacity: 1},
	)
	e := startEngine(t, g, f, opts)
	time.Sleep(200 * time.Millisecond)
	shutdown(t, e)
	s := e.Stats()
	checkAccounting(t, s)
	into := map[string]uint64{}
	outOf := map[string]uint64{}
	var drops uint64
	for _, ed := range s.Edges {
		into[ed.To] += ed.EventsOut
		outOf[ed.From] += ed.EventsIn
		drops += ed.DroppedTotal()
	}
	if drops == 0 {
		t.Errorf("no edge dropped anything; the test did not overload the graph")
	}
	for _, c := range s.Components {
		switch c.Role {
		case StatSink, StatPipeline:
			if want := into[c.Name]; c.EventsIn != want {
				t.Errorf("%s %s took in %d events; its edges delivered %d", c.Role, c.Name, c.EventsIn, want)
			}
		}
	}
	src, _ := s.Component("in", StatSource)
	if outOf["in"] != 2*src.EventsOut {
		t.Errorf("source edges were offered %d events; want 2 x %d", outOf["in"], src.EventsOut)
	}
}

func TestReloadKeepsUnchangedPipelineState(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	opts := testOpts()
	opts.NewOp = testNewOp
	mk := func(filterN string) Graph {
		return graph([]string{"in:src", "out:sink"}, []PipelineDef{
			{Name: "agg", Ops: []OpDef{{Type: "counter"}}},
			{Name: "f", Ops: []OpDef{{Type: "drop_every", Config: []byte(`{"N":` + filterN + `}`)}}},
		}, EdgeDef{From: "in", To: "f"}, EdgeDef{From: "f", To: "agg"}, EdgeDef{From: "agg", To: "out"})
	}
	e := startEngine(t, mk("3"), f, opts)
	eventually(t, 2*time.Second, "flow", func() bool { return f.sinkBatches("out") > 2 })
	agg, filt := e.eng.pipes["agg"].steps[0].op, e.eng.pipes["f"].steps[0].op
	if err := e.Reload(mk("5")); err != nil {
		t.Fatal(err)
	}
	if e.eng.pipes["agg"].steps[0].op != agg {
		t.Errorf("unchanged pipeline agg got new operators")
	}
	if e.eng.pipes["f"].steps[0].op == filt {
		t.Errorf("changed pipeline f kept its old operators")
	}
	before := f.sinkBatches("out")
	eventually(t, 2*time.Second, "flow after reload", func() bool { return f.sinkBatches("out") > before+2 })
	shutdown(t, e)
	checkAccounting(t, e.Stats())
}
