package packet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/ingest/filter"
	kpacket "github.com/weirproject/weir/ingest/packet"
)

// Spec is the config of the "packet" source connector.
var Spec = spec.Spec{
	{Name: "interfaces", Kind: spec.Strings, Required: true, Doc: "Interfaces to capture on, by name."},
	{Name: "direction", Kind: spec.Enum, Enum: []string{"auto", "in", "out", "both"}, Default: "auto", Doc: "Traffic to capture: received (in), sent (out) or both; auto is both in tc mode and in in xdp mode, which supports only in."},
	{Name: "mode", Kind: spec.Enum, Enum: []string{"tc", "xdp"}, Default: "tc", Doc: "Kernel hook: tc (TCX, both directions) or xdp (ingress only, before the kernel allocates a socket buffer)."},
	{Name: "snaplen", Kind: spec.Size, Default: kpacket.SnaplenMax, Min: 1, Doc: "Most bytes kept of each packet; values above 9216 are capped to it."},
	{Name: "sample", Kind: spec.Uint, Default: 1, Min: 1, Max: 1<<32 - 1, Doc: "Keep 1 packet (or, with sample_mode flow, 1 flow) in this many; every record carries the rate and how its packet was chosen."},
	{Name: "sample_mode", Kind: spec.Enum, Enum: []string{"random", "flow"}, Default: "random", Doc: "How sample chooses: random draws for each packet on its own, so every kind of traffic, requests and replies alike, is kept in proportion and each kept packet stands for sample packets; flow hashes the packet's addresses, protocol and ports (the echo identifier for ICMP echo), each end separately and combined in either order, so both directions of a flow hash alike and a flow is kept or dropped whole, replies with their requests, as following a conversation needs. In flow mode packets that are not IP (ARP, ...) are drawn at random, and IP packets without ports the programs read (other protocols, later fragments, ports beyond the first 128 bytes) form one flow per address pair."},
	{Name: "flow_seed", Kind: spec.Uint, Default: 0, Max: 1<<32 - 1, Doc: "Seed of the flow hash of sample_mode flow: sources with the same seed (on one host or several) keep the same flows; 0 picks a random seed each time the source starts."},
	{Name: "ring_size", Kind: spec.Size, Default: kpacket.DefaultRingSize, Min: 4096, Max: 1 << 30, Doc: "Size of each CPU's ring buffer, a power of two."},
	{Name: "wakeup_bytes", Kind: spec.Size, Default: 0, Doc: "Wake the reader when this much data waits in a ring; 0 is half the ring. Below it, a 100ms deadline picks records up."},
	{Name: "count", Kind: spec.Uint, Default: 0, Doc: "Stop after handing over this many packets, then end as a drained source does; 0 captures until stopped."},
	{Name: "order", Kind: spec.Bool, Default: true, Doc: "Merge the per-CPU rings so that packets come out in time order; false hands them out one CPU's after another's, which costs less."},
	{Name: "order_window", Kind: spec.Duration, Default: "1ms", Min: "1us", Max: "1s", Doc: "How old a packet must be before it is handed out when order is true: longer covers slower CPUs, and adds as much latency."},
	{Name: "filter", Kind: spec.String, Default: "", Doc: "tcpdump filter expression (pcap-filter syntax, such as \"tcp port 443\"), compiled to eBPF and run in the kernel before sampling; packets it rejects are counted as filtered. Empty keeps every packet. See docs/filters.md."},
}

// sourceConfig is Spec decoded.
type sourceConfig struct {
	Interfaces  []string           `json:"interfaces"`
	Direction   string             `json:"direction"`
	Mode        string             `json:"mode"`
	Snaplen     uint64             `json:"snaplen"`
	Sample      uint64             `json:"sample"`
	SampleMode  string             `json:"sample_mode"`
	FlowSeed    uint64             `json:"flow_seed"`
	RingSize    uint64             `json:"ring_size"`
	Filter      string             `json:"filter"`
	WakeupBytes uint64             `json:"wakeup_bytes"`
	Count       uint64             `json:"count"`
	Order       bool               `json:"order"`
	OrderWindow spec.DurationValue `json:"order_window"`
}

// wrapped is err with another message.
type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.err }

// NeedsPrivileges says what loading and attaching the capture programs
// needs, for error messages.
const NeedsPrivileges = "capturing needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON"

