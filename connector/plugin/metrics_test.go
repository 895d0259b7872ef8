package plugin

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/internal/promtext"
	"github.com/weirproject/weir/runtime"
)

// TestPluginMetricsExported runs good.c's counter source into its sink and
// checks that the metrics both instances declared with metric_register
// reach /metrics (labelled with the connector's name and type, with the
// plugin's help text, or a stand-in where it gave none) and the summary,
// and that the exposition passes promtool's check when promtool is
// installed (tools/deps.sh installs it), and the package's own strict
// check in any case.
func TestPluginMetricsExported(t *testing.T) {
	reg := registryWith(t)
	lib := cBuild(t, "libgood.so", filepath.Join(repoRoot, "cabi/loader/testdata/good.c"))
	if _, err := Load(reg, lib); err != nil {
		t.Fatal(err)
	}
	g := runtime.Graph{
		Connectors: []runtime.ConnectorDef{
			{Name: "src", Type: "counter", Config: []byte(`{"count":100}`)},
			{Name: "psink", Type: "sink", Config: []byte(`{}`)},
		},
		Connections: []runtime.EdgeDef{{From: "src", To: "psink", Capacity: 4, Policy: runtime.Block}},
	}
	eng := runEngine(t, g, reg, runtime.Options{DrainTimeout: 10 * time.Second, BatchEvents: 16})
	st := eng.Stats()
	psink, _ := st.Component("psink", runtime.StatSink)
	src, _ := st.Component("src", runtime.StatSource)
	var out bytes.Buffer
	if err := runtime.WritePrometheus(&out, st); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	want := []string{
		"# HELP weir_sink_events_total events written\n",
		"# TYPE weir_sink_events_total counter\n",
		`weir_sink_events_total{component="psink",role="sink",type="sink"} 100` + "\n",
		"# TYPE weir_sink_bytes_total counter\n",
		`weir_sink_bytes_total{component="psink",role="sink",type="sink"} ` + itoa(psink.BytesOut) + "\n",
		"# HELP weir_counter_acked_batches batches acked\n",
		"# TYPE weir_counter_acked_batches gauge\n",
		`weir_counter_acked_batches{component="src",role="source",type="counter"} ` + itoa(src.BatchesOut) + "\n",
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	if err := promtext.Check(text); err != nil {
		t.Errorf("exposition check: %v", err)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		// Exit status 1 is a format error, 3 a lint problem. good.c's
		// source type is called "counter", and promtool's naming lint
		// dislikes a metric name holding a type's name; that problem
		// alone is the test's, not the exposition's.
		msg, err := cmd.CombinedOutput()
		var lint []string
		for _, l := range strings.Split(strings.TrimSpace(string(msg)), "\n") {
			if l != "" && !strings.HasSuffix(l, "metric name should not include type 'counter'") {
				lint = append(lint, l)
			}
		}
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 3 || len(lint) > 0) {
			t.Errorf("promtool check metrics: %v\n%s", err, msg)
		}
	} else {
		t.Log("promtool not installed; only the package's own check ran")
	}
	var sum bytes.Buffer
	st.WriteSummary(&sum)
	if !strings.Contains(sum.String(), "psink (sink, its own counts): events 100, bytes "+itoa(psink.BytesOut)) {
		t.Errorf("summary lacks the plugin sink's own counts:\n%s", sum.String())
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
