package packet

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/ring"
)

// ErrNotSupported is wrapped by errors that come from a kernel feature this
// package needs (XDP, TCX, ring buffers, a helper) being unavailable.
var ErrNotSupported = errors.New("not supported by this kernel")

// Direction selects which traffic to capture.
type Direction uint8

// Directions. The zero value means DirectionBoth.
const (
	DirectionBoth Direction = 0
	DirectionIn   Direction = 1
	DirectionOut  Direction = 2
)

// String returns "in", "out" or "both".
func (d Direction) String() string {
	switch d {
	case DirectionIn:
		return "in"
	case DirectionOut:
		return "out"
	case DirectionBoth:
		return "both"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// ParseDirection parses "in", "out" or "both".
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(s) {
	case "in":
		return DirectionIn, nil
	case "out":
		return DirectionOut, nil
	case "both", "inout":
		return DirectionBoth, nil
	}
	return 0, fmt.Errorf("parse direction %q: want in, out or both", s)
}

// Mode selects the kernel hook.
type Mode uint8

// DefaultDirection is the direction captured when none is given: in for
// ModeXDP, which sees only ingress, and both for ModeTC.
func (m Mode) DefaultDirection() Direction {
	if m == ModeXDP {
		return DirectionIn
	}
	return DirectionBoth
}

// Modes. The zero value means ModeTC.
const (
	// ModeTC attaches TCX programs; it captures ingress and egress.
	ModeTC Mode = 0
	// ModeXDP attaches an XDP program; it captures ingress only, before
	// the kernel allocates a socket buffer.
	ModeXDP Mode = 1
)

// String returns "tc" or "xdp".
func (m Mode) String() string {
	switch m {
	case ModeTC:
		return "tc"
	case ModeXDP:
		return "xdp"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses "xdp" or "tc".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "tc", "tcx":
		return ModeTC, nil
	case "xdp":
		return ModeXDP, nil
	}
	return 0, fmt.Errorf("parse mode %q: want xdp or tc", s)
}

// SampleMode selects how the programs choose the 1 packet in SampleRate
// they keep. Every record says how its packet was chosen
// (Header.SampleMode, cabi.SampleRandom or cabi.SampleFlow).
type SampleMode uint8

// Sampling modes. The zero value means SampleRandom.
const (
	// SampleRandom keeps each packet with probability 1/SampleRate, by a
	// random draw (bpf_get_prandom_u32) of its own: the kept packets are
	// an unbiased sample of every kind of traffic, requests and replies
	// alike, and each stands for SampleRate packets.
	SampleRandom SampleMode = cabi.SampleRandom
	// SampleFlow keeps whole flows, about 1 in SampleRate: a packet is
	// kept when a hash of its IP addresses, IP protocol and ports (the
	// ICMP echo identifier for pings) falls in the kept 1/SampleRate of
	// the hash space. The hash is the same in both directions, so a kept
	// request has its reply; it is seeded with Config.FlowSeed. Packets
	// without IP addresses (ARP, ...) are drawn at random as in
	// SampleRandom, and their records say so; IP packets whose ports the
	// parser does not see (non-first fragments, protocols other than TCP,
	// UDP and ICMP echo) form one flow per address pair and protocol.
	SampleFlow SampleMode = cabi.SampleFlow
)

// String returns "random" or "flow".
func (m SampleMode) String() string {
	switch m {
	case 0, SampleRandom:
		return "random"
	case SampleFlow:
		return "flow"
	}
	return fmt.Sprintf("sample-mode(%d)", uint8(m))
}

// ParseSampleMode parses "random" or "flow".
func ParseSampleMode(s string) (SampleMode, error) {
	switch strings.ToLower(s) {
	case "random":
		return SampleRandom, nil
	case "flow":
		return SampleFlow, nil
	}
	return 0, fmt.Errorf("parse sample mode %q: want random or flow", s)
}

// Defaults used for zero Config fields.
const (
	DefaultSnaplen = SnaplenMax
	// DefaultRingSize gives a few milliseconds of headroom at millions of
	// packets per second, so a briefly descheduled reader loses nothing.
	DefaultRingSize = 4 << 20
)

// Config describes a capture. The zero value of every field but Interfaces
// has a default.
type Config struct {
	// Interfaces to capture on, by name. At least one.
	Interfaces []string
	// Direction of traffic to capture; zero is DirectionBoth.
	Direction Direction
	// Mode selects XDP or TCX; zero is ModeTC. ModeXDP supports
	// DirectionIn only.
	Mode Mode
	// Snaplen is the most bytes kept of each packet; 0 means
	// DefaultSnaplen, and values above SnaplenMax are capped to it. It
	// also sizes the programs' largest record class, so a packet longer
	// than Snaplen takes no more ring space than Snaplen needs, and
	// SetInterface cannot raise an interface's snaplen above it.
	Snaplen uint32
	// SampleRate keeps 1 packet (or flow) in SampleRate, chosen as
	// SampleMode says; 0 and 1 keep every packet.
	SampleRate uint32
	// SampleMode is how the 1 packet in SampleRate is chosen; zero is
	// SampleRandom.
	SampleMode SampleMode
	// FlowSeed seeds the flow hash of SampleFlow. Captures with the same
	// seed keep the same flows, on every interface and host, so two hosts
	// can sample both ends of the same connections; 0 picks a random seed
	// for each capture.
	FlowSeed uint32
	// RingSize is the size in bytes of each CPU's ring buffer, a power of
	// two and a multiple of the page size; 0 means DefaultRingSize.
	RingSize int
	// WakeupBytes is how much data must wait in a ring before a submit
	// wakes the reader; below it the reader's deadline picks records up.
	// 0 means RingSize / 2.
	WakeupBytes uint64
	// Filter, when not nil, replaces the body of the filter hook
	// weir_filter in every program before load (see FilterArgs). It is the
	// body of a BPF function with the prototype
	//
	//	int weir_filter(void *ctx, const struct weir_filter_args *args)
	//
	// On entry R1 is the program's context and R2 points at the
	// FilterArgs, read-only, or is NULL (the verifier checks global
	// functions on their own and treats pointer arguments as nullable, so
	// the body must test R2 before loading through it). To read packet
	// bytes beyond FilterArgs.Head, the body calls bpf_xdp_load_bytes
	// (asm.FnXdpLoadBytes) with the context; in the TCX programs those
	// calls become bpf_skb_load_bytes, which takes the same arguments. R0
	// returns non-zero to keep the packet, zero to count it as filtered
	// out. The verifier checks the body when Open loads the programs.
	Filter asm.Instructions
	// OrderWindow is how old a record must be before Poll hands it out,
	// merged with the other CPUs' records by timestamp; 0 means
	// DefaultOrderWindow, and a negative value hands records out in ring
	// order, one CPU's after another's, without merging.
	OrderWindow time.Duration
}

// Interface is an interface a Capture is attached to.
type Interface struct {
	Name  string
	Index int
}

// Counters are the kernel programs' packet counters. For any snapshot,
// Seen == Filtered + SampledOut + Emitted + RingFull.
type Counters struct {
	// Seen counts packets on configured interfaces.
	Seen uint64
	// Filtered counts packets the filter hook rejected.
	Filtered uint64
	// SampledOut counts packets the sampler skipped.
	SampledOut uint64
	// Emitted counts records submitted to a ring.
	Emitted uint64
	// RingFull counts packets lost because their CPU's ring had no room.
	RingFull uint64
}

func (c *Counters) add(o Counters) {
	c.Seen += o.Seen
	c.Filtered += o.Filtered
	c.SampledOut += o.SampledOut
	c.Emitted += o.Emitted
	c.RingFull += o.RingFull
}

// Capture is a running capture: the loaded programs, their attachments, the
// per-CPU rings and a Reader over them. Its methods may be called from
// several goroutines at once, except Close, which must be the last call.
type Capture struct {
	coll   *ebpf.Collection // owns every program and map in objs
	objs   packetObjects
	mu     sync.Mutex // guards links
	links  []attachment
	rings  []*ebpf.Map
	reader *ring.Reader
	ifaces []Interface
	cfg    Config
	// Poll's state: the batch whose ring memory the next Poll gives
	// back, and whether Drain was called.
	last     *cabi.Batch
	draining bool
	// When Poll last checked that every interface is still there, and
	// what it found gone (then Poll drains and ends with it).
	checked time.Time
	gone    error
}

// Open loads the capture programs, creates one ring per possible CPU,
// configures every interface in cfg and attaches the programs to them. On
// error nothing stays attached or loaded. Errors name the interface and the
// step that failed; missing kernel features wrap ErrNotSupported. Open does
// not raise RLIMIT_MEMLOCK: the kernel accounts BPF memory to the cgroup.
func Open(cfg Config) (*Capture, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	ifaces, err := lookupInterfaces(cfg.Interfaces)
	if err != nil {
		return nil, err
	}
	c, err := load(cfg, programsFor(cfg))
	if err != nil {
		return nil, err
	}
	c.ifaces = ifaces
	for _, ifc := range ifaces {
		if err := c.SetInterface(ifc.Index, cfg.SampleRate, cfg.Snaplen); err != nil {
			c.Close()
			return nil, fmt.Errorf("open capture on %s: %w", ifc.Name, err)
		}
		if err := c.attach(ifc); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Load loads every capture program (XDP ingress, TCX ingress and egress)
// with cfg and creates the rings as Open does, but attaches nothing:
// cfg.Interfaces must pass CheckConfig and is otherwise unused, and
// SetInterface chooses the ifindexes the programs capture on. It is for
// running the programs with BPF_PROG_TEST_RUN (Programs), as the filter
// compiler's tests and benchmarks do.
func Load(cfg Config) (*Capture, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return load(cfg, allPrograms)
}

// CheckConfig reports what Open would refuse in cfg before touching the
// kernel: no interfaces, one named twice, a mode and direction that do not
// go together, a ring size that is not a power of two in range.
func CheckConfig(cfg Config) error {
	_, err := cfg.normalize()
	return err
}

func (cfg Config) normalize() (Config, error) {
	if len(cfg.Interfaces) == 0 {
		return cfg, errors.New("open capture: no interfaces given")
	}
	switch cfg.Mode {
	case ModeTC:
	case ModeXDP:
		if cfg.Direction != DirectionIn {
			return cfg, fmt.Errorf("open capture: direction %s with xdp mode: XDP sees only received packets; use direction in, or mode tc for egress", cfg.Direction)
		}
	default:
		return cfg, fmt.Errorf("open capture: unknown mode %d", cfg.Mode)
	}
	if cfg.Direction > DirectionOut {
		return cfg, fmt.Errorf("open capture: unknown direction %d", cfg.Direction)
	}
	if cfg.Snaplen == 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.Snaplen > SnaplenMax {
		cfg.Snaplen = SnaplenMax
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 1
	}
	switch cfg.SampleMode {
	case 0:
		cfg.SampleMode = SampleRandom
	case SampleRandom, SampleFlow:
	default:
		return cfg, fmt.Errorf("open capture: unknown sample mode %d", cfg.SampleMode)
	}
	for cfg.FlowSeed == 0 {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return cfg, fmt.Errorf("open capture: pick a flow seed: %w", err)
		}
		cfg.FlowSeed = binary.NativeEndian.Uint32(b[:])
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	page := unix.Getpagesize()
	if cfg.RingSize < page || cfg.RingSize&(cfg.RingSize-1) != 0 || cfg.RingSize > 1<<30 {
		return cfg, fmt.Errorf("open capture: ring size %d is not a power of two between %d and %d", cfg.RingSize, page, 1<<30)
	}
	// Each wakeup costs the producer and the reader a few microseconds,
	// so the reader is woken only when half a ring waits (15% less CPU per
	// packet than an eighth, docs/BENCHMARKS.md); its deadline bounds the
	// latency at low rates.
	if cfg.OrderWindow == 0 {
		cfg.OrderWindow = DefaultOrderWindow
	}
	for i, name := range cfg.Interfaces {
		if slices.Contains(cfg.Interfaces[:i], name) {
			return cfg, fmt.Errorf("open capture: interface %q is given twice", name)
		}
	}
	if cfg.WakeupBytes == 0 {
		cfg.WakeupBytes = uint64(cfg.RingSize) / 2
	}
	return cfg, nil
}

// snapBytes is the room for packet bytes in the programs' largest record
// class (weir_snap_bytes): snaplen rounded up to 8, as the ring rounds every
// record.
func snapBytes(snaplen uint32) uint32 {
	return min((snaplen+7)&^7, SnaplenMax)
}

// notSupported wraps err with ErrNotSupported when the kernel lacks a
// feature.
func notSupported(err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	return err
}

// programsFor returns the names of the programs a capture with cfg attaches.
func programsFor(cfg Config) []string {
	switch {
	case cfg.Mode == ModeXDP:
		return []string{packetProgWeirXdpIngress}
	case cfg.Direction == DirectionIn:
		return []string{packetProgWeirTcIngress}
	case cfg.Direction == DirectionOut:
		return []string{packetProgWeirTcEgress}
	}
	return []string{packetProgWeirTcIngress, packetProgWeirTcEgress}
}

// allPrograms names every capture program, for tests that run them all.
var allPrograms = []string{packetProgWeirXdpIngress, packetProgWeirTcIngress, packetProgWeirTcEgress}

// verifierLogLevel is what load asks of the verifier's log. Tests set it to
// read the verifier's statistics; a capture needs no log.
var verifierLogLevel ebpf.LogLevel

// load loads the maps and the named programs and creates the rings, without
// attaching.
func load(cfg Config, progs []string) (*Capture, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("load capture programs: count possible cpus: %w", err)
	}
	spec, err := loadPacket()
	if err != nil {
		return nil, fmt.Errorf("load capture programs: %w", err)
	}
	rs := spec.Maps[packetMapWeirRings]
	rs.MaxEntries = uint32(ncpu)
	rs.InnerMap.MaxEntries = uint32(cfg.RingSize)
	if err := spec.Variables[packetVarWeirWakeupBytes].Set(cfg.WakeupBytes); err != nil {
		return nil, fmt.Errorf("load capture programs: set wakeup threshold: %w", err)
	}
	if err := spec.Variables[packetVarWeirSnapBytes].Set(snapBytes(cfg.Snaplen)); err != nil {
		return nil, fmt.Errorf("load capture programs: set snaplen class: %w", err)
	}
	if err := spec.Variables[packetVarWeirFlowSeed].Set(cfg.FlowSeed); err != nil {
		return nil, fmt.Errorf("load capture programs: set flow seed: %w", err)
	}
	if cfg.Filter != nil {
		for _, name := range progs {
			if err := replaceFilter(spec.Programs[name], cfg.Filter); err != nil {
				return nil, fmt.Errorf("load capture programs: %w", err)
			}
		}
	}
	// Load only the programs this capture attaches: the verifier takes
	// about 10 ms of CPU per program, a large part of a short capture's
	// start-up.
	for name := range spec.Programs {
		if !slices.Contains(progs, name) {
			delete(spec.Programs, name)
		}
	}
	// The programs' CO-RE relocations refer only to UAPI context structs
	// (xdp_md, __sk_buff) and to wire-format headers, whose layouts do not
	// change between kernels (TestRelocationsStable keeps it that way).
	// Relocating them against the object's own BTF gives the same offsets
	// as the kernel's BTF and saves parsing it: about 18 ms of CPU.
	opts := ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: spec.Types, LogLevel: verifierLogLevel}}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load capture programs: %w", notSupported(fmt.Errorf("%+v", ve)))
		}
		return nil, fmt.Errorf("load capture programs: %w", notSupported(err))
	}
	c := &Capture{cfg: cfg, coll: coll, objs: packetObjects{
		packetPrograms: packetPrograms{
			WeirXdpIngress: coll.Programs[packetProgWeirXdpIngress],
			WeirTcIngress:  coll.Programs[packetProgWeirTcIngress],
			WeirTcEgress:   coll.Programs[packetProgWeirTcEgress],
		},
		packetMaps: packetMaps{
			WeirCounters: coll.Maps[packetMapWeirCounters],
			WeirIfcfg:    coll.Maps[packetMapWeirIfcfg],
			WeirRings:    coll.Maps[packetMapWeirRings],
		},
	}}
	for cpu := 0; cpu < ncpu; cpu++ {
		m, err := ebpf.NewMap(&ebpf.MapSpec{
			Name:       fmt.Sprintf("weir_ring%d", cpu),
			Type:       ebpf.RingBuf,
			MaxEntries: uint32(cfg.RingSize),
		})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("create ring for cpu %d: %w", cpu, notSupported(err))
		}
		c.rings = append(c.rings, m)
		if err := c.objs.WeirRings.Put(uint32(cpu), m); err != nil {
			c.Close()
			return nil, fmt.Errorf("install ring for cpu %d: %w", cpu, err)
		}
	}
	// Consume hands ring memory back in steps under the wakeup threshold,
	// so a long pass does not keep the threshold crossed.
	giveBack := int(min(uint64(ring.DefaultGiveBack), max(cfg.WakeupBytes/2, 8)))
	c.reader, err = ring.NewReader(c.rings, ring.Options{Describe: Describe, GiveBack: giveBack})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("load capture programs: %w", err)
	}
	if cfg.OrderWindow >= 0 {
		c.reader.SetOrder(cfg.OrderWindow)
	}
	return c, nil
}

