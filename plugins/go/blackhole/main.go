//go:build cgo

// Command blackhole is the weir "go_blackhole" sink, built with the Go
// plugin SDK as a c-shared library:
//
//	CGO_ENABLED=1 go build -buildmode=c-shared -o libweir_go_blackhole.so ./plugins/go/blackhole
//
// Like the C and Rust blackholes it validates every event descriptor
// (stepping with the batch's event_size), counts events, bytes and batches,
// and publishes them as host counters (blackhole_events_total,
// blackhole_bytes_total, blackhole_batches_total) once publish_every events
// are pending, and on pause, drain and stop.
//
// Config keys, all optional:
//
//	publish_every  events between counter publications (default 65536; 0: every write)
//	panic          an operation to panic in: create, connect, start, pause,
//	               resume, drain, stop or write (for tests)
//	gc_every       run runtime.GC in the plugin's own runtime every N writes
//	alloc          allocate this many bytes of garbage on every write
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	weirsdk "github.com/weirproject/weir/plugins/go/sdk"
)

// reservedFlags are weir's flag bits that plugin.h leaves unassigned.
const reservedFlags = 0x00fc

type config struct {
	PublishEvery *uint64 `json:"publish_every"`
	Panic        string  `json:"panic"`
	GCEvery      uint64  `json:"gc_every"`
	Alloc        int     `json:"alloc"`
}

type state int

const (
	created state = iota
	running
	paused
	drained
	stopped
)

// blackhole is one instance.
type blackhole struct {
	host    *weirsdk.Host
	cfg     config
	every   uint64
	ids     [3]int32
	metrics bool
	state   state

	events, bytes, batches uint64
	pending                [3]uint64
	garbage                [][]byte
}

var (
	_ weirsdk.Sink    = (*blackhole)(nil)
	_ weirsdk.Pauser  = (*blackhole)(nil)
	_ weirsdk.Starter = (*blackhole)(nil)
)

func parseConfig(raw []byte) (config, error) {
	var c config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parse config: %w", err)
	}
	if dec.More() {
		return c, errors.New("parse config: trailing data after the object")
	}
	if c.Alloc < 0 || c.Alloc > 1<<24 {
		return c, fmt.Errorf("parse config: alloc %d out of range 0..%d", c.Alloc, 1<<24)
	}
	switch c.Panic {
	case "", "create", "connect", "start", "pause", "resume", "drain", "stop", "write":
	default:
		return c, fmt.Errorf("parse config: panic %q is not an operation", c.Panic)
	}
	return c, nil
}

func newBlackhole(raw []byte, host *weirsdk.Host) (any, error) {
	c, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	bh := &blackhole{host: host, cfg: c, every: 65536}
	if c.PublishEvery != nil {
		bh.every = *c.PublishEvery
	}
	bh.maybePanic("create")
	names := [3]string{"blackhole_events_total", "blackhole_bytes_total", "blackhole_batches_total"}
	helps := [3]string{"Events accepted by the blackhole.", "Event bytes accepted by the blackhole.", "Batches accepted by the blackhole."}
	for i := range names {
		bh.ids[i] = host.RegisterMetric(names[i], weirsdk.MetricCounter, helps[i])
		if bh.ids[i] < 0 {
			return bh, fmt.Errorf("host refused to register counter %s", names[i])
		}
	}
	bh.metrics = true
	return bh, nil
}

func (bh *blackhole) maybePanic(op string) {
	if bh.cfg.Panic == op {
		panic("go blackhole: " + op + " panicked as the config asked")
	}
}

func (bh *blackhole) publish() {
	if bh.metrics {
		for i, n := range bh.pending {
			if n > 0 {
				bh.host.CounterAdd(bh.ids[i], n)
			}
		}
	}
	bh.pending = [3]uint64{}
}

// Connect has nothing to connect to.
func (bh *blackhole) Connect(uint32) error {
	bh.maybePanic("connect")
	return nil
}

// Start accepts writes from now on.
func (bh *blackhole) Start() error {
	bh.maybePanic("start")
	if bh.state != created {
		return errors.New("already started")
	}
	bh.state = running
	return nil
}

