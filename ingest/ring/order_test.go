package ring

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/ring/internal/ringfill"
)

// seqTime is a Describer that stamps each ringfill record with its
// sequence number as its time, plus shift.
func seqTime(shift uint64) Describer {
	return func(rec []byte, ev *cabi.Event) bool {
		ev.TsNs = binary.LittleEndian.Uint64(rec) + shift
		return true
	}
}

// TestOrderedRead fills two rings with records whose times interleave and
// checks that ordered reads hand out every record once, in time order
// across batches, also when a batch fills before the rings are empty.
func TestOrderedRead(t *testing.T) {
	a, fa := newRing(t, 1<<16)
	b, fb := newRing(t, 1<<16)
	fill(t, fa, ringfill.Args{Count: 50, Mixed: 1, DiscardEvery: 7})
	fill(t, fb, ringfill.Args{Count: 30})
	r := newReader(t, []*ebpf.Map{a, b}, Options{Describe: seqTime(0)})
	r.SetOrder(0)
	batch := newBatch(t, 7)
	var got []uint64
	for range 100 {
		n, err := r.Read(batch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		for _, ev := range batch.EventSlice() {
			got = append(got, binary.LittleEndian.Uint64(ev.Bytes()))
		}
		if err := r.Release(batch); err != nil {
			t.Fatal(err)
		}
	}
	want := 50 - 8 + 30 // ringfill discards records 0, 7, ... 49
	if len(got) != want {
		t.Fatalf("read %d records; want %d", len(got), want)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("record %d has time %d after %d: not in time order: %v", i, got[i], got[i-1], got)
		}
	}
	if s := r.Stats(); s.Records != uint64(want) || s.Discarded != 8 {
		t.Errorf("stats %+v; want %d records, 8 discarded", s, want)
	}
}

// TestOrderWindowHolds checks that records younger than the window stay in
// the rings, and that a window of 0 (a drain) hands them out.
func TestOrderWindowHolds(t *testing.T) {
	a, fa := newRing(t, 1<<16)
	fill(t, fa, ringfill.Args{Count: 5})
	// Stamped an hour ahead of CLOCK_MONOTONIC: always too young.
	r := newReader(t, []*ebpf.Map{a}, Options{Describe: seqTime(monoNow() + uint64(time.Hour))})
	r.SetOrder(time.Millisecond)
	batch := newBatch(t, 16)
	if n, err := r.Read(batch, 20*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Read with every record inside the window = %d, %v; want 0, nil", n, err)
	}
	r.SetOrder(0)
	if n, err := r.Read(batch, 0); n != 5 || err != nil {
		t.Fatalf("Read after SetOrder(0) = %d, %v; want 5, nil", n, err)
	}
	if err := r.Release(batch); err != nil {
		t.Fatal(err)
	}
}

func monoNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
