package cabi_test

import (
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"
)

func TestAdoptForeign(t *testing.T) {
	copy(ctest.ForeignBuf[:], "plugin-owned bytes")
	b := ctest.NewBatch(t, 4, 26)
	b.Append(0, 0, cabi.KindRaw, 0, []byte("in arena"))
	ctest.FakePoll(b, []ctest.PolledEvent{ctest.Ev("foreign", 0, 6), ctest.Ev("nil", 0, 0), ctest.Ev("foreign", 0, 12)}, b.ArenaLen)
	if !b.AdoptForeign(0) {
		t.Fatal("AdoptForeign = false with room for both")
	}
	ev := b.EventSlice()
	if string(ev[0].Bytes()) != "in arena" || string(ev[1].Bytes()) != "plugin" || ev[2].Data != nil || string(ev[3].Bytes()) != "plugin-owned" {
		t.Errorf("after AdoptForeign: %q %q %v %q", ev[0].Bytes(), ev[1].Bytes(), ev[2].Data, ev[3].Bytes())
	}
	for i := range ev {
		if ev[i].Len > 0 && !b.InArena(&ev[i]) {
			t.Errorf("event %d still outside the arena", i)
		}
	}
	if b.ArenaLen != 8+6+12 {
		t.Errorf("arena_len = %d; want 26", b.ArenaLen)
	}

	// No room: reports false and leaves the unadopted event pointing at
	// plugin memory, with the arena unchanged past what was adopted.
	small := ctest.NewBatch(t, 2, 4)
	ctest.FakePoll(small, []ctest.PolledEvent{ctest.Ev("foreign", 0, 3), ctest.Ev("foreign", 0, 3)}, 0)
	if small.AdoptForeign(0) {
		t.Fatal("AdoptForeign = true without room")
	}
	if e := small.EventSlice(); !small.InArena(&e[0]) || small.InArena(&e[1]) || small.ArenaLen != 3 {
		t.Errorf("after partial adopt: in arena %v %v, arena_len %d", small.InArena(&e[0]), small.InArena(&e[1]), small.ArenaLen)
	}
}
