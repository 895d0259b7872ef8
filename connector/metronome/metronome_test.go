package metronome

import (
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func TestMetronome(t *testing.T) {
	m, err := New([]byte(`{"interval":"20ms","count":3,"stream_id":4}`), conntest.Env("m"))
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	start := time.Now()
	b := conntest.NewBatch(t, 4, 64)
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
	// Ticks never come early; a busy machine may deliver them late, so
	// the upper bound only catches a hang.
	if el < 55*time.Millisecond || el > time.Minute {
		t.Errorf("3 ticks at 20ms took %v; want at least 55ms", el)
	}
	if _, err := New([]byte(`{"interval":"0s"}`), conntest.Env("m")); err == nil {
		t.Error("New accepted a zero interval")
	}
}

func TestMetronomeSkipsMissedTicks(t *testing.T) {
	m, err := New([]byte(`{"interval":"5ms"}`), conntest.Env("m"))
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	time.Sleep(28 * time.Millisecond)
	b := conntest.NewBatch(t, 4, 0) // no arena: ticks carry no data
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
