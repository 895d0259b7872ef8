package runtime

import (
	"bytes"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
)

// countingConn is a connector that keeps one counter.
type countingConn struct {
	connector.Base
	n uint64
}

func (c *countingConn) Counters() []connector.Counter {
	return []connector.Counter{{Name: "widgets", Help: "Widgets seen.", Value: c.n}}
}

// TestInstCountersAcrossInstances checks that a connector's counters add
// up over the instances it had, so they only grow across restarts, and that
// a connector that keeps none reports none.
func TestInstCountersAcrossInstances(t *testing.T) {
	var ic instCounters
	a := &countingConn{n: 5}
	ic.open(a)
	if got := ic.snapshot(); len(got) != 1 || got[0].Value != 5 {
		t.Fatalf("live instance: %+v; want widgets 5", got)
	}
	a.n = 7
	ic.close(a)
	b := &countingConn{n: 2}
	ic.open(b)
	if got := ic.snapshot(); len(got) != 1 || got[0].Value != 9 {
		t.Fatalf("after a restart: %+v; want widgets 7 + 2", got)
	}
	ic.close(&countingConn{n: 100}) // not the live instance: ignored
	ic.close(b)
	if got := ic.snapshot(); got[0].Value != 9 {
		t.Fatalf("after close: %+v; want widgets 9", got)
	}
	var none instCounters
	none.open(&struct{ connector.Base }{})
	if got := none.snapshot(); len(got) != 0 {
		t.Fatalf("connector without counters reports %+v", got)
	}
}

// TestCountersShown checks a component's own counters reach the summary
// and the Prometheus text, under the connector type's name.
func TestCountersShown(t *testing.T) {
	s := Snapshot{Components: []ComponentStats{{
		Name: "cap", Type: "packet", Role: StatSource, State: "stopped",
		Counters: []connector.Counter{{Name: "ring_full", Help: "Lost to a full ring.", Value: 29467},
			{Name: "unread", Help: "Waiting in the rings.", Value: 12, Gauge: true}},
	}}}
	var sum, prom bytes.Buffer
	if err := s.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.String(), "cap (source, its own counts): ring full 29467") {
		t.Errorf("summary lacks the counter:\n%s", sum.String())
	}
	if err := WritePrometheus(&prom, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# HELP weir_packet_ring_full_total Lost to a full ring.",
		"# TYPE weir_packet_ring_full_total counter",
		`weir_packet_ring_full_total{component="cap",role="source",type="packet"} 29467`,
		"# TYPE weir_packet_unread gauge",
		`weir_packet_unread{component="cap",role="source",type="packet"} 12`,
	} {
		if !strings.Contains(prom.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, prom.String())
		}
	}
}
