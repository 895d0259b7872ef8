package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/operator"
)

// TestEnginePluginSourceProcessorSink runs a graph made only of plugin
// roles, plus the built-in file sink as a witness:
//
//	counter (plugin source, wants acks; some event bytes in plugin memory)
//	  -> pipeline [filter (plugin processor: drops odd events, shortens the rest)]
//	  -> sink (plugin sink) and file (built-in)
//
// It checks that every event is accounted for, that the bytes that reach
// the file are right (so bytes in plugin memory were carried safely), that
// the plugin sink counted what the engine delivered, and that the source
// got an ack for every batch.
func TestEnginePluginSourceProcessorSink(t *testing.T) {
	const count = 999
	reg := registryWith(t, "file")
	lib := cBuild(t, "libgood.so", filepath.Join(repoRoot, "cabi/loader/testdata/good.c"))
	if _, err := Load(reg, lib); err != nil {
		t.Fatal(err)
	}
	reg, made := captured(t, reg, "counter")
	reg, sinks := captured(t, reg, "sink")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	g := runtime.Graph{
		Connectors: []runtime.ConnectorDef{
			{Name: "src", Type: "counter", Config: []byte(`{"count":999}`)},
			{Name: "psink", Type: "sink", Config: []byte(`{}`)},
			{Name: "witness", Type: "file", Config: []byte(`{"path":"` + out + `","format":"jsonl"}`)},
		},
		Pipelines: []runtime.PipelineDef{{Name: "p", Ops: []runtime.OpDef{{Type: "filter", Config: []byte(`{}`)}}}},
		Connections: []runtime.EdgeDef{
			{From: "src", To: "p", Capacity: 4, Policy: runtime.Block},
			// Coupled: neither sink may shed while the other is idle.
			{From: "p", To: "psink", Capacity: 4, Policy: runtime.Block, Couple: true},
			{From: "p", To: "witness", Capacity: 4, Policy: runtime.Block, Couple: true},
		},
	}
	eng := runEngine(t, g, reg, runtime.Options{NewOp: operator.New, DrainTimeout: 10 * time.Second, BatchEvents: 64})
	st := eng.Stats()
	src, _ := st.Component("src", runtime.StatSource)
	pipe, _ := st.Component("p", runtime.StatPipeline)
	psink, _ := st.Component("psink", runtime.StatSink)
	witness, _ := st.Component("witness", runtime.StatSink)
	if src.EventsOut != count || pipe.EventsIn != count || pipe.EventsOut+pipe.DroppedTotal() != count || pipe.InFlight != 0 {
		t.Fatalf("accounting: source out %d; pipeline in %d out %d dropped %v", src.EventsOut, pipe.EventsIn, pipe.EventsOut, pipe.Dropped)
	}
	kept := pipe.EventsOut
	if kept == 0 || kept == count {
		t.Fatalf("the plugin filter kept %d of %d events; want some dropped", kept, count)
	}
	if psink.EventsOut != kept || witness.EventsOut != kept || psink.Errors+witness.Errors+pipe.Errors != 0 {
		t.Errorf("sinks wrote %d (plugin) and %d (file) events; want %d each without errors", psink.EventsOut, witness.EventsOut, kept)
	}

	// The plugin sink's own counters agree with the engine.
	sm := sinks()[0].(*Connector).Metrics()
	if sm["events"] != int64(kept) || sm["bytes"] != int64(psink.BytesOut) {
		t.Errorf("plugin sink counted %v; want %d events and %d bytes", sm, kept, psink.BytesOut)
	}
	// Every batch the source produced was acked.
	srcConn, ok := made()[0].(AckingConnector)
	if !ok {
		t.Fatalf("counter instance is %T; want AckingConnector (the plugin wants acks)", made()[0])
	}
	if acked := srcConn.Metrics()["acked_batches"]; acked != int64(src.BatchesOut) || src.Acks != src.BatchesOut || src.Fails != 0 {
		t.Errorf("plugin acked %d batches, engine acked %d, failed %d; want all %d acked", acked, src.Acks, src.Fails, src.BatchesOut)
	}

	// Each event in the file is "event N" shortened by one byte, from a
	// distinct N, whether its bytes started in the arena or plugin memory.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[uint64]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev struct {
			TsNs uint64 `json:"ts_ns"`
			Data string `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("witness line %q: %v", sc.Text(), err)
		}
		// The plugin stamps ts_ns with N.
		full := "event " + strconv.FormatUint(ev.TsNs, 10)
		if ev.Data != full[:len(full)-1] || seen[ev.TsNs] {
			t.Errorf("witness event %d = %q; want %q once", ev.TsNs, ev.Data, full[:len(full)-1])
		}
		seen[ev.TsNs] = true
	}
	if uint64(len(seen)) != kept {
		t.Errorf("witness file holds %d events; want %d", len(seen), kept)
	}
	foreign := 0
	for n := range seen {
		if n%3 == 2 { // the counter puts every third event in its own memory
			foreign++
		}
	}
	if foreign == 0 {
		t.Error("no event whose bytes lived in plugin memory reached the file")
	}
}

// runEngine builds an engine for g and runs it to the end, failing the test
// if either step fails or the run takes over 30 seconds.
func runEngine(t *testing.T, g runtime.Graph, reg *connector.Registry, opts runtime.Options) *runtime.Engine {
	t.Helper()
	eng, err := runtime.New(g, reg, opts)
	if err != nil {
		t.Fatalf("runtime.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return eng
}
