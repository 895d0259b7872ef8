package packet

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
)

// binomialBound returns the range [lo, hi] that a Binomial(n, p) count
// falls outside of with a probability below 1e-8: six standard deviations
// either side of the mean, so that the sampler's tests never flake, and one
// more either side, for the counts near 0 where the normal approximation
// is poor (at rate 2^31 over 10,000 packets one keep has a chance of 5e-6,
// two of 1e-11).
func binomialBound(n int, p float64) (lo, hi float64) {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return mean - 6*sd - 1, mean + 6*sd + 1
}

// checkBinomial fails t when k is outside binomialBound(n, p).
func checkBinomial(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	lo, hi := binomialBound(n, p)
	t.Logf("%s: kept %d of %d (bound %.0f to %.0f)", what, k, n, lo, hi)
	if float64(k) < lo || float64(k) > hi {
		t.Errorf("%s: kept %d of %d; want %.0f to %.0f (%d × %g ± 6σ)", what, k, n, lo, hi, n, p)
	}
}

// TestSampling checks the random 1-in-N sampler on one CPU: the number of
// packets kept is within six standard deviations of count/rate, every
// record carries the rate and says it was drawn at random (or, at rate 1,
// not sampled), sequence numbers have no gaps and the counters add up
// exactly.
func TestSampling(t *testing.T) {
	for _, tc := range []struct{ rate, count uint32 }{{1, 100}, {2, 400}, {10, 2000}, {1000, 200000}, {1 << 31, 10000}} {
		for _, name := range []string{"xdp", "tc-ingress", "tc-egress"} {
			t.Run(fmt.Sprintf("%s/rate=%d/count=%d", name, tc.rate, tc.count), func(t *testing.T) {
				pinCPU(t)
				c := newTestCapture(t, 1<<17, tc.rate, 0)
				var p testProg
				for _, q := range testProgs(c) {
					if q.name == name {
						p = q
					}
				}
				runProg(t, p, frame(nil, 0x0800, ipv4(17, 0, 0, udp(22))), tc.count)
				recs := drain(t, c)
				k := checkInvariant(t, c)
				// A signal during the run makes cilium/ebpf run all
				// repetitions again, so count what the programs saw.
				if k.Seen < uint64(tc.count) {
					t.Fatalf("programs saw %d packets; want at least %d", k.Seen, tc.count)
				}
				if tc.rate == 1 && uint64(len(recs)) != k.Seen {
					t.Fatalf("rate 1 kept %d of %d; want all", len(recs), k.Seen)
				}
				checkBinomial(t, fmt.Sprintf("rate %d", tc.rate), len(recs), int(k.Seen), 1/float64(tc.rate))
				mode := uint8(cabi.SampleRandom)
				if tc.rate == 1 {
					mode = cabi.SampleNone
				}
				for i, r := range recs {
					if r.hdr.SampleRate != tc.rate || r.hdr.SampleMode != mode {
						t.Errorf("record %d sample rate %d mode %d; want %d, %d", i, r.hdr.SampleRate, r.hdr.SampleMode, tc.rate, mode)
					}
					if r.hdr.Seq != uint64(i) || r.hdr.CPU != 0 {
						t.Errorf("record %d seq %d cpu %d; want %d, 0", i, r.hdr.Seq, r.hdr.CPU, i)
					}
				}
				kept := uint64(len(recs))
				if want := (Counters{Seen: k.Seen, SampledOut: k.Seen - kept, Emitted: kept}); k != want {
					t.Errorf("counters %+v; want %+v", k, want)
				}
			})
		}
	}
}

