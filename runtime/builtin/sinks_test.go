package builtin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/weirproject/weir/cabi"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestBlackhole(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "lat.hlog")
	h, err := NewBlackhole([]byte(`{"latency":"all","hdr_log":"`+logPath+`"}`), testEnv("bh"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h.SetOutput(&out)
	b := newBatch(t, 16, 1024)
	// Ten batches: events stamped 1ms..10ms ago.
	for i := 1; i <= 10; i++ {
		fill(t, b, uint64(time.Now().Add(-time.Duration(i)*time.Millisecond).UnixNano()), "ab", "cde", "")
		if st, err := h.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("Write = %v, %v", st, err)
		}
	}
	// Events without a time are counted but not timed.
	fill(t, b, 0, "x")
	h.Write(b)
	if got, want := h.Stats(), (BlackholeStats{Events: 31, Bytes: 51, Batches: 11}); got != want {
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
	h, err := NewBlackhole([]byte(`{"max_latency":"1ms","print":false}`), testEnv("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch(t, 16, 1024)
	fill(t, b, uint64(time.Now().Add(-time.Second).UnixNano()), "a", "b", "c")
	h.Write(b)
	if n := h.Latency().TotalCount(); n != 1 {
		t.Errorf("latency batch mode recorded %d samples for one batch; want 1", n)
	}
	if s := h.Stats(); s.Clamped != 1 {
		t.Errorf("Clamped = %d; want 1 for a 1s latency over a 1ms max", s.Clamped)
	}
	if _, err := NewBlackhole([]byte(`{"latency":"some"}`), testEnv("bh")); err == nil || !strings.Contains(err.Error(), `unknown latency mode "some"`) {
		t.Errorf("bad latency mode error = %v", err)
	}
}

func TestBlackholeWriteAllocs(t *testing.T) {
	h, err := NewBlackhole([]byte(`{"latency":"all"}`), testEnv("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch(t, 256, 1<<16)
	for i := 0; i < 256; i++ {
		b.Append(uint64(time.Now().UnixNano()), 0, cabi.KindRaw, 0, make([]byte, 64))
	}
	if a := testing.AllocsPerRun(100, func() { h.Write(b) }); a != 0 {
		t.Errorf("Write allocates %v times per batch; want 0", a)
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// goldenBatch is the batch every sink golden test writes.
func goldenBatch(t *testing.T) *cabi.Batch {
	b := newBatch(t, 8, 1024)
	b.Append(1700000000000000000, 7, cabi.KindText, 0, []byte("hello world"))
	b.Append(1700000000000000001, 0, cabi.KindJSON, cabi.FlagTruncated, []byte(`{"k":"v\n"}`))
	b.Append(1700000000000000002, 1, 0x8001, 0, []byte{0, 1, 0xff})
	b.Append(1700000000000000003, 2, cabi.KindTick, 0, nil)
	return b
}

func TestStdout(t *testing.T) {
	for _, format := range []string{"text", "jsonl"} {
		s, err := NewStdout([]byte(`{"format":"`+format+`"}`), testEnv("out"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s.SetOutput(&out)
		if st, err := s.Write(goldenBatch(t)); st != cabi.OK || err != nil {
			t.Fatalf("Write = %v, %v", st, err)
		}
		golden(t, "stdout."+format+".golden", out.Bytes())
	}
	if _, err := NewStdout([]byte(`{"format":"raw"}`), testEnv("out")); err == nil {
		t.Error("NewStdout accepted format raw")
	}
}

// TestFileReplay writes events with the file sink in each blaster format
// and replays the file with the blaster.
func TestFileReplay(t *testing.T) {
	for _, format := range []string{"jsonl", "raw"} {
		path := filepath.Join(t.TempDir(), "out."+format)
		s, err := NewFile([]byte(`{"path":"`+path+`","format":"`+format+`","fsync":true,"buffer":16}`), testEnv("f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		in := goldenBatch(t)
		for range 3 {
			if st, err := s.Write(in); st != cabi.OK || err != nil {
				t.Fatalf("Write = %v, %v", st, err)
			}
		}
		if err := s.Drain(); err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if format == "jsonl" {
			got, _ := os.ReadFile(path)
			golden(t, "file.jsonl.golden", got[:len(got)/3])
		}
		bl, err := NewBlaster([]byte(`{"file":"`+path+`","format":"`+format+`"}`), testEnv("b"))
		if err != nil {
			t.Fatalf("replay %s: %v", format, err)
		}
		_, evs := pollAll(t, bl, newBatch(t, 64, 0), 10)
		if len(evs) != 3*int(in.Len) {
			t.Fatalf("%s replay has %d events; want %d", format, len(evs), 3*in.Len)
		}
		for i, e := range evs {
			w := in.EventSlice()[i%int(in.Len)]
			if string(e.Bytes()) != string(w.Bytes()) || (format == "jsonl" && (e.Kind != w.Kind || e.StreamID != w.StreamID)) {
				t.Errorf("%s replay event %d = %q kind %d stream %d; want %q kind %d stream %d",
					format, i, e.Bytes(), e.Kind, e.StreamID, w.Bytes(), w.Kind, w.StreamID)
			}
		}
		bl.Close()
	}
}

func TestFileAppendAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	for range 2 {
		s, err := NewFile([]byte(`{"path":"`+path+`","format":"text","append":true}`), testEnv("f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		b := newBatch(t, 4, 64)
		fill(t, b, 1, "a", "b")
		s.Write(b)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nb\na\nb\n" {
		t.Errorf("appended file = %q; want two copies of a, b", got)
	}
	s, err := NewFile([]byte(`{"path":"/nonexistent-dir/x"}`), testEnv("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(t.Context(), 1); err == nil || !strings.Contains(err.Error(), "file f: open: open /nonexistent-dir/x") {
		t.Errorf("Connect error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after failed Connect = %v; want nil", err)
	}
	for _, cfg := range []string{`{}`, `{"path":"x","format":"csv"}`, `{"path":"x","buffer":"2GiB"}`} {
		if _, err := NewFile([]byte(cfg), testEnv("f")); err == nil {
			t.Errorf("NewFile(%s) succeeded; want an error", cfg)
		}
	}
}

func TestMetronome(t *testing.T) {
	m, err := NewMetronome([]byte(`{"interval":"20ms","count":3,"stream_id":4}`), testEnv("m"))
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	start := time.Now()
	b := newBatch(t, 4, 64)
	var seqs []uint64
	for i := 0; i < 100; i++ {
		b.Reset()
		st, err := m.Poll(b, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.EventSlice() {
			if e.Kind != cabi.KindTick || e.StreamID != 4 || e.Len != 8 {
				t.Errorf("tick = %+v; want kind tick, stream 4, 8 bytes", e)
			}
			bs := e.Bytes()
			seqs = append(seqs, uint64(bs[0])|uint64(bs[1])<<8)
		}
		if st == cabi.EOF {
			break
		}
	}
	el := time.Since(start)
	if len(seqs) != 3 || seqs[0] != 0 || seqs[2] != 2 {
		t.Errorf("ticks = %v; want [0 1 2]", seqs)
	}
	if el < 55*time.Millisecond || el > 2*time.Second {
		t.Errorf("3 ticks at 20ms took %v; want about 60ms", el)
	}
	if _, err := NewMetronome([]byte(`{"interval":"0s"}`), testEnv("m")); err == nil {
		t.Error("NewMetronome accepted a zero interval")
	}
}

func TestMetronomeSkipsMissedTicks(t *testing.T) {
	m, err := NewMetronome([]byte(`{"interval":"5ms"}`), testEnv("m"))
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	time.Sleep(28 * time.Millisecond)
	b := newBatch(t, 4, 0) // no arena: ticks carry no data
	if st, _ := m.Poll(b, 0); st != cabi.OK || b.Len != 1 || b.EventSlice()[0].Len != 0 {
		t.Fatalf("late Poll = %v with %d events; want one empty tick", st, b.Len)
	}
	if m.Missed() < 3 {
		t.Errorf("Missed() = %d after sleeping ~5 intervals; want at least 3", m.Missed())
	}
	b.Reset()
	if st, _ := m.Poll(b, 0); st != cabi.Timeout {
		t.Errorf("Poll right after a tick = %v; want Timeout (missed ticks are skipped, not bunched)", st)
	}
}

// TestBlackholeAllMixedStamps checks latency "all" mode on a batch whose
// timestamps change within it, including unstamped events.
func TestBlackholeAllMixedStamps(t *testing.T) {
	h, err := NewBlackhole([]byte(`{"latency":"all","print":false}`), testEnv("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch(t, 8, 64)
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
	h, err := NewBlackhole([]byte(`{"touch":true,"latency":"off","print":false}`), testEnv("bh"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch(t, 4, 64)
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
