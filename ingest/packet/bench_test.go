package packet

import (
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// BenchmarkProgram measures the kernel cost per packet of the capture
// programs with BPF_PROG_TEST_RUN on a 64-byte UDP frame: "emit" keeps every
// packet (snaplen 96) while a reader on another goroutine drains the rings,
// "sampled-out" keeps 1 in 2^30 by a random draw, so it measures parse,
// filter hook and sampler, and "sampled-out-flow" does the same with the
// flow hash instead of the draw. The ns/pkt metric is the kernel's own
// per-run average, and emitted/s is the records written per second of
// program time.
func BenchmarkProgram(b *testing.B) {
	f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(64-14-28)))
	for _, bc := range []struct {
		name string
		rate uint32
		mode SampleMode
	}{{"emit", 1, SampleRandom}, {"sampled-out", 1 << 30, SampleRandom}, {"sampled-out-flow", 1 << 30, SampleFlow}} {
		for _, hook := range []string{"xdp", "tc-ingress"} {
			b.Run(bc.name+"/"+hook, func(b *testing.B) {
				c := benchCaptureMode(b, bc.rate, bc.mode)
				var prog *ebpf.Program
				x, ti, _ := c.Programs()
				if hook == "xdp" {
					prog = x
				} else {
					prog = ti
				}
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					batch, _ := cabi.AllocBatch(1024, 0)
					defer cabi.FreeBatch(batch)
					for {
						select {
						case <-stop:
							return
						default:
						}
						if n, _ := c.Reader().Read(batch, 10*time.Millisecond); n > 0 {
							c.Reader().Release(batch)
						}
					}
				}()
				b.ResetTimer()
				_, d, err := prog.Benchmark(f, b.N, nil)
				b.StopTimer()
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				k, _ := c.Counters()
				b.ReportMetric(float64(d.Nanoseconds()), "ns/pkt")
				b.ReportMetric(float64(k.RingFull)/float64(k.Seen), "ringfull/pkt")
			})
		}
	}
}

func benchCapture(b *testing.B, rate uint32) *Capture {
	return benchCaptureMode(b, rate, SampleRandom)
}

func benchCaptureMode(b *testing.B, rate uint32, mode SampleMode) *Capture {
	cfg, err := Config{Interfaces: []string{"lo"}, RingSize: 4 << 20, Snaplen: 96, SampleMode: mode}.normalize()
	if err != nil {
		b.Fatal(err)
	}
	c, err := load(cfg, allPrograms)
	if err != nil {
		b.Skipf("load capture programs: %v", err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.SetInterface(loIfindex, rate, 96); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkReadRecords measures the reader's cost per packet record, on
// rings the XDP program filled with BPF_PROG_TEST_RUN (4096 records of a
// 64-byte frame per pass, outside the timer): "consume" visits each record
// in place and checks it with View, as a writer that needs no descriptors
// would; "batch" fills descriptors in ring order (Read, Release);
// "ordered" fills them merged by time (SetOrder(0)), as the packet source
// does.
func BenchmarkReadRecords(b *testing.B) {
	const perPass = 4096
	f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(64-14-28)))
	for _, mode := range []string{"consume", "batch", "ordered"} {
		b.Run(mode, func(b *testing.B) {
			// One CPU writes and reads, so that the records are in its
			// cache, as for a reader woken on the CPU that took the
			// packets: otherwise moving them between CPUs is most of
			// the cost, the same for every mode.
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			var one unix.CPUSet
			one.Set(0)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				b.Skipf("pin to cpu 0: %v", err)
			}
			c := benchCapture(b, 1)
			x, _, _ := c.Programs()
			r := c.Reader()
			switch mode {
			case "ordered":
				r.SetOrder(0)
			default:
				r.SetOrder(-1)
			}
			batch, err := cabi.AllocBatch(perPass, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer cabi.FreeBatch(batch)
			var sum uint64
			visit := func(rec []byte) bool {
				if h, _, ok := View(rec); ok {
					sum += uint64(h.CapLen)
				}
				return true
			}
			read := 0
			pass := func() {
				b.StopTimer()
				if _, _, err := x.Benchmark(f, perPass, nil); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for got := 0; got < perPass; {
					var n int
					if mode == "consume" {
						n, err = r.Consume(visit, 0)
					} else if n, err = r.Read(batch, 0); n > 0 {
						for _, ev := range batch.EventSlice() {
							sum += uint64(ev.Len)
						}
						err = r.Release(batch)
					}
					if err != nil || n == 0 {
						b.Fatalf("read %d of %d records: %v", got, perPass, err)
					}
					got += n
				}
			}
			// Go round the whole ring once first: the first touch of
			// each page of the mapping faults it in, a cost every mode
			// pays once per run.
			for range 12 {
				pass()
			}
			b.ResetTimer()
			for read < b.N {
				pass()
				read += perPass
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(read), "ns/record")
			if sum == 0 {
				b.Fatal("read nothing")
			}
		})
	}
}
