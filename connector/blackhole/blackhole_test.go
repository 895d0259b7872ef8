package blackhole

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func TestBlackhole(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "lat.hlog")
	h, err := New([]byte(`{"latency":"all","hdr_log":"`+logPath+`"}`), conntest.Env("bh"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h.SetOutput(&out)
	b := conntest.NewBatch(t, 16, 1024)
	// Ten batches: events stamped 1ms..10ms ago.
	for i := 1; i <= 10; i++ {
		conntest.Fill(t, b, uint64(time.Now().Add(-time.Duration(i)*time.Millisecond).UnixNano()), "ab", "cde", "")
		if st, err := h.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("Write = %v, %v", st, err)
		}
	}
	// Events without a time are counted but not timed.
	conntest.Fill(t, b, 0, "x")
	h.Write(b)
	if got, want := h.Stats(), (Stats{Events: 31, Bytes: 51, Batches: 11}); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
	lat := h.Latency()
	if lat.TotalCount() != 30 {
		t.Errorf("latency samples = %d; want 30", lat.TotalCount())
	}
	if p50 := time.Duration(lat.ValueAtPercentile(50)); p50 < 5*time.Millisecond || p50 > time.Second {
		t.Errorf("p50 latency = %v; want about 5ms", p50)
	}
	if max := time.Duration(lat.Max()); max < 10*time.Millisecond {
		t.Errorf("max latency = %v; want at least 10ms", max)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	h.Stop() // second Stop prints nothing more
	line := out.String()
	if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "blackhole bh: 31 events, 51 bytes, 11 batches; latency p50=") ||
		!strings.Contains(line, " p99.9=") || !strings.Contains(line, "(30 samples, 0 clamped)") {
		t.Errorf("summary = %q", line)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := hdrhistogram.NewHistogramLogReader(f)
	got, err := r.NextIntervalHistogram()
	if err != nil || got == nil {
		t.Fatalf("read back histogram log: %v", err)
	}
	if got.TotalCount() != 30 || got.Max() != lat.Max() {
		t.Errorf("logged histogram has %d samples, max %d; want 30, %d", got.TotalCount(), got.Max(), lat.Max())
	}
}

func TestBlackholeBatchLatencyAndClamp(t *testing.T) {
	h, err := New([]byte(`{"max_latency":"1ms","print":false}`), conntest.Env("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := conntest.NewBatch(t, 16, 1024)
	conntest.Fill(t, b, uint64(time.Now().Add(-time.Second).UnixNano()), "a", "b", "c")
	h.Write(b)
	if n := h.Latency().TotalCount(); n != 1 {
		t.Errorf("latency batch mode recorded %d samples for one batch; want 1", n)
	}
	if s := h.Stats(); s.Clamped != 1 {
		t.Errorf("Clamped = %d; want 1 for a 1s latency over a 1ms max", s.Clamped)
	}
	if _, err := New([]byte(`{"latency":"some"}`), conntest.Env("bh")); err == nil || !strings.Contains(err.Error(), `field latency: "some" is not one of batch, all, off`) {
		t.Errorf("bad latency mode error = %v", err)
	}
}

func TestBlackholeWriteAllocs(t *testing.T) {
	h, err := New([]byte(`{"latency":"all"}`), conntest.Env("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := conntest.NewBatch(t, 256, 1<<16)
	for i := 0; i < 256; i++ {
		b.Append(uint64(time.Now().UnixNano()), 0, cabi.KindRaw, 0, make([]byte, 64))
	}
	if a := testing.AllocsPerRun(100, func() { h.Write(b) }); a != 0 {
		t.Errorf("Write allocates %v times per batch; want 0", a)
	}
}

// TestBlackholeAllMixedStamps checks latency "all" mode on a batch whose
// timestamps change within it, including unstamped events.
func TestBlackholeAllMixedStamps(t *testing.T) {
	h, err := New([]byte(`{"latency":"all","print":false}`), conntest.Env("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := conntest.NewBatch(t, 8, 64)
	now := time.Now()
	old, older := uint64(now.Add(-2*time.Millisecond).UnixNano()), uint64(now.Add(-20*time.Millisecond).UnixNano())
	for _, ts := range []uint64{old, old, older, 0, older, old} {
		b.Append(ts, 0, cabi.KindRaw, 0, []byte("x"))
	}
	h.Write(b)
	lat := h.Latency()
	if lat.TotalCount() != 5 {
		t.Fatalf("recorded %d samples; want 5 (the unstamped event is skipped)", lat.TotalCount())
	}
	if p50 := time.Duration(lat.ValueAtPercentile(50)); p50 < 2*time.Millisecond || p50 > time.Second {
		t.Errorf("p50 = %v; want about 2ms (3 of 5 samples)", p50)
	}
	if max := time.Duration(lat.Max()); max < 20*time.Millisecond {
		t.Errorf("max = %v; want at least 20ms", max)
	}
}

func TestBlackholeTouch(t *testing.T) {
	h, err := New([]byte(`{"touch":true,"latency":"off","print":false}`), conntest.Env("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := conntest.NewBatch(t, 4, 64)
	// 17 bytes: two words and one trailing byte; and one short event.
	long := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3}
	b.Append(1, 0, cabi.KindRaw, 0, long)
	b.Append(1, 0, cabi.KindRaw, 0, []byte{4, 5})
	h.Write(b)
	if got := h.Stats().Checksum; got != 1+2+3+4+5 {
		t.Errorf("Checksum = %d; want 15", got)
	}
	if got := checksum(make([]byte, 1000)); got != 0 {
		t.Errorf("checksum(zeros) = %d; want 0", got)
	}
	// Every length from 0 to 80 against a byte-at-a-time reference.
	buf := make([]byte, 80)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	for n := 0; n <= len(buf); n++ {
		var want uint64
		words := n / 8 * 8
		for i := 0; i < words; i++ {
			want += uint64(buf[i]) << (8 * (i % 8))
		}
		for i := words; i < n; i++ {
			want += uint64(buf[i])
		}
		if got := checksum(buf[:n]); got != want {
			t.Errorf("checksum of %d bytes = %d; want %d", n, got, want)
		}
	}
}
