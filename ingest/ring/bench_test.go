package ring

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/weirproject/weir/ingest/ring/internal/ringfill"
)

// Benchmark set-up: a 4 MiB ring refilled with benchFill records of 64
// payload bytes (72 in the ring) before each timed drain. Both readers
// consume exactly the same records and load each record's first word (its
// sequence number) to check it, so each one really touches the data.
const (
	benchRingSize = 4 << 20
	benchFill     = 50000
)

// benchDrain refills the ring outside the timer and calls drain to consume
// n records inside it, until b.N records have been consumed. It reports
// records/s over the timed part only.
func benchDrain(b *testing.B, f *ringfill.Filler, drain func(n int, next uint64) uint64) {
	next, err := f.Seq()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(benchFill, b.N-done)
		b.StopTimer()
		if err := f.Fill(ringfill.Args{Count: uint32(n), SubmitFlags: 0}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		next = drain(n, next)
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRead compares this package's zero-copy Reader, reading batches
// and with Consume, with cilium/ebpf's ringbuf.Reader (ReadInto, which copies each record and advances the
// consumer position per record) on the same ring and the same records.
// ns/op is per record.
func BenchmarkRead(b *testing.B) {
	m, f := newRing(b, benchRingSize)
	b.Run("reader=zerocopy", func(b *testing.B) {
		r, err := NewReader([]*ebpf.Map{m}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		batch := newBatch(b, 1024)
		benchDrain(b, f, func(n int, next uint64) uint64 {
			for got := 0; got < n; {
				k, err := r.Read(batch, 0)
				if err != nil || k == 0 {
					b.Fatalf("Read = %d, %v after %d of %d", k, err, got, n)
				}
				for _, ev := range batch.EventSlice() {
					if seq := *(*uint64)(ev.Data); seq != next {
						b.Fatalf("record seq %d; want %d", seq, next)
					}
					next++
				}
				got += k
				r.Release(batch)
			}
			return next
		})
	})
	b.Run("reader=zerocopy-consume", func(b *testing.B) {
		r, err := NewReader([]*ebpf.Map{m}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchDrain(b, f, func(n int, next uint64) uint64 {
			for got := 0; got < n; {
				k, err := r.Consume(func(rec []byte) bool {
					if seq := *(*uint64)(unsafe.Pointer(unsafe.SliceData(rec))); seq != next {
						b.Fatalf("record seq %d; want %d", seq, next)
					}
					next++
					return true
				}, 0)
				if err != nil || k == 0 {
					b.Fatalf("Consume = %d, %v after %d of %d", k, err, got, n)
				}
				got += k
			}
			return next
		})
	})
	b.Run("reader=cilium-ringbuf", func(b *testing.B) {
		r, err := ringbuf.NewReader(m)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		var rec ringbuf.Record
		benchDrain(b, f, func(n int, next uint64) uint64 {
			for i := 0; i < n; i++ {
				if err := r.ReadInto(&rec); err != nil {
					b.Fatal(err)
				}
				if seq := binary.LittleEndian.Uint64(rec.RawSample); seq != next {
					b.Fatalf("record seq %d; want %d", seq, next)
				}
				next++
			}
			return next
		})
	})
}
