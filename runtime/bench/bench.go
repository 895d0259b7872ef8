package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/blackhole"
	"github.com/weirproject/weir/connector/blaster"
	"github.com/weirproject/weir/connector/plugin"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/operator"
)

// Config describes one benchmark run. The zero value of a field selects the
// default named in its comment.
type Config struct {
	// Events is how many events the blaster emits (10,000,000). With File
	// set, it is rounded up to whole passes over the file.
	Events uint64
	// Size is the size of each synthetic event in bytes (64).
	Size int
	// Rate is the blaster's rate in events/s; 0 is flat out.
	Rate float64
	// File, if set, is an event file to replay instead of synthesising
	// events; Format is its format, jsonl or raw (jsonl).
	File, Format string
	// Batch is the events per batch (1024); BatchBytes the arena of each
	// batch (64 KiB, or Batch × Size with Copy; the blaster's events
	// point into its preloaded buffer and use none unless Copy is set).
	Batch, BatchBytes int
	// Copy makes the blaster copy each event's bytes into the batch arena.
	Copy bool
	// Queue is the capacity of each edge in batches (16).
	Queue int
	// Ops is the pipeline, in order; empty is an empty pipeline.
	Ops []runtime.OpDef
	// Sink is "native" (or "") for the built-in blackhole, or the path of
	// a plugin library whose sink type to use.
	Sink string
	// SinkType picks the plugin's sink type when it offers several.
	SinkType string
	// AllowInsecurePlugins loads a Sink library that users other than
	// root and the one running the bench could have changed
	// (loader.CheckFile), for development.
	AllowInsecurePlugins bool
	// SinkConfig is the plugin sink's JSON config ("{}").
	SinkConfig []byte
	// Isolate runs the plugin sink isolated: connector.IsolateProcess or
	// IsolateSeccomp; "" (or IsolateNone) runs it in this process.
	Isolate string
	// Latency is the built-in blackhole's latency mode: batch, all or off
	// (batch).
	Latency string
	// Touch makes the built-in blackhole read every payload byte.
	Touch bool
	// HdrLog, if set, is where the built-in blackhole writes its latency
	// histogram in the HdrHistogram log format.
	HdrLog string
	// MemEvery is how often memory is sampled during the run (100ms).
	MemEvery time.Duration
	// Timeout bounds the whole run (10m).
	Timeout time.Duration
}

// Latency holds latency percentiles in nanoseconds.
type Latency struct {
	P50    int64 `json:"p50_ns"`
	P90    int64 `json:"p90_ns"`
	P99    int64 `json:"p99_ns"`
	P999   int64 `json:"p99_9_ns"`
	Max    int64 `json:"max_ns"`
	Sample int64 `json:"samples"`
}