// FilterHook is the name of the filter hook function in the capture
// programs.
const FilterHook = "weir_filter"

// replaceFilter replaces the instructions of the filter hook in ps with
// body, keeping the function's symbol and BTF prototype so that calls still
// resolve to it and the verifier checks it against the same prototype.
//
// This is one of the two ways to install a filter. The other is freplace: a
// BPF_PROG_TYPE_EXT program attached to each loaded program's weir_filter
// (link.AttachFreplace). It needs no reload, but this project's standard
// machine refuses to load extension programs (EPERM, as for fentry).
func replaceFilter(ps *ebpf.ProgramSpec, body asm.Instructions) error {
	if len(body) == 0 {
		return fmt.Errorf("replace %s in %s: empty filter", FilterHook, ps.Name)
	}
	insns := ps.Instructions
	start := -1
	for i := range insns {
		if insns[i].Symbol() == FilterHook {
			start = i
			break
		}
	}
	if start < 0 {
		return fmt.Errorf("replace %s in %s: function not found", FilterHook, ps.Name)
	}
	end := len(insns)
	for j := start + 1; j < len(insns); j++ {
		if insns[j].Symbol() != "" {
			end = j
			break
		}
	}
	fn := btf.FuncMetadata(&insns[start])
	if fn == nil {
		return fmt.Errorf("replace %s in %s: function has no BTF", FilterHook, ps.Name)
	}
	out := make(asm.Instructions, 0, len(insns)-(end-start)+len(body))
	out = append(out, insns[:start]...)
	// The kernel wants line info at the start of every function when a
	// program has any: reuse the placeholder's.
	first := body[0].WithSymbol(FilterHook).WithSource(insns[start].Source())
	out = append(out, btf.WithFuncMetadata(first, fn))
	out = append(out, body[1:]...)
	if ps.Type != ebpf.XDP {
		// The TCX programs read packet bytes with bpf_skb_load_bytes,
		// which takes bpf_xdp_load_bytes' arguments.
		for i := start; i < len(out); i++ {
			if out[i].IsBuiltinCall() && asm.BuiltinFunc(out[i].Constant) == asm.FnXdpLoadBytes {
				out[i].Constant = int64(asm.FnSkbLoadBytes)
			}
		}
	}
	out = append(out, insns[end:]...)
	ps.Instructions = out
	return nil
}

