package runtime

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirproject/weir/internal/testfs"
	"github.com/weirproject/weir/runtime/diskbuf"
)

// diskGraph is src -> snk through a disk buffer in dir.
func diskGraph(dir, fsync, policy string, maxSize int64) Graph {
	return graph([]string{"src:src", "snk:sink"}, nil, EdgeDef{From: "src", To: "snk", Policy: policy,
		Buffer: &BufferDef{Type: BufferDisk, Path: dir, MaxSize: maxSize, Fsync: fsync}})
}

func diskEdge(t *testing.T, e *Engine) EdgeStats {
	t.Helper()
	ed, ok := e.Stats().Edge("src", "snk")
	if !ok || ed.Buffer == nil {
		t.Fatalf("no buffered edge src -> snk in %+v", e.Stats().Edges)
	}
	return ed
}

func TestDiskEdgeDelivers(t *testing.T) {
	for _, fsync := range []string{"batch", "20ms", "never"} {
		t.Run(fsync, func(t *testing.T) {
			dir := t.TempDir()
			f := newFixture()
			f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64, limit: 50} }
			e := startEngine(t, diskGraph(dir, fsync, "", 1<<20), f, testOpts())
			select {
			case <-e.Finished():
			case <-time.After(10 * time.Second):
				t.Fatal("not finished after 10s")
			}
			shutdown(t, e)
			s := e.Stats()
			checkAccounting(t, s)
			if !s.Balanced() {
				t.Errorf("summary does not balance: %+v", s)
			}
			snk := f.sink("snk")
			if got := snk.events.Load(); got != 800 {
				t.Fatalf("sink got %d events; want 800", got)
			}
			for i, first := range snk.seqs {
				if first != uint64(i*16+1) {
					t.Fatalf("batch %d starts at seq %d; want %d (in order)", i, first, i*16+1)
				}
			}
			ed := diskEdge(t, e)
			if b := ed.Buffer; b.Buffered != 800 || b.Acked != 800 || b.Unacked != 0 || ed.QueuedEvents != 0 {
				t.Fatalf("buffer buffered %d, acked %d, unacked %d, queued %d; want 800, 800, 0, 0", b.Buffered, b.Acked, b.Unacked, ed.QueuedEvents)
			}
		})
	}
}

// TestDiskEdgeKeepsAcrossRestart stops an engine whose sink cannot write:
// what it buffered stays on disk, and the next engine on the same
// directory delivers it first, in order.
func TestDiskEdgeKeepsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64, limit: 20} }
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		s.failing.Store(true)
		return s
	}
	opts := testOpts()
	opts.DrainTimeout = 100 * time.Millisecond
	e := startEngine(t, diskGraph(dir, "batch", "", 1<<20), f, opts)
	eventually(t, 5*time.Second, "every batch buffered", func() bool { return diskEdge(t, e).Buffer.Buffered == 320 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	e.Shutdown(ctx) // the sink's retries hold it until ctx ends
	cancel()
	s := e.Stats()
	checkAccounting(t, s)
	ed := diskEdge(t, e)
	snk, _ := s.Component("snk", StatSink)
	if ed.Buffer.Unacked != 320 || snk.EventsOut != 0 || !s.Balanced() {
		t.Fatalf("after a stop with the sink failing: unacked %d, written %d, balanced %v; want 320, 0, true (sink %+v)", ed.Buffer.Unacked, snk.EventsOut, s.Balanced(), snk)
	}
	if snk.EventsIn > 0 && snk.Dropped[ReasonKept] != snk.EventsIn {
		t.Fatalf("sink dropped %v of %d taken; want all as %s", snk.Dropped, snk.EventsIn, ReasonKept)
	}

	f2 := newFixture()
	f2.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64, limit: 1} }
	e2 := startEngine(t, diskGraph(dir, "batch", "", 1<<20), f2, testOpts())
	select {
	case <-e2.Finished():
	case <-time.After(10 * time.Second):
		t.Fatal("second engine not finished after 10s")
	}
	shutdown(t, e2)
	s2 := e2.Stats()
	checkAccounting(t, s2)
	ed2 := diskEdge(t, e2)
	if ed2.Buffer.Replayed != 320 || ed2.EventsIn != 336 || ed2.Buffer.Unacked != 0 {
		t.Fatalf("second run: replayed %d, in %d, unacked %d; want 320, 336, 0", ed2.Buffer.Replayed, ed2.EventsIn, ed2.Buffer.Unacked)
	}
	seqs := f2.sink("snk").seqs
	want := []uint64{}
	for i := 0; i < 20; i++ {
		want = append(want, uint64(i*16+1))
	}
	want = append(want, 1) // the new batch, after the replayed ones
	if len(seqs) != len(want) {
		t.Fatalf("second run wrote batches %v; want %v", seqs, want)
	}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("second run wrote batches %v; want %v", seqs, want)
		}
	}
}

