package runtime

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
)

// lendingSource lends every event's bytes from memory of its own, valid
// until its next Poll, as the blaster with copy: false and the packet
// source (a kernel ring) do. It never ends.
type lendingSource struct {
	connector.Base
	buf []byte
	seq uint64
}

func (s *lendingSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	slots := b.Slots()
	n := min(len(slots), 16)
	for i := 0; i < n; i++ {
		s.seq++
		ev := s.buf[i*64 : (i+1)*64]
		binary.LittleEndian.PutUint64(ev, s.seq)
		slots[i] = cabi.Event{TsNs: s.seq, Data: unsafe.Pointer(&ev[0]), Len: 64, Kind: cabi.KindRaw}
	}
	b.Len = uint32(n)
	return cabi.OK, nil
}

// TestLentBytesDoNotStallSiblings: a source that lends its bytes feeds two
// sinks through uncoupled block edges. One sink blocks in its first Write
// for good; the other must keep receiving, since the host copies a lent
// batch out when it fans out rather than hold the lender's memory (and so
// the source) until the stuck sink lets go. The healthy sink must see
// every event intact.
func TestLentBytesDoNotStallSiblings(t *testing.T) {
	f := newFixture()
	f.reg.MustRegister(connector.Type{ID: "lend", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) {
		return &lendingSource{buf: make([]byte, 16*64)}, nil
	}})
	stuck := make(chan struct{})
	var bad atomic.Int64
	f.newSink = func(name string) *testSink {
		s := &testSink{name: name}
		if name == "stuck" {
			s.block = stuck
		} else {
			s.inspect = func(b *cabi.Batch) {
				for _, e := range b.EventSlice() {
					if binary.LittleEndian.Uint64(e.Bytes()) != e.TsNs {
						bad.Add(1)
					}
				}
			}
		}
		return s
	}
	g := graph([]string{"gen:lend", "stuck:sink", "ok:sink"}, nil,
		EdgeDef{From: "gen", To: "stuck", Capacity: 4, Policy: Block},
		EdgeDef{From: "gen", To: "ok", Capacity: 4, Policy: Block})
	opts := testOpts()
	opts.DrainTimeout = 200 * time.Millisecond
	e := startEngine(t, g, f, opts)
	t.Cleanup(func() { close(stuck) })
	// Far more batches than the pool, the edges and the stuck sink hold.
	want := int64(20 * opts.PoolBatches)
	eventually(t, 10*time.Second, "the healthy sink to keep receiving", func() bool {
		return f.sinkBatches("ok") >= want
	})
	if n := bad.Load(); n > 0 {
		t.Errorf("%d events reached the healthy sink with bytes that are not theirs", n)
	}
	s := e.Stats()
	for _, ed := range s.Edges {
		if ed.To == "stuck" && ed.Dropped[ReasonDecoupled] == 0 {
			t.Errorf("edge to the stuck sink dropped %v; want batches shed as %s", ed.Dropped, ReasonDecoupled)
		}
	}
}
