package runtime

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/internal/promtext"
)

func TestMetricsEndpoint(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, limit: 5} }
	opts := testOpts()
	opts.MetricsAddr = "127.0.0.1:0"
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	<-e.Finished()
	addr := e.MetricsAddr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("MetricsAddr() = %q; want a loopback address", addr)
	}
	get := func(path string) (int, string) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q; want 200 \"ok\\n\"", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics status %d", code)
	}
	for _, want := range []string{
		`weir_component_events_in_total{component="in",role="source",type="src"} 20`,
		`weir_component_events_out_total{component="out",role="sink",type="sink"} 20`,
		`weir_edge_events_in_total{from="in",port="",to="out",policy="block"} 20`,
		`weir_edge_queue_batches{from="in",port="",to="out",policy="block"} 0`,
		`weir_sink_circuit_state{component="out",role="sink",type="sink"} 0`,
		`weir_component_state{component="out",role="sink",type="sink",state="running"} 1`,
		"# TYPE weir_edge_events_in_total counter",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	line := regexp.MustCompile(`^[a-z_]+\{([a-z_]+="[^"\\]*(\\.[^"\\]*)*",?)*\} -?[0-9.e+]+$`)
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(l, "# ") && !line.MatchString(l) {
			t.Errorf("malformed exposition line %q", l)
		}
	}
}

func TestWritePrometheusEscapesAndDrops(t *testing.T) {
	s := Snapshot{
		Components: []ComponentStats{{Name: "we\"ird\\name", Type: "x", Role: StatSink, State: "running", Circuit: "open",
			EventsIn: 10, EventsOut: 4, Dropped: map[string]uint64{ReasonSinkError: 6}}},
		Edges: []EdgeStats{{From: "a", To: "b", Policy: DropOldest, Dropped: map[string]uint64{ReasonOldest: 3}}},
	}
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`component="we\"ird\\name"`,
		`weir_component_dropped_events_total{component="we\"ird\\name",role="sink",type="x",reason="sink_error"} 6`,
		`weir_sink_circuit_state{component="we\"ird\\name",role="sink",type="x"} 2`,
		`weir_edge_dropped_events_total{from="a",port="",to="b",policy="drop_oldest",reason="oldest"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHandlerWithoutServer(t *testing.T) {
	f := newFixture()
	e, err := New(graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f.reg, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Errorf("/metrics before Start: status %d", rec.Code)
	}
	if e.MetricsAddr() != "" {
		t.Errorf("MetricsAddr() = %q without a server; want empty", e.MetricsAddr())
	}
}

// FuzzLabels checks that any label value survives escaping: the written
// pair stays on one line and unescapes to the original.
func FuzzLabels(f *testing.F) {
	for _, v := range []string{"", "plain", `quo"te`, `back\slash`, "new\nline", `\"\n`, "ünï"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out := labels("k", v)
		if strings.ContainsRune(out, '\n') {
			t.Fatalf("labels(%q) = %q spans lines", v, out)
		}
		if !strings.HasPrefix(out, `k="`) || !strings.HasSuffix(out, `"`) {
			t.Fatalf("labels(%q) = %q; want k=\"...\"", v, out)
		}
		body := out[3 : len(out)-1]
		var got strings.Builder
		for i := 0; i < len(body); i++ {
			c := body[i]
			if c == '"' {
				t.Fatalf("labels(%q) = %q has an unescaped quote", v, out)
			}
			if c != '\\' {
				got.WriteByte(c)
				continue
			}
			i++
			if i == len(body) {
				t.Fatalf("labels(%q) = %q ends in a lone backslash", v, out)
			}
			switch body[i] {
			case '\\':
				got.WriteByte('\\')
			case '"':
				got.WriteByte('"')
			case 'n':
				got.WriteByte('\n')
			default:
				t.Fatalf("labels(%q) = %q has unknown escape \\%c", v, out, body[i])
			}
		}
		if got.String() != v {
			t.Fatalf("labels(%q) unescapes to %q", v, got.String())
		}
	})
}

