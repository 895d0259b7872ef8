//go:build cgo

// Command counter is the weir "go_counter" processor, built with the Go
// plugin SDK as a c-shared library:
//
//	CGO_ENABLED=1 go build -buildmode=c-shared -o libweir_go_counter.so ./plugins/go/counter
//
// It counts events per stream in a Go map (so the plugin's own heap and
// collector are busy), marks every drop_every-th event it sees with
// WEIR_EVENT_DROP, and publishes counter_events_total and
// counter_dropped_total as host counters on every process call. It exists
// to load a second Go runtime next to go_blackhole in the two-runtime test.
// The same library offers a second type, the go_ticker source (ticker.go),
// whose own goroutine wakes the host.
//
// Config keys, all optional:
//
//	drop_every  mark every Nth event (counted over the instance's life) to drop; 0: none
//	gc_every    run runtime.GC in the plugin's runtime every N process calls
//	panic       "process" makes Process panic (for tests)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	weirsdk "github.com/weirproject/weir/plugins/go/sdk"
)

type config struct {
	DropEvery uint64 `json:"drop_every"`
	GCEvery   uint64 `json:"gc_every"`
	Panic     string `json:"panic"`
}

// counter is one instance.
type counter struct {
	host      *weirsdk.Host
	cfg       config
	idEvents  int32
	idDropped int32
	seen      uint64
	calls     uint64
	perStream map[uint64]uint64
	lastKeys  []uint64 // rebuilt on every call: garbage for the plugin's GC
}

var _ weirsdk.Processor = (*counter)(nil)

func newCounter(raw []byte, host *weirsdk.Host) (any, error) {
	var c config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse config: trailing data after the object")
	}
	if c.Panic != "" && c.Panic != "process" {
		return nil, fmt.Errorf("parse config: panic %q: only \"process\" is supported", c.Panic)
	}
	ct := &counter{host: host, cfg: c, perStream: make(map[uint64]uint64)}
	ct.idEvents = host.RegisterMetric("counter_events_total", weirsdk.MetricCounter, "Events the counter processed.")
	ct.idDropped = host.RegisterMetric("counter_dropped_total", weirsdk.MetricCounter, "Events the counter marked to drop.")
	if ct.idEvents < 0 || ct.idDropped < 0 {
		return ct, errors.New("host refused to register the counter metrics")
	}
	return ct, nil
}

// Process counts every event and marks every drop_every-th one to drop.
func (ct *counter) Process(b *weirsdk.Batch) error {
	if ct.cfg.Panic == "process" {
		panic("go counter: process panicked as the config asked")
	}
	var dropped uint64
	n := int(b.Len)
	for i := 0; i < n; i++ {
		e := b.Event(i)
		ct.seen++
		ct.perStream[e.StreamID]++
		if ct.cfg.DropEvery > 0 && ct.seen%ct.cfg.DropEvery == 0 {
			e.Flags |= weirsdk.FlagDrop
			dropped++
		}
	}
	// A little garbage per call for the plugin's collector.
	keys := make([]uint64, 0, len(ct.perStream))
	for k := range ct.perStream {
		keys = append(keys, k)
	}
	ct.lastKeys = keys
	ct.calls++
	if ct.cfg.GCEvery > 0 && ct.calls%ct.cfg.GCEvery == 0 {
		runtime.GC()
	}
	ct.host.CounterAdd(ct.idEvents, uint64(n))
	if dropped > 0 {
		ct.host.CounterAdd(ct.idDropped, dropped)
	}
	return nil
}

func init() {
	weirsdk.SetPlugin("weir-go-counter", "1.0.0")
	weirsdk.MustRegister(weirsdk.Type{
		ID:          "go_counter",
		Description: "Counts events per stream and marks every Nth to drop (Go).",
		ConfigSchema: `{"type":"object","additionalProperties":false,"properties":{` +
			`"drop_every":{"type":"integer","minimum":0},"gc_every":{"type":"integer","minimum":0},` +
			`"panic":{"type":"string","enum":["process"]}}}`,
		Roles: weirsdk.RoleProcessor,
		New:   newCounter,
	})
}

func main() {}