// Memory holds memory figures in bytes: the live Go heap and the process's
// resident set, measured after a GC before the engine starts, sampled every
// MemEvery while events flow, and after a GC once the engine has shut down.
// Growth while events flow (RunLast - RunFirst) is what shows a leak per
// event; Before and After also include what the engine sets up once.
type Memory struct {
	HeapBefore   uint64 `json:"heap_before"`
	HeapRunFirst uint64 `json:"heap_run_first"`
	HeapRunLast  uint64 `json:"heap_run_last"`
	HeapPeak     uint64 `json:"heap_peak"`
	HeapAfter    uint64 `json:"heap_after"`
	RSSBefore    uint64 `json:"rss_before"`
	RSSRunFirst  uint64 `json:"rss_run_first"`
	RSSRunLast   uint64 `json:"rss_run_last"`
	RSSPeak      uint64 `json:"rss_peak"`
	RSSAfter     uint64 `json:"rss_after"`
	// Samples is how many samples were taken while events flowed, and
	// EventsFirst and EventsLast how many events the blaster had emitted
	// at the first and last of them.
	Samples     int    `json:"samples"`
	EventsFirst uint64 `json:"events_first"`
	EventsLast  uint64 `json:"events_last"`
	// Allocs and AllocBytes count heap allocations made during the run,
	// by every goroutine of the process.
	Allocs     uint64 `json:"allocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	GCs        uint32 `json:"gcs"`
}

// Count is one component's accounting.
type Count struct {
	Name     string            `json:"name"`
	Role     string            `json:"role"`
	In       uint64            `json:"in"`
	Out      uint64            `json:"out"`
	Dropped  map[string]uint64 `json:"dropped,omitempty"`
	InFlight int64             `json:"in_flight"`
	Errors   uint64            `json:"errors"`
}

// Result is what a run measured.
type Result struct {
	// Events and Bytes are what the sink accepted.
	Events uint64 `json:"events"`
	Bytes  uint64 `json:"bytes"`
	// Emitted is what the blaster produced.
	Emitted uint64 `json:"emitted"`
	// Elapsed runs from the engine's start until everything emitted was
	// delivered.
	Elapsed time.Duration `json:"elapsed_ns"`
	// EventsPerSec is what the sink accepted per second, EmittedPerSec
	// what the blaster produced per second; they differ when the
	// pipeline drops events.
	EventsPerSec  float64 `json:"events_per_sec"`
	EmittedPerSec float64 `json:"emitted_per_sec"`
	// CPU is the user and system CPU time the whole process used over
	// Elapsed, and EmittedPerCPUSec the events emitted per CPU second: on
	// a machine shared with other work, it measures the cost per event
	// better than wall-clock rates do.
	CPU              time.Duration `json:"cpu_ns"`
	EmittedPerCPUSec float64       `json:"emitted_per_cpu_sec"`
	// ChildCPU is the part of CPU that an isolated sink's child process
	// used, from /proc/PID/stat (10 ms resolution), not counting its
	// start-up.
	ChildCPU time.Duration `json:"child_cpu_ns,omitempty"`
	// MBPerSec is sink bytes per second, in 10^6 bytes.
	MBPerSec float64 `json:"mb_per_sec"`
	// Latency is nil when the sink is a plugin.
	Latency *Latency `json:"latency,omitempty"`
	Memory  Memory   `json:"memory"`
	// Accounting lists the source, pipeline and sink.
	Accounting []Count `json:"accounting"`
	// Sink names the sink: "native" or "PATH:TYPE".
	Sink       string `json:"sink"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

func (c *Config) defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Events == 0 {
		c.Events = 10_000_000
	}
	def(&c.Size, 64)
	def(&c.Batch, 1024)
	if c.Copy {
		def(&c.BatchBytes, c.Batch*c.Size)
	}
	def(&c.BatchBytes, 64<<10)
	def(&c.Queue, 16)
	if c.Format == "" {
		c.Format = "jsonl"
	}
	if c.Latency == "" {
		c.Latency = "batch"
	}
	if c.MemEvery == 0 {
		c.MemEvery = 100 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if len(c.SinkConfig) == 0 {
		c.SinkConfig = []byte("{}")
	}
}

// options are the engine options of a run with cfg, defaults applied.
func (c *Config) options() runtime.Options {
	return runtime.Options{
		BatchEvents:  c.Batch,
		BatchBytes:   c.BatchBytes,
		EdgeCapacity: c.Queue,
		NewOp:        operator.New,
		DrainTimeout: 30 * time.Second,
		// Failures only: the report is the output, not the lifecycle.
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// Check reports whether the engine accepts the sizes cfg asks for: nil, or
// the *runtime.OptionsError Run would fail with. Its fields are those of
// runtime.Options: BatchEvents is Batch, EdgeCapacity is Queue, and
// BatchBytes is BatchBytes (with Copy, Batch × Size by default).
func (c Config) Check() error {
	c.defaults()
	return c.options().Check()
}

// Names of the components in the benchmark graph, and the type of the
// built-in sink. A plugin sink is named after its type (see sinkNameOf).
const (
	builtinSink = "bench.blackhole"

	sourceName = "blaster"
	pipeName   = "pipeline"
	sinkName   = "blackhole"
)

// sinkNameOf is the sink's component name: "blackhole" for the built-in
// one, the type's ID for a plugin sink, so that the accounting never calls
// a plugin the built-in blackhole.
func sinkNameOf(sinkType string) string {
	if sinkType == builtinSink {
		return sinkName
	}
	return sinkType
}

// Run builds the graph, runs it to completion and reports what it measured.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	reg, sinkType, sinkLabel, err := registry(&cfg)
	if err != nil {
		return nil, err
	}
	// Capture the instances the engine creates, to read their counters.
	var mu sync.Mutex
	var src *blaster.Source
	var hole *blackhole.Sink
	reg.MustRegister(connector.Type{ID: "bench.blaster", Roles: connector.RoleSource, Spec: blaster.Spec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			b, err := blaster.New(config, env)
			if err == nil {
				mu.Lock()
				src = b
				mu.Unlock()
			}
			return b, err
		}})
	if sinkType == "" {
		sinkType = builtinSink
		reg.MustRegister(connector.Type{ID: sinkType, Roles: connector.RoleSink, Spec: blackhole.Spec,
			New: func(config []byte, env connector.Env) (connector.Connector, error) {
				h, err := blackhole.New(config, env)
				if err == nil {
					mu.Lock()
					hole = h
					mu.Unlock()
				}
				return h, err
			}})
	}
	// An isolated sink's child process: its CPU time counts too.
	var child cpuTimer
	var childCPU0 time.Duration
	if cfg.Isolate != "" && cfg.Isolate != connector.IsolateNone {
		if sinkType == "" {
			return nil, fmt.Errorf("bench: isolate %s needs a plugin sink (--sink PATH)", cfg.Isolate)
		}
		t, _ := reg.Lookup(sinkType)
		wrapped := *t
		wrapped.New = func(config []byte, env connector.Env) (connector.Connector, error) {
			c, err := t.New(config, env)
			if ct, ok := c.(cpuTimer); ok && err == nil {
				mu.Lock()
				child, childCPU0 = ct, ct.CPUTime()
				mu.Unlock()
			}
			return c, err
		}
		reg = cloneWith(reg, wrapped)
	}
	if cfg.HdrLog != "" && sinkType != builtinSink {
		return nil, fmt.Errorf("bench: a histogram log (%s) needs the built-in sink; plugin sink %s keeps no histogram", cfg.HdrLog, sinkLabel)
	}
	g, err := graph(&cfg, sinkType)
	if err != nil {
		return nil, err
	}
	g.Connectors[1].Isolation = connector.Isolation{Mode: cfg.Isolate}
	eng, err := runtime.New(g, reg, cfg.options())
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	res := &Result{Sink: sinkLabel, GOMAXPROCS: goruntime.GOMAXPROCS(0)}
	mr := newMemReader()
	goruntime.GC()
	before := mr.read()
	res.Memory.HeapBefore, res.Memory.RSSBefore = before.heap, before.rss
	res.Memory.HeapPeak, res.Memory.RSSPeak = before.heap, before.rss

	stopSampler := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(cfg.MemEvery)
		defer t.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-t.C:
				m := mr.read()
				mem := &res.Memory
				mem.HeapPeak = max(mem.HeapPeak, m.heap)
				mem.RSSPeak = max(mem.RSSPeak, m.rss)
				mu.Lock()
				var emitted uint64
				if src != nil {
					emitted = src.Emitted()
				}
				mu.Unlock()
				if emitted == 0 {
					continue
				}
				if mem.Samples == 0 {
					mem.HeapRunFirst, mem.RSSRunFirst, mem.EventsFirst = m.heap, m.rss, emitted
				}
				mem.HeapRunLast, mem.RSSRunLast, mem.EventsLast = m.heap, m.rss, emitted
				mem.Samples++
			}
		}
	}()

	cpu0 := cpuTime()
	start := time.Now()
	if err := eng.Start(ctx); err != nil {
		close(stopSampler)
		<-sampled
		return nil, fmt.Errorf("bench: start engine: %w", err)
	}
	var runErr error
	select {
	case <-eng.Finished():
	case <-ctx.Done():
		runErr = fmt.Errorf("bench: run did not finish: %w", ctx.Err())
	}
	res.Elapsed = time.Since(start)
	res.CPU = cpuTime() - cpu0
	mu.Lock()
	if child != nil {
		res.ChildCPU = child.CPUTime() - childCPU0
		res.CPU += res.ChildCPU
	}
	mu.Unlock()
	st := eng.Stats()
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	if err := eng.Shutdown(dctx); err != nil && runErr == nil {
		runErr = fmt.Errorf("bench: shut down engine: %w", err)
	}
	close(stopSampler)
	<-sampled
	goruntime.GC()
	after := mr.read()
	res.Memory.HeapAfter, res.Memory.RSSAfter = after.heap, after.rss
	res.Memory.Allocs = after.allocs - before.allocs
	res.Memory.AllocBytes = after.allocBytes - before.allocBytes
	res.Memory.GCs = after.gcs - before.gcs
	res.Memory.HeapPeak = max(res.Memory.HeapPeak, after.heap)
	res.Memory.RSSPeak = max(res.Memory.RSSPeak, after.rss)

	// Source, pipeline, sink: the order events flow in.
	order := map[string]int{runtime.StatSource: 0, runtime.StatPipeline: 1, runtime.StatSink: 2}
	comps := append([]runtime.ComponentStats(nil), st.Components...)
	sort.SliceStable(comps, func(i, j int) bool { return order[comps[i].Role] < order[comps[j].Role] })
	for _, c := range comps {
		res.Accounting = append(res.Accounting, Count{Name: c.Name, Role: c.Role, In: c.EventsIn, Out: c.EventsOut,
			Dropped: c.Dropped, InFlight: c.InFlight, Errors: c.Errors})
		if c.Name == sinkNameOf(sinkType) && c.Role == runtime.StatSink {
			res.Events, res.Bytes = c.EventsOut, c.BytesOut
		}
	}
	mu.Lock()
	if src != nil {
		res.Emitted = src.Emitted()
	}
	if hole != nil {
		lat := hole.Latency()
		if lat.TotalCount() > 0 {
			res.Latency = &Latency{P50: lat.ValueAtPercentile(50), P90: lat.ValueAtPercentile(90), P99: lat.ValueAtPercentile(99),
				P999: lat.ValueAtPercentile(99.9), Max: lat.Max(), Sample: lat.TotalCount()}
		}
	}
	mu.Unlock()
	if runErr == nil {
		runErr = incomplete(res, st, cfg.Events)
	}
	if hole != nil && cfg.HdrLog != "" {
		if err := hole.WriteLog(cfg.HdrLog); err != nil && runErr == nil {
			runErr = fmt.Errorf("bench: %w", err)
		}
	}
	if s := res.Elapsed.Seconds(); s > 0 {
		res.EventsPerSec = float64(res.Events) / s
		res.EmittedPerSec = float64(res.Emitted) / s
		res.MBPerSec = float64(res.Bytes) / s / 1e6
	}
	if s := res.CPU.Seconds(); s > 0 {
		res.EmittedPerCPUSec = float64(res.Emitted) / s
	}
	return res, runErr
}

