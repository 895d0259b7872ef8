package filter

import (
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/weirproject/weir/ingest/packet"
)

// twentyTerms is the 20-term expression of the benchmark: 18 port tests
// and two protocol tests, all evaluated for a TCP packet to port 443.
const twentyTerms = "(tcp or udp) and not (port 1 or port 2 or port 3 or port 4 or port 5 or port 6 or " +
	"port 7 or port 8 or port 9 or port 10 or port 11 or port 12 or port 13 or port 14 or port 15 or " +
	"port 16 or port 17 or port 18)"

// BenchmarkFilter measures the kernel's cost per packet of the XDP capture
// program with BPF_PROG_TEST_RUN, without a filter and with three compiled
// ones, on a 64-byte UDP frame and a 64-byte TCP SYN to port 443. Every
// packet that passes the filter is then sampled out (1 in 2^30), so the
// figure is parse + filter + sampler, without a ring write.
//
// The four programs run side by side: 15 rounds, each running every
// program b.N/15 times in turn (the kernel's own average per packet), so
// that a change in the machine's load hits them alike. It reports the
// median per program, in ns per packet, and each filter's median added
// cost over no filter ("+ns" metrics, the median of the per-round
// differences).
func BenchmarkFilter(b *testing.B) {
	needBPF(b)
	frames := []testFrame{
		{"udp64", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 17, 0, 0, 0, udpDgram(5000, 53, make([]byte, 64-14-20-8))))},
		{"tcp443", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 0, 0, tcpSeg(40000, 443, 2, 5, make([]byte, 64-14-20-20))))},
	}
	filters := []struct{ name, expr string }{
		{"none", ""},
		{"udp", "udp"},
		{"tcp-port-80-or-443", "tcp port 80 or 443"},
		{"20-terms", twentyTerms},
	}
	progs := make([]*ebpf.Program, len(filters))
	for i, fc := range filters {
		var body asm.Instructions
		if fc.expr != "" {
			var err error
			if body, err = Compile(fc.expr); err != nil {
				b.Fatal(err)
			}
		}
		c, err := packet.Load(packet.Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, Snaplen: 96, Filter: body})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if err := c.SetInterface(loIfindex, 1<<30, 96); err != nil {
			b.Fatal(err)
		}
		progs[i], _, _ = c.Programs()
	}
	const rounds = 15
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			per := max(b.N/rounds, 1)
			ns := make([][]float64, len(filters))
			for r := 0; r < rounds; r++ {
				for i, p := range progs {
					_, d, err := p.Benchmark(f.data, per, nil)
					if err != nil {
						b.Fatal(err)
					}
					ns[i] = append(ns[i], float64(d)/float64(time.Nanosecond))
				}
			}
			for i, fc := range filters {
				b.ReportMetric(median(ns[i]), fc.name+"-ns/pkt")
				if i > 0 {
					diff := make([]float64, rounds)
					for r := range diff {
						diff[r] = ns[i][r] - ns[0][r]
					}
					b.ReportMetric(median(diff), fc.name+"-+ns/pkt")
				}
			}
		})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
