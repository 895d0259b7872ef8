package kafka

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func newSource(t *testing.T, c *cluster, extra map[string]any) *Source {
	t.Helper()
	s, err := NewSource(cfgJSON(map[string]any{"brokers": []string{c.addr()}, "topics": []string{"ev"}, "group": "g", "commit_interval": "100ms"}, extra), conntest.Env("in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pollN polls until n events came or 15 s passed.
func pollN(t *testing.T, s *Source, b *cabi.Batch, n int, id *uint64) (ids []uint64, got []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d events in 15s; want %d", len(got), n)
		}
		b.Reset()
		*id++
		b.ID = *id
		st, err := s.Poll(b, 200*time.Millisecond)
		if st != cabi.OK && st != cabi.Timeout {
			t.Fatalf("Poll = %v, %v", st, err)
		}
		if b.Len > 0 {
			ids = append(ids, b.ID)
		}
		for _, e := range b.EventSlice() {
			got = append(got, string(e.Bytes()))
		}
	}
	return ids, got
}

// TestSourceCommitsAfterAck: offsets are committed only for acknowledged
// events; a failed batch's records are read again; a new member of the
// group starts after the last acknowledged record.
func TestSourceCommitsAfterAck(t *testing.T) {
	c := startCluster(t)
	// One partition keeps the order simple to check.
	sk := newSink(t, c, map[string]any{"framing": "batch", "max_frame": 200, "key": "stream"})
	connect(t, sk)
	b := conntest.NewBatch(t, 60, 8192)
	fill(t, b, 4, 0, 60, 1) // one stream: one partition
	write(t, sk, b)

	src := newSource(t, c, nil)
	connect(t, src)
	pb := conntest.NewBatch(t, 16, 4096)
	var id uint64
	ids, got := pollN(t, src, pb, 60, &id)
	for i, g := range got {
		if g != fmt.Sprintf("ev-%d", i) {
			t.Fatalf("event %d = %q", i, g)
		}
	}
	// Acknowledge the first two batches (32 events); fail the third.
	src.Ack(ids[0])
	src.Ack(ids[1])
	src.Fail(ids[2])
	if counter(src, "rewinds") != 1 {
		t.Fatalf("rewinds = %d; want 1", counter(src, "rewinds"))
	}
	// The failed records come again, from the first one not acknowledged.
	_, again := pollN(t, src, pb, 1, &id)
	var first int
	fmt.Sscanf(again[0], "ev-%d", &first)
	if first > 32 || first < 25 {
		t.Errorf("after the rewind the first event is %q; want one of the frame holding ev-32", again[0])
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	// A new member starts after the last committed record: nothing of the
	// first 25 events (whole frames acknowledged) comes again.
	src2 := newSource(t, c, nil)
	connect(t, src2)
	_, rest := pollN(t, src2, pb, 60-first, &id)
	sort.Strings(rest)
	for _, g := range rest {
		var i int
		fmt.Sscanf(g, "ev-%d", &i)
		if i < first {
			t.Errorf("new member read %q again, before the committed offset (first unacknowledged event ev-%d)", g, first)
		}
	}
}