// incomplete returns an error saying why a run that finished did not do
// what was asked, or nil: a connector failed, fewer than want events were
// emitted, or events were lost other than by the pipeline's operators.
func incomplete(res *Result, st runtime.Snapshot, want uint64) error {
	var why []string
	for _, c := range st.Components {
		if c.Failure != "" {
			why = append(why, fmt.Sprintf("%s %s failed: %s", c.Role, c.Name, c.Failure))
		}
	}
	if res.Emitted < want {
		why = append(why, fmt.Sprintf("%d of %d events emitted", res.Emitted, want))
	}
	for _, c := range res.Accounting {
		for reason, n := range c.Dropped {
			if n > 0 && reason != runtime.ReasonOperator {
				why = append(why, fmt.Sprintf("%s %s dropped %d events (%s)", c.Role, c.Name, n, reason))
			}
		}
		if c.InFlight != 0 {
			why = append(why, fmt.Sprintf("%s %s has %d events in flight", c.Role, c.Name, c.InFlight))
		}
	}
	if len(why) == 0 {
		return nil
	}
	sort.Strings(why)
	return fmt.Errorf("bench: run incomplete, %d of %d events emitted were delivered: %s", res.Events, res.Emitted, strings.Join(why, "; "))
}

// registry returns a fresh registry for the run. For a plugin sink it
// holds the plugin's types and names the sink type to use.
func registry(cfg *Config) (reg *connector.Registry, sinkType, label string, err error) {
	reg = connector.NewRegistry()
	if cfg.Sink == "" || cfg.Sink == "native" {
		return reg, "", "native", nil
	}
	preg, err := pluginTypes(cfg.Sink, loader.Options{AllowInsecure: cfg.AllowInsecurePlugins})
	if err != nil {
		return nil, "", "", err
	}
	var sinks []string
	for _, id := range preg.IDs() {
		t, _ := preg.Lookup(id)
		reg.MustRegister(*t)
		if t.Roles&connector.RoleSink != 0 {
			sinks = append(sinks, id)
		}
	}
	switch {
	case cfg.SinkType != "":
		t, ok := reg.Lookup(cfg.SinkType)
		if !ok || t.Roles&connector.RoleSink == 0 {
			return nil, "", "", fmt.Errorf("bench: plugin %s has no sink type %q; its sink types are %v", cfg.Sink, cfg.SinkType, sinks)
		}
		sinkType = cfg.SinkType
	case len(sinks) == 1:
		sinkType = sinks[0]
	case len(sinks) == 0:
		return nil, "", "", fmt.Errorf("bench: plugin %s offers no sink type", cfg.Sink)
	default:
		return nil, "", "", fmt.Errorf("bench: plugin %s offers several sink types %v; choose one with the sink type option", cfg.Sink, sinks)
	}
	return reg, sinkType, cfg.Sink + ":" + sinkType, nil
}