// attachment is one program attached to one interface, with a name for
// errors such as "tcx egress on eth0".
type attachment struct {
	link link.Link
	what string
}

// attach attaches the programs cfg asks for to one interface.
func (c *Capture) attach(ifc Interface) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Mode == ModeXDP {
		l, err := link.AttachXDP(link.XDPOptions{Program: c.objs.WeirXdpIngress, Interface: ifc.Index})
		if err != nil {
			return fmt.Errorf("attach xdp to %s: %w", ifc.Name, notSupported(err))
		}
		c.links = append(c.links, attachment{l, "xdp on " + ifc.Name})
		return nil
	}
	if c.cfg.Direction != DirectionOut {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: c.objs.WeirTcIngress, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			return fmt.Errorf("attach tcx ingress to %s: %w", ifc.Name, notSupported(err))
		}
		c.links = append(c.links, attachment{l, "tcx ingress on " + ifc.Name})
	}
	if c.cfg.Direction != DirectionIn {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: c.objs.WeirTcEgress, Attach: ebpf.AttachTCXEgress})
		if err != nil {
			return fmt.Errorf("attach tcx egress to %s: %w", ifc.Name, notSupported(err))
		}
		c.links = append(c.links, attachment{l, "tcx egress on " + ifc.Name})
	}
	return nil
}

