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
	"syscall"
	"time"

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
	ran := source().State == "running"
	if !o.quiet && ran {
		fmt.Fprintf(stderr, "weir capture: listening on %s (%s, %s), snaplen %d, sampling %s\n",
			strings.Join(o.cfg.Interfaces, ", "), o.cfg.Mode, o.cfg.Direction, o.cfg.Snaplen, samplingText(o.cfg))
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
		if !ran {
			return 1
		}
		// It failed while capturing (an interface went away): say
		// what reached the output before that.
		code = 1
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
