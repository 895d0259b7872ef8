package filter

import (
	"errors"
	"os"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/weirproject/weir/ingest/packet"
)

const loIfindex = 1

// TestArgsOffsets keeps the compiler's offsets equal to FilterArgs'.
func TestArgsOffsets(t *testing.T) {
	var a packet.FilterArgs
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"Head", argsHead, unsafe.Offsetof(a.Head)},
		{"len(Head)", argsHeadSize, unsafe.Sizeof(a.Head)},
		{"HeadLen", argsHeadLen, unsafe.Offsetof(a.HeadLen)},
		{"WireLen", argsWireLen, unsafe.Offsetof(a.WireLen)},
		{"Ifindex", argsIfindex, unsafe.Offsetof(a.Ifindex)},
		{"Direction", argsDirection, unsafe.Offsetof(a.Direction)},
	} {
		if c.got != c.want {
			t.Errorf("offset of %s = %d; FilterArgs has %d", c.name, c.got, c.want)
		}
	}
}

// needBPF skips a test that loads programs when not root.
func needBPF(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("loading BPF programs needs root (CAP_BPF and CAP_NET_ADMIN)")
	}
}

// loaded is the capture programs loaded with one compiled filter.
type loaded struct {
	c     *packet.Capture
	progs []namedProg
	last  *packet.Counters // the counters after the last verdict
}

type namedProg struct {
	name string
	prog *ebpf.Program
}

// loadFilter loads the capture programs with body as the filter and
// configures loopback, whose ifindex BPF_PROG_TEST_RUN reports.
func loadFilter(tb testing.TB, body asm.Instructions) (*loaded, error) {
	tb.Helper()
	c, err := packet.Load(packet.Config{Interfaces: []string{"lo"}, RingSize: 1 << 14, Snaplen: 64, Filter: body})
	if errors.Is(err, packet.ErrNotSupported) {
		tb.Skipf("kernel lacks a feature: %v", err)
	}
	if err != nil {
		return nil, err
	}
	if err := c.SetInterface(loIfindex, 1, 64); err != nil {
		c.Close()
		tb.Fatal(err)
	}
	x, ti, te := c.Programs()
	return &loaded{c: c, progs: []namedProg{{"xdp", x}, {"tc-ingress", ti}, {"tc-egress", te}}}, nil
}

func (l *loaded) Close() error { return l.c.Close() }

// verdict runs the program on frame and tells whether the filter kept it,
// from the capture's filtered counter.
func (l *loaded) verdict(tb testing.TB, p namedProg, frame []byte) bool {
	tb.Helper()
	var before packet.Counters
	if l.last != nil {
		before = *l.last
	} else {
		var err error
		if before, err = l.c.Counters(); err != nil {
			tb.Fatal(err)
		}
	}
	out := make([]byte, len(frame)+256)
	if _, err := p.prog.Run(&ebpf.RunOptions{Data: frame, DataOut: out}); err != nil {
		tb.Fatalf("%s: BPF_PROG_TEST_RUN on %d bytes % x: %v", p.name, len(frame), frame, err)
	}
	after, err := l.c.Counters()
	if err != nil {
		tb.Fatal(err)
	}
	l.last = &after
	if after.Seen != before.Seen+1 {
		tb.Fatalf("%s: the program did not count the packet (seen %d -> %d)", p.name, before.Seen, after.Seen)
	}
	return after.Filtered == before.Filtered
}