// SetInterface sets (or replaces) the sampling rate and snaplen for the
// interface with index ifindex; it samples in the capture's
// Config.SampleMode. The programs capture only on interfaces that have
// settings; Open sets them for cfg.Interfaces. rate 0 means 1; snaplen 0,
// and values above the Config.Snaplen the capture was opened with, mean
// that Snaplen, which sized the programs' largest record.
func (c *Capture) SetInterface(ifindex int, rate, snaplen uint32) error {
	if rate == 0 {
		rate = 1
	}
	if snaplen == 0 || snaplen > c.cfg.Snaplen {
		snaplen = c.cfg.Snaplen
	}
	val := packetWeirIfConfig{SampleRate: rate, Snaplen: snaplen, SampleMode: uint32(c.cfg.SampleMode)}
	if err := c.objs.WeirIfcfg.Put(uint32(ifindex), &val); err != nil {
		return fmt.Errorf("set config of ifindex %d: %w", ifindex, err)
	}
	return nil
}

// Interfaces returns the interfaces the capture is attached to.
func (c *Capture) Interfaces() []Interface {
	return append([]Interface(nil), c.ifaces...)
}

// Reader returns the reader over the capture's rings. Closing the Capture
// closes it.
func (c *Capture) Reader() *ring.Reader { return c.reader }

