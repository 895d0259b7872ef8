package shm

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair maps one region twice, as host and child do, at two addresses.
func pair(t *testing.T) (*Region, *Region) {
	t.Helper()
	a, fd, err := Create("shm-test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Map(fd)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	if a.Base() == b.Base() {
		t.Fatal("both mappings at one address")
	}
	return a, b
}

func TestRingOrderAcrossMappings(t *testing.T) {
	host, child := pair(t)
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(0); i < n; {
			e, ok, err := child.SQ.Pop()
			if err != nil {
				t.Error(err)
				return
			}
			if !ok {
				// Sleep in the futex about half the time.
				child.SQ.Wait(time.Duration(i%2)*time.Microsecond, 100*time.Millisecond)
				continue
			}
			if e.Tag != i || e.A != i*3 {
				t.Errorf("entry %d = %+v", i, e)
				return
			}
			i++
		}
	}()
	for i := uint64(0); i < n; i++ {
		for !host.SQ.Push(Entry{Op: 1, Tag: i, A: i * 3}) {
			time.Sleep(time.Microsecond)
		}
	}
	wg.Wait()
	if !child.SQ.Empty() {
		t.Error("ring not empty after every entry was popped")
	}
}

func TestRingFullAndCorrupt(t *testing.T) {
	host, child := pair(t)
	for i := 0; i < Entries; i++ {
		if !host.CQ.Push(Entry{Tag: uint64(i)}) {
			t.Fatalf("push %d of %d failed", i, Entries)
		}
	}
	if host.CQ.Push(Entry{}) || !host.CQ.Full() {
		t.Fatal("push into a full ring succeeded")
	}
	// The other side writes an impossible tail.
	child.CQ.tail.Store(child.CQ.head.Load() + Entries + 5)
	if _, _, err := host.CQ.Pop(); err != ErrCorrupt {
		t.Fatalf("Pop with a corrupt tail = %v; want ErrCorrupt", err)
	}
}

func TestWaitWakesOnKickAndTimesOut(t *testing.T) {
	host, child := pair(t)
	start := time.Now()
	host.CQ.Wait(0, 20*time.Millisecond)
	if time.Since(start) < 10*time.Millisecond {
		t.Errorf("Wait on an empty ring returned after %v; want about its timeout", time.Since(start))
	}
	done := make(chan struct{})
	go func() {
		host.CQ.Wait(0, time.Minute)
		close(done)
	}()
	// A Kick before the waiter loads the futex word is not seen, so kick
	// until it wakes; each must come well before the minute is up.
	deadline := time.After(10 * time.Second)
	for {
		child.CQ.Kick()
		select {
		case <-done:
			return
		case <-deadline:
			t.Fatal("Kick did not wake a sleeping Wait")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
