package cabi

import "unsafe"

// Event returns slot i of the batch without copying, stepping with the
// batch's EventSize: a plugin built against this layout reads the batches
// of a newer host, whose events may have grown at the end, correctly.
func (b *Batch) Event(i int) *Event {
	return (*Event)(unsafe.Add(b.Events, uintptr(i)*uintptr(b.EventSize)))
}

// InArena reports whether e's bytes start inside b's arena.
func (b *Batch) InArena(e *Event) bool {
	if b.Arena == nil || e.Data == nil {
		return false
	}
	off := uintptr(e.Data) - uintptr(b.Arena)
	return uintptr(e.Data) >= uintptr(b.Arena) && uint64(off) < b.ArenaCap
}

// AdoptForeign copies into the arena the bytes of every event from index
// from on whose data points outside the arena (into plugin memory, valid
// only until the plugin's next call), and points those events at the
// copies. After it returns true the batch depends on no plugin memory. It
// returns false when the arena has no room for some event; events before
// that one were adopted, the rest still point at plugin memory. It does not
// allocate.
func (b *Batch) AdoptForeign(from int) bool {
	for i := from; i < int(b.Len); i++ {
		e := b.Event(i)
		if e.Len == 0 || e.Data == nil || b.InArena(e) {
			continue
		}
		if b.ArenaCap-b.ArenaLen < uint64(e.Len) {
			return false
		}
		dst := unsafe.Add(b.Arena, b.ArenaLen)
		copy(unsafe.Slice((*byte)(dst), e.Len), unsafe.Slice((*byte)(e.Data), e.Len))
		e.Data = dst
		b.ArenaLen += uint64(e.Len)
	}
	return true
}
