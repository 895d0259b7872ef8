package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf/asm"
	flag "github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/ingest/filter"
	"github.com/weirproject/weir/ingest/packet"
)

const captureUsage = `weir capture captures packets on one or more interfaces with eBPF (XDP or
TCX programs that never alter traffic) and prints one line per packet, writes
JSON lines (-j), or writes a pcapng file (-w) that tshark and Wireshark read.

Usage:
  weir capture -i IFACE [-i IFACE ...] [flags] [filter expression]

Examples:
  # print packets on eth0, both directions, until Ctrl-C
  weir capture -i eth0

  # 100 packets arriving on veth1, caught at XDP, as JSON lines
  weir capture -i veth1 --mode xdp -c 100 -j

  # headers only (96 bytes) into a pcapng file, 1 packet in 10, then read it
  weir capture -i eth0 -s 96 --sample 10 -w /tmp/eth0.pcapng
  tshark -r /tmp/eth0.pcapng

  # 1 connection in 100, whole (both directions), the same ones on two hosts
  weir capture -i eth0 --sample 100 --sample-mode flow --flow-seed 42 -j

  # pcapng to stdout, straight into tshark
  weir capture -i eth0 -w - | tshark -r -

  # only DNS and TLS, filtered in the kernel (tcpdump's filter syntax)
  weir capture -i eth0 udp port 53 or tcp port 443

Notes:
  --mode tc (the default) attaches TCX programs and sees both directions;
  --mode xdp attaches an XDP program, which sees ingress only, earlier and
  cheaper. Timestamps are the kernel's, in nanoseconds.

  The snap length is capped at %d bytes, weir's largest record class
  (tcpdump's default is 262144); -s 0 means that maximum.

  Sampling (--sample N) keeps 1 packet in N. With --sample-mode random (the
  default) each packet is kept by a random draw of its own, so requests and
  replies, and every kind of traffic, are kept in proportion, and each kept
  packet stands for N. With --sample-mode flow weir hashes each packet's
  addresses, protocol and ports (the identifier for ICMP echo), the same
  way in both directions, and keeps about 1 flow in N whole: replies with
  their requests, every packet of a kept connection. Packets that are not
  IP (ARP, ...) are drawn at random there too; IP packets without ports
  (other protocols, later fragments) form one flow per address pair.
  --flow-seed picks the hash: captures with the same seed keep the same
  flows, on every interface and host; 0 picks a random seed per run. Every
  record says the rate it was sampled at and how (random or flow).

  Each CPU has its own ring; weir merges them so packets come out in time
  order, holding each packet until it is --order-window old (1ms).
  --no-order hands them out one CPU's after another's, which costs less.

  A filter expression (trailing words, as in tcpdump: weir capture -i eth0
  tcp port 443) is compiled to eBPF and runs in the kernel before sampling;
  the syntax is tcpdump's (man pcap-filter), without host or service name
  lookups. -d prints the compiled program and exits. See docs/filters.md.

  On SIGINT or SIGTERM weir detaches its programs and first writes out the
  packets still waiting in the rings (for up to --drain-timeout), so stopping loses
  none it saw. On exit it prints the kernel's counters to stderr: every
  packet the programs saw was either captured, filtered, sampled out,
  dropped because the ring was full, or left unread (after -c, or when
  writing them out took longer than that bound, or the output went away).
  A reader that goes away (weir capture | head) ends the capture the same
  way.

  Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON) to load and attach its
  programs. Once they are attached and the output is open, weir runs as
  --user (nobody by default) with no capability for the rest of the run:
  what is left is reading the rings and counters and writing to
  descriptors it already holds, which need no privilege. --user root keeps
  every privilege.

Exit status: 0 when the capture ran and stopped, 1 when it could not start
(privileges, interface, output file) or its output failed, 2 for bad flags.
(Never 3, a plugin fault: capture loads no plugin.)

Flags:
`

// captureOpts are the parsed flags of weir capture.
type captureOpts struct {
	cfg      packet.Config
	count    uint64
	write    string
	json     bool
	quiet    bool
	snapNote string
	// source is the packet source's config.
	source map[string]any
	// user, when set, is who the capture runs as once started.
	user string
	// drain bounds the drain after a stop.
	drain time.Duration
	// cpuProfile, when set, names a file for a Go CPU profile of the run.
	cpuProfile string
}

