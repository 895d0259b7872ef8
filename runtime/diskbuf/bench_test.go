package diskbuf

import (
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

// BenchmarkAppendSettle appends batches of 1024 events of 512 bytes, reads
// each back and settles it, under each sync policy: the buffer's own cost
// per batch, without the engine. tools/bench-diskbuf.sh measures the whole
// path against dd.
func BenchmarkAppendSettle(b *testing.B) {
	batch, err := cabi.AllocBatch(1024, 1024*512)
	if err != nil {
		b.Fatal(err)
	}
	defer cabi.FreeBatch(batch)
	data := make([]byte, 512)
	for i := 0; i < 1024; i++ {
		batch.Append(uint64(i), 0, cabi.KindRaw, 0, data)
	}
	for _, pc := range []struct {
		name string
		p    Policy
		d    time.Duration
	}{{"batch", SyncBatch, 0}, {"100ms", SyncInterval, 100 * time.Millisecond}, {"never", SyncNever, 0}} {
		b.Run(pc.name, func(b *testing.B) {
			buf, err := Open(Options{Dir: b.TempDir(), MaxSize: 1 << 30, Policy: pc.p, Interval: pc.d, Log: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close()
			b.SetBytes(int64(headerSize + EncodedSize(batch)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := buf.AppendBatch(batch); err != nil {
					b.Fatal(err)
				}
				r, ok, err := buf.Next()
				if !ok || err != nil {
					b.Fatal(ok, err)
				}
				buf.Settle(r.Seq)
			}
		})
	}
}
