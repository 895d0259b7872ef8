package runtime

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteSummary writes s as two aligned tables, components then edges. A
// component's line reads in + emitted = out + dropped + in flight; an
// edge's has the identity checked ("ok", or the gap). The components and
// edges a reload removed (Snapshot.Removed) follow the live ones in each
// table, marked "(removed)", with their final figures. A line follows for
// each component with abandoned instances (see ComponentStats.Abandoned).
// It is what `weir run` prints when it stops.
func (s Snapshot) WriteSummary(w io.Writer) error {
	comps, edges := s.componentRows(), s.edgeRows()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "component\trole\tstate\tevents in\temitted\tout\tdropped\tin flight\tbytes out\terrors\tretries\trestarts\t")
	for _, c := range comps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t\n", c.label, c.Role, c.State,
			c.EventsIn, c.Emitted, c.EventsOut, dropText(c.Dropped), c.InFlight, c.BytesOut, c.Errors, c.Retries, c.Restarts)
	}
	tw.Flush()
	if len(s.Removed.Components) > 0 || len(s.Removed.Edges) > 0 {
		fmt.Fprintln(w, "(removed): taken out of the config by a reload; the figures are those it had when the reload stopped it")
	}
	for _, c := range comps {
		if c.Abandoned > 0 {
			fmt.Fprintf(w, "%s (%s, type %s%s): %d instance(s) abandoned because a call into them did not return; %d events in flight\n",
				c.Name, c.Role, c.Type, c.note, c.Abandoned, c.InFlight)
		}
	}
	for _, c := range comps {
		if len(c.Counters) == 0 {
			continue
		}
		parts := make([]string, len(c.Counters))
		for i, k := range c.Counters {
			v := fmt.Sprint(k.Value)
			if k.Gauge {
				v = fmt.Sprint(int64(k.Value))
			}
			parts[i] = strings.ReplaceAll(k.Name, "_", " ") + " " + v
		}
		fmt.Fprintf(w, "%s (%s%s, its own counts): %s\n", c.Name, c.Role, c.note, strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "edge\tpolicy\tcapacity\tevents in\tout\tdropped\tqueued\taccounting\t")
	for _, e := range edges {
		check := "ok"
		if gap := int64(e.EventsIn) - int64(e.EventsOut) - int64(e.DroppedTotal()) - int64(e.QueuedEvents); gap != 0 {
			check = fmt.Sprintf("off by %d", gap)
		}
		capacity, queued := fmt.Sprint(e.Capacity), fmt.Sprint(e.QueuedEvents)
		if e.Buffer != nil {
			capacity, queued = "disk", queued+" on disk"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t\n", e.label, e.Policy, capacity,
			e.EventsIn, e.EventsOut, dropText(e.Dropped), queued, check)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range edges {
		if b := e.Buffer; b != nil {
			fmt.Fprintf(w, "buffer %s (%s, fsync %s%s): %d events buffered (%d bytes written), %d replayed from the last run, %d acked, %d unacked (kept for the next start); %d bytes in %d segments of %d max; %d corrupt bytes, %d torn bytes, %d write errors, %d sync errors\n",
				e.ends, b.Path, b.Fsync, e.note, b.Buffered, b.BytesWritten, b.Replayed, b.Acked, b.Unacked, b.Bytes, b.Segments, b.MaxSize,
				b.CorruptBytes, b.TornBytes, b.WriteErrors, b.SyncErrors)
			for _, r := range b.Corrupt {
				fmt.Fprintf(w, "buffer %s: damaged bytes skipped at %s\n", e.label, r)
			}
		}
	}
	return nil
}

// removedNote follows the role (or buffer path) of what a reload removed
// in the summary's sentences; removedMark follows its name in tables and
// in the accounting lines.
const (
	removedNote = ", removed by a reload"
	removedMark = " (removed)"
)

// componentRow is an entry of Components or Removed.Components with the
// name the summary gives it: label is its name, marked when removed; note
// is removedNote for a removed one.
type componentRow struct {
	ComponentStats
	label, note string
}

// componentRows returns s.Components, then s.Removed.Components.
func (s Snapshot) componentRows() []componentRow {
	var out []componentRow
	for _, c := range s.Components {
		out = append(out, componentRow{c, c.Name, ""})
	}
	for _, c := range s.Removed.Components {
		out = append(out, componentRow{c, c.Name + removedMark, removedNote})
	}
	return out
}

// edgeRow is an entry of Edges or Removed.Edges with the names the
// summary gives it: ends is "FROM[.PORT] -> TO", label the same marked
// when removed; note is removedNote for a removed one.
type edgeRow struct {
	EdgeStats
	ends, label, note string
}

// edgeRows returns s.Edges, then s.Removed.Edges.
func (s Snapshot) edgeRows() []edgeRow {
	var out []edgeRow
	row := func(e EdgeStats, removed bool) {
		r := edgeRow{EdgeStats: e, ends: e.From}
		if e.FromPort != "" {
			r.ends += "." + e.FromPort
		}
		r.ends += " -> " + e.To
		r.label = r.ends
		if removed {
			r.label, r.note = r.ends+removedMark, removedNote
		}
		out = append(out, r)
	}
	for _, e := range s.Edges {
		row(e, false)
	}
	for _, e := range s.Removed.Edges {
		row(e, true)
	}
	return out
}

// Balanced reports whether every component and edge, those reloads
// removed included, satisfies in = out + dropped + in flight with nothing
// left in flight or queued, as after a complete drain (see Unbalanced).
// An edge with a disk buffer may keep events queued on disk for the next
// start; in = out + dropped + queued must hold for it. Events in flight in
// the call of an abandoned instance do not unbalance it: they are
// reported as abandoned (AbandonedInFlight).
// Events that sources lost before the engine saw them (Lost) are not in
// the ledger at all.
func (s Snapshot) Balanced() bool { return len(s.Unbalanced()) == 0 }

// Verdict returns the summary's last line, starting "accounting: ", and
// whether the ledger closes (Balanced). The line names every row that
// does not add up; says NOT complete, never balanced, when sources lost
// events before the engine saw them (a full kernel ring), naming the
// counts; and names the abandoned connectors whose stuck calls hold the
// only events in flight.
func (s Snapshot) Verdict() (line string, balanced bool) {
	if rows := s.Unbalanced(); len(rows) > 0 {
		return "accounting: NOT balanced: " + strings.Join(rows, "; "), false
	}
	var extra string
	if n, names := s.AbandonedInFlight(); len(names) > 0 {
		extra = fmt.Sprintf("; %d events are in flight in the stuck calls of %s (abandoned)", n, strings.Join(names, ", "))
	}
	if n, what := s.Lost(); n > 0 {
		return fmt.Sprintf("accounting: NOT complete: sources lost %d events before weir could read them (%s); inside weir, in + emitted = out + dropped holds for every component and edge%s",
			n, strings.Join(what, ", "), extra), true
	}
	return "accounting: balanced (in + emitted = out + dropped for every component and edge)" + extra, true
}

// Unbalanced returns one line for each component or edge whose ledger
// does not close, those reloads removed included (marked "(removed)"),
// naming it and its figures, such as
// "sink out: in 96 = out 64 + dropped 0, with 32 in flight".
func (s Snapshot) Unbalanced() []string {
	var out []string
	for _, c := range s.componentRows() {
		if c.InFlight != 0 && c.Abandoned == 0 {
			out = append(out, fmt.Sprintf("%s %s: in %d + emitted %d = out %d + dropped %d, with %d in flight",
				c.Role, c.label, c.EventsIn, c.Emitted, c.EventsOut, c.DroppedTotal(), c.InFlight))
		}
	}
	for _, e := range s.edgeRows() {
		if e.EventsIn != e.EventsOut+e.DroppedTotal()+uint64(e.QueuedEvents) {
			out = append(out, fmt.Sprintf("edge %s: in %d != out %d + dropped %d + queued %d",
				e.label, e.EventsIn, e.EventsOut, e.DroppedTotal(), e.QueuedEvents))
		} else if e.Buffer == nil && e.QueuedEvents != 0 {
			out = append(out, fmt.Sprintf("edge %s: %d events still queued", e.label, e.QueuedEvents))
		}
	}
	return out
}

// failureReasons are the drop reasons that mean something failed, as
// opposed to a policy the config chose (a full drop_newest edge, a filter,
// a router), each with what it means.
var failureReasons = map[string]string{
	ReasonSinkError:   "the sink's writes failed",
	ReasonBufferError: "a disk buffer could not store them",
	ReasonCorrupt:     "a disk buffer held them damaged",
	ReasonPollFailed:  "the source's poll failed",
	ReasonProcessor:   "a processor failed on them",
	ReasonShutdown:    "the stop gave up on them in flight (the drain timed out, or a second signal)",
}

// FailureDrops returns one line for each component or edge that dropped
// events because something failed (ReasonSinkError, ReasonBufferError,
// ReasonCorrupt, ReasonPollFailed, ReasonProcessor, ReasonShutdown), such
// as "sink out dropped 100 events: the sink's writes failed (100
// sink_error)". Drops a policy chose (ReasonFull, ReasonOperator...) are
// not failures. An edge whose disk buffer skipped damaged bytes when it
// opened is named too: the events in them are lost, uncounted. Those a
// reload removed count as the live ones do, marked "(removed)", as in
// "sink out (removed) dropped 100 events: ...". A run that returns lines
// here lost data its config meant to deliver.
func (s Snapshot) FailureDrops() []string {
	var out []string
	line := func(what string, m map[string]uint64) {
		var n uint64
		var why, counts []string
		for _, r := range slices.Sorted(maps.Keys(m)) {
			if text, ok := failureReasons[r]; ok && m[r] > 0 {
				n += m[r]
				why = append(why, text)
				counts = append(counts, fmt.Sprintf("%d %s", m[r], r))
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s dropped %d events: %s (%s)", what, n, strings.Join(why, "; "), strings.Join(counts, ", ")))
		}
	}
	for _, c := range s.componentRows() {
		line(c.Role+" "+c.label, c.Dropped)
	}
	for _, e := range s.edgeRows() {
		line("edge "+e.label, e.Dropped)
		// Damaged bytes a disk buffer skipped when it opened held
		// events no drop counts (their count was in the damage): lost
		// all the same. Damage found when reading back is counted
		// with ReasonCorrupt, and named above.
		if b := e.Buffer; b != nil && b.CorruptBytes > 0 && e.Dropped[ReasonCorrupt] == 0 {
			out = append(out, fmt.Sprintf("edge %s: its disk buffer %s skipped %d damaged bytes when it opened; the events in them are lost", e.label, b.Path, b.CorruptBytes))
		}
	}
	return out
}

// AbandonedInFlight returns the events in flight in the calls of
// abandoned instances, and the names of their connectors (marked
// "(removed)" for one a reload removed).
func (s Snapshot) AbandonedInFlight() (events int64, names []string) {
	for _, c := range s.componentRows() {
		if c.Abandoned > 0 {
			events += c.InFlight
			names = append(names, c.label)
		}
	}
	return events, names
}

// Lost returns the events that sources counted as lost before the engine
// saw them (connector.Counter.Loss), and one "NAME COUNTER N" entry for
// each count that is not zero, those of sources a reload removed
// included.
func (s Snapshot) Lost() (events uint64, what []string) {
	for _, c := range s.componentRows() {
		for _, k := range c.Counters {
			if k.Loss && k.Value > 0 {
				events += k.Value
				what = append(what, fmt.Sprintf("%s %s %d", c.label, k.Name, k.Value))
			}
		}
	}
	return events, what
}

func dropText(m map[string]uint64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}
