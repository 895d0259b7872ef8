package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	flag "github.com/spf13/pflag"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/pcapng"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/ingest/packet"
	"github.com/weirproject/weir/ingest/pktfmt"
	"github.com/weirproject/weir/ingest/ring"
)

func init() {
	register(command{name: "capture", summary: "capture packets with eBPF and print them, or write pcapng (like tcpdump)", run: func(args []string) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// The first signal stops the capture, which then writes out what
		// the rings hold; a second one ends the process at once.
		context.AfterFunc(ctx, stop)
		return runCapture(ctx, args, os.Stdout, os.Stderr)
	}})
}

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

  # pcapng to stdout, straight into tshark
  weir capture -i eth0 -w - | tshark -r -

Notes:
  --mode tc (the default) attaches TCX programs and sees both directions;
  --mode xdp attaches an XDP program, which sees ingress only, earlier and
  cheaper. Timestamps are the kernel's, in nanoseconds.

  The snap length is capped at %d bytes, weir's largest record class
  (tcpdump's default is 262144); -s 0 means that maximum.

  Sampling (--sample N) keeps the first packet and then every N-th, per
  interface and CPU; every record says the rate it was sampled at.

  Filter expressions (trailing words, as in tcpdump) are not supported yet:
  weir refuses them rather than capture everything.

  On SIGINT or SIGTERM weir detaches its programs and first writes out the
  packets still waiting in the rings (for up to %s), so stopping loses
  none it saw. On exit it prints the kernel's counters to stderr: every
  packet the programs saw was either captured, filtered, sampled out,
  dropped because the ring was full, or left unread (after -c, or when
  writing them out took longer than that bound).

  Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON).

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
	// cpuProfile, when set, names a file for a Go CPU profile of the run.
	cpuProfile string
}

func parseCapture(args []string, stderr io.Writer) (captureOpts, int, bool) {
	fs := flag.NewFlagSet("weir capture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	var (
		o         captureOpts
		ifaces    = fs.StringArrayP("interface", "i", nil, "interface to capture on (repeat for several)")
		count     = fs.Uint64P("count", "c", 0, "exit after this many packets (0: until interrupted)")
		snaplen   = fs.IntP("snaplen", "s", packet.SnaplenMax, "bytes to keep of each packet (0: the maximum)")
		sample    = fs.Uint32("sample", 1, "keep 1 packet in N")
		direction = fs.String("direction", "", "in, out or both (default both for tc, in for xdp)")
		mode      = fs.String("mode", "tc", "kernel hook: tc (TCX, both directions) or xdp (ingress only)")
		write     = fs.StringP("write", "w", "", "write packets to this pcapng file (- for stdout) instead of printing them")
		jsonOut   = fs.BoolP("json", "j", false, "print one JSON object per packet instead of text")
		quiet     = fs.BoolP("quiet", "q", false, "print nothing per packet; only the counters at exit")
		ringSize  = fs.String("ring-size", "4MiB", "SIZE of each CPU's ring buffer, a power of two such as 1MiB or 16MiB")
		cpuProf   = fs.String("cpuprofile", "", "write a Go CPU profile to this file (for developers)")
		wakeup    = fs.Uint64("wakeup-bytes", 0, "wake the reader when this much data waits in a ring (0: half the ring)")
	)
	fs.MarkHidden("cpuprofile")
	fs.Usage = func() {
		fmt.Fprintf(stderr, captureUsage, packet.SnaplenMax, drainTimeout)
		fmt.Fprint(stderr, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0, false
		}
		fmt.Fprintf(stderr, "weir capture: %v\nRun 'weir capture --help' for usage.\n", err)
		return o, 2, false
	}
	usageErr := func(format string, a ...any) (captureOpts, int, bool) {
		fmt.Fprintf(stderr, "weir capture: "+format+"\nRun 'weir capture --help' for usage.\n", a...)
		return o, 2, false
	}
	if fs.NArg() > 0 {
		return usageErr("filter expressions are not supported yet (got %q); remove them to capture all packets", strings.Join(fs.Args(), " "))
	}
	if len(*ifaces) == 0 {
		return usageErr("no interface given: use -i IFACE")
	}
	var err error
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
	if *jsonOut && *quiet {
		return usageErr("-j and -q contradict each other")
	}
	if *write == "-" && *jsonOut {
		return usageErr("-w - writes pcapng to stdout, which leaves no room for -j")
	}
	o.cfg.Interfaces = *ifaces
	o.cfg.SampleRate = *sample
	ring, err := spec.ParseSize(*ringSize)
	if err != nil || ring < 4096 || ring > 1<<30 || ring&(ring-1) != 0 {
		return usageErr("--ring-size %s: want a power of two from 4KiB to 1GiB, such as 4MiB", *ringSize)
	}
	o.cfg.RingSize = int(ring)
	o.cfg.WakeupBytes = *wakeup // 0: packet.Open wakes the reader at half a ring
	o.count, o.write, o.json, o.quiet, o.cpuProfile = *count, *write, *jsonOut, *quiet, *cpuProf
	return o, 0, true
}

