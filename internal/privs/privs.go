// Package privs gives up a process's privileges once it no longer needs
// them, as a capture does after it has attached its programs and opened its
// output: every capability of every thread, and optionally root itself for
// another user (tcpdump's -Z).
//
// Linux keeps capabilities and user IDs per thread; the calls here go to
// every thread at once. Switching users does so everywhere
// (syscall.Setresuid goes through libc when a C runtime is linked, as
// purego's is in weir), and leaving root clears every capability. Clearing
// capabilities while staying root needs syscall.AllThreadsSyscall, which
// the Go runtime refuses (ENOTSUP) once a C runtime is linked; Drop then
// reports ErrNotSupported, and a caller that must shed its capabilities
// switches users instead.
package privs

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNotSupported is wrapped by Drop's error when this process cannot clear
// its threads' capabilities without leaving root.
var ErrNotSupported = errors.New("cannot change every thread's capabilities in this process")

// Drop gives up the process's privileges for good. With username set, it
// switches every thread's user and group IDs (and supplementary groups) to
// that user's, which also clears every capability when leaving root. It
// then clears the bounding set, the ambient, inheritable, permitted and
// effective capabilities of every thread and sets no_new_privs where the
// runtime allows it (see the package doc; after a switch away from root
// there is nothing left to clear). Files and BPF objects already open stay
// usable: their permissions were checked when they were opened.
func Drop(username string) error {
	if username != "" {
		if err := switchUser(username); err != nil {
			return err
		}
	}
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	switch {
	case e == unix.ENOTSUP && username != "" && os.Geteuid() != 0:
		return nil // leaving root cleared the capabilities
	case e == unix.ENOTSUP:
		return fmt.Errorf("drop privileges: %w; give a user to switch to", ErrNotSupported)
	case e != 0:
		return fmt.Errorf("drop privileges: set no_new_privs: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 && e != unix.EINVAL {
		return fmt.Errorf("drop privileges: clear ambient capabilities: %w", e)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		// Dropping from the bounding set needs CAP_SETPCAP, which a
		// non-root user no longer has; its permitted set is empty then.
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 && e != unix.EINVAL && e != unix.EPERM {
			return fmt.Errorf("drop privileges: drop capability %d from the bounding set: %w", c, e)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // all zero: no capability at all
	_, _, e = syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if e != 0 {
		return fmt.Errorf("drop privileges: clear capabilities: %w", e)
	}
	return nil
}

// switchUser makes every thread run as username, with its primary and
// supplementary groups.
func switchUser(username string) error {
	u, err := user.Lookup(username)
	if err != nil {
		return fmt.Errorf("drop privileges: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("drop privileges: user %s: %w", username, err)
	}
	groups := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil && n != gid {
				groups = append(groups, n)
			}
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("drop privileges: set groups of %s: %w", username, err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("drop privileges: set group %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("drop privileges: set user %s (%d): %w", username, uid, err)
	}
	return nil
}
