//go:build linux && amd64

package loader

import "unsafe"

const haveDirect = true

// runtime_cgocall is the runtime's cgocall: it announces a system call
// (entersyscall), switches to the thread's system stack, calls fn with arg
// there in the C calling convention (asmcgocall) and returns through
// exitsyscall. Because of entersyscall/exitsyscall, the plugin may call back
// into Go (the host API's purego callbacks) from inside the call. The
// runtime marks cgocall as reachable by linkname for purego, which this
// package depends on anyway; purego's fakecgo is also what sets iscgo in a
// CGO_ENABLED=0 binary, without which cgocall refuses to run.
//
//go:linkname runtime_cgocall runtime.cgocall
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

// call3TrampolineABI0 holds the address of the ABI0 trampoline call3 in
// call_amd64.s. It is defined (with its value) in the assembly file.
var call3TrampolineABI0 uintptr

// callDirect calls f.fn(f.a0, f.a1, f.a2) and stores its result in f.ret.
// f must not live on a goroutine stack, which could move while C holds its
// address; it cannot, since passing it to the bodyless runtime_cgocall
// makes it escape to the heap (callers keep it in the Instance, so that
// costs no allocation per call).
func callDirect(f *callFrame) {
	runtime_cgocall(call3TrampolineABI0, unsafe.Pointer(f))
}
