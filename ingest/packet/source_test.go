package packet

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
)

func TestSourceSpec(t *testing.T) {
	if err := SourceSpec.Check(); err != nil {
		t.Fatal(err)
	}
	typ, ok := connector.Default.Lookup("packet")
	if !ok || !typ.Unpausable || typ.Roles != connector.RoleSource {
		t.Fatalf("packet type = %+v, %v; want a registered unpausable source", typ, ok)
	}
}

func TestNewSourceErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{`{}`, "interfaces"},
		{`{"interfaces": ["lo"], "filter": "udp"}`, "not supported yet"},
		{`{"interfaces": ["lo"], "mode": "xdp", "direction": "out"}`, "XDP sees only received packets"},
		{`{"interfaces": ["lo"], "ring_size": 5000}`, "ring size 5000"},
		{`{"interfaces": ["lo"], "sample": 0}`, "sample"},
		{`{"interfaces": ["lo"], "bogus": 1}`, "bogus"},
	} {
		_, err := NewSource([]byte(tc.config), connector.Env{Name: "p"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSource(%s) = %v; want an error mentioning %q", tc.config, err, tc.want)
		}
	}
}

// TestSourceDirectionDefault: the default direction follows the mode, so
// an xdp source without a direction is valid and captures ingress.
func TestSourceDirectionDefault(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   Direction
	}{
		{`{"interfaces": ["lo"]}`, DirectionBoth},
		{`{"interfaces": ["lo"], "mode": "xdp"}`, DirectionIn},
		{`{"interfaces": ["lo"], "mode": "tc", "direction": "out"}`, DirectionOut},
	} {
		s, err := NewSource([]byte(tc.config), connector.Env{Name: "p"})
		if err != nil || s.cfg.Direction != tc.want {
			t.Errorf("NewSource(%s) direction = %v, %v; want %v", tc.config, s, err, tc.want)
			continue
		}
		s.Close()
	}
}

func TestOpenUnknownInterface(t *testing.T) {
	_, err := Open(Config{Interfaces: []string{"lo", "nosuch0"}})
	if !errors.Is(err, ErrNoInterface) || !strings.Contains(err.Error(), `interface "nosuch0"`) || !strings.Contains(err.Error(), "lo") {
		t.Fatalf("Open(nosuch0) = %v; want ErrNoInterface naming nosuch0 and listing lo", err)
	}
}

// connectedSource makes a packet source capturing egress on a new veth
// pair, from inside the pair's first namespace, and connects it. It is
// closed when the test ends.
func connectedSource(t *testing.T) (*vethPair, *Source) {
	t.Helper()
	v := newVethPair(t)
	enterNetns(t, v.ns1)
	s, err := NewSource([]byte(`{"interfaces": ["`+v.dev1+`"], "direction": "out", "snaplen": 128, "ring_size": "64KiB"}`), connector.Env{Name: "pkt"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Connect(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return v, s
}

// TestSourcePoll runs the connector through its lifecycle on a veth pair and
// checks that Poll delivers the test traffic as packet events.
func TestSourcePoll(t *testing.T) {
	v, s := connectedSource(t)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, v.addr2, "weir-src", 4)
	b, err := cabi.AllocBatch(8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	found := 0
	deadline := time.Now().Add(3 * time.Second)
	for found < 4 && time.Now().Before(deadline) {
		b.Reset()
		st, err := s.Poll(b, 50*time.Millisecond)
		if st == cabi.Error {
			t.Fatal(err)
		}
		for _, ev := range b.EventSlice() {
			h, data, err := Decode(ev.Bytes())
			if err != nil || ev.Kind != cabi.KindPacket {
				t.Fatalf("event %+v: %v", ev, err)
			}
			if h.Direction == RecordEgress && bytes.Contains(data, []byte("weir-src")) {
				found++
			}
		}
	}
	if found != 4 {
		t.Errorf("polled %d test datagrams; want 4", found)
	}
	if err := s.Drain(); err != nil {
		t.Fatal(err)
	}
	k, err := s.Counters()
	if err != nil || k.Emitted < 4 || k.Seen != k.Filtered+k.SampledOut+k.Emitted+k.RingFull {
		t.Errorf("counters %+v, %v", k, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSourceDrain checks that Drain stops intake: Poll hands over what the
// rings held, then answers EOF, and traffic after Drain is not seen.
func TestSourceDrain(t *testing.T) {
	v, s := connectedSource(t)
	sendUDP(t, v.addr2, "weir-drain", 4)
	if err := s.Drain(); err != nil {
		t.Fatal(err)
	}
	before, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	sendUDP(t, v.addr2, "weir-after", 4)
	b, err := cabi.AllocBatch(8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	var got uint64
	st := cabi.OK
	for polls := 0; st == cabi.OK && polls < 100; polls++ {
		b.Reset()
		if st, err = s.Poll(b, time.Second); st == cabi.Error {
			t.Fatal(err)
		}
		for _, ev := range b.EventSlice() {
			if bytes.Contains(ev.Bytes(), []byte("weir-after")) {
				t.Errorf("captured a datagram sent after Drain")
			}
		}
		got += uint64(b.Len)
	}
	if st != cabi.EOF {
		t.Fatalf("Poll after Drain ended with %v; want EOF", st)
	}
	after, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if after.Seen != before.Seen || got != after.Emitted || got < 4 {
		t.Fatalf("after Drain: seen %d -> %d, polled %d of %d emitted; want seen unchanged and every emitted record (at least 4) polled", before.Seen, after.Seen, got, after.Emitted)
	}
}
