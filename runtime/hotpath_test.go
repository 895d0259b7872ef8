package runtime

import (
	"github.com/weirproject/weir/connector"

	"context"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/runtime/operator"
)

// fastSource fills each batch with per events of size bytes as cheaply as
// a real zero-copy source could: one copy of a prepared arena image and a
// descriptor per event. It stops after limit batches (0: never), and once
// drained, as the lifecycle asks: Shutdown polls a drained source until
// EOF.
type fastSource struct {
	connector.Base
	per, size int
	limit     int64
	n         int64
	image     []byte
	drained   atomic.Bool
}

// Drain makes the next Poll return EOF.
func (s *fastSource) Drain() error {
	s.drained.Store(true)
	return nil
}

func (s *fastSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if s.drained.Load() || s.limit > 0 && s.n >= s.limit {
		return cabi.EOF, nil
	}
	if s.image == nil {
		s.image = make([]byte, s.per*s.size)
		for i := range s.image {
			s.image[i] = byte(i)
		}
	}
	copy(b.ArenaBytes(), s.image)
	slots := b.Slots()[:s.per]
	for i := range slots {
		slots[i] = cabi.Event{TsNs: uint64(s.n), Data: unsafe.Add(b.Arena, i*s.size), Len: uint32(s.size)}
	}
	b.Len = uint32(s.per)
	b.ArenaLen = uint64(len(s.image))
	s.n++
	return cabi.OK, nil
}

// countSink counts events and bytes from the descriptors, like a blackhole.
type countSink struct {
	connector.Base
	events, bytes uint64
	seen          chan struct{}
}

func (s *countSink) Write(b *cabi.Batch) (cabi.Status, error) {
	for _, e := range b.EventSlice() {
		s.bytes += uint64(e.Len)
	}
	s.events += uint64(b.Len)
	if s.seen != nil {
		select {
		case s.seen <- struct{}{}:
		default:
		}
	}
	return cabi.OK, nil
}

// nopOp passes every event; it stands for a cheap operator.
type nopOp struct{}

func (nopOp) Apply(*cabi.Batch, time.Time) {}

func hotRegistry(src *fastSource, snk *countSink) *connector.Registry {
	reg := connector.NewRegistry()
	reg.MustRegister(connector.Type{ID: "fast", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) { return src, nil }})
	reg.MustRegister(connector.Type{ID: "count", Roles: connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) { return snk, nil }})
	return reg
}

func hotGraph(pipeline bool) Graph {
	g := graph([]string{"in:fast", "out:count"}, nil)
	if !pipeline {
		g.Connections = []EdgeDef{{From: "in", To: "out"}}
		return g
	}
	g.Pipelines = []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "nop"}}}}
	g.Connections = []EdgeDef{{From: "in", To: "p"}, {From: "p", To: "out"}}
	return g
}

func hotOpts() Options {
	o := testOpts()
	o.BatchEvents = 1024
	o.BatchBytes = 1024 * 64
	o.EdgeCapacity = 16
	o.NewOp = func(typ string, cfg []byte) (operator.Op, error) { return nopOp{}, nil }
	return o
}

// TestHotPathAllocs asserts that moving a batch from source poll through a
// pipeline and an edge to a sink write allocates nothing once warm.
func TestHotPathAllocs(t *testing.T) {
	src := &fastSource{per: 1024, size: 64}
	snk := &countSink{seen: make(chan struct{}, 1)}
	e, err := New(hotGraph(true), hotRegistry(src, snk), hotOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for i := 0; i < 200; i++ { // warm up: pools, scratch space
		<-snk.seen
	}
	allocs := testing.AllocsPerRun(500, func() { <-snk.seen })
	// AllocsPerRun counts every goroutine's allocations; a batch is 1024
	// events, so anything per event or per batch would show as >= 1.
	if allocs >= 0.5 {
		t.Errorf("allocations per batch = %.2f; want 0", allocs)
	}
}

func benchEngine(b *testing.B, pipeline bool, size, per int) {
	batches := int64(b.N/per + 1)
	per64 := int64(per)
	src := &fastSource{per: per, size: size, limit: batches}
	snk := &countSink{}
	opts := hotOpts()
	opts.BatchBytes = per * size
	opts.BatchEvents = per
	e, err := New(hotGraph(pipeline), hotRegistry(src, snk), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-e.Finished()
	elapsed := time.Since(start)
	b.StopTimer()
	e.Shutdown(context.Background())
	if snk.events != uint64(batches*per64) {
		b.Fatalf("sink got %d events; want %d", snk.events, batches*per64)
	}
	b.ReportMetric(float64(snk.events)/elapsed.Seconds(), "events/s")
}

// BenchmarkEngine measures events/s from a source through the engine to a
// sink. Run with -cpu 1 for the one-core figure.
func BenchmarkEngine(b *testing.B) {
	b.Run("direct/64B", func(b *testing.B) { benchEngine(b, false, 64, 1024) })
	b.Run("pipeline/64B", func(b *testing.B) { benchEngine(b, true, 64, 1024) })
	b.Run("pipeline/64B/batch64", func(b *testing.B) { benchEngine(b, true, 64, 64) })
	b.Run("pipeline/1KiB", func(b *testing.B) { benchEngine(b, true, 1024, 1024) })
}
