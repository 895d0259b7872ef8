package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/connector/pcapng"
	"github.com/weirproject/weir/internal/netns"
	"github.com/weirproject/weir/tools/trafgen"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// slowWriter takes delay over every write.
type slowWriter struct {
	w     io.Writer
	delay time.Duration
}

func (s slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.w.Write(p)
}

func TestCaptureUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "lo", "tcp", "port"}, "filter expression: expected an address, a number or a name, found end of expression\n  tcp port\n          ^"},
		{[]string{"-i", "lo", "host", "example.com"}, "host names are not supported"},
		{[]string{}, "no interface given"},
		{[]string{"-i", "lo", "--mode", "bpf"}, `parse mode "bpf"`},
		{[]string{"-i", "lo", "--mode", "xdp", "--direction", "out"}, "--mode xdp captures ingress only"},
		{[]string{"-i", "lo", "--direction", "sideways"}, `parse direction "sideways"`},
		{[]string{"-i", "lo", "--sample", "0"}, "--sample 0"},
		{[]string{"-i", "lo", "--sample", "2", "--sample-mode", "every"}, "--sample-mode every: want random or flow"},
		{[]string{"-i", "lo", "--sample", "2", "--flow-seed", "7"}, "--flow-seed seeds the hash of --sample-mode flow"},
		{[]string{"-i", "lo", "--flow-seed", "-1", "--sample-mode", "flow"}, "--flow-seed"},
		{[]string{"-i", "lo", "-s", "-5"}, "-s -5"},
		{[]string{"-i", "lo", "-w", "-", "-j"}, "no room for -j"},
		{[]string{"-i", "lo", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"-i", "lo", "--ring-size", "5000"}, "--ring-size 5000: want a power of two"},
		{[]string{"-i", "lo", "--ring-size", "lots"}, "--ring-size lots"},
	} {
		var stdout, stderr bytes.Buffer
		code := runCapture(context.Background(), tc.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("weir capture %q = %d, stderr %q; want 2 and a message containing %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	var dout, derr bytes.Buffer
	if code := runCapture(context.Background(), []string{"-d", "tcp", "port", "80"}, &dout, &derr); code != 0 || !strings.Contains(dout.String(), "weir_filter.keep:") || !strings.Contains(dout.String(), "imm: 80 <weir_filter.keep>") || derr.Len() != 0 {
		t.Errorf("weir capture -d tcp port 80 = %d, stdout %q, stderr %q; want 0 and the program", code, dout.String(), derr.String())
	}
	var stdout, stderr bytes.Buffer
	if code := runCapture(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Examples:") || stderr.Len() != 0 {
		t.Errorf("weir capture --help = %d, stdout %q, stderr %q; want 0 and the usage text on stdout", code, stdout.String(), stderr.String())
	}
}

// counters are the exit counters weir capture prints to stderr.
type counters struct {
	captured, seen, filtered, sampledOut, ringFull, unread, unwritten uint64
}

var counterLine = regexp.MustCompile(`(?m)^(\d+) packets (captured|seen by the kernel programs|filtered out|sampled out|dropped by ring|in the rings not read|read but not written out)`)

func parseCounters(t *testing.T, stderr string) counters {
	t.Helper()
	var c counters
	found := 0
	for _, m := range counterLine.FindAllStringSubmatch(stderr, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		found++
		switch m[2] {
		case "captured":
			c.captured = n
		case "seen by the kernel programs":
			c.seen = n
		case "filtered out":
			c.filtered = n
		case "sampled out":
			c.sampledOut = n
		case "dropped by ring":
			c.ringFull = n
		case "in the rings not read":
			c.unread = n
		case "read but not written out":
			c.unwritten = n
		}
	}
	if found < 5 {
		t.Fatalf("weir capture printed no exit counters:\n%s", stderr)
	}
	if c.seen != c.filtered+c.sampledOut+c.ringFull+c.captured+c.unread+c.unwritten {
		t.Errorf("counters do not add up: %+v\n%s", c, stderr)
	}
	return c
}

// blackhole is an address B does not own: B's stack drops frames sent to
// it without a reply (forwarding is off), so B sees only generated frames.
var blackhole = netip.MustParseAddr("10.255.255.1")

// target selects where a rig's generator sends.
type target int

const (
	toBlackhole target = iota // an address nobody owns: B drops silently
	toB                       // B's own address: B's stack answers
)

// rig is a veth pair with a generator sending from A to B.
type rig struct {
	p  *netns.Pair
	tg *trafgen.Generator
}

func newRig(t *testing.T, cfg trafgen.Config, receiver bool, dst target) *rig {
	t.Helper()
	p, err := netns.NewPair("cap")
	if errors.Is(err, netns.ErrNotSupported) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg.SrcMAC, cfg.DstMAC, cfg.SrcIP, cfg.Ifindex = p.A.MAC, p.B.MAC, p.A.Addr.Addr(), p.A.Index
	cfg.DstIP = blackhole
	if dst == toB {
		cfg.DstIP = p.B.Addr.Addr()
		// Make B answer every datagram, not one a second.
		if err := netns.Sysctl(p.B.NS, map[string]string{"net/ipv4/icmp_ratelimit": "0"}); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.SrcPort == 0 {
		cfg.SrcPort = 40000
	}
	if cfg.DstPort == 0 {
		cfg.DstPort = 9
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	g, err := trafgen.New(cfg)
	if errors.Is(err, trafgen.ErrNotSupported) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if receiver {
		var l link.Link
		if err := netns.Do(p.B.NS, func() (err error) { l, err = g.AttachReceiver(p.B.Index); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	return &rig{p: p, tg: g}
}

func (r *rig) send(t *testing.T) trafgen.Result {
	t.Helper()
	var res trafgen.Result
	if err := netns.Do(r.p.A.NS, func() (err error) { res, err = r.tg.Run(context.Background()); return err }); err != nil {
		t.Fatal(err)
	}
	return res
}

// capture runs weir capture with args in B's namespace, as a child
// process (the test binary running main), until it exits.
type capture struct {
	stdout, stderr syncBuffer
	code           int
	done           chan struct{}
	cancel         func() // sends SIGINT, as Ctrl-C does
	pid            int
	// hold, when set before the capture starts (startCaptureSlow),
	// keeps its standard output unread until it is closed.
	hold chan struct{}
}

func (r *rig) startCapture(t *testing.T, args ...string) *capture {
	t.Helper()
	return r.startCaptureSlow(t, 0, nil, args...)
}

// startCaptureSlow is startCapture with a standard output that is read
// only every delay, up to 1 MiB (the pipe's size) at a time, like a slow
// disk or pipe, and not at all until hold (if not nil) is closed.
func (r *rig) startCaptureSlow(t *testing.T, delay time.Duration, hold chan struct{}, args ...string) *capture {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"capture"}, args...)...)
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 1<<20); err != nil {
		t.Logf("pipe stays at its default size: %v", err)
	}
	cmd.Stdout = w
	c := &capture{done: make(chan struct{})}
	cmd.Stderr = &c.stderr
	err = netns.Do(r.p.B.NS, cmd.Start)
	w.Close()
	if err != nil {
		out.Close()
		t.Fatal(err)
	}
	// One SIGINT, however often cancel is called: a second one would
	// end the capture at once, as it does for a user.
	var once sync.Once
	c.cancel = func() { once.Do(func() { cmd.Process.Signal(os.Interrupt) }) }
	c.pid = cmd.Process.Pid
	go func() {
		defer close(c.done)
		defer out.Close()
		if hold != nil {
			<-hold
		}
		buf := make([]byte, 1<<20)
		for {
			n, err := out.Read(buf)
			c.stdout.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(delay)
		}
		cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-c.done
		}
	})
	t.Cleanup(c.cancel)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-c.done:
			t.Fatalf("weir capture %q exited early with %d:\n%s", args, c.code, c.stderr.String())
		default:
		}
		if strings.Contains(c.stderr.String(), "listening on") {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("weir capture %q did not start:\n%s", args, c.stderr.String())
		}
	}
}

