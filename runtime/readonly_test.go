package runtime

import (
	"github.com/weirproject/weir/connector"

	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/internal/testmem"
)

// Sizes of the events of a readOnlySource: most are small, every
// bigEvery-th one is bigger than a whole test batch arena (testOpts'
// BatchBytes), and a polled batch holds more bytes than an arena.
const (
	roEvents   = 1000
	roPerPoll  = 50
	roSmall    = 200
	roBig      = 10000
	roBigEvery = 100
)

// readOnlySource lends events whose bytes live in a file mapped PROT_READ,
// as the packet source lends bytes in a kernel ring mapped read-only. The
// first 8 bytes of event i hold i+1; the rest hold 'r'.
type readOnlySource struct {
	connector.Base
	mem  []byte
	offs []int // event i is mem[offs[i]:offs[i+1]]
	next int
}

// newReadOnlySource writes the events to a file in t.TempDir and maps it
// read-only. It returns the source and a copy of the mapped bytes.
func newReadOnlySource(t *testing.T) (*readOnlySource, []byte) {
	t.Helper()
	var img []byte
	offs := []int{0}
	for i := 0; i < roEvents; i++ {
		size := roSmall
		if i%roBigEvery == roBigEvery-1 {
			size = roBig
		}
		ev := bytes.Repeat([]byte{'r'}, size)
		binary.LittleEndian.PutUint64(ev, uint64(i+1))
		img = append(img, ev...)
		offs = append(offs, len(img))
	}
	mem := testmem.ReadOnly(t, img)
	return &readOnlySource{mem: mem, offs: offs}, img
}

func (s *readOnlySource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if s.next == roEvents {
		return cabi.EOF, nil
	}
	slots := b.Slots()
	n := 0
	for ; n < roPerPoll && s.next < roEvents && n < len(slots); n++ {
		lo, hi := s.offs[s.next], s.offs[s.next+1]
		slots[n] = cabi.Event{TsNs: uint64(s.next), Data: unsafe.Pointer(&s.mem[lo]), Len: uint32(hi - lo), Kind: cabi.KindRaw}
		s.next++
	}
	b.Len = uint32(n)
	return cabi.OK, nil
}

// within reports whether e's bytes lie inside mem.
func within(e *cabi.Event, mem []byte) bool {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	p := uintptr(e.Data)
	return p >= lo && p+uintptr(e.Len) <= lo+uintptr(len(mem))
}

// stampProcessor is a Processor that rewrites every byte after the
// sequence number of every event to 'W', as a plugin processor may.
type stampProcessor struct{ connector.Base }

func (stampProcessor) Process(b *cabi.Batch) error {
	evs := b.EventSlice()
	for i := range evs {
		data := evs[i].Bytes()
		for j := 8; j < len(data); j++ {
			data[j] = 'W'
		}
	}
	return nil
}

// seenEvents records, per sequence number, the bytes a sink received and
// whether they still pointed into the source's mapping.
type seenEvents struct {
	mu     sync.Mutex
	data   map[uint64][]byte
	lent   int // events whose bytes were still the source's
	copies int // events received twice
}

func (s *seenEvents) inspect(mem []byte) func(*cabi.Batch) {
	return func(b *cabi.Batch) {
		s.mu.Lock()
		defer s.mu.Unlock()
		evs := b.EventSlice()
		for i := range evs {
			seq := seqOf(&evs[i])
			if _, dup := s.data[seq]; dup {
				s.copies++
			}
			s.data[seq] = bytes.Clone(evs[i].Bytes())
			if within(&evs[i], mem) {
				s.lent++
			}
		}
	}
}

// TestProcessorOnReadOnlyBytes runs a source whose event bytes are mapped
// PROT_READ into a pipeline whose processor writes into every event. The
// engine must hand the processor writable copies (or the process dies of
// SIGSEGV), lose nothing, and leave the mapping untouched; batches whose
// lent bytes outgrow one arena, and events bigger than an arena, included.
func TestProcessorOnReadOnlyBytes(t *testing.T) {
	f := newFixture()
	src, img := newReadOnlySource(t)
	f.reg.MustRegister(connector.Type{ID: "ro", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) { return src, nil }})
	f.reg.MustRegister(connector.Type{ID: "stamp", Roles: connector.RoleProcessor, New: func([]byte, connector.Env) (connector.Connector, error) { return stampProcessor{}, nil }})
	seen := &seenEvents{data: map[uint64][]byte{}}
	f.newSink = func(name string) *testSink { return &testSink{name: name, inspect: seen.inspect(src.mem)} }
	g := graph([]string{"in:ro", "out:sink"}, []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "stamp"}}}},
		EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "out"})
	s := runToEnd(t, g, f, testOpts())

	if len(seen.data) != roEvents || seen.copies != 0 || seen.lent != 0 {
		t.Fatalf("sink got %d distinct events (%d twice, %d still in the read-only mapping); want %d, 0, 0", len(seen.data), seen.copies, seen.lent, roEvents)
	}
	bad := 0
	for i := 0; i < roEvents; i++ {
		want := bytes.Repeat([]byte{'W'}, src.offs[i+1]-src.offs[i])
		binary.LittleEndian.PutUint64(want, uint64(i+1))
		if !bytes.Equal(seen.data[uint64(i+1)], want) {
			bad++
		}
	}
	if bad != 0 {
		t.Errorf("%d of %d events reached the sink without the processor's rewrite", bad, roEvents)
	}
	if !bytes.Equal(src.mem, img) {
		t.Error("the read-only mapping changed")
	}
	p, _ := s.Component("p", StatPipeline)
	if p.EventsIn != roEvents || p.EventsOut != roEvents || p.DroppedTotal() != 0 {
		t.Errorf("pipeline in %d out %d dropped %v; want %d, %d, none", p.EventsIn, p.EventsOut, p.Dropped, roEvents, roEvents)
	}
}

// TestOperatorsKeepLentBytes: a pipeline of built-in operators only does
// not copy what a source lends it.
func TestOperatorsKeepLentBytes(t *testing.T) {
	f := newFixture()
	src, img := newReadOnlySource(t)
	f.reg.MustRegister(connector.Type{ID: "ro", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) { return src, nil }})
	seen := &seenEvents{data: map[uint64][]byte{}}
	f.newSink = func(name string) *testSink { return &testSink{name: name, inspect: seen.inspect(src.mem)} }
	g := graph([]string{"in:ro", "out:sink"}, []PipelineDef{{Name: "p", Ops: []OpDef{{Type: "drop_every", Config: []byte(`{"n":2}`)}}}},
		EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "out"})
	runToEnd(t, g, f, testOpts())
	if len(seen.data) != roEvents/2 || seen.lent != roEvents/2 {
		t.Errorf("sink got %d events, %d of them still in the source's mapping; want %d, all", len(seen.data), seen.lent, roEvents/2)
	}
	if !bytes.Equal(src.mem, img) {
		t.Error("the read-only mapping changed")
	}
}
