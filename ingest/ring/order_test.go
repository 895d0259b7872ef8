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

// TestOrderedWrap merges two small rings that are filled past their end
// (records wrap around, and some fills find the ring full), with discarded
// records and records the Describer refuses, reading in batches of
// different sizes with up to two in flight, so that the ring memory comes
// back late. Every record handed out must come once, in time order within
// a round and in sequence within its ring, byte-exact, and none that was
// discarded or refused; with the stats and the fills' ring-full count,
// every record numbered must be accounted for.
func TestOrderedWrap(t *testing.T) {
	const size = 16384
	ma, fa := newRing(t, size)
	mb, fb := newRing(t, size)
	refused := func(seq uint64) bool { return seq%11 == 3 }
	r := newReader(t, []*ebpf.Map{ma, mb}, Options{Describe: func(rec []byte, ev *cabi.Event) bool {
		seq := binary.LittleEndian.Uint64(rec)
		ev.TsNs = seq
		return !refused(seq)
	}})
	r.SetOrder(0)
	batches := []*cabi.Batch{newBatch(t, 7), newBatch(t, 5), newBatch(t, 13)}
	var inflight []*cabi.Batch
	ringOf := func(ev cabi.Event) int {
		for i, rg := range r.rings {
			if p, lo := uintptr(ev.Data), uintptr(rg.data); p >= lo && p < lo+2*size {
				return i
			}
		}
		t.Fatalf("event at %p points into no ring", ev.Data)
		return -1
	}
	var next [2]uint64 // the lowest seq each ring may hand out next
	var read uint64
	for round := range 60 {
		for i, f := range []*ringfill.Filler{fa, fb} {
			fill(t, f, ringfill.Args{Count: uint32(10 + (round*37+i*13)%400), Mixed: 1, DiscardEvery: 5})
		}
		var last uint64
		for k := 0; ; k++ {
			if k == 1000 {
				t.Fatalf("round %d: the rings never ran dry", round)
			}
			b := batches[k%len(batches)]
			for len(inflight) == 2 || len(inflight) > 0 && inflight[0] == b {
				if err := r.Release(inflight[0]); err != nil {
					t.Fatal(err)
				}
				inflight = inflight[1:]
			}
			n, err := r.Read(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			for _, ev := range b.EventSlice() {
				seq := binary.LittleEndian.Uint64(ev.Bytes())
				if seq < last {
					t.Fatalf("round %d: record %d after %d: not in time order", round, seq, last)
				}
				last = seq
				i := ringOf(ev)
				if seq < next[i] || seq%5 == 0 || refused(seq) {
					t.Fatalf("round %d: ring %d handed out record %d (next %d): again, discarded or refused", round, i, seq, next[i])
				}
				next[i] = seq + 1
				checkRecord(t, ev, seq, true)
				read++
			}
			inflight = append(inflight, b)
		}
	}
	for _, b := range inflight {
		if err := r.Release(b); err != nil {
			t.Fatal(err)
		}
	}
	// Every record numbered was handed out, discarded, refused or not
	// written for want of room.
	var numbered, full uint64
	for _, f := range []*ringfill.Filler{fa, fb} {
		seq, err := f.Seq()
		if err != nil {
			t.Fatal(err)
		}
		n, err := f.Full()
		if err != nil {
			t.Fatal(err)
		}
		numbered += seq
		full += n
	}
	if full == 0 {
		t.Error("no fill found a ring full; the test wants some")
	}
	if st := r.Stats(); st.Records != read || st.Discarded == 0 || st.Rejected == 0 || read+st.Discarded+st.Rejected+full != numbered {
		t.Errorf("stats %+v, %d ring full; want %d records, some discarded and refused, adding up to the %d numbered",
			st, full, read, numbered)
	}
}

// TestSetOrderBack reads merged by time, goes back to ring order
// (SetOrder(-1)) while a ring's next record waits as the merge's head,
// reads the rest, then merges again: every record must come once. The
// head, kept across the switch, used to be handed out again, and its
// ring's read position set back to the record after it, so records the
// ring-order reads had handed out (and given back to the producer) came
// a second time.
func TestSetOrderBack(t *testing.T) {
	a, fa := newRing(t, 1<<16)
	b, fb := newRing(t, 1<<16)
	fill(t, fa, ringfill.Args{Count: 10})
	fill(t, fb, ringfill.Args{Count: 10})
	r := newReader(t, []*ebpf.Map{a, b}, Options{Describe: seqTime(0)})
	r.SetOrder(0)
	batch := newBatch(t, 3)
	got := 0
	readAll := func() {
		t.Helper()
		for range 100 {
			n, err := r.Read(batch, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			got += n
			if err := r.Release(batch); err != nil {
				t.Fatal(err)
			}
			if got == 3 {
				// One ring's next record is the merge's head now.
				r.SetOrder(-1)
			}
		}
		t.Fatal("the rings never ran dry")
	}
	readAll()
	r.SetOrder(0)
	fill(t, fa, ringfill.Args{Count: 2})
	readAll()
	if got != 22 {
		t.Errorf("read %d records; want the 22 written", got)
	}
	if s := r.Stats(); s.Records != 22 {
		t.Errorf("Stats().Records = %d; want 22", s.Records)
	}
}
