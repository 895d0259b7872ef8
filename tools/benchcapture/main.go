// Command benchcapture measures `weir capture` against tcpdump on the same
// load: a veth pair in two throw-away namespaces, trafgen sending from A,
// the capturing tool on B's end with snaplen 96 writing a file.
//
// For each scenario (no capture, tcpdump, netsniff-ng when installed, weir
// capture --mode xdp, weir capture --mode tc, and the file writes alone:
// see write.go) and each
// repetition it creates a fresh pair, starts the
// capturing process, sends the load, stops the process with SIGINT, and
// records: frames sent and the generator's rate, frames that reached B,
// packets in the output file, the tool's own loss counters, and the user+sys
// CPU time of the capturing process (from its rusage), from which it derives
// CPU time per captured packet, in all and split into user and system time.
// Repetitions go round the scenarios, starting one further on each time.
// It prints a Markdown table of the medians.
//
// Usage (as root, from the repository root, after make build trafgen):
//
//	go run ./tools/benchcapture -bin bin -count 4000000 -reps 3
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf/link"

	"github.com/weirproject/weir/connector/pcapng"
	"github.com/weirproject/weir/internal/netns"
	"github.com/weirproject/weir/tools/trafgen"
)

type result struct {
	sent, arrived, inFile, toolCaptured, toolDropped uint64
	pps                                              float64
	user, sys                                        time.Duration // capturing process CPU time
	machineCPU                                       time.Duration // all CPUs busy time during the send
}

// cpu is the capturing process's user + system CPU time.
func (r result) cpu() time.Duration { return r.user + r.sys }

// perPkt is d in nanoseconds per packet in the file (0 when it is empty).
func (r result) perPkt(d time.Duration) float64 {
	if r.inFile == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / float64(r.inFile)
}

