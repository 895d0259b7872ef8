package packet

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/weirproject/weir/cabi"
)

// runQuiet runs prog from a goroutine other than the test's, reporting
// failures with t.Error.
func runQuiet(t *testing.T, prog *ebpf.Program, data []byte, repeat uint32) {
	if _, err := prog.Run(&ebpf.RunOptions{Data: data, Repeat: repeat}); err != nil {
		t.Errorf("BPF_PROG_TEST_RUN: %v", err)
	}
}

// TestWakeup checks the kernel side of the wakeup policy: records are
// submitted without waking the reader until WakeupBytes wait in the ring,
// after which submits force a wakeup that ends a blocked Read early.
func TestWakeup(t *testing.T) {
	f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(30)))
	read := func(c *Capture, timeout time.Duration, produce func()) (int, time.Duration) {
		b, err := cabi.AllocBatch(1024, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer cabi.FreeBatch(b)
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(50 * time.Millisecond)
			produce()
		}()
		start := time.Now()
		n, err := c.Reader().Read(b, timeout)
		d := time.Since(start)
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			c.Reader().Release(b)
		}
		return n, d
	}

	t.Run("threshold-reached", func(t *testing.T) {
		// 128-byte records: the 8th one finds 1 KiB waiting and wakes.
		c := newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, WakeupBytes: 1024}, 1, 64)
		x, _, _ := c.Programs()
		n, d := read(c, 20*time.Second, func() { runQuiet(t, x, f, 20) })
		if n == 0 || d > 10*time.Second {
			t.Errorf("Read returned %d records after %v; want records well before the 20s deadline", n, d)
		}
	})
	t.Run("below-threshold", func(t *testing.T) {
		c := newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, WakeupBytes: 1 << 16}, 1, 64)
		x, _, _ := c.Programs()
		n, d := read(c, 400*time.Millisecond, func() { runQuiet(t, x, f, 20) })
		// A test run interrupted by a signal (Go's preemption) is
		// retried whole, so the program may emit more than 20 records:
		// compare with what it did emit.
		k, err := c.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if uint64(n) != k.Emitted || n < 20 || d < 400*time.Millisecond {
			t.Errorf("Read returned %d of %d emitted records after %v; want all of them at the 400ms deadline, no wakeup", n, k.Emitted, d)
		}
	})
}
