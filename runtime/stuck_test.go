package runtime

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// stuckSinkEngine sets the kill grace (for the test) and the drain timeout,
// runs src -> out where the first out instance's Write blocks until
// release is called (at the latest when the test ends), and waits for that
// Write to begin.
func stuckSinkEngine(t *testing.T, grace, drain time.Duration) (e *Engine, f *fixture, release func()) {
	t.Helper()
	g := killGrace
	t.Cleanup(func() { killGrace = g })
	killGrace = grace
	opts := testOpts()
	opts.DrainTimeout = drain
	f = newFixture()
	block, entered := make(chan struct{}), make(chan struct{})
	f.newSink = func(name string) *testSink {
		if name == "out" && f.created[name] == 0 {
			return &testSink{name: name, block: block, entered: entered}
		}
		return &testSink{name: name}
	}
	e = startEngine(t, graph([]string{"src:src", "out:sink"}, nil, EdgeDef{From: "src", To: "out"}), f, opts)
	var once sync.Once
	release = func() { once.Do(func() { close(block) }) }
	t.Cleanup(release)
	select {
	case <-entered:
	case <-time.After(hang):
		t.Fatalf("the sink got no Write within %v", hang)
	}
	return e, f, release
}

// returnsWithin runs f and fails the test unless it returns within d.
func returnsWithin[T any](t *testing.T, d time.Duration, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		var zero T
		return zero
	}
}

// lifecycleCalls lists the Drain, Stop and Close calls a sink got.
func lifecycleCalls(s *testSink) []string {
	var out []string
	for _, c := range s.list() {
		if c == "drain" || c == "stop" || c == "close" {
			out = append(out, c)
		}
	}
	return out
}

// TestShutdownAbandonsStuckSink: a sink whose Write never returns does not
// hold Shutdown past the drain timeout plus the kill grace. The instance is
// abandoned: the snapshot names it as stuck with its events in flight, and
// it gets no Drain, Stop or Close, nor any call once its Write returns.
func TestShutdownAbandonsStuckSink(t *testing.T) {
	drain := 200 * time.Millisecond
	e, f, release := stuckSinkEngine(t, 100*time.Millisecond, drain)
	err := returnsWithin(t, hang, "Shutdown", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		return e.Shutdown(ctx)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	s := e.Stats()
	out, _ := s.Component("out", StatSink)
	if out.State != "stuck" || out.Abandoned != 1 || out.InFlight <= 0 {
		t.Errorf("out: state %q, abandoned %d, in flight %d; want stuck, 1, > 0", out.State, out.Abandoned, out.InFlight)
	}
	if src, _ := s.Component("src", StatSource); src.State == "stuck" || src.Abandoned != 0 {
		t.Errorf("src: state %q, abandoned %d; want it not stuck", src.State, src.Abandoned)
	}
	sink := f.sink("out")
	if got := lifecycleCalls(sink); len(got) != 0 {
		t.Errorf("stuck sink got %v after its Write did not return; want no call", got)
	}
	var sum strings.Builder
	s.WriteSummary(&sum)
	if want := "out (sink, type sink): 1 instance(s) abandoned because a call into them did not return"; !strings.Contains(sum.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, sum.String())
	}
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `weir_component_abandoned_total{component="out",role="sink",type="sink"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// Let the Write return: the instance must hear nothing more.
	release()
	select {
	case <-e.Finished():
	case <-time.After(hang):
		t.Fatalf("workers still running %v after the stuck Write returned", hang)
	}
	if got := lifecycleCalls(sink); len(got) != 0 {
		t.Errorf("abandoned sink got %v once its Write returned; want no call", got)
	}
	if sink.writes != 1 {
		t.Errorf("abandoned sink got %d writes; want only the stuck one", sink.writes)
	}
	if src := f.src("src"); src.count("close") != 1 {
		t.Errorf("src closed %d times; want 1 (calls %v)", src.count("close"), src.list())
	}
}

// TestKillEndsShutdownAtOnce: Kill ends a Shutdown held by a stuck call
// without waiting out the drain timeout or the kill grace, and the stuck
// instance is abandoned as after the grace.
func TestKillEndsShutdownAtOnce(t *testing.T) {
	drain := time.Minute
	e, f, _ := stuckSinkEngine(t, time.Minute, drain)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		done <- e.Shutdown(ctx)
	}()
	time.Sleep(20 * time.Millisecond) // let Shutdown begin; Kill works either way
	e.Kill()
	select {
	case err := <-done:
		if !errors.Is(err, ErrKilled) {
			t.Errorf("Shutdown = %v; want an error wrapping %v", err, ErrKilled)
		}
	case <-time.After(hang):
		t.Fatalf("Shutdown did not return within %v of Kill (its drain timeout and kill grace are a minute each)", hang)
	}
	if out, _ := e.Stats().Component("out", StatSink); out.State != "stuck" || out.Abandoned != 1 {
		t.Errorf("out: state %q, abandoned %d; want stuck, 1", out.State, out.Abandoned)
	}
	if got := lifecycleCalls(f.sink("out")); len(got) != 0 {
		t.Errorf("stuck sink got %v; want no call", got)
	}
}

// TestReloadRefusesWhileStuck: a Reload while a call has been in flight for
// longer than the drain timeout reports the connector and changes nothing,
// at once rather than after the drain timeout and the kill grace.
func TestReloadRefusesWhileStuck(t *testing.T) {
	drain := 100 * time.Millisecond
	e, f, release := stuckSinkEngine(t, time.Minute, drain)
	time.Sleep(2 * drain) // the Write is now older than the drain timeout
	g := graph([]string{"src:src", "out:sink"}, nil, EdgeDef{From: "src", To: "out"})
	err := returnsWithin(t, hang, "Reload", func() error { return e.Reload(g) })
	if !errors.Is(err, ErrStuck) || !strings.Contains(err.Error(), "out (type sink) is stuck in write") {
		t.Errorf("Reload = %v; want an error wrapping %v that names out and its write", err, ErrStuck)
	}
	if n := f.createdCount("out"); n != 1 {
		t.Errorf("out created %d times; want 1 (the reload must change nothing)", n)
	}
	if got := lifecycleCalls(f.sink("out")); len(got) != 0 {
		t.Errorf("stuck sink got %v; want no call", got)
	}
	release()
}

// TestReloadAbandonsStuckSink: a call that sticks during a Reload's drain
// is abandoned after the drain timeout and the kill grace, like at
// Shutdown, and the connector gets a new instance even though its config
// did not change; the old one is never called again.
func TestReloadAbandonsStuckSink(t *testing.T) {
	drain := 200 * time.Millisecond
	e, f, release := stuckSinkEngine(t, 100*time.Millisecond, drain)
	old := f.sink("out")
	g := graph([]string{"src:src", "out:sink"}, nil, EdgeDef{From: "src", To: "out"})
	if err := returnsWithin(t, hang, "Reload", func() error { return e.Reload(g) }); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	eventually(t, 5*time.Second, "a new out instance taking batches", func() bool {
		return f.createdCount("out") == 2 && f.sinkBatches("out") > 0
	})
	if out, _ := e.Stats().Component("out", StatSink); out.Abandoned != 1 || out.State == "stuck" {
		t.Errorf("out: state %q, abandoned %d; want the new instance running and 1 abandoned", out.State, out.Abandoned)
	}
	release()
	shutdown(t, e)
	if got := lifecycleCalls(old); len(got) != 0 || old.writes != 1 {
		t.Errorf("abandoned sink got %v and %d writes; want no call after its one stuck Write", got, old.writes)
	}
}