// Pause publishes the counts; writes answer WEIR_RETRY until Resume.
func (bh *blackhole) Pause() error {
	bh.maybePanic("pause")
	if bh.state != running && bh.state != paused {
		return errors.New("not running")
	}
	bh.publish()
	bh.state = paused
	return nil
}

// Resume accepts writes again.
func (bh *blackhole) Resume() error {
	bh.maybePanic("resume")
	if bh.state != running && bh.state != paused {
		return errors.New("not paused")
	}
	bh.state = running
	return nil
}

// Drain publishes the counts; nothing is buffered.
func (bh *blackhole) Drain() error {
	bh.maybePanic("drain")
	bh.publish()
	bh.state = drained
	return nil
}

// Stop publishes the counts; there are no goroutines to wait for.
func (bh *blackhole) Stop() error {
	bh.maybePanic("stop")
	bh.publish()
	bh.state = stopped
	return nil
}

// Write validates every descriptor and counts the batch.
func (bh *blackhole) Write(b *weirsdk.Batch) error {
	bh.maybePanic("write")
	switch bh.state {
	case running:
	case paused:
		return fmt.Errorf("paused: %w", weirsdk.ErrRetry)
	default:
		return errors.New("not running (write before start or after drain)")
	}
	if b.EventSize < 32 {
		return fmt.Errorf("batch event_size %d, want at least 32", b.EventSize)
	}
	if b.Len > b.Capacity {
		return fmt.Errorf("batch len %d exceeds capacity %d", b.Len, b.Capacity)
	}
	if b.Len > 0 && b.Events == nil {
		return fmt.Errorf("batch has %d events but events is NULL", b.Len)
	}
	// The loop only finds the first bad event; describing it is left to
	// reject, off the hot path.
	var total uint64
	n := int(b.Len)
	base, stride := b.Events, uintptr(b.EventSize)
	for i := 0; i < n; i++ {
		e := (*weirsdk.Event)(unsafe.Add(base, uintptr(i)*stride))
		if e.Len > 0 && e.Data == nil || e.Kind > weirsdk.KindTick && e.Kind < 0x8000 || e.Flags&reservedFlags != 0 {
			return reject(i, e)
		}
		total += uint64(e.Len)
	}
	bh.events += uint64(n)
	bh.bytes += total
	bh.batches++
	bh.pending[0] += uint64(n)
	bh.pending[1] += total
	bh.pending[2]++
	if bh.cfg.Alloc > 0 {
		// Garbage for the plugin's own collector; keep a few alive so the
		// heap is not trivially empty when it runs.
		bh.garbage = append(bh.garbage, make([]byte, bh.cfg.Alloc))
		if len(bh.garbage) > 16 {
			bh.garbage = bh.garbage[:0]
		}
	}
	if bh.cfg.GCEvery > 0 && bh.batches%bh.cfg.GCEvery == 0 {
		runtime.GC()
	}
	if bh.pending[0] >= bh.every {
		bh.publish()
	}
	return nil
}

// reject describes why event i is invalid.
func reject(i int, e *weirsdk.Event) error {
	switch {
	case e.Len > 0 && e.Data == nil:
		return fmt.Errorf("event %d has len %d but data is NULL", i, e.Len)
	case e.Kind > weirsdk.KindTick && e.Kind < 0x8000:
		return fmt.Errorf("event %d has reserved kind %d", i, e.Kind)
	default:
		return fmt.Errorf("event %d has reserved flag bits %#04x", i, e.Flags&reservedFlags)
	}
}

func init() {
	weirsdk.SetPlugin("weir-go-blackhole", "1.0.0")
	weirsdk.MustRegister(weirsdk.Type{
		ID:          "go_blackhole",
		Description: "Counts and checks every event, then discards it (Go).",
		ConfigSchema: `{"type":"object","additionalProperties":false,"properties":{` +
			`"publish_every":{"type":"integer","minimum":0,"default":65536},` +
			`"panic":{"type":"string"},"gc_every":{"type":"integer","minimum":0},` +
			`"alloc":{"type":"integer","minimum":0,"maximum":16777216}}}`,
		Roles: weirsdk.RoleSink,
		New:   newBlackhole,
	})
}

func main() {}
