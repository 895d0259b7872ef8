package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// cluster is an in-process fake Kafka cluster (franz-go's kfake) with its
// data in a directory, so a restart on the same port keeps the topics.
type cluster struct {
	t    testing.TB
	dir  string
	port int
	opts []kfake.Opt
	c    *kfake.Cluster
}

func startCluster(t testing.TB, opts ...kfake.Opt) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), opts: append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(4, "ev")}, opts...)}
	c.start()
	_, p, _ := net.SplitHostPort(c.c.ListenAddrs()[0])
	c.port, _ = strconv.Atoi(p)
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) start() {
	c.t.Helper()
	opts := append([]kfake.Opt{kfake.DataDir(c.dir)}, c.opts...)
	if c.port != 0 {
		opts = append(opts, kfake.Ports(c.port))
	}
	k, err := kfake.NewCluster(opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.c = k
}

func (c *cluster) stop() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

func (c *cluster) addr() string { return "127.0.0.1:" + strconv.Itoa(c.port) }

func cfgJSON(base map[string]any, extra map[string]any) []byte {
	for k, v := range extra {
		base[k] = v
	}
	b, _ := json.Marshal(base)
	return b
}

func newSink(t *testing.T, c *cluster, extra map[string]any) *Sink {
	t.Helper()
	s, err := NewSink(cfgJSON(map[string]any{"brokers": []string{c.addr()}, "topic": "ev"}, extra), conntest.Env("out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t *testing.T, c connector.Connector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func counter(c connector.Counting, name string) uint64 {
	for _, k := range c.Counters() {
		if k.Name == name {
			return k.Value
		}
	}
	panic("no counter " + name)
}

func fill(t testing.TB, b *cabi.Batch, ts uint64, first, n, streams int) {
	t.Helper()
	b.Reset()
	for i := first; i < first+n; i++ {
		if !b.Append(ts, uint64(i%streams), cabi.KindText, 0, fmt.Appendf(nil, "ev-%d", i)) {
			t.Fatalf("batch full at %d", i)
		}
	}
}

// readAll consumes the topic from the start with a plain client and
// returns the events by partition.
func readAll(t *testing.T, c *cluster, want int) map[int32][]frame.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr()), kgo.ConsumeTopics("ev"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int32][]frame.Record{}
	n := 0
	deadline := time.Now().Add(10 * time.Second)
	for n < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			get := func(k string) string {
				for _, h := range r.Headers {
					if h.Key == k {
						return string(h.Value)
					}
				}
				return ""
			}
			if get(frame.HeaderFrame) != "" {
				if _, err := frame.Decode(r.Value, func(fr frame.Record) { out[r.Partition] = append(out[r.Partition], fr); n++ }); err != nil {
					t.Fatal(err)
				}
				return
			}
			m, _ := frame.ParseMeta(get)
			out[r.Partition] = append(out[r.Partition], frame.Record{TsNs: m.TsNs, StreamID: m.StreamID, Kind: m.Kind, Data: r.Value})
			n++
		})
	}
	if n != want {
		t.Fatalf("read %d events back; want %d", n, want)
	}
	return out
}

