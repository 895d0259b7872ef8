// Command trafgen sends generated UDP or TCP frames out of an interface at
// up to millions of packets per second, using XDP live frames (see package
// tools/trafgen). It is weir's load generator for tests, benchmarks and the
// `make run` demo.
//
// Typical use, on a veth pair whose ends live in namespaces A and B:
//
//	trafgen --netns A -i vethA --rx-netns B --rx-iface vethB -c 1000000
//
// sends a million 60-byte UDP frames from vethA to vethB, with the counting
// receiver program attached to vethB, and prints what was sent and received.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cilium/ebpf/link"
	flag "github.com/spf13/pflag"

	"github.com/weirproject/weir/internal/netns"
	"github.com/weirproject/weir/tools/trafgen"
)

const usage = `trafgen sends generated UDP or TCP frames out of an interface with XDP live
frames (BPF_PROG_RUN). The frames arrive at the interface's veth peer, which
needs an XDP program attached: pass --rx-iface to attach trafgen's counting
receiver, or leave it out when something else (weir capture --mode xdp)
attaches one.

Usage:
  trafgen -i IFACE [flags]

Examples:
  # a million 60-byte UDP frames from vethA (namespace A) to vethB (namespace B)
  trafgen --netns A -i vethA --rx-netns B --rx-iface vethB -c 1000000

  # 10000 TCP segments of 128 bytes over 16 flows at 5000 frames/s
  trafgen -i vethA --dst-mac 02:00:00:00:00:02 --dst-ip 10.9.0.2 -p tcp -s 128 -f 16 -r 5000 -c 10000

Flags:
`

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("trafgen", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage+fs.FlagUsages()) }
	var (
		iface   = fs.StringP("interface", "i", "", "interface to send out of (required)")
		ns      = fs.String("netns", "", "named network namespace (ip netns) holding --interface")
		rxIface = fs.String("rx-iface", "", "receiving interface to attach the counting XDP receiver to")
		rxNS    = fs.String("rx-netns", "", "named network namespace holding --rx-iface")
		dstMAC  = fs.String("dst-mac", "", "destination MAC (default: --rx-iface's)")
		srcIP   = fs.String("src-ip", "", "source IPv4 address (default: --interface's)")
		dstIP   = fs.String("dst-ip", "", "destination IPv4 address (default: --rx-iface's)")
		sport   = fs.Uint16("sport", 40000, "first source port; flows use sport..sport+flows-1")
		dport   = fs.Uint16("dport", 9, "destination port")
		proto   = fs.StringP("proto", "p", "udp", "protocol: udp or tcp")
		size    = fs.IntP("size", "s", 60, "frame size in bytes, Ethernet header included, FCS excluded")
		count   = fs.Uint64P("count", "c", 1000, "frames to send")
		rate    = fs.Uint64P("rate", "r", 0, "frames per second (0: as fast as possible)")
		flows   = fs.Uint32P("flows", "f", 1, "number of flows (source ports)")
		timeout = fs.Duration("timeout", 60*time.Second, "stop after this long even if not all frames are sent")
		settle  = fs.Duration("settle", 200*time.Millisecond, "wait this long after sending before reading the receive count")
		quiet   = fs.BoolP("quiet", "q", false, "print only the result line")
	)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "trafgen: %v\n", err)
		return 2
	}
	if *iface == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "trafgen: -i IFACE is required and no arguments are accepted; see --help")
		return 2
	}
	p, err := trafgen.ParseProto(*proto)
	if err != nil {
		fmt.Fprintf(os.Stderr, "trafgen: %v\n", err)
		return 2
	}
	cfg := trafgen.Config{Count: *count, Rate: *rate, Flows: *flows, Timeout: *timeout}
	cfg.Proto, cfg.Size, cfg.SrcPort, cfg.DstPort = p, *size, *sport, *dport

	tx, err := lookup(*ns, *iface)
	if err != nil {
		return fail(err)
	}
	cfg.Ifindex, cfg.SrcMAC, cfg.SrcIP = tx.index, tx.mac, tx.ip
	var rx ifaceInfo
	if *rxIface != "" {
		if rx, err = lookup(*rxNS, *rxIface); err != nil {
			return fail(err)
		}
		cfg.DstMAC, cfg.DstIP = rx.mac, rx.ip
	}
	if *dstMAC != "" {
		if cfg.DstMAC, err = net.ParseMAC(*dstMAC); err != nil {
			return fail(fmt.Errorf("parse --dst-mac: %w", err))
		}
	}
	if *srcIP != "" {
		if cfg.SrcIP, err = netip.ParseAddr(*srcIP); err != nil {
			return fail(fmt.Errorf("parse --src-ip: %w", err))
		}
	}
	if *dstIP != "" {
		if cfg.DstIP, err = netip.ParseAddr(*dstIP); err != nil {
			return fail(fmt.Errorf("parse --dst-ip: %w", err))
		}
	}
	if cfg.DstMAC == nil || !cfg.DstIP.IsValid() || !cfg.SrcIP.IsValid() {
		return fail(errors.New("need a destination MAC and source and destination IPv4 addresses: give --rx-iface, or --dst-mac and --dst-ip (and --src-ip if the interface has no IPv4 address)"))
	}

	g, err := trafgen.New(cfg)
	if err != nil {
		return fail(err)
	}
	defer g.Close()
	if *rxIface != "" {
		var l link.Link
		if err := inNS(*rxNS, func() (err error) {
			l, err = g.AttachReceiver(rx.index)
			return err
		}); err != nil {
			return fail(err)
		}
		defer l.Close()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*quiet {
		fmt.Fprintf(os.Stderr, "trafgen: sending %d %v frames of %d bytes from %s (%s) to %s over %d flows\n",
			cfg.Count, cfg.Proto, cfg.Size, *iface, cfg.SrcIP, cfg.DstIP, max(cfg.Flows, 1))
	}
	var res trafgen.Result
	if err := inNS(*ns, func() (err error) {
		res, err = g.Run(ctx)
		return err
	}); err != nil {
		return fail(err)
	}
	line := fmt.Sprintf("sent %d frames in %.3fs: %.0f pps", res.Sent, res.Elapsed.Seconds(), res.PPS())
	if *rxIface != "" {
		time.Sleep(*settle)
		n, err := g.Received()
		if err != nil {
			return fail(err)
		}
		line += fmt.Sprintf(", received %d on %s", n, *rxIface)
	}
	fmt.Println(line)
	return 0
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "trafgen: %v\n", err)
	return 1
}

// inNS runs fn in the named namespace, or in the current one when ns is
// empty.
func inNS(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	return netns.Do(ns, fn)
}

type ifaceInfo struct {
	index int
	mac   net.HardwareAddr
	ip    netip.Addr
}

// lookup finds an interface's index, MAC and first IPv4 address in ns.
func lookup(ns, name string) (ifaceInfo, error) {
	var info ifaceInfo
	err := inNS(ns, func() error {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Errorf("look up interface %s: %w", name, err)
		}
		info.index, info.mac = ifc.Index, ifc.HardwareAddr
		addrs, err := ifc.Addrs()
		if err != nil {
			return fmt.Errorf("list addresses of %s: %w", name, err)
		}
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() {
				info.ip = pfx.Addr()
				break
			}
		}
		return nil
	})
	return info, err
}