// Source is the "packet" source connector: an ingest/packet Capture whose
// records it hands to the engine without copying. Each Poll appends
// descriptors of packet records (cabi.KindPacket, starting at their record
// header) that point into the kernel rings, merged across CPUs in time
// order, and gives the ring memory of the previous Poll back to the kernel,
// as the source contract allows (bytes stay valid until the next Poll).
// The kernel rings cannot be paused: when the engine falls behind, the
// rings fill and the kernel counts ring-full drops, which Counters reports.
// Drain detaches the programs; Poll then hands over what the rings still
// hold and answers cabi.EOF once they are empty.
type Source struct {
	connector.Base
	cfg   kpacket.Config
	count uint64 // packets to hand over in all; 0: no limit
	out   uint64 // packets handed over
	env   connector.Env

	// mu guards capture and final against Counters, which may run on
	// any goroutine; the engine serializes every other call.
	mu      sync.Mutex
	capture *kpacket.Capture
	final   []connector.Counter // Counters at Close
}

var (
	_ connector.Source   = (*Source)(nil)
	_ connector.Counting = (*Source)(nil)
)

// New creates a packet source from its JSON config. It only parses the
// config; Connect loads and attaches the programs.
func New(config []byte, env connector.Env) (*Source, error) {
	cfg, count, err := parse(config)
	if err != nil {
		return nil, fmt.Errorf("packet source %s: %w", env.Name, err)
	}
	return &Source{cfg: cfg, count: count, env: env}, nil
}

// parse turns a config into a capture configuration and a packet count,
// refusing what Open would refuse before it touches the kernel.
func parse(config []byte) (kpacket.Config, uint64, error) {
	var sc sourceConfig
	if err := spec.Decode(Spec, config, &sc); err != nil {
		return kpacket.Config{}, 0, err
	}
	prog, err := compileFilter(sc.Filter)
	if err != nil {
		return kpacket.Config{}, 0, err
	}
	mode, err := kpacket.ParseMode(sc.Mode)
	if err != nil {
		return kpacket.Config{}, 0, err
	}
	sampleMode, err := kpacket.ParseSampleMode(sc.SampleMode)
	if err != nil {
		return kpacket.Config{}, 0, err
	}
	if sc.FlowSeed != 0 && sampleMode != kpacket.SampleFlow {
		return kpacket.Config{}, 0, &spec.ValueError{Field: "flow_seed", Offset: -1, Msg: fmt.Sprintf("%d seeds the flow hash of sample_mode flow, but sample_mode is %s; set sample_mode: flow or remove flow_seed", sc.FlowSeed, sampleMode)}
	}
	dir := mode.DefaultDirection()
	if sc.Direction != "auto" {
		if dir, err = kpacket.ParseDirection(sc.Direction); err != nil {
			return kpacket.Config{}, 0, err
		}
	}
	cfg := kpacket.Config{
		Interfaces:  sc.Interfaces,
		Direction:   dir,
		Mode:        mode,
		Snaplen:     uint32(min(sc.Snaplen, kpacket.SnaplenMax)),
		SampleRate:  uint32(sc.Sample),
		SampleMode:  sampleMode,
		FlowSeed:    uint32(sc.FlowSeed),
		RingSize:    int(sc.RingSize),
		OrderWindow: time.Duration(sc.OrderWindow),
		WakeupBytes: sc.WakeupBytes,
		Filter:      prog,
	}
	if !sc.Order {
		cfg.OrderWindow = -1
	}
	return cfg, sc.Count, kpacket.CheckConfig(cfg)
}

// compileFilter compiles a filter expression for the capture programs; an
// empty one is no filter. A syntax error is a *spec.ValueError at its
// offset in the string.
func compileFilter(expr string) (asm.Instructions, error) {
	e, err := filter.Parse(expr)
	if err == nil && e.MatchesAll() {
		return nil, nil
	}
	var prog asm.Instructions
	if err == nil {
		prog, err = e.Compile()
	}
	var fe *filter.Error
	if errors.As(err, &fe) {
		return nil, &spec.ValueError{Field: "filter", Offset: fe.Col - 1, Msg: fe.Msg}
	}
	return prog, err
}

// Config returns the capture configuration the source was created with.
func (s *Source) Config() kpacket.Config { return s.cfg }

