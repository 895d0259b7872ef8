package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func sourceConfig(ts *testServer, extra map[string]any) []byte {
	c := map[string]any{"url": ts.url(), "subject": "ev", "reconnect_wait": "10ms", "reconnect_max_wait": "50ms"}
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return b
}

func newSource(t *testing.T, config []byte) *Source {
	t.Helper()
	s, err := NewSource(config, conntest.Env("in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// publish writes n events ev-first.. through a nats_out sink.
func publish(t *testing.T, ts *testServer, extra map[string]any, first, n int) {
	t.Helper()
	s := newSink(t, sinkConfig(ts, extra))
	connect(t, s)
	b := conntest.NewBatch(t, n, 64*n)
	fill(t, b, 9, first, n)
	write(t, s, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// pollN polls until it has n events or 10 s pass; it returns the batch
// IDs used and the events' payloads.
func pollN(t *testing.T, s *Source, b *cabi.Batch, n int, nextID *uint64) (ids []uint64, got []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d events in 10s; want %d", len(got), n)
		}
		b.Reset()
		*nextID++
		b.ID = *nextID
		st, err := s.Poll(b, 200*time.Millisecond)
		if st != cabi.OK && st != cabi.Timeout {
			t.Fatalf("Poll = %v, %v", st, err)
		}
		if b.Len == 0 {
			continue
		}
		ids = append(ids, b.ID)
		for _, e := range b.EventSlice() {
			if fmt.Sprintf("ev-%d", e.StreamID) != string(e.Bytes()) || e.TsNs != 9 || e.Kind != cabi.KindText {
				t.Fatalf("event %q stream %d ts %d kind %d", e.Bytes(), e.StreamID, e.TsNs, e.Kind)
			}
			got = append(got, string(e.Bytes()))
		}
	}
	return ids, got
}

func TestSourceCore(t *testing.T) {
	ts := startServer(t, nil)
	for _, framing := range frame.Names {
		src := newSource(t, sourceConfig(ts, nil))
		connect(t, src)
		publish(t, ts, map[string]any{"framing": framing}, 0, 40)
		b := conntest.NewBatch(t, 16, 4096)
		var id uint64
		_, got := pollN(t, src, b, 40, &id)
		for i, g := range got {
			if g != fmt.Sprintf("ev-%d", i) {
				t.Fatalf("%s: event %d = %q", framing, i, g)
			}
		}
		src.Close()
	}
}

// TestSourceJetStreamAcks: messages are acknowledged only once every batch
// holding their events is; a failed batch's messages come again, and a
// durable consumer reopened later goes on where the acks left it.
func TestSourceJetStreamAcks(t *testing.T) {
	ts := startServer(t, nil)
	ts.addStream("EV", "ev")
	// Batch frames of about 5 events, split across batches of 16.
	publish(t, ts, map[string]any{"mode": "jetstream", "framing": "batch", "max_frame": 200}, 0, 40)
	cfg := sourceConfig(ts, map[string]any{"mode": "jetstream", "durable": "weir", "ack_wait": "1s"})
	src := newSource(t, cfg)
	connect(t, src)
	b := conntest.NewBatch(t, 16, 4096)
	var id uint64
	ids, got := pollN(t, src, b, 40, &id)
	if len(got) != 40 {
		t.Fatalf("got %d events", len(got))
	}
	if n := counter(src, "acked"); n != 0 {
		t.Fatalf("acked = %d before any batch was acknowledged", n)
	}
	// Ack all but the last batch, and fail that one.
	for _, i := range ids[:len(ids)-1] {
		src.Ack(i)
	}
	src.Fail(ids[len(ids)-1])
	msgs := counter(src, "received")
	if a, n := counter(src, "acked"), counter(src, "naked"); a+n != msgs || n == 0 {
		t.Fatalf("acked %d, naked %d of %d messages; want all settled, some naked", a, n, msgs)
	}
	// The naked messages come again, with their events.
	_, again := pollN(t, src, b, 1, &id)
	if last := again[len(again)-1]; !strings.HasPrefix(last, "ev-3") {
		t.Errorf("redelivered %v; want the last events (ev-3x)", again)
	}
	src.Close()

	// Reopen the durable consumer: unacknowledged messages only.
	src2 := newSource(t, cfg)
	connect(t, src2)
	ids2, got2 := pollN(t, src2, b, len(again), &id)
	if len(got2) != len(again) {
		t.Errorf("reopened consumer delivered %v; want the %d unacknowledged events", got2, len(again))
	}
	for _, i := range ids2 {
		src2.Ack(i)
	}
	b.Reset()
	if st, _ := src2.Poll(b, 300*time.Millisecond); st != cabi.Timeout || b.Len != 0 {
		t.Errorf("after acknowledging everything, Poll = %v with %d events; want Timeout and none", st, b.Len)
	}
}

func TestSourceInvalidMessages(t *testing.T) {
	ts := startServer(t, nil)
	ts.addStream("EV", "ev")
	src := newSource(t, sourceConfig(ts, map[string]any{"mode": "jetstream"}))
	connect(t, src)
	nc, js := ts.client()
	_ = nc
	ctx := context.Background()
	// A frame with a flipped bit, bad headers, and a foreign message.
	f := frame.Append(nil, nil)
	f[10] ^= 1
	m1 := natsMsg("ev", f, frame.HeaderFrame, "1")
	m2 := natsMsg("ev", []byte("x"), frame.HeaderKind, "banana")
	m3 := natsMsg("ev", []byte("plain"))
	for _, m := range []*natsMsgT{m1, m2, m3} {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	b := conntest.NewBatch(t, 16, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for b.Len == 0 && time.Now().Before(deadline) {
		b.ID = 1
		src.Poll(b, 200*time.Millisecond)
	}
	if b.Len != 1 || string(b.EventSlice()[0].Bytes()) != "plain" || b.EventSlice()[0].Kind != cabi.KindRaw {
		t.Fatalf("polled %d events; want the plain message as one raw event", b.Len)
	}
	if n := counter(src, "dropped_invalid"); n != 2 {
		t.Errorf("dropped_invalid = %d; want 2", n)
	}
}

func TestSourceUnknownStream(t *testing.T) {
	ts := startServer(t, nil)
	src := newSource(t, sourceConfig(ts, map[string]any{"mode": "jetstream", "stream": "NOPE"}))
	if err := src.Connect(context.Background(), 1); !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("Connect = %v; want a permanent error naming the stream", err)
	}
}

func TestSourceDrain(t *testing.T) {
	ts := startServer(t, nil)
	src := newSource(t, sourceConfig(ts, nil))
	connect(t, src)
	publish(t, ts, nil, 0, 5)
	time.Sleep(100 * time.Millisecond)
	src.Drain()
	b := conntest.NewBatch(t, 16, 4096)
	var id uint64
	pollN(t, src, b, 5, &id)
	b.Reset()
	if st, _ := src.Poll(b, time.Second); st != cabi.EOF {
		t.Errorf("Poll after Drain and the last event = %v; want EOF", st)
	}
}