// TestDiskEdgeAcks checks when an Acker source is acked: under an fsync
// interval only after a sync, which the stop forces; under batch and
// never at once.
func TestDiskEdgeAcks(t *testing.T) {
	for _, tc := range []struct {
		fsync string
		early bool // acks before the stop
	}{{"batch", true}, {"never", true}, {"1h", false}} {
		t.Run(tc.fsync, func(t *testing.T) {
			f := newFixture()
			f.ackers = true
			f.newSink = func(name string) *testSink {
				s := &testSink{name: name}
				s.failing.Store(true) // acks must not wait for the sink
				return s
			}
			e := startEngine(t, diskGraph(t.TempDir(), tc.fsync, "", 1<<20), f, testOpts())
			eventually(t, 5*time.Second, "batches buffered", func() bool { return diskEdge(t, e).Buffer.Buffered >= 160 })
			time.Sleep(50 * time.Millisecond)
			src, _ := e.Stats().Component("src", StatSource)
			if tc.early && src.Acks < 10 || !tc.early && src.Acks != 0 {
				t.Fatalf("before the stop: %d acks, %d fails; want %s", src.Acks, src.Fails, map[bool]string{true: "10 or more", false: "none"}[tc.early])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			e.Shutdown(ctx)
			cancel()
			s := e.Stats()
			src, _ = s.Component("src", StatSource)
			ed := diskEdge(t, e)
			// Every batch the buffer took is acked; the others (shed at
			// the stop) are failed.
			if src.Acks != ed.BatchesIn-ed.DroppedTotal()/16 || src.Acks+src.Fails+src.AcksDropped != src.BatchesOut {
				t.Fatalf("after the stop: %d acks, %d fails, %d dropped of %d batches; edge took %d batches, dropped %v", src.Acks, src.Fails, src.AcksDropped, src.BatchesOut, ed.BatchesIn, ed.Dropped)
			}
		})
	}
}

// TestDiskEdgeFull fills a small buffer behind a failing sink: block
// holds the source back without a drop, drop_newest drops with reason
// full and keeps the source running.
func TestDiskEdgeFull(t *testing.T) {
	for _, policy := range []string{Block, DropNewest} {
		t.Run(policy, func(t *testing.T) {
			f := newFixture()
			f.newSink = func(name string) *testSink {
				s := &testSink{name: name}
				s.failing.Store(true)
				return s
			}
			// A batch is 16 events of 64 bytes: 1,560 bytes with framing.
			e := startEngine(t, diskGraph(t.TempDir(), "never", policy, 16<<10), f, testOpts())
			eventually(t, 5*time.Second, "the buffer full", func() bool {
				ed := diskEdge(t, e)
				return ed.Buffer.Bytes+1560 > 16<<10
			})
			time.Sleep(50 * time.Millisecond)
			before := f.src("src").produced.Load()
			time.Sleep(100 * time.Millisecond)
			after := f.src("src").produced.Load()
			ed := diskEdge(t, e)
			switch policy {
			case Block:
				if ed.DroppedTotal() != 0 || after-before > int64(testOpts().PoolBatches) {
					t.Fatalf("block: dropped %v, source went on from %d to %d batches; want no drop and the source held", ed.Dropped, before, after)
				}
			case DropNewest:
				if ed.Dropped[ReasonFull] == 0 || after == before {
					t.Fatalf("drop_newest: dropped %v, source %d -> %d; want full drops and the source running", ed.Dropped, before, after)
				}
			}
			if ed.Buffer.Bytes > 16<<10 {
				t.Fatalf("buffer holds %d bytes; max 16 KiB", ed.Buffer.Bytes)
			}
			checkAccountingLive(t, e)
		})
	}
}

// checkAccountingLive checks the buffered edge's identity on a running
// engine, where it can be off only by what moves between reads.
func checkAccountingLive(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	e.Shutdown(ctx)
	checkAccounting(t, e.Stats())
}

// TestDiskEdgeSinkError: batches the sink refuses for good are dropped
// with reason sink_error and leave the buffer; nothing is replayed.
func TestDiskEdgeSinkError(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64, limit: 20} }
	f.newSink = func(name string) *testSink { return &testSink{name: name, errEvery: 4, perBatch: 16} }
	e := startEngine(t, diskGraph(dir, "batch", "", 1<<20), f, testOpts())
	<-e.Finished()
	shutdown(t, e)
	s := e.Stats()
	checkAccounting(t, s)
	snk, _ := s.Component("snk", StatSink)
	ed := diskEdge(t, e)
	if snk.Dropped[ReasonSinkError] != 80 || snk.EventsOut != 240 || ed.Buffer.Acked != 320 || ed.Buffer.Unacked != 0 {
		t.Fatalf("sink dropped %v, wrote %d; buffer acked %d, unacked %d; want 80 sink_error, 240, 320, 0", snk.Dropped, snk.EventsOut, ed.Buffer.Acked, ed.Buffer.Unacked)
	}
	b, err := diskbuf.Open(diskbuf.Options{Dir: dir, MaxSize: 1 << 20, Policy: diskbuf.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if st := b.Stats(); st.Replayed != 0 {
		t.Fatalf("%d records left to replay; want 0", st.Replayed)
	}
}

func TestDiskBufferInUse(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	e := startEngine(t, diskGraph(dir, "batch", "", 1<<20), f, testOpts())
	defer shutdown(t, e)
	e2, err := New(diskGraph(dir, "batch", "", 1<<20), newFixture().reg, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	err = e2.Start(context.Background())
	if !errors.Is(err, diskbuf.ErrLocked) || !strings.Contains(err.Error(), "src -> snk") {
		t.Fatalf("second engine on the same buffer: Start = %v; want ErrLocked naming the connection", err)
	}
}

func TestCheckBuffer(t *testing.T) {
	dir := t.TempDir()
	good := BufferDef{Type: BufferDisk, Path: dir, MaxSize: 1 << 20, Fsync: "100ms"}
	for _, tc := range []struct {
		name   string
		mod    func(*EdgeDef)
		field  string
		substr string
	}{
		{"type", func(e *EdgeDef) { e.Buffer.Type = "memory" }, "buffer.type", `unknown type "memory"`},
		{"path", func(e *EdgeDef) { e.Buffer.Path = "" }, "buffer.path", "path is empty"},
		{"size", func(e *EdgeDef) { e.Buffer.MaxSize = 0 }, "buffer.max_size", "max_size 0"},
		{"segment", func(e *EdgeDef) { e.Buffer.SegmentSize = 2 << 20 }, "buffer.segment_size", "up to max_size"},
		{"fsync", func(e *EdgeDef) { e.Buffer.Fsync = "sometimes" }, "buffer.fsync", `fsync "sometimes"`},
		{"oldest", func(e *EdgeDef) { e.Policy = DropOldest }, "policy", "drop_oldest cannot apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good
			ed := EdgeDef{From: "src", To: "snk", Buffer: &b}
			tc.mod(&ed)
			probs := CheckGraph(graph([]string{"src:src", "snk:sink"}, nil, ed), newFixture().reg, nil)
			if len(probs) != 1 || probs[0].Rule != RuleBuffer || probs[0].Field != tc.field || !strings.Contains(probs[0].Msg, tc.substr) {
				t.Fatalf("CheckGraph = %v; want one %s problem at %s saying %q", probs, RuleBuffer, tc.field, tc.substr)
			}
		})
	}
	b1, b2 := good, good
	b2.Path = filepath.Join(dir, ".")
	g := graph([]string{"src:src", "a:sink", "b:sink"}, nil, EdgeDef{From: "src", To: "a", Buffer: &b1}, EdgeDef{From: "src", To: "b", Buffer: &b2})
	probs := CheckGraph(g, newFixture().reg, nil)
	if len(probs) != 1 || probs[0].Field != "buffer.path" || !strings.Contains(probs[0].Msg, "is the buffer of connection src -> a too") {
		t.Fatalf("two edges, one directory: CheckGraph = %v; want a buffer.path problem", probs)
	}
}

// TestDiskEdgeDiskFull fills the file system under a buffer (a 512 KiB
// tmpfs) behind a sink that cannot write: batches that do not fit are
// dropped with reason buffer_error and counted, the engine runs on, and
// the ledger balances.
func TestDiskEdgeDiskFull(t *testing.T) {
	mnt := testfs.Tmpfs(t, "512k")
	f := newFixture()
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		s.failing.Store(true)
		return s
	}
	e := startEngine(t, diskGraph(filepath.Join(mnt, "buf"), "never", DropNewest, 64<<20), f, testOpts())
	eventually(t, 5*time.Second, "buffer_error drops", func() bool { return diskEdge(t, e).Dropped[ReasonBufferError] > 0 })
	before := f.src("src").produced.Load()
	eventually(t, 5*time.Second, "the source running on", func() bool { return f.src("src").produced.Load() > before+10 })
	ed := diskEdge(t, e)
	if ed.Buffer.WriteErrors == 0 || ed.Buffer.Bytes > 512<<10 {
		t.Fatalf("write errors %d, %d bytes on disk; want errors and at most the tmpfs size", ed.Buffer.WriteErrors, ed.Buffer.Bytes)
	}
	checkAccountingLive(t, e)
}

