package packet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// vethPair is two network namespaces joined by a veth pair, created for one
// test and removed after it.
type vethPair struct {
	ns1, ns2     string
	dev1, dev2   string
	addr1, addr2 string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newVethPair creates namespaces weirE<pid>a/b with veth ends eA<pid> and
// eB<pid>, addressed 10.201.N.1 and 10.201.N.2.
func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating network namespaces needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("needs iproute2: %v", err)
	}
	id := os.Getpid() % 100000
	n := id % 250
	v := &vethPair{
		ns1: fmt.Sprintf("weirE%da", id), ns2: fmt.Sprintf("weirE%db", id),
		dev1: fmt.Sprintf("eA%d", id), dev2: fmt.Sprintf("eB%d", id),
		addr1: fmt.Sprintf("10.201.%d.1", n), addr2: fmt.Sprintf("10.201.%d.2", n),
	}
	ipCmd(t, "netns", "add", v.ns1)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", v.ns1).Run() })
	ipCmd(t, "netns", "add", v.ns2)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", v.ns2).Run() })
	ipCmd(t, "-n", v.ns1, "link", "add", v.dev1, "type", "veth", "peer", "name", v.dev2, "netns", v.ns2)
	ipCmd(t, "-n", v.ns1, "addr", "add", v.addr1+"/30", "dev", v.dev1)
	ipCmd(t, "-n", v.ns2, "addr", "add", v.addr2+"/30", "dev", v.dev2)
	ipCmd(t, "-n", v.ns1, "link", "set", v.dev1, "up")
	ipCmd(t, "-n", v.ns2, "link", "set", v.dev2, "up")
	return v
}

// enterNetns moves the calling goroutine's thread into namespace name for
// good: the thread stays locked, so Go discards it when the goroutine ends.
func enterNetns(t *testing.T, name string) {
	t.Helper()
	runtime.LockOSThread()
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns %s: %v", name, err)
	}
}

