package nats

import (
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// BenchmarkSinkWrite writes batches of 256 events of 64 bytes to an
// in-process server: the sink's own cost per event (the server shares the
// CPU). tools/bench-connectors.sh measures against a server process.
func BenchmarkSinkWrite(b *testing.B) {
	ts := startServer(b, nil)
	ts.addStream("EV", "ev")
	for _, mode := range []string{"core", "jetstream"} {
		for _, framing := range frame.Names {
			b.Run(mode+"/"+framing, func(b *testing.B) {
				s, err := NewSink(sinkConfig(ts, map[string]any{"mode": mode, "framing": framing}), conntest.Env("out"))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if err := s.Connect(b.Context(), 1); err != nil {
					b.Fatal(err)
				}
				batch := conntest.NewBatch(b, 256, 256*64)
				payload := make([]byte, 64)
				b.SetBytes(256 * 64)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					batch.Reset()
					for j := 0; j < 256; j++ {
						batch.Append(uint64(i), uint64(j), cabi.KindRaw, 0, payload)
					}
					if st, err := s.Write(batch); st != cabi.OK {
						b.Fatal(st, err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/event")
			})
		}
	}
}
