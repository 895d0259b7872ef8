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
//
// with args in R2.
var udpOnly = asm.Instructions{
	asm.Mov.Imm(asm.R0, 0),
	{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.JEq).SetSource(asm.ImmSource), Dst: asm.R2, Constant: 0, Offset: 3},
	asm.LoadMem(asm.R3, asm.R2, int16(unsafe.Offsetof(FilterArgs{}.L4Proto)), asm.Byte),
	{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.JNE).SetSource(asm.ImmSource), Dst: asm.R3, Constant: 17, Offset: 1},
	asm.Mov.Imm(asm.R0, 1),
	asm.Return(),
}

// TestFilterReplace installs a filter body in place of the placeholder
// weir_filter, the way the filter compiler (ingest/filter) does, and checks what is
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
// through R2, args, without a NULL check) makes Open fail with the verifier's
// reason.
func TestFilterRejected(t *testing.T) {
	bad := asm.Instructions{
		asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte),
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

// TestFilterLoadBytes installs a filter that reads a packet byte beyond
// FilterArgs.Head with bpf_xdp_load_bytes on the context (R1), which the
// TCX programs get as bpf_skb_load_bytes, and keeps packets whose byte 200
// is 0x5a.
func TestFilterLoadBytes(t *testing.T) {
	body := asm.Instructions{
		// r2 = fp-8; r1 = ctx (already); r3 = r2; r2 = 200; r4 = 1
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -8),
		asm.Mov.Imm(asm.R2, 200),
		asm.Mov.Imm(asm.R4, 1),
		asm.FnXdpLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R1, asm.RFP, -8, asm.Byte),
		asm.JNE.Imm(asm.R1, 0x5a, "drop"),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("drop"),
		asm.Return(),
	}
	c := newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, Filter: body}, 1, 0)
	keep := frame(nil, 0x0800, ipv4(17, 0, 0, udp(300)))
	drop := frame(nil, 0x0800, ipv4(17, 0, 0, udp(300)))
	short := frame(nil, 0x0800, ipv4(17, 0, 0, udp(10)))
	keep[200] = 0x5a
	drop[200] = 0x5b
	for _, p := range testProgs(c) {
		runProg(t, p, keep, 1)
		runProg(t, p, drop, 1)
		runProg(t, p, short, 1)
		recs := drain(t, c)
		if len(recs) != 1 || recs[0].hdr.OrigLen != uint32(len(keep)) {
			t.Fatalf("%s: %d records; want the one with 0x5a at byte 200", p.name, len(recs))
		}
	}
	if k := checkInvariant(t, c); k.Filtered != 6 || k.Emitted != 3 {
		t.Errorf("counters %+v; want 6 filtered and 3 emitted", k)
	}
}
