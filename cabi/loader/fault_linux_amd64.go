package loader

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// faultHandlerABI0 holds the address of faultHandler in call_amd64.s.
var faultHandlerABI0 uintptr

// sigactiont is the kernel's struct sigaction on amd64.
type sigactiont struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

var (
	installOnce sync.Once
	installErr  error
)

// InstallFaultHandler puts weir's plugin-fault handler in front of the Go
// runtime's for SIGSEGV, SIGBUS, SIGILL and SIGFPE, and for a SIGABRT the
// process sent itself (abort(), as a failed assert calls; a SIGABRT from
// another process still gets Go's dump). A fault in Go code
// still goes to Go (a nil dereference still panics). A fault in any other
// code (a plugin, or a library it called) makes the process write one
// line to stderr, naming the connector, its type and library and the call
// it crashed in, and exit with FaultExitStatus, instead of the Go
// runtime's dump of every goroutine, which shows only the host and exits
// 2 like a usage error. A process that loads plugins calls it once,
// before the first call into one; later calls do nothing. It does nothing
// where the direct call path is missing (see CallEnv): calls through
// purego.SyscallN leave no frame to name.
func InstallFaultHandler() error {
	installOnce.Do(func() { installErr = installFaultHandler() })
	return installErr
}

func installFaultHandler() error {
	lo, hi, err := textMapping(faultHandlerABI0)
	if err != nil {
		return fmt.Errorf("install plugin fault handler: %w", err)
	}
	goTextLo, goTextHi = lo, hi
	msgPrefix, msgIn, msgNone = strMsg(textPrefix), strMsg(textIn), strMsg(textNone)
	for sig := range sigLines {
		name := sigTexts[sig]
		if name == "" {
			name = "signal " + strconv.Itoa(sig)
		}
		sigLines[sig] = " (" + name + ")\n"
		sigMsgs[sig] = strMsg(sigLines[sig])
	}
	for _, sig := range []int{4, 6, 7, 8, 11} {
		var old sigactiont
		if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			return fmt.Errorf("install plugin fault handler: read the action of signal %d: %w", sig, e)
		}
		if old.handler == faultHandlerABI0 {
			continue
		}
		if old.handler <= 1 { // SIG_DFL or SIG_IGN: Go always installs its own
			return fmt.Errorf("install plugin fault handler: signal %d has no handler to chain to", sig)
		}
		prevHandlers[sig] = old.handler
		act := old
		act.handler = faultHandlerABI0
		if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); e != 0 {
			return fmt.Errorf("install plugin fault handler: signal %d: %w", sig, e)
		}
	}
	return nil
}

// textMapping returns the bounds of the executable mapping that holds pc,
// from /proc/self/maps: the Go binary's text.
func textMapping(pc uintptr) (lo, hi uintptr, err error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rng, rest, _ := strings.Cut(sc.Text(), " ")
		a, b, ok := strings.Cut(rng, "-")
		if !ok || !strings.HasPrefix(rest, "r-x") {
			continue
		}
		l, err1 := strconv.ParseUint(a, 16, 64)
		h, err2 := strconv.ParseUint(b, 16, 64)
		if err1 == nil && err2 == nil && uintptr(l) <= pc && pc < uintptr(h) {
			return uintptr(l), uintptr(h), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, fmt.Errorf("no executable mapping holds %#x", pc)
}
