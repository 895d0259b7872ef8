package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/bench"
)

func init() {
	register(command{name: "bench", summary: "measure throughput and latency: blaster -> pipeline -> blackhole", run: func(args []string) int {
		return runBench(args, os.Stdout, os.Stderr)
	}})
}

const benchHelp = `Usage:
  weir bench [flags]

Runs a ready-made graph in the weir engine and measures it:

  blaster (source) -> pipeline (operators from the flags) -> blackhole (sink)

The blaster synthesises --events events of --size bytes (or replays --file)
flat out or at --rate; the sink is the built-in blackhole, which keeps an HDR
histogram of end-to-end latency, or the sink type of a plugin library given
with --sink PATH. When every event has been delivered, bench prints events/s,
MB/s (payload bytes accepted by the sink, 10^6 per MB), latency percentiles
(built-in sink only), the engine's accounting for source, pipeline and sink,
and memory: live heap and RSS before, while events flowed, and after.

Pipeline operators run in this order: --filter, --sample, --truncate, then
each --op in the order given. With none, the pipeline is empty.

Examples:
  weir bench --events 10M --size 64 --procs 1
  weir bench --size 1KiB --filter 'len >= 64' --sample 10
  weir bench --sink bin/plugins/libweir_blackhole.so --json
  weir bench --sink bin/plugins/libweir_blackhole.so --isolate
  weir bench --file events.jsonl --rate 100000 --latency all

A plugin library given with --sink is refused when users other than root
and you could have changed it (see weir plugin inspect --help).

Exit status: 0 when every event emitted was delivered or dropped by the
pipeline's operators (and any --hdr-log written), 1 when the run failed or
fell short (a connector failed, events were lost, the timeout passed; the
reason goes to stderr after the result), 2 for bad flags or sizes out of
range, 3 when a plugin (--source or --sink PATH) crashed the process (one
line on stderr names it and the call).

Flags:
`

// benchFlags are the parsed flags of weir bench.
type benchFlags struct {
	events, size, truncate string
	rate                   float64
	batch, queue, procs    int
	sample                 uint64
	file, format           string
	filter                 string
	ops                    []string
	sink, sinkType         string
	sinkConfig             string
	isolate                string
	latency, hdrLog        string
	timeout                time.Duration
	asJSON, copyBytes      bool
	touch                  bool
	insecure               *bool
	sampleSet              bool // --sample was given, so 0 is an error rather than "no sampling"
}

