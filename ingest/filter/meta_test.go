package filter

import "testing"

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
