// Command goplug is a test plugin built with -buildmode=c-shared: a sink
// that counts events in Go, allocating garbage and forcing a collection in
// its own Go runtime every 64 writes, so TestTwoGoRuntimes can run several
// Go runtimes in one process under load. Poll appends one event whose ts_ns
// is the number of events written so far.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#include "weir/plugin.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

type instance struct {
	events uint64
	calls  uint64
	keep   [][]byte
}

var (
	instances sync.Map // uintptr -> *instance
	next      atomic.Uintptr
)

//export goCreate
func goCreate() C.uintptr_t {
	id := next.Add(1)
	instances.Store(id, &instance{})
	return C.uintptr_t(id)
}

//export goDestroy
func goDestroy(id C.uintptr_t) { instances.Delete(uintptr(id)) }

func get(id C.uintptr_t) *instance {
	v, ok := instances.Load(uintptr(id))
	if !ok {
		return nil
	}
	return v.(*instance)
}

//export goWrite
func goWrite(id C.uintptr_t, batch C.uintptr_t) C.int32_t {
	in := get(id)
	if in == nil {
		return C.WEIR_ERROR
	}
	b := (*C.weir_batch)(unsafe.Pointer(uintptr(batch)))
	in.events += uint64(b.len)
	in.calls++
	// Garbage that survives a little, so collections have work to do.
	in.keep = append(in.keep, make([]byte, 512))
	if len(in.keep) > 32 {
		in.keep = in.keep[16:]
	}
	if in.calls%64 == 0 {
		runtime.GC()
	}
	return C.WEIR_OK
}

//export goPoll
func goPoll(id C.uintptr_t, batch C.uintptr_t) C.int32_t {
	in := get(id)
	b := (*C.weir_batch)(unsafe.Pointer(uintptr(batch)))
	if in == nil || b.len >= b.capacity {
		return C.WEIR_ERROR
	}
	e := (*C.weir_event)(unsafe.Add(unsafe.Pointer(b.events), uintptr(b.len)*uintptr(b.event_size)))
	*e = C.weir_event{ts_ns: C.uint64_t(in.events), kind: C.WEIR_KIND_RAW}
	b.len++
	return C.WEIR_OK
}

// goNoop does nothing, with the poll signature: BenchmarkCallPath uses it
// to measure the bare cost of one call into a Go c-shared library.
//
//export goNoop
func goNoop(a, b C.uintptr_t, c C.int64_t) C.int32_t { return 0 }

func main() {}