func runBench(args []string, stdout, stderr io.Writer) int {
	var f benchFlags
	fs := pflag.NewFlagSet("weir bench", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&f.events, "events", "10M", "`N` events to emit: a count with an optional K, M or G suffix (powers of 1000)")
	fs.StringVar(&f.size, "size", "64", "`SIZE` of each synthetic event in bytes, such as 64 or 1KiB")
	fs.Float64Var(&f.rate, "rate", 0, "`EVENTS` per second; 0 is flat out")
	fs.StringVar(&f.file, "file", "", "replay the event file at `PATH` instead of synthesising events (rounded up to whole passes)")
	fs.StringVar(&f.format, "format", "jsonl", "`FORMAT` of --file: jsonl or raw")
	fs.BoolVar(&f.copyBytes, "copy", false, "copy each event's bytes into the batch arena instead of pointing into the blaster's preloaded buffer")
	fs.IntVar(&f.batch, "batch", 1024, fmt.Sprintf("events per batch, 1 to %d", runtime.MaxBatchEvents))
	fs.IntVar(&f.queue, "queue", 16, fmt.Sprintf("capacity of each edge, in batches, 1 to %d", runtime.MaxEdgeCapacity))
	fs.StringVar(&f.filter, "filter", "", "add a filter operator keeping events that match `EXPR`, such as 'len >= 64'")
	fs.Uint64Var(&f.sample, "sample", 0, "add a sample operator keeping every `N`th event (mode every: exact counts)")
	fs.StringVar(&f.truncate, "truncate", "", "add a truncate operator cutting events to `SIZE` bytes")
	fs.StringArrayVar(&f.ops, "op", nil, "add an operator given as `TYPE[=JSON]`, such as 'rate_limit={\"rate\":1000}' (repeatable)")
	fs.StringVar(&f.sink, "sink", "native", "`SINK`: native for the built-in blackhole, or the path of a plugin library with a sink type")
	fs.StringVar(&f.sinkType, "sink-type", "", "the plugin's sink type `ID`, when it offers several")
	fs.StringVar(&f.sinkConfig, "sink-config", "{}", "`JSON` config of the plugin sink")
	fs.StringVar(&f.isolate, "isolate", "none", "run the plugin sink in a child process: `MODE` process, or seccomp (with a system call allow-list); --isolate alone is process. The CPU figure then counts the child too")
	fs.Lookup("isolate").NoOptDefVal = "process"
	fs.StringVar(&f.latency, "latency", "batch", "built-in blackhole latency recording `MODE`: batch (first event of each batch), all, or off")
	fs.BoolVar(&f.touch, "touch", false, "make the built-in blackhole read every payload byte, so MB/s includes reading the data")
	fs.StringVar(&f.hdrLog, "hdr-log", "", "write the latency histogram to `PATH` in the HdrHistogram log format")
	fs.IntVar(&f.procs, "procs", 0, "set GOMAXPROCS to `N` for the run; 0 leaves it as it is")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up if the run takes longer")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as one JSON object")
	f.insecure = insecurePluginsFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchHelp)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, "bench", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "weir bench: unexpected argument %q\n%s", fs.Arg(0), helpHint("bench"))
		return 2
	}
	f.sampleSet = fs.Changed("sample")
	cfg, err := f.config()
	if err != nil {
		fmt.Fprintf(stderr, "weir bench: %v\n%s", err, helpHint("bench"))
		return 2
	}
	if code, bad := optionsUsage(stderr, "bench", cfg.Check(), benchOptionFlags); bad {
		return code
	}
	if f.procs > 0 {
		defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(f.procs))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		// bench.Run's errors start with "bench: ", which the command's
		// own prefix already says.
		fmt.Fprintf(stderr, "weir bench: %s\n", strings.TrimPrefix(err.Error(), "bench: "))
		if res == nil {
			return 1
		}
	}
	if f.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(jsonResult{Config: describe(&f, &cfg), Result: res}); jerr != nil {
			fmt.Fprintf(stderr, "weir bench: %v\n", jerr)
			return 1
		}
	} else {
		printResult(stdout, &f, &cfg, res)
	}
	if err != nil {
		return 1
	}
	return 0
}

