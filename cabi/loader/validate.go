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
	// Check every appended event, not only up to the first bad one, so
	// that the error says how much of the batch was wrong.
	first, bad := -1, 0
	var reason string
	for i := int(before.Len); i < int(b.Len); i++ {
		if r := checkEvent(b, event(b, i)); r != "" {
			if bad == 0 {
				first, reason = i, r
			}
			bad++
		}
	}
	switch {
	case bad == 1:
		return reason, first
	case bad > 1:
		return fmt.Sprintf("%s (%d of the %d events appended are bad)", reason, bad, b.Len-before.Len), first
	}
	return "", 0
}

// Bounds of the addresses event bytes outside the arena may have: Linux
// never maps the lowest 64 KiB (vm.mmap_min_addr's default), and user
// space ends below 1<<47 on the 4-level page tables of amd64 and arm64
// (and below 1<<56 with 5 levels, which only a process that asks for it
// gets).
const (
	minUserAddr = 1 << 16
	maxUserAddr = 1 << 47
)

// sourceForbidden are the flag bits a source may not set: DROP is a
// processor's, and bits 2-7 are reserved (a later minor version may give
// them a meaning, but a plugin built for it does not load on this host).
const sourceForbidden = cabi.FlagDrop | 0x00fc

// checkEvent checks one appended event: its flags first. Bytes in the arena must end
// within arena_len. Bytes in plugin memory cannot be checked without
// reading them, which is what a wild pointer must not be: only an address
// that no process can have mapped (a small integer, or past the end of
// user space) is caught here. It returns "" when e is sound.
func checkEvent(b *cabi.Batch, e *cabi.Event) string {
	if e.Flags&sourceForbidden != 0 {
		return fmt.Sprintf("flags %#x set bits a source may not set (DROP, or reserved bits 2-7)", e.Flags&sourceForbidden)
	}
	if e.Data == nil {
		if e.Len != 0 {
			return fmt.Sprintf("data is NULL but len is %d", e.Len)
		}
		return ""
	}
	if b.InArena(e) {
		off := uint64(uintptr(e.Data) - uintptr(b.Arena))
		if off+uint64(e.Len) > b.ArenaLen {
			return fmt.Sprintf("bytes [%d, %d) of the arena run past arena_len %d", off, off+uint64(e.Len), b.ArenaLen)
		}
		return ""
	}
	p := uint64(uintptr(e.Data))
	if p < minUserAddr || p+uint64(e.Len) > maxUserAddr {
		return fmt.Sprintf("data %#x (len %d) is not a user-space address", p, e.Len)
	}
	return ""
}

const fixedFieldsMsg = "the plugin changed a field it may not write (struct_size, event_size, capacity, events, arena, arena_cap or id)"

// headerChanged reports whether a plugin changed a batch field that only
// the host may write.
func headerChanged(before, b *cabi.Batch) bool {
	return b.StructSize != before.StructSize || b.EventSize != before.EventSize || b.Capacity != before.Capacity ||
		b.Events != before.Events || b.Arena != before.Arena || b.ArenaCap != before.ArenaCap || b.ID != before.ID
}