// Rings returns the per-CPU ring buffer maps, indexed by CPU. They belong to
// the Capture.
func (c *Capture) Rings() []*ebpf.Map { return c.rings }

// Programs returns the XDP ingress, TCX ingress and TCX egress programs, for
// tests. Open loads only those its Config attaches; the others are nil. They
// belong to the Capture.
func (c *Capture) Programs() (xdpIngress, tcIngress, tcEgress *ebpf.Program) {
	return c.objs.WeirXdpIngress, c.objs.WeirTcIngress, c.objs.WeirTcEgress
}

// Counters returns the kernel counters summed over CPUs.
func (c *Capture) Counters() (Counters, error) {
	per, err := c.CountersPerCPU()
	if err != nil {
		return Counters{}, err
	}
	var sum Counters
	for _, p := range per {
		sum.add(p)
	}
	return sum, nil
}

// CountersPerCPU returns the kernel counters of each possible CPU, indexed
// by CPU.
func (c *Capture) CountersPerCPU() ([]Counters, error) {
	var vals []packetWeirPktCounters
	if err := c.objs.WeirCounters.Lookup(uint32(0), &vals); err != nil {
		return nil, fmt.Errorf("read capture counters: %w", err)
	}
	out := make([]Counters, len(vals))
	for i, v := range vals {
		out[i] = Counters{Seen: v.Seen, Filtered: v.Filtered, SampledOut: v.SampledOut, Emitted: v.Emitted, RingFull: v.RingFull}
	}
	return out, nil
}

