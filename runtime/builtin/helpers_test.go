package builtin

import (
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/internal/leakcheck"
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

// TestMain fails the run when the tests leak file descriptors (a file sink
// or event file left open) or goroutines (an engine not shut down).
func TestMain(m *testing.M) {
	leakcheck.Main(m, leakcheck.Options{FDs: true, Goroutines: true})
}
