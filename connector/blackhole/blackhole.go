package blackhole

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
)

// Latency sampling modes of the blackhole.
const (
	latencyBatch = "batch"
	latencyAll   = "all"
	latencyOff   = "off"
)

// Spec describes the blackhole's config fields.
var Spec = spec.Spec{
	{Name: "latency", Kind: spec.Enum, Enum: []string{latencyBatch, latencyAll, latencyOff}, Default: latencyBatch,
		Doc: "Latency recording: batch records now - ts_ns of the first event of each batch, all records every event (one clock read per batch either way), off records none."},
	{Name: "max_latency", Kind: spec.Duration, Default: "1m", Min: "1us", Doc: "Largest latency the histogram resolves; larger values are recorded as this and counted as clamped."},
	{Name: "print", Kind: spec.Bool, Default: true, Doc: "Print counts and latency percentiles (p50 p90 p99 p99.9 max) to stderr at stop."},
	{Name: "touch", Kind: spec.Bool, Default: false, Doc: "Read every byte of every event (into a checksum), so that throughput figures include reading the payloads."},
	{Name: "hdr_log", Kind: spec.String, Default: "", Doc: "File to write the latency histogram to at stop, in the HdrHistogram log format (values in nanoseconds); empty writes none."},
}

// Config is the blackhole's decoded config.
type Config struct {
	Latency    string             `json:"latency"`
	MaxLatency spec.DurationValue `json:"max_latency"`
	Print      bool               `json:"print"`
	HdrLog     string             `json:"hdr_log"`
	Touch      bool               `json:"touch"`
}

// Stats are a blackhole's counters.
type Stats struct {
	Events, Bytes, Batches uint64
	// Clamped counts latency samples above max_latency.
	Clamped uint64
	// Checksum is the wrapping sum of the payloads' 64-bit little-endian
	// words (and trailing bytes) with touch set; 0 otherwise.
	Checksum uint64
}

// Sink is a sink that discards events, counting them and keeping an HDR
// histogram of end-to-end latency (receive time minus the event's TsNs).
// Events with TsNs 0 carry no time and are not recorded; events stamped in
// the future record 0. Stats, Latency and Summary are safe for concurrent
// use with Write.
type Sink struct {
	connector.Base
	cfg   Config
	name  string
	out   io.Writer
	start time.Time

	events, bytes, batches, clamped, checksum atomic.Uint64

	mu      sync.Mutex
	hist    *hdrhistogram.Histogram
	maxNs   int64
	stopped bool
}

var _ connector.Sink = (*Sink)(nil)

// New creates a blackhole from a JSON config.
func New(config []byte, env connector.Env) (*Sink, error) {
	var cfg Config
	if err := spec.Decode(Spec, config, &cfg); err != nil {
		return nil, fmt.Errorf("blackhole %s: %w", env.Name, err)
	}
	return &Sink{
		cfg:   cfg,
		name:  env.Name,
		out:   os.Stderr,
		start: time.Now(),
		hist:  hdrhistogram.New(1, int64(cfg.MaxLatency), 3),
		maxNs: int64(cfg.MaxLatency),
	}, nil
}

// SetOutput sets where Stop prints the summary; the default is os.Stderr.
func (h *Sink) SetOutput(w io.Writer) { h.out = w }

// Write counts the batch and records its latency.
func (h *Sink) Write(b *cabi.Batch) (cabi.Status, error) {
	evs := b.EventSlice()
	var n uint64
	for i := range evs {
		n += uint64(evs[i].Len)
	}
	if h.cfg.Touch {
		var sum uint64
		for i := range evs {
			sum += checksum(evs[i].Bytes())
		}
		h.checksum.Add(sum)
	}
	h.events.Add(uint64(len(evs)))
	h.bytes.Add(n)
	h.batches.Add(1)
	if len(evs) == 0 || h.cfg.Latency == latencyOff {
		return cabi.OK, nil
	}
	now := time.Now().UnixNano()
	h.mu.Lock()
	if h.cfg.Latency == latencyBatch {
		h.record(now, evs[0].TsNs, 1)
	} else {
		// Runs of equal timestamps (a source that stamps a batch at
		// once) are recorded with one call.
		ts, n := evs[0].TsNs, int64(1)
		for i := 1; i < len(evs); i++ {
			if evs[i].TsNs == ts {
				n++
				continue
			}
			h.record(now, ts, n)
			ts, n = evs[i].TsNs, 1
		}
		h.record(now, ts, n)
	}
	h.mu.Unlock()
	return cabi.OK, nil
}

