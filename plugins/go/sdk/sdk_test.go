//go:build cgo

package weirsdk

import (
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// TestLayout checks the cabi types the SDK uses against the C compiler's view of
// plugin.h (weirsdk_layout in sdk.c).
func TestLayout(t *testing.T) {
	var e Event
	var b Batch
	cases := []struct {
		name string
		what int
		got  uintptr
	}{
		{"sizeof(weir_event)", 0, unsafe.Sizeof(e)},
		{"offsetof(weir_event, stream_id)", 1, unsafe.Offsetof(e.StreamID)},
		{"offsetof(weir_event, data)", 2, unsafe.Offsetof(e.Data)},
		{"offsetof(weir_event, len)", 3, unsafe.Offsetof(e.Len)},
		{"offsetof(weir_event, kind)", 4, unsafe.Offsetof(e.Kind)},
		{"offsetof(weir_event, flags)", 5, unsafe.Offsetof(e.Flags)},
		{"sizeof(weir_batch)", 6, unsafe.Sizeof(b)},
		{"offsetof(weir_batch, len)", 7, unsafe.Offsetof(b.Len)},
		{"offsetof(weir_batch, events)", 8, unsafe.Offsetof(b.Events)},
		{"offsetof(weir_batch, arena)", 9, unsafe.Offsetof(b.Arena)},
		{"offsetof(weir_batch, arena_cap)", 10, unsafe.Offsetof(b.ArenaCap)},
		{"offsetof(weir_batch, arena_len)", 11, unsafe.Offsetof(b.ArenaLen)},
		{"offsetof(weir_batch, id)", 12, unsafe.Offsetof(b.ID)},
	}
	for _, c := range cases {
		if want := cLayout(c.what); c.got != want {
			t.Errorf("%s: Go %d; C %d", c.name, c.got, want)
		}
	}
}

func TestHandles(t *testing.T) {
	a, b := &instance{}, &instance{}
	ha := putHandle(a)
	hb := putHandle(b)
	if ha == 0 || hb == 0 || ha == hb {
		t.Fatalf("putHandle gave %#x and %#x; want two distinct non-zero handles", ha, hb)
	}
	if getHandle(ha) != a || getHandle(hb) != b {
		t.Fatal("getHandle does not return what putHandle stored")
	}
	dropHandle(ha)
	if getHandle(ha) != nil {
		t.Fatal("getHandle found a dropped handle")
	}
	c := &instance{}
	hc := putHandle(c)
	if uint32(hc) != uint32(ha) {
		t.Fatalf("slot of %#x not reused by %#x", ha, hc)
	}
	if getHandle(ha) != nil {
		t.Fatal("a stale handle finds the instance that reused its slot")
	}
	dropHandle(ha) // stale: must not free c's slot
	if getHandle(hc) != c {
		t.Fatal("dropping a stale handle freed the live one")
	}
	for _, h := range []uintptr{0, 1 << 40, 0xffffffff} {
		if getHandle(h) != nil {
			t.Errorf("getHandle(%#x) found an instance", h)
		}
	}
	dropHandle(hb)
	dropHandle(hc)
}

func TestHandlesConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				in := &instance{}
				h := putHandle(in)
				if getHandle(h) != in {
					t.Error("lost an instance")
					return
				}
				dropHandle(h)
			}
		}()
	}
	wg.Wait()
}

func TestRegister(t *testing.T) {
	ok := func([]byte, *Host) (any, error) { return nil, nil }
	cases := []struct {
		t    Type
		want string
	}{
		{Type{ID: "", Roles: RoleSink, New: ok}, "id is empty"},
		{Type{ID: "Bad", Roles: RoleSink, New: ok}, "not allowed"},
		{Type{ID: "9x", Roles: RoleSink, New: ok}, "not allowed"},
		{Type{ID: "x", Roles: RoleSink}, "New is nil"},
		{Type{ID: "x", New: ok}, "want a non-empty set"},
		{Type{ID: "x", Roles: 8, New: ok}, "want a non-empty set"},
		{Type{ID: "x", Roles: RoleSink, WantsAcks: true, New: ok}, "WantsAcks needs RoleSource"},
	}
	for _, c := range cases {
		err := Register(c.t)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Register(%+v) = %v; want an error containing %q", c.t, err, c.want)
		}
	}
	if err := Register(Type{ID: "sdk_test.sink-1", Roles: RoleSink, New: ok}); err != nil {
		t.Fatalf("Register of a good type: %v", err)
	}
	if err := Register(Type{ID: "sdk_test.sink-1", Roles: RoleSink, New: ok}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("duplicate Register = %v; want already registered", err)
	}
}

func TestBatchAppend(t *testing.T) {
	events := make([]Event, 2)
	arena := make([]byte, 8)
	b := &Batch{EventSize: uint32(unsafe.Sizeof(Event{})), Capacity: 2,
		Events: unsafe.Pointer(&events[0]), Arena: unsafe.Pointer(&arena[0]), ArenaCap: 8}
	if !b.Append(1, 2, KindText, 0, []byte("abcde")) {
		t.Fatal("first Append failed")
	}
	if b.Append(1, 2, KindText, 0, []byte("abcd")) {
		t.Fatal("Append past the arena succeeded")
	}
	if !b.Append(3, 4, KindRaw, 0, nil) {
		t.Fatal("empty Append failed")
	}
	if b.Append(3, 4, KindRaw, 0, nil) {
		t.Fatal("Append past capacity succeeded")
	}
	if got := string(b.Event(0).Bytes()); got != "abcde" || b.Len != 2 || b.ArenaLen != 5 || b.Event(1).Data != nil {
		t.Fatalf("batch after appends: %q, len %d, arena %d", got, b.Len, b.ArenaLen)
	}
}
