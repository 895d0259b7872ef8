package builtin

import (
	"fmt"
	"os"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/runtime"
)

// newBatch allocates an off-heap batch freed when the test ends.
func newBatch(t testing.TB, capacity, arena int) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(capacity, arena)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	return b
}

// fill sets b to events with the given payloads, kinds and timestamps.
func fill(t testing.TB, b *cabi.Batch, ts uint64, payloads ...string) {
	t.Helper()
	b.Reset()
	for i, p := range payloads {
		if !b.Append(ts, uint64(i), cabi.KindText, 0, []byte(p)) {
			t.Fatalf("batch full at event %d", i)
		}
	}
}

func testEnv(name string) runtime.Env {
	return runtime.Env{Name: name, Wakeup: func() {}}
}

// openFDs counts the process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestMain fails the run when the tests leak file descriptors (a file sink
// or event file left open) or goroutines (an engine not shut down).
func TestMain(m *testing.M) {
	// The Go runtime opens its poller's descriptors on first use; do that
	// before counting.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds, gs := openFDs(), goruntime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && (openFDs() > fds || goruntime.NumGoroutine() > gs) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := openFDs(); n > fds {
			fmt.Fprintf(os.Stderr, "leak: %d file descriptors open after the tests, %d before\n", n, fds)
			code = 1
		}
		if n := goruntime.NumGoroutine(); n > gs {
			fmt.Fprintf(os.Stderr, "leak: %d goroutines after the tests, %d before\n", n, gs)
			code = 1
		}
	}
	os.Exit(code)
}