// record adds n samples of the latency of an event stamped ts; h.mu is
// held.
func (h *Sink) record(now int64, ts uint64, n int64) {
	if ts == 0 {
		return
	}
	d := now - int64(ts)
	if d < 0 {
		d = 0
	} else if d > h.maxNs {
		d = h.maxNs
		h.clamped.Add(uint64(n))
	}
	// d is within [0, maxNs], the histogram's range, so this cannot fail.
	_ = h.hist.RecordValues(d, n)
}

// Stats returns the counters.
func (h *Sink) Stats() Stats {
	return Stats{Events: h.events.Load(), Bytes: h.bytes.Load(), Batches: h.batches.Load(), Clamped: h.clamped.Load(),
		Checksum: h.checksum.Load()}
}

// checksum sums b as little-endian 64-bit words, then its trailing bytes.
func checksum(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for len(b) >= 32 {
		w := b[:32]
		s0 += binary.LittleEndian.Uint64(w[0:8])
		s1 += binary.LittleEndian.Uint64(w[8:16])
		s2 += binary.LittleEndian.Uint64(w[16:24])
		s3 += binary.LittleEndian.Uint64(w[24:32])
		b = b[32:]
	}
	for len(b) >= 8 {
		s0 += binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		s1 += uint64(c)
	}
	return s0 + s1 + s2 + s3
}

// Latency returns a copy of the latency histogram, in nanoseconds.
func (h *Sink) Latency() *hdrhistogram.Histogram {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hist.Clone()
}

// Percentiles reported by Summary, in order.
var Percentiles = []float64{50, 90, 99, 99.9}

// Summary formats the counters and latency percentiles on one line.
func (h *Sink) Summary() string {
	s := h.Stats()
	hist := h.Latency()
	line := fmt.Sprintf("blackhole %s: %d events, %d bytes, %d batches", h.name, s.Events, s.Bytes, s.Batches)
	if hist.TotalCount() == 0 {
		return line + "; no latency samples"
	}
	line += "; latency"
	for _, p := range Percentiles {
		line += fmt.Sprintf(" p%g=%v", p, time.Duration(hist.ValueAtPercentile(p)))
	}
	return line + fmt.Sprintf(" max=%v (%d samples, %d clamped)", time.Duration(hist.Max()), hist.TotalCount(), s.Clamped)
}

// Stop prints the summary and writes the histogram log, as configured. Only
// the first call does anything.
func (h *Sink) Stop() error {
	h.mu.Lock()
	done := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if done {
		return nil
	}
	if h.cfg.Print {
		fmt.Fprintln(h.out, h.Summary())
	}
	if h.cfg.HdrLog != "" {
		if err := h.WriteLog(h.cfg.HdrLog); err != nil {
			return fmt.Errorf("blackhole %s: %w", h.name, err)
		}
	}
	return nil
}

// WriteLog writes the latency histogram to path in the HdrHistogram log
// format, as Stop does with the hdr_log setting.
func (h *Sink) WriteLog(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write histogram log: %w", err)
	}
	hist := h.Latency()
	end := time.Now()
	hist.SetStartTimeMs(h.start.UnixMilli())
	hist.SetEndTimeMs(end.UnixMilli())
	hist.SetTag(h.name)
	w := hdrhistogram.NewHistogramLogWriter(f)
	w.SetBaseTime(h.start.UnixMilli())
	steps := []func() error{
		w.OutputLogFormatVersion,
		func() error {
			return w.OutputComment("weir blackhole " + h.name + ": end-to-end latency in nanoseconds")
		},
		func() error { return w.OutputStartTime(h.start.UnixMilli()) },
		func() error { return w.OutputBaseTime(h.start.UnixMilli()) },
		w.OutputLegend,
		func() error { return w.OutputIntervalHistogram(hist) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			f.Close()
			return fmt.Errorf("write histogram log %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write histogram log %s: %w", path, err)
	}
	return nil
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "blackhole",
		Description: "Discards events, counting them and keeping an HDR histogram of end-to-end latency.",
		Roles:       connector.RoleSink,
		Spec:        Spec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