// wait waits for the capture to exit by itself (after -c packets), or
// stops it after grace.
func (c *capture) wait(t *testing.T, grace time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cancel()
		<-c.done
	}
	if c.code != 0 {
		t.Fatalf("weir capture exited with %d:\n%s", c.code, c.stderr.String())
	}
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestCaptureText sends K UDP datagrams over several flows and checks that
// weir capture (TCX, the default mode) prints exactly those, as text.
func TestCaptureText(t *testing.T) {
	const k, flows = 50, 5
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 80}, Count: k, Rate: 5000, Flows: flows}, true, toBlackhole)
	c := r.startCapture(t, "-i", r.p.B.Name, "-c", strconv.Itoa(k))
	if res := r.send(t); res.Sent != k {
		t.Fatalf("generator sent %d; want %d", res.Sent, k)
	}
	c.wait(t, 5*time.Second)
	got := lines(c.stdout.String())
	if len(got) != k {
		t.Fatalf("captured %d lines; want %d:\n%s", len(got), k, c.stdout.String())
	}
	re := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{9} ` + regexp.QuoteMeta(r.p.B.Name) + ` in IP ` +
		regexp.QuoteMeta(r.p.A.Addr.Addr().String()) + `\.(4000[0-4]) > 10\.255\.255\.1\.9: UDP, length 38$`)
	ports := map[string]int{}
	for _, l := range got {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not match %v", l, re)
		}
		ports[m[1]]++
	}
	for p, n := range ports {
		if n != k/flows {
			t.Errorf("port %s: %d packets; want %d", p, n, k/flows)
		}
	}
	cnt := parseCounters(t, c.stderr.String())
	if cnt.captured != k || cnt.seen != k || cnt.ringFull != 0 {
		t.Errorf("counters %+v; want %d captured and seen, none dropped", cnt, k)
	}
}

// TestCapturePcapng captures K frames at XDP with snaplen 96 into a pcapng
// file and checks it with the pcapng reader (bytes) and tshark (count,
// lengths, nanosecond timestamps, interface name).
func TestCapturePcapng(t *testing.T) {
	const k, size, snap = 100, 200, 96
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.TCP, Size: size}, Count: k, Rate: 20000}, false, toBlackhole)
	path := filepath.Join(t.TempDir(), "cap.pcapng")
	c := r.startCapture(t, "-i", r.p.B.Name, "--mode", "xdp", "-s", strconv.Itoa(snap), "-w", path, "-c", strconv.Itoa(k))
	before := uint64(time.Now().UnixNano())
	if res := r.send(t); res.Sent != k {
		t.Fatalf("generator sent %d; want %d", res.Sent, k)
	}
	c.wait(t, 5*time.Second)
	after := uint64(time.Now().UnixNano())
	if c.stdout.String() != "" {
		t.Errorf("-w printed to stdout: %q", c.stdout.String())
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr := pcapng.NewReader(f)
	want := r.tg.Frame()[:snap]
	n := 0
	for ; ; n++ {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if p.OrigLen != size || !bytes.Equal(p.Data, want) {
			t.Fatalf("packet %d: %d of %d bytes, differs from the generator's frame", n, len(p.Data), p.OrigLen)
		}
		if p.TsNs < before || p.TsNs > after {
			t.Errorf("packet %d: timestamp %d outside the run [%d, %d]", n, p.TsNs, before, after)
		}
	}
	if n != k {
		t.Fatalf("%s holds %d packets; want %d", path, n, k)
	}
	if ifs := pr.Interfaces(); len(ifs) != 1 || ifs[0].Name != r.p.B.Name || ifs[0].SnapLen != snap || ifs[0].TsResolution != 1e9 {
		t.Errorf("interfaces %+v; want one, %s, snaplen %d, ns resolution", ifs, r.p.B.Name, snap)
	}

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("skipping the tshark check: tshark not installed (tools/deps.sh installs it)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=,",
		"-e", "frame.interface_name", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.time_epoch", "-e", "tcp.srcport")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", path, err, stderr.Bytes())
	}
	tl := lines(string(out))
	if len(tl) != k {
		t.Fatalf("tshark read %d packets; want %d", len(tl), k)
	}
	nsTime := regexp.MustCompile(`^` + regexp.QuoteMeta(r.p.B.Name) + `,200,96,(\d+)\.(\d{9}),40000$`)
	for _, l := range tl {
		m := nsTime.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("tshark line %q does not match %v", l, nsTime)
		}
		sec, _ := strconv.ParseUint(m[1], 10, 64)
		nsec, _ := strconv.ParseUint(m[2], 10, 64)
		if ts := sec*1e9 + nsec; ts < before || ts > after {
			t.Errorf("tshark timestamp %s.%s outside the run", m[1], m[2])
		}
	}
	cnt := parseCounters(t, c.stderr.String())
	if cnt.captured != k || cnt.seen != k {
		t.Errorf("counters %+v; want %d captured and seen", cnt, k)
	}
}

// TestCaptureSampling sends N frames with --sample 10 and checks that about
// one in ten are captured as JSON lines that carry the rate, and that the
// kernel counts the rest as sampled out.
func TestCaptureSampling(t *testing.T) {
	const k, rate = 1000, 10
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 60}, Count: k, Rate: 20000}, true, toBlackhole)
	c := r.startCapture(t, "-i", r.p.B.Name, "--sample", strconv.Itoa(rate), "-j")
	if res := r.send(t); res.Sent != k {
		t.Fatalf("generator sent %d; want %d", res.Sent, k)
	}
	time.Sleep(300 * time.Millisecond) // past the reader's 100ms deadline
	c.cancel()
	c.wait(t, 0)
	got := lines(c.stdout.String())
	// The sampler keeps each packet with probability 1/rate: allow six
	// standard deviations of the binomial count either side.
	mean := float64(k) / rate
	sd := math.Sqrt(mean * (1 - 1.0/rate))
	if n := float64(len(got)); n < mean-6*sd || n > mean+6*sd {
		t.Fatalf("captured %d packets with --sample %d of %d; want %.0f to %.0f", len(got), rate, k, mean-6*sd, mean+6*sd)
	}
	for _, l := range got {
		var rec struct {
			SampleRate int    `json:"sample_rate"`
			Direction  string `json:"direction"`
			UDP        *struct {
				DstPort int `json:"dport"`
			} `json:"udp"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if rec.SampleRate != rate || rec.Direction != "in" || rec.UDP == nil || rec.UDP.DstPort != 9 {
			t.Fatalf("record %q: want sample_rate %d, direction in, UDP to port 9", l, rate)
		}
	}
	cnt := parseCounters(t, c.stderr.String())
	if cnt.seen != k || cnt.captured != uint64(len(got)) || cnt.sampledOut != k-uint64(len(got)) {
		t.Errorf("counters %+v; want %d seen, %d captured, %d sampled out", cnt, k, len(got), k-len(got))
	}
}