// TestSamplingAlternating feeds the programs what a host answering requests
// sees, a request and its reply in turn, and checks that sampling at 1 in 2
// keeps about half of each, and about a quarter of the exchanges whole, as
// independent draws do. The sampler before sampling modes kept one packet
// in two by counting, so it kept every request and no reply.
func TestSamplingAlternating(t *testing.T) {
	const exchanges = 400
	pinCPU(t)
	c := newTestCapture(t, 1<<18, 2, 0)
	_, ti, te := c.Programs()
	in := testProg{"tc-ingress", ti, tcxNext, RecordIngress, HookTCX}
	out := testProg{"tc-egress", te, tcxNext, RecordEgress, HookTCX}
	req := v4Frame([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 17, 40000, 7, nil)
	rep := v4Frame([4]byte{10, 0, 0, 2}, [4]byte{10, 0, 0, 1}, 17, 7, 40000, nil)
	for i := range exchanges {
		binary.BigEndian.PutUint32(req[42:], uint32(i))
		binary.BigEndian.PutUint32(rep[42:], uint32(i))
		runProg(t, in, req, 1)
		runProg(t, out, rep, 1)
	}
	kept := map[uint8]map[uint32]bool{RecordIngress: {}, RecordEgress: {}}
	for _, r := range drain(t, c) {
		kept[r.hdr.Direction][binary.BigEndian.Uint32(r.data[42:])] = true
	}
	checkBinomial(t, "requests", len(kept[RecordIngress]), exchanges, 0.5)
	checkBinomial(t, "replies", len(kept[RecordEgress]), exchanges, 0.5)
	both := 0
	for i := range kept[RecordIngress] {
		if kept[RecordEgress][i] {
			both++
		}
	}
	checkBinomial(t, "whole exchanges", both, exchanges, 0.25)
	k := checkInvariant(t, c)
	if n := uint64(len(kept[RecordIngress]) + len(kept[RecordEgress])); k.Seen != 2*exchanges || k.Emitted != n || k.SampledOut != 2*exchanges-n {
		t.Errorf("counters %+v; want %d seen, %d emitted, the rest sampled out", k, 2*exchanges, n)
	}
}

// v4Frame builds an Ethernet/IPv4 frame from src to dst with protocol
// proto: for UDP and TCP with the ports sport and dport and 8 payload
// bytes, for ICMP an echo request (sport 8) or reply (sport 0) with
// identifier dport; payload, when not nil, replaces the transport header
// and what follows it.
func v4Frame(src, dst [4]byte, proto uint8, sport, dport uint16, payload []byte) []byte {
	if payload == nil {
		switch proto {
		case 6:
			payload = tcp(8)
		case 1:
			payload = icmp(8)
			payload[0] = uint8(sport)
			binary.BigEndian.PutUint16(payload[4:], dport)
			sport, dport = 0, 0
		default:
			payload = udp(8)
		}
		if sport != 0 || dport != 0 {
			binary.BigEndian.PutUint16(payload[0:], sport)
			binary.BigEndian.PutUint16(payload[2:], dport)
		}
	}
	ip := ipv4(proto, 0, 0, payload)
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	return frame(nil, 0x0800, ip)
}

// v6Frame is v4Frame for IPv6 and UDP.
func v6Frame(src, dst [16]byte, sport, dport uint16) []byte {
	payload := udp(8)
	binary.BigEndian.PutUint16(payload[0:], sport)
	binary.BigEndian.PutUint16(payload[2:], dport)
	ip := ipv6(nil, 17, payload)
	copy(ip[8:], src[:])
	copy(ip[24:], dst[:])
	return frame(nil, 0x86dd, ip)
}

// testFlow is a flow for TestFlowSampling: its frames in each direction.
type testFlow struct {
	name          string
	forward, back []byte
}

// testFlows returns n flows of each kind the flow hash reads: IPv4 UDP and
// TCP, IPv6 UDP, ICMP echo, IPv4 UDP behind IP options, and IPv4 packets
// of another protocol (GRE) between distinct address pairs.
func testFlows(n int) []testFlow {
	var flows []testFlow
	for i := range n {
		a := [4]byte{10, 1, byte(i >> 8), byte(i)}
		b := [4]byte{10, 2, 0, 1}
		sp, dp := uint16(30000+i), uint16(53)
		flows = append(flows,
			testFlow{fmt.Sprintf("udp%d", i), v4Frame(a, b, 17, sp, dp, nil), v4Frame(b, a, 17, dp, sp, nil)},
			testFlow{fmt.Sprintf("tcp%d", i), v4Frame(b, a, 6, 443, sp, nil), v4Frame(a, b, 6, sp, 443, nil)},
			testFlow{fmt.Sprintf("icmp%d", i), v4Frame(b, a, 1, 8, uint16(i), nil), v4Frame(a, b, 1, 0, uint16(i), nil)},
			testFlow{fmt.Sprintf("gre%d", i), v4Frame(a, b, 47, 0, 0, make([]byte, 16)), v4Frame(b, a, 47, 0, 0, make([]byte, 16))},
		)
		opt := func(src, dst [4]byte, sport, dport uint16) []byte {
			u := udp(8)
			binary.BigEndian.PutUint16(u[0:], sport)
			binary.BigEndian.PutUint16(u[2:], dport)
			ip := ipv4(17, 0, 3, u)
			copy(ip[12:], src[:])
			copy(ip[16:], dst[:])
			return frame(nil, 0x0800, ip)
		}
		flows = append(flows, testFlow{fmt.Sprintf("ipopt%d", i), opt(a, b, 5000, sp), opt(b, a, sp, 5000)})
		var x, y [16]byte
		x[0], x[1], x[14], x[15] = 0xfd, 0x01, byte(i>>8), byte(i)
		y[0], y[1], y[15] = 0xfd, 0x02, 1
		flows = append(flows, testFlow{fmt.Sprintf("udp6-%d", i), v6Frame(x, y, sp, 123), v6Frame(y, x, 123, sp)})
	}
	return flows
}

// runFlows runs each flow's frames through the programs, each direction
// twice on each program, and returns which flows were kept, checking
// that every flow was kept or dropped whole and that the records say they
// were sampled by flow.
func runFlows(t *testing.T, c *Capture, flows []testFlow) map[string]bool {
	t.Helper()
	progs := testProgs(c)
	const perFlow = 12 // 2 directions × 3 programs × 2
	byFrame := map[string]string{}
	for _, f := range flows {
		byFrame[string(f.forward)] = f.name
		byFrame[string(f.back)] = f.name
		// One repetition per run: cilium/ebpf runs all repetitions
		// again when a signal interrupts a run of several.
		for _, p := range progs {
			for range 2 {
				runProg(t, p, f.forward, 1)
				runProg(t, p, f.back, 1)
			}
		}
	}
	count := map[string]int{}
	for _, r := range drain(t, c) {
		name, ok := byFrame[string(r.data)]
		if !ok {
			t.Fatalf("record of a frame no flow sent: %x", r.data)
		}
		count[name]++
		if r.hdr.SampleMode != cabi.SampleFlow {
			t.Errorf("%s: record sample mode %d; want %d (flow)", name, r.hdr.SampleMode, cabi.SampleFlow)
		}
	}
	kept := map[string]bool{}
	for name, n := range count {
		if n != perFlow {
			t.Errorf("flow %s: %d of its %d packets kept; want all or none", name, n, perFlow)
		}
		kept[name] = true
	}
	k := checkInvariant(t, c)
	if k.Seen != uint64(perFlow*len(flows)) || k.Emitted != uint64(perFlow*len(kept)) {
		t.Errorf("counters %+v; want %d seen and %d emitted", k, perFlow*len(flows), perFlow*len(kept))
	}
	return kept
}

// TestFlowSampling checks flow mode: every flow, over IPv4 and IPv6, TCP,
// UDP, ICMP echo and another protocol, in both directions and through all
// three programs, is kept or dropped whole; about 1 flow in rate is kept;
// the same seed keeps the same flows and another seed others.
func TestFlowSampling(t *testing.T) {
	const rate = 2
	flows := testFlows(40)
	open := func(seed uint32) *Capture {
		return newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: 1 << 20, SampleMode: SampleFlow, FlowSeed: seed}, rate, 0)
	}
	c1 := open(0x5eed)
	kept := runFlows(t, c1, flows)
	checkBinomial(t, "flows", len(kept), len(flows), 1.0/rate)
	for _, kind := range []string{"udp", "tcp", "icmp", "gre", "ipopt", "udp6-"} {
		n := 0
		for name := range kept {
			if strings.TrimRight(name, "0123456789") == kind {
				n++
			}
		}
		checkBinomial(t, kind+" flows", n, 40, 1.0/rate)
	}
	if again := runFlows(t, open(0x5eed), flows); !maps.Equal(again, kept) {
		t.Errorf("the same seed kept %d flows, %d of them different", len(again), len(diff(again, kept)))
	}
	other := runFlows(t, open(0x5eed+1), flows)
	if d := len(diff(other, kept)); d == 0 {
		t.Errorf("another seed kept the same %d flows; want a different choice", len(kept))
	}
}

