package isolate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Securebits that keep a process without capabilities from regaining them
// as uid 0 (capabilities(7)); each is set together with its lock.
const (
	secbitNoroot              = 1 << 0
	secbitNorootLocked        = 1 << 1
	secbitNoSetuidFixup       = 1 << 2
	secbitNoSetuidFixupLocked = 1 << 3
	secbitKeepCapsLocked      = 1 << 5
	secbitNoCapAmbientRaise   = 1 << 6
	secbitNoCapAmbientLocked  = 1 << 7
)

// dropPrivileges empties the calling thread's capability sets (ambient,
// bounding when it may, effective, permitted, inheritable), locks the
// securebits that would give uid 0 capabilities back at exec, and sets
// no_new_privs. Capabilities belong to threads, so the caller executes a
// new image from this thread next: every thread of that image starts
// without them.
func dropPrivileges() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	// Dropping from the bounding set and setting securebits need
	// CAP_SETPCAP: a process without it has no capabilities to lose there
	// (no_new_privs below keeps it from gaining any).
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	bits := secbitNoroot | secbitNorootLocked | secbitNoSetuidFixup | secbitNoSetuidFixupLocked |
		secbitKeepCapsLocked | secbitNoCapAmbientRaise | secbitNoCapAmbientLocked
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(bits), 0, 0, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("set securebits: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// statusLine returns the value of field in /proc/self/status.
func statusLine(field string) (string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return statusLineFrom(f, field)
}

// statusLineFrom reads field from f, an open /proc/self/status, from its
// start (pread: a process under the seccomp filter may not open files).
func statusLineFrom(f *os.File, field string) (string, error) {
	sc := bufio.NewScanner(io.NewSectionReader(f, 0, 1<<20))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("/proc/self/status has no %s line", field)
}

// checkPrivileges reads, in the second stage, what the kernel says the
// process holds, and refuses to go on unless every thread has no
// capability in its effective, permitted, inheritable and ambient sets
// and no_new_privs is set. /proc/self/status describes the main thread;
// the others were created by it after the exec and inherit its sets.
func checkPrivileges() (childStatus, error) {
	st := childStatus{Caps: map[string]string{}}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		v, err := statusLine(k)
		if err != nil {
			return st, err
		}
		st.Caps[k] = v
		if k != "CapBnd" {
			if n, err := strconv.ParseUint(v, 16, 64); err != nil || n != 0 {
				return st, fmt.Errorf("the plugin host still holds capabilities: %s %s", k, v)
			}
		}
	}
	var err error
	if st.NoNewPrivs, err = statusLine("NoNewPrivs"); err != nil {
		return st, err
	}
	if st.NoNewPrivs != "1" {
		return st, fmt.Errorf("no_new_privs is %q, want 1", st.NoNewPrivs)
	}
	if st.Seccomp, err = statusLine("Seccomp"); err != nil {
		return st, err
	}
	return st, nil
}

// Classic BPF and seccomp constants (linux/filter.h, linux/seccomp.h).
const (
	bpfLd   = 0x00
	bpfW    = 0x00
	bpfAbs  = 0x20
	bpfJmp  = 0x05
	bpfJeq  = 0x10
	bpfJset = 0x40
	bpfK    = 0x00
	bpfRet  = 0x06

	seccompRetKillProcess = 0x80000000
	seccompRetErrno       = 0x00050000
	seccompRetAllow       = 0x7fff0000

	seccompSetModeFilter   = 1
	seccompFilterFlagTsync = 1

	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
	offArg0 = 16
)

type sockFilter struct {
	code uint16
	jt   uint8
	jf   uint8
	k    uint32
}

type sockFprog struct {
	len    uint16
	filter *sockFilter
}

// buildFilter assembles the allow-list program: other architectures and
// unlisted system calls kill the process; clone is allowed only for
// threads (CLONE_THREAD), and clone3 fails with ENOSYS so that a C
// library falls back to clone.
func buildFilter(arch uint32, allowed []uintptr) []sockFilter {
	stmt := func(code uint16, k uint32) sockFilter { return sockFilter{code: code, k: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) sockFilter {
		return sockFilter{code: code, jt: jt, jf: jf, k: k}
	}
	p := []sockFilter{
		stmt(bpfLd|bpfW|bpfAbs, offArch),
		jump(bpfJmp|bpfJeq|bpfK, arch, 1, 0),
		stmt(bpfRet|bpfK, seccompRetKillProcess),
		stmt(bpfLd|bpfW|bpfAbs, offNr),
		// clone: allow only with CLONE_THREAD in the flags (arg 0).
		jump(bpfJmp|bpfJeq|bpfK, uint32(unix.SYS_CLONE), 0, 4),
		stmt(bpfLd|bpfW|bpfAbs, offArg0),
		jump(bpfJmp|bpfJset|bpfK, unix.CLONE_THREAD, 0, 1),
		stmt(bpfRet|bpfK, seccompRetAllow),
		stmt(bpfRet|bpfK, seccompRetKillProcess),
		jump(bpfJmp|bpfJeq|bpfK, uint32(unix.SYS_CLONE3), 0, 1),
		stmt(bpfRet|bpfK, seccompRetErrno|uint32(unix.ENOSYS)),
	}
	n := len(allowed)
	for i, nr := range allowed {
		p = append(p, jump(bpfJmp|bpfJeq|bpfK, uint32(nr), uint8(n-i), 0))
	}
	return append(p, stmt(bpfRet|bpfK, seccompRetKillProcess), stmt(bpfRet|bpfK, seccompRetAllow))
}

// installSeccomp sets the allow-list filter on every thread of the
// process (TSYNC); no_new_privs is set already.
func installSeccomp() error {
	prog := buildFilter(auditArch, seccompAllowed)
	if len(prog) == 0 || auditArch == 0 {
		return fmt.Errorf("no seccomp allow-list for %s", goruntime.GOARCH)
	}
	fp := sockFprog{len: uint16(len(prog)), filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, seccompSetModeFilter, seccompFilterFlagTsync, uintptr(unsafe.Pointer(&fp)))
	if errno != 0 {
		return errno
	}
	if r != 0 {
		return fmt.Errorf("thread %d could not take the filter", r)
	}
	return nil
}