// config turns the flags into a bench.Config.
func (f *benchFlags) config() (bench.Config, error) {
	var cfg bench.Config
	n, err := parseCount(f.events)
	if err != nil {
		return cfg, fmt.Errorf("--events: %w", err)
	}
	size, err := spec.ParseSize(f.size)
	if err != nil || size < 1 || size > 1<<30 {
		return cfg, fmt.Errorf("--size: want a size from 1 byte to 1GiB such as 64 or 1KiB, found %q", f.size)
	}
	if f.rate < 0 {
		return cfg, fmt.Errorf("--rate: %g is negative", f.rate)
	}
	if f.batch <= 0 || f.queue <= 0 {
		return cfg, errors.New("--batch and --queue must be positive")
	}
	if f.timeout <= 0 {
		return cfg, fmt.Errorf("--timeout %v: want a positive duration such as 30s", f.timeout)
	}
	if f.procs < 0 {
		return cfg, fmt.Errorf("--procs %d: want 0 (leave GOMAXPROCS as it is) or more", f.procs)
	}
	if f.sampleSet && f.sample < 1 {
		return cfg, fmt.Errorf("--sample %d: want 1 or more (1 keeps every event)", f.sample)
	}
	switch f.latency {
	case "batch", "all", "off":
	default:
		return cfg, fmt.Errorf("--latency: want batch, all or off, found %q", f.latency)
	}
	cfg = bench.Config{
		Events: n, Size: int(size), Rate: f.rate, File: f.file, Format: f.format,
		Batch: f.batch, Queue: f.queue, Copy: f.copyBytes, Sink: f.sink, SinkType: f.sinkType, SinkConfig: []byte(f.sinkConfig),
		Latency: f.latency, HdrLog: f.hdrLog, Touch: f.touch, Timeout: f.timeout, MemEvery: 10 * time.Millisecond,
		AllowInsecurePlugins: f.insecure != nil && *f.insecure,
	}
	add := func(typ string, config any) {
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(config) // maps of strings and numbers always encode
		cfg.Ops = append(cfg.Ops, runtime.OpDef{Type: typ, Config: []byte(strings.TrimSpace(buf.String()))})
	}
	if f.filter != "" {
		add("filter", map[string]any{"expr": f.filter})
	}
	if f.sample > 0 {
		add("sample", map[string]any{"n": f.sample, "mode": "every"}) // exact counts for a benchmark
	}
	if f.truncate != "" {
		max, err := spec.ParseSize(f.truncate)
		if err != nil {
			return cfg, fmt.Errorf("--truncate: %w", err)
		}
		add("truncate", map[string]any{"max": max})
	}
	for _, op := range f.ops {
		typ, conf, has := strings.Cut(op, "=")
		if !has {
			conf = "{}"
		}
		if !json.Valid([]byte(conf)) {
			return cfg, fmt.Errorf("--op %s: config %q is not valid JSON", typ, conf)
		}
		cfg.Ops = append(cfg.Ops, runtime.OpDef{Type: typ, Config: []byte(conf)})
	}
	if !json.Valid(cfg.SinkConfig) {
		return cfg, fmt.Errorf("--sink-config: %q is not valid JSON", f.sinkConfig)
	}
	switch f.isolate {
	case connector.IsolateNone:
	case connector.IsolateProcess, connector.IsolateSeccomp:
		if f.sink == "" || f.sink == "native" {
			return cfg, fmt.Errorf("--isolate %s: only a plugin sink can run isolated; give its library with --sink PATH", f.isolate)
		}
		cfg.Isolate = f.isolate
	default:
		return cfg, fmt.Errorf("--isolate: want none, process or seccomp, found %q", f.isolate)
	}
	return cfg, nil
}

// benchOptionFlags names the flags that set each runtime.Options field
// bench.Config.Check reports.
var benchOptionFlags = map[string]string{
	"BatchEvents": "--batch", "EdgeCapacity": "--queue",
	"BatchBytes": "batch arena (--batch × --size with --copy)", "PoolBatches": "batches in flight",
}

// parseCount parses "1000", "10M", "2.5K", "1G".
func parseCount(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1e3
		case 'm', 'M':
			mult = 1e6
		case 'g', 'G':
			mult = 1e9
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 1 || v*mult > 1e15 || v*mult != float64(uint64(v*mult)) {
		return 0, fmt.Errorf("want a whole count from 1 to 10^15 such as 1000 or 10M, found %q", s)
	}
	return uint64(v * mult), nil
}

// runDescription is the run's setup as printed.
type runDescription struct {
	Events   uint64   `json:"events"`
	Size     int      `json:"size,omitempty"`
	File     string   `json:"file,omitempty"`
	Rate     float64  `json:"rate"`
	Batch    int      `json:"batch"`
	Queue    int      `json:"queue"`
	Pipeline []string `json:"pipeline"`
}

type jsonResult struct {
	Config runDescription `json:"config"`
	Result *bench.Result  `json:"result"`
}