// TestCaptureDirection sends UDP to B's own address, which B answers with
// ICMP port unreachable (after an ARP exchange), and checks what each
// --direction captures.
func TestCaptureDirection(t *testing.T) {
	const k = 10
	for _, tc := range []struct {
		dir   string
		count int
		kinds map[string]int // substring of the line -> lines
	}{
		{"in", k + 1, map[string]int{" in IP ": k, " in ARP, Reply": 1}},
		{"out", k + 1, map[string]int{" out IP ": k, " out ARP, Request": 1}},
		{"both", 2*k + 2, map[string]int{" in IP ": k, " out IP ": k, " in ARP": 1, " out ARP": 1}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 60}, Count: k, Rate: 1000}, true, toB)
			c := r.startCapture(t, "-i", r.p.B.Name, "--direction", tc.dir, "-c", strconv.Itoa(tc.count))
			r.send(t)
			c.wait(t, 3*time.Second)
			got := lines(c.stdout.String())
			if len(got) != tc.count {
				t.Fatalf("--direction %s captured %d packets; want %d:\n%s", tc.dir, len(got), tc.count, c.stdout.String())
			}
			for sub, want := range tc.kinds {
				n := 0
				for _, l := range got {
					if strings.Contains(l, sub) {
						n++
					}
				}
				if n != want {
					t.Errorf("--direction %s: %d lines contain %q; want %d:\n%s", tc.dir, n, sub, want, c.stdout.String())
				}
			}
			parseCounters(t, c.stderr.String())
		})
	}
}