// TestHealthzConnecting checks that /healthz does not say ok while a
// connector keeps failing to connect.
func TestHealthzConnecting(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 4, size: 8, failConn: 1 << 30} }
	opts := testOpts()
	opts.MetricsAddr = "127.0.0.1:0"
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	rec := httptest.NewRecorder()
	eventually(t, 5*time.Second, "a second connect attempt", func() bool {
		c, _ := e.Stats().Component("in", StatSource)
		return c.ConnectAttempts >= 2
	})
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "in (connecting)") {
		t.Errorf("/healthz while in cannot connect = %d %q; want 503 naming it", rec.Code, rec.Body.String())
	}
}

// TestWritePrometheusConnectorCounters: a connector's own counts (a
// plugin's metrics) become families named after its type, with their help
// text escaped, a negative gauge kept negative, no "_total_total", and a
// name that meets a built-in family of another type left out; the whole
// exposition passes the strict check.
func TestWritePrometheusConnectorCounters(t *testing.T) {
	s := Snapshot{Components: []ComponentStats{{Name: "p", Type: "my.plug-in", Role: StatSink, State: "running",
		Counters: []connector.Counter{
			{Name: "written_total", Help: "Lines\nwritten \\ so far.", Value: 7},
			{Name: "depth", Help: "Queue depth.", Value: uint64(1<<64 - 3), Gauge: true},
		}}, {Name: "q", Type: "component", Role: StatSink, State: "running",
		Counters: []connector.Counter{{Name: "events_in_total", Help: "Clashes with a built-in counter family.", Value: 1, Gauge: true}},
	}}}
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# HELP weir_my_plug_in_written_total Lines\\nwritten \\\\ so far.\n",
		`weir_my_plug_in_written_total{component="p",role="sink",type="my.plug-in"} 7`,
		`weir_my_plug_in_depth{component="p",role="sink",type="my.plug-in"} -3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `weir_component_events_in_total{component="q",role="sink",type="component"} 1`+"\n") {
		t.Errorf("a connector's gauge joined the counter family weir_component_events_in_total:\n%s", out)
	}
	if err := promtext.Check(out); err != nil {
		t.Errorf("exposition: %v\n%s", err, out)
	}
}

// TestWritePrometheusConnectorCountersCannotForge: a plugin's metric
// whose name meets a built-in family of the same type (type "component",
// counter "events_in"; type "edge", counter "events_in") is left out, so
// it neither adds a second series with the component's labels beside the
// host's own nor gives a host family its help text; and two metrics of
// one plugin that map to one name ("x" and "x_total") yield one series.
func TestWritePrometheusConnectorCountersCannotForge(t *testing.T) {
	s := Snapshot{Components: []ComponentStats{
		{Name: "s1", Type: "component", Role: StatSource, State: "running", EventsIn: 3,
			Counters: []connector.Counter{{Name: "events_in", Help: "Forged.", Value: 7}}},
		{Name: "s2", Type: "edge", Role: StatSource, State: "running",
			Counters: []connector.Counter{{Name: "events_in", Help: "Forged edge help.", Value: 9},
				{Name: "x", Help: "One.", Value: 1}, {Name: "x_total", Help: "Two.", Value: 2}}},
	}, Edges: []EdgeStats{{From: "s2", To: "s1", Policy: "block", EventsIn: 5}}}
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{" 7\n", "Forged", " 9\n"} {
		if strings.Contains(out, bad) {
			t.Errorf("a plugin metric joined a built-in family (%q):\n%s", bad, out)
		}
	}
	if n := strings.Count(out, "weir_edge_x_total{"); n != 1 {
		t.Errorf("weir_edge_x_total has %d series; want 1:\n%s", n, out)
	}
	if err := promtext.Check(out); err != nil {
		t.Errorf("exposition: %v\n%s", err, out)
	}
}
