package runtime

import (
	"github.com/weirproject/weir/connector"

	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

// TestSourceDrainedOnce counts Drain calls on each source instance that
// ends gracefully: one that is still polling at Shutdown (its worker
// drains it), one still connecting when Shutdown begins (likewise, once
// it connects), one that reached EOF first (Shutdown drains it), and one
// replaced by a Reload (its worker drains it). Each gets exactly one.
func TestSourceDrainedOnce(t *testing.T) {
	const wait = 3 * time.Second
	tests := []struct {
		name       string
		limit      int  // batches before EOF; 0: endless
		connecting bool // shut down while the first Connect waits
		reload     bool
	}{
		{name: "endless", limit: 0},
		{name: "connecting", connecting: true},
		{name: "eof", limit: 3},
		{name: "reloaded", limit: 0, reload: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.newSrc = func(string) *testSource {
				return &testSource{eventsPer: 4, size: 8, limit: tt.limit, connWaits: tt.connecting}
			}
			g := graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
			e := startEngine(t, g, f, testOpts())
			if !tt.connecting {
				eventually(t, wait, "batches delivered", func() bool { return f.sinkBatches("out") >= 3 })
			}
			src := f.src("in") // nil while the first instance is still being made
			if tt.reload {
				g2 := graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
				g2.Connectors[0].Config = []byte(`{"changed":true}`)
				if err := e.Reload(g2); err != nil {
					t.Fatalf("Reload: %v", err)
				}
			}
			shutdown(t, e)
			if src == nil {
				src = f.src("in")
			}
			if got := src.count("drain"); got != 1 {
				t.Errorf("first source instance drained %d times; want 1 (calls %v)", got, src.list())
			}
			if tt.reload {
				if got := f.src("in").count("drain"); f.src("in") == src || got != 1 {
					t.Errorf("replacement source instance drained %d times; want 1 (calls %v)", got, f.src("in").list())
				}
			}
		})
	}
}

// heldSource holds total events and gives out only the first early of
// them before Drain; once drained it gives out the rest, per events a poll,
// and then answers end (EOF or Timeout) with no events. Before Drain, with
// nothing to give, it answers Timeout at once. With total 0 it is endless:
// per events every poll, Drain or not. Poll and Drain run in the source
// worker; the test reads the plain fields after Shutdown.
type heldSource struct {
	calls
	total, early, per int
	end               cabi.Status
	drained           atomic.Bool
	polls             atomic.Int64
	sent              int // events given out
	pollsDrained      int // polls after Drain
	ended             bool
	late              int // polls after the end answer
	onDrain           func()
}

func (s *heldSource) Connect(context.Context, int) error { return nil }
func (s *heldSource) Start() error                       { return nil }
func (s *heldSource) Pause() error                       { s.add("pause"); return nil }
func (s *heldSource) Resume() error                      { s.add("resume"); return nil }
func (s *heldSource) Drain() error {
	s.add("drain")
	s.drained.Store(true)
	if s.onDrain != nil {
		s.onDrain()
	}
	return nil
}
func (s *heldSource) Stop() error  { s.add("stop"); return nil }
func (s *heldSource) Close() error { s.add("close"); return nil }

func (s *heldSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	s.polls.Add(1)
	if s.ended {
		s.late++
		return s.end, nil
	}
	limit := s.early
	if s.drained.Load() {
		s.pollsDrained++
		limit = s.total
	}
	if s.total > 0 && s.sent >= limit {
		if s.drained.Load() {
			s.ended = true
			return s.end, nil
		}
		return cabi.Timeout, nil
	}
	var data [8]byte // testSink reads a sequence number here
	for i := 0; i < s.per && (s.total == 0 || s.sent < limit); i++ {
		s.sent++
		binary.LittleEndian.PutUint64(data[:], uint64(s.sent))
		b.Append(uint64(s.sent), 0, cabi.KindRaw, 0, data[:])
	}
	return cabi.OK, nil
}

// registerHeld registers type "held" in f; each instance is made by mk
// from its 1-based number and appended to *made.
func registerHeld(f *fixture, made *[]*heldSource, mk func(inst int) *heldSource) {
	f.reg.MustRegister(connector.Type{ID: "held", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		s := mk(len(*made) + 1)
		*made = append(*made, s)
		return s, nil
	}})
}