// TestCaptureFilter runs the exchange of TestCaptureDirection with filter
// words: the kernel keeps only what the expression matches and counts the
// rest as filtered out.
func TestCaptureFilter(t *testing.T) {
	const k = 10
	for _, tc := range []struct {
		filter []string
		count  int
		sub    string // every line contains it
	}{
		{[]string{"icmp"}, k, " out IP "},
		{[]string{"udp", "and", "inbound"}, k, " in IP "},
		{[]string{"arp", "or", "(icmp", "and", "ip[8]", ">", "0)"}, k + 2, ""},
	} {
		t.Run(strings.Join(tc.filter, " "), func(t *testing.T) {
			r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 60}, Count: k, Rate: 1000}, true, toB)
			c := r.startCapture(t, append([]string{"-i", r.p.B.Name, "--direction", "both", "-c", strconv.Itoa(tc.count)}, tc.filter...)...)
			r.send(t)
			c.wait(t, 3*time.Second)
			got := lines(c.stdout.String())
			if len(got) != tc.count {
				t.Fatalf("filter %q captured %d packets; want %d:\n%s", tc.filter, len(got), tc.count, c.stdout.String())
			}
			for _, l := range got {
				if !strings.Contains(l, tc.sub) {
					t.Errorf("filter %q: line %q does not contain %q", tc.filter, l, tc.sub)
				}
			}
			cnt := parseCounters(t, c.stderr.String())
			if cnt.filtered == 0 || cnt.captured != uint64(tc.count) {
				t.Errorf("filter %q: counters %+v; want %d captured and the rest filtered out", tc.filter, cnt, tc.count)
			}
		})
	}
}

