package plugin

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/internal/testmem"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/operator"
)

// lendingSource lends events whose bytes live in a file mapped PROT_READ,
// as the packet source lends a kernel ring mapped read-only.
type lendingSource struct {
	connector.Base
	mem  []byte
	size int // bytes per event
	next int
}

func (s *lendingSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	n := len(s.mem) / s.size
	if s.next == n {
		return cabi.EOF, nil
	}
	slots := b.Slots()
	k := 0
	for ; k < len(slots) && s.next < n; k++ {
		slots[k] = cabi.Event{TsNs: uint64(s.next), Data: unsafe.Pointer(&s.mem[s.next*s.size]), Len: uint32(s.size), Kind: cabi.KindRaw}
		s.next++
	}
	b.Len = uint32(k)
	return cabi.OK, nil
}

// grabSink keeps a copy of every event's bytes, by TsNs.
type grabSink struct {
	connector.Base
	mu  sync.Mutex
	got map[uint64][]byte
}

func (s *grabSink) Write(b *cabi.Batch) (cabi.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b.EventSlice() {
		s.got[e.TsNs] = bytes.Clone(e.Bytes())
	}
	return cabi.OK, nil
}

// TestPluginProcessorOnReadOnlyBytes runs the C template processor, which
// upper-cases event bytes in place, on events lent from a PROT_READ
// mapping. Without a copy into a writable arena the process dies of
// SIGSEGV; with it the sink sees upper case and the mapping is unchanged.
func TestPluginProcessorOnReadOnlyBytes(t *testing.T) {
	const events, size = 500, 32
	lib := cBuild(t, "libtemplate.so", "-I"+filepath.Join(repoRoot, "plugins/c"),
		filepath.Join(repoRoot, "plugins/c/template/template.c"), filepath.Join(repoRoot, "plugins/c/config.c"))
	reg := connector.NewRegistry()
	if _, err := Load(reg, lib); err != nil {
		t.Fatal(err)
	}

	var img []byte
	for i := 0; i < events; i++ {
		img = append(img, fmt.Sprintf("%-*s", size, fmt.Sprintf("event %d abc", i))...)
	}
	mem := testmem.ReadOnly(t, img)

	sink := &grabSink{got: map[uint64][]byte{}}
	reg.MustRegister(connector.Type{ID: "lend", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) {
		return &lendingSource{mem: mem, size: size}, nil
	}})
	reg.MustRegister(connector.Type{ID: "grab", Roles: connector.RoleSink, New: func([]byte, connector.Env) (connector.Connector, error) { return sink, nil }})
	g := runtime.Graph{
		Connectors: []runtime.ConnectorDef{
			{Name: "src", Type: "lend", Config: []byte(`{}`)},
			{Name: "out", Type: "grab", Config: []byte(`{}`)},
		},
		Pipelines: []runtime.PipelineDef{{Name: "p", Ops: []runtime.OpDef{{Type: "c_template", Config: []byte(`{}`)}}}},
		Connections: []runtime.EdgeDef{
			{From: "src", To: "p", Capacity: 4, Policy: runtime.Block},
			{From: "p", To: "out", Capacity: 4, Policy: runtime.Block},
		},
	}
	eng := runEngine(t, g, reg, runtime.Options{NewOp: operator.New, DrainTimeout: 10 * time.Second, BatchEvents: 64})

	if len(sink.got) != events {
		t.Fatalf("sink got %d events; want %d", len(sink.got), events)
	}
	for i := 0; i < events; i++ {
		want := bytes.ToUpper(img[i*size : (i+1)*size])
		if got := sink.got[uint64(i)]; !bytes.Equal(got, want) {
			t.Errorf("event %d = %q; want %q", i, got, want)
		}
	}
	if !bytes.Equal(mem, img) {
		t.Error("the read-only mapping changed")
	}
	st := eng.Stats()
	if c, _ := st.Component("p/1", runtime.StatProcessor); c.EventsIn != events || c.EventsOut != events || c.InFlight != 0 {
		t.Errorf("processor in %d out %d in flight %d; want %d, %d, 0", c.EventsIn, c.EventsOut, c.InFlight, events, events)
	}
}
