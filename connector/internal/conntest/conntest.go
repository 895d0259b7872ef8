// Package conntest holds what the built-in connectors' tests share:
// off-heap batches, environments, golden files and a leak-checking
// TestMain.
package conntest

import (
	"bytes"
	"encoding/binary"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/ingest/packet"
	"github.com/weirproject/weir/ingest/pktfmt"
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

// Updating reports whether the tests run with -update, for golden files
// that Golden cannot compare (binary ones).
func Updating() bool { return *update }

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
func GoldenBatch(t testing.TB) *cabi.Batch {
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

// Frame returns an Ethernet/IPv4/UDP frame of n bytes (n >= 42), from
// 10.1.0.1 port 40000 to 10.1.0.2 port 9, whose payload bytes are seed.
func Frame(n int, seed byte) []byte {
	b := make([]byte, n)
	copy(b, []byte{
		0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
		0x45, 0, byte((n - 14) >> 8), byte(n - 14), 0, 1, 0x40, 0, 64, 17, 0, 0, // IPv4
		10, 1, 0, 1, 10, 1, 0, 2,
		0x9c, 0x40, 0, 9, byte((n - 34) >> 8), byte(n - 34), 0, 0, // UDP
	})
	for i := 42; i < n; i++ {
		b[i] = seed
	}
	return b
}

// PacketRecord returns the bytes of a packet event as the packet source
// emits them: a record header for a frame of origLen bytes that came in on
// interface ifindex, then the captured bytes.
func PacketRecord(ifindex uint32, data []byte, origLen int) []byte {
	h := packet.Header{
		RecordHeader: cabi.RecordHeader{
			Type: cabi.RecordPacket, Version: cabi.PacketRecordVersion, Clock: cabi.ClockMonotonic,
			Size: uint32(packet.HeaderSize + len(data)),
		},
		Ifindex: ifindex,
		OrigLen: uint32(origLen), CapLen: uint32(len(data)), SampleRate: 1,
		Direction: packet.RecordIngress, Hook: packet.HookXDP,
	}
	rec := make([]byte, packet.HeaderSize, packet.HeaderSize+len(data))
	copy(rec, unsafe.Slice((*byte)(unsafe.Pointer(&h)), packet.HeaderSize))
	return append(rec, data...)
}

// UnknownIfindex is an interface index no test host has.
const UnknownIfindex = 999999

// PacketBatch is the batch the packet golden tests write: two packets on
// the loopback interface (index 1), one of them truncated, one on
// UnknownIfindex, then a text event and a packet event too short for its
// header, which packet sinks reject. It skips the test when interface 1 is
// not lo, and sets pktfmt.Location to UTC, so that golden text does not
// depend on the host.
func PacketBatch(t testing.TB) *cabi.Batch {
	t.Helper()
	if lo, err := net.InterfaceByIndex(1); err != nil || lo.Name != "lo" {
		t.Skipf("skipping: interface 1 is not lo (%v); the golden files name it", err)
	}
	pktfmt.Location = time.UTC
	b := NewBatch(t, 8, 4096)
	for i, rec := range [][]byte{
		PacketRecord(1, Frame(60, 1), 60),
		PacketRecord(1, Frame(1514, 2)[:96], 1514),
		PacketRecord(UnknownIfindex, Frame(42, 3), 42),
	} {
		b.Append(1700000000000000000+uint64(i)*1001, 0, cabi.KindPacket, 0, rec)
	}
	b.Append(1700000000000010000, 0, cabi.KindText, 0, []byte("hello"))
	b.Append(1700000000000020000, 0, cabi.KindPacket, 0, []byte("short"))
	return b
}