// TestCaptureTwoInterfaces captures on B's veth end and B's loopback with
// -w and checks that the file describes both interfaces, in -i order, and
// files every packet under the veth.
func TestCaptureTwoInterfaces(t *testing.T) {
	const k = 20
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 64}, Count: k, Rate: 5000}, true, toBlackhole)
	path := filepath.Join(t.TempDir(), "two.pcapng")
	c := r.startCapture(t, "-i", r.p.B.Name, "-i", "lo", "-w", path, "-c", strconv.Itoa(k))
	r.send(t)
	c.wait(t, 5*time.Second)
	pkts, ifs := readPcapng(t, path)
	for i, p := range pkts {
		if p.Interface != 0 || p.OrigLen != 64 {
			t.Errorf("packet %d on interface %d, %d bytes; want interface 0 (%s), 64 bytes", i, p.Interface, p.OrigLen, r.p.B.Name)
		}
	}
	if n := len(pkts); n != k || len(ifs) != 2 || ifs[0].Name != r.p.B.Name || ifs[1].Name != "lo" {
		t.Fatalf("file holds %d packets and interfaces %+v; want %d packets, interfaces %s and lo", n, ifs, k, r.p.B.Name)
	}
}

// TestCaptureCountStops sends more frames than -c asks for in one burst,
// so the reader usually finds more records waiting than it may keep, and
// checks that the pcapng file keeps exactly -c of them and the ones seen
// after are counted as unread.
func TestCaptureCountStops(t *testing.T) {
	const sent, k = 300, 120
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 80}, Count: sent}, false, toBlackhole)
	path := filepath.Join(t.TempDir(), "count.pcapng")
	c := r.startCapture(t, "-i", r.p.B.Name, "--mode", "xdp", "-w", path, "-c", strconv.Itoa(k))
	r.send(t)
	c.wait(t, 5*time.Second)
	cnt := parseCounters(t, c.stderr.String())
	if cnt.captured != k || cnt.seen <= k || cnt.seen > sent || cnt.unread != cnt.seen-k {
		t.Fatalf("counters %+v; want %d captured, the rest of the %d sent that were seen unread", cnt, k, sent)
	}
	if pkts, _ := readPcapng(t, path); len(pkts) != k {
		t.Fatalf("file holds %d packets; want %d", len(pkts), k)
	}
}

// readPcapng reads every packet and the interfaces of a pcapng file. The
// packets' Data is not kept: it is valid only until the next packet is read.
func readPcapng(t *testing.T, path string) ([]pcapng.Packet, []pcapng.ReadInterface) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readPcapngFrom(t, path, f)
}

// readPcapngBytes is readPcapng for a capture written to standard output.
func readPcapngBytes(t *testing.T, b []byte) ([]pcapng.Packet, []pcapng.ReadInterface) {
	t.Helper()
	return readPcapngFrom(t, "standard output", bytes.NewReader(b))
}

func readPcapngFrom(t *testing.T, name string, r io.Reader) ([]pcapng.Packet, []pcapng.ReadInterface) {
	t.Helper()
	pr := pcapng.NewReader(r)
	var pkts []pcapng.Packet
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return pkts, pr.Interfaces()
		}
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		p.Data = nil
		pkts = append(pkts, p)
	}
}