// diff returns the names in exactly one of a and b.
func diff(a, b map[string]bool) []string {
	var out []string
	for n := range a {
		if !b[n] {
			out = append(out, n)
		}
	}
	for n := range b {
		if !a[n] {
			out = append(out, n)
		}
	}
	return out
}

// TestFlowSamplingFallback checks what flow mode does without a flow:
// frames that are not IP (ARP) are drawn at random, and their records say
// so; non-first IPv4 fragments are hashed on their addresses, all alike;
// rate 1 keeps everything, unsampled; a zero seed is replaced by a random
// one.
func TestFlowSamplingFallback(t *testing.T) {
	const rate, count = 4, 2000
	pinCPU(t)
	c := newTestCaptureConfig(t, Config{Interfaces: []string{"lo"}, RingSize: 1 << 20, SampleMode: SampleFlow}, rate, 0)
	if c.cfg.FlowSeed == 0 {
		t.Errorf("flow seed 0 after normalize; want a random seed")
	}
	_, ti, _ := c.Programs()
	p := testProg{"tc-ingress", ti, tcxNext, RecordIngress, HookTCX}
	arp := frame(nil, 0x0806, make([]byte, 28))
	runProg(t, p, arp, count)
	recs := drain(t, c)
	seen := checkInvariant(t, c).Seen // count or more; see TestSampling
	checkBinomial(t, "arp", len(recs), int(seen), 1.0/rate)
	for i, r := range recs {
		if r.hdr.SampleMode != cabi.SampleRandom || r.hdr.SampleRate != rate {
			t.Fatalf("arp record %d: sample mode %d rate %d; want %d (random), %d", i, r.hdr.SampleMode, r.hdr.SampleRate, cabi.SampleRandom, rate)
		}
	}
	// Fragments of 64 datagrams between one address pair: one flow, so
	// all or none are kept, by flow.
	for i := range 64 {
		ip := ipv4(17, uint16(1+i), 0, make([]byte, 32))
		runProg(t, p, frame(nil, 0x0800, ip), 1)
	}
	recs = drain(t, c)
	if len(recs) != 0 && len(recs) != 64 {
		t.Errorf("kept %d of 64 fragments between one address pair; want all or none", len(recs))
	}
	for _, r := range recs {
		if r.hdr.SampleMode != cabi.SampleFlow {
			t.Fatalf("fragment record sample mode %d; want %d (flow)", r.hdr.SampleMode, cabi.SampleFlow)
		}
	}
	if err := c.SetInterface(loIfindex, 1, 0); err != nil {
		t.Fatal(err)
	}
	runProg(t, p, v4Frame([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 17, 1, 2, nil), 10)
	recs = drain(t, c)
	if len(recs) != 10 {
		t.Fatalf("rate 1 in flow mode kept %d of 10; want all", len(recs))
	}
	for _, r := range recs {
		if r.hdr.SampleMode != cabi.SampleNone || r.hdr.SampleRate != 1 {
			t.Fatalf("rate 1 record: sample mode %d rate %d; want %d, 1", r.hdr.SampleMode, r.hdr.SampleRate, cabi.SampleNone)
		}
	}
	checkInvariant(t, c)
}

// TestParseSampleMode checks the sample mode names and that Open refuses
// an unknown mode.
func TestParseSampleMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SampleMode
		err  bool
	}{{"random", SampleRandom, false}, {"FLOW", SampleFlow, false}, {"", 0, true}, {"every", 0, true}} {
		got, err := ParseSampleMode(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseSampleMode(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && got.String() != strings.ToLower(tc.in) {
			t.Errorf("%v.String() = %q; want %q", got, got.String(), strings.ToLower(tc.in))
		}
	}
	if err := CheckConfig(Config{Interfaces: []string{"lo"}, SampleMode: 9}); err == nil || !strings.Contains(err.Error(), "sample mode 9") {
		t.Errorf("CheckConfig(sample mode 9) = %v; want an error naming it", err)
	}
}

// TestTruncation checks snaplen handling across the size classes: the
// record keeps min(len, snaplen) bytes, the original length, and exactly the
// frame's leading bytes.
func TestTruncation(t *testing.T) {
	for _, tc := range []struct {
		snaplen uint32
		size    int
	}{
		{64, 60}, {64, 64}, {64, 65}, {96, 1500}, {128, 128}, {129, 200}, {256, 3000},
		{500, 600}, {1024, 1024}, {2000, 3000}, {4096, 3500}, {9216, 3500}, {1, 100}, {9999, 200},
	} {
		t.Run(fmt.Sprintf("snaplen=%d/size=%d", tc.snaplen, tc.size), func(t *testing.T) {
			c := newTestCapture(t, 1<<16, 1, tc.snaplen)
			f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(tc.size-14-28)))
			for _, p := range testProgs(c) {
				runProg(t, p, f, 1)
				recs := drain(t, c)
				if len(recs) != 1 {
					t.Fatalf("%s: %d records; want 1", p.name, len(recs))
				}
				h := recs[0].hdr
				want := min(uint32(tc.size), tc.snaplen, SnaplenMax)
				if h.OrigLen != uint32(tc.size) || h.CapLen != want {
					t.Errorf("%s: orig %d cap %d; want %d, %d", p.name, h.OrigLen, h.CapLen, tc.size, want)
				}
				if string(recs[0].data) != string(f[:want]) {
					t.Errorf("%s: captured bytes are not the frame's first %d bytes", p.name, want)
				}
			}
			checkInvariant(t, c)
		})
	}
}

