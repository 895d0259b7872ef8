package packet

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

func TestOpenUnknownInterface(t *testing.T) {
	_, err := Open(Config{Interfaces: []string{"lo", "nosuch0"}})
	if !errors.Is(err, ErrNoInterface) || !strings.Contains(err.Error(), `interface "nosuch0"`) || !strings.Contains(err.Error(), "lo") {
		t.Fatalf("Open(nosuch0) = %v; want ErrNoInterface naming nosuch0 and listing lo", err)
	}
}

// egressCapture opens a capture of egress on a new veth pair, from inside
// the pair's first namespace. It is closed when the test ends.
func egressCapture(t *testing.T) (*vethPair, *Capture) {
	t.Helper()
	v := newVethPair(t)
	enterNetns(t, v.ns1)
	s, err := Open(Config{Interfaces: []string{v.dev1}, Direction: DirectionOut, Snaplen: 128, RingSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return v, s
}

// TestCapturePoll checks on a veth pair that Poll delivers the test traffic as packet events.
func TestCapturePoll(t *testing.T) {
	v, s := egressCapture(t)
	sendUDP(t, v.addr2, "weir-src", 4)
	b, err := cabi.AllocBatch(8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	found := 0
	deadline := time.Now().Add(20 * time.Second) // ends when all 4 came
	for found < 4 && time.Now().Before(deadline) {
		b.Reset()
		if _, err := s.Poll(b, 50*time.Millisecond); err != nil {
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

// TestCaptureDrain checks that Drain stops intake: Poll hands over what the
// rings held, then answers EOF, and traffic after Drain is not seen.
func TestCaptureDrain(t *testing.T) {
	v, s := egressCapture(t)
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
	for polls := 0; err == nil && polls < 100; polls++ {
		b.Reset()
		if _, err = s.Poll(b, time.Second); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		for _, ev := range b.EventSlice() {
			if bytes.Contains(ev.Bytes(), []byte("weir-after")) {
				t.Errorf("captured a datagram sent after Drain")
			}
		}
		got += uint64(b.Len)
	}
	if err != io.EOF {
		t.Fatalf("Poll after Drain ended with %v; want io.EOF", err)
	}
	after, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if after.Seen != before.Seen || got != after.Emitted || got < 4 {
		t.Fatalf("after Drain: seen %d -> %d, polled %d of %d emitted; want seen unchanged and every emitted record (at least 4) polled", before.Seen, after.Seen, got, after.Emitted)
	}
}