func main() {
	if spec, ok := os.LookupEnv(writerEnv); ok {
		if err := writeFile(spec); err != nil {
			fail(err)
		}
		return
	}
	bin := flag.String("bin", "bin", "directory holding weir")
	count := flag.Uint64("count", 4_000_000, "frames per run")
	rate := flag.Uint64("rate", 0, "offered rate in frames/s (0: as fast as the generator goes)")
	size := flag.Int("size", 128, "frame size in bytes")
	snap := flag.Int("snaplen", 96, "snap length for both tools")
	reps := flag.Int("reps", 3, "repetitions per scenario (the median is reported)")
	only := flag.String("only", "", "comma-separated scenarios to run (none,tcpdump,netsniff-ng,weir-xdp,weir-tc,write-pcap,write-pcapng; with -base also weir-xdp-base,weir-tc-base)")
	base := flag.String("base", "", "a second `DIR` holding weir, for A/B comparisons of two builds: its runs are the scenarios weir-xdp-base and weir-tc-base")
	outDir := flag.String("dir", "", "directory for the capture files (default: a new directory under $TMPDIR)")
	verbose := flag.Bool("v", false, "also print every run's figures to stderr as it ends")
	null := flag.Bool("null", false, "both tools write to /dev/null instead of a file, to measure them without the file system's cost; in file is then what each tool says it captured")
	weirArgs := flag.String("weir-args", "", "extra arguments for weir capture, space-separated")
	ring := flag.Int("ring", 4<<20, "weir's ring size per CPU in bytes; tcpdump gets the same total with -B")
	profile := flag.String("profile", "", "write a Go CPU profile of each loaded weir run into `DIR` (SCENARIO-REP.prof)")
	flag.Parse()
	if err := netns.Available(); err != nil {
		fmt.Fprintf(os.Stderr, "benchcapture: %v\n", err)
		os.Exit(1)
	}
	scenarios := []string{"none", "tcpdump", "weir-xdp", "weir-tc"}
	if _, err := exec.LookPath("netsniff-ng"); err == nil {
		scenarios = append(scenarios, "netsniff-ng")
	}
	if *base != "" {
		scenarios = append(scenarios, "weir-xdp-base", "weir-tc-base")
	}
	if !*null {
		scenarios = append(scenarios, "write-pcap", "write-pcapng")
	}
	if *only != "" {
		scenarios = strings.Split(*only, ",")
	}
	for i, sc := range scenarios {
		if _, ok := writeScenarios[sc]; ok && *null {
			fail(fmt.Errorf("scenario %s writes a file, which -null leaves out", sc))
		}
		if slices.Contains(scenarios[:i], sc) {
			fail(fmt.Errorf("scenario %s named twice in -only", sc))
		}
	}
	dir, err := os.MkdirTemp(*outDir, "benchcapture")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	b := bench{bin: *bin, base: *base, null: *null, count: *count, rate: *rate, size: *size, snap: *snap, dir: dir, ring: *ring, weirArgs: strings.Fields(*weirArgs), profile: *profile}
	files := dir
	if b.null {
		files = os.DevNull
	}
	fmt.Printf("frames %d of %d bytes, offered rate %s, snaplen %d, files in %s, weir ring %d KiB per CPU, tcpdump -B %d KiB, %d repetitions, median shown\n\n",
		b.count, b.size, rateString(b.rate), b.snap, files, b.ring>>10, b.tcpdumpBuf(), *reps)
	fmt.Println("| capture | generator pps | sent | reached B | in file | tool drops | process CPU | CPU/captured pkt | user/pkt | sys/pkt | idle run CPU | (CPU - idle)/captured pkt | machine busy/sent pkt | CPU/pkt ÷ tcpdump's |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	// Repetitions go round the scenarios, each from the next one on, so
	// a drift in the machine's state (other tenants, the host's memory)
	// touches them alike and none always runs after the same other.
	rs := make(map[string][]result)
	idle := make(map[string][]time.Duration)
	for rep := range *reps {
		b.rep = rep
		for i := range scenarios {
			sc := scenarios[(i+rep)%len(scenarios)]
			r, err := b.run(sc, false)
			if err != nil {
				fail(fmt.Errorf("%s: %w", sc, err))
			}
			rs[sc] = append(rs[sc], r)
			if *verbose {
				fmt.Fprintf(os.Stderr, "%s, repetition %d: %.2f M frames/s, %d in file, CPU %.0f ns (user %.0f, sys %.0f) per packet\n",
					sc, rep, r.pps/1e6, r.inFile, r.perPkt(r.cpu()), r.perPkt(r.user), r.perPkt(r.sys))
			}
			if sc != "none" {
				if r, err = b.run(sc, true); err != nil {
					fail(fmt.Errorf("%s idle: %w", sc, err))
				}
				idle[sc] = append(idle[sc], r.cpu())
			}
		}
	}
	ratios := tcpdumpRatios(rs)
	for _, sc := range scenarios {
		m := median(rs[sc])
		perPkt, user, sys, idleCPU, marginal := "-", "-", "-", "-", "-"
		if m.inFile > 0 {
			ns := func(d time.Duration) string { return fmt.Sprintf("%.0f ns", m.perPkt(d)) }
			perPkt, user, sys = ns(m.cpu()), ns(m.user), ns(m.sys)
			slices.Sort(idle[sc])
			i := idle[sc][len(idle[sc])/2]
			idleCPU = fmt.Sprintf("%.3f s", i.Seconds())
			marginal = ns(m.cpu() - i)
		}
		if _, ok := writeScenarios[sc]; ok {
			// No traffic: only the file's columns apply.
			fmt.Printf("| %s | - | - | - | (%d) | - | %.3f s | %s | %s | %s | %s | %s | - | %s |\n", sc, m.inFile,
				m.cpu().Seconds(), perPkt, user, sys, idleCPU, marginal, ratios[sc])
			continue
		}
		fmt.Printf("| %s | %.2f M | %d | %d | %d | %d | %.3f s | %s | %s | %s | %s | %s | %.0f ns | %s |\n", sc, m.pps/1e6, m.sent, m.arrived, m.inFile,
			m.toolDropped, m.cpu().Seconds(), perPkt, user, sys, idleCPU, marginal, float64(m.machineCPU.Nanoseconds())/float64(max(m.sent, 1)), ratios[sc])
	}
}

func rateString(r uint64) string {
	if r == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d/s", r)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "benchcapture: %v\n", err)
	os.Exit(1)
}

// tcpdumpRatios gives, for each scenario that captured or wrote packets,
// the median over the repetitions of its CPU per packet divided by
// tcpdump's in the same repetition ("-" without tcpdump). Each repetition
// runs every scenario within seconds, so the ratio taken inside one
// cancels the machine's drift between repetitions, which the ratio of two
// medians taken apart does not. Call it before median, which reorders.
func tcpdumpRatios(rs map[string][]result) map[string]string {
	out := make(map[string]string)
	t := rs["tcpdump"]
	for sc, runs := range rs {
		var xs []float64
		for i, r := range runs {
			if i < len(t) && r.inFile > 0 && t[i].inFile > 0 {
				xs = append(xs, r.perPkt(r.cpu())/t[i].perPkt(t[i].cpu()))
			}
		}
		out[sc] = "-"
		if len(xs) > 0 {
			slices.Sort(xs)
			out[sc] = fmt.Sprintf("%.2f", xs[len(xs)/2])
		}
	}
	return out
}

// median returns, field by field, the run with the median CPU per captured
// packet (or generator rate when nothing was captured).
func median(rs []result) result {
	slices.SortFunc(rs, func(a, b result) int {
		ka, kb := a.pps, b.pps
		if a.inFile > 0 && b.inFile > 0 {
			ka, kb = a.perPkt(a.cpu()), b.perPkt(b.cpu())
		}
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

type bench struct {
	bin         string
	base        string // second weir directory for the -base scenarios
	null        bool   // write to /dev/null
	count, rate uint64
	size, snap  int
	dir         string
	ring        int
	weirArgs    []string
	profile     string // directory for weir CPU profiles, or ""
	rep         int    // repetition being run, for profile names
}

// tcpdumpBuf is tcpdump's -B buffer in KiB: the total of weir's rings.
func (b *bench) tcpdumpBuf() int {
	return b.ring >> 10 * runtime.NumCPU()
}

// run runs one scenario on a fresh veth pair. An idle run starts and stops
// the capturing tool the same way but sends nothing, which measures the
// tool's fixed cost (loading, attaching, idle polling for about a second).
func (b *bench) run(name string, idle bool) (result, error) {
	if _, ok := writeScenarios[name]; ok {
		return b.runWrite(name, idle)
	}
	var res result
	// A -base scenario runs the same as the one it names, with the weir
	// from the -base directory.
	bin, scenario := b.bin, name
	if s, ok := strings.CutSuffix(name, "-base"); ok && b.base != "" {
		bin, scenario = b.base, s
	}
	p, err := netns.NewPair("bench")
	if err != nil {
		return res, err
	}
	defer p.Close()
	g, err := trafgen.New(trafgen.Config{
		Template: trafgen.Template{SrcMAC: p.A.MAC, DstMAC: p.B.MAC, SrcIP: p.A.Addr.Addr(),
			// An address B does not own: B's stack drops the frames
			// without replying, so both tools see only the load.
			DstIP:   netipBlackhole,
			SrcPort: 40000, DstPort: 9, Proto: trafgen.UDP, Size: b.size},
		Ifindex: p.A.Index, Count: b.count, Rate: b.rate, Flows: 16, Timeout: 60 * time.Second,
	})
	if err != nil {
		return res, err
	}
	defer g.Close()
	// weir in XDP mode brings its own XDP program on B; everything else
	// needs the generator's receiver there.
	if scenario != "weir-xdp" {
		var l link.Link
		if err := netns.Do(p.B.NS, func() (err error) { l, err = g.AttachReceiver(p.B.Index); return err }); err != nil {
			return res, err
		}
		defer l.Close()
	}

	out := filepath.Join(b.dir, name+".out")
	if b.null {
		out = os.DevNull
	}
	weirArgs := b.weirArgs
	if b.profile != "" && !idle {
		weirArgs = append(slices.Clip(weirArgs), "--cpuprofile", filepath.Join(b.profile, fmt.Sprintf("%s-%d.prof", name, b.rep)))
	}
	var tool *proc
	switch scenario {
	case "none":
	case "tcpdump":
		tool, err = start(p.B.NS, "listening on", "tcpdump", "-i", p.B.Name, "-n", "-B", strconv.Itoa(b.tcpdumpBuf()), "-s", strconv.Itoa(b.snap), "-w", out)
	case "netsniff-ng":
		// netsniff-ng has no snap length: it writes whole frames.
		tool, err = start(p.B.NS, "Running!", "netsniff-ng", "-i", p.B.Name, "-o", out, "-s", "-A",
			"-S", fmt.Sprintf("%dKiB", b.tcpdumpBuf()))
	case "weir-xdp":
		tool, err = start(p.B.NS, "listening on", filepath.Join(bin, "weir"), append([]string{"capture", "-i", p.B.Name, "--mode", "xdp",
			"-s", strconv.Itoa(b.snap), "--ring-size", strconv.Itoa(b.ring), "-w", out}, weirArgs...)...)
	case "weir-tc":
		tool, err = start(p.B.NS, "listening on", filepath.Join(bin, "weir"), append([]string{"capture", "-i", p.B.Name, "--mode", "tc",
			"--direction", "in", "-s", strconv.Itoa(b.snap), "--ring-size", strconv.Itoa(b.ring), "-w", out}, weirArgs...)...)
	default:
		return res, fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		return res, err
	}

	busy0, err := machineBusy()
	if err != nil {
		return res, err
	}
	var tr trafgen.Result
	if idle {
		time.Sleep(time.Second)
	} else {
		err = netns.Do(p.A.NS, func() (err error) { tr, err = g.Run(context.Background()); return err })
	}
	busy1, _ := machineBusy()
	if err != nil {
		if tool != nil {
			tool.stop()
		}
		return res, err
	}
	res.sent, res.pps, res.machineCPU = tr.Sent, tr.PPS(), busy1-busy0
	time.Sleep(300 * time.Millisecond) // let the capture drain its buffers
	if tool != nil {
		if err := tool.stop(); err != nil {
			return res, err
		}
		res.user, res.sys = tool.user, tool.sys
	}
	switch scenario {
	case "none", "weir-tc", "tcpdump", "netsniff-ng":
		res.arrived, _ = g.Received()
	}
	switch scenario {
	case "tcpdump":
		// "N packets captured", "N packets received by filter", "N packets dropped by kernel"
		res.toolCaptured = grab(tool.stderr, `(\d+) packets captured`)
		res.toolDropped = grab(tool.stderr, `(\d+) packets dropped by kernel`)
		res.inFile, err = b.countIn(out, countPcap, res.toolCaptured)
	case "netsniff-ng":
		// "N  packets passed filter", "N  packets failed filter (out of space)"
		res.toolCaptured = grab(tool.stderr, `(\d+)\s+packets passed filter`)
		res.toolDropped = grab(tool.stderr, `(\d+)\s+packets failed filter`)
		res.inFile, err = b.countIn(out, countPcap, res.toolCaptured)
	case "weir-xdp", "weir-tc":
		res.toolCaptured = grab(tool.stderr, `(\d+) packets captured`)
		res.toolDropped = grab(tool.stderr, `(\d+) packets dropped by ring`)
		seen := grab(tool.stderr, `(\d+) packets seen by the kernel programs`)
		if scenario == "weir-xdp" {
			res.arrived = seen
		}
		res.inFile, err = b.countIn(out, countPcapng, res.toolCaptured)
	}
	return res, err
}

var netipBlackhole = mustAddr("10.255.255.1")

func grab(s, re string) uint64 {
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// proc is a capturing process started in a namespace.
type proc struct {
	cmd    *exec.Cmd
	errBuf *lockedBuf
	stderr string
	user   time.Duration
	sys    time.Duration
}

// start runs name in namespace ns (ip netns exec replaces itself with the
// tool, so the rusage is the tool's) and waits for ready on its stderr.
func start(ns, ready, name string, args ...string) (*proc, error) {
	cmd := netns.Exec(ns, name, args...)
	eb := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = eb, eb // netsniff-ng reports on stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, errBuf: eb}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(eb.String(), ready); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("%s did not start: %s", name, eb.String())
		}
	}
	return p, nil
}

func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		err = errors.Join(errors.New("did not exit within 30s of SIGINT"), <-done)
	}
	p.stderr = p.errBuf.String()
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.user, p.sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %s", p.cmd.Args, err, p.stderr)
	}
	return nil
}

