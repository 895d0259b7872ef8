package runtime

import (
	"fmt"
	"io"
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
// complete drain. An edge with a disk buffer may keep events queued on
// disk for the next start; in = out + dropped + queued must hold for it.
func (s Snapshot) Balanced() bool {
	for _, c := range s.Components {
		if c.InFlight != 0 {
			return false
		}
	}
	for _, e := range s.Edges {
		if e.Buffer == nil && e.QueuedEvents != 0 || e.EventsIn != e.EventsOut+e.DroppedTotal()+uint64(e.QueuedEvents) {
			return false
		}
	}
	return true
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