// Detach detaches every program from its interfaces, so that no new
// records enter the rings; the reader and the counters stay usable, for
// reading what the rings still hold. Close still must be called. Detach is
// idempotent.
func (c *Capture) Detach() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, a := range c.links {
		if err := a.link.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", a.what, err))
		}
	}
	c.links = nil
	return errors.Join(errs...)
}

// ErrInterfaceGone is wrapped by the error Poll ends with when an interface
// the capture is attached to was deleted or moved to another namespace.
var ErrInterfaceGone = errors.New("interface gone")

// CheckAttached returns an error wrapping ErrInterfaceGone, naming the
// interface, when an attached program's link has lost its interface: the
// kernel keeps such a link but sets its ifindex to 0, and no packet reaches
// the program any more. It costs one bpf syscall per link.
func (c *Capture) CheckAttached() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.links {
		info, err := a.link.Info()
		if err != nil {
			return fmt.Errorf("check %s: %w", a.what, err)
		}
		ifindex := uint32(1)
		if x := info.XDP(); x != nil {
			ifindex = x.Ifindex
		} else if t := info.TCX(); t != nil {
			ifindex = t.Ifindex
		}
		if ifindex == 0 {
			return fmt.Errorf("%s: %w (deleted, or moved to another network namespace)", a.what, ErrInterfaceGone)
		}
	}
	return nil
}

