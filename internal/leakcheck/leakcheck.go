// Package leakcheck makes a test binary fail when its tests leave file
// descriptors or goroutines behind. Call Main from TestMain.
package leakcheck

import (
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// Options says what Main checks.
type Options struct {
	// FDs checks that no file descriptor stays open.
	FDs bool
	// Goroutines checks that no goroutine is left running.
	Goroutines bool
	// BPF opens and closes a BPF map before counting, so that the
	// descriptor cilium/ebpf keeps for the life of the process is not
	// taken for a leak.
	BPF bool
	// Grace is how long leaks may take to go away after the tests (an
	// engine winding down); 0 means 2s.
	Grace time.Duration
	// Cleanup runs after the tests and before the check.
	Cleanup func()
}

// Main runs the tests of m, then exits: with m's code, or 1 when the tests
// passed but left descriptors or goroutines behind.
func Main(m *testing.M, o Options) {
	os.Exit(run(m.Run, o, os.Stderr))
}

func run(tests func() int, o Options, stderr io.Writer) int {
	// The Go runtime opens its poller's descriptors on first use.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	if o.BPF {
		if m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}); err == nil {
			m.Close()
		}
	}
	fds, gs := OpenFDs(), goruntime.NumGoroutine()
	code := tests()
	if o.Cleanup != nil {
		o.Cleanup()
	}
	if code != 0 {
		return code
	}
	leaked := func() (int, int) {
		f, g := 0, 0
		if o.FDs {
			f = OpenFDs() - fds
		}
		if o.Goroutines {
			g = goruntime.NumGoroutine() - gs
		}
		return f, g
	}
	grace := o.Grace
	if grace == 0 {
		grace = 2 * time.Second
	}
	f, g := leaked()
	for deadline := time.Now().Add(grace); (f > 0 || g > 0) && time.Now().Before(deadline); f, g = leaked() {
		time.Sleep(10 * time.Millisecond)
	}
	if f > 0 {
		fmt.Fprintf(stderr, "leak: %d file descriptors left open by the tests\n", f)
		code = 1
	}
	if g > 0 {
		fmt.Fprintf(stderr, "leak: %d goroutines left running by the tests\n", g)
		code = 1
	}
	return code
}

// OpenFDs counts the process's open file descriptors, or returns -1 when
// /proc/self/fd cannot be read.
func OpenFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
