package builtin_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/config"
	"github.com/weirproject/weir/runtime/operator"
)

// TestConfigRun loads testdata/replay.yaml with the config package and
// runs it in the engine: the blaster replays an event file twice through a
// filter into the file sink and the blackhole, and a metronome ticks into a
// second file. The copy must hold exactly the unfiltered events of both
// passes, and the tick file three ticks.
func TestConfigRun(t *testing.T) {
	out := t.TempDir()
	dir, _ := filepath.Abs("../format/testdata")
	env := map[string]string{"DIR": dir, "OUT": out}
	res, err := config.Load("testdata/replay.yaml", config.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	eng, err := runtime.New(*res.Graph, connector.Default, runtime.Options{NewOp: operator.New, DrainTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// The file sink's copy: events.jsonl minus its packet event, twice,
	// with fresh timestamps.
	got, err := os.ReadFile(filepath.Join(out, "copy.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	wantData := []string{`"data":"hello"`, `"data":"\u0000\u0001\u0002\u0003"`, `"data":"tab\there \"quoted\" é"`, `"data":"{}"`}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 2*len(wantData) {
		t.Fatalf("copy has %d lines; want %d:\n%s", len(lines), 2*len(wantData), got)
	}
	for i, l := range lines {
		if !strings.Contains(l, wantData[i%len(wantData)]) || strings.Contains(l, `"kind":"packet"`) || strings.Contains(l, `"ts_ns":0,`) {
			t.Errorf("copy line %d = %s; want one containing %s, stamped, not a packet", i, l, wantData[i%len(wantData)])
		}
	}
	st := eng.Stats()
	hole, _ := st.Component("hole", runtime.StatSink)
	main, _ := st.Component("main", runtime.StatPipeline)
	if hole.EventsOut != 8 || main.EventsIn != 10 || main.Dropped[runtime.ReasonOperator] != 2 {
		t.Errorf("blackhole got %d events, pipeline in %d dropped %v; want 8, 10 and 2 by operator", hole.EventsOut, main.EventsIn, main.Dropped)
	}

	ticks, err := os.ReadFile(filepath.Join(out, "ticks.raw"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ticks) != 3*12 {
		t.Fatalf("tick file has %d bytes; want three records of 4+8", len(ticks))
	}
	for i := 0; i < 3; i++ {
		rec := ticks[i*12:]
		if n, seq := binary.LittleEndian.Uint32(rec), binary.LittleEndian.Uint64(rec[4:]); n != 8 || seq != uint64(i) {
			t.Errorf("tick record %d = length %d, seq %d; want 8, %d", i, n, seq, i)
		}
	}
}