// TestDiskBufferReadOnly: a buffer on a read-only file system makes Start
// fail with an error naming the connection and the cause.
func TestDiskBufferReadOnly(t *testing.T) {
	mnt := testfs.Tmpfs(t, "1m")
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v: %s", err, out)
	}
	e, err := New(diskGraph(filepath.Join(mnt, "buf"), "batch", "", 1<<20), newFixture().reg, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	err = e.Start(context.Background())
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "connection src -> snk") {
		t.Fatalf("Start on a read-only file system = %v; want EROFS naming the connection", err)
	}
	if err := e.Shutdown(context.Background()); err != nil && !errors.Is(err, ErrStopped) {
		t.Fatalf("Shutdown after a failed Start = %v", err)
	}
}

// TestDiskBufferReload: a reload keeps a buffer whose path and settings
// stay, refuses to change the settings of one in use, and closes one it
// drops (its lock is free again).
func TestDiskBufferReload(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	e := startEngine(t, diskGraph(dir, "batch", "", 1<<20), f, testOpts())
	eventually(t, 5*time.Second, "batches through the buffer", func() bool { return diskEdge(t, e).Buffer.Acked > 100 })
	if err := e.Reload(diskGraph(dir, "batch", "", 1<<20)); err != nil {
		t.Fatalf("Reload with the same buffer = %v", err)
	}
	if err := e.Reload(diskGraph(dir, "never", "", 1<<20)); err == nil || !strings.Contains(err.Error(), "needs a restart") {
		t.Fatalf("Reload changing fsync = %v; want a refusal that needs a restart", err)
	}
	if err := e.Reload(graph([]string{"src:src", "snk:sink"}, nil, EdgeDef{From: "src", To: "snk"})); err != nil {
		t.Fatalf("Reload to a memory edge = %v", err)
	}
	b, err := diskbuf.Open(diskbuf.Options{Dir: dir, MaxSize: 1 << 20, Policy: diskbuf.SyncNever})
	if err != nil {
		t.Fatalf("open the buffer the reload dropped = %v; want its lock released", err)
	}
	b.Close()
	shutdown(t, e)
	checkAccounting(t, e.Stats())
}

