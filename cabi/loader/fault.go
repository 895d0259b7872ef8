package loader

import (
	"sync"
	"unsafe"
)

// FaultExitStatus is the exit status of a process that a plugin crashed,
// once InstallFaultHandler has run: distinct from 1 (a run-time failure)
// and 2 (a usage error), so that a supervisor can tell a plugin's fault
// from weir's own.
const FaultExitStatus = 3

// maxFaultFrames bounds the instances whose calls a fault can be traced
// to; instances past it still work, and a fault in one is reported
// without its name.
const maxFaultFrames = 4096

// faultLineLen bounds the line faultHandler writes; a longer one is cut
// short, keeping the signal's part and the newline.
const faultLineLen = 2048

// Data read by faultHandler (call_amd64.s) inside a signal handler: plain
// words and (pointer, length) pairs to static or pinned strings, never Go
// maps or slices.
var (
	// goTextLo and goTextHi bound the Go binary's executable mapping.
	goTextLo, goTextHi uintptr
	// prevHandlers are the handlers installFaultHandler displaced, by
	// signal number (the Go runtime's).
	prevHandlers [64]uintptr
	// faultFrames holds the call frames of live instances (0 for a free
	// slot); faultMu guards slot assignment, not the handler's reads.
	faultFrames [maxFaultFrames]uintptr
	faultMu     sync.Mutex
	faultFree   []int
	faultNext   int
	// faultLine is where faultHandler builds its line; faultBusy is set
	// by the first thread to fault.
	faultLine [faultLineLen]byte
	faultBusy uintptr
	// faultExit is the status faultHandler exits with.
	faultExit uintptr = FaultExitStatus
	// The pieces of the line faultHandler writes.
	msgPrefix, msgIn, msgNone [2]uintptr
	sigMsgs                   [64][2]uintptr
)

// strMsg returns the (pointer, length) pair of s, which must stay
// reachable for as long as the handler may read it.
func strMsg(s string) [2]uintptr {
	return [2]uintptr{uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(len(s))}
}

var (
	textPrefix = "weir: plugin fault: "
	textIn     = " crashed in its "
	textNone   = "code outside weir crashed with no plugin call in flight on that stack (a thread the plugin started?)"
	sigTexts   = map[int]string{4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
	sigLines   [64]string
)

// track registers f, the direct-call frame of an instance, so that a fault
// during one of its calls names it; who describes the instance. It
// returns the slot for untrack, or -1 when every slot is taken.
func track(f *callFrame, who string) int {
	f.who = who
	f.whoMsg = strMsg(f.who)
	faultMu.Lock()
	defer faultMu.Unlock()
	slot := -1
	if n := len(faultFree); n > 0 {
		slot = faultFree[n-1]
		faultFree = faultFree[:n-1]
	} else if faultNext < maxFaultFrames {
		slot = faultNext
		faultNext++
	}
	if slot >= 0 {
		faultFrames[slot] = uintptr(unsafe.Pointer(f))
	}
	return slot
}

// untrack frees a slot track returned.
func untrack(slot int) {
	if slot < 0 {
		return
	}
	faultMu.Lock()
	faultFrames[slot] = 0
	faultFree = append(faultFree, slot)
	faultMu.Unlock()
}
