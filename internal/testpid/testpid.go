// Package testpid lets tests give new processes pids beyond the kernel's
// pid_max as it was, to drive a tracer whose pid-indexed tables were sized
// by it: the case of kernel.pid_max raised while weir runs.
package testpid

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const (
	pidMaxFile  = "/proc/sys/kernel/pid_max"
	lastPidFile = "/proc/sys/kernel/ns_last_pid"
	// limit is PID_MAX_LIMIT on 64-bit kernels.
	limit = 4 << 20
)

// Lock holds the machine-wide lock of HighPids until the test ends,
// which go test's packages, run at once, share. A test takes it before
// it opens the tracer whose tables HighPids is to outgrow, so that no
// other test has pid_max raised while the tracer sizes them.
func Lock(t testing.TB) *Raiser {
	t.Helper()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "weir-testpid.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Skipf("skipping: lock file: %v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		t.Skipf("skipping: lock %s: %v", lock.Name(), err)
	}
	t.Cleanup(func() { lock.Close() }) // registered first, so it runs last
	return &Raiser{t: t}
}

// Raiser raises pid_max for one test, under the lock.
type Raiser struct{ t testing.TB }

// HighPids doubles kernel.pid_max, moves the kernel's last given pid above
// the old maximum, calls fork, and moves the last pid back: the processes
// fork starts get pids beyond the old pid_max, and, since every process on
// the machine does meanwhile, fork should start them and return at once.
// pid_max is put back when the test ends. It returns the old pid_max, or
// skips the test, saying why, where pid_max cannot be raised (not root, or
// already near the kernel's limit, as systemd sets it).
func (r *Raiser) HighPids(fork func()) uint32 {
	t := r.t
	t.Helper()
	b, err := os.ReadFile(pidMaxFile)
	if err != nil {
		t.Skipf("skipping: read pid_max: %v", err)
	}
	old, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatalf("pid_max %q: %v", b, err)
	}
	if old*2 > limit {
		t.Skipf("skipping: pid_max is %d, too close to the kernel's limit to raise", old)
	}
	last, err := os.ReadFile(lastPidFile)
	if err != nil {
		t.Skipf("skipping: cannot move the last pid: %v", err)
	}
	if err := os.WriteFile(pidMaxFile, []byte(fmt.Sprint(old*2)), 0); err != nil {
		t.Skipf("skipping: cannot raise pid_max: %v", err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(pidMaxFile, []byte(fmt.Sprint(old)), 0); err != nil {
			t.Errorf("put pid_max back to %d: %v", old, err)
		}
	})
	if err := os.WriteFile(lastPidFile, []byte(fmt.Sprint(old+1000)), 0); err != nil {
		t.Fatalf("move the last pid: %v", err)
	}
	defer func() {
		if err := os.WriteFile(lastPidFile, last, 0); err != nil {
			t.Errorf("move the last pid back: %v", err)
		}
	}()
	fork()
	return uint32(old)
}
