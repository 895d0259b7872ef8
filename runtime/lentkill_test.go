package runtime

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
)

// mappedSource lends its events out of a mapped page of its own, as a kernel
// ring source does: each event's Data points into the page, not into the
// batch's arena. Close unmaps the page, so that a sink still reading an
// event after it faults.
type mappedSource struct {
	calls
	page []byte
	seq  uint64
	once sync.Once
}

func (s *mappedSource) Connect(context.Context, int) error {
	var err error
	s.page, err = unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	return err
}
func (s *mappedSource) Start() error  { return nil }
func (s *mappedSource) Pause() error  { return nil }
func (s *mappedSource) Resume() error { return nil }
func (s *mappedSource) Drain() error  { return nil }
func (s *mappedSource) Stop() error   { s.add("stop"); return nil }
func (s *mappedSource) Close() error {
	s.add("close")
	s.once.Do(func() { unix.Munmap(s.page) })
	return nil
}

func (s *mappedSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	s.seq++
	binary.LittleEndian.PutUint64(s.page, s.seq)
	if !b.Append(s.seq, 0, cabi.KindRaw, 0, s.page[:8]) {
		panic("lending source: batch too small")
	}
	b.EventSlice()[b.Len-1].Data = unsafe.Pointer(&s.page[0])
	return cabi.OK, nil
}

// TestKillKeepsLentMemory: when a stop gives up on a sink whose write is
// still reading a batch that a source lent out of its own memory, the
// source is not closed (which frees that memory) until the write is done
// with it; the process would crash otherwise. The sink's write reads the
// event after the engine has returned from the killed Shutdown.
func TestKillKeepsLentMemory(t *testing.T) {
	f := newFixture()
	src := &mappedSource{}
	f.reg.MustRegister(connector.Type{ID: "lend", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) {
		return src, nil
	}})
	block, entered := make(chan struct{}), make(chan struct{})
	f.newSink = func(name string) *testSink { return &testSink{name: name, block: block, entered: entered} }
	e := startEngine(t, graph([]string{"in:lend", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, testOpts())
	select {
	case <-entered:
	case <-time.After(hang):
		t.Fatal("the sink's first write never came")
	}
	e.Kill()
	e.Shutdown(context.Background())
	// A killed stop does not wait for the source's finish: give a wrong
	// one time to close the source. (No sleep makes this test pass
	// wrongly; a short one may only miss the defect.)
	time.Sleep(200 * time.Millisecond)
	if slices.Contains(src.list(), "close") {
		t.Fatalf("the source was closed while the sink's write held its lent batch: calls %v", src.list())
	}
	close(block) // the write goes on and reads the event: it must still be mapped
	eventually(t, hang, "the source closed once the write was done", func() bool { return slices.Contains(src.list(), "close") })
	snk := f.sink("out")
	if snk.events.Load() < 1 {
		t.Errorf("the sink's write did not complete")
	}
}

// TestReloadKeepsLentMemoryOfKilledWorker: a reload that keeps a lending
// source but gives up on its sink (stuck in a write of a lent batch)
// kills the source's worker while it waits for that batch. The worker of
// the new wiring lends and gets back batches of its own; that must not
// make the lent batch of the killed worker forgotten: the stop that ends
// the source later must not close it (freeing the memory) while the
// abandoned write still reads that batch.
func TestReloadKeepsLentMemoryOfKilledWorker(t *testing.T) {
	g := killGrace
	t.Cleanup(func() { killGrace = g })
	killGrace = 20 * time.Millisecond
	opts := testOpts()
	opts.DrainTimeout = 200 * time.Millisecond
	f := newFixture()
	src := &mappedSource{}
	f.reg.MustRegister(connector.Type{ID: "lend", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) {
		return src, nil
	}})
	block, entered := make(chan struct{}), make(chan struct{})
	f.newSink = func(name string) *testSink {
		if name == "out" {
			return &testSink{name: name, block: block, entered: entered}
		}
		return &testSink{name: name}
	}
	e := startEngine(t, graph([]string{"in:lend", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	select {
	case <-entered:
	case <-time.After(hang):
		t.Fatal("the sink's first write never came")
	}
	// The reload keeps in, removes out (stuck: abandoned after the drain
	// timeout and the kill grace) and adds out2.
	if err := e.Reload(graph([]string{"in:lend", "out2:sink"}, nil, EdgeDef{From: "in", To: "out2"})); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	eventually(t, hang, "the new wiring delivers", func() bool { return f.sinkBatches("out2") > 3 })
	e.Kill()
	e.Shutdown(context.Background())
	time.Sleep(200 * time.Millisecond)
	if slices.Contains(src.list(), "close") {
		t.Fatalf("the source was closed while the abandoned write of a removed sink held its lent batch: calls %v", src.list())
	}
	close(block)
	eventually(t, hang, "the source closed once the write was done", func() bool { return slices.Contains(src.list(), "close") })
}

// TestOfferAfterStopIsReleased: a producer that a stop gave up on (a kill
// does not wait for the workers) may offer a batch after the stop's final
// purge; nothing takes from the queue any more, so the batch is dropped
// and released at once. Left queued, it would never go back to its pool,
// and a source that lent it would never be closed (waitLent).
func TestOfferAfterStopIsReleased(t *testing.T) {
	p := newPool(4, 1024, 2)
	l, err := p.tryGet()
	if err != nil || l == nil {
		t.Fatalf("tryGet: %v", err)
	}
	l.b.Append(1, 0, cabi.KindRaw, 0, []byte("x"))
	ed := newEdge(EdgeDef{From: "in", To: "out", Capacity: 4}, newInbox(), false, make(chan struct{}, 1), &counters{})
	ed.seal(rShutdown)
	if r := ed.offer(l); r != dropped {
		t.Errorf("offer after the stop = %v; want dropped", r)
	}
	if !p.isFree(l) {
		t.Fatalf("a batch offered after the stop was not released: it stays queued where no one takes it")
	}
	if b, ev := ed.depth(); b != 0 || ev != 0 {
		t.Errorf("queued after the stop: %d batches, %d events; want none", b, ev)
	}
	if got := ed.stats().Dropped[reasonNames[rShutdown]]; got != 1 {
		t.Errorf("dropped as shutdown = %d; want 1 (stats %+v)", got, ed.stats())
	}
}
