package isolate

import (
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
)

// cpuNow returns this process's user and system CPU time.
func cpuNow() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBlackhole writes batches of 64-byte events into the C blackhole
// (plugins/c/blackhole.c) in this process and isolated in a child, side by
// side at each batch size. It reports events/s and the CPU time per event
// of both processes together (the child's from /proc/PID/stat).
func BenchmarkBlackhole(b *testing.B) {
	lib := load(b, build(b, "blackhole", "plugins/c/blackhole.c", "plugins/c/config.c"))
	typ := lib.Type("c_blackhole")
	for _, size := range []int{256, 1024, 4096} {
		for _, mode := range []string{"inprocess", connector.IsolateProcess} {
			b.Run(fmt.Sprintf("batch=%d/%s", size, mode), func(b *testing.B) {
				h := loader.NewBasicHost("", io.Discard)
				var write func(*cabi.Batch) (cabi.Status, error)
				child := func() time.Duration { return 0 }
				if mode == "inprocess" {
					in, err := typ.Create([]byte("{}"), h)
					if err != nil {
						b.Fatal(err)
					}
					defer in.Destroy()
					if err := in.Start(); err != nil {
						b.Fatal(err)
					}
					write = in.Write
				} else {
					c, err := New(typ, []byte("{}"), h, Options{Name: "bench", Mode: mode, Log: quiet(), Spin: benchSpin()})
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					if err := c.Start(); err != nil {
						b.Fatal(err)
					}
					write, child = c.Write, c.CPUTime
				}
				batch := batch(b, size, size*64)
				payload := make([]byte, 64)
				for i := 0; i < size; i++ {
					batch.Append(uint64(i), 1, cabi.KindRaw, 0, payload)
				}
				for i := 0; i < 10; i++ {
					if st, err := write(batch); st != cabi.OK || err != nil {
						b.Fatalf("write = %v, %v", st, err)
					}
				}
				cpu0, child0 := cpuNow(), child()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if st, err := write(batch); st != cabi.OK || err != nil {
						b.Fatalf("write = %v, %v", st, err)
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				events := float64(b.N) * float64(size)
				cpu := cpuNow() - cpu0 + child() - child0
				b.ReportMetric(events/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event")
				b.ReportMetric(float64(elapsed.Nanoseconds())/events, "ns/event")
			})
		}
	}
}

// benchSpin is the spin of isolated instances in benchmarks:
// $ISOLATE_SPIN, or the default.
func benchSpin() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("ISOLATE_SPIN"))
	return d
}
