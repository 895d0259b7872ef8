// Command connbench measures weir's broker sinks side by side in one run:
// the blaster flat out into nats_out (core and JetStream) and kafka_out
// (an in-process kfake cluster), at each event size, with one event per
// message and with batch frames. Each case runs for a fixed time; it
// prints events/s and MB/s (event payload bytes the sink acknowledged,
// 10^6 per MB) and the CPU time weir's process spent per event.
//
// The NATS server is a separate process (tools/bench-connectors.sh starts
// one and runs nats bench against it too), so its CPU is not counted;
// kfake runs inside this process, so the Kafka rows count the broker's
// CPU as well.
//
//	go run ./tools/connbench -nats nats://127.0.0.1:4222 -sizes 64,512 -duration 3s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/operator"
)

func main() {
	natsURL := flag.String("nats", "", "NATS server URL (with JetStream); empty skips the NATS cases")
	kafka := flag.Bool("kafka", true, "run the Kafka cases against an in-process kfake cluster")
	sizes := flag.String("sizes", "64,512", "event sizes in bytes, comma-separated")
	dur := flag.Duration("duration", 3*time.Second, "measured time per case, after a 500ms warm-up")
	only := flag.String("only", "", "run only cases whose name contains this")
	flag.Parse()

	var brokers string
	if *kafka {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "bench"))
		if err != nil {
			fatal(err)
		}
		defer c.Close()
		brokers = c.ListenAddrs()[0]
	}
	var js jetstream.JetStream
	if *natsURL != "" {
		nc, err := nats.Connect(*natsURL)
		if err != nil {
			fatal(err)
		}
		defer nc.Close()
		if js, err = jetstream.New(nc); err != nil {
			fatal(err)
		}
	}
	fmt.Printf("| sink | size | framing | events/s | MB/s | CPU µs/event |\n|---|---|---|---|---|---|\n")
	for _, s := range strings.Split(*sizes, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatal(fmt.Errorf("size %q: %w", s, err))
		}
		for _, framing := range []string{"event", "batch"} {
			var cases []benchCase
			if *natsURL != "" {
				cases = append(cases,
					benchCase{"nats core", "nats_out", map[string]any{"url": *natsURL, "subject": "bench.core", "framing": framing}},
					benchCase{"nats jetstream", "nats_out", map[string]any{"url": *natsURL, "subject": "bench.js", "mode": "jetstream", "framing": framing, "max_pending": 4096}})
			}
			if *kafka {
				cases = append(cases, benchCase{"kafka (kfake)", "kafka_out", map[string]any{"brokers": []string{brokers}, "topic": "bench", "framing": framing, "compression": "lz4"}})
			}
			for _, c := range cases {
				if *only != "" && !strings.Contains(c.name+" "+framing, *only) {
					continue
				}
				if js != nil && strings.Contains(c.name, "jetstream") {
					resetStream(js)
				}
				r := c.run(size, *dur)
				fmt.Printf("| %s | %d | %s | %.0f | %.1f | %.2f |\n", c.name, size, framing, r.eps, r.mbps, r.cpuPerEvent)
			}
		}
	}
}

type benchCase struct {
	name, typ string
	cfg       map[string]any
}

type result struct{ eps, mbps, cpuPerEvent float64 }

// run runs blaster -> sink flat out, and measures the sink's
// acknowledged events over dur after a warm-up.
func (c benchCase) run(size int, dur time.Duration) result {
	cfg, _ := json.Marshal(c.cfg)
	gen, _ := json.Marshal(map[string]any{"size": size, "loops": 0})
	g := runtime.Graph{
		Connectors: []runtime.ConnectorDef{
			{Name: "gen", Type: "blaster", Config: gen},
			{Name: "out", Type: c.typ, Config: cfg},
		},
		Connections: []runtime.EdgeDef{{From: "gen", To: "out", Capacity: 8, Policy: runtime.Block}},
	}
	eng, err := runtime.New(g, connector.Default, runtime.Options{NewOp: operator.New, DrainTimeout: 10 * time.Second})
	if err != nil {
		fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	ev0, b0 := sinkOut(eng)
	cpu0, t0 := cpuTime(), time.Now()
	time.Sleep(dur)
	ev1, b1 := sinkOut(eng)
	cpu1, el := cpuTime(), time.Since(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	eng.Shutdown(ctx)
	n := float64(ev1 - ev0)
	if n == 0 {
		st, _ := eng.Stats().Component("out", runtime.StatSink)
		fatal(fmt.Errorf("%s: no event delivered in %s (state %s: %s)", c.name, dur, st.State, st.Failure))
	}
	return result{
		eps:         n / el.Seconds(),
		mbps:        float64(b1-b0) / el.Seconds() / 1e6,
		cpuPerEvent: float64((cpu1 - cpu0).Microseconds()) / n,
	}
}

func sinkOut(eng *runtime.Engine) (events, bytes uint64) {
	st, _ := eng.Stats().Component("out", runtime.StatSink)
	return st.EventsOut, st.BytesOut
}

// resetStream makes a fresh in-memory stream for the JetStream cases, so
// each starts empty.
func resetStream(js jetstream.JetStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js.DeleteStream(ctx, "BENCH")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.js"}, Storage: jetstream.FileStorage, MaxBytes: 4 << 30, Discard: jetstream.DiscardOld}); err != nil {
		fatal(err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "connbench:", err)
	os.Exit(1)
}
