package cabi

import (
	"bytes"
	"testing"
)

func TestAllocBatchAppend(t *testing.T) {
	b, err := AllocBatch(4, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer FreeBatch(b)
	if b.StructSize != BatchSize || b.EventSize != EventSize || b.Capacity != 4 || b.ArenaCap != 10 {
		t.Fatalf("header = %+v", *b)
	}
	if !b.Append(1, 7, KindRaw, 0, []byte("hello")) || !b.Append(2, 7, KindTick, 0, nil) {
		t.Fatal("Append into empty batch failed")
	}
	if b.Append(3, 7, KindRaw, 0, []byte("too long")) {
		t.Fatal("Append past the arena succeeded")
	}
	if !b.Append(3, 7, KindRaw, 0, []byte("world")) {
		t.Fatal("Append that exactly fills the arena failed")
	}
	ev := b.EventSlice()
	if len(ev) != 3 || !bytes.Equal(ev[0].Bytes(), []byte("hello")) || ev[1].Bytes() != nil || string(ev[2].Bytes()) != "world" {
		t.Fatalf("events = %+v", ev)
	}
	if !b.Append(4, 7, KindTick, 0, nil) || b.Append(5, 7, KindTick, 0, nil) {
		t.Fatal("capacity not enforced")
	}
	b.Reset()
	if b.Len != 0 || b.ArenaLen != 0 {
		t.Fatalf("after Reset: %+v", *b)
	}
}

func TestAllocBatchBounds(t *testing.T) {
	for _, c := range []struct{ capacity, arena int }{{0, 10}, {-1, 10}, {1, -1}, {1 << 25, 0}} {
		if b, err := AllocBatch(c.capacity, c.arena); err == nil {
			FreeBatch(b)
			t.Errorf("AllocBatch(%d, %d) = nil error; want an error", c.capacity, c.arena)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	b, err := AllocBatch(1024, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer FreeBatch(b)
	payload := make([]byte, 64)
	n := testing.AllocsPerRun(100, func() {
		b.Reset()
		for b.Append(1, 2, KindRaw, 0, payload) {
		}
	})
	if n != 0 {
		t.Fatalf("Append allocates %v times per batch; want 0", n)
	}
}