// Plugin libraries are loaded once per process and path: loading is not
// free, and libraries with a Go runtime inside can never be unloaded.
var (
	pluginsMu sync.Mutex
	plugins   = map[string]*connector.Registry{}
)

func pluginTypes(path string, opts loader.Options) (*connector.Registry, error) {
	pluginsMu.Lock()
	defer pluginsMu.Unlock()
	if r, ok := plugins[path]; ok {
		return r, nil
	}
	r := connector.NewRegistry()
	if _, err := plugin.LoadWith(r, opts, path); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	plugins[path] = r
	return r, nil
}

// graph builds blaster -> pipeline -> sink.
func graph(cfg *Config, sinkType string) (runtime.Graph, error) {
	bl := map[string]any{"size": cfg.Size, "rate": cfg.Rate, "copy": cfg.Copy}
	if cfg.File != "" {
		n, err := fileEvents(cfg.File, cfg.Format)
		if err != nil {
			return runtime.Graph{}, err
		}
		bl["file"], bl["format"] = cfg.File, cfg.Format
		bl["loops"] = (cfg.Events + n - 1) / n
	} else {
		bl["count"], bl["loops"] = cfg.Events, 1
	}
	blCfg, err := json.Marshal(bl)
	if err != nil {
		return runtime.Graph{}, err
	}
	sinkCfg := cfg.SinkConfig
	if sinkType == builtinSink {
		// Run writes the HdrLog itself, to report if that fails.
		m := map[string]any{"latency": cfg.Latency, "print": false, "touch": cfg.Touch}
		if sinkCfg, err = json.Marshal(m); err != nil {
			return runtime.Graph{}, err
		}
	}
	return runtime.Graph{
		Connectors: []runtime.ConnectorDef{
			{Name: sourceName, Type: "bench.blaster", Config: blCfg},
			{Name: sinkNameOf(sinkType), Type: sinkType, Config: sinkCfg},
		},
		Pipelines: []runtime.PipelineDef{{Name: pipeName, Ops: cfg.Ops}},
		Connections: []runtime.EdgeDef{
			{From: sourceName, To: pipeName, Capacity: cfg.Queue, Policy: runtime.Block},
			{From: pipeName, To: sinkNameOf(sinkType), Capacity: cfg.Queue, Policy: runtime.Block},
		},
	}, nil
}

