package loader

import (
	"fmt"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// event returns slot i of the batch, stepping with the host's stride.
func event(b *cabi.Batch, i int) *cabi.Event {
	return (*cabi.Event)(unsafe.Add(b.Events, uintptr(i)*uintptr(cabi.EventSize)))
}

// checkPolled checks the batch a source's poll left, given a copy of its
// header from before the call. It returns "" when the batch is sound, or
// what is wrong and the event index (-1 for the header). It allocates only
// when it finds a fault.
func checkPolled(before, b *cabi.Batch) (string, int) {
	if headerChanged(before, b) {
		return fixedFieldsMsg, -1
	}
	if b.Len > b.Capacity {
		return fmt.Sprintf("len %d exceeds capacity %d", b.Len, b.Capacity), -1
	}
	if b.Len < before.Len {
		return fmt.Sprintf("len shrank from %d to %d; a source may only append", before.Len, b.Len), -1
	}
	if b.ArenaLen > b.ArenaCap {
		return fmt.Sprintf("arena_len %d exceeds arena_cap %d", b.ArenaLen, b.ArenaCap), -1
	}
	if b.ArenaLen < before.ArenaLen {
		return fmt.Sprintf("arena_len shrank from %d to %d; a source may only append", before.ArenaLen, b.ArenaLen), -1
	}
	for i := int(before.Len); i < int(b.Len); i++ {
		e := event(b, i)
		if e.Data == nil {
			if e.Len != 0 {
				return fmt.Sprintf("data is NULL but len is %d", e.Len), i
			}
			continue
		}
		if b.InArena(e) {
			off := uint64(uintptr(e.Data) - uintptr(b.Arena))
			if off+uint64(e.Len) > b.ArenaLen {
				return fmt.Sprintf("bytes [%d, %d) of the arena run past arena_len %d", off, off+uint64(e.Len), b.ArenaLen), i
			}
		}
	}
	return "", 0
}

const fixedFieldsMsg = "the plugin changed a field it may not write (struct_size, event_size, capacity, events, arena, arena_cap or id)"

// headerChanged reports whether a plugin changed a batch field that only
// the host may write.
func headerChanged(before, b *cabi.Batch) bool {
	return b.StructSize != before.StructSize || b.EventSize != before.EventSize || b.Capacity != before.Capacity ||
		b.Events != before.Events || b.Arena != before.Arena || b.ArenaCap != before.ArenaCap || b.ID != before.ID
}
