package loader

import (
	"os"

	"github.com/ebitengine/purego"
)

// CallEnv is the environment variable that selects how an Instance calls
// into its plugin. Unset (or "direct"), Create picks the direct path where
// this build has one (linux/amd64): a small assembly trampoline entered
// through the Go runtime's cgocall, for the calls that take at most three
// integer arguments. "syscalln" makes the instance use purego.SyscallN for
// every call instead, as other architectures always do. It is read once per
// Create, so it can differ between instances; it exists to compare the two
// paths and as an escape hatch, not as a tuning knob.
const CallEnv = "WEIR_CABI_CALL"

// callFrame is the argument block of one direct call. The trampoline reads
// fn and a0..a2 and writes the C function's return value into ret. Its
// layout is fixed: call_amd64.s addresses the fields by offset.
type callFrame struct {
	fn, a0, a1, a2, ret uintptr
	// sp is set by the trampoline while the plugin runs: the stack
	// pointer below which the plugin's frames lie (see faultHandler).
	sp uintptr
	// op and whoMsg are (pointer, length) pairs of the call's name and of
	// who, for faultHandler.
	op, whoMsg [2]uintptr
	// who names the instance: connector, type and library.
	who string
}

// useDirect reports whether a new instance should use the direct path.
func useDirect() bool {
	return haveDirect && os.Getenv(CallEnv) != "syscalln"
}

// call3 calls the C function fn, the instance's operation op (a string
// that stays reachable: a literal), with the first n of a0, a1, a2 (n <= 3) as
// integer arguments and returns its integer result. Unused arguments are
// passed as zero registers, which a C function taking fewer ignores.
//
// The direct path reuses the instance's callFrame, so it does not allocate;
// calls on one instance are serialized by contract, so the frame is never
// shared. The SyscallN path reuses in.args for the same reason: a variadic
// slice built per call would escape to the heap.
func (in *Instance) call3(op string, fn uintptr, n int, a0, a1, a2 uintptr) uintptr {
	if in.direct {
		f := &in.frame
		f.fn, f.a0, f.a1, f.a2 = fn, a0, a1, a2
		f.op = strMsg(op)
		callDirect(f)
		return f.ret
	}
	in.args = [3]uintptr{a0, a1, a2}
	if e := in.entry; e != nil {
		e.calls.Add(1)
		defer e.calls.Add(-1)
	}
	r, _, _ := purego.SyscallN(fn, in.args[:n]...)
	return r
}
