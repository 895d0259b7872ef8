package isolate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/plugin/isolate"
	"github.com/weirproject/weir/runtime/bench"
)

// BenchmarkEngine runs weir bench's graph (blaster -> empty pipeline -> C
// blackhole) through the engine with the blackhole in this process and
// isolated, side by side at each batch size: 64-byte events, both
// processes' CPU counted. One op is one run of 10M events; its time includes starting the child (two
// executions of the test binary and loading the library).
func BenchmarkEngine(b *testing.B) {
	path := isolate.Build(b, "blackhole", "plugins/c/blackhole.c", "plugins/c/config.c")
	const events = 10_000_000
	for _, size := range []int{256, 1024, 4096} {
		for _, mode := range []string{connector.IsolateNone, connector.IsolateProcess} {
			b.Run(fmt.Sprintf("batch=%d/%s", size, mode), func(b *testing.B) {
				var elapsed, cpu, child time.Duration
				for i := 0; i < b.N; i++ {
					res, err := bench.Run(b.Context(), bench.Config{Events: events, Size: 64, Batch: size, Sink: path,
						AllowInsecurePlugins: true, Isolate: mode, Timeout: time.Minute})
					if err != nil {
						b.Fatal(err)
					}
					elapsed += res.Elapsed
					cpu += res.CPU
					child += res.ChildCPU
				}
				n := float64(b.N) * events
				b.ReportMetric(n/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/event")
				b.ReportMetric(float64(child.Nanoseconds())/n, "child-cpu-ns/event")
			})
		}
	}
}
