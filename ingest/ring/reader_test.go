package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/ring/internal/ringfill"
)

// newRing creates a ring buffer map of size bytes and a filler writing into
// it.
func newRing(t testing.TB, size int) (*ebpf.Map, *ringfill.Filler) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating BPF ring buffers needs root (CAP_BPF)")
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "weir_test_ring", Type: ebpf.RingBuf, MaxEntries: uint32(size)})
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("kernel lacks BPF ring buffers: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := ringfill.New(m)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		m.Close()
	})
	return m, f
}

func newReader(t testing.TB, rings []*ebpf.Map, opts Options) *Reader {
	t.Helper()
	r, err := NewReader(rings, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func newBatch(t testing.TB, capacity int) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(capacity, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	return b
}

func fill(t testing.TB, f *ringfill.Filler, a ringfill.Args) {
	t.Helper()
	if err := f.Fill(a); err != nil {
		t.Fatal(err)
	}
}

// checkRecord compares an event with the payload of record seq.
func checkRecord(t *testing.T, ev cabi.Event, seq uint64, mixed bool) {
	t.Helper()
	want := ringfill.Payload(seq, mixed)
	n := ringfill.Written(seq, mixed)
	if ev.Kind != cabi.KindRaw || ev.Len != uint32(len(want)) {
		t.Fatalf("record %d: kind %d len %d; want %d, %d", seq, ev.Kind, ev.Len, cabi.KindRaw, len(want))
	}
	if got := ev.Bytes(); !bytes.Equal(got[:n], want[:n]) {
		t.Fatalf("record %d bytes differ:\n got %x\nwant %x", seq, got[:n], want[:n])
	}
	if uintptr(ev.Data)%8 != 0 {
		t.Fatalf("record %d data at %p is not 8-byte aligned", seq, ev.Data)
	}
}

func positions(r *Reader, i int) (cons, prod uint64) {
	return atomic.LoadUint64(r.rings[i].consPos), atomic.LoadUint64(r.rings[i].prodPos)
}

// TestReadBack fills a small ring over and over, so records wrap around its
// end, and checks that every record reads back byte-exact, in order, and
// that the consumer position moves only on Release.
func TestReadBack(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b := newBatch(t, 64)
	seq := uint64(0)
	for round := 0; round < 20; round++ {
		fill(t, f, ringfill.Args{Count: 100, Mixed: 1})
		got := 0
		for got < 100 {
			n, err := r.Read(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("round %d: Read returned nothing after %d of 100 records", round, got)
			}
			if n != int(b.Len) {
				t.Fatalf("Read returned %d, batch holds %d", n, b.Len)
			}
			for _, ev := range b.EventSlice() {
				checkRecord(t, ev, seq, true)
				seq++
			}
			got += n
			cons, prod := positions(r, 0)
			if cons == prod {
				t.Fatalf("consumer position %d caught up with producer before Release", cons)
			}
			before := cons
			if err := r.Release(b); err != nil {
				t.Fatal(err)
			}
			cons, _ = positions(r, 0)
			if cons <= before || cons != r.rings[0].readPos {
				t.Fatalf("Release moved the consumer position from %d to %d; want %d", before, cons, r.rings[0].readPos)
			}
		}
		if got != 100 {
			t.Fatalf("round %d: read %d records; want 100", round, got)
		}
	}
	if cons, prod := positions(r, 0); cons != prod {
		t.Errorf("after reading everything consumer %d != producer %d", cons, prod)
	}
	if cons, _ := positions(r, 0); cons < 3*16384 {
		t.Errorf("consumer position %d: the test never wrapped the ring", cons)
	}
	if s := r.Stats(); s.Records != seq || s.Discarded != 0 || s.Batches == 0 {
		t.Errorf("stats %+v; want %d records, none discarded", s, seq)
	}
}

// TestDiscarded checks that discarded records are skipped, counted and
// released, including a run made only of discarded records.
func TestDiscarded(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b := newBatch(t, 1000)
	fill(t, f, ringfill.Args{Count: 90, DiscardEvery: 3})
	n, err := r.Read(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 60 {
		t.Fatalf("read %d records; want 60 of 90 with every third discarded", n)
	}
	seq := uint64(0)
	for _, ev := range b.EventSlice() {
		if seq%3 == 0 {
			seq++
		}
		checkRecord(t, ev, seq, false)
		seq++
	}
	if err := r.Release(b); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Discarded != 30 {
		t.Errorf("stats %+v; want 30 discarded", s)
	}
	// Only discarded records: nothing to hand out, but the space is freed.
	fill(t, f, ringfill.Args{Count: 40, DiscardEvery: 1})
	if n, err := r.Read(b, 0); n != 0 || err != nil {
		t.Fatalf("Read over discarded records = %d, %v; want 0, nil", n, err)
	}
	if cons, prod := positions(r, 0); cons != prod {
		t.Errorf("discarded records not released: consumer %d, producer %d", cons, prod)
	}
	if s := r.Stats(); s.Discarded != 70 {
		t.Errorf("stats %+v; want 70 discarded", s)
	}
}

// TestSlowConsumer lets the producer run far ahead of a reader that holds
// its batch: the overflow shows up as counted failed reservations, and what
// was stored reads back intact and in order.
func TestSlowConsumer(t *testing.T) {
	m, f := newRing(t, 8192)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b := newBatch(t, 16)
	fill(t, f, ringfill.Args{Count: 50, Mixed: 1})
	n, err := r.Read(b, 0)
	if err != nil || n != 16 {
		t.Fatalf("Read = %d, %v; want 16", n, err)
	}
	// The batch is in flight: nothing of the ring is free.
	fill(t, f, ringfill.Args{Count: 500, Mixed: 1})
	full, _ := f.Full()
	total, _ := f.Seq()
	if full == 0 {
		t.Fatal("producer saw no full ring")
	}
	var seqs []uint64
	for _, ev := range b.EventSlice() {
		seqs = append(seqs, binary.LittleEndian.Uint64(ev.Bytes()))
	}
	if err := r.Release(b); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := r.Read(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		for _, ev := range b.EventSlice() {
			seq := binary.LittleEndian.Uint64(ev.Bytes())
			checkRecord(t, ev, seq, true)
			seqs = append(seqs, seq)
		}
		r.Release(b)
	}
	if uint64(len(seqs))+full != total {
		t.Errorf("read %d + full %d != produced %d", len(seqs), full, total)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("sequence goes back: %d after %d", seqs[i], seqs[i-1])
		}
	}
}

// TestBatchOrder checks the in-flight rules: several batches may be out,
// they are released oldest first, and a batch in flight cannot be reused.
func TestBatchOrder(t *testing.T) {
	m, f := newRing(t, 16384)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b1, b2 := newBatch(t, 10), newBatch(t, 10)
	fill(t, f, ringfill.Args{Count: 25})
	if n, err := r.Read(b1, 0); n != 10 || err != nil {
		t.Fatalf("Read b1 = %d, %v", n, err)
	}
	if _, err := r.Read(b1, 0); !errors.Is(err, ErrBatchState) {
		t.Fatalf("Read into a batch in flight: %v; want ErrBatchState", err)
	}
	if n, err := r.Read(b2, 0); n != 10 || err != nil {
		t.Fatalf("Read b2 = %d, %v", n, err)
	}
	for i, ev := range b2.EventSlice() {
		checkRecord(t, ev, uint64(10+i), false)
	}
	if err := r.Release(b2); !errors.Is(err, ErrReleaseOrder) {
		t.Fatalf("Release b2 before b1: %v; want ErrReleaseOrder", err)
	}
	cons0, _ := positions(r, 0)
	if err := r.Release(b1); err != nil {
		t.Fatal(err)
	}
	cons1, _ := positions(r, 0)
	if err := r.Release(b2); err != nil {
		t.Fatal(err)
	}
	cons2, _ := positions(r, 0)
	if cons1-cons0 != 10*72 || cons2-cons1 != 10*72 {
		t.Errorf("consumer moved %d then %d; want %d each (10 records of 8+64 bytes)", cons1-cons0, cons2-cons1, 10*72)
	}
	if err := r.Release(b2); !errors.Is(err, ErrBatchState) {
		t.Errorf("second Release: %v; want ErrBatchState", err)
	}
	if r.InFlight() != 0 {
		t.Errorf("%d batches in flight; want 0", r.InFlight())
	}
}

// TestMultipleRings reads several rings into one batch stream.
func TestMultipleRings(t *testing.T) {
	m1, f1 := newRing(t, 8192)
	m2, f2 := newRing(t, 8192)
	r := newReader(t, []*ebpf.Map{m1, m2}, Options{})
	b := newBatch(t, 7)
	fill(t, f1, ringfill.Args{Count: 30})
	fill(t, f2, ringfill.Args{Count: 20})
	counts := map[int]int{}
	for {
		n, err := r.Read(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		for _, ev := range b.EventSlice() {
			p := uintptr(ev.Data)
			for i, rg := range r.rings {
				base := uintptr(rg.data)
				if p >= base && p < base+2*uintptr(rg.mask+1) {
					counts[i]++
				}
			}
		}
		r.Release(b)
	}
	if counts[0] != 30 || counts[1] != 20 {
		t.Errorf("records per ring %v; want 30 and 20", counts)
	}
}

// TestDescribe checks the Describer hook, in ring order and merged by time:
// its fields are used, a non-zero time is converted to Unix time, Data
// points at the record, and rejected records are counted.
func TestDescribe(t *testing.T) {
	for _, order := range []time.Duration{-1, 0} {
		m, f := newRing(t, 8192)
		opts := Options{Describe: func(rec []byte, ev *cabi.Event) bool {
			seq := binary.LittleEndian.Uint64(rec)
			if seq%2 == 1 {
				return false
			}
			ev.Kind = cabi.KindPacket
			ev.StreamID = seq
			ev.Len = 16
			ev.TsNs = uint64(time.Duration(seq) * time.Second)
			return true
		}}
		r := newReader(t, []*ebpf.Map{m}, opts)
		r.SetOrder(order)
		b := newBatch(t, 64)
		fill(t, f, ringfill.Args{Count: 10})
		n, err := r.Read(b, 0)
		if err != nil || n != 5 {
			t.Fatalf("order %v: Read = %d, %v; want 5", order, n, err)
		}
		for i, ev := range b.EventSlice() {
			seq := uint64(2 * i)
			if ev.Kind != cabi.KindPacket || ev.StreamID != seq || ev.Len != 16 || binary.LittleEndian.Uint64(ev.Bytes()) != seq {
				t.Errorf("order %v: event %d = %+v", order, i, ev)
			}
			want := uint64(int64(seq)*int64(time.Second) + r.offset.Load())
			if seq == 0 {
				want = 0 // no time: left alone
			}
			if ev.TsNs != want {
				t.Errorf("order %v: event %d time %d; want %d", order, i, ev.TsNs, want)
			}
		}
		r.Release(b)
		if s := r.Stats(); s.Rejected != 5 || s.Records != 5 {
			t.Errorf("order %v: stats %+v; want 5 records, 5 rejected", order, s)
		}
	}
}

// TestWait checks the deadline and the wakeup: an empty ring makes Read
// wait out its timeout, and a producer that wakes the reader ends the wait
// early.
func TestWait(t *testing.T) {
	m, f := newRing(t, 8192)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b := newBatch(t, 64)
	start := time.Now()
	if n, err := r.Read(b, 50*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("Read on an empty ring = %d, %v", n, err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("Read returned after %v; want at least the 50ms timeout", d)
	}
	filled := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		filled <- f.Fill(ringfill.Args{Count: 3})
	}()
	defer func() {
		if err := <-filled; err != nil {
			t.Error(err)
		}
	}()
	start = time.Now()
	n, err := r.Read(b, time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("Read = %d, %v; want 3", n, err)
	}
	if d := time.Since(start); d > 20*time.Second { // woken, not at the deadline
		t.Errorf("woken Read took %v", d)
	}
	r.Release(b)
	// A producer that never wakes the reader is picked up at the deadline.
	fill(t, f, ringfill.Args{Count: 2, SubmitFlags: 1})
	if n, err := r.Read(b, 100*time.Millisecond); n != 2 || err != nil {
		t.Fatalf("Read of unannounced records = %d, %v; want 2", n, err)
	}
	r.Release(b)
}

// TestClose checks that Close ends a blocked Read, that memory of a batch
// in flight stays readable until its Release, and that later calls fail
// cleanly.
func TestClose(t *testing.T) {
	m, f := newRing(t, 8192)
	r, err := NewReader([]*ebpf.Map{m}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch(t, 64)
	fill(t, f, ringfill.Args{Count: 5})
	if n, err := r.Read(b, 0); n != 5 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	b2 := newBatch(t, 64)
	done := make(chan error)
	go func() {
		_, err := r.Read(b2, time.Minute)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Read after Close: %v; want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked Read")
	}
	for i, ev := range b.EventSlice() {
		checkRecord(t, ev, uint64(i), false)
	}
	if err := r.Release(b); err != nil {
		t.Fatal(err)
	}
	if !r.unmapped {
		t.Error("rings still mapped after Close and the last Release")
	}
	if _, err := r.Read(b, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v; want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestNewReaderErrors checks the argument checks.
func TestNewReaderErrors(t *testing.T) {
	if _, err := NewReader(nil, Options{}); err == nil {
		t.Error("NewReader(nil) succeeded")
	}
	if os.Geteuid() != 0 {
		t.Skip("creating BPF maps needs root")
	}
	a, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := NewReader([]*ebpf.Map{a}, Options{}); err == nil {
		t.Error("NewReader over an array map succeeded")
	}
}

// TestAppend checks that Append keeps the events already in the batch and
// adds the ring's records after them.
func TestAppend(t *testing.T) {
	m, f := newRing(t, 8192)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b, err := cabi.AllocBatch(8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	b.Append(7, 1, cabi.KindText, 0, []byte("kept"))
	fill(t, f, ringfill.Args{Count: 10})
	n, err := r.Append(b, 0)
	if err != nil || n != 7 || b.Len != 8 {
		t.Fatalf("Append = %d, %v with batch len %d; want 7, nil, 8", n, err, b.Len)
	}
	evs := b.EventSlice()
	if string(evs[0].Bytes()) != "kept" || evs[0].TsNs != 7 {
		t.Errorf("first event changed: %+v", evs[0])
	}
	for i, ev := range evs[1:] {
		checkRecord(t, ev, uint64(i), false)
	}
	if err := r.Release(b); err != nil {
		t.Fatal(err)
	}
	if cons, _ := positions(r, 0); cons != 7*72 {
		t.Errorf("consumer at %d after releasing 7 records; want %d", cons, 7*72)
	}
	full, err := cabi.AllocBatch(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(full)
	full.Len = 1
	start := time.Now()
	if n, err := r.Append(full, time.Minute); n != 0 || err != nil || time.Since(start) > 10*time.Second {
		t.Fatalf("Append to a full batch = %d, %v after %v; want 0, nil at once", n, err, time.Since(start))
	}
	if n, err := r.Read(b, 0); err != nil || n != 3 || b.Len != 3 {
		t.Fatalf("Read = %d, %v with batch len %d; want 3, nil, 3", n, err, b.Len)
	}
	r.Release(b)
}

// TestReadAllocs checks that reading and releasing batches allocates
// nothing once the reader is warm.
func TestReadAllocs(t *testing.T) {
	m, f := newRing(t, 1<<20)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b := newBatch(t, 64)
	// AllocsPerRun calls the function once more than asked, to warm up.
	fill(t, f, ringfill.Args{Count: 101 * 64})
	short := 0
	allocs := testing.AllocsPerRun(100, func() {
		n, err := r.Read(b, 0)
		if err != nil || n != 64 {
			short++
		}
		if err := r.Release(b); err != nil {
			short++
		}
	})
	if short > 0 {
		t.Fatalf("%d of the reads or releases failed or came back short", short)
	}
	if allocs != 0 {
		t.Fatalf("Read+Release allocated %.1f times per batch; want 0", allocs)
	}
	// The ring is empty now: a Read with a timeout waits in the netpoller.
	allocs = testing.AllocsPerRun(20, func() {
		if n, err := r.Read(b, time.Millisecond); err != nil || n != 0 {
			short++
		}
	})
	if short > 0 {
		t.Fatalf("%d reads of the empty ring failed or returned records", short)
	}
	if allocs != 0 {
		t.Fatalf("a Read that waits allocated %.1f times; want 0", allocs)
	}
}

// TestConcurrentWaits checks that each of two Reads waiting at once keeps
// its own deadline, whichever starts first: a Read with a 50ms timeout
// returns long before the other's minute is up (which a record then ends).
func TestConcurrentWaits(t *testing.T) {
	m, f := newRing(t, 8192)
	r := newReader(t, []*ebpf.Map{m}, Options{})
	b1, b2 := newBatch(t, 8), newBatch(t, 8)
	for _, shortFirst := range []bool{true, false} {
		short := make(chan time.Duration, 1)
		long := make(chan error, 1)
		readShort := func() {
			start := time.Now()
			r.Read(b1, 50*time.Millisecond)
			short <- time.Since(start)
		}
		readLong := func() {
			n, err := r.Read(b2, time.Minute)
			if err == nil && n > 0 {
				err = r.Release(b2)
			}
			long <- err
		}
		if shortFirst {
			go readShort()
			time.Sleep(10 * time.Millisecond)
			go readLong()
		} else {
			go readLong()
			time.Sleep(10 * time.Millisecond)
			go readShort()
		}
		// Any bound far below the minute tells the deadlines apart; a
		// wide one leaves room for a busy machine.
		if d := <-short; d > 20*time.Second {
			t.Errorf("short first %v: a Read with a 50ms timeout returned after %v, next to a 1-minute Read", shortFirst, d)
		}
		fill(t, f, ringfill.Args{Count: 1}) // wakes the long Read
		if err := <-long; err != nil {
			t.Fatal(err)
		}
	}
}