// TestRingFull fills a small ring without reading it: the overflow is
// counted as ring full, the records that fit read back intact, and the
// sequence numbers show the gap once the reader catches up.
func TestRingFull(t *testing.T) {
	pinCPU(t)
	c := newTestCapture(t, 4096, 1, 64)
	_, p, _ := c.Programs()
	tp := testProg{"tc-ingress", p, tcxNext, RecordIngress, HookTCX}
	f := frame(nil, 0x86dd, ipv6(nil, 17, udp(100)))
	runProg(t, tp, f, 100)
	// Each record is 8 (ring header) + HeaderSize + 64 (size class) bytes,
	// and the kernel never fills a ring to the last byte (it refuses a
	// record that would make producer - consumer exceed size - 1).
	fit := uint64((4096 - 1) / (8 + HeaderSize + 64))
	k := checkInvariant(t, c)
	if k.Emitted != fit || k.RingFull != 100-fit {
		t.Fatalf("counters %+v; want %d emitted and %d ring full", k, fit, 100-fit)
	}
	recs := drain(t, c)
	if uint64(len(recs)) != fit {
		t.Fatalf("read %d records; want %d", len(recs), fit)
	}
	for i, r := range recs {
		if r.hdr.Seq != uint64(i) || string(r.data) != string(f[:64]) {
			t.Fatalf("record %d: seq %d, data ok %v", i, r.hdr.Seq, string(r.data) == string(f[:64]))
		}
	}
	runProg(t, tp, f, 1)
	recs = drain(t, c)
	if len(recs) != 1 || recs[0].hdr.Seq != 100 {
		t.Fatalf("after release got %d records (first seq %v); want one with seq 100", len(recs), recs)
	}
	k = checkInvariant(t, c)
	if k.Seen != 101 || k.Emitted != fit+1 {
		t.Errorf("counters %+v; want 101 seen, %d emitted", k, fit+1)
	}
}

