package runtime

import (
	"testing"
	"time"
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
