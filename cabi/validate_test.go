package cabi

import (
	"strings"
	"testing"
	"unsafe"
)

// foreignBuf stands in for plugin memory outside the arena.
var foreignBuf [64]byte

// polledEvent describes an event a fake source appended: where its data
// points ("nil", "arena" at off, or "foreign") and its length.
type polledEvent struct {
	where string
	off   uint64
	len   uint32
}

// fakePoll applies what a source would do to b: append evs and set
// arena_len, then returns the header copy from before.
func fakePoll(b *Batch, evs []polledEvent, arenaLen uint64) Batch {
	before := *b
	for _, pe := range evs {
		e := b.event(int(b.Len))
		*e = Event{Len: pe.len}
		switch pe.where {
		case "arena":
			e.Data = unsafe.Add(b.Arena, pe.off)
		case "foreign":
			e.Data = unsafe.Pointer(&foreignBuf[0])
		}
		b.Len++
	}
	b.ArenaLen = arenaLen
	return before
}

func TestCheckPolled(t *testing.T) {
	cases := []struct {
		name     string
		evs      []polledEvent
		arenaLen uint64
		mutate   func(*Batch)
		want     string // substring of the reason; "" means sound
		index    int
	}{
		{name: "empty"},
		{name: "arena events", evs: []polledEvent{{"arena", 0, 4}, {"arena", 4, 4}}, arenaLen: 8},
		{name: "foreign event", evs: []polledEvent{{"foreign", 0, 64}}},
		{name: "empty event", evs: []polledEvent{{"nil", 0, 0}}},
		{name: "null with len", evs: []polledEvent{{"arena", 0, 1}, {"nil", 0, 3}}, arenaLen: 1, want: "data is NULL but len is 3", index: 1},
		{name: "past arena_len", evs: []polledEvent{{"arena", 10, 8}}, arenaLen: 12, want: "bytes [10, 18) of the arena run past arena_len 12", index: 0},
		{name: "arena_len past cap", arenaLen: 65, want: "arena_len 65 exceeds arena_cap 64", index: -1},
		{name: "len past cap", mutate: func(b *Batch) { b.Len = 9 }, want: "len 9 exceeds capacity 8", index: -1},
		{name: "moved arena", mutate: func(b *Batch) { b.Arena = nil }, want: "changed a field it may not write", index: -1},
		{name: "changed id", mutate: func(b *Batch) { b.ID++ }, want: "changed a field", index: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := mustBatch(t, 8, 64)
			before := fakePoll(b, tc.evs, tc.arenaLen)
			if tc.mutate != nil {
				tc.mutate(b)
			}
			reason, idx := checkPolled(&before, b)
			if tc.want == "" {
				if reason != "" {
					t.Errorf("checkPolled = %q at %d; want sound", reason, idx)
				}
				return
			}
			if !strings.Contains(reason, tc.want) || idx != tc.index {
				t.Errorf("checkPolled = %q at %d; want %q at %d", reason, idx, tc.want, tc.index)
			}
		})
	}
}

func TestCheckPolledAppendsOnly(t *testing.T) {
	b := mustBatch(t, 8, 64)
	b.Append(0, 0, KindRaw, 0, []byte("abcd"))
	before := *b
	b.Len = 0
	if reason, _ := checkPolled(&before, b); !strings.Contains(reason, "len shrank from 1 to 0") {
		t.Errorf("checkPolled after shrinking = %q", reason)
	}
	b.Len, b.ArenaLen = 1, 2
	if reason, _ := checkPolled(&before, b); !strings.Contains(reason, "arena_len shrank from 4 to 2") {
		t.Errorf("checkPolled after shrinking the arena = %q", reason)
	}
}

func TestAdoptForeign(t *testing.T) {
	copy(foreignBuf[:], "plugin-owned bytes")
	b := mustBatch(t, 4, 26)
	b.Append(0, 0, KindRaw, 0, []byte("in arena"))
	fakePoll(b, []polledEvent{{"foreign", 0, 6}, {"nil", 0, 0}, {"foreign", 0, 12}}, b.ArenaLen)
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
	small := mustBatch(t, 2, 4)
	fakePoll(small, []polledEvent{{"foreign", 0, 3}, {"foreign", 0, 3}}, 0)
	if small.AdoptForeign(0) {
		t.Fatal("AdoptForeign = true without room")
	}
	if e := small.EventSlice(); !small.InArena(&e[0]) || small.InArena(&e[1]) || small.ArenaLen != 3 {
		t.Errorf("after partial adopt: in arena %v %v, arena_len %d", small.InArena(&e[0]), small.InArena(&e[1]), small.ArenaLen)
	}
}

// FuzzCheckPolled builds batches from arbitrary source behaviour and
// checks that whatever checkPolled accepts is safe to read and to adopt.
func FuzzCheckPolled(f *testing.F) {
	f.Add([]byte{2, 8, 0, 0, 4, 1, 4, 4}, uint8(8))
	f.Add([]byte{1, 0, 3, 2}, uint8(0))
	f.Add([]byte{3, 1, 60, 10, 2, 0, 5}, uint8(70))
	f.Fuzz(func(t *testing.T, spec []byte, arenaLen uint8) {
		b, err := AllocBatch(8, 64)
		if err != nil {
			t.Fatal(err)
		}
		defer FreeBatch(b)
		var evs []polledEvent
		for i := 0; i+2 < len(spec) && len(evs) < 9; i += 3 {
			pe := polledEvent{off: uint64(spec[i+1] % 64), len: uint32(spec[i+2])}
			switch spec[i] % 3 {
			case 0:
				pe.where = "nil"
			case 1:
				pe.where = "arena"
			default:
				pe.where = "foreign"
				pe.len %= 65
			}
			evs = append(evs, pe)
		}
		if len(evs) > 8 {
			evs = evs[:8]
		}
		before := fakePoll(b, evs, uint64(arenaLen))
		reason, _ := checkPolled(&before, b)
		if reason != "" {
			return
		}
		if b.Len > b.Capacity || b.ArenaLen > b.ArenaCap {
			t.Fatalf("accepted len %d/%d arena %d/%d", b.Len, b.Capacity, b.ArenaLen, b.ArenaCap)
		}
		for i, e := range b.EventSlice() {
			if e.Data == nil && e.Len != 0 {
				t.Fatalf("accepted event %d with NULL data and len %d", i, e.Len)
			}
			if b.InArena(&e) && uint64(uintptr(e.Data)-uintptr(b.Arena))+uint64(e.Len) > b.ArenaLen {
				t.Fatalf("accepted event %d past arena_len", i)
			}
		}
		if b.AdoptForeign(0) {
			for i, e := range b.EventSlice() {
				if e.Len > 0 && !b.InArena(&e) {
					t.Fatalf("event %d outside the arena after AdoptForeign", i)
				}
			}
		}
	})
}
