// Package conntest holds what the built-in connectors' tests share:
// off-heap batches, environments, golden files and a leak-checking
// TestMain.
package conntest

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/internal/leakcheck"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// NewBatch allocates an off-heap batch freed when the test ends.
func NewBatch(t testing.TB, capacity, arena int) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(capacity, arena)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	return b
}

// Fill sets b to text events with the given payloads, all stamped ts, with
// stream IDs counting from 0.
func Fill(t testing.TB, b *cabi.Batch, ts uint64, payloads ...string) {
	t.Helper()
	b.Reset()
	for i, p := range payloads {
		if !b.Append(ts, uint64(i), cabi.KindText, 0, []byte(p)) {
			t.Fatalf("batch full at event %d", i)
		}
	}
}

// Env returns an environment for an instance called name.
func Env(name string) connector.Env {
	return connector.Env{Name: name, Wakeup: func() {}}
}

// Main runs the tests and fails the run when they leak file descriptors (a
// file left open) or goroutines (an engine not shut down).
func Main(m *testing.M) {
	leakcheck.Main(m, leakcheck.Options{FDs: true, Goroutines: true})
}

// Golden compares got with testdata/name, or rewrites it under -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// GoldenBatch is the batch every sink golden test writes.
func GoldenBatch(t *testing.T) *cabi.Batch {
	b := NewBatch(t, 8, 1024)
	b.Append(1700000000000000000, 7, cabi.KindText, 0, []byte("hello world"))
	b.Append(1700000000000000001, 0, cabi.KindJSON, cabi.FlagTruncated, []byte(`{"k":"v\n"}`))
	b.Append(1700000000000000002, 1, 0x8001, 0, []byte{0, 1, 0xff})
	b.Append(1700000000000000003, 2, cabi.KindTick, 0, nil)
	return b
}

// PollAll polls s into b until EOF, at most limit times, returning the
// events and their payloads.
func PollAll(t *testing.T, s interface {
	Poll(*cabi.Batch, time.Duration) (cabi.Status, error)
}, b *cabi.Batch, limit int) (payloads []string, events []cabi.Event) {
	t.Helper()
	for i := 0; i < limit; i++ {
		b.Reset()
		st, err := s.Poll(b, 10*time.Millisecond)
		if err != nil {
			t.Fatalf("Poll error: %v", err)
		}
		for _, e := range b.EventSlice() {
			payloads = append(payloads, string(e.Bytes()))
			events = append(events, e)
		}
		if st == cabi.EOF {
			return payloads, events
		}
		if st != cabi.OK && st != cabi.Timeout {
			t.Fatalf("Poll = %v", st)
		}
	}
	t.Fatalf("no EOF after %d polls", limit)
	return nil, nil
}

// RawFile is records in the length-prefixed raw event file format.
func RawFile(records ...string) []byte {
	var b []byte
	for _, r := range records {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}
