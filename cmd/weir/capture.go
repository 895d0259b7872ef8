package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/internal/privs"
	"github.com/weirproject/weir/runtime"
)

func init() {
	register(command{name: "capture", summary: "capture packets with eBPF and print them, or write pcapng (like tcpdump)", run: func(args []string) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// The first signal stops the capture, which then writes out what
		// the rings hold; a second one ends the process at once. One that
		// comes within a second of the first is its echo, as timeout(1)
		// sends to the child and then to its group, and is ignored.
		context.AfterFunc(ctx, func() { time.AfterFunc(time.Second, stop) })
		// A reader that goes away (weir capture | head) ends the capture
		// like a signal, with its counters, instead of killing weir.
		signal.Ignore(syscall.SIGPIPE)
		return runCapture(ctx, args, os.Stdout, os.Stderr)
	}})
}

// runCapture runs weir capture with args until -c packets were captured or
// ctx is done, and returns the exit code. The capture is a small graph (see
// captureGraph) that the engine runs like any config.
func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseCapture(args, stdout, stderr)
	if !ok {
		return code
	}
	fmt.Fprint(stderr, o.snapNote)
	// One source and one sink: with one P the scheduler has no idle P to
	// wake a second thread for whenever the reader wakes (BENCHMARKS.md).
	if os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(1)
		defer goruntime.SetDefaultGOMAXPROCS()
	}
	if o.cpuProfile != "" {
		if f, err := os.Create(o.cpuProfile); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	out := &captureOutput{stop: stopCapture}
	eng, err := runtime.New(captureGraph(o), out.registry(), runtime.Options{
		BatchEvents: 4096, BatchBytes: 4096, PoolBatches: 4, EdgeCapacity: 4,
		PollTimeout: 100 * time.Millisecond, DrainTimeout: o.drain,
		Log: slog.New(slog.DiscardHandler), // failures are reported below
	})
	if err == nil {
		err = eng.Start(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		return 1
	}
	source := func() runtime.ComponentStats { c, _ := eng.Stats().Component("capture", runtime.StatSource); return c }
	// Once the programs are attached and the outputs open (or failed),
	// give up every privilege and say "listening".
	for !started(eng.Stats()) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if o.user != "root" && os.Geteuid() == 0 {
		if err := privs.Drop(o.user); err != nil {
			fmt.Fprintf(stderr, "weir capture: warning: %v; going on as root\n", err)
		}
	}
	if !o.quiet && source().State == "running" {
		fmt.Fprintf(stderr, "weir capture: listening on %s (%s, %s), snaplen %d, sampling 1 in %d\n",
			strings.Join(o.cfg.Interfaces, ", "), o.cfg.Mode, o.cfg.Direction, o.cfg.Snaplen, o.cfg.SampleRate)
	}
	select {
	case <-eng.Finished():
	case <-ctx.Done():
	}
	dctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	code = 0
	if err := eng.Shutdown(dctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		code = 1
	}
	if f := source().Failure; f != "" {
		fmt.Fprintf(stderr, "weir capture: %s\n", f)
		return 1
	}
	if err := out.failed(); err != nil && !errors.Is(err, syscall.EPIPE) {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		code = 1
	}
	if err := reportCounters(eng.Stats(), o, stderr); err != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		code = 1
	}
	return code
}

// started reports whether every connector of s is past connecting.
func started(s runtime.Snapshot) bool {
	for _, c := range s.Components {
		if c.State == "creating" || c.State == "connecting" {
			return false
		}
	}
	return true
}

// captureGraph is the packet source, with an edge to each sink: pcapng for
// -w, text or JSON lines on stdout unless -q, and a silent blackhole for -q
// without -w.
func captureGraph(o captureOpts) runtime.Graph {
	var g runtime.Graph
	add := func(name, typ string, config any) {
		cfg, _ := json.Marshal(config)
		g.Connectors = append(g.Connectors, runtime.ConnectorDef{Name: name, Type: typ, Config: cfg})
		if name != "capture" {
			g.Connections = append(g.Connections, runtime.EdgeDef{From: "capture", To: name, Policy: runtime.Block})
		}
	}
	add("capture", "packet", o.source)
	switch {
	case o.write != "":
		add("file", "pcapng", map[string]any{"path": o.write, "snaplen": o.cfg.Snaplen, "interfaces": o.cfg.Interfaces})
	case o.quiet:
		add("discard", "blackhole", map[string]any{"print": false, "latency": "off"})
	}
	if !o.quiet && (o.write == "" || o.json) {
		format := map[bool]string{false: "packet", true: "packet-json"}[o.json]
		add("print", "stdout", map[string]any{"format": format})
	}
	return g
}

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
	fmt.Fprintf(stderr, "%d packets sampled out (1 in %d kept)\n", k["sampled_out"], o.cfg.SampleRate)
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