func describe(f *benchFlags, cfg *bench.Config) runDescription {
	d := runDescription{Events: cfg.Events, File: cfg.File, Rate: cfg.Rate, Batch: cfg.Batch, Queue: cfg.Queue, Pipeline: []string{}}
	if cfg.File == "" {
		d.Size = cfg.Size
	}
	for _, op := range cfg.Ops {
		d.Pipeline = append(d.Pipeline, op.Type+string(op.Config))
	}
	return d
}

func printResult(w io.Writer, f *benchFlags, cfg *bench.Config, r *bench.Result) {
	d := describe(f, cfg)
	what := fmt.Sprintf("%d-byte synthetic events", cfg.Size)
	if cfg.File != "" {
		what = "events from " + cfg.File
	}
	pipe := "empty"
	if len(d.Pipeline) > 0 {
		pipe = strings.Join(d.Pipeline, " | ")
	}
	rate := "flat out"
	if cfg.Rate > 0 {
		rate = fmt.Sprintf("at %g/s", cfg.Rate)
	}
	fmt.Fprintf(w, "weir bench: %s %s, batch %d, queue %d, GOMAXPROCS %d\n", what, rate, cfg.Batch, cfg.Queue, r.GOMAXPROCS)
	fmt.Fprintf(w, "  pipeline    %s\n", pipe)
	fmt.Fprintf(w, "  sink        %s\n", r.Sink)
	fmt.Fprintf(w, "  events      %d emitted, %d delivered (%d bytes) in %v\n", r.Emitted, r.Events, r.Bytes, r.Elapsed.Round(time.Microsecond))
	fmt.Fprintf(w, "  throughput  %s events/s emitted; %s events/s, %.1f MB/s delivered\n", human(r.EmittedPerSec), human(r.EventsPerSec), r.MBPerSec)
	fmt.Fprintf(w, "  cpu         %v of CPU time, %s events emitted per CPU second\n", r.CPU.Round(time.Microsecond), human(r.EmittedPerCPUSec))
	if r.ChildCPU > 0 {
		fmt.Fprintf(w, "              (of which the isolated sink's child process %v)\n", r.ChildCPU.Round(time.Millisecond))
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "  latency     p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  (%d samples)\n",
			time.Duration(l.P50), time.Duration(l.P90), time.Duration(l.P99), time.Duration(l.P999), time.Duration(l.Max), l.Sample)
	} else if cfg.Latency != "off" {
		fmt.Fprintf(w, "  latency     not measured (only the built-in blackhole keeps a histogram)\n")
	}
	for i, c := range r.Accounting {
		label := "accounting"
		if i > 0 {
			label = ""
		}
		var dropped []string
		for reason, n := range c.Dropped {
			if n > 0 {
				dropped = append(dropped, fmt.Sprintf("%s %d", reason, n))
			}
		}
		drops := "none"
		if len(dropped) > 0 {
			drops = strings.Join(dropped, ", ")
		}
		fmt.Fprintf(w, "  %-10s  %-9s %-8s in %d  out %d  dropped %s  in flight %d  errors %d\n", label, c.Name, c.Role, c.In, c.Out, drops, c.InFlight, c.Errors)
	}
	m := r.Memory
	fmt.Fprintf(w, "  memory      live heap %s before, %s after; RSS %s before, %s after, %s at peak; %d heap allocations, %d GCs in all\n",
		mib(m.HeapBefore), mib(m.HeapAfter), mib(m.RSSBefore), mib(m.RSSAfter), mib(m.RSSPeak), m.Allocs, m.GCs)
	if m.Samples >= 2 {
		fmt.Fprintf(w, "              while events %d..%d flowed: heap %s -> %s, RSS %s -> %s (%d samples)\n",
			m.EventsFirst, m.EventsLast, mib(m.HeapRunFirst), mib(m.HeapRunLast), mib(m.RSSRunFirst), mib(m.RSSRunLast), m.Samples)
	} else {
		fmt.Fprintf(w, "              too short a run to sample memory while events flowed\n")
	}
}

func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func mib(b uint64) string { return fmt.Sprintf("%.2fMiB", float64(b)/(1<<20)) }
