//go:build cgo

package weirsdk

import (
	"sync"
	"sync/atomic"
)

// The host knows an instance only by a handle: slot index+1 in the low 32
// bits and the slot's generation in the high 32, so a stale handle never
// finds a newer instance in a reused slot. Lookups are lock-free: they read
// an immutable snapshot of the slot array.

type slot struct {
	gen  atomic.Uint32
	inst atomic.Pointer[instance]
}

var handles struct {
	mu    sync.Mutex
	slots atomic.Pointer[[]*slot]
	free  []uint32
}

func putHandle(in *instance) uintptr {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	var idx uint32
	cur := handles.slots.Load()
	if n := len(handles.free); n > 0 {
		idx = handles.free[n-1]
		handles.free = handles.free[:n-1]
	} else {
		var old []*slot
		if cur != nil {
			old = *cur
		}
		grown := make([]*slot, len(old)+1)
		copy(grown, old)
		idx = uint32(len(old))
		grown[idx] = &slot{}
		handles.slots.Store(&grown)
		cur = &grown
	}
	s := (*cur)[idx]
	g := s.gen.Add(1)
	s.inst.Store(in)
	return uintptr(g)<<32 | uintptr(idx+1)
}

func getHandle(h uintptr) *instance {
	idx := uint32(h) - 1
	cur := handles.slots.Load()
	if cur == nil || int(idx) >= len(*cur) {
		return nil
	}
	s := (*cur)[idx]
	if s.gen.Load() != uint32(h>>32) {
		return nil
	}
	return s.inst.Load()
}

func dropHandle(h uintptr) {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	idx := uint32(h) - 1
	cur := handles.slots.Load()
	if cur == nil || int(idx) >= len(*cur) {
		return
	}
	s := (*cur)[idx]
	if s.gen.Load() != uint32(h>>32) || s.inst.Load() == nil {
		return
	}
	s.inst.Store(nil)
	s.gen.Add(1)
	handles.free = append(handles.free, idx)
}