// TestSnaplenClass checks that the largest record class is sized by the
// capture's snaplen: a 4 KiB ring holds as many records as their size
// (8 ring header + HeaderSize + the snaplen rounded up to 8, or a smaller class for
// a short frame) allows, and SetInterface cannot raise the snaplen above
// the one the programs were loaded with.
func TestSnaplenClass(t *testing.T) {
	for _, tc := range []struct {
		snaplen, setTo uint32
		size, class    int
	}{
		{96, 96, 1500, 96}, {100, 100, 1500, 104}, {200, 200, 1500, 200},
		{96, 96, 60, 64}, {96, 500, 1500, 96}, {100, 500, 1500, 104}, {9216, 0, 1500, 2048},
	} {
		t.Run(fmt.Sprintf("snaplen=%d/set=%d/size=%d", tc.snaplen, tc.setTo, tc.size), func(t *testing.T) {
			pinCPU(t)
			c := newTestCapture(t, 4096, 1, tc.snaplen)
			if err := c.SetInterface(loIfindex, 1, tc.setTo); err != nil {
				t.Fatal(err)
			}
			_, p, _ := c.Programs()
			tp := testProg{"tc-ingress", p, tcxNext, RecordIngress, HookTCX}
			f := frame(nil, 0x0800, ipv4(17, 0, 0, udp(tc.size-14-28)))
			runProg(t, tp, f, 100)
			// The kernel refuses a record that would make producer -
			// consumer exceed the ring size - 1.
			fit := uint64((4096 - 1) / (8 + HeaderSize + tc.class))
			k := checkInvariant(t, c)
			if k.Emitted != fit || k.RingFull != 100-fit {
				t.Fatalf("counters %+v; want %d emitted and %d ring full for %d-byte records", k, fit, 100-fit, 8+HeaderSize+tc.class)
			}
			want := min(tc.size, int(tc.snaplen))
			for i, r := range drain(t, c) {
				if int(r.hdr.CapLen) != want || string(r.data) != string(f[:want]) {
					t.Fatalf("record %d: %d bytes captured; want the frame's first %d", i, r.hdr.CapLen, want)
				}
			}
		})
	}
}

// TestUnconfiguredInterface checks that packets on interfaces without
// settings pass untouched and uncounted.
func TestUnconfiguredInterface(t *testing.T) {
	c := newTestCapture(t, 1<<16, 1, 0)
	if err := c.objs.WeirIfcfg.Delete(uint32(loIfindex)); err != nil {
		t.Fatal(err)
	}
	for _, p := range testProgs(c) {
		runProg(t, p, frame(nil, 0x0800, ipv4(17, 0, 0, udp(10))), 3)
	}
	if recs := drain(t, c); len(recs) != 0 {
		t.Errorf("got %d records; want none", len(recs))
	}
	if k := checkInvariant(t, c); k != (Counters{}) {
		t.Errorf("counters %+v; want zero", k)
	}
}