// fileEvents counts the events in an event file by loading it with a
// throw-away blaster.
func fileEvents(path, format string) (uint64, error) {
	cfg, _ := json.Marshal(map[string]any{"file": path, "format": format, "loops": 0})
	b, err := blaster.New(cfg, connector.Env{Name: "count"})
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer b.Close()
	n := b.Events()
	if n == 0 {
		return 0, errors.New("bench: " + path + " holds no events")
	}
	return n, nil
}

// memSample is one reading of the process's memory.
type memSample struct {
	heap, rss, allocs, allocBytes uint64
	gcs                           uint32
}

// memReader reads memory figures without allocating, so that sampling does
// not disturb what it measures: runtime/metrics for the heap (no
// stop-the-world) and /proc/self/statm for the resident set.
type memReader struct {
	samples []metrics.Sample
	buf     [256]byte
	page    uint64
}

func newMemReader() *memReader {
	names := []string{
		"/memory/classes/heap/objects:bytes",
		"/gc/heap/allocs:objects",
		"/gc/heap/allocs:bytes",
		"/gc/cycles/total:gc-cycles",
	}
	r := &memReader{samples: make([]metrics.Sample, len(names)), page: uint64(os.Getpagesize())}
	for i, n := range names {
		r.samples[i].Name = n
	}
	return r
}

