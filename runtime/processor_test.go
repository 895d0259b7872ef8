package runtime

import (
	"github.com/weirproject/weir/connector"

	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
)

// evenDropper marks every event with an even sequence number to drop and
// fails the batch that starts with sequence number failAt (0: none). With
// unmark it first clears cabi.FlagDrop on every event; with noMark it
// marks none.
type evenDropper struct {
	connector.Base
	failAt         uint64
	unmark, noMark bool
}

func (p evenDropper) Process(b *cabi.Batch) error {
	evs := b.EventSlice()
	if p.failAt != 0 && seqOf(&evs[0]) == p.failAt {
		return errors.New("refused by test")
	}
	for i := range evs {
		if p.unmark {
			evs[i].Flags &^= cabi.FlagDrop
		}
		if !p.noMark && seqOf(&evs[i])%2 == 0 {
			evs[i].Flags |= cabi.FlagDrop
		}
	}
	return nil
}

// TestProcessorCounters checks a processor's own figures for 1000 events
// of 8 bytes in batches of 10: what it got, passed and marked dropped, and
// that a batch it fails on is dropped with reason processor. Events an
// earlier step dropped never reach it, and stay dropped even when it
// unmarks them: those count as neither in nor out for it, and the events it
// newly marks as dropped by it.
func TestProcessorCounters(t *testing.T) {
	tests := []struct {
		name   string
		ops    []OpDef
		failAt uint64
		step   string
		// want: processor in, out, dropped by reason
		in, out uint64
		dropped map[string]uint64
	}{
		{name: "alone", ops: []OpDef{{Type: "even"}}, step: "p/1",
			in: 1000, out: 500, dropped: map[string]uint64{ReasonOperator: 500}},
		// drop_every 5 takes 200 events first; of the 800 left, 400 are even.
		{name: "after an operator", ops: []OpDef{{Type: "drop_every", Config: []byte(`{"n":5}`)}, {Type: "even"}}, step: "p/2",
			in: 800, out: 400, dropped: map[string]uint64{ReasonOperator: 400}},
		// The batch of 11..20 fails whole: its 10 events are dropped.
		{name: "failing", ops: []OpDef{{Type: "even"}}, failAt: 11, step: "p/1",
			in: 1000, out: 495, dropped: map[string]uint64{ReasonOperator: 495, ReasonProcessor: 10}},
		// drop_every 5 marks 200 events; the processor unmarks them and
		// marks the 500 even ones, 400 of which it got live.
		{name: "unmarks and marks", ops: []OpDef{{Type: "drop_every", Config: []byte(`{"n":5}`)}, {Type: "unmark_even"}}, step: "p/2",
			in: 800, out: 400, dropped: map[string]uint64{ReasonOperator: 400}},
		{name: "unmarks only", ops: []OpDef{{Type: "drop_every", Config: []byte(`{"n":5}`)}, {Type: "unmark"}}, step: "p/2",
			in: 800, out: 800, dropped: map[string]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.newSrc = func(string) *testSource { return &testSource{eventsPer: 10, size: 8, limit: 100} }
			for id, p := range map[string]evenDropper{
				"even":        {failAt: tt.failAt},
				"unmark_even": {unmark: true},
				"unmark":      {unmark: true, noMark: true},
			} {
				f.reg.MustRegister(connector.Type{ID: id, Roles: connector.RoleProcessor, New: func([]byte, connector.Env) (connector.Connector, error) { return p, nil }})
			}
			g := graph([]string{"in:src", "out:sink"}, []PipelineDef{{Name: "p", Ops: tt.ops}},
				EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "out"})
			s := runToEnd(t, g, f, testOpts())
			c, ok := s.Component(tt.step, StatProcessor)
			if !ok {
				t.Fatalf("no processor %s in the snapshot", tt.step)
			}
			if c.EventsIn != tt.in || c.EventsOut != tt.out || fmt.Sprint(c.Dropped) != fmt.Sprint(tt.dropped) || c.InFlight != 0 {
				t.Errorf("processor in %d out %d dropped %v in flight %d; want %d, %d, %v, 0", c.EventsIn, c.EventsOut, c.Dropped, c.InFlight, tt.in, tt.out, tt.dropped)
			}
			if c.BytesIn != 8*tt.in || c.BytesOut != 8*tt.out {
				t.Errorf("processor bytes in %d out %d; want %d, %d", c.BytesIn, c.BytesOut, 8*tt.in, 8*tt.out)
			}
			// Only the events the processor passed reach the sink.
			if got := uint64(f.sink("out").events.Load()); got != tt.out {
				t.Errorf("sink got %d events; want %d", got, tt.out)
			}

			var prom bytes.Buffer
			if err := WritePrometheus(&prom, s); err != nil {
				t.Fatal(err)
			}
			l := `component="` + tt.step + `",role="processor",type="` + tt.ops[len(tt.ops)-1].Type + `"`
			want := []string{
				fmt.Sprintf("weir_component_events_in_total{%s} %d\n", l, tt.in),
				fmt.Sprintf("weir_component_events_out_total{%s} %d\n", l, tt.out),
				fmt.Sprintf("weir_component_events_in_flight{%s} 0\n", l),
			}
			for r, n := range tt.dropped {
				want = append(want, fmt.Sprintf("weir_component_dropped_events_total{%s,reason=%q} %d\n", l, r, n))
			}
			for _, w := range want {
				if !strings.Contains(prom.String(), w) {
					t.Errorf("metrics lack %q", w)
				}
			}

			var sum bytes.Buffer
			s.WriteSummary(&sum)
			row := fmt.Sprintf("%s processor stopped %d 0 %d %s 0 ", tt.step, tt.in, tt.out, dropText(tt.dropped))
			if !strings.Contains(strings.Join(strings.Fields(sum.String()), " "), row) {
				t.Errorf("summary lacks the row %q:\n%s", row, sum.String())
			}
		})
	}
}
