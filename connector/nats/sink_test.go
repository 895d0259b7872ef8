package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// sinkConfig is a nats_out config for ts with extra fields.
func sinkConfig(ts *testServer, extra map[string]any) []byte {
	c := map[string]any{"url": ts.url(), "subject": "ev", "reconnect_wait": "10ms", "reconnect_max_wait": "50ms"}
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return b
}

func newSink(t *testing.T, config []byte) *Sink {
	t.Helper()
	s, err := NewSink(config, conntest.Env("out"))
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

// fill sets b to n text events "ev-<seq>" with stream IDs seq, stamped ts.
func fill(t testing.TB, b *cabi.Batch, ts uint64, first, n int) {
	t.Helper()
	b.Reset()
	for i := first; i < first+n; i++ {
		if !b.Append(ts, uint64(i), cabi.KindText, 0, fmt.Appendf(nil, "ev-%d", i)) {
			t.Fatalf("batch full at %d", i)
		}
	}
}

// write writes b until the sink takes it, within 20 s.
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

func TestSinkCoreFramings(t *testing.T) {
	ts := startServer(t, nil)
	nc, _ := ts.client()
	for _, framing := range frame.Names {
		t.Run(framing, func(t *testing.T) {
			sub, err := nc.SubscribeSync("ev")
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			nc.Flush()
			s := newSink(t, sinkConfig(ts, map[string]any{"framing": framing}))
			connect(t, s)
			b := conntest.NewBatch(t, 64, 4096)
			fill(t, b, 77, 0, 50)
			write(t, s, b)
			if err := s.Drain(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for len(got) < 50 {
				m, err := sub.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatalf("after %d events: %v", len(got), err)
				}
				if framing == frame.Batch {
					if m.Header.Get(frame.HeaderFrame) != "1" {
						t.Fatalf("batch message without %s: 1", frame.HeaderFrame)
					}
					if _, err := frame.Decode(m.Data, func(r frame.Record) {
						if r.TsNs != 77 || r.Kind != cabi.KindText || fmt.Sprintf("ev-%d", r.StreamID) != string(r.Data) {
							t.Errorf("record %+v", r)
						}
						got = append(got, string(r.Data))
					}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				meta, err := frame.ParseMeta(m.Header.Get)
				if err != nil {
					t.Fatal(err)
				}
				if meta.TsNs != 77 || meta.Kind != cabi.KindText || fmt.Sprintf("ev-%d", meta.StreamID) != string(m.Data) {
					t.Errorf("message %q with %+v", m.Data, meta)
				}
				got = append(got, string(m.Data))
			}
			for i, g := range got {
				if g != fmt.Sprintf("ev-%d", i) {
					t.Fatalf("event %d = %q; out of order or lost", i, g)
				}
			}
			wantMsgs := uint64(50)
			if framing == frame.Batch {
				wantMsgs = 1
			}
			if p := counter(s, "published"); p != wantMsgs {
				t.Errorf("published = %d; want %d", p, wantMsgs)
			}
		})
	}
}

func streamMsgs(t *testing.T, st jetstream.Stream) uint64 {
	t.Helper()
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestSinkJetStreamDeduplicatesRetries(t *testing.T) {
	ts := startServer(t, nil)
	st := ts.addStream("EV", "ev")
	for _, framing := range frame.Names {
		s := newSink(t, sinkConfig(ts, map[string]any{"mode": "jetstream", "stream": "EV", "framing": framing, "max_frame": 200}))
		connect(t, s)
		b := conntest.NewBatch(t, 64, 4096)
		fill(t, b, 1, 0, 20)
		before := streamMsgs(t, st)
		write(t, s, b)
		n := streamMsgs(t, st) - before
		// The same batch again, as after a RETRY whose acks were lost or a
		// replay: every message is a duplicate, and the stream keeps one.
		write(t, s, b)
		if again := streamMsgs(t, st) - before; again != n {
			t.Errorf("%s: stream grew from %d to %d messages on a repeated batch", framing, n, again)
		}
		if d := counter(s, "duplicates"); d != n {
			t.Errorf("%s: duplicates = %d; want %d", framing, d, n)
		}
		if framing == frame.Batch && n < 2 {
			t.Errorf("batch framing with max_frame 200 made %d messages; want several", n)
		}
		// A different batch with identical events but another timestamp
		// is new.
		fill(t, b, 2, 0, 20)
		write(t, s, b)
		if got := streamMsgs(t, st) - before; got != 2*n {
			t.Errorf("%s: stream has %d new messages; want %d", framing, got, 2*n)
		}
	}
}

// TestSinkIdenticalEventsNotDuplicates: two identical events in one batch
// are two messages.
func TestSinkIdenticalEventsNotDuplicates(t *testing.T) {
	ts := startServer(t, nil)
	st := ts.addStream("EV", "ev")
	s := newSink(t, sinkConfig(ts, map[string]any{"mode": "jetstream"}))
	connect(t, s)
	b := conntest.NewBatch(t, 4, 256)
	conntest.Fill(t, b, 5, "same", "same")
	b.EventSlice()[1].StreamID = 0
	write(t, s, b)
	if n := streamMsgs(t, st); n != 2 {
		t.Errorf("stream has %d messages; want 2", n)
	}
}

// TestSinkTwoAgentsNotDuplicates: two weirs publishing the same batch
// to one stream both land, because their message IDs are in distinct
// scopes (HOSTNAME/CONNECTOR by default); under one msg_id_scope the
// second is a duplicate.
func TestSinkTwoAgentsNotDuplicates(t *testing.T) {
	ts := startServer(t, nil)
	st := ts.addStream("EV", "ev")
	b := conntest.NewBatch(t, 4, 256)
	conntest.Fill(t, b, 5, "tick")
	publish := func(name string, extra map[string]any) *Sink {
		cfg := map[string]any{"mode": "jetstream"}
		for k, v := range extra {
			cfg[k] = v
		}
		s, err := NewSink(sinkConfig(ts, cfg), conntest.Env(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		connect(t, s)
		write(t, s, b)
		return s
	}
	publish("agent1", nil)
	if s := publish("agent2", nil); counter(s, "duplicates") != 0 || streamMsgs(t, st) != 2 {
		t.Errorf("second agent: duplicates %d, stream %d messages; want 0 and 2", counter(s, "duplicates"), streamMsgs(t, st))
	}
	publish("agent3", map[string]any{"msg_id_scope": "fleet"})
	if s := publish("agent4", map[string]any{"msg_id_scope": "fleet"}); counter(s, "duplicates") != 1 || streamMsgs(t, st) != 3 {
		t.Errorf("same scope: duplicates %d, stream %d messages; want 1 and 3", counter(s, "duplicates"), streamMsgs(t, st))
	}
}

func TestSinkServerDownAtStart(t *testing.T) {
	ts := startServer(t, nil)
	ts.stop()
	s := newSink(t, sinkConfig(ts, map[string]any{"connect_timeout": "200ms"}))
	err := s.Connect(context.Background(), 1)
	if err == nil || errors.Is(err, connector.ErrPermanent) {
		t.Fatalf("Connect with the server down = %v; want a retryable error", err)
	}
	if !strings.Contains(err.Error(), ts.url()) {
		t.Errorf("error %q does not name the server", err)
	}
	ts.start()
	connect(t, s)
}

// TestSinkServerRestart publishes through a restart of the server: while
// it is away the sink answers RETRY, and once it is back every batch the
// sink acknowledged is in the stream.
func TestSinkServerRestart(t *testing.T) {
	ts := startServer(t, nil)
	st := ts.addStream("EV", "ev")
	s := newSink(t, sinkConfig(ts, map[string]any{"mode": "jetstream", "stream": "EV", "ack_timeout": "500ms"}))
	connect(t, s)
	b := conntest.NewBatch(t, 16, 1024)
	acked := 0
	sawRetry := false
	for batch := 0; batch < 30; batch++ {
		if batch == 10 {
			ts.stop()
		}
		if batch == 15 {
			ts.start()
		}
		fill(t, b, uint64(batch), batch*10, 10)
		for try := 0; ; try++ {
			stat, err := s.Write(b)
			if stat == cabi.OK {
				acked += 10
				break
			}
			if stat != cabi.Retry {
				t.Fatalf("batch %d: Write = %v, %v; want OK or RETRY", batch, stat, err)
			}
			sawRetry = true
			if batch >= 10 && batch < 15 {
				break // the server is down: the engine would back off
			}
			if try > 400 {
				t.Fatalf("batch %d: still RETRY after the server came back: %v", batch, err)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	if !sawRetry {
		t.Error("no RETRY while the server was down")
	}
	if counter(s, "retry_disconnected") == 0 || counter(s, "disconnects") == 0 || counter(s, "reconnects") == 0 {
		t.Errorf("counters after a restart: %+v", s.Counters())
	}
	// Read the stream back: every acknowledged event is there, once.
	seen := map[uint64]int{}
	_, js := ts.client()
	cons, err := js.OrderedConsumer(context.Background(), "EV", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	total := streamMsgs(t, st)
	for i := uint64(0); i < total; i++ {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := frame.ParseMeta(m.Headers().Get)
		seen[meta.StreamID]++
	}
	if len(seen) != acked {
		t.Errorf("stream holds %d distinct events; the sink acknowledged %d", len(seen), acked)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %d stored %d times", id, n)
		}
	}
}

func TestSinkAuthFailureIsPermanent(t *testing.T) {
	ts := startServer(t, func(o *server.Options) { o.Username, o.Password = "weir", "right" })
	dir := t.TempDir()
	pw := dir + "/pw"
	writeFile(t, pw, "wrong\n")
	s := newSink(t, sinkConfig(ts, map[string]any{"user": "weir", "password_file": pw}))
	err := s.Connect(context.Background(), 1)
	if !errors.Is(err, connector.ErrPermanent) || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("Connect with a wrong password = %v; want a permanent authorization error", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q shows the password", err)
	}
	writeFile(t, pw, "right\n")
	connect(t, s)
	// A missing password file is permanent too, and named.
	s2 := newSink(t, sinkConfig(ts, map[string]any{"user": "weir", "password_file": dir + "/missing"}))
	if err := s2.Connect(context.Background(), 1); !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("Connect with a missing password file = %v", err)
	}
}

func TestSinkUnknownStream(t *testing.T) {
	ts := startServer(t, nil)
	ts.addStream("EV", "ev")
	tests := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"mode": "jetstream", "stream": "NOPE"}, `stream "NOPE" not found`},
		{map[string]any{"mode": "jetstream", "subject": "other"}, `no jetstream stream captures subject "other"`},
		{map[string]any{"mode": "jetstream", "stream": "EV", "subject": "other"}, `does not capture`},
	}
	for _, tt := range tests {
		s := newSink(t, sinkConfig(ts, tt.cfg))
		err := s.Connect(context.Background(), 1)
		if !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Connect(%v) = %v; want a permanent error with %q", tt.cfg, err, tt.want)
		}
	}
}

func TestSinkOversize(t *testing.T) {
	ts := startServer(t, func(o *server.Options) { o.MaxPayload = 1024 })
	nc, _ := ts.client()
	for _, framing := range frame.Names {
		sub, _ := nc.SubscribeSync("ev")
		nc.Flush()
		s := newSink(t, sinkConfig(ts, map[string]any{"framing": framing}))
		connect(t, s)
		b := conntest.NewBatch(t, 4, 8192)
		conntest.Fill(t, b, 1, "small", strings.Repeat("x", 2000), "small2")
		if st, err := s.Write(b); st != cabi.OK {
			t.Fatalf("%s: Write = %v, %v", framing, st, err)
		}
		s.Drain()
		if d := counter(s, "dropped_oversize"); d != 1 {
			t.Errorf("%s: dropped_oversize = %d; want 1", framing, d)
		}
		n := 0
		for {
			m, err := sub.NextMsg(300 * time.Millisecond)
			if err != nil {
				break
			}
			if framing == frame.Batch {
				c, _ := frame.Count(m.Data)
				n += c
			} else {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%s: %d events arrived; want the 2 small ones", framing, n)
		}
		sub.Unsubscribe()
	}
}

func TestSinkConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "subject"},
		{`{"subject":"x","url":"nats://u:secret@h:4222"}`, "credentials in the URL"},
		{`{"subject":"x","url":"nats://u:s%zzsecret@h:4222"}`, "nats://REDACTED@h:4222"},
		{`{"subject":"x","url":"nats://u:p/secret@h:4222"}`, "nats://REDACTED@h:4222"},
		{`{"subject":"x","url":"nats://a:4222,nats://u:p#secret@h:4222"}`, "nats://REDACTED@h:4222"},
		{`{"subject":"x","password":"p"}`, "password needs user"},
		{`{"subject":"x","user":"u","password":"p","password_file":"f"}`, "give one of them"},
		{`{"subject":"x","stream":"S"}`, "mode jetstream"},
		{`{"subject":"x","tls":{"cert_file":"c"}}`, "go together"},
		{`{"subject":"x","framing":"lines"}`, "framing"},
		{`{"subject":"ev x"}`, "whitespace at byte 2"},
		{`{"subject":"ev\tx"}`, "whitespace"},
		{`{"subject":"ev.*"}`, "token 2 is the wildcard *"},
		{`{"subject":">"}`, "token 1 is the wildcard >"},
		{`{"subject":"ev..x"}`, "token 2 is empty"},
		{`{"subject":"ev."}`, "token 2 is empty"},
	}
	for _, tt := range tests {
		_, err := NewSink([]byte(tt.cfg), conntest.Env("out"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSink(%s) = %v; want an error with %q", tt.cfg, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("NewSink(%s) error %q shows a secret", tt.cfg, err)
		}
	}
}

func TestSinkCloseWithoutConnect(t *testing.T) {
	s, err := NewSink([]byte(`{"subject":"x"}`), conntest.Env("out"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Write(conntest.NewBatch(t, 1, 1)); st != cabi.Error {
		t.Errorf("Write before Connect = %v; want ERROR", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

var _ = nats.DefaultURL
