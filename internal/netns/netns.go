package netns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrNotSupported is wrapped by the errors of Available, NewPair and Do when
// the process lacks the privileges or tools the package needs. Tests skip on
// it.
var ErrNotSupported = errors.New("network namespaces not supported")

// End is one end of a veth pair.
type End struct {
	// NS is the name of the network namespace holding this end, as shown
	// by `ip netns list`.
	NS string
	// Name is the interface name inside NS.
	Name string
	// Index is the interface index inside NS.
	Index int
	// MAC is the interface's Ethernet address.
	MAC net.HardwareAddr
	// Addr is the interface's IPv4 address and /30 prefix.
	Addr netip.Prefix
}

// Pair is a veth pair whose ends live in two fresh namespaces, A and B.
type Pair struct {
	// A and B are the two ends; A's namespace holds only A, and B's only
	// B.
	A, B End

	closeOnce sync.Once
	closeErr  error
}

var counter atomic.Uint32

// Available reports, with an error wrapping ErrNotSupported, why the package
// cannot work in this process: not root, or no ip(8) on PATH.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("check netns support: need root (euid %d): %w", os.Geteuid(), ErrNotSupported)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("check netns support: ip(8) from iproute2 not found: %w", ErrNotSupported)
	}
	return nil
}

// NewPair creates two namespaces and a veth pair between them, addressed
// 10.x.y.1/30 (end A) and 10.x.y.2/30 (end B), both up. tag (a few letters,
// may be empty) goes into the generated names to make leftovers easy to
// attribute. On error everything created so far is removed.
func NewPair(tag string) (*Pair, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	n := counter.Add(1)
	pid := os.Getpid()
	tag = sanitize(tag)
	base := fmt.Sprintf("weir-%s%d-%d", tag, pid, n)
	// Interface names are limited to 15 bytes; keep them short and unique
	// within the namespace (each end lives in its own namespace, so these
	// only need to differ from each other while both are in the root
	// namespace during setup).
	short := fmt.Sprintf("%x%x", pid&0xfffff, n&0xfff)
	p := &Pair{
		A: End{NS: base + "-a", Name: "wa" + short},
		B: End{NS: base + "-b", Name: "wb" + short},
	}
	x := 64 + (pid>>8)%128
	y := (pid + int(n)*7) % 256
	z := int(n%64) * 4
	p.A.Addr = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(x), byte(y), byte(z + 1)}), 30)
	p.B.Addr = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(x), byte(y), byte(z + 2)}), 30)
	if err := p.setup(); err != nil {
		p.Close()
		return nil, fmt.Errorf("create veth pair %s/%s: %w", p.A.Name, p.B.Name, err)
	}
	return p, nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() == 8 {
			break
		}
	}
	if b.Len() > 0 {
		b.WriteByte('-')
	}
	return b.String()
}

func (p *Pair) setup() error {
	steps := [][]string{
		{"netns", "add", p.A.NS},
		{"netns", "add", p.B.NS},
		{"link", "add", p.A.Name, "type", "veth", "peer", "name", p.B.Name},
		{"link", "set", p.A.Name, "netns", p.A.NS},
		{"link", "set", p.B.Name, "netns", p.B.NS},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	for _, e := range []*End{&p.A, &p.B} {
		if err := Sysctl(e.NS, map[string]string{
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		}); err != nil {
			return err
		}
		for _, s := range [][]string{
			{"-n", e.NS, "addr", "add", e.Addr.String(), "dev", e.Name},
			{"-n", e.NS, "link", "set", "lo", "up"},
			{"-n", e.NS, "link", "set", e.Name, "up"},
		} {
			if err := ip(s...); err != nil {
				return err
			}
		}
		if err := e.lookup(); err != nil {
			return err
		}
	}
	return nil
}

func (e *End) lookup() error {
	out, err := exec.Command("ip", "-j", "-n", e.NS, "link", "show", "dev", e.Name).Output()
	if err != nil {
		return fmt.Errorf("look up %s in %s: %w", e.Name, e.NS, err)
	}
	var links []struct {
		Index   int    `json:"ifindex"`
		Address string `json:"address"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return fmt.Errorf("look up %s in %s: unexpected ip -j output %q", e.Name, e.NS, out)
	}
	mac, err := net.ParseMAC(links[0].Address)
	if err != nil {
		return fmt.Errorf("look up %s in %s: parse MAC: %w", e.Name, e.NS, err)
	}
	e.Index, e.MAC = links[0].Index, mac
	return nil
}

func ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Close deletes both namespaces and with them the veth pair. It returns the
// first error but always attempts every deletion; later calls return the
// same result.
func (p *Pair) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		for _, ns := range []string{p.A.NS, p.B.NS} {
			if ns == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
				continue
			}
			if err := ip("netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// Do runs fn on the calling goroutine with its OS thread switched into the
// named namespace, then switches back. Goroutines fn starts run on other
// threads and stay in the original namespace. Sockets, links and
// attachments fn creates keep belonging to ns after Do returns. If the
// thread cannot be switched back, it is left locked so the Go runtime
// retires it rather than reusing a thread in the wrong namespace.
func Do(ns string, fn func() error) error {
	target, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("enter netns %s: no such namespace: %w", ns, err)
		}
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	defer unix.Close(target)

	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: open current namespace: %w", ns, err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("enter netns %s: %w: %w", ns, err, ErrNotSupported)
		}
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	fnErr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it exits with the goroutine.
		return errors.Join(fnErr, fmt.Errorf("leave netns %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Sysctl sets network sysctls inside the named namespace, by writing
// /proc/sys directly (no dependency on procps). Keys are paths under
// /proc/sys, such as "net/ipv4/icmp_ratelimit".
func Sysctl(ns string, settings map[string]string) error {
	return Do(ns, func() error {
		for k, v := range settings {
			if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0); err != nil {
				return fmt.Errorf("set sysctl %s=%s in %s: %w", k, v, ns, err)
			}
		}
		return nil
	})
}

// Exec returns a command that runs name with args inside the namespace, via
// `ip netns exec`.
func Exec(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
