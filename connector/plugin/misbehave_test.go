package plugin

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirproject/weir/runtime"
)

// TestFailedPollsAreNotDelivered runs each misbehaving source of
// testdata/misbehave.c into the built-in file sink, which reads every
// byte it is given. None of their polls may deliver anything: a batch
// whose length passed its capacity, one that failed with ERROR after
// appending a wild pointer, and one that returned OK with a wild pointer
// are discarded whole, counted as dropped with reason poll_failed, and the
// host survives to a balanced summary.
func TestFailedPollsAreNotDelivered(t *testing.T) {
	lib := cBuild(t, "libmisbehave.so", filepath.Join(repoRoot, "connector/plugin/testdata/misbehave.c"))
	for _, typ := range []string{"overcap", "wilderror", "wildok"} {
		t.Run(typ, func(t *testing.T) {
			reg := registryWith(t, "file")
			if _, err := Load(reg, lib); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.jsonl")
			g := runtime.Graph{
				Connectors: []runtime.ConnectorDef{
					{Name: "bad", Type: typ, Config: []byte(`{"count":20}`)},
					{Name: "witness", Type: "file", Config: []byte(`{"path":"` + out + `","format":"jsonl"}`)},
				},
				Connections: []runtime.EdgeDef{{From: "bad", To: "witness", Capacity: 4, Policy: runtime.Block}},
			}
			opts := runtime.Options{DrainTimeout: 5 * time.Second, BatchEvents: 64, MaxPollErrors: 1 << 20,
				RetryBackoff: runtime.Backoff{Min: time.Microsecond, Max: time.Microsecond}}
			eng := runEngine(t, g, reg, opts)
			st := eng.Stats()
			src, _ := st.Component("bad", runtime.StatSource)
			sink, _ := st.Component("witness", runtime.StatSink)
			if src.EventsOut != 0 || sink.EventsIn != 0 {
				t.Errorf("source handed on %d events, sink took %d; want 0 from failed polls", src.EventsOut, sink.EventsIn)
			}
			if src.Errors < 20 || src.Dropped[runtime.ReasonPollFailed] == 0 {
				t.Errorf("source errors %d, dropped %v; want 20 failed polls, their events dropped as %s",
					src.Errors, src.Dropped, runtime.ReasonPollFailed)
			}
			if src.EventsIn != src.DroppedTotal() || src.InFlight != 0 {
				t.Errorf("source ledger: in %d, dropped %d, in flight %d", src.EventsIn, src.DroppedTotal(), src.InFlight)
			}
			if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
				t.Errorf("witness file holds %d bytes (err %v); want none", len(b), err)
			}
		})
	}
}
