// What weir capture does with its output: stop when a sink fails, and
// report the counters that say what happened to every packet.

package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/ingest/packet"
	"github.com/weirproject/weir/runtime"
)

// captureOutput ends the capture when a sink fails, as when the reader of
// a pipe goes away, and keeps the first error for the exit status.
type captureOutput struct {
	stop func()
	mu   sync.Mutex
	err  error
}

// registry is connector.Default with every sink type wrapped so that its
// failed writes reach o.
func (o *captureOutput) registry() *connector.Registry {
	reg := connector.NewRegistry()
	for _, id := range connector.Default.IDs() {
		t, _ := connector.Default.Lookup(id)
		wrapped := *t
		if t.Roles&connector.RoleSink != 0 {
			wrapped.New = func(config []byte, env connector.Env) (connector.Connector, error) {
				c, err := t.New(config, env)
				if s, ok := c.(connector.Sink); ok && err == nil {
					return captureSink{s, o}, nil
				}
				return c, err
			}
		}
		reg.MustRegister(wrapped)
	}
	return reg
}

// failed returns the first error a sink returned.
func (o *captureOutput) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// captureSink is a sink whose failed writes reach out.
type captureSink struct {
	connector.Sink
	out *captureOutput
}

func (s captureSink) Write(b *cabi.Batch) (cabi.Status, error) {
	st, err := s.Sink.Write(b)
	if err != nil {
		s.out.mu.Lock()
		if s.out.err == nil {
			s.out.err = err
		}
		s.out.mu.Unlock()
		s.out.stop()
	}
	return st, err
}

// reportCounters prints what happened to every packet the kernel programs
// saw, from the packet source's own counts and what the sinks wrote, and
// checks that they add up.
func reportCounters(s runtime.Snapshot, o captureOpts, stderr io.Writer) error {
	own := func(name, role string) map[string]uint64 {
		c, _ := s.Component(name, role)
		m := map[string]uint64{"in": c.EventsIn, "out": c.EventsOut}
		for _, k := range c.Counters {
			m[k.Name] = k.Value
		}
		return m
	}
	k := own("capture", runtime.StatSource)
	// What the source read and no sink wrote (a drain cut short, a
	// failed output) is lost between the two.
	captured := k["in"]
	for _, c := range s.Components {
		if c.Role == runtime.StatSink {
			captured = min(captured, c.EventsOut)
		}
	}
	if o.write != "" {
		// The file's own count is the truth: a write cut short by a
		// full disk fails its batch, yet keeps the whole blocks.
		captured = own("file", runtime.StatSink)["written"]
	}
	fmt.Fprintf(stderr, "%d packets captured\n", captured)
	fmt.Fprintf(stderr, "%d packets seen by the kernel programs\n", k["seen"])
	fmt.Fprintf(stderr, "%d packets filtered out\n", k["filtered"])
	fmt.Fprintf(stderr, "%d packets sampled out (%s)\n", k["sampled_out"], samplingText(o.cfg))
	fmt.Fprintf(stderr, "%d packets dropped by ring (full)\n", k["ring_full"])
	for text, n := range map[string]uint64{"packets in the rings not read before exit": k["unread"],
		"packets read but not written out before exit": k["in"] - captured, "malformed records skipped": k["rejected"]} {
		if n > 0 {
			fmt.Fprintf(stderr, "%d %s\n", n, text)
		}
	}
	if k["seen"] != k["filtered"]+k["sampled_out"]+k["emitted"]+k["ring_full"] {
		return fmt.Errorf("check counters: seen %d != filtered %d + sampled out %d + emitted %d + ring full %d",
			k["seen"], k["filtered"], k["sampled_out"], k["emitted"], k["ring_full"])
	}
	return nil
}

// Counters passes on the wrapped sink's own counts, if it keeps any.
func (s captureSink) Counters() []connector.Counter {
	if c, ok := s.Sink.(connector.Counting); ok {
		return c.Counters()
	}
	return nil
}

// samplingText says what the sampler keeps, for the messages of weir
// capture: "1 in 1 (every packet)", "1 packet in 10, at random" or "1 flow
// in 10, by flow hash".
func samplingText(cfg packet.Config) string {
	switch {
	case cfg.SampleRate <= 1:
		return "1 in 1 (every packet)"
	case cfg.SampleMode == packet.SampleFlow:
		return fmt.Sprintf("1 flow in %d, by flow hash", cfg.SampleRate)
	}
	return fmt.Sprintf("1 packet in %d, at random", cfg.SampleRate)
}