// Drained reports whether every record the programs emitted has been read
// from the rings: the kernel counters balance (no program is still between
// counting a packet and submitting its record) and the reader has taken,
// in batches, through Consume or as refused records, as many records as
// were emitted. After Detach it turns true once the rings are read dry.
func (c *Capture) Drained() (bool, error) {
	k, err := c.Counters()
	if err != nil {
		return false, err
	}
	st := c.reader.Stats()
	settled := k.Seen == k.Filtered+k.SampledOut+k.Emitted+k.RingFull
	return settled && st.Records+st.Rejected >= k.Emitted, nil
}

// Close detaches every program, closes the reader (memory of batches in
// flight stays mapped until they are released) and unloads everything. It
// returns the first error and still releases everything else.
func (c *Capture) Close() error {
	var errs []error
	if err := c.Detach(); err != nil {
		errs = append(errs, err)
	}
	if c.reader != nil {
		if err := c.reader.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range c.rings {
		m.Close()
	}
	c.rings = nil
	c.coll.Close()
	return errors.Join(errs...)
}

// Describe is the ring.Describer for packet records: it makes each record
// a cabi.KindPacket event covering the header and the captured bytes, with
// StreamID the ifindex, TsNs the capture time and cabi.FlagTruncated when
// fewer bytes were captured than were on the wire. It rejects records that
// are not packet records of this version or whose lengths do not fit.
func Describe(rec []byte, ev *cabi.Event) bool {
	h, _, ok := View(rec)
	if !ok {
		return false
	}
	ev.Kind = cabi.KindPacket
	ev.Len = uint32(HeaderSize) + h.CapLen
	ev.StreamID = uint64(h.Ifindex)
	ev.TsNs = h.TsNs
	if h.CapLen < h.OrigLen {
		ev.Flags |= cabi.FlagTruncated
	}
	return true
}

// ErrNoInterface is wrapped by Open's error for an interface name the host
// does not have.
var ErrNoInterface = errors.New("no such network interface")

// lookupInterfaces resolves interface names to indexes. An unknown name is
// an error that lists the names the host has.
func lookupInterfaces(names []string) ([]Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("open capture: list network interfaces: %w", err)
	}
	var out []Interface
	for _, name := range names {
		found := false
		for _, ifc := range all {
			if ifc.Name == name {
				out = append(out, Interface{Name: name, Index: ifc.Index})
				found = true
				break
			}
		}
		if !found {
			have := make([]string, len(all))
			for i, ifc := range all {
				have[i] = ifc.Name
			}
			return nil, fmt.Errorf("open capture: interface %q: %w (this host has: %s)", name, ErrNoInterface, strings.Join(have, ", "))
		}
	}
	return out, nil
}