func (r *memReader) read() memSample {
	metrics.Read(r.samples)
	u := func(i int) uint64 {
		if r.samples[i].Value.Kind() == metrics.KindUint64 {
			return r.samples[i].Value.Uint64()
		}
		return 0
	}
	return memSample{heap: u(0), allocs: u(1), allocBytes: u(2), gcs: uint32(u(3)), rss: r.rss()}
}

// rss returns the resident set size in bytes from the second field of
// /proc/self/statm, or 0 if it cannot be read.
func (r *memReader) rss() uint64 {
	fd, err := unix.Open("/proc/self/statm", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	n, err := unix.Read(fd, r.buf[:])
	unix.Close(fd)
	if err != nil || n <= 0 {
		return 0
	}
	fields := r.buf[:n]
	// Skip the first field (size), then parse the second (resident).
	i := 0
	for i < len(fields) && fields[i] != ' ' {
		i++
	}
	i++
	var pages uint64
	for ; i < len(fields) && fields[i] >= '0' && fields[i] <= '9'; i++ {
		pages = pages*10 + uint64(fields[i]-'0')
	}
	return pages * r.page
}

// cpuTimer is an isolated connector instance, whose child's CPU time a
// run counts.
type cpuTimer interface{ CPUTime() time.Duration }

// cloneWith returns a registry with reg's types, t replacing the one with
// its ID.
func cloneWith(reg *connector.Registry, t connector.Type) *connector.Registry {
	out := connector.NewRegistry()
	for _, id := range reg.IDs() {
		if id == t.ID {
			out.MustRegister(t)
			continue
		}
		old, _ := reg.Lookup(id)
		out.MustRegister(*old)
	}
	return out
}

// cpuTime returns the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
