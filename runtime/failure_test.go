package runtime

import (
	"strings"

	"github.com/weirproject/weir/connector"

	"errors"
	"testing"
	"time"
)

// TestFailureOutlivesShutdown: a connector that never ran because its
// create or connect failed is still "failed" after Shutdown, with the
// error; one that connected after failing, and one that never failed, are
// "stopped" with no failure.
func TestFailureOutlivesShutdown(t *testing.T) {
	f := newFixture()
	f.newSrc = func(name string) *testSource {
		s := &testSource{eventsPer: 4, size: 8, limit: 10}
		switch name {
		case "late":
			s.failConn = 2
		case "never":
			s.failConn = 1 << 30
			s.limit = 1
		}
		return s
	}
	f.reg.MustRegister(connector.Type{ID: "broken", Roles: connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) {
		return nil, errors.New("events.jsonl:3:7: bad event")
	}})
	g := graph([]string{"late:src", "never:src", "good:sink", "bad:broken"}, nil,
		EdgeDef{From: "late", To: "good"}, EdgeDef{From: "never", To: "good"}, EdgeDef{From: "late", To: "bad"})
	e := startEngine(t, g, f, testOpts())
	eventually(t, 5*time.Second, "late to deliver and never to fail twice", func() bool {
		s := e.Stats()
		late, _ := s.Component("late", StatSource)
		never, _ := s.Component("never", StatSource)
		return late.EventsOut == 40 && never.ConnectAttempts >= 2
	})
	shutdown(t, e)
	s := e.Stats()
	tests := []struct {
		name, role, state, failure string
	}{
		{"bad", StatSink, "failed", "create bad: events.jsonl:3:7: bad event"},
		{"never", StatSource, "failed", "connect never: refused"},
		{"late", StatSource, "stopped", ""},
		{"good", StatSink, "stopped", ""},
	}
	for _, tt := range tests {
		c, ok := s.Component(tt.name, tt.role)
		if !ok {
			t.Errorf("no %s %s in the snapshot", tt.role, tt.name)
			continue
		}
		if c.State != tt.state || c.Failure != tt.failure {
			t.Errorf("%s %s: state %q, failure %q; want %q, %q", tt.role, tt.name, c.State, c.Failure, tt.state, tt.failure)
		}
	}
}

// TestPermanentPollFails checks that a Poll error marked permanent fails
// the source at once, after what it produced before reached the sink, and
// closes the instance instead of reopening it.
func TestPermanentPollFails(t *testing.T) {
	f := newFixture()
	src := &testSource{eventsPer: 4, size: 8, goneAt: 3}
	f.newSrc = func(string) *testSource { return src }
	g := graph([]string{"cap:src", "out:sink"}, nil, EdgeDef{From: "cap", To: "out"})
	e := startEngine(t, g, f, testOpts())
	select {
	case <-e.Finished():
	case <-time.After(hang):
		t.Fatalf("engine not finished %v after its only source failed for good", hang)
	}
	c, _ := e.Stats().Component("cap", StatSource)
	if c.State != "failed" || c.ConnectAttempts != 1 || c.Restarts != 0 || !strings.Contains(c.Failure, "device gone") {
		t.Errorf("source: state %q, %d connect attempts, %d restarts, failure %q; want failed after 1 attempt, no restart, naming the error",
			c.State, c.ConnectAttempts, c.Restarts, c.Failure)
	}
	if got := src.count("close"); got != 1 {
		t.Errorf("source closed %d times; want 1", got)
	}
	eventually(t, 5*time.Second, "the sink to get the 2 batches polled before the error", func() bool { return f.sink("out").events.Load() == 8 })
}

// TestPermanentConnectFails checks that a Connect error marked permanent
// fails the connector at once, naming the error, and ends the engine's
// wait when it was the only source, instead of being retried forever.
func TestPermanentConnectFails(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource {
		return &testSource{eventsPer: 4, size: 8, failConn: 1 << 30, permanent: true}
	}
	g := graph([]string{"cap:src", "out:sink"}, nil, EdgeDef{From: "cap", To: "out"})
	e := startEngine(t, g, f, testOpts())
	select {
	case <-e.Finished():
	case <-time.After(hang):
		t.Fatalf("engine not finished %v after its only source failed for good", hang)
	}
	c, _ := e.Stats().Component("cap", StatSource)
	if c.State != "failed" || c.ConnectAttempts != 1 || !strings.Contains(c.Failure, "refused for good") {
		t.Errorf("source: state %q, %d connect attempts, failure %q; want failed after 1 attempt, naming the error", c.State, c.ConnectAttempts, c.Failure)
	}
}
