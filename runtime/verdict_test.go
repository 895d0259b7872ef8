package runtime

import (
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
)

// TestVerdict: the summary's last line names the rows that do not add
// up; events in flight only in an abandoned instance's stuck call leave
// the ledger balanced and are named as such; and events a source lost
// before the engine saw them make the run NOT complete, never balanced.
func TestVerdict(t *testing.T) {
	ok := ComponentStats{Name: "gen", Role: StatSource, EventsIn: 10, EventsOut: 10}
	okEdge := EdgeStats{From: "gen", To: "out", EventsIn: 10, EventsOut: 10}
	tests := []struct {
		name     string
		s        Snapshot
		balanced bool
		want     []string
		not      []string
	}{
		{"balanced", Snapshot{Components: []ComponentStats{ok}, Edges: []EdgeStats{okEdge}}, true,
			[]string{"accounting: balanced (in + emitted"}, []string{"NOT"}},
		{"in flight", Snapshot{Components: []ComponentStats{ok, {Name: "out", Role: StatSink, EventsIn: 10, EventsOut: 6, InFlight: 4}}, Edges: []EdgeStats{okEdge}}, false,
			[]string{"accounting: NOT balanced: sink out: in 10 + emitted 0 = out 6 + dropped 0, with 4 in flight"}, []string{"gen"}},
		{"edge", Snapshot{Components: []ComponentStats{ok}, Edges: []EdgeStats{{From: "gen", FromPort: "p", To: "out", EventsIn: 10, EventsOut: 7}}}, false,
			[]string{"accounting: NOT balanced: edge gen.p -> out: in 10 != out 7 + dropped 0 + queued 0"}, nil},
		{"abandoned", Snapshot{Components: []ComponentStats{ok, {Name: "out", Role: StatSink, EventsIn: 10, EventsOut: 6, InFlight: 4, Abandoned: 1}}, Edges: []EdgeStats{okEdge}}, true,
			[]string{"accounting: balanced", "4 events are in flight in the stuck calls of out (abandoned)"}, []string{"NOT"}},
		{"kernel loss", Snapshot{Components: []ComponentStats{{Name: "cap", Role: StatSource, EventsIn: 10, EventsOut: 10,
			Counters: []connector.Counter{{Name: "seen", Value: 500}, {Name: "ring_full", Value: 490, Loss: true}}}}, Edges: []EdgeStats{{From: "cap", To: "out", EventsIn: 10, EventsOut: 10}}}, true,
			[]string{"accounting: NOT complete: sources lost 490 events before weir could read them (cap ring_full 490)"}, []string{"balanced"}},
	}
	for _, tt := range tests {
		line, balanced := tt.s.Verdict()
		if balanced != tt.balanced {
			t.Errorf("%s: Verdict() balanced = %v; want %v (%q)", tt.name, balanced, tt.balanced, line)
		}
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: Verdict() = %q; want it to contain %q", tt.name, line, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(line, w) {
				t.Errorf("%s: Verdict() = %q; want no %q", tt.name, line, w)
			}
		}
	}
}

