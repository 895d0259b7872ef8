package config_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/config"
)

// TestRunLoadedConfig loads a config with the real built-in connectors and
// every stateless operator, runs it in the engine, and checks what reached
// each sink: the graph Load builds is one the engine runs as written.
func TestRunLoadedConfig(t *testing.T) {
	dir := t.TempDir()
	// 60 events: lengths 0..59, kinds text/json alternating, streams 0..2.
	var in strings.Builder
	for i := 0; i < 60; i++ {
		kind := "text"
		if i%2 == 1 {
			kind = "json"
		}
		// The data starts with the index, so truncated events can be
		// recognised.
		data := strings.Repeat("x", i)
		if i >= 2 {
			data = fmt.Sprintf("%02d", i) + data[2:]
		}
		fmt.Fprintf(&in, "{\"kind\":%q,\"stream_id\":%d,\"data\":%q}\n", kind, i%3, data)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `
connectors:
  gen:
    type: blaster
    config: {file: ${DIR}/in.jsonl, loops: 1}
  big:
    type: file
    config: {path: ${DIR}/big.jsonl, flush_interval: 0s}
  rest:
    type: file
    config: {path: "${DIR}/rest.jsonl", flush_interval: 0s}
  sums:
    type: file
    config: {path: "${DIR}/sums.jsonl", format: text, flush_interval: 0s}
pipelines:
  rollup:
    - aggregate: {window: 1h, group_by: stream_id, format: json}
  main:
    - filter: {expr: "len >= 10 and stream_id != 2"}
    - sample: {n: 2, mode: every}
    - truncate: {max: 40}
    - route:
        outputs:
          - {name: big, when: "flags has truncated"}
connections:
  - {from: gen, to: main}
  - {from: main.big, to: big}
  - {from: main.default, to: rest}
  - {from: gen, to: rollup}
  - {from: rollup, to: sums}
`
	env := func(k string) (string, bool) {
		if k == "DIR" {
			return dir, true
		}
		return "", false
	}
	res, err := config.Parse("e2e.yaml", []byte(cfg), config.Options{Registry: connector.Default.Clone(), LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := runtime.New(*res.Graph, connector.Default, runtime.Options{})
	if err != nil {
		t.Fatalf("engine rejected the loaded graph: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := eng.Run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("run timed out before the blaster finished")
	}

	// Expected: events 10..59 with stream != 2, every 2nd of them from the
	// first; those longer than 40 were truncated and routed to big.
	var wantBig, wantRest []int
	kept := 0
	for i := 10; i < 60; i++ {
		if i%3 == 2 {
			continue
		}
		if kept%2 == 0 {
			if i > 40 {
				wantBig = append(wantBig, i)
			} else {
				wantRest = append(wantRest, i)
			}
		}
		kept++
	}
	check := func(name string, want []int, truncated bool) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var got []int
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var ev struct {
				Data string `json:"data"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("%s: %v in %q", name, err, sc.Text())
			}
			var i int
			if _, err := fmt.Sscanf(ev.Data, "%02d", &i); err != nil {
				t.Fatalf("%s: event data %q does not start with its index", name, ev.Data)
			}
			wantLen := i
			if truncated {
				wantLen = 40
			}
			if len(ev.Data) != wantLen {
				t.Errorf("%s: event %d has %d bytes; want %d", name, i, len(ev.Data), wantLen)
			}
			got = append(got, i)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s got events %v; want %v", name, got, want)
		}
	}
	check("big.jsonl", wantBig, true)
	check("rest.jsonl", wantRest, false)

	// The hour-long window is still open when the blaster ends; the
	// engine's final flush must emit it: per stream, 20 events and the
	// sum of their lengths.
	data, err := os.ReadFile(filepath.Join(dir, "sums.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[uint64][2]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct{ Key, Count, Sum uint64 }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("rollup %q: %v", line, err)
		}
		sums[r.Key] = [2]uint64{r.Count, r.Sum}
	}
	want := map[uint64][2]uint64{}
	for i := 0; i < 60; i++ {
		w := want[uint64(i%3)]
		want[uint64(i%3)] = [2]uint64{w[0] + 1, w[1] + uint64(i)}
	}
	if fmt.Sprint(sums) != fmt.Sprint(want) {
		t.Errorf("rollups (stream: [count sum]) = %v; want %v", sums, want)
	}
}
