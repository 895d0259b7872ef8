package packet

import (
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/weirproject/weir/cabi"
)

// BenchmarkProgram measures the kernel cost per packet of the capture
// programs with BPF_PROG_TEST_RUN on a 64-byte UDP frame: "emit" keeps every
// packet (snaplen 96) while a reader on another goroutine drains the rings,
// "sampled-out" keeps 1 in 2^30, so it measures parse, filter hook and
// sampler. The ns/pkt metric is the kernel's own per-run average, and
// emitted/s is the records written per second of program time.
func BenchmarkProgram(b *testing.B) {
	f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(64-14-28)))
	for _, bc := range []struct {
		name string
		rate uint32
	}{{"emit", 1}, {"sampled-out", 1 << 30}} {
		for _, hook := range []string{"xdp", "tc-ingress"} {
			b.Run(bc.name+"/"+hook, func(b *testing.B) {
				c := benchCapture(b, bc.rate)
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
	cfg, err := Config{Interfaces: []string{"lo"}, RingSize: 4 << 20, Snaplen: 96}.normalize()
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
