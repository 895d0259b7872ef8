package cabi

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Bounds of AllocBatch: the most event slots and arena bytes one batch may
// have.
const (
	MaxBatchCapacity = 1 << 24
	MaxArenaCap      = 1 << 34
)

// AllocBatch allocates a Batch with capacity event slots and an arena of
// arenaCap bytes in one anonymous mapping outside the Go heap, so plugins may
// read and write it and the garbage collector never scans or moves it. The
// batch is empty. Free it with FreeBatch.
func AllocBatch(capacity, arenaCap int) (*Batch, error) {
	if capacity <= 0 || capacity > MaxBatchCapacity {
		return nil, fmt.Errorf("alloc batch: capacity %d out of range 1..%d", capacity, MaxBatchCapacity)
	}
	if arenaCap < 0 || int64(arenaCap) > MaxArenaCap {
		return nil, fmt.Errorf("alloc batch: arena size %d out of range 0..%d", arenaCap, int64(MaxArenaCap))
	}
	size := batchMapSize(capacity, arenaCap)
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("alloc batch of %d events and %d bytes: %w", capacity, arenaCap, err)
	}
	base := unsafe.Pointer(unsafe.SliceData(mem))
	b := (*Batch)(base)
	b.StructSize = BatchSize
	b.EventSize = EventSize
	b.Capacity = uint32(capacity)
	b.Events = unsafe.Add(base, headerSpan)
	if arenaCap > 0 {
		b.Arena = unsafe.Add(base, headerSpan+capacity*int(EventSize))
	}
	b.ArenaCap = uint64(arenaCap)
	return b, nil
}

// FreeBatch unmaps a batch made by AllocBatch. The batch must not be used
// afterwards.
func FreeBatch(b *Batch) error {
	if b == nil {
		return nil
	}
	size := batchMapSize(int(b.Capacity), int(b.ArenaCap))
	mem := unsafe.Slice((*byte)(unsafe.Pointer(b)), size)
	if err := unix.Munmap(mem); err != nil {
		return fmt.Errorf("free batch: %w", err)
	}
	return nil
}

// headerSpan is the room kept for the Batch struct before the event slots,
// rounded to a cache line.
const headerSpan = 64

func batchMapSize(capacity, arenaCap int) int {
	n := headerSpan + capacity*int(EventSize) + arenaCap
	page := unix.Getpagesize()
	return (n + page - 1) / page * page
}

// Reset empties the batch: no events, no arena bytes in use. The ID is kept.
func (b *Batch) Reset() {
	b.Len = 0
	b.ArenaLen = 0
}

// Append adds an event whose bytes are copied into the arena. It returns
// false, and changes nothing, when the batch has no free slot or the arena
// has no room for data.
func (b *Batch) Append(ts uint64, stream uint64, kind Kind, flags uint16, data []byte) bool {
	if b.Len >= b.Capacity || uint64(len(data)) > b.ArenaCap-b.ArenaLen {
		return false
	}
	e := b.Event(int(b.Len))
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Add(b.Arena, b.ArenaLen)
		copy(unsafe.Slice((*byte)(p), len(data)), data)
		b.ArenaLen += uint64(len(data))
	}
	*e = Event{TsNs: ts, StreamID: stream, Data: p, Len: uint32(len(data)), Kind: kind, Flags: flags}
	b.Len++
	return true
}
