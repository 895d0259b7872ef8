// Package leakcheck makes a test binary fail when its tests leave file
// descriptors or goroutines behind. Call Main from TestMain.
package leakcheck

import (
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
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
// passed but left descriptors or goroutines behind. It checks nothing when
// the binary fuzzes (-test.fuzz, or a fuzzing worker), whose engine keeps
// goroutines and descriptors of its own.
func Main(m *testing.M, o Options) {
	os.Exit(run(m.Run, o, os.Stderr))
}

// fuzzing reports whether the test binary was asked to fuzz.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
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
	fds, gs := OpenFDs(), goroutines()
	code := tests()
	if o.Cleanup != nil {
		o.Cleanup()
	}
	if code != 0 || fuzzing() {
		return code
	}
	var stacks []string // of the goroutines left running
	leaked := func() (int, int) {
		f := 0
		if o.FDs {
			f = OpenFDs() - fds
		}
		stacks = stacks[:0]
		if o.Goroutines {
			for id, stack := range goroutines() {
				if _, ok := gs[id]; !ok {
					stacks = append(stacks, stack)
				}
			}
		}
		return f, len(stacks)
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
		fmt.Fprintf(stderr, "leak: %d goroutines left running by the tests:\n\n%s\n", g, strings.Join(stacks, "\n\n"))
		code = 1
	}
	return code
}

// ignored marks the stacks of goroutines that are not the tests' to stop:
// the os/signal loop, which the first signal.Notify starts for the life of
// the process (go test -fuzz calls it to catch SIGINT), and the fuzzing
// engine's own goroutines.
var ignored = []string{"\nos/signal.loop(", "\ninternal/fuzz.", "\ngithub.com/weirproject/weir/connector/plugin/isolate.spawner("}

// goroutines returns the stack of every goroutine but the ignored ones,
// keyed by goroutine ID.
func goroutines() map[string]string {
	buf := make([]byte, 1<<16)
	for {
		n := goruntime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	gs := map[string]string{}
next:
	for _, stack := range strings.Split(string(buf), "\n\n") {
		// Each stack starts "goroutine ID [state]:".
		id, _, ok := strings.Cut(strings.TrimPrefix(stack, "goroutine "), " ")
		if !ok {
			continue
		}
		for _, frame := range ignored {
			if strings.Contains(stack, frame) {
				continue next
			}
		}
		gs[id] = stack
	}
	return gs
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