// TestCaptureDrainBounded stops a capture whose output is too slow to
// empty the rings: the stop must be noticed in the middle of a pass over a
// ring, the drain must give up at drainTimeout, also in the middle of a
// pass, and what it left must be reported as unread.
func TestCaptureDrainBounded(t *testing.T) {
	const sent, delay = 100000, 150 * time.Millisecond
	const drainTimeout = 200 * time.Millisecond
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 90}, Count: sent, Rate: 500000}, false, toBlackhole)
	// A 90-byte frame takes a 192-byte record, so a 16 MiB ring holds
	// about 87,000, nearly all of what is sent. The output is not read at
	// all until everything was sent, so the ring is full at the stop
	// however fast this machine sends; then it drains only 1 MiB (about
	// 8,400 blocks of 124 bytes) per delay. Reading the ring dry would
	// take about ten of those, 1.5 s; the 200 ms drain must leave most of
	// it unread, and say so.
	hold := make(chan struct{})
	c := r.startCaptureSlow(t, delay, hold, "-i", r.p.B.Name, "--mode", "xdp", "--ring-size", "16MiB", "-w", "-", "--drain-timeout", drainTimeout.String())
	r.send(t)
	stop := time.Now()
	c.cancel()
	close(hold)
	<-c.done
	took := time.Since(stop)
	if c.code != 0 {
		t.Fatalf("exit code %d:\n%s", c.code, c.stderr.String())
	}
	cnt := parseCounters(t, c.stderr.String())
	t.Logf("stopping took %v; counters %+v", took, cnt)
	if cnt.unread == 0 {
		t.Fatalf("counters %+v: nothing left unread: the drain ran past its deadline", cnt)
	}
	// The unread count above is the proof that the drain stopped at its
	// deadline; this bound only catches a stop that hangs, with room for
	// a busy machine.
	if limit := drainTimeout + 4*delay + 30*time.Second; took > limit {
		t.Errorf("stopping took %v; want at most %v (drain timeout %v, writes of %v)", took, limit, drainTimeout, delay)
	}
	pkts, _ := readPcapngBytes(t, []byte(c.stdout.String()))
	if uint64(len(pkts)) != cnt.captured {
		t.Fatalf("wrote %d packets; captured %d", len(pkts), cnt.captured)
	}
}

// TestCaptureSecondSignal runs weir capture as a process whose output
// nobody reads, so that after a first SIGINT its drain is stuck in a
// write: a second SIGINT must end it at once.
func TestCaptureSecondSignal(t *testing.T) {
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 90}, Count: 20000, Rate: 200000}, false, toBlackhole)
	out, outw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close() // open to the end, so the writes block rather than fail
	// A drain timeout no run reaches, so that only the second signal can
	// end the capture, and the waits below can be wide enough for a busy
	// machine (the echo window was missed when the first signal was
	// handled late).
	cmd := exec.Command(os.Args[0], "capture", "-i", r.p.B.Name, "--mode", "xdp", "-j", "--drain-timeout", "1m")
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	cmd.Stdout = outw
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := netns.Do(r.p.B.NS, cmd.Start); err != nil {
		t.Fatal(err)
	}
	outw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ended := false // whether exited has been received from
	t.Cleanup(func() {
		if !ended {
			cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "listening on"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("weir capture did not start:\n%s", stderr.String())
		}
	}
	// About 5 MB of JSON lines, far more than the pipe holds.
	r.send(t)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// A second signal within a second of the first is taken for its
	// echo (timeout(1) sends two) and ignored: send one right away, which
	// must not end the capture, and one after the window, which must.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		ended = true
		t.Fatalf("weir capture exited on the first SIGINT or its echo (%v), so its output never blocked the drain:\n%s", err, stderr.String())
	case <-time.After(3 * time.Second):
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		ended = true
	case <-time.After(30 * time.Second):
		t.Fatalf("weir capture still running 30 s after a second SIGINT (its drain timeout is 1m):\n%s", stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("weir capture ended with %v; want killed by SIGINT", cmd.ProcessState)
	}
}