// captureStats is what a capture run counted in user space.
type captureStats struct {
	captured uint64 // records written out
	rejected uint64 // records the decoder refused
}

// runCapture runs weir capture with args until -c packets were captured or
// ctx is done, and returns the exit code.
func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseCapture(args, stderr)
	if !ok {
		return code
	}
	fmt.Fprint(stderr, o.snapNote)
	// All of a capture's work is one goroutine reading the rings and
	// writing out. With one P the scheduler has no idle P to wake a
	// second thread for whenever the reader wakes; that saved 5-10% of
	// the CPU per packet and a quarter of the context switches in the
	// tcpdump comparison (docs/BENCHMARKS.md). GOMAXPROCS in the
	// environment still wins.
	if os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(1)
		// Back to the runtime's own choice, which follows CPU limits,
		// for callers such as tests that run on in this process.
		defer goruntime.SetDefaultGOMAXPROCS()
	}
	c, err := packet.Open(o.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		if errors.Is(err, packet.ErrNotSupported) || os.Geteuid() != 0 {
			fmt.Fprintln(stderr, "weir capture: capturing needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON) and a kernel with BPF ring buffers, XDP and TCX")
		}
		return 1
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "weir capture: cpu profile: %v\n", err)
		} else {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	st, runErr := captureLoop(ctx, c, o, stdout, stderr)
	code = 0
	if runErr != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", runErr)
		code = 1
	}
	if err := reportCounters(c, st, o, stderr); err != nil {
		fmt.Fprintf(stderr, "weir capture: %v\n", err)
		code = 1
	}
	if err := c.Close(); err != nil {
		fmt.Fprintf(stderr, "weir capture: close: %v\n", err)
		code = 1
	}
	return code
}

// sink writes captured records out in the chosen format.
type sink struct {
	text   *bufio.Writer
	json   bool
	pcap   *pcapng.Writer
	ifaces []sinkIface
	line   []byte
	rec    pktfmt.Record
}

// sinkIface maps an interface index to its name and pcapng interface ID. A
// capture has a handful of interfaces, so a slice beats a map.
type sinkIface struct {
	index uint32
	id    int
	name  string
}

// errMalformed reports a record that is not a well-formed packet record:
// too short for its header, of another type or version, or with lengths
// that do not add up.
var errMalformed = errors.New("malformed packet record")

func newSink(c *packet.Capture, o captureOpts, stdout io.Writer) (*sink, error) {
	s := &sink{json: o.json}
	for _, ifc := range c.Interfaces() {
		s.ifaces = append(s.ifaces, sinkIface{index: uint32(ifc.Index), name: ifc.Name})
	}
	if o.write != "" {
		var err error
		if o.write == "-" {
			s.pcap, err = pcapng.NewWriter(stdout, "weir "+version)
		} else {
			s.pcap, err = pcapng.Create(o.write, "weir "+version)
		}
		if err != nil {
			return nil, err
		}
		for i := range s.ifaces {
			id, err := s.pcap.AddInterface(pcapng.Interface{Name: s.ifaces[i].name, LinkType: pcapng.LinkTypeEthernet, SnapLen: o.cfg.Snaplen})
			if err != nil {
				s.pcap.Close()
				return nil, err
			}
			s.ifaces[i].id = id
		}
	}
	if !o.quiet && (o.write == "" || o.json) {
		s.text = bufio.NewWriterSize(stdout, 64<<10)
	}
	return s, nil
}

func (s *sink) iface(index uint32) *sinkIface {
	for i := range s.ifaces {
		if s.ifaces[i].index == index {
			return &s.ifaces[i]
		}
	}
	return nil
}