func write(t *testing.T, s *Sink, b *cabi.Batch) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := s.Write(b)
		if st == cabi.OK {
			return
		}
		if st != cabi.Retry || time.Now().After(deadline) {
			t.Fatalf("Write = %v, %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSinkFramingsKeysCompression produces with each framing, key and
// codec and reads the events back: all there, in order per stream, and
// with a key, every stream in one partition.
func TestSinkFramingsKeysCompression(t *testing.T) {
	for _, framing := range frame.Names {
		for _, key := range []string{frame.KeyNone, frame.KeyStream} {
			for _, codec := range []string{"lz4", "zstd", "none"} {
				name := framing + "/" + key + "/" + codec
				t.Run(name, func(t *testing.T) {
					c := startCluster(t)
					s := newSink(t, c, map[string]any{"framing": framing, "key": key, "compression": codec, "max_frame": 2048})
					connect(t, s)
					b := conntest.NewBatch(t, 400, 16384)
					fill(t, b, 3, 0, 400, 5)
					write(t, s, b)
					got := readAll(t, c, 400)
					where := map[uint64]map[int32]bool{}
					last := map[uint64]int{}
					for p, recs := range got {
						for _, r := range recs {
							var i int
							fmt.Sscanf(string(r.Data), "ev-%d", &i)
							if uint64(i%5) != r.StreamID || r.TsNs != 3 {
								t.Fatalf("event %q stream %d ts %d", r.Data, r.StreamID, r.TsNs)
							}
							if prev, ok := last[r.StreamID]; ok && i <= prev {
								t.Fatalf("stream %d: %d after %d", r.StreamID, i, prev)
							}
							last[r.StreamID] = i
							if where[r.StreamID] == nil {
								where[r.StreamID] = map[int32]bool{}
							}
							where[r.StreamID][p] = true
						}
					}
					if key == frame.KeyStream {
						for st, ps := range where {
							if len(ps) != 1 {
								t.Errorf("stream %d spread over partitions %v; want one", st, ps)
							}
						}
					}
				})
			}
		}
	}
}

// TestSinkBrokerDown: with the cluster stopped the sink answers RETRY
// within delivery_timeout; after a restart (same port, same data) the
// retried batch goes through, and every acknowledged event is there once.
func TestSinkBrokerDown(t *testing.T) {
	c := startCluster(t)
	s := newSink(t, c, map[string]any{"delivery_timeout": "1s"})
	connect(t, s)
	b := conntest.NewBatch(t, 10, 1024)
	fill(t, b, 1, 0, 10, 1)
	write(t, s, b)
	c.stop()
	fill(t, b, 2, 10, 10, 1)
	st, err := s.Write(b)
	if st != cabi.Retry {
		t.Fatalf("Write with the broker down = %v, %v; want RETRY", st, err)
	}
	if counter(s, "retry_timeout") == 0 {
		t.Errorf("counters %+v; want retry_timeout", s.Counters())
	}
	c.start()
	write(t, s, b)
	got := readAll(t, c, 20)
	seen := map[string]int{}
	for _, recs := range got {
		for _, r := range recs {
			seen[string(r.Data)]++
		}
	}
	for i := 0; i < 20; i++ {
		if n := seen[fmt.Sprintf("ev-%d", i)]; n != 1 {
			t.Errorf("ev-%d stored %d times", i, n)
		}
	}
}

func TestSinkServerDownAtStart(t *testing.T) {
	c := startCluster(t)
	c.stop()
	s := newSink(t, c, map[string]any{"connect_timeout": "300ms"})
	err := s.Connect(context.Background(), 1)
	if err == nil || errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), c.addr()) {
		t.Fatalf("Connect with the cluster down = %v; want a retryable error naming the broker", err)
	}
	c.start()
	connect(t, s)
}

func TestSinkAuthFailure(t *testing.T) {
	c := startCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "weir", "right"))
	s := newSink(t, c, map[string]any{"sasl": map[string]any{"mechanism": "plain", "user": "weir", "password": "wrong"}})
	err := s.Connect(context.Background(), 1)
	if !errors.Is(err, connector.ErrPermanent) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("Connect with a wrong password = %v; want a permanent error that does not show it", err)
	}
	s2 := newSink(t, c, map[string]any{"sasl": map[string]any{"mechanism": "plain", "user": "weir", "password": "right"}})
	connect(t, s2)
}

func TestSinkUnknownTopic(t *testing.T) {
	c := startCluster(t)
	s := newSink(t, c, map[string]any{"topic": "nope"})
	err := s.Connect(context.Background(), 1)
	if !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Connect to a missing topic = %v; want a permanent error naming it", err)
	}
}

func TestSinkOversize(t *testing.T) {
	c := startCluster(t)
	for _, framing := range frame.Names {
		s := newSink(t, c, map[string]any{"framing": framing, "max_frame": 1024})
		connect(t, s)
		b := conntest.NewBatch(t, 4, 8192)
		conntest.Fill(t, b, 1, "a", strings.Repeat("x", 1500), "b")
		write(t, s, b)
		if n := counter(s, "dropped_oversize"); n != 1 {
			t.Errorf("%s: dropped_oversize = %d; want 1", framing, n)
		}
	}
	readAll(t, c, 4)
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "topic"},
		{`{"topic":"t","brokers":["nohost"]}`, "HOST:PORT"},
		{`{"topic":"t","brokers":["kafka://u:secret@h:9092"]}`, "credentials in a broker address"},
		{`{"topic":"t","brokers":["u:p/secret@h:9092"]}`, "REDACTED@h:9092"},
		{`{"topic":"t","brokers":["secret@h:9092"]}`, "credentials in a broker address"},
		{`{"topic":"t","sasl":{"mechanism":"plain"}}`, "needs user"},
		{`{"topic":"t","sasl":{"user":"u","password":"secret"}}`, "need a mechanism"},
		{`{"topic":"t","compression":"snappy"}`, "compression"},
		{`{"topic":"t","key":"ip"}`, "key"},
	}
	for _, tt := range tests {
		_, err := NewSink([]byte(tt.cfg), conntest.Env("out"))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("NewSink(%s) = %v; want an error with %q and no secret", tt.cfg, err, tt.want)
		}
	}
	if _, err := NewSource([]byte(`{"topics":[],"group":"g"}`), conntest.Env("in")); err == nil {
		t.Error("NewSource with no topics succeeded")
	}
}
