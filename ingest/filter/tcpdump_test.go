package filter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// writePcap writes frames to a pcap file (Ethernet, microsecond
// timestamps); frame i has the timestamp i+1 seconds, which identifies it
// in what tcpdump writes back.
func writePcap(t *testing.T, path string, frames []testFrame) {
	var b bytes.Buffer
	hdr := []uint32{0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1}
	for _, v := range hdr {
		binary.Write(&b, binary.LittleEndian, v)
	}
	for i, f := range frames {
		for _, v := range []uint32{uint32(i + 1), 0, uint32(len(f.data)), uint32(len(f.data))} {
			binary.Write(&b, binary.LittleEndian, v)
		}
		b.Write(f.data)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPcapIndexes returns the frame indexes (timestamp - 1) in a pcap file.
func readPcapIndexes(path string) (map[int]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	got := map[int]bool{}
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: %d bytes, not a pcap file", path, len(b))
	}
	for off := 24; off+16 <= len(b); {
		sec := binary.LittleEndian.Uint32(b[off:])
		incl := binary.LittleEndian.Uint32(b[off+8:])
		got[int(sec)-1] = true
		off += 16 + int(incl)
	}
	return got, nil
}

// tcpdumpMatches runs tcpdump on the corpus and returns the indexes of the
// frames expr matches, or tcpdump's error.
// With unoptimized set it runs tcpdump -O, libpcap's code without its
// optimizer.
func tcpdumpMatches(dir, in, expr string, n int, unoptimized bool) (map[int]bool, error) {
	out := filepath.Join(dir, fmt.Sprintf("out%d.pcap", n))
	args := []string{"-r", in, "-w", out}
	if unoptimized {
		args = append(args, "-O")
	}
	cmd := exec.Command("tcpdump", append(args, "--", expr)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "expression rejects all packets") {
			// The optimizer proved that nothing matches.
			return map[int]bool{}, nil
		}
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	defer os.Remove(out)
	return readPcapIndexes(out)
}

func readExpressions(t *testing.T) []string {
	f, err := os.Open("testdata/expressions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exprs []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		exprs = append(exprs, l)
	}
	return exprs
}

// generated returns n expressions combining primitives with and, or, not
// and parentheses, from a fixed seed.
func generated(n int) []string {
	prims := []string{
		"tcp", "udp", "icmp", "ip", "ip6", "arp", "icmp6", "sctp",
		"port 80", "port 53", "tcp port 443", "udp port 53", "src port 40000", "dst port 80",
		"host 10.0.0.1", "host 10.0.0.2", "src host 10.0.0.53", "net 10.0.0.0/24", "host 2001:db8::1",
		"ip6 net 2001:db8::/32", "ether broadcast", "ether multicast", "ether src 00:11:22:33:44:55",
		"tcp[tcpflags] & tcp-syn != 0", "icmp[icmptype] = icmp-echo", "ip[6:2] & 0x1fff = 0",
		"len > 100", "less 64", "greater 500", "portrange 5000-6000", "vlan", "vlan 10", "proto 17",
		"ip[0] & 0xf != 5", "udp[4:2] > 20", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
	}
	r := rand.New(rand.NewSource(13))
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || r.Intn(3) == 0 {
			p := prims[r.Intn(len(prims))]
			if r.Intn(5) == 0 {
				return "not " + p
			}
			return p
		}
		op := []string{" and ", " or ", " && ", " || "}[r.Intn(4)]
		e := gen(depth-1) + op + gen(depth-1)
		switch r.Intn(4) {
		case 0:
			return "(" + e + ")"
		case 1:
			return "not (" + e + ")"
		}
		return e
	}
	out := make([]string, n)
	for i := range out {
		out[i] = gen(1 + r.Intn(4))
	}
	return out
}

// skbRunnable reports whether BPF_PROG_TEST_RUN takes frame for a TC
// program: it refuses IPv4 and IPv6 frames too short for the IP header.
func skbRunnable(frame []byte) bool {
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		return len(frame) >= 14+20
	case 0x86dd:
		return len(frame) >= 14+40
	}
	return true
}

// TestAgainstTcpdump is the proof: for every expression and every frame of
// the corpus, the verdict of the real capture programs loaded with the
// compiled filter (XDP and TCX ingress, through BPF_PROG_TEST_RUN) equals
// tcpdump's on a pcap of the same frames, and weir refuses exactly the
// expressions tcpdump refuses. It takes 20 to 60 s (a program load per
// expression, tcpdump started once or twice per expression).
func TestAgainstTcpdump(t *testing.T) {
	needBPF(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed (tools/deps.sh installs it)")
	}
	frames := corpus()
	dir := t.TempDir()
	in := filepath.Join(dir, "corpus.pcap")
	writePcap(t, in, frames)
	exprs := append(readExpressions(t), generated(60)...)
	if len(exprs) < 300 {
		t.Fatalf("%d expressions; the comparison wants at least 300", len(exprs))
	}
	// tcpdump's verdicts first, four runs at a time: starting tcpdump
	// takes longer than the comparison itself.
	wants := make([]map[int]bool, len(exprs))
	tdErrs := make([]error, len(exprs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				wants[n], tdErrs[n] = tcpdumpMatches(dir, in, exprs[n], n, false)
			}
		}()
	}
	for n := range exprs {
		next <- n
	}
	close(next)
	wg.Wait()
	matchedAny := map[int]bool{}
	var compared, refused, optimizerOnly int
	for n, expr := range exprs {
		want, tdErr := wants[n], tdErrs[n]
		insns, err := Compile(expr)
		if tdErr != nil {
			if err == nil {
				t.Errorf("%q: weir accepts what tcpdump refuses (%v)", expr, tdErr)
			} else {
				refused++
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: weir refuses what tcpdump accepts: %v", expr, err)
			continue
		}
		l, err := loadFilter(t, insns)
		if err != nil {
			t.Errorf("%q: load: %v", expr, err)
			continue
		}
		var unopt map[int]bool
		for i, f := range frames {
			for _, p := range l.progs {
				// TCX egress runs the same code as ingress; only the
				// direction differs, which TestMetaPrimitives covers.
				if p.name == "tc-egress" || p.name != "xdp" && !skbRunnable(f.data) {
					continue
				}
				got := l.verdict(t, p, f.data)
				if got != want[i] && !got {
					// libpcap's optimizer drops loads whose outcome it can
					// deduce, so on a frame too short for such a load
					// tcpdump can keep what the unoptimized code (and weir)
					// rejects. Accept that one difference, only where
					// tcpdump -O agrees with weir.
					if unopt == nil {
						var err error
						if unopt, err = tcpdumpMatches(dir, in, expr, n, true); err != nil {
							t.Fatalf("%q: tcpdump -O: %v", expr, err)
						}
					}
					if got == unopt[i] {
						optimizerOnly++
						continue
					}
				}
				if got != want[i] {
					t.Errorf("%q on frame %d (%s, %d bytes):\n  %s: %v, tcpdump: %v\n  frame: % x",
						expr, i, f.name, len(f.data), p.name, got, want[i], f.data)
				}
			}
			if want[i] {
				matchedAny[i] = true
			}
		}
		compared++
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d expressions compared over %d frames, %d refused by both; %d verdicts agree with tcpdump -O only (loads libpcap's optimizer removed, on short frames)", compared, len(frames), refused, optimizerOnly)
	for i, f := range frames {
		if !matchedAny[i] {
			t.Logf("frame %d (%s) matched no expression", i, f.name)
		}
	}
}
