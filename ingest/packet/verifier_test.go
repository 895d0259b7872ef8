package packet

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
)

// maxVerifiedInsns bounds the instructions the verifier may process for
// each capture program. Its work is most of a capture's start-up cost in
// the kernel: 21,700 instructions and 12 ms per program while the IPv6
// extension-header walk used direct packet access, about 2,400 and 1.5 ms
// since. The bound leaves room for the parser to grow, not for that walk to
// come back.
const maxVerifiedInsns = 6000

var processedInsns = regexp.MustCompile(`processed (\d+) insns`)

// TestVerifierCost loads each capture program the way a capture does, with
// the default and the largest snaplen and with a filter, and checks the
// verifier's instruction count.
func TestVerifierCost(t *testing.T) {
	verifierLogLevel = ebpf.LogLevelStats
	defer func() { verifierLogLevel = 0 }()
	cases := []struct {
		name string
		cfg  Config
	}{
		{"snaplen-default", Config{Interfaces: []string{"lo"}, RingSize: 1 << 16}},
		{"filter", Config{Interfaces: []string{"lo"}, RingSize: 1 << 16, Snaplen: 96, Filter: udpOnly}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCaptureConfig(t, tc.cfg, 1, 0)
			xdp, tcIn, tcOut := c.Programs()
			for name, p := range map[string]*ebpf.Program{"xdp": xdp, "tc-ingress": tcIn, "tc-egress": tcOut} {
				m := processedInsns.FindStringSubmatch(p.VerifierLog)
				if m == nil {
					t.Fatalf("%s: no instruction count in the verifier's log:\n%s", name, p.VerifierLog)
				}
				n, _ := strconv.Atoi(m[1])
				t.Logf("%s: verifier processed %d instructions", name, n)
				if n > maxVerifiedInsns {
					t.Errorf("%s: verifier processed %d instructions; want at most %d", name, n, maxVerifiedInsns)
				}
			}
		})
	}
}
