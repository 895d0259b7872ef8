package runtime

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// healthz returns the status code and body of /healthz.
func healthz(e *Engine) (int, string) {
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// TestBreakerHalfOpensWithoutTraffic: a sink that answers Error drops each
// batch it is offered, so once its breaker opens and pauses the source no
// batch is left to try. The breaker must still half-open after the
// cool-down (resuming the source for a trial), re-open while the sink keeps
// failing, and close once the sink recovers, with traffic flowing again.
// /healthz reports the open breaker.
func TestBreakerHalfOpensWithoutTraffic(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		s.erroring.Store(true)
		return s
	}
	opts := testOpts()
	logs := &syncBuffer{}
	opts.Log = slog.New(slog.NewTextHandler(logs, nil))
	g := graph([]string{"gen:src", "out:sink"}, nil, EdgeDef{From: "gen", To: "out", Capacity: 4})
	e := startEngine(t, g, f, opts)
	eventually(t, 5*time.Second, "the breaker to open", func() bool {
		c, _ := e.Stats().Component("out", StatSink)
		return c.Circuit == "open"
	})
	code, body := healthz(e)
	if code != 503 || !strings.Contains(body, "out") || !strings.Contains(body, "circuit breaker open") {
		t.Errorf("/healthz with the breaker open = %d %q; want 503 naming out's open circuit breaker", code, body)
	}
	// Still failing: the breaker keeps half-opening and re-opening.
	eventually(t, 5*time.Second, "the breaker to re-open after a trial", func() bool {
		return strings.Count(logs.String(), "circuit breaker re-opened") >= 2
	})
	f.sink("out").erroring.Store(false)
	eventually(t, 5*time.Second, "the recovered sink to be written again", func() bool {
		return f.sinkBatches("out") >= 10
	})
	c, _ := e.Stats().Component("out", StatSink)
	if c.Circuit != "closed" {
		t.Errorf("breaker %s after the sink recovered; want closed", c.Circuit)
	}
	if code, body := healthz(e); code != 200 {
		t.Errorf("/healthz after recovery = %d %q; want 200", code, body)
	}
	shutdown(t, e)
	checkAccounting(t, e.Stats())
}

// TestBreakerOpenAtShutdown: a sink that never recovers leaves its breaker
// open through shutdown, and the log never claims it closed.
func TestBreakerOpenAtShutdown(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8} }
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		s.erroring.Store(true)
		return s
	}
	opts := testOpts()
	opts.BreakerCooldown = time.Hour
	logs := &syncBuffer{}
	opts.Log = slog.New(slog.NewTextHandler(logs, nil))
	g := graph([]string{"gen:src", "out:sink"}, nil, EdgeDef{From: "gen", To: "out", Capacity: 4})
	e := startEngine(t, g, f, opts)
	eventually(t, 5*time.Second, "the breaker to open", func() bool {
		c, _ := e.Stats().Component("out", StatSink)
		return c.Circuit == "open"
	})
	// The sink cannot drain through an open breaker: the drain times out.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	e.Shutdown(ctx)
	if strings.Contains(logs.String(), "circuit breaker closed") {
		t.Errorf("log claims the breaker closed though the sink never recovered:\n%s", logs.String())
	}
	checkAccounting(t, e.Stats())
}