// TestDiskEdgeDiskFullBlock fills the file system under a block edge's
// buffer (a 512 KiB tmpfs) behind a sink that cannot write: the producer
// waits, as for a full buffer, instead of dropping batches, because the
// buffer holds records whose delivery frees the space; once the sink
// writes again everything arrives and nothing was dropped.
func TestDiskEdgeDiskFullBlock(t *testing.T) {
	mnt := testfs.Tmpfs(t, "512k")
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64, limit: 2000} }
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		s.failing.Store(true)
		return s
	}
	e := startEngine(t, diskGraph(filepath.Join(mnt, "buf"), "never", Block, 64<<20), f, testOpts())
	eventually(t, 5*time.Second, "a write error", func() bool { return diskEdge(t, e).Buffer.WriteErrors > 0 })
	time.Sleep(50 * time.Millisecond)
	if ed := diskEdge(t, e); ed.DroppedTotal() != 0 {
		t.Fatalf("block edge on a full disk dropped %v; want the producer held", ed.Dropped)
	}
	f.sink("snk").failing.Store(false)
	select {
	case <-e.Finished():
	case <-time.After(20 * time.Second):
		t.Fatalf("not finished 20s after the sink recovered: %+v", diskEdge(t, e))
	}
	shutdown(t, e)
	checkAccounting(t, e.Stats())
	ed := diskEdge(t, e)
	if got := f.sink("snk").events.Load(); got != 32000 || ed.DroppedTotal() != 0 {
		t.Fatalf("sink got %d events, edge dropped %v; want 32000 and none", got, ed.Dropped)
	}
}

// TestDiskEdgeSmallBlock runs ten times the size of a block edge's buffer (16
// KiB, in one segment of the default 1 MiB) through a sink that writes:
// the producer waits for the consumer and everything arrives.
func TestDiskEdgeSmallBlock(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 16, size: 64, limit: 100} }
	e := startEngine(t, diskGraph(t.TempDir(), "never", Block, 16<<10), f, testOpts())
	select {
	case <-e.Finished():
	case <-time.After(10 * time.Second):
		t.Fatalf("not finished after 10s: %+v", diskEdge(t, e))
	}
	shutdown(t, e)
	checkAccounting(t, e.Stats())
	if got, ed := f.sink("snk").events.Load(), diskEdge(t, e); got != 1600 || ed.DroppedTotal() != 0 {
		t.Fatalf("sink got %d events, edge dropped %v; want 1600 and none", got, ed.Dropped)
	}
}
