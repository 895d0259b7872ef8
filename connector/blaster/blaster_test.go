package blaster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func TestBlasterFileLoops(t *testing.T) {
	b, err := New([]byte(`{"file":"../format/testdata/events.jsonl","loops":3}`), conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	before := uint64(time.Now().UnixNano())
	got, evs := conntest.PollAll(t, b, conntest.NewBatch(t, 4, 0), 100)
	one := []string{"hello", "\x00\x01\x02\x03", "tab\there \"quoted\" é", "{}", ""}
	var want []string
	for range 3 {
		want = append(want, one...)
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("blaster replayed %q; want %q", got, want)
	}
	if b.Emitted() != 15 {
		t.Errorf("Emitted() = %d; want 15", b.Emitted())
	}
	for i, e := range evs {
		if e.TsNs < before || e.TsNs > uint64(time.Now().UnixNano()) {
			t.Errorf("event %d TsNs %d not stamped at emission", i, e.TsNs)
		}
	}
	if evs[0].Kind != cabi.KindText || evs[0].StreamID != 7 || evs[1].Kind != 0x8000 {
		t.Errorf("kinds/streams not kept: %+v %+v", evs[0], evs[1])
	}
	// After EOF it stays at EOF.
	if st, _ := b.Poll(conntest.NewBatch(t, 4, 0), 0); st != cabi.EOF {
		t.Errorf("Poll after EOF = %v; want EOF", st)
	}
}

func TestBlasterRawFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ev.raw")
	if err := os.WriteFile(path, conntest.RawFile("one", "two", "three"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := New([]byte(`{"file":"`+path+`","format":"raw","kind":"text","stream_id":5}`), conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, evs := conntest.PollAll(t, b, conntest.NewBatch(t, 64, 0), 10)
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("raw blaster = %q; want one two three", got)
	}
	for _, e := range evs {
		if e.Kind != cabi.KindText || e.StreamID != 5 {
			t.Errorf("raw event kind %d stream %d; want text, 5", e.Kind, e.StreamID)
		}
	}
}

func TestBlasterErrors(t *testing.T) {
	tests := []struct {
		config, want string
	}{
		{`{"file":"../format/testdata/bad_kind.jsonl"}`, `blaster b: parse events: ../format/testdata/bad_kind.jsonl:2:1: unknown kind "bogus"`},
		{`{"file":"../format/testdata/empty.jsonl"}`, `../format/testdata/empty.jsonl holds no events`},
		{`{"file":"../format/testdata/missing.jsonl"}`, `read events: open ../format/testdata/missing.jsonl`},
		{`{"rate":-1}`, `field rate: -1 is out of range >= 0`},
		{`{"kind":"nope"}`, `field kind: "nope" is not one of raw`},
		{`{"format":"csv","file":"../format/testdata/events.jsonl"}`, `field format: "csv" is not one of jsonl, raw`},
		{`{"sizes":1}`, `blaster b: config:1:2: unknown field "sizes"`},
		{`{"size":"12 parsecs"}`, `parse size "12 parsecs"`},
	}
	for _, tt := range tests {
		_, err := New([]byte(tt.config), conntest.Env("b"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s) error = %v; want one containing %q", tt.config, err, tt.want)
		}
	}
}

func TestBlasterSynthetic(t *testing.T) {
	b, err := New([]byte(`{"count":1000,"loops":2,"size":"1KiB","kind":"packet","stream_id":3}`), conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, evs := conntest.PollAll(t, b, conntest.NewBatch(t, 256, 0), 100)
	if len(got) != 2000 {
		t.Fatalf("synthetic blaster emitted %d events; want 2000", len(got))
	}
	for i, e := range evs {
		if e.Len != 1024 || e.Kind != cabi.KindPacket || e.StreamID != 3 {
			t.Fatalf("event %d = len %d kind %d stream %d; want 1024, packet, 3", i, e.Len, e.Kind, e.StreamID)
		}
	}
	// Consecutive events point at different offsets of the pattern.
	if got[0] == got[1] {
		t.Errorf("events 0 and 1 have the same bytes %q", got[0][:8])
	}
}

func TestBlasterRate(t *testing.T) {
	const rate, n = 2000.0, 200 // 100ms worth
	b, err := New([]byte(fmt.Sprintf(`{"count":%d,"rate":%g}`, n, rate)), conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Start()
	start := time.Now()
	got, _ := conntest.PollAll(t, b, conntest.NewBatch(t, 1024, 0), 10000)
	el := time.Since(start)
	if len(got) != n {
		t.Fatalf("emitted %d; want %d", len(got), n)
	}
	// The property is that the rate is never beaten; a busy machine may
	// emit more slowly, so the upper bound only catches a hang.
	if lo, hi := 90*time.Millisecond, time.Minute; el < lo || el > hi {
		t.Errorf("%d events at %g/s took %v; want between %v and %v", n, rate, el, lo, hi)
	}
}

func TestBlasterPauseDrain(t *testing.T) {
	b, err := New(nil, conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	batch := conntest.NewBatch(t, 8, 0)
	if st, _ := b.Poll(batch, 0); st != cabi.OK || batch.Len != 8 {
		t.Fatalf("Poll = %v with %d events; want OK with 8", st, batch.Len)
	}
	b.Pause()
	batch.Reset()
	if st, _ := b.Poll(batch, time.Millisecond); st != cabi.Timeout || batch.Len != 0 {
		t.Errorf("Poll while paused = %v with %d events; want Timeout with none", st, batch.Len)
	}
	b.Resume()
	if st, _ := b.Poll(batch, 0); st != cabi.OK || batch.Len != 8 {
		t.Errorf("Poll after resume = %v with %d events; want OK with 8", st, batch.Len)
	}
	b.Drain()
	batch.Reset()
	if st, _ := b.Poll(batch, 0); st != cabi.EOF || batch.Len != 0 {
		t.Errorf("Poll after drain = %v with %d events; want EOF with none", st, batch.Len)
	}
}

// TestBlasterAppendsAfterExisting checks that Poll appends at b.Len.
func TestBlasterAppendsAfterExisting(t *testing.T) {
	b, err := New([]byte(`{"count":3}`), conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	batch := conntest.NewBatch(t, 8, 64)
	conntest.Fill(t, batch, 1, "pre")
	if st, _ := b.Poll(batch, 0); st != cabi.EOF || batch.Len != 4 {
		t.Fatalf("Poll = %v with %d events; want EOF with 4", st, batch.Len)
	}
	if got := string(batch.EventSlice()[0].Bytes()); got != "pre" {
		t.Errorf("event 0 = %q; want the pre-existing %q", got, "pre")
	}
}

func TestBlasterPollAllocs(t *testing.T) {
	for _, config := range []string{`{}`, `{"copy":true}`} {
		b, err := New([]byte(config), conntest.Env("b"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		batch := conntest.NewBatch(t, 1024, 64<<10)
		allocs := testing.AllocsPerRun(100, func() {
			batch.Reset()
			b.Poll(batch, 0)
		})
		if allocs != 0 {
			t.Errorf("Poll with config %s allocates %v times per call; want 0", config, allocs)
		}
	}
}

func TestBlasterCopy(t *testing.T) {
	b, err := New([]byte(`{"file":"../format/testdata/events.jsonl","copy":true,"loops":0}`), conntest.Env("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The file's bytes: 5+4+20+2+0 = 31 per loop; a 38-byte arena holds
	// one loop and the first event of the next, then runs out.
	batch := conntest.NewBatch(t, 64, 38)
	if st, err := b.Poll(batch, 0); st != cabi.OK || err != nil {
		t.Fatalf("Poll = %v, %v", st, err)
	}
	evs := batch.EventSlice()
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Bytes()))
		if e.Len > 0 && (uintptr(e.Data) < uintptr(batch.Arena) || uintptr(e.Data)+uintptr(e.Len) > uintptr(batch.Arena)+uintptr(batch.ArenaLen)) {
			t.Errorf("event %q points outside the batch arena", e.Bytes())
		}
	}
	want := `["hello" "\x00\x01\x02\x03" "tab\there \"quoted\" é" "{}" "" "hello"]`
	if fmt.Sprintf("%q", got) != want {
		t.Errorf("copied events = %q; want %s", got, want)
	}
	// Rewriting the copies does not change what the next loop replays.
	evs[0].Bytes()[0] = 'J'
	batch.Reset()
	b.Poll(batch, 0)
	if s := string(batch.EventSlice()[4].Bytes()); s != "hello" {
		t.Errorf("after rewriting a copy the replay gives %q; want hello", s)
	}

	big, err := New([]byte(`{"size":100,"count":1,"copy":true}`), conntest.Env("big"))
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	if st, err := big.Poll(conntest.NewBatch(t, 4, 64), 0); st != cabi.Error || err == nil || !strings.Contains(err.Error(), "does not fit the batch arena of 64 bytes") {
		t.Errorf("Poll of a 100-byte event into a 64-byte arena = %v, %v; want an error", st, err)
	}
}