// sendUDP sends count datagrams carrying tag-i from the current namespace.
func sendUDP(t *testing.T, to, tag string, count int) {
	t.Helper()
	// Unconnected, so that the peer's ICMP errors do not fail later sends.
	conn, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dst := &net.UDPAddr{IP: net.ParseIP(to), Port: 9}
	for i := 0; i < count; i++ {
		if _, err := conn.WriteTo([]byte(fmt.Sprintf("%s-%d", tag, i)), dst); err != nil {
			t.Fatalf("send to %s: %v", dst, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// collect reads records for up to d, or until done says it has enough.
func collect(t *testing.T, c *Capture, d time.Duration, done func([]capturedRecord) bool) []capturedRecord {
	t.Helper()
	b, err := cabi.AllocBatch(64, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	var recs []capturedRecord
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !done(recs) {
		n, err := c.Reader().Read(b, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.EventSlice()[:n] {
			h, data, err := Decode(ev.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, capturedRecord{hdr: h, data: bytes.Clone(data), ev: ev})
		}
		if n > 0 {
			c.Reader().Release(b)
		}
	}
	return recs
}

func countUDP(recs []capturedRecord, dir uint8, tag string) int {
	n := 0
	for _, r := range recs {
		if r.hdr.Direction == dir && r.hdr.L4Proto == 17 && bytes.Contains(r.data, []byte(tag)) {
			n++
		}
	}
	return n
}

// TestOpenAttach attaches real captures to a veth in a namespace and checks
// that they see the traffic sent through it, with the right direction,
// hook, ifindex and lengths, and that Close detaches them.
func TestOpenAttach(t *testing.T) {
	v := newVethPair(t)
	t.Run("tc-both", func(t *testing.T) {
		enterNetns(t, v.ns1)
		c, err := Open(Config{Interfaces: []string{v.dev1}, Snaplen: 96, RingSize: 1 << 16})
		if errors.Is(err, ErrNotSupported) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ifindex := uint32(c.Interfaces()[0].Index)
		sendUDP(t, v.addr2, "weir-tc", 5)
		recs := collect(t, c, 3*time.Second, func(r []capturedRecord) bool {
			return countUDP(r, RecordEgress, "weir-tc") == 5 && len(r) > 5
		})
		if got := countUDP(recs, RecordEgress, "weir-tc"); got != 5 {
			t.Errorf("captured %d outgoing test datagrams; want 5", got)
		}
		in := 0
		for _, r := range recs {
			if r.hdr.Ifindex != ifindex || r.hdr.Hook != HookTCX {
				t.Errorf("record ifindex %d hook %d; want %d, %d", r.hdr.Ifindex, r.hdr.Hook, ifindex, HookTCX)
			}
			if r.hdr.CapLen != min(r.hdr.OrigLen, 96) {
				t.Errorf("record cap %d orig %d with snaplen 96", r.hdr.CapLen, r.hdr.OrigLen)
			}
			if r.hdr.Direction == RecordIngress {
				in++
			}
		}
		if in == 0 {
			t.Error("captured no incoming packet (ARP reply or ICMP port unreachable)")
		}
		k := checkInvariant(t, c)
		if k.Emitted < uint64(len(recs)) {
			t.Errorf("counters %+v but read %d records", k, len(recs))
		}
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			if n := tcxCount(t, int(ifindex), at); n != 1 {
				t.Errorf("%d %s programs attached while capturing; want 1", n, at)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			if n := tcxCount(t, int(ifindex), at); n != 0 {
				t.Errorf("%d %s programs still attached after Close", n, at)
			}
		}
	})
	t.Run("xdp-in", func(t *testing.T) {
		enterNetns(t, v.ns1)
		c, err := Open(Config{Interfaces: []string{v.dev1}, Mode: ModeXDP, Direction: DirectionIn, RingSize: 1 << 16})
		if errors.Is(err, ErrNotSupported) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sendUDP(t, v.addr2, "weir-xdp", 3)
		// The peer answers each datagram with ICMP port unreachable, which
		// quotes the datagram.
		recs := collect(t, c, 3*time.Second, func(r []capturedRecord) bool { return len(r) >= 3 })
		icmp := 0
		for _, r := range recs {
			if r.hdr.Direction != RecordIngress || r.hdr.Hook != HookXDP {
				t.Errorf("record direction %d hook %d; want ingress XDP", r.hdr.Direction, r.hdr.Hook)
			}
			if r.hdr.L4Proto == 1 && bytes.Contains(r.data, []byte("weir-xdp")) {
				icmp++
			}
		}
		if icmp == 0 {
			t.Errorf("captured %d records, none an ICMP error quoting the test datagrams", len(recs))
		}
		checkInvariant(t, c)
	})
}

// tcxCount returns how many programs are attached to ifindex at at.
func tcxCount(t *testing.T, ifindex int, at ebpf.AttachType) int {
	t.Helper()
	res, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: at})
	if err != nil {
		t.Fatalf("query %s programs: %v", at, err)
	}
	return len(res.Programs)
}

// TestOpenErrors checks the configuration errors.
func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no interfaces", Config{}, "no interfaces"},
		{"xdp egress", Config{Interfaces: []string{"lo"}, Mode: ModeXDP, Direction: DirectionOut}, "XDP sees only received packets"},
		{"xdp both", Config{Interfaces: []string{"lo"}, Mode: ModeXDP}, "XDP sees only received packets"},
		{"ring size", Config{Interfaces: []string{"lo"}, RingSize: 5000}, "ring size 5000"},
		{"no such interface", Config{Interfaces: []string{"weir-nonexistent0"}}, "weir-nonexistent0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(tc.cfg)
			if err == nil {
				c.Close()
				t.Fatalf("Open(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%+v) = %q; want it to mention %q", tc.cfg, err, tc.want)
			}
		})
	}
}