// TestCaptureStopDrains stops a capture in the middle of a steady stream
// and checks that every packet its programs saw is written out before it
// exits, in the pcapng loop and in the text loop.
func TestCaptureStopDrains(t *testing.T) {
	const sent, rate = 60000, 100000
	for _, tc := range []struct{ name, out string }{{"pcapng", "-w"}, {"text", "-j"}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 90}, Count: sent, Rate: rate}, false, toBlackhole)
			path := filepath.Join(t.TempDir(), "stop.pcapng")
			args := []string{"-i", r.p.B.Name, "--mode", "xdp"}
			if tc.out == "-w" {
				args = append(args, "-w", path)
			} else {
				args = append(args, "-j")
			}
			c := r.startCapture(t, args...)
			sending := make(chan struct{})
			go func() {
				defer close(sending)
				netns.Do(r.p.A.NS, func() error { _, err := r.tg.Run(context.Background()); return err })
			}()
			time.Sleep(200 * time.Millisecond) // a third of the stream
			c.cancel()
			<-c.done
			<-sending
			if c.code != 0 {
				t.Fatalf("exit code %d:\n%s", c.code, c.stderr.String())
			}
			cnt := parseCounters(t, c.stderr.String())
			if cnt.seen == 0 || cnt.seen >= sent || cnt.captured != cnt.seen || cnt.unread != 0 {
				t.Fatalf("counters %+v; want a part of the %d sent seen, all of it captured, none unread", cnt, sent)
			}
			n := len(lines(c.stdout.String()))
			if tc.out == "-w" {
				pkts, _ := readPcapng(t, path)
				n = len(pkts)
			}
			if uint64(n) != cnt.captured {
				t.Fatalf("wrote %d packets; captured %d", n, cnt.captured)
			}
		})
	}
}

// TestCaptureReaderGone runs weir capture | head -2: once the reader of its
// output has gone, the capture ends by itself, with its counters and exit
// status 0, instead of dying of SIGPIPE.
func TestCaptureReaderGone(t *testing.T) {
	r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 90}, Count: 20000, Rate: 20000}, false, toBlackhole)
	cmd := exec.Command(os.Args[0], "capture", "-i", r.p.B.Name, "--mode", "xdp")
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := netns.Do(r.p.B.NS, cmd.Start); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "listening on"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("weir capture did not start:\n%s", stderr.String())
		}
	}
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		netns.Do(r.p.A.NS, func() error { _, err := r.tg.Run(context.Background()); return err })
	}()
	defer func() { <-sending }()
	// Read two lines, as head -2 does, and go away.
	br := bufio.NewReader(out)
	for range 2 {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("read a line: %v\n%s", err, stderr.String())
		}
	}
	out.Close()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("weir capture still running 10s after its reader went away:\n%s", stderr.String())
	}
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() || cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("weir capture ended with %v; want exit status 0:\n%s", cmd.ProcessState, stderr.String())
	}
	parseCounters(t, stderr.String())
}

// TestCaptureDropsPrivileges checks that a running capture runs as nobody
// with no capability (or, with --user root, keeps them), and still
// captures and counts what it is sent.
func TestCaptureDropsPrivileges(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	for _, tc := range []struct{ user, uid, caps string }{
		{"", nobody.Uid, "0000000000000000"},
		{"root", "0", ""},
	} {
		t.Run("user="+tc.user, func(t *testing.T) {
			r := newRig(t, trafgen.Config{Template: trafgen.Template{Proto: trafgen.UDP, Size: 90}, Count: 50, Rate: 10000}, false, toBlackhole)
			path := filepath.Join(t.TempDir(), "p.pcapng")
			args := []string{"-i", r.p.B.Name, "--mode", "xdp", "-w", path}
			if tc.user != "" {
				args = append(args, "--user", tc.user)
			}
			c := r.startCapture(t, args...)
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(status), "Uid:\t"+tc.uid+"\t") {
				t.Errorf("a running capture does not run as uid %s:\n%s", tc.uid, status)
			}
			for _, k := range []string{"CapPrm", "CapEff"} {
				got := regexp.MustCompile(k + `:\t(\w+)`).FindStringSubmatch(string(status))
				if tc.caps != "" && (got == nil || got[1] != tc.caps) || tc.caps == "" && (got == nil || got[1] == "0000000000000000") {
					t.Errorf("%s of a running capture = %v; want %q (empty: some)", k, got, tc.caps)
				}
			}
			r.send(t)
			c.wait(t, 500*time.Millisecond)
			if cnt := parseCounters(t, c.stderr.String()); cnt.captured != 50 {
				t.Errorf("captured %d of 50:\n%s", cnt.captured, c.stderr.String())
			}
		})
	}
}
