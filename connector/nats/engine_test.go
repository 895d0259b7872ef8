package nats

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/blackhole"
	_ "github.com/weirproject/weir/connector/blaster"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/config"
	"github.com/weirproject/weir/runtime/operator"
)

// runGraph runs a YAML graph in the engine until every source ended, or
// until says stop (when not nil), or timeout; during (when not nil) runs
// beside it.
func runGraph(t *testing.T, yaml string, timeout time.Duration, during func(), until func(runtime.Snapshot) bool) runtime.Snapshot {
	t.Helper()
	res, err := config.Parse("test.yaml", []byte(yaml), config.Options{Registry: connector.Default})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	eng, err := runtime.New(*res.Graph, connector.Default, runtime.Options{
		NewOp: operator.New, DrainTimeout: 10 * time.Second,
		BreakerFailures: 3, BreakerCooldown: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during()
	}
	deadline := time.After(timeout)
wait:
	for {
		select {
		case <-eng.Finished():
			break wait
		case <-deadline:
			t.Errorf("graph still running after %s", timeout)
			break wait
		case <-time.After(50 * time.Millisecond):
			if until != nil && until(eng.Stats()) {
				break wait
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := eng.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	return eng.Stats()
}

func component(t *testing.T, st runtime.Snapshot, name, role string) runtime.ComponentStats {
	t.Helper()
	c, ok := st.Component(name, role)
	if !ok {
		t.Fatalf("no %s %s in stats", role, name)
	}
	return c
}

func statCounter(c runtime.ComponentStats, name string) uint64 {
	for _, k := range c.Counters {
		if k.Name == name {
			return k.Value
		}
	}
	return 0
}

// TestEngineAtLeastOnceAcrossRestart runs blaster -> nats_out (JetStream,
// batch frames) in the engine while the server is stopped for a second
// and started again, then nats_in (a durable consumer) -> blackhole. The
// ledger: every event the blaster made is in the stream, once; the sink
// answered RETRY while the server was away; the consumer reads every
// event back and acknowledges every message.
func TestEngineAtLeastOnceAcrossRestart(t *testing.T) {
	ts := startServer(t, nil)
	st := ts.addStream("EV", "ev.>")
	const total = 200000
	pub := fmt.Sprintf(`
connectors:
  gen: {type: blaster, config: {count: %d, rate: 100000, size: 64}}
  out: {type: nats_out, config: {url: %q, subject: ev.a, mode: jetstream, stream: EV, framing: batch, max_frame: 16KiB, ack_timeout: 300ms, reconnect_wait: 10ms, reconnect_max_wait: 100ms}}
connections:
  - {from: gen, to: out}
`, total, ts.url())
	stats := runGraph(t, pub, 60*time.Second, func() {
		time.Sleep(500 * time.Millisecond)
		ts.stop()
		time.Sleep(time.Second)
		ts.start()
	}, nil)
	gen := component(t, stats, "gen", runtime.StatSource)
	out := component(t, stats, "out", runtime.StatSink)
	if gen.EventsOut != total || out.EventsOut != total || out.DroppedTotal() != 0 {
		t.Fatalf("blaster sent %d, sink delivered %d, dropped %v; want %d, %d, none", gen.EventsOut, out.EventsOut, out.Dropped, total, total)
	}
	if out.Retries == 0 || statCounter(out, "disconnects") == 0 {
		t.Errorf("sink retries %d, disconnects %d: the restart was not seen", out.Retries, statCounter(out, "disconnects"))
	}
	// Read the stream back.
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, js := ts.client()
	cons, err := js.OrderedConsumer(context.Background(), "EV", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for i := uint64(0); i < info.State.Msgs; i++ {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n, err := frame.Count(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		events += n
	}
	t.Logf("stream: %d messages, %d events; sink counters: published %d, acked %d, duplicates %d, retries %d",
		info.State.Msgs, events, statCounter(out, "published"), statCounter(out, "acked"), statCounter(out, "duplicates"), out.Retries)
	if events != total {
		t.Errorf("stream holds %d events; the blaster made %d (every message ID is unique, so no duplicate may be stored)", events, total)
	}

	sub := fmt.Sprintf(`
connectors:
  in: {type: nats_in, config: {url: %q, subject: "ev.>", mode: jetstream, durable: reader}}
  hole: {type: blackhole, config: {print: false}}
connections:
  - {from: in, to: hole}
`, ts.url())
	stats = runGraph(t, sub, 60*time.Second, nil, func(s runtime.Snapshot) bool {
		c, _ := s.Component("in", runtime.StatSource)
		return statCounter(c, "acked") >= info.State.Msgs
	})
	in := component(t, stats, "in", runtime.StatSource)
	hole := component(t, stats, "hole", runtime.StatSink)
	if hole.EventsOut != total {
		t.Errorf("consumer delivered %d events; want %d", hole.EventsOut, total)
	}
	if a := statCounter(in, "acked"); a != info.State.Msgs {
		t.Errorf("consumer acknowledged %d of %d messages", a, info.State.Msgs)
	}
}
