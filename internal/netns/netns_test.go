package netns

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func newPair(t *testing.T) *Pair {
	t.Helper()
	p, err := NewPair("test")
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func TestPairCarriesUDP(t *testing.T) {
	p := newPair(t)
	if p.A.Index == 0 || p.B.Index == 0 || len(p.A.MAC) != 6 || len(p.B.MAC) != 6 {
		t.Fatalf("ends not looked up: %+v %+v", p.A, p.B)
	}
	var rx *net.UDPConn
	if err := Do(p.B.NS, func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: p.B.Addr.Addr().AsSlice(), Port: 9999})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := Do(p.A.NS, func() error {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: p.B.Addr.Addr().AsSlice(), Port: 9999})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello weir"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, from, err := rx.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("receive in %s: %v", p.B.NS, err)
	}
	if got := string(buf[:n]); got != "hello weir" || !from.IP.Equal(p.A.Addr.Addr().AsSlice()) {
		t.Fatalf("received %q from %v; want %q from %v", got, from.IP, "hello weir", p.A.Addr.Addr())
	}
}

func TestDoSwitchesNamespace(t *testing.T) {
	p := newPair(t)
	// Inside B, the B end exists under its name; outside it does not.
	if _, err := net.InterfaceByName(p.B.Name); err == nil {
		t.Fatalf("interface %s visible in the root namespace", p.B.Name)
	}
	err := Do(p.B.NS, func() error {
		ifi, err := net.InterfaceByName(p.B.Name)
		if err != nil {
			return err
		}
		if ifi.Index != p.B.Index {
			t.Errorf("index of %s inside %s = %d; want %d", p.B.Name, p.B.NS, ifi.Index, p.B.Index)
		}
		// A UDP socket bound to B's address only works inside B.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: p.B.Addr.Addr().AsSlice()})
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatalf("Do(%s): %v", p.B.NS, err)
	}
	if _, err := net.InterfaceByName(p.B.Name); err == nil {
		t.Fatalf("Do left the thread in %s", p.B.NS)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	p := newPair(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{p.A.NS, p.B.NS} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("namespace %s still exists after Close", ns)
		}
	}
	// The veth pair goes with the namespaces (asynchronously in the kernel).
	deadline := time.Now().Add(20 * time.Second)
	for {
		ifs, _ := net.Interfaces()
		found := false
		for _, i := range ifs {
			if strings.HasPrefix(i.Name, p.A.Name) || strings.HasPrefix(i.Name, p.B.Name) {
				found = true
			}
		}
		if !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("veth %s/%s still present after Close", p.A.Name, p.B.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDoMissingNamespace(t *testing.T) {
	if err := Do("weir-no-such-namespace", func() error { return nil }); err == nil {
		t.Fatal("Do on a missing namespace succeeded")
	}
}