// machineBusy returns the CPU time all CPUs spent not idle, from /proc/stat.
func machineBusy() (time.Duration, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy uint64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		n, _ := strconv.ParseUint(f, 10, 64)
		busy += n
	}
	const hz = 100 // USER_HZ
	return time.Duration(busy) * time.Second / hz, nil
}

// countIn counts the packets in out, or returns captured, the tool's own
// count, when out is /dev/null.
//
// It removes the file once counted: the next run of the tool would
// otherwise pay, in its own CPU time, for truncating it and freeing its
// pages.
func (b *bench) countIn(out string, counter func(string) (uint64, error), captured uint64) (uint64, error) {
	if b.null {
		return captured, nil
	}
	n, err := counter(out)
	return n, errors.Join(err, os.Remove(out))
}

// countPcap counts the records of a classic pcap file.
func countPcap(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return 0, fmt.Errorf("read pcap header of %s: %w", path, err)
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if binary.BigEndian.Uint32(gh[:]) == 0xa1b2c3d4 || binary.BigEndian.Uint32(gh[:]) == 0xa1b23c4d {
		order = binary.BigEndian
	}
	var n uint64
	var rh [16]byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("read pcap record %d of %s: %w", n, path, err)
		}
		if _, err := r.Discard(int(order.Uint32(rh[8:]))); err != nil {
			return n, fmt.Errorf("read pcap record %d of %s: %w", n, path, err)
		}
		n++
	}
}

// countPcapng counts the packets of a pcapng file.
func countPcapng(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := pcapng.NewReader(bufio.NewReaderSize(f, 1<<20))
	var n uint64
	for {
		if _, err := r.Next(); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("read %s: %w", path, err)
		}
		n++
	}
}
