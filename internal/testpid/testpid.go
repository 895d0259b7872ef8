// Package testpid lets tests give new processes pids beyond the kernel's
// pid_max as it was, to drive a tracer whose pid-indexed tables were sized
// by it: the case of kernel.pid_max raised while weir runs.
package testpid

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

const (
	pidMaxFile  = "/proc/sys/kernel/pid_max"
	lastPidFile = "/proc/sys/kernel/ns_last_pid"
	// limit is PID_MAX_LIMIT on 64-bit kernels.
	limit = 4 << 20
)

// RaisePidMax doubles kernel.pid_max and moves the kernel's last given pid
// above the old maximum, so that the next processes get pids beyond it. It
// puts both back when the test ends and returns the old pid_max. It skips
// the test, saying why, where pid_max cannot be raised (not root, or
// already near the kernel's limit, as systemd sets it).
func RaisePidMax(t testing.TB) uint32 {
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
		os.WriteFile(lastPidFile, last, 0)
		if err := os.WriteFile(pidMaxFile, []byte(fmt.Sprint(old)), 0); err != nil {
			t.Errorf("put pid_max back to %d: %v", old, err)
		}
	})
	if err := os.WriteFile(lastPidFile, []byte(fmt.Sprint(old+1000)), 0); err != nil {
		t.Fatalf("move the last pid: %v", err)
	}
	return uint32(old)
}
