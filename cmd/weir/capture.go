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
	"github.com/weirproject/weir/connector/packet"
	"github.com/weirproject/weir/connector/pcapng"
	"github.com/weirproject/weir/runtime"
)

func init() {
	register(command{name: "capture", summary: "capture packets with eBPF and print them, or write pcapng (like tcpdump)", run: func(args []string) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// The first signal stops the capture, which then writes out what
		// the rings hold; a second one ends the process at once.
		context.AfterFunc(ctx, stop)
		// A reader that goes away (weir capture | head) ends the capture
		// like a signal, with its counters, instead of killing weir.
		signal.Ignore(syscall.SIGPIPE)
		return runCapture(ctx, args, os.Stdout, os.Stderr)
	}})
}

// runCapture runs weir capture with args until -c packets were captured or
// ctx is done, and returns the exit code. It is a small graph: the packet
// source, one edge, and a pcapng, text or JSON sink (or two, for -w FILE
// -j), run by the engine like any config.
func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseCapture(args, stdout, stderr)
	if !ok {
		return code
	}
	fmt.Fprint(stderr, o.snapNote)
	// All of a capture's work is one source and one sink. With one P
	// the scheduler has no idle P to wake a second thread for whenever
	// the reader wakes (docs/BENCHMARKS.md). GOMAXPROCS in the
	// environment still wins.
	if os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(1)
		defer goruntime.SetDefaultGOMAXPROCS()
	}
	if o.cpuProfile != "" {
		if f, err := os.Create(o.cpuProfile); err != nil {
			fmt.Fprintf(stderr, "weir capture: cpu profile: %v\n", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "weir capture: cpu profile: %v\n", err)
			f.Close()
		} else {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	g, reg, inst := captureGraph(o, stdout, stopCapture)
	eng, err := runtime.New(g, reg, runtime.Options{
		BatchEvents: 4096, BatchBytes: 4096, PoolBatches: 4, EdgeCapacity: 4,
		PollTimeout: 100 * time.Millisecond, DrainTimeout: o.drain,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err == nil {
		err = eng.Start(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		return 1
	}
	// Say "listening" only once the programs are attached.
	select {
	case <-inst.attached:
	case <-eng.Finished():
	case <-ctx.Done():
	}
	if !o.quiet {
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
	s := eng.Stats()
	if c, _ := s.Component("capture", runtime.StatSource); c.Failure != "" {
		fmt.Fprintf(stderr, "weir capture: %s\n", c.Failure)
		return 1
	}
	if err := inst.outputErr(); err != nil && !errors.Is(err, syscall.EPIPE) {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		code = 1
	}
	if err := reportCounters(s, inst, o, stderr); err != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		code = 1
	}
	return code
}

// captureInstances are the instances the capture's graph created, for the
// counters at exit.
type captureInstances struct {
	attached chan struct{} // closed once the packet source is connected
	src      *packet.Source
	pcap     *pcapng.Sink
	mu       sync.Mutex
	err      error // the first error a sink returned
}

// outputErr returns the first error a sink returned.
func (c *captureInstances) outputErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// captureGraph builds the capture's graph over a registry whose types
// record the instances they create, point sinks at stdout, and stop the
// capture when the output is gone.
func captureGraph(o captureOpts, stdout io.Writer, stop func()) (runtime.Graph, *connector.Registry, *captureInstances) {
	inst := &captureInstances{attached: make(chan struct{})}
	reg := connector.NewRegistry()
	g := runtime.Graph{}
	add := func(name, typ string, config any) {
		t, _ := connector.Default.Lookup(typ)
		cfg, _ := json.Marshal(config)
		reg.MustRegister(connector.Type{ID: "capture." + typ, Roles: t.Roles, Spec: t.Spec, Unpausable: t.Unpausable,
			New: func(config []byte, env connector.Env) (connector.Connector, error) {
				c, err := t.New(config, env)
				switch c := c.(type) {
				case *packet.Source:
					inst.src = c
				case *pcapng.Sink:
					inst.pcap = c
					c.SetApplication("weir " + version)
				}
				if w, ok := c.(interface{ SetOutput(io.Writer) }); ok {
					w.SetOutput(stdout)
				}
				if s, ok := c.(connector.Sink); ok && err == nil {
					return &captureSink{Sink: s, inst: inst, stop: stop}, nil
				}
				if s, ok := c.(*packet.Source); ok && err == nil {
					return &captureSource{Source: s, attached: inst.attached}, nil
				}
				return c, err
			}})
		g.Connectors = append(g.Connectors, runtime.ConnectorDef{Name: name, Type: "capture." + typ, Config: cfg})
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
		format := "packet"
		if o.json {
			format = "packet-json"
		}
		add("print", "stdout", map[string]any{"format": format})
	}
	return g, reg, inst
}

// captureSource says when the packet source is connected: its programs
// are attached and packets are being captured.
type captureSource struct {
	*packet.Source
	attached chan struct{}
	once     sync.Once
}

func (s *captureSource) Connect(ctx context.Context, attempt int) error {
	err := s.Source.Connect(ctx, attempt)
	if err == nil {
		s.once.Do(func() { close(s.attached) })
	}
	return err
}

// captureSink stops the capture when its output fails, as when the
// reader of a pipe goes away, keeping the first error for the exit.
type captureSink struct {
	connector.Sink
	inst *captureInstances
	stop func()
}

func (s *captureSink) Write(b *cabi.Batch) (cabi.Status, error) {
	st, err := s.Sink.Write(b)
	if err != nil {
		s.inst.mu.Lock()
		if s.inst.err == nil {
			s.inst.err = err
		}
		s.inst.mu.Unlock()
		s.stop()
	}
	return st, err
}

// reportCounters prints what happened to every packet the kernel programs
// saw, from the packet source's counters and what the output took, and
// checks that they add up.
func reportCounters(s runtime.Snapshot, inst *captureInstances, o captureOpts, stderr io.Writer) error {
	if inst.src == nil {
		return errors.New("the packet source was never created")
	}
	k := map[string]uint64{}
	for _, c := range inst.src.Counters() {
		k[c.Name] = c.Value
	}
	// The source's "in" is what it read from the rings; what no sink
	// wrote of that (a drain cut short, a failed output) is lost here.
	src, _ := s.Component("capture", runtime.StatSource)
	captured := src.EventsIn
	for _, c := range s.Components {
		if c.Role == runtime.StatSink {
			captured = min(captured, c.EventsOut)
		}
	}
	if inst.pcap != nil {
		captured = min(captured, inst.pcap.Written())
	}
	fmt.Fprintf(stderr, "%d packets captured\n", captured)
	fmt.Fprintf(stderr, "%d packets seen by the kernel programs\n", k["seen"])
	fmt.Fprintf(stderr, "%d packets filtered out\n", k["filtered"])
	fmt.Fprintf(stderr, "%d packets sampled out (1 in %d kept)\n", k["sampled_out"], o.cfg.SampleRate)
	fmt.Fprintf(stderr, "%d packets dropped by ring (full)\n", k["ring_full"])
	if k["unread"] > 0 {
		fmt.Fprintf(stderr, "%d packets in the rings not read before exit\n", k["unread"])
	}
	if lost := src.EventsIn - captured; lost > 0 {
		fmt.Fprintf(stderr, "%d packets read but not written out before exit\n", lost)
	}
	if k["rejected"] > 0 {
		fmt.Fprintf(stderr, "%d malformed records skipped\n", k["rejected"])
	}
	if k["seen"] != k["filtered"]+k["sampled_out"]+k["emitted"]+k["ring_full"] {
		return fmt.Errorf("check counters: seen %d != filtered %d + sampled out %d + emitted %d + ring full %d",
			k["seen"], k["filtered"], k["sampled_out"], k["emitted"], k["ring_full"])
	}
	return nil
}
