package filter

import (
	"fmt"
	"strings"
	"testing"
)

// TestMetaPrimitives checks inbound, outbound and ifindex, which tcpdump
// cannot test on a savefile, against the hook each program is: XDP and TCX
// ingress see packets coming in, TCX egress going out, and
// BPF_PROG_TEST_RUN reports loopback's ifindex.
func TestMetaPrimitives(t *testing.T) {
	needBPF(t)
	frame := corpus()[0].data
	for _, tc := range []struct {
		expr string
		want map[string]bool
	}{
		{"inbound", map[string]bool{"xdp": true, "tc-ingress": true, "tc-egress": false}},
		{"outbound", map[string]bool{"xdp": false, "tc-ingress": false, "tc-egress": true}},
		{"not inbound", map[string]bool{"xdp": false, "tc-ingress": false, "tc-egress": true}},
		{"ifindex 1", map[string]bool{"xdp": true, "tc-ingress": true, "tc-egress": true}},
		{"ifindex 2", map[string]bool{"xdp": false, "tc-ingress": false, "tc-egress": false}},
		{"inbound and ifindex 1 and tcp port 80", map[string]bool{"xdp": true, "tc-ingress": true, "tc-egress": false}},
		{"outbound or udp", map[string]bool{"xdp": false, "tc-ingress": false, "tc-egress": true}},
	} {
		insns, err := Compile(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		l, err := loadFilter(t, insns)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		for _, p := range l.progs {
			if got := l.verdict(t, p, frame); got != tc.want[p.name] {
				t.Errorf("%q in %s = %v; want %v", tc.expr, p.name, got, tc.want[p.name])
			}
		}
		l.Close()
	}
}

// TestManyTerms: the instruction limit applies to the optimized program, so
// "port 0 or ... port 99" (tcpdump accepts it; about 16,000 instructions
// before the optimizer shares the protocol tests, 3,100 after) compiles and
// loads, and a longer one is refused with the count.
func TestManyTerms(t *testing.T) {
	ports := func(n int) string {
		terms := make([]string, n)
		for i := range terms {
			terms[i] = fmt.Sprintf("port %d", i)
		}
		return strings.Join(terms, " or ")
	}
	insns, err := Compile(ports(100))
	if err != nil {
		t.Fatalf("100 ports: %v", err)
	}
	if len(insns) > MaxInstructions {
		t.Fatalf("100 ports: %d instructions, over the %d allowed", len(insns), MaxInstructions)
	}
	if _, err := Compile(ports(400)); err == nil || !strings.Contains(err.Error(), "instructions") {
		t.Errorf("400 ports: err = %v; want the instruction limit", err)
	}
	needBPF(t)
	l, err := loadFilter(t, insns)
	if err != nil {
		t.Fatalf("100 ports: load: %v", err)
	}
	l.Close()
}
