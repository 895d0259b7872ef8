package loader

import (
	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"

	"fmt"
	"testing"
	"unsafe"
)

func benchInstance(t testing.TB) *Instance {
	t.Helper()
	l, err := Load(buildPlugin(t, "bench.c", "../include"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := l.Type("bench").Create(nil, NewBasicHost("", nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Destroy)
	return in
}

// TestHotPathAllocs checks that Poll, Write and Process allocate nothing on
// the Go heap per call.
func TestHotPathAllocs(t *testing.T) {
	in := benchInstance(t)
	b := ctest.NewBatch(t, 256, 256*64)
	fill(b, 64)
	if n := testing.AllocsPerRun(200, func() {
		if st, err := in.Write(b); st != cabi.OK || err != nil {
			t.Fatal(st, err)
		}
	}); n != 0 {
		t.Errorf("Write allocates %v times per call; want 0", n)
	}
	in.Process(b) // sizes the scratch once
	if n := testing.AllocsPerRun(200, func() {
		if err := in.Process(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Process allocates %v times per call; want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() {
		b.Reset()
		if st, err := in.Poll(b, 0); st != cabi.OK || err != nil {
			t.Fatal(st, err)
		}
	}); n != 0 {
		t.Errorf("Poll allocates %v times per call; want 0", n)
	}
	if b.Len != 256 {
		t.Errorf("Poll filled %d events; want 256", b.Len)
	}
}

// fill fills b with events of size bytes each.
func fill(b *cabi.Batch, size int) {
	b.Reset()
	data := make([]byte, size)
	for b.Append(1, 2, cabi.KindRaw, 0, data) {
	}
}

// BenchmarkWrite measures a C sink's write per batch and reports ns/event
// for 64-byte events at several batch sizes.
func BenchmarkWrite(b *testing.B) {
	in := benchInstance(b)
	for _, n := range []int{1, 16, 256, 4096} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			batch := ctest.NewBatch(b, n, n*64)
			fill(batch, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				in.Write(batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

// BenchmarkPoll measures a C source filling whole batches.
func BenchmarkPoll(b *testing.B) {
	in := benchInstance(b)
	for _, n := range []int{1, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			batch := ctest.NewBatch(b, n, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch.Reset()
				in.Poll(batch, 0)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

// BenchmarkNativeWrite is the same blackhole work in Go, for comparison.
func BenchmarkNativeWrite(b *testing.B) {
	for _, n := range []int{1, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			batch := ctest.NewBatch(b, n, n*64)
			fill(batch, 64)
			var events, bytes uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				nativeWrite(batch, &events, &bytes)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

//go:noinline
func nativeWrite(b *cabi.Batch, events, bytes *uint64) {
	p := b.Events
	for i := uint32(0); i < b.Len; i++ {
		*bytes += uint64((*cabi.Event)(p).Len)
		p = unsafe.Add(p, b.EventSize)
	}
	*events += uint64(b.Len)
}
