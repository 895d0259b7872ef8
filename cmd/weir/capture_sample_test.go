package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/weirproject/weir/internal/netns"
)

// exchanges is how many UDP echoes, and as many ICMP echoes, the
// request/reply sampling tests make: each is a flow of its own (a new UDP
// source port, a new ICMP identifier), one request in and one reply out on
// the captured end.
const exchanges = 300

// echoBase is the first ICMP identifier the tests use; exchange i uses
// echoBase + i.
const echoBase = 0x5000

// echoRig is a veth pair whose B end runs a UDP echo server on port 7 (the
// kernel answers ICMP echo itself); A makes the exchanges.
type echoRig struct {
	r    *rig
	udp  *net.UDPConn
	addr netip.AddrPort
}

func newEchoRig(t *testing.T) *echoRig {
	t.Helper()
	p, err := netns.NewPair("smp")
	if errors.Is(err, netns.ErrNotSupported) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	e := &echoRig{r: &rig{p: p}, addr: netip.AddrPortFrom(p.B.Addr.Addr(), 7)}
	if err := netns.Do(p.B.NS, func() (err error) {
		e.udp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(e.addr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.udp.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := e.udp.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			e.udp.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	// Echo replies on B are answered as fast as they are asked.
	if err := netns.Sysctl(p.B.NS, map[string]string{"net/ipv4/icmp_ratelimit": "0"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// exchange makes the exchanges from A, one at a time (each reply before the
// next request), and returns the UDP source port of each UDP exchange.
func (e *echoRig) exchange(t *testing.T) []uint16 {
	t.Helper()
	var ports []uint16
	err := netns.Do(e.r.p.A.NS, func() error {
		buf := make([]byte, 2048)
		for i := range exchanges {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(e.addr))
			if err != nil {
				return err
			}
			ports = append(ports, uint16(c.LocalAddr().(*net.UDPAddr).Port))
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Write([]byte(fmt.Sprintf("request %d", i)))
			if err == nil {
				_, err = c.Read(buf)
			}
			c.Close()
			if err != nil {
				return fmt.Errorf("udp echo %d: %w", i, err)
			}
		}
		ic, err := net.ListenPacket("ip4:icmp", e.r.p.A.Addr.Addr().String())
		if err != nil {
			return fmt.Errorf("open icmp socket: %w", err)
		}
		defer ic.Close()
		dst := &net.IPAddr{IP: e.r.p.B.Addr.Addr().AsSlice()}
		for i := range exchanges {
			id := uint16(echoBase + i)
			if _, err := ic.WriteTo(echoRequest(id, uint16(i)), dst); err != nil {
				return fmt.Errorf("icmp echo %d: %w", i, err)
			}
			ic.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				n, _, err := ic.ReadFrom(buf)
				if err != nil {
					return fmt.Errorf("icmp echo %d: no reply: %w", i, err)
				}
				if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// echoRequest returns an ICMP echo request with identifier id and sequence
// seq and its checksum.
func echoRequest(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "weirecho")
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}

// keptExchanges runs weir capture with args on B while the exchanges run,
// and returns, for each kind (udp, icmp) and direction (in: requests,
// out: replies), the set of exchanges of which a packet was captured, and
// how many lines of IP and other packets had each sample mode ("ip flow",
// "other random", ...).
func keptExchanges(t *testing.T, args ...string) (kept map[string]map[int]bool, modes map[string]int) {
	t.Helper()
	e := newEchoRig(t)
	c := e.r.startCapture(t, append([]string{"-i", e.r.p.B.Name, "-j"}, args...)...)
	ports := e.exchange(t)
	time.Sleep(300 * time.Millisecond) // past the reader's 100ms deadline
	c.cancel()
	c.wait(t, 0)
	byPort := map[uint16]int{}
	for i, p := range ports {
		byPort[p] = i
	}
	kept = map[string]map[int]bool{"udp in": {}, "udp out": {}, "icmp in": {}, "icmp out": {}}
	modes = map[string]int{}
	lines := lines(c.stdout.String())
	for _, l := range lines {
		var rec struct {
			Direction  string    `json:"direction"`
			SampleMode string    `json:"sample_mode"`
			IP         *struct{} `json:"ip"`
			UDP        *struct {
				SrcPort uint16 `json:"sport"`
				DstPort uint16 `json:"dport"`
			} `json:"udp"`
			ICMP *struct {
				Type uint8  `json:"type"`
				ID   uint16 `json:"id"`
			} `json:"icmp"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if rec.IP != nil {
			modes["ip "+rec.SampleMode]++
		} else {
			modes["other "+rec.SampleMode]++
		}
		switch {
		case rec.UDP != nil && rec.Direction == "in" && rec.UDP.DstPort == 7:
			kept["udp in"][byPort[rec.UDP.SrcPort]] = true
		case rec.UDP != nil && rec.Direction == "out" && rec.UDP.SrcPort == 7:
			kept["udp out"][byPort[rec.UDP.DstPort]] = true
		case rec.ICMP != nil && rec.Direction == "in" && rec.ICMP.Type == 8:
			kept["icmp in"][int(rec.ICMP.ID)-echoBase] = true
		case rec.ICMP != nil && rec.Direction == "out" && rec.ICMP.Type == 0:
			kept["icmp out"][int(rec.ICMP.ID)-echoBase] = true
		}
	}
	cnt := parseCounters(t, c.stderr.String())
	if cnt.captured != uint64(len(lines)) || cnt.seen < 4*exchanges || cnt.ringFull != 0 || cnt.captured+cnt.sampledOut != cnt.seen {
		t.Errorf("counters %+v; want %d captured, at least %d seen, each captured or sampled out", cnt, len(lines), 4*exchanges)
	}
	for kind, set := range kept {
		t.Logf("%s: %d of %d exchanges captured", kind, len(set), exchanges)
	}
	return kept, modes
}

// checkBinomial fails t when k is outside six standard deviations of a
// Binomial(n, p) count: a bound the sampler breaks with a probability
// below 1e-8, so the test does not flake.
func checkBinomial(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	if float64(k) < mean-6*sd || float64(k) > mean+6*sd {
		t.Errorf("%s: %d of %d captured; want %.0f to %.0f (%d × %g ± 6σ)", what, k, n, mean-6*sd, mean+6*sd, n, p)
	}
}

// TestCaptureSamplingRequestReply captures UDP and ICMP echo exchanges on
// the answering end with --sample 2, and checks that requests (in) and
// replies (out) are each kept about half the time, and whole exchanges
// about a quarter of the time, as independent draws keep them. The
// sampler before random draws kept every other packet per CPU, so of
// echoes answered on the CPU that took the request it kept every request
// and no reply.
func TestCaptureSamplingRequestReply(t *testing.T) {
	kept, _ := keptExchanges(t, "--sample", "2")
	for _, kind := range []string{"udp", "icmp"} {
		checkBinomial(t, kind+" requests", len(kept[kind+" in"]), exchanges, 0.5)
		checkBinomial(t, kind+" replies", len(kept[kind+" out"]), exchanges, 0.5)
		both := 0
		for i := range kept[kind+" in"] {
			if kept[kind+" out"][i] {
				both++
			}
		}
		checkBinomial(t, kind+" whole exchanges", both, exchanges, 0.25)
	}
}

// TestCaptureSamplingFlows captures the same exchanges with --sample 2
// --sample-mode flow: each exchange is a flow, so its request and reply
// are kept together or not at all, about half the exchanges are kept, and
// every IP record says it was chosen by flow.
func TestCaptureSamplingFlows(t *testing.T) {
	kept, modes := keptExchanges(t, "--sample", "2", "--sample-mode", "flow")
	for _, kind := range []string{"udp", "icmp"} {
		in, out := kept[kind+" in"], kept[kind+" out"]
		for i := range exchanges {
			if in[i] != out[i] {
				t.Errorf("%s exchange %d: request kept %v, reply kept %v; want both or neither", kind, i, in[i], out[i])
			}
		}
		checkBinomial(t, kind+" flows", len(in), exchanges, 0.5)
	}
	// ARP, which has no flow, is drawn at random.
	for mode, n := range modes {
		if mode != "ip flow" && mode != "other random" {
			t.Errorf("%d lines with sample mode %q; want IP packets chosen by flow and the others (ARP) at random (all: %v)", n, mode, modes)
		}
	}
}