// TestFailureDrops: drops because something failed are named, one line
// per component or edge, with each reason; drops a policy chose are not.
func TestFailureDrops(t *testing.T) {
	s := Snapshot{
		Components: []ComponentStats{
			{Name: "gen", Role: StatSource, Dropped: map[string]uint64{ReasonUnconnected: 5}},
			{Name: "out", Role: StatSink, Dropped: map[string]uint64{ReasonSinkError: 100, ReasonShutdown: 2}},
			{Name: "p", Role: StatPipeline, Dropped: map[string]uint64{ReasonOperator: 40, ReasonUnrouted: 3}},
			{Name: "p/1", Role: StatProcessor, Dropped: map[string]uint64{ReasonProcessor: 7, ReasonOperator: 1}},
			{Name: "quiet", Role: StatSink, Dropped: map[string]uint64{ReasonSinkError: 0}},
		},
		Edges: []EdgeStats{
			{From: "gen", To: "out", Dropped: map[string]uint64{ReasonFull: 9, ReasonOldest: 1, ReasonDecoupled: 2}},
			{From: "gen", FromPort: "x", To: "out", Dropped: map[string]uint64{ReasonBufferError: 3, ReasonCorrupt: 1, ReasonKept: 4}},
		},
	}
	want := []string{
		"sink out dropped 102 events: the stop gave up on them in flight (the drain timed out, or a second signal); the sink's writes failed (2 shutdown, 100 sink_error)",
		"processor p/1 dropped 7 events: a processor failed on them (7 processor)",
		"edge gen.x -> out dropped 4 events: a disk buffer could not store them; a disk buffer held them damaged (3 buffer_error, 1 corrupt)",
	}
	got := s.FailureDrops()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("FailureDrops() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := (Snapshot{Components: []ComponentStats{{Name: "gen", Role: StatSource, Dropped: map[string]uint64{ReasonPollFailed: 1}}}}).FailureDrops(); len(got) != 1 || !strings.Contains(got[0], "the source's poll failed (1 poll_failed)") {
		t.Errorf("poll failure: FailureDrops() = %q", got)
	}
}

