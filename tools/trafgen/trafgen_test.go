package trafgen

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"github.com/weirproject/weir/internal/netns"
)

func testTemplate(proto Proto, size int) Template {
	return Template{
		SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		SrcIP: netip.MustParseAddr("10.1.0.1"), DstIP: netip.MustParseAddr("10.1.0.2"),
		SrcPort: 40000, DstPort: 9, Proto: proto, Size: size,
	}
}

func TestFrame(t *testing.T) {
	for _, tc := range []struct {
		proto Proto
		size  int
		ok    bool
	}{
		{UDP, 60, true}, {UDP, MinUDPSize, true}, {UDP, 1514, true}, {UDP, 61, true},
		{TCP, 60, true}, {TCP, MinTCPSize, true}, {TCP, 1001, true},
		{UDP, MinUDPSize - 1, false}, {TCP, MinUDPSize, false}, {UDP, MaxSize + 1, false}, {Proto(1), 60, false},
	} {
		tmpl := testTemplate(tc.proto, tc.size)
		f, err := tmpl.Frame()
		if (err == nil) != tc.ok {
			t.Errorf("Frame(%v, %d) error = %v; want ok=%v", tc.proto, tc.size, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if len(f) != tc.size {
			t.Errorf("Frame(%v, %d) is %d bytes", tc.proto, tc.size, len(f))
		}
		if s := fold(sum(f[14:34], 0)); s != 0xffff {
			t.Errorf("Frame(%v, %d): IPv4 checksum does not verify (sum %#x)", tc.proto, tc.size, s)
		}
		var ph [12]byte
		copy(ph[0:8], f[26:34])
		ph[9] = byte(tc.proto)
		binary.BigEndian.PutUint16(ph[10:], uint16(len(f)-34))
		if s := fold(sum(f[34:], sum(ph[:], 0))); s != 0xffff {
			t.Errorf("Frame(%v, %d): L4 checksum does not verify (sum %#x)", tc.proto, tc.size, s)
		}
	}
}

var blackhole = netip.MustParseAddr("10.255.255.1")

// pairGen sets up a veth pair, a generator sending from A to B, and the
// receiver program on B.
func pairGen(t *testing.T, cfg Config) (*netns.Pair, *Generator) {
	t.Helper()
	p, err := netns.NewPair("tg")
	if errors.Is(err, netns.ErrNotSupported) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg.SrcMAC, cfg.DstMAC = p.A.MAC, p.B.MAC
	cfg.SrcIP, cfg.DstIP = p.A.Addr.Addr(), p.B.Addr.Addr()
	if cfg.DstPort != 9999 {
		// An address B does not own: B's stack drops the frames without
		// answering (forwarding is off), so B sees only generated frames,
		// no ARP replies to its own answers.
		cfg.DstIP = blackhole
	}
	cfg.Ifindex = p.A.Index
	g, err := New(cfg)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	var l link.Link
	if err := netns.Do(p.B.NS, func() (err error) {
		l, err = g.AttachReceiver(p.B.Index)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return p, g
}

func run(t *testing.T, p *netns.Pair, g *Generator) Result {
	t.Helper()
	var res Result
	if err := netns.Do(p.A.NS, func() (err error) {
		res, err = g.Run(context.Background())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return res
}

// waitReceived polls the receive counter until it reaches want or 20
// seconds pass (a bound that only a lost frame reaches, not a busy
// machine).
func waitReceived(t *testing.T, g *Generator, want uint64) uint64 {
	t.Helper()
	var got uint64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if got, err = g.Received(); err != nil {
			t.Fatal(err)
		}
		if got >= want {
			break
		}
	}
	return got
}

// TestDeliversFlows sends a few UDP datagrams over several flows to a
// socket in B and checks every datagram arrives intact with the expected
// source ports.
func TestDeliversFlows(t *testing.T) {
	const count, flows = 40, 4
	cfg := Config{Template: testTemplate(UDP, 100), Count: count, Flows: flows, Rate: 2000, Timeout: 10 * time.Second}
	cfg.DstPort = 9999
	p, g := pairGen(t, cfg)
	var conn *net.UDPConn
	if err := netns.Do(p.B.NS, func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: p.B.Addr.Addr().AsSlice(), Port: 9999})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := run(t, p, g)
	if res.Sent != count {
		t.Fatalf("Run sent %d; want %d", res.Sent, count)
	}
	want := cfg.Payload()
	ports := map[int]int{}
	buf := make([]byte, 2048)
	for i := range count {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if string(buf[:n]) != string(want) {
			t.Fatalf("datagram %d: payload of %d bytes differs from the template's %d", i, n, len(want))
		}
		ports[from.Port]++
	}
	if len(ports) != flows {
		t.Fatalf("datagrams came from ports %v; want %d ports from 40000", ports, flows)
	}
	for port, n := range ports {
		if port < 40000 || port >= 40000+flows || n != count/flows {
			t.Errorf("port %d sent %d datagrams; want ports 40000-%d with %d each", port, n, 40000+flows-1, count/flows)
		}
	}
	if got := waitReceived(t, g, count); got != count {
		t.Errorf("receiver counted %d; want %d", got, count)
	}
}

// TestRate checks that pacing never exceeds the rate by more than 20%. A
// loaded machine can make the run slower (late timers), so the lower bound
// is loose.
func TestRate(t *testing.T) {
	const count, rate = 2000, 10000
	p, g := pairGen(t, Config{Template: testTemplate(TCP, 64), Count: count, Rate: rate, Timeout: 10 * time.Second})
	res := run(t, p, g)
	if res.Sent != count {
		t.Fatalf("Run sent %d; want %d", res.Sent, count)
	}
	// The property is that pacing is never beaten: Run sends chunks of
	// rate/500 frames and starts the one after done frames no earlier than
	// done/rate seconds in, so the last starts at (count-chunk)/rate or
	// later. There is no lower bound on the rate: a busy machine may send
	// more slowly than asked.
	const chunk = rate / 500
	least := time.Duration(float64(count-chunk) / rate * float64(time.Second))
	if res.Elapsed < least {
		t.Errorf("Run at rate %d sent %d frames in %v (%.0f pps); pacing allows no less than %v", rate, count, res.Elapsed, res.PPS(), least)
	}
	if got := waitReceived(t, g, count); got != count {
		t.Errorf("receiver counted %d; want %d", got, count)
	}
}

// TestTimeoutBoundsRun checks that a run stops at its timeout.
func TestTimeoutBoundsRun(t *testing.T) {
	p, g := pairGen(t, Config{Template: testTemplate(UDP, 60), Count: 1 << 40, Rate: 1000, Timeout: 200 * time.Millisecond})
	res := run(t, p, g)
	// The properties: the run ends (2^40 frames would take 35 years),
	// and the pacing is never beaten. The bound on Elapsed is only a
	// backstop far above any scheduling delay of a busy machine.
	if res.Elapsed > 20*time.Second || res.Sent == 0 || res.Sent > 400 {
		t.Errorf("Run with a 200ms timeout at 1000 pps: sent %d in %v", res.Sent, res.Elapsed)
	}
}

func BenchmarkGenerate(b *testing.B) {
	p, err := netns.NewPair("tgb")
	if err != nil {
		b.Skipf("skipping: %v", err)
	}
	defer p.Close()
	tmpl := testTemplate(UDP, 60)
	tmpl.SrcMAC, tmpl.DstMAC, tmpl.SrcIP, tmpl.DstIP = p.A.MAC, p.B.MAC, p.A.Addr.Addr(), p.B.Addr.Addr()
	g, err := New(Config{Template: tmpl, Ifindex: p.A.Index, Count: uint64(b.N), Timeout: 30 * time.Second})
	if err != nil {
		b.Skipf("skipping: %v", err)
	}
	defer g.Close()
	var l link.Link
	if err := netns.Do(p.B.NS, func() (err error) { l, err = g.AttachReceiver(p.B.Index); return err }); err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	var res Result
	if err := netns.Do(p.A.NS, func() (err error) { res, err = g.Run(context.Background()); return err }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.PPS(), "pps")
}
