package plugins

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
)

// sink is what the benchmark drives: a plugin instance or the native Go
// blackhole, behind the same interface a runtime would use.
type sink interface {
	Write(b *cabi.Batch) (cabi.Status, error)
}

// nativeBlackhole is the Go-native reference: the same work the plugins do
// (check every descriptor with the batch's stride, count events, bytes and
// batches, publish to the host every publishEvery events), over the same
// off-heap cabi.Batch.
type nativeBlackhole struct {
	host                   loader.Host
	ids                    [3]int32
	publishEvery           uint64
	events, bytes, batches uint64
	pending                [3]uint64
}

var errNative = errors.New("native blackhole: invalid descriptor")

func newNativeBlackhole(h loader.Host) *nativeBlackhole {
	bh := &nativeBlackhole{host: h, publishEvery: 65536}
	bh.ids[0] = h.RegisterMetric("blackhole_events_total", cabi.MetricCounter, "")
	bh.ids[1] = h.RegisterMetric("blackhole_bytes_total", cabi.MetricCounter, "")
	bh.ids[2] = h.RegisterMetric("blackhole_batches_total", cabi.MetricCounter, "")
	return bh
}

func (bh *nativeBlackhole) publish() {
	for i, n := range bh.pending {
		if n > 0 {
			bh.host.CounterAdd(bh.ids[i], n)
		}
	}
	bh.pending = [3]uint64{}
}

// Write mirrors the C blackhole's bh_write. Errors are a sentinel so the
// failure path does not allocate; the plugins format a message instead.
func (bh *nativeBlackhole) Write(b *cabi.Batch) (cabi.Status, error) {
	if b.EventSize < cabi.EventSize || b.Len > b.Capacity || (b.Len > 0 && b.Events == nil) {
		return cabi.Error, errNative
	}
	var total uint64
	n := int(b.Len)
	base, stride := b.Events, uintptr(b.EventSize)
	for i := 0; i < n; i++ {
		e := (*cabi.Event)(unsafe.Add(base, uintptr(i)*stride))
		if e.Len > 0 && e.Data == nil || e.Kind > cabi.KindTick && e.Kind < 0x8000 || e.Flags&0x00fc != 0 {
			return cabi.Error, errNative
		}
		total += uint64(e.Len)
	}
	bh.events += uint64(b.Len)
	bh.bytes += total
	bh.batches++
	bh.pending[0] += uint64(b.Len)
	bh.pending[1] += total
	bh.pending[2]++
	if bh.pending[0] >= bh.publishEvery {
		bh.publish()
	}
	return cabi.OK, nil
}

var benchBatchSizes = []int{1, 16, 256, 4096}

// BenchmarkBlackhole pushes batches of 64-byte events into the C, Rust and
// Go c-shared blackholes and into the native Go blackhole, at several batch
// sizes, and reports the cost per event.
func BenchmarkBlackhole(b *testing.B) {
	type target struct {
		name string
		make func(b *testing.B) (sink, *loader.BasicHost)
	}
	targets := []target{{"native", func(b *testing.B) (sink, *loader.BasicHost) {
		h := loader.NewBasicHost("", nil)
		return newNativeBlackhole(h), h
	}}}
	for _, bh := range blackholes {
		bh := bh
		targets = append(targets, target{bh.lang, func(b *testing.B) (sink, *loader.BasicHost) {
			in, h := create(b, loadType(b, bh.lib, bh.id), "{}")
			mustOK(b, "start", in.Start())
			return in, h
		}})
	}
	for _, size := range benchBatchSizes {
		for _, tg := range targets {
			b.Run(fmt.Sprintf("batch=%d/%s", size, tg.name), func(b *testing.B) {
				s, host := tg.make(b)
				batch := allocBatch(b, size, size*64)
				payload := make([]byte, 64)
				for i := 0; i < size; i++ {
					batch.Append(uint64(i), 1, cabi.KindRaw, 0, payload)
				}
				// Warm up: first calls into a Go c-shared library bind the
				// thread to its runtime.
				for i := 0; i < 10; i++ {
					if st, err := s.Write(batch); err != nil || st != cabi.OK {
						b.Fatalf("write = %v, %v", st, err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if st, err := s.Write(batch); err != nil || st != cabi.OK {
						b.Fatalf("write = %v, %v", st, err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size), "ns/event")
				if in, ok := s.(*loader.Instance); ok {
					mustOK(b, "drain", in.Drain())
					want := int64(b.N+10) * int64(size)
					if got := counter(b, host, "blackhole_events_total"); got != want {
						b.Fatalf("blackhole_events_total = %d; want %d", got, want)
					}
				}
			})
		}
	}
}

// BenchmarkBlackholeInterleaved measures the same sinks as
// BenchmarkBlackhole, but interleaved: each benchmark iteration is one round
// that times a chunk of writes (about 16K events) into every sink in turn.
// Each plugin runs twice, once per call path (see loader.CallEnv). On a
// shared, noisy machine this exposes all sinks to the same conditions, so
// their ratios mean something. It reports, per sink, the median and the
// best (minimum) round in ns/event, and the median ratio to native.
func BenchmarkBlackholeInterleaved(b *testing.B) {
	type target struct {
		name string
		s    sink
	}
	for _, size := range benchBatchSizes {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			targets := []target{{"native", newNativeBlackhole(loader.NewBasicHost("", nil))}}
			// Each plugin twice: on the default call path (direct where
			// the platform has it) and, suffixed "-syscalln", on
			// purego.SyscallN, so both paths are measured side by side.
			for _, path := range []struct{ suffix, env string }{{"", ""}, {"-syscalln", "syscalln"}} {
				b.Setenv(loader.CallEnv, path.env)
				for _, bh := range blackholes {
					in, _ := create(b, loadType(b, bh.lib, bh.id), "{}")
					mustOK(b, "start", in.Start())
					targets = append(targets, target{bh.lang + path.suffix, in})
				}
			}
			batch := allocBatch(b, size, size*64)
			payload := make([]byte, 64)
			for i := 0; i < size; i++ {
				batch.Append(uint64(i), 1, cabi.KindRaw, 0, payload)
			}
			chunk := 16384 / size
			rounds := make([][]float64, len(targets))
			for k, tg := range targets {
				for j := 0; j < 2*chunk; j++ { // warm up
					if st, err := tg.s.Write(batch); err != nil || st != cabi.OK {
						b.Fatalf("%s: write = %v, %v", tg.name, st, err)
					}
				}
				rounds[k] = make([]float64, 0, b.N)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k, tg := range targets {
					t0 := time.Now()
					for j := 0; j < chunk; j++ {
						if st, err := tg.s.Write(batch); err != nil || st != cabi.OK {
							b.Fatalf("%s: write = %v, %v", tg.name, st, err)
						}
					}
					rounds[k] = append(rounds[k], float64(time.Since(t0).Nanoseconds())/float64(chunk*size))
				}
			}
			b.StopTimer()
			med := make([]float64, len(targets))
			for k, tg := range targets {
				sort.Float64s(rounds[k])
				med[k] = rounds[k][len(rounds[k])/2]
				b.ReportMetric(med[k], "ns/event-"+tg.name)
				b.ReportMetric(rounds[k][0], "best-ns/event-"+tg.name)
			}
			for k := 1; k < len(targets); k++ {
				b.ReportMetric(med[k]/med[0], "x-native-"+targets[k].name)
			}
		})
	}
}