func parseCapture(args []string, stdout, stderr io.Writer) (captureOpts, int, bool) {
	fs := flag.NewFlagSet("weir capture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	var (
		o         captureOpts
		ifaces    = fs.StringArrayP("interface", "i", nil, "interface to capture on (repeat for several)")
		count     = fs.Uint64P("count", "c", 0, "exit after this many packets (0: until interrupted)")
		snaplen   = fs.IntP("snaplen", "s", packet.SnaplenMax, "bytes to keep of each packet (0: the maximum)")
		sample    = fs.Uint32("sample", 1, "keep 1 packet in N (1: all)")
		sampleBy  = fs.String("sample-mode", "random", "how --sample chooses: random (each packet on its own) or flow (whole flows, both directions)")
		flowSeed  = fs.Uint32("flow-seed", 0, "seed of the flow hash for --sample-mode flow; the same seed keeps the same flows (0: random per run)")
		direction = fs.String("direction", "", "in, out or both (default both for tc, in for xdp)")
		mode      = fs.String("mode", "tc", "kernel hook: tc (TCX, both directions) or xdp (ingress only)")
		write     = fs.StringP("write", "w", "", "write packets to this pcapng file (- for stdout) instead of printing them; with -j, as well as printing them")
		jsonOut   = fs.BoolP("json", "j", false, "print one JSON object per packet instead of text")
		quiet     = fs.BoolP("quiet", "q", false, "print nothing per packet; only the counters at exit")
		ringSize  = fs.String("ring-size", "4MiB", "SIZE of each CPU's ring buffer, a power of two such as 1MiB or 16MiB")
		cpuProf   = fs.String("cpuprofile", "", "write a Go CPU profile to this file (for developers)")
		wakeup    = fs.Uint64("wakeup-bytes", 0, "wake the reader when this much data waits in a ring (0: half the ring)")
		drain     = fs.Duration("drain-timeout", 2*time.Second, "once stopped, how long to go on writing out the packets left in the rings")
		userName  = fs.StringP("user", "Z", "nobody", "after attaching and opening the output, run as this user (as tcpdump -Z); root keeps every privilege")
		noOrder   = fs.Bool("no-order", false, "hand packets out in ring order, one CPU's after another's, instead of merged in time order")
		window    = fs.Duration("order-window", packet.DefaultOrderWindow, "how old a packet must be before it is merged into time order")
		dump      = fs.BoolP("dump", "d", false, "print the eBPF program the filter expression compiles to, as tcpdump -d does, and exit")
	)
	fs.MarkHidden("cpuprofile")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), captureUsage, packet.SnaplenMax)
		fmt.Fprint(fs.Output(), fs.FlagUsages())
	}
	if code, ok := parseFlags(fs, "capture", args, stdout, stderr); !ok {
		return o, code, false
	}
	usageErr := func(format string, a ...any) (captureOpts, int, bool) {
		fmt.Fprintf(stderr, "weir capture: "+format+"\n"+helpHint("capture"), a...)
		return o, 2, false
	}
	expr := strings.Join(fs.Args(), " ")
	fexpr, err := filter.Parse(expr)
	var prog asm.Instructions
	if err == nil && !fexpr.MatchesAll() {
		prog, err = fexpr.Compile()
	}
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			return usageErr("filter expression: %s\n  %s\n  %s^", fe.Msg, expr, strings.Repeat(" ", fe.Col-1))
		}
		return usageErr("filter expression: %v", err)
	}
	if *dump {
		if prog == nil {
			fmt.Fprintln(stdout, "no filter: every packet is kept (the placeholder weir_filter returns 1)")
		} else {
			fmt.Fprintf(stdout, "%v", prog)
		}
		return o, 0, false
	}
	o.cfg.Filter = prog
	if len(*ifaces) == 0 {
		return usageErr("no interface given: use -i IFACE")
	}
	if o.cfg.Mode, err = packet.ParseMode(*mode); err != nil {
		return usageErr("--mode: %v", err)
	}
	switch {
	case *direction != "":
		if o.cfg.Direction, err = packet.ParseDirection(*direction); err != nil {
			return usageErr("--direction: %v", err)
		}
		if o.cfg.Mode == packet.ModeXDP && o.cfg.Direction != packet.DirectionIn {
			return usageErr("--mode xdp captures ingress only; use --direction in, or --mode tc for %s", o.cfg.Direction)
		}
	default:
		o.cfg.Direction = o.cfg.Mode.DefaultDirection()
	}
	switch {
	case *snaplen < 0:
		return usageErr("-s %d: snap length must be 0 (maximum) or positive", *snaplen)
	case *snaplen == 0:
		o.cfg.Snaplen = packet.SnaplenMax
	case *snaplen > packet.SnaplenMax:
		o.cfg.Snaplen = packet.SnaplenMax
		o.snapNote = fmt.Sprintf("weir capture: snap length %d capped to %d, the largest weir captures\n", *snaplen, packet.SnaplenMax)
	default:
		o.cfg.Snaplen = uint32(*snaplen)
	}
	if *sample == 0 {
		return usageErr("--sample 0: the rate must be at least 1")
	}
	if o.cfg.SampleMode, err = packet.ParseSampleMode(*sampleBy); err != nil {
		return usageErr("--sample-mode %s: want random or flow", *sampleBy)
	}
	if fs.Changed("flow-seed") && o.cfg.SampleMode != packet.SampleFlow {
		return usageErr("--flow-seed seeds the hash of --sample-mode flow; add --sample-mode flow, or drop --flow-seed")
	}
	o.cfg.FlowSeed = *flowSeed
	if *jsonOut && *quiet {
		return usageErr("-j and -q contradict each other")
	}
	if *write == "-" && *jsonOut {
		return usageErr("-w - writes pcapng to stdout, which leaves no room for -j")
	}
	switch _, err := user.Lookup(*userName); {
	case *userName == "root":
	case err != nil && fs.Changed("user"):
		return usageErr("--user: %v", err)
	case err != nil:
		*userName = "" // no nobody here: shed capabilities as root
	}
	if *drain <= 0 {
		return usageErr("--drain-timeout %v: want a positive duration", *drain)
	}
	if *window < time.Microsecond || *window > time.Second {
		return usageErr("--order-window %v: want 1us to 1s", *window)
	}
	for i, name := range *ifaces {
		if slices.Contains((*ifaces)[:i], name) {
			return usageErr("-i %s is given twice", name)
		}
	}
	o.cfg.Interfaces = *ifaces
	o.cfg.SampleRate = *sample
	ring, err := spec.ParseSize(*ringSize)
	if err != nil || ring < 4096 || ring > 1<<30 || ring&(ring-1) != 0 {
		return usageErr("--ring-size %s: want a power of two from 4KiB to 1GiB, such as 4MiB", *ringSize)
	}
	o.cfg.RingSize = int(ring)
	o.count, o.write, o.json, o.quiet, o.cpuProfile, o.drain, o.user = *count, *write, *jsonOut, *quiet, *cpuProf, *drain, *userName
	o.source = map[string]any{
		"interfaces": o.cfg.Interfaces, "mode": o.cfg.Mode.String(), "direction": o.cfg.Direction.String(),
		"snaplen": o.cfg.Snaplen, "sample": o.cfg.SampleRate, "sample_mode": o.cfg.SampleMode.String(),
		"flow_seed": o.cfg.FlowSeed, "ring_size": o.cfg.RingSize,
		"count": o.count, "order": !*noOrder, "order_window": window.String(), "wakeup_bytes": *wakeup,
		"filter": expr,
	}
	// Check what can be checked before attaching anything, without
	// side effects: a typo in an interface name must not cost the
	// output file, nor a bad output path an attach.
	for _, name := range o.cfg.Interfaces {
		if _, err := net.InterfaceByName(name); err != nil {
			fmt.Fprintf(stderr, "weir capture: -i %s: no such network interface\n", name)
			return o, 1, false
		}
	}
	if *write != "" && *write != "-" {
		if err := checkWritable(*write); err != nil {
			fmt.Fprintf(stderr, "weir capture: -w: %v\n", err)
			return o, 1, false
		}
	}
	return o, 0, true
}

// checkWritable reports why path could not be created or written, without
// opening it: opening would truncate a file, or wait for a FIFO's reader.
func checkWritable(path string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case err == nil:
		if err := unix.Access(path, unix.W_OK); err != nil {
			return &os.PathError{Op: "write", Path: path, Err: err}
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	dir := filepath.Dir(path)
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return &os.PathError{Op: "create file in", Path: dir, Err: err}
	}
	return nil
}