func (s *sink) write(ev *cabi.Event) error {
	if ev.Kind != cabi.KindPacket || ev.Len < uint32(packet.HeaderSize) {
		return errMalformed
	}
	// The header is read in place in ring memory, which is 8-byte
	// aligned; packet.Describe has checked its type, version and that
	// CapLen bytes follow it (ev.Len = HeaderSize + CapLen).
	h := (*packet.Header)(ev.Data)
	data := unsafe.Slice((*byte)(unsafe.Add(ev.Data, packet.HeaderSize)), ev.Len-uint32(packet.HeaderSize))
	return s.packet(h, data, ev.TsNs)
}

// record writes out one ring record read in place by Consume, whose
// timestamp is still CLOCK_MONOTONIC; r converts it.
func (s *sink) record(rec []byte, r *ring.Reader) error {
	h, data, ok := packet.View(rec)
	if !ok {
		return errMalformed
	}
	return s.packet(h, data, r.UnixNano(h.TsNs))
}

// packet writes out one captured packet: h and data in ring memory, tsNs in
// Unix nanoseconds.
func (s *sink) packet(h *packet.Header, data []byte, tsNs uint64) error {
	ifc := s.iface(h.Ifindex)
	if ifc == nil {
		return fmt.Errorf("record from interface %d, which is not being captured", h.Ifindex)
	}
	if s.pcap != nil {
		if err := s.pcap.WritePacket(ifc.id, tsNs, data, int(h.OrigLen)); err != nil {
			return err
		}
	}
	if s.text != nil {
		s.rec = pktfmt.Record{TsNs: tsNs, Iface: ifc.name, Header: *h, Data: data}
		if s.json {
			s.line = pktfmt.AppendJSON(s.line[:0], &s.rec)
		} else {
			s.line = pktfmt.AppendText(s.line[:0], &s.rec)
		}
		s.line = append(s.line, '\n')
		if _, err := s.text.Write(s.line); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

func (s *sink) flush() error {
	if s.text != nil {
		if err := s.text.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

func (s *sink) close() error {
	err := s.flush()
	if s.pcap != nil {
		err = errors.Join(err, s.pcap.Close())
	}
	return err
}

// readTimeout bounds how long a record can wait in a ring before weir
// prints it, since the programs only wake the reader when much data waits.
const readTimeout = 100 * time.Millisecond

func captureLoop(ctx context.Context, c *packet.Capture, o captureOpts, stdout, stderr io.Writer) (captureStats, error) {
	var st captureStats
	s, err := newSink(c, o, stdout)
	if err != nil {
		return st, err
	}
	names := make([]string, 0, len(o.cfg.Interfaces))
	for _, ifc := range c.Interfaces() {
		names = append(names, ifc.Name)
	}
	if !o.quiet {
		fmt.Fprintf(stderr, "weir capture: listening on %s (%s, %s), snaplen %d, sampling 1 in %d\n",
			strings.Join(names, ", "), o.cfg.Mode, o.cfg.Direction, o.cfg.Snaplen, o.cfg.SampleRate)
	}
	l := &loop{r: c.Reader(), s: s, count: o.count, st: &st}
	run := l.batch
	if s.text == nil {
		run = l.consume
	}
	err = run(readTimeout, func() bool { return true }, func() bool { return ctx.Err() != nil })
	if err == nil && !l.full() {
		// Stopped by a signal: write out what the rings still hold.
		err = drain(c, run)
	}
	return st, errors.Join(err, s.close())
}

// drainTimeout bounds how long weir capture, once stopped, goes on
// writing out the records left in the rings. A variable only so that tests
// can shorten it.
var drainTimeout = 2 * time.Second

// drain detaches the programs and runs run until every record they
// emitted has been written out, so stopping a capture loses none of the
// packets it saw. What is left after drainTimeout is reported as unread.
func drain(c *packet.Capture, run loopFunc) error {
	if err := c.Detach(); err != nil {
		return err
	}
	deadline := time.Now().Add(drainTimeout)
	var derr error
	more := func() bool {
		done, err := c.Drained()
		if err != nil {
			derr = err
			return false
		}
		return !done
	}
	late := func() bool { return time.Now().After(deadline) }
	// Nothing wakes the reader any more: look often.
	return errors.Join(run(time.Millisecond, more, late), derr)
}

// loop is what a capture loop works with: the reader, the sink, how many
// records to write in all (0: no limit) and the counts so far.
type loop struct {
	r     *ring.Reader
	s     *sink
	count uint64
	st    *captureStats
}

// full reports whether -c records have been written.
func (l *loop) full() bool { return l.count != 0 && l.st.captured >= l.count }

// loopFunc is loop.consume or loop.batch: it writes out records until the
// loop is full, more returns false (asked before each read), stop returns
// true (asked before each read and, by consume, every 1024 records within
// one, which can cover a whole ring behind a slow output) or an error,
// waiting up to timeout per read.
type loopFunc func(timeout time.Duration, more, stop func() bool) error

// consume is the capture loop when no text is printed: it writes each
// record out in place, in ring order, through Reader.Consume, the cheapest
// way through the rings (docs/BENCHMARKS.md).
func (l *loop) consume(timeout time.Duration, more, stop func() bool) error {
	var err error
	var seen uint64
	write := func(rec []byte) bool {
		if l.full() {
			return false
		}
		if seen++; seen%1024 == 0 && stop() {
			return false
		}
		if err = l.s.record(rec, l.r); errors.Is(err, errMalformed) {
			l.st.rejected++
			err = nil
			return true
		}
		if err != nil {
			return false
		}
		l.st.captured++
		return true
	}
	for !l.full() && !stop() && more() {
		if _, cerr := l.r.Consume(write, timeout); cerr != nil {
			return fmt.Errorf("read rings: %w", cerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// batch is the capture loop when packets are printed: it reads batches
// and prints each one's records in time order, since one batch holds the
// records of several per-CPU rings.
func (l *loop) batch(timeout time.Duration, more, stop func() bool) error {
	b, err := cabi.AllocBatch(4096, 0)
	if err != nil {
		return err
	}
	defer cabi.FreeBatch(b)
	// Records packet.Describe refused never reach the batch; the reader
	// counts them.
	rejected := l.r.Stats().Rejected
	defer func() { l.st.rejected += l.r.Stats().Rejected - rejected }()
	for !l.full() && !stop() && more() {
		n, err := l.r.Read(b, timeout)
		if err != nil {
			return fmt.Errorf("read rings: %w", err)
		}
		if n == 0 {
			continue
		}
		evs := b.EventSlice()
		// Releasing does not depend on the order of the descriptors.
		slices.SortStableFunc(evs, func(a, b cabi.Event) int { return cmp.Compare(a.TsNs, b.TsNs) })
		for i := range evs {
			if err := l.s.write(&evs[i]); errors.Is(err, errMalformed) {
				l.st.rejected++
				continue
			} else if err != nil {
				l.r.Release(b)
				return err
			}
			l.st.captured++
			if l.full() {
				break
			}
		}
		if err := l.r.Release(b); err != nil {
			return fmt.Errorf("release batch: %w", err)
		}
		if err := l.s.flush(); err != nil {
			return err
		}
	}
	return nil
}

// reportCounters prints what happened to every packet the kernel programs
// saw, and checks the counters' invariant.
func reportCounters(c *packet.Capture, st captureStats, o captureOpts, stderr io.Writer) error {
	// The programs keep running until Close, so a snapshot can catch a
	// packet between its "seen" and its outcome; retry a few times for a
	// consistent one.
	var k packet.Counters
	var err error
	for range 20 {
		if k, err = c.Counters(); err != nil {
			return fmt.Errorf("read counters: %w", err)
		}
		if k.Seen == k.Filtered+k.SampledOut+k.Emitted+k.RingFull {
			break
		}
		time.Sleep(time.Millisecond)
	}
	unread := int64(k.Emitted) - int64(st.captured) - int64(st.rejected)
	fmt.Fprintf(stderr, "%d packets captured\n", st.captured)
	fmt.Fprintf(stderr, "%d packets seen by the kernel programs\n", k.Seen)
	fmt.Fprintf(stderr, "%d packets filtered out\n", k.Filtered)
	fmt.Fprintf(stderr, "%d packets sampled out (1 in %d kept)\n", k.SampledOut, o.cfg.SampleRate)
	fmt.Fprintf(stderr, "%d packets dropped by ring (full)\n", k.RingFull)
	if unread > 0 {
		fmt.Fprintf(stderr, "%d packets in the rings not read before exit\n", unread)
	}
	if st.rejected > 0 {
		fmt.Fprintf(stderr, "%d malformed records skipped\n", st.rejected)
	}
	if k.Seen != k.Filtered+k.SampledOut+k.Emitted+k.RingFull {
		return fmt.Errorf("check counters: seen %d != filtered %d + sampled out %d + emitted %d + ring full %d",
			k.Seen, k.Filtered, k.SampledOut, k.Emitted, k.RingFull)
	}
	return nil
}
