package packet

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/asm"
)

// udpOnly is a filter body that keeps UDP packets:
//
//	r0 = 0; if (args) { if (args->l4_proto == 17) r0 = 1; } return r0;
var udpOnly = asm.Instructions{
	asm.Mov.Imm(asm.R0, 0),
	{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.JEq).SetSource(asm.ImmSource), Dst: asm.R1, Constant: 0, Offset: 3},
	asm.LoadMem(asm.R2, asm.R1, int16(unsafe.Offsetof(FilterArgs{}.L4Proto)), asm.Byte),
	{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.JNE).SetSource(asm.ImmSource), Dst: asm.R2, Constant: 17, Offset: 1},
	asm.Mov.Imm(asm.R0, 1),
	asm.Return(),
}

// TestFilterReplace installs a filter body in place of the placeholder
// weir_filter, the way the filter compiler is meant to, and checks what is
// kept and the filtered counter.
func TestFilterReplace(t *testing.T) {
	c := newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, Filter: udpOnly}, 1, 0)
	udpFrame := frame(nil, 0x0800, ipv4(17, 0, 0, udp(10)))
	tcpFrame := frame(nil, 0x86dd, ipv6(nil, 6, tcp(10)))
	for _, p := range testProgs(c) {
		runProg(t, p, udpFrame, 2)
		runProg(t, p, tcpFrame, 3)
		recs := drain(t, c)
		if len(recs) != 2 {
			t.Fatalf("%s: %d records; want the 2 UDP ones", p.name, len(recs))
		}
		for _, r := range recs {
			if r.hdr.L4Proto != 17 {
				t.Errorf("%s: kept a packet with protocol %d", p.name, r.hdr.L4Proto)
			}
		}
	}
	if k := checkInvariant(t, c); k.Filtered != 9 || k.Emitted != 6 {
		t.Errorf("counters %+v; want 9 filtered and 6 emitted", k)
	}
}

// TestFilterRejected checks that a filter the verifier refuses (it loads
// through R1 without a NULL check) makes Open fail with the verifier's
// reason.
func TestFilterRejected(t *testing.T) {
	bad := asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 0, asm.Byte),
		asm.Return(),
	}
	cfg, err := Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, Filter: bad}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	newTestCapture(t, 4096, 1, 0) // skips without root
	c, err := load(cfg, allPrograms)
	if err == nil {
		c.Close()
		t.Fatal("load with a filter dereferencing a nullable pointer succeeded")
	}
	if !strings.Contains(err.Error(), "load capture programs") {
		t.Errorf("error %q does not name the step", err)
	}
}
