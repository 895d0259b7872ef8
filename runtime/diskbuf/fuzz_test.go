package diskbuf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirproject/weir/cabi"
)

// seedSegment returns the bytes of a segment holding records 0..n-1.
func seedSegment(f *testing.F, n int) []byte {
	dir := f.TempDir()
	b, err := Open(Options{Dir: dir, MaxSize: 1 << 20, Policy: SyncNever, Log: quiet})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < n; i++ {
		b.Append(payload(i), uint32(i%5))
	}
	b.Close()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	data, _ := os.ReadFile(m[len(m)-1])
	return data
}

// FuzzSegment opens a buffer whose one segment file holds arbitrary bytes:
// Open must succeed, and every record it replays must be one whose
// checksum holds, read back unchanged.
func FuzzSegment(f *testing.F) {
	good := seedSegment(f, 4)
	f.Add(good)
	f.Add(good[:len(good)-5])
	flipped := append([]byte(nil), good...)
	flipped[30] ^= 4
	f.Add(flipped)
	f.Add(append(bytes.Repeat([]byte("WRB1"), 10), good...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		name := filepath.Join(dir, "00000000000000000001"+segSuffix)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := Open(Options{Dir: dir, MaxSize: 1 << 30, Policy: SyncNever, Log: quiet})
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		defer b.Close()
		st := b.Stats()
		if st.TornBytes+st.CorruptBytes > uint64(len(data)) {
			t.Fatalf("torn %d + corrupt %d > %d bytes", st.TornBytes, st.CorruptBytes, len(data))
		}
		var prev uint64
		for n := uint64(0); ; n++ {
			r, ok, err := b.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				if n != st.Replayed {
					t.Fatalf("read %d records; Open said %d", n, st.Replayed)
				}
				break
			}
			if r.Damaged || r.Seq <= prev {
				t.Fatalf("record %+v after seq %d", r, prev)
			}
			prev = r.Seq
			b.Settle(r.Seq)
		}
		if _, err := b.Append([]byte("after"), 1); err != nil {
			t.Fatalf("Append after recovery = %v", err)
		}
	})
}

// FuzzPayload checks that Measure refuses what Decode cannot take whole,
// and that what Measure accepts decodes into a batch and encodes back to
// the same bytes.
func FuzzPayload(f *testing.F) {
	b, _ := cabi.AllocBatch(4, 64)
	b.Append(1, 2, cabi.Kind(3), 4, []byte("hello"))
	b.Append(5, 6, cabi.Kind(7), 8, nil)
	f.Add(Encode(nil, b), uint32(2))
	cabi.FreeBatch(b)
	f.Add([]byte{1, 2, 3}, uint32(1))
	f.Fuzz(func(t *testing.T, p []byte, events uint32) {
		n, err := Measure(p, events)
		if err != nil {
			return
		}
		if events > 4096 || n > 1<<20 {
			return
		}
		b, err := cabi.AllocBatch(max(int(events), 1), n)
		if err != nil {
			t.Fatal(err)
		}
		defer cabi.FreeBatch(b)
		if !Decode(b, p) || b.Len != events {
			t.Fatalf("Decode of a payload Measure accepted (%d events, %d bytes) failed: %d events", events, n, b.Len)
		}
		if out := Encode(nil, b); !bytes.Equal(out, p) {
			t.Fatalf("Encode(Decode(p)) = %x; want %x", out, p)
		}
	})
}
