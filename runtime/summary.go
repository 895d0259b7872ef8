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
// edge's has the identity checked ("ok", or the gap). A line follows for
// each component with abandoned instances (see ComponentStats.Abandoned).
// It is what `weir run` prints when it stops.
func (s Snapshot) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "component\trole\tstate\tevents in\temitted\tout\tdropped\tin flight\tbytes out\terrors\tretries\trestarts\t")
	for _, c := range s.Components {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t\n", c.Name, c.Role, c.State,
			c.EventsIn, c.Emitted, c.EventsOut, dropText(c.Dropped), c.InFlight, c.BytesOut, c.Errors, c.Retries, c.Restarts)
	}
	tw.Flush()
	for _, c := range s.Components {
		if c.Abandoned > 0 {
			fmt.Fprintf(w, "%s (%s, type %s): %d instance(s) abandoned because a call into them did not return; %d events in flight\n",
				c.Name, c.Role, c.Type, c.Abandoned, c.InFlight)
		}
	}
	for _, c := range s.Components {
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
		fmt.Fprintf(w, "%s (%s, its own counts): %s\n", c.Name, c.Role, strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "edge\tpolicy\tcapacity\tevents in\tout\tdropped\tqueued\taccounting\t")
	for _, e := range s.Edges {
		name := e.From
		if e.FromPort != "" {
			name += "." + e.FromPort
		}
		check := "ok"
		if gap := int64(e.EventsIn) - int64(e.EventsOut) - int64(e.DroppedTotal()) - int64(e.QueuedEvents); gap != 0 {
			check = fmt.Sprintf("off by %d", gap)
		}
		capacity, queued := fmt.Sprint(e.Capacity), fmt.Sprint(e.QueuedEvents)
		if e.Buffer != nil {
			capacity, queued = "disk", queued+" on disk"
		}
		fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t\n", name, e.To, e.Policy, capacity,
			e.EventsIn, e.EventsOut, dropText(e.Dropped), queued, check)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range s.Edges {
		if b := e.Buffer; b != nil {
			name := e.From
			if e.FromPort != "" {
				name += "." + e.FromPort
			}
			fmt.Fprintf(w, "buffer %s -> %s (%s, fsync %s): %d events buffered (%d bytes written), %d replayed from the last run, %d acked, %d unacked (kept for the next start); %d bytes in %d segments of %d max; %d corrupt bytes, %d torn bytes, %d write errors, %d sync errors\n",
				name, e.To, b.Path, b.Fsync, b.Buffered, b.BytesWritten, b.Replayed, b.Acked, b.Unacked, b.Bytes, b.Segments, b.MaxSize,
				b.CorruptBytes, b.TornBytes, b.WriteErrors, b.SyncErrors)
			for _, r := range b.Corrupt {
				fmt.Fprintf(w, "buffer %s -> %s: damaged bytes skipped at %s\n", name, e.To, r)
			}
		}
	}
	return nil
}

// Balanced reports whether every component and edge satisfies in = out +
// dropped + in flight with nothing left in flight or queued, as after a
// complete drain (see Unbalanced). An edge with a disk buffer may keep
// events queued on disk for the next start; in = out + dropped + queued
// must hold for it. Events in flight in the call of an abandoned instance
// do not unbalance it: they are reported as abandoned (AbandonedInFlight).
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
// does not close, naming it and its figures, such as
// "sink out: in 96 = out 64 + dropped 0, with 32 in flight".
func (s Snapshot) Unbalanced() []string {
	var out []string
	for _, c := range s.Components {
		if c.InFlight != 0 && c.Abandoned == 0 {
			out = append(out, fmt.Sprintf("%s %s: in %d + emitted %d = out %d + dropped %d, with %d in flight",
				c.Role, c.Name, c.EventsIn, c.Emitted, c.EventsOut, c.DroppedTotal(), c.InFlight))
		}
	}
	for _, e := range s.Edges {
		name := e.From
		if e.FromPort != "" {
			name += "." + e.FromPort
		}
		if e.EventsIn != e.EventsOut+e.DroppedTotal()+uint64(e.QueuedEvents) {
			out = append(out, fmt.Sprintf("edge %s -> %s: in %d != out %d + dropped %d + queued %d",
				name, e.To, e.EventsIn, e.EventsOut, e.DroppedTotal(), e.QueuedEvents))
		} else if e.Buffer == nil && e.QueuedEvents != 0 {
			out = append(out, fmt.Sprintf("edge %s -> %s: %d events still queued", name, e.To, e.QueuedEvents))
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
	ReasonShutdown:    "the drain timed out with them in flight",
}

// FailureDrops returns one line for each component or edge that dropped
// events because something failed (ReasonSinkError, ReasonBufferError,
// ReasonCorrupt, ReasonPollFailed, ReasonProcessor, ReasonShutdown), such
// as "sink out dropped 100 events: the sink's writes failed (100
// sink_error)". Drops a policy chose (ReasonFull, ReasonOperator...) are
// not failures. An edge whose disk buffer skipped damaged bytes when it
// opened is named too: the events in them are lost, uncounted. A run that
// returns lines here lost data its config meant to deliver.
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
	for _, c := range s.Components {
		line(c.Role+" "+c.Name, c.Dropped)
	}
	for _, e := range s.Edges {
		name := e.From
		if e.FromPort != "" {
			name += "." + e.FromPort
		}
		line("edge "+name+" -> "+e.To, e.Dropped)
		// Damaged bytes a disk buffer skipped when it opened held
		// events no drop counts (their count was in the damage): lost
		// all the same. Damage found when reading back is counted
		// with ReasonCorrupt, and named above.
		if b := e.Buffer; b != nil && b.CorruptBytes > 0 && e.Dropped[ReasonCorrupt] == 0 {
			out = append(out, fmt.Sprintf("edge %s -> %s: its disk buffer %s skipped %d damaged bytes when it opened; the events in them are lost", name, e.To, b.Path, b.CorruptBytes))
		}
	}
	return out
}

// AbandonedInFlight returns the events in flight in the calls of
// abandoned instances, and the names of their connectors.
func (s Snapshot) AbandonedInFlight() (events int64, names []string) {
	for _, c := range s.Components {
		if c.Abandoned > 0 {
			events += c.InFlight
			names = append(names, c.Name)
		}
	}
	return events, names
}

// Lost returns the events that sources counted as lost before the engine
// saw them (connector.Counter.Loss), and one "NAME COUNTER N" entry for
// each count that is not zero.
func (s Snapshot) Lost() (events uint64, what []string) {
	for _, c := range s.Components {
		for _, k := range c.Counters {
			if k.Loss && k.Value > 0 {
				events += k.Value
				what = append(what, fmt.Sprintf("%s %s %d", c.Name, k.Name, k.Value))
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
