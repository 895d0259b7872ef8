package loader

import (
	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"

	"strings"
	"testing"
)

func TestCheckPolled(t *testing.T) {
	cases := []struct {
		name     string
		evs      []ctest.PolledEvent
		arenaLen uint64
		mutate   func(*cabi.Batch)
		want     string // substring of the reason; "" means sound
		index    int
	}{
		{name: "empty"},
		{name: "arena events", evs: []ctest.PolledEvent{ctest.Ev("arena", 0, 4), ctest.Ev("arena", 4, 4)}, arenaLen: 8},
		{name: "foreign event", evs: []ctest.PolledEvent{ctest.Ev("foreign", 0, 64)}},
		{name: "empty event", evs: []ctest.PolledEvent{ctest.Ev("nil", 0, 0)}},
		{name: "null with len", evs: []ctest.PolledEvent{ctest.Ev("arena", 0, 1), ctest.Ev("nil", 0, 3)}, arenaLen: 1, want: "data is NULL but len is 3", index: 1},
		{name: "past arena_len", evs: []ctest.PolledEvent{ctest.Ev("arena", 10, 8)}, arenaLen: 12, want: "bytes [10, 18) of the arena run past arena_len 12", index: 0},
		{name: "arena_len past cap", arenaLen: 65, want: "arena_len 65 exceeds arena_cap 64", index: -1},
		{name: "len past cap", mutate: func(b *cabi.Batch) { b.Len = 9 }, want: "len 9 exceeds capacity 8", index: -1},
		{name: "moved arena", mutate: func(b *cabi.Batch) { b.Arena = nil }, want: "changed a field it may not write", index: -1},
		{name: "changed id", mutate: func(b *cabi.Batch) { b.ID++ }, want: "changed a field", index: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := ctest.NewBatch(t, 8, 64)
			before := ctest.FakePoll(b, tc.evs, tc.arenaLen)
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
	b := ctest.NewBatch(t, 8, 64)
	b.Append(0, 0, cabi.KindRaw, 0, []byte("abcd"))
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

// FuzzCheckPolled builds batches from arbitrary source behaviour and
// checks that whatever checkPolled accepts is safe to read and to adopt.
func FuzzCheckPolled(f *testing.F) {
	f.Add([]byte{2, 8, 0, 0, 4, 1, 4, 4}, uint8(8))
	f.Add([]byte{1, 0, 3, 2}, uint8(0))
	f.Add([]byte{3, 1, 60, 10, 2, 0, 5}, uint8(70))
	f.Fuzz(func(t *testing.T, spec []byte, arenaLen uint8) {
		b, err := cabi.AllocBatch(8, 64)
		if err != nil {
			t.Fatal(err)
		}
		defer cabi.FreeBatch(b)
		var evs []ctest.PolledEvent
		for i := 0; i+2 < len(spec) && len(evs) < 9; i += 3 {
			pe := ctest.PolledEvent{Off: uint64(spec[i+1] % 64), Len: uint32(spec[i+2])}
			switch spec[i] % 3 {
			case 0:
				pe.Where = "nil"
			case 1:
				pe.Where = "arena"
			default:
				pe.Where = "foreign"
				pe.Len %= 65
			}
			evs = append(evs, pe)
		}
		if len(evs) > 8 {
			evs = evs[:8]
		}
		before := ctest.FakePoll(b, evs, uint64(arenaLen))
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
