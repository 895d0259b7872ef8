package testpid

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func readPidMax(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile(pidMaxFile)
	if err != nil {
		t.Skip(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHighPids: a process started inside HighPids gets a pid at or above
// the old pid_max, one started after it does not, and pid_max is back to
// what it was once the test that raised it ends.
func TestHighPids(t *testing.T) {
	before := readPidMax(t)
	t.Run("raise", func(t *testing.T) {
		r := Lock(t)
		lastBefore, _ := os.ReadFile(lastPidFile)
		var inside, after int
		old := r.HighPids(func() {
			cmd := exec.Command("/bin/true")
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			inside = cmd.Process.Pid
		})
		if uint64(old) != before {
			t.Errorf("HighPids returned old pid_max %d; /proc said %d", old, before)
		}
		if got := readPidMax(t); got != 2*before {
			t.Errorf("pid_max %d inside the test; want %d", got, 2*before)
		}
		cmd := exec.Command("/bin/true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		after = cmd.Process.Pid
		if uint64(inside) < before {
			t.Errorf("a process started inside HighPids got pid %d; want one at or above %d", inside, before)
		}
		// Unless the last pid was near the old pid_max when the test
		// began, the next ones stay below it.
		if last, _ := strconv.ParseUint(strings.TrimSpace(string(lastBefore)), 10, 32); last+100 < before && uint64(after) >= before {
			t.Errorf("a process started after HighPids got pid %d; want one below %d", after, before)
		}
	})
	if got := readPidMax(t); got != before {
		t.Errorf("pid_max %d after the test; want it back at %d", got, before)
	}
}