// TestFailureDropsDamagedBuffer: damaged bytes a disk buffer skipped when
// it opened held events that are lost, though no drop counts them; the
// edge is named once, as for its corrupt drops, and torn bytes (a record
// cut short by a crash) are not a failure of this run.
func TestFailureDropsDamagedBuffer(t *testing.T) {
	s := Snapshot{Edges: []EdgeStats{
		{From: "gen", To: "out", Buffer: &BufferStats{Path: "/b/1", CorruptBytes: 331800}},
		{From: "gen", To: "two", Buffer: &BufferStats{Path: "/b/2", CorruptBytes: 60}, Dropped: map[string]uint64{ReasonCorrupt: 2}},
		{From: "gen", To: "torn", Buffer: &BufferStats{Path: "/b/3", TornBytes: 500}},
	}}
	want := []string{
		"edge gen -> out: its disk buffer /b/1 skipped 331800 damaged bytes when it opened; the events in them are lost",
		"edge gen -> two dropped 2 events: a disk buffer held them damaged (2 corrupt)",
	}
	if got := s.FailureDrops(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("FailureDrops() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCarryStopFailureType: a stop failure of an instance a reload
// replaced with one of another type keeps the type that failed
// (StopFailureType), through later reloads too, since the entry has the
// type of the instance that runs now.
func TestCarryStopFailureType(t *testing.T) {
	const msg = "drain out: file out: write /dev/full: no space left on device"
	entry := func(typ string) []ComponentStats {
		return []ComponentStats{{Name: "out", Type: typ, Role: StatSink}}
	}
	failed := entry("file")
	failed[0].StopFailure = msg
	// file -> blackhole: the failure was the file sink's.
	b := carry(entry("blackhole"), failed)
	if got := b[0]; got.StopFailure != msg || got.StopFailureType != "file" || got.Type != "blackhole" {
		t.Errorf("file -> blackhole: %q of type %q on a %s; want %q of type file on a blackhole", got.StopFailure, got.StopFailureType, got.Type, msg)
	}
	// file -> blackhole -> pcapng: still the file sink's.
	if got := carry(entry("pcapng"), b)[0]; got.StopFailure != msg || got.StopFailureType != "file" {
		t.Errorf("file -> blackhole -> pcapng: %q of type %q; want %q of type file", got.StopFailure, got.StopFailureType, msg)
	}
	// file -> blackhole -> file: the type it has now.
	if got := carry(entry("file"), b)[0]; got.StopFailure != msg || got.StopFailureType != "" {
		t.Errorf("file -> blackhole -> file: %q of type %q; want %q with no other type", got.StopFailure, got.StopFailureType, msg)
	}
	// file -> file (a changed config): no other type.
	if got := carry(entry("file"), failed)[0]; got.StopFailure != msg || got.StopFailureType != "" {
		t.Errorf("file -> file: %q of type %q; want %q with no other type", got.StopFailure, got.StopFailureType, msg)
	}
}

// TestRemovedInLedger: what a reload removed counts in the verdict, the
// failure drops and the abandoned calls as a live component or edge
// does, marked "(removed)".
func TestRemovedInLedger(t *testing.T) {
	s := Snapshot{
		Components: []ComponentStats{{Name: "gen", Role: StatSource, EventsIn: 30, EventsOut: 30}},
		Edges:      []EdgeStats{{From: "gen", To: "hole", EventsIn: 10, EventsOut: 10}},
		Removed: RemovedStats{
			Components: []ComponentStats{
				{Name: "out", Role: StatSink, EventsIn: 10, Dropped: map[string]uint64{ReasonSinkError: 10}},
				{Name: "slow", Role: StatSink, EventsIn: 10, EventsOut: 6, InFlight: 4, Abandoned: 1},
			},
			Edges: []EdgeStats{
				{From: "gen", To: "out", EventsIn: 10, EventsOut: 10},
				{From: "gen", FromPort: "x", To: "slow", EventsIn: 10, EventsOut: 7, QueuedEvents: 3},
			},
		},
	}
	if got, want := s.FailureDrops(), "sink out (removed) dropped 10 events: the sink's writes failed (10 sink_error)"; len(got) != 1 || got[0] != want {
		t.Errorf("FailureDrops() = %q; want [%q]", got, want)
	}
	line, balanced := s.Verdict()
	if want := "accounting: NOT balanced: edge gen.x -> slow (removed): 3 events still queued"; balanced || line != want {
		t.Errorf("Verdict() = %q, %v; want %q, false", line, balanced, want)
	}
	if n, names := s.AbandonedInFlight(); n != 4 || len(names) != 1 || names[0] != "slow (removed)" {
		t.Errorf("AbandonedInFlight() = %d, %q; want 4, [slow (removed)]", n, names)
	}
}

// TestRetire: one removed twice has one entry, the sum of both lives,
// with the type of the last and the stop failure of the first, which
// keeps the type that failed; what it adds is left unchanged.
func TestRetire(t *testing.T) {
	first := ComponentStats{Name: "out", Type: "file", Role: StatSink, EventsIn: 5, EventsOut: 3,
		Dropped: map[string]uint64{ReasonSinkError: 2}, StopFailure: "drain out: disk full", ConnectAttempts: 1}
	second := ComponentStats{Name: "out", Type: "blackhole", Role: StatSink, EventsIn: 7, EventsOut: 7, ConnectAttempts: 1}
	other := ComponentStats{Name: "a", Type: "file", Role: StatSink, EventsIn: 1, EventsOut: 1}
	r := retireComponent(retireComponent(retireComponent(nil, first), other), second)
	if len(r) != 2 || r[0].Name != "a" || r[1].Name != "out" {
		t.Fatalf("retired %+v; want a, then out", r)
	}
	got := r[1]
	if got.Type != "blackhole" || got.EventsIn != 12 || got.EventsOut != 10 || got.Dropped[ReasonSinkError] != 2 || got.ConnectAttempts != 2 || got.InFlight != 0 {
		t.Errorf("out: %+v; want the sum of both lives with type blackhole", got)
	}
	if got.StopFailure != first.StopFailure || got.StopFailureType != "file" {
		t.Errorf("out: stop failure %q of type %q; want %q of type file", got.StopFailure, got.StopFailureType, first.StopFailure)
	}
	if first.Dropped[ReasonSinkError] != 2 {
		t.Errorf("retiring changed the figures it added")
	}

	e1 := EdgeStats{From: "gen", To: "out", EventsIn: 5, EventsOut: 3, Dropped: map[string]uint64{ReasonShutdown: 2}}
	e2 := EdgeStats{From: "gen", To: "out", EventsIn: 4, EventsOut: 4}
	edges := retireEdge(retireEdge(nil, e1), e2)
	if len(edges) != 1 || edges[0].EventsIn != 9 || edges[0].EventsOut != 7 || edges[0].Dropped[ReasonShutdown] != 2 {
		t.Errorf("retired edges %+v; want one gen -> out, in 9, out 7, 2 dropped", edges)
	}
}
