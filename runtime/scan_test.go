package runtime

import (
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// scanBatch returns a batch of n events of 64 bytes each, their bytes in
// the batch's arena when in is set, else in memory outside it, as a
// lending source's.
func scanBatch(t testing.TB, n int, in bool) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(n, n*64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	lent := make([]byte, n*64)
	for i := range n {
		if in {
			b.Append(uint64(i), 0, cabi.KindRaw, 0, lent[i*64:(i+1)*64])
			continue
		}
		b.Slots()[i] = cabi.Event{TsNs: uint64(i), Data: unsafe.Pointer(&lent[i*64]), Len: 64, Kind: cabi.KindRaw}
		b.Len++
	}
	return b
}

// TestScan checks scan's byte sum and its verdict on where the bytes live,
// with the one event outside the arena first, in the middle or last, and
// with events of no bytes, which live nowhere.
func TestScan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outside int // index of the one event lent from outside; -1: none
	}{{"all in arena", -1}, {"first outside", 0}, {"middle outside", 5}, {"last outside", 9}} {
		b := scanBatch(t, 10, true)
		b.Append(99, 0, cabi.KindRaw, 0, nil) // no bytes: Data nil
		if tc.outside >= 0 {
			lent := make([]byte, 64)
			b.EventSlice()[tc.outside].Data = unsafe.Pointer(&lent[0])
		}
		bytes, inArena := scan(b)
		if bytes != 640 || inArena != (tc.outside < 0) {
			t.Errorf("%s: scan = %d, %v; want 640, %v", tc.name, bytes, inArena, tc.outside < 0)
		}
	}
	b := scanBatch(t, 4, true)
	b.EventSlice()[3].Len = 65 // the last: runs past the arena's end
	if _, inArena := scan(b); inArena {
		t.Error("scan of an event running past the arena's end = in arena; want not")
	}
}

// BenchmarkScan measures scan per event on a 4096-event batch: lent, as
// the packet source's point into the kernel rings, and in the arena.
func BenchmarkScan(b *testing.B) {
	for _, in := range []bool{false, true} {
		name := map[bool]string{false: "lent", true: "arena"}[in]
		b.Run(name, func(b *testing.B) {
			batch := scanBatch(b, 4096, in)
			for b.Loop() {
				if _, inArena := scan(batch); inArena != in {
					b.Fatalf("scan says in arena %v; want %v", inArena, in)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/4096, "ns/event")
		})
	}
}
