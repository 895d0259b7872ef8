package ring

import (
	"bytes"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/ingest/ring/internal/ringfill"
)

// checkPayload compares a record's payload with that of record seq.
func checkPayload(t *testing.T, rec []byte, seq uint64, mixed bool) {
	t.Helper()
	want := ringfill.Payload(seq, mixed)
	n := ringfill.Written(seq, mixed)
	if len(rec) != len(want) || !bytes.Equal(rec[:n], want[:n]) {
		t.Fatalf("record %d: got %d bytes %x\nwant %d bytes %x", seq, len(rec), rec[:min(n, len(rec))], len(want), want[:n])
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(rec)))%8 != 0 {
		t.Fatalf("record %d is not 8-byte aligned", seq)
	}
}

// TestConsume fills a small ring over and over, so records wrap around its
// end, and checks that Consume shows every record byte-exact and in order,
// skips and counts discarded ones, and gives the memory back before it
// returns.
func TestConsume(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	seq := uint64(0)
	for round := 0; round < 20; round++ {
		fill(t, f, ringfill.Args{Count: 60, Mixed: 1, DiscardEvery: 4})
		var got int
		n, err := r.Consume(func(rec []byte) bool {
			if seq%4 == 0 {
				seq++ // discarded by the filler
			}
			checkPayload(t, rec, seq, true)
			seq++
			got++
			return true
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n != 45 || got != 45 {
			t.Fatalf("round %d: Consume = %d after %d calls; want 45 of 60 with every fourth discarded", round, n, got)
		}
		if cons, prod := positions(r, 0); cons != prod {
			t.Fatalf("round %d: consumer %d != producer %d after Consume", round, cons, prod)
		}
	}
	if cons, _ := positions(r, 0); cons < 3*16384 {
		t.Errorf("consumer position %d: the test never wrapped the ring", cons)
	}
	if s := r.Stats(); s.Records != 900 || s.Discarded != 300 || s.Batches != 0 {
		t.Errorf("stats %+v; want 900 records, 300 discarded, no batches", s)
	}
}

// TestConsumeStop checks that a record fn refuses stays in the ring for the
// next call, and that the ones before it are given back.
func TestConsumeStop(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	fill(t, f, ringfill.Args{Count: 10})
	seq := uint64(0)
	take := func(limit uint64) func(rec []byte) bool {
		return func(rec []byte) bool {
			if seq == limit {
				return false
			}
			checkPayload(t, rec, seq, false)
			seq++
			return true
		}
	}
	if n, err := r.Consume(take(3), 0); n != 3 || err != nil {
		t.Fatalf("Consume stopping at record 3 = %d, %v; want 3, nil", n, err)
	}
	cons, prod := positions(r, 0)
	if want := prod - 7*(64+recHdrSize); cons != want {
		t.Fatalf("consumer at %d; want %d, before the 7 records left", cons, want)
	}
	// A timeout no run reaches: returning well before it is returning at
	// once, however busy the machine.
	start := time.Now()
	if n, err := r.Consume(take(3), time.Minute); n != 0 || err != nil {
		t.Fatalf("Consume refusing the first record = %d, %v; want 0, nil at once", n, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Consume refusing the first record took %v; want it to return at once, not wait out its timeout", d)
	}
	if n, err := r.Consume(take(100), 0); n != 7 || err != nil {
		t.Fatalf("Consume after the stop = %d, %v; want the 7 records left", n, err)
	}
	if s := r.Stats(); s.Records != 10 {
		t.Errorf("stats %+v; want 10 records", s)
	}
}

// TestConsumeBehindBatch checks that records consumed while a batch is in
// flight are given back with that batch, never before it.
func TestConsumeBehindBatch(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b := newBatch(t, 4)
	fill(t, f, ringfill.Args{Count: 10})
	if n, err := r.Read(b, 0); n != 4 || err != nil {
		t.Fatalf("Read = %d, %v; want 4", n, err)
	}
	before, _ := positions(r, 0)
	seq := uint64(4)
	n, err := r.Consume(func(rec []byte) bool { checkPayload(t, rec, seq, false); seq++; return true }, 0)
	if n != 6 || err != nil {
		t.Fatalf("Consume = %d, %v; want the 6 records after the batch", n, err)
	}
	if cons, _ := positions(r, 0); cons != before {
		t.Fatalf("Consume moved the consumer from %d to %d under a batch in flight", before, cons)
	}
	if err := r.Release(b); err != nil {
		t.Fatal(err)
	}
	if cons, prod := positions(r, 0); cons != prod {
		t.Fatalf("after Release consumer %d != producer %d", cons, prod)
	}
}

// TestConsumeGivesBackAsItGoes checks that a long pass hands memory back
// every Options.GiveBack bytes when no batch is in flight, and holds all
// of it while one is.
func TestConsumeGivesBackAsItGoes(t *testing.T) {
	const step, records, recSize = 16 << 10, 2000, 64 + recHdrSize
	m, f := newRing(t, 1<<20)
	r, err := NewReader([]*ebpf.Map{m}, Options{GiveBack: step})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, inFlight := range []bool{false, true} {
		fill(t, f, ringfill.Args{Count: records})
		b := newBatch(t, 1)
		if inFlight {
			if n, err := r.Read(b, 0); n != 1 || err != nil {
				t.Fatalf("Read = %d, %v; want 1", n, err)
			}
		}
		start, _ := positions(r, 0)
		var i, moves uint64
		last := start
		n, err := r.Consume(func(rec []byte) bool {
			cons, _ := positions(r, 0)
			read := start + i*recSize // position of this record
			if inFlight {
				read += recSize // the batch holds the first one
			}
			switch {
			case cons > read:
				t.Fatalf("record %d at %d: consumer already at %d", i, read, cons)
			case inFlight && cons != start:
				t.Fatalf("record %d: consumer moved from %d to %d under a batch in flight", i, start, cons)
			case !inFlight && read-cons > step+recSize:
				t.Fatalf("record %d at %d: consumer still at %d, more than %d bytes behind", i, read, cons, step)
			}
			if cons != last {
				moves++
				last = cons
			}
			i++
			return true
		}, 0)
		want := records
		if inFlight {
			want--
		}
		if n != want || err != nil {
			t.Fatalf("Consume = %d, %v; want %d", n, err, want)
		}
		if !inFlight && moves < records*recSize/step-1 {
			t.Errorf("the consumer moved %d times in a pass of %d bytes; want one every %d bytes", moves, records*recSize, step)
		}
		if inFlight {
			if err := r.Release(b); err != nil {
				t.Fatal(err)
			}
		}
		if cons, prod := positions(r, 0); cons != prod {
			t.Fatalf("after the pass consumer %d != producer %d", cons, prod)
		}
	}
	if _, err := NewReader([]*ebpf.Map{m}, Options{GiveBack: -1}); err == nil {
		t.Error("NewReader accepted a negative GiveBack")
	}
}

// TestConsumeWait checks that Consume waits for records up to its timeout,
// wakes for a record that arrives, ends its wait at Close and fails after
// it.
func TestConsumeWait(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	count := func(rec []byte) bool { return true }
	start := time.Now()
	if n, err := r.Consume(count, 50*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Consume on an empty ring = %d, %v; want 0, nil", n, err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("Consume returned after %v; want it to wait out its 50ms", d)
	}
	filled := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		filled <- f.Fill(ringfill.Args{Count: 1, SubmitFlags: 2}) // BPF_RB_FORCE_WAKEUP
	}()
	// The filler runs the BPF program, so it must be done before the
	// cleanup newRing registered closes it, however this test ends.
	t.Cleanup(func() {
		if err := <-filled; err != nil {
			t.Errorf("Fill: %v", err)
		}
	})
	start = time.Now()
	if n, err := r.Consume(count, time.Minute); n != 1 || err != nil {
		t.Fatalf("Consume waiting for a record = %d, %v; want 1, nil", n, err)
	}
	if d := time.Since(start); d > 20*time.Second { // woken, not at the deadline
		t.Fatalf("Consume took %v to see a woken record", d)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Consume(count, time.Minute)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Consume waiting through Close = %v; want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a Consume waiting for records")
	}
	if _, err := r.Consume(count, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Consume after Close = %v; want ErrClosed", err)
	}
}

// TestUnixNano checks that UnixNano applies the offset Read applies.
func TestUnixNano(t *testing.T) {
	m, _ := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	off := r.offset.Load()
	if off == 0 {
		t.Fatal("no clock offset measured")
	}
	if got := r.UnixNano(1e9); got != uint64(1e9+off) {
		t.Errorf("UnixNano(1s) = %d; want %d", got, uint64(1e9+off))
	}
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	if got := int64(r.UnixNano(uint64(mono.Nano()))); got < now-int64(time.Second) || got > now+int64(time.Second) {
		t.Errorf("UnixNano(monotonic now) is %v from Unix now", time.Duration(got-now))
	}
}