// TestSourcePolledDryAfterDrain: a source that holds events until Drain
// gets Drain once at a graceful Shutdown (or when a Reload replaces it),
// is then polled until it answers EOF or Timeout with nothing, and every
// event it held reaches the sink; it is never polled after that answer.
func TestSourcePolledDryAfterDrain(t *testing.T) {
	const (
		total = 100
		early = 10
		wait  = 3 * time.Second
	)
	tests := []struct {
		name   string
		end    cabi.Status
		reload bool
	}{
		{name: "eof", end: cabi.EOF},
		{name: "timeout", end: cabi.Timeout},
		{name: "reloaded", end: cabi.EOF, reload: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			var made []*heldSource
			registerHeld(f, &made, func(inst int) *heldSource {
				s := &heldSource{total: total, early: early, per: 7, end: tt.end}
				if inst > 1 {
					s.early = 0 // the replacement gives nothing until drained
				}
				return s
			})
			g := graph([]string{"in:held", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
			e := startEngine(t, g, f, testOpts())
			eventually(t, wait, "the early events delivered", func() bool {
				return f.sink("out") != nil && f.sink("out").events.Load() == early
			})
			want := int64(total)
			if tt.reload {
				g2 := graph([]string{"in:held", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
				g2.Connectors[0].Config = []byte(`{"changed":true}`)
				if err := e.Reload(g2); err != nil {
					t.Fatalf("Reload: %v", err)
				}
				if got := f.sink("out").events.Load(); got != total {
					t.Errorf("sink got %d events when Reload returned; want %d", got, total)
				}
				want += total
				// Shut down while the replacement runs, not while it opens.
				eventually(t, wait, "the replacement polled", func() bool {
					f.mu.Lock()
					defer f.mu.Unlock()
					return len(made) == 2 && made[1].polls.Load() > 0
				})
			}
			shutdown(t, e)
			if got := f.sink("out").events.Load(); got != want {
				t.Errorf("sink got %d events; want %d", got, want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(made) != 1+btoi(tt.reload) {
				t.Fatalf("%d source instances made; want %d", len(made), 1+btoi(tt.reload))
			}
			for i, s := range made {
				if s.count("drain") != 1 || s.count("stop") != 1 || s.sent != total || s.late != 0 {
					t.Errorf("instance %d: calls %v, %d events given, %d polls after %v; want one drain and stop, %d events, no late polls",
						i+1, s.list(), s.sent, s.late, tt.end, total)
				}
			}
			s := e.Stats()
			checkAccounting(t, s)
			// The counters cover every connector the reload replaced.
			if c, _ := s.Component("in", StatSource); c.EventsIn != uint64(want) || c.EventsOut != uint64(want) || c.DroppedTotal() != 0 {
				t.Errorf("source in %d out %d dropped %v; want %d, %d, none", c.EventsIn, c.EventsOut, c.Dropped, want, want)
			}
		})
	}
}

// TestSourceNeverDryStopsAtDeadline: a source that ignores Drain and always
// has events is polled after Drain only until Shutdown's ctx expires; then
// Shutdown returns ctx's error, the source is stopped once, and every event
// it gave out was either written or dropped with reason shutdown. When the
// sink's circuit breaker opens during the drain, the drained source is not
// paused (nor resumed): the lifecycle allows neither after Drain.
func TestSourceNeverDryStopsAtDeadline(t *testing.T) {
	for _, breaker := range []bool{false, true} {
		t.Run(fmt.Sprintf("breaker=%v", breaker), func(t *testing.T) {
			testSourceNeverDry(t, breaker)
		})
	}
}

func testSourceNeverDry(t *testing.T, breaker bool) {
	f := newFixture()
	var made []*heldSource
	registerHeld(f, &made, func(int) *heldSource {
		s := &heldSource{per: 16}
		if breaker {
			s.onDrain = func() { f.sink("out").failing.Store(true) }
		}
		return s
	})
	g := graph([]string{"in:held", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
	e := startEngine(t, g, f, testOpts())
	eventually(t, 3*time.Second, "batches delivered", func() bool { return f.sinkBatches("out") >= 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	f.mu.Lock()
	src := made[0]
	f.mu.Unlock()
	got := src.list()
	if want := []string{"drain", "stop", "close"}; !slices.Equal(got, want) || src.pollsDrained == 0 {
		t.Errorf("source calls %v, %d polls after Drain; want %v, and polls after Drain", got, src.pollsDrained, want)
	}
	s := e.Stats()
	checkAccounting(t, s)
	in, _ := s.Component("in", StatSource)
	out, _ := s.Component("out", StatSink)
	if breaker && out.Retries < uint64(testOpts().BreakerFailures) {
		t.Errorf("sink retried %d times; want at least %d, so that its breaker opened during the drain", out.Retries, testOpts().BreakerFailures)
	}
	var dropped uint64
	for _, m := range []map[string]uint64{in.Dropped, out.Dropped, s.Edges[0].Dropped} {
		for r, n := range m {
			if r != ReasonShutdown {
				t.Errorf("%d events dropped with reason %q; want only %q", n, r, ReasonShutdown)
			}
			dropped += n
		}
	}
	if in.EventsIn != uint64(src.sent) || in.EventsIn != out.EventsOut+dropped || out.EventsOut != uint64(f.sink("out").events.Load()) {
		t.Errorf("source gave %d, took in %d; sink wrote %d (counted %d); dropped %d; want given = in = written + dropped",
			src.sent, in.EventsIn, f.sink("out").events.Load(), out.EventsOut, dropped)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDrainStuckSourceNoRace: a source whose Drain is stuck past the kill
// grace is not drained again by finish, and finish reads the drained mark
// that the worker set without racing it (run with -race). Nothing orders
// the two: Shutdown's ctx expires on its own timer.
func TestDrainStuckSourceNoRace(t *testing.T) {
	defer func(g time.Duration) { killGrace = g }(killGrace)
	killGrace = time.Millisecond
	f := newFixture()
	release := make(chan struct{})
	var made []*heldSource
	registerHeld(f, &made, func(int) *heldSource {
		return &heldSource{per: 1, onDrain: func() {
			select {
			case <-release:
			case <-time.After(3 * time.Second):
			}
		}}
	})
	g := graph([]string{"in:held", "out:sink"}, nil, EdgeDef{From: "in", To: "out"})
	e := startEngine(t, g, f, testOpts())
	eventually(t, 3*time.Second, "batches delivered", func() bool { return f.sinkBatches("out") >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := e.Shutdown(ctx)
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	select {
	case <-e.Finished():
	case <-time.After(hang):
		t.Fatalf("source worker still running %v after its Drain was released", hang)
	}
	f.mu.Lock()
	src := made[0]
	f.mu.Unlock()
	if got := src.count("drain"); got != 1 {
		t.Errorf("source drained %d times; want 1 (calls %v)", got, src.list())
	}
}

// drainEcho is an echo that records Drain and every Write after it.
type drainEcho struct {
	echo
	mu         sync.Mutex
	drains     int
	writesPost int // Writes after Drain
	eventsPost int // their events
}

func (e *drainEcho) Drain() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drains++
	return nil
}

func (e *drainEcho) Write(b *cabi.Batch) (cabi.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.drains > 0 {
		e.writesPost++
		e.eventsPost += int(b.Len)
	}
	time.Sleep(time.Millisecond) // slower than its upstream: a backlog builds
	return e.echo.Write(b)
}

func (e *drainEcho) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.echo.Poll(b, timeout)
}

// TestDualDrainedAfterSinkSide: at Shutdown a connector that is both
// source and sink gets Drain once and no Write after it. When it does not
// feed itself, it is drained only once its sink side has written all its
// input, and then polled dry: every event written to it reaches the sink
// behind it. When it feeds its own sink side (through a pipeline), it stops
// polling at the hold and is drained after its last Write.
func TestDualDrainedAfterSinkSide(t *testing.T) {
	for _, cycle := range []bool{false, true} {
		t.Run(fmt.Sprintf("cycle=%v", cycle), func(t *testing.T) {
			f := newFixture()
			f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
			mid := &drainEcho{}
			f.reg.MustRegister(connector.Type{ID: "echo", Roles: connector.RoleSource | connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) { return mid, nil }})
			edges := []EdgeDef{{From: "in", To: "mid"}, {From: "mid", To: "out"}}
			var pipes []PipelineDef
			if cycle {
				pipes = []PipelineDef{{Name: "back"}}
				edges = append(edges, EdgeDef{From: "mid", To: "back"}, EdgeDef{From: "back", To: "mid"})
			}
			g := graph([]string{"in:src", "mid:echo", "out:sink"}, pipes, edges...)
			e := startEngine(t, g, f, testOpts())
			eventually(t, 3*time.Second, "events echoed", func() bool { return f.sinkBatches("out") >= 3 })
			shutdown(t, e)
			mid.mu.Lock()
			defer mid.mu.Unlock()
			if mid.drains != 1 || mid.writesPost != 0 {
				t.Errorf("dual connector drained %d times, then got %d writes (%d events); want 1 drain and no writes after it",
					mid.drains, mid.writesPost, mid.eventsPost)
			}
			s := e.Stats()
			checkAccounting(t, s)
			if cycle {
				return // what it held at its last Write is never polled
			}
			if mid.pending != 0 {
				t.Errorf("dual connector left %d events unpolled; want 0", mid.pending)
			}
			in, _ := s.Component("in", StatSource)
			wrote, _ := s.Component("mid", StatSink)
			gave, _ := s.Component("mid", StatSource)
			got := uint64(f.sink("out").events.Load())
			if in.EventsOut == 0 || wrote.EventsOut != in.EventsOut || gave.EventsOut != in.EventsOut || got != in.EventsOut {
				t.Errorf("in gave %d events, mid wrote %d and gave %d, out got %d; want all equal and above 0",
					in.EventsOut, wrote.EventsOut, gave.EventsOut, got)
			}
		})
	}
}