// Connect loads the capture programs and attaches them. After a failure
// nothing stays attached, so the engine may call it again.
func (s *Source) Connect(ctx context.Context, attempt int) error {
	if s.capture != nil {
		return nil
	}
	c, err := kpacket.Open(s.cfg)
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		// cilium/ebpf suggests raising RLIMIT_MEMLOCK on EPERM; this
		// kernel charges BPF memory to the cgroup instead, so that hint
		// only misleads: what is missing is a privilege.
		msg := strings.Replace(err.Error(), " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "", 1)
		return connector.Permanent(fmt.Errorf("packet source %s: %s: %w", s.env.Name, NeedsPrivileges, wrapped{msg, err}))
	case errors.Is(err, kpacket.ErrNoInterface) || errors.Is(err, kpacket.ErrNotSupported):
		return connector.Permanent(fmt.Errorf("packet source %s: %w", s.env.Name, err))
	case err != nil:
		return fmt.Errorf("packet source %s: %w", s.env.Name, err)
	}
	s.mu.Lock()
	s.capture = c
	s.mu.Unlock()
	return nil
}

// Poll appends the records waiting in the rings (see Capture.Poll).
func (s *Source) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if s.capture == nil {
		return cabi.Error, fmt.Errorf("packet source %s: poll before connect", s.env.Name)
	}
	if s.count > 0 && s.out >= s.count {
		// The count is reached: what the rings still hold stays
		// unread, and counted so.
		return cabi.EOF, nil
	}
	capacity := b.Capacity
	if s.count > 0 {
		// Read no more records than the count allows, so none are
		// taken from the rings and then thrown away.
		b.Capacity = uint32(min(uint64(capacity), uint64(b.Len)+s.count-s.out))
	}
	n, err := s.capture.Poll(b, timeout)
	b.Capacity = capacity
	s.out += uint64(n)
	switch {
	case err == io.EOF:
		return cabi.EOF, nil
	case errors.Is(err, kpacket.ErrInterfaceGone):
		// Restarting would only fail to find it: fail, and say so.
		return cabi.Error, connector.Permanent(fmt.Errorf("packet source %s: %w", s.env.Name, err))
	case err != nil:
		return cabi.Error, fmt.Errorf("packet source %s: %w", s.env.Name, err)
	case n == 0:
		return cabi.Timeout, nil
	}
	return cabi.OK, nil
}

// Drain stops intake: it detaches the programs, so the rings only empty
// from now on.
func (s *Source) Drain() error {
	if s.capture == nil {
		return nil
	}
	if err := s.capture.Drain(); err != nil {
		return fmt.Errorf("packet source %s: drain: %w", s.env.Name, err)
	}
	return nil
}

// Kernel returns the kernel counters of the running capture.
func (s *Source) Kernel() (kpacket.Counters, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.capture == nil {
		return kpacket.Counters{}, errors.New("packet source: not connected")
	}
	return s.capture.Counters()
}

// Counters reports what happened to every packet the kernel programs saw,
// so the engine's summary and /metrics balance from the kernel to the
// sinks: seen = filtered + sampled out + ring full + emitted, and emitted =
// the events the engine polled + rejected + unread.
func (s *Source) Counters() []connector.Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.capture == nil {
		return s.final
	}
	return s.counters()
}

// counters reads the capture's counters. Called with s.mu held and a
// capture open.
func (s *Source) counters() []connector.Counter {
	k, err := s.capture.Counters()
	if err != nil {
		return s.final
	}
	st := s.capture.Reader().Stats()
	var unread uint64
	if taken := st.Records + st.Rejected; k.Emitted > taken {
		unread = k.Emitted - taken
	}
	return []connector.Counter{
		{Name: "seen", Help: "Packets the kernel programs saw on the captured interfaces.", Value: k.Seen},
		{Name: "filtered", Help: "Packets the kernel filter rejected.", Value: k.Filtered},
		{Name: "sampled_out", Help: "Packets the kernel sampler skipped.", Value: k.SampledOut},
		{Name: "ring_full", Help: "Packets lost in the kernel because their CPU's ring was full: the reader fell behind.", Value: k.RingFull, Loss: true},
		{Name: "emitted", Help: "Packet records the kernel programs wrote to the rings.", Value: k.Emitted},
		{Name: "rejected", Help: "Records in the rings that were not well-formed packet records.", Value: st.Rejected},
		{Name: "unread", Help: "Records in the rings not yet polled (at exit: left unread).", Value: unread, Gauge: true},
	}
}

// Close detaches the programs and unloads them, keeping the final
// counters. It is safe after a failed Connect.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.capture == nil {
		return nil
	}
	s.final = s.counters()
	err := s.capture.Close()
	s.capture = nil
	return err
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "packet",
		Description: "Captures packets with eBPF (XDP or TCX) and hands them over from the kernel rings without copying.",
		Roles:       connector.RoleSource,
		Unpausable:  true,
		Spec:        Spec,
		Check:       func(config []byte) error { _, _, err := parse(config); return err },
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
