package syscall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	ksys "github.com/weirproject/weir/ingest/syscall"
)

// Spec is the config of the "syscall" source connector.
var Spec = spec.Spec{
	{Name: "pids", Kind: spec.Strings, Default: []string{}, Doc: "Trace only these processes or threads, by pid; empty traces every process but weir itself."},
	{Name: "follow", Kind: spec.Bool, Default: false, Doc: "Also trace the children the traced pids fork from now on, and theirs."},
	{Name: "comms", Kind: spec.Strings, Default: []string{}, Doc: "Trace only tasks whose name starts with one of these (at most 8, each 1 to 15 bytes)."},
	{Name: "cgroup", Kind: spec.String, Default: "", Doc: "Trace only tasks in this cgroup v2 or below it: a path under the cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems), or relative to it."},
	{Name: "syscalls", Kind: spec.Strings, Default: []string{}, Doc: "Trace only these syscalls, by name or number on this machine's architecture; empty traces all."},
	{Name: "failed", Kind: spec.Bool, Default: false, Doc: "Keep only calls that returned an error."},
	{Name: "slower", Kind: spec.Duration, Default: "0s", Doc: "Keep only calls that took at least this long; 0 keeps all."},
	{Name: "sample", Kind: spec.Uint, Default: 1, Min: 1, Max: 1<<32 - 1, Doc: "Keep 1 call in this many, at random, after the filters."},
	{Name: "ring_size", Kind: spec.Size, Default: ksys.DefaultRingSize, Min: 4096, Max: 1 << 30, Doc: "Size of each CPU's ring buffer, a power of two."},
	{Name: "count", Kind: spec.Uint, Default: 0, Doc: "Stop after handing over this many calls, then end as a drained source does; 0 traces until stopped."},
	{Name: "order", Kind: spec.Bool, Default: true, Doc: "Merge the per-CPU rings so that calls come out in time order (of their return)."},
}

// sourceConfig is Spec decoded.
type sourceConfig struct {
	Pids     []string           `json:"pids"`
	Follow   bool               `json:"follow"`
	Comms    []string           `json:"comms"`
	Cgroup   string             `json:"cgroup"`
	Syscalls []string           `json:"syscalls"`
	Failed   bool               `json:"failed"`
	Slower   spec.DurationValue `json:"slower"`
	Sample   uint64             `json:"sample"`
	RingSize uint64             `json:"ring_size"`
	Count    uint64             `json:"count"`
	Order    bool               `json:"order"`
}

// NeedsPrivileges says what loading and attaching the programs needs.
const NeedsPrivileges = "tracing syscalls needs root, or the capabilities CAP_BPF and CAP_PERFMON"

// Source is the "syscall" source connector: an ingest/syscall Tracer
// whose records it hands to the engine without copying. Each Poll appends
// descriptors of syscall records (cabi.KindSyscall, starting at their
// record header) that point into the kernel rings, and gives the ring
// memory of the previous Poll back. The kernel cannot be paused: when the
// engine falls behind, the rings fill and the kernel counts the calls it
// could not record as ring full. Drain detaches the programs; Poll then
// hands over what the rings hold and answers cabi.EOF.
type Source struct {
	connector.Base
	cfg   ksys.Config
	count uint64
	out   uint64
	env   connector.Env

	// mu guards tracer and final against Counters, which may run on any
	// goroutine; the engine serializes every other call.
	mu     sync.Mutex
	tracer *ksys.Tracer
	final  []connector.Counter
}

var (
	_ connector.Source   = (*Source)(nil)
	_ connector.Counting = (*Source)(nil)
)

// New creates a syscall source from its JSON config. It only parses the
// config; Connect loads and attaches the programs.
func New(config []byte, env connector.Env) (*Source, error) {
	cfg, count, err := parse(config)
	if err != nil {
		return nil, fmt.Errorf("syscall source %s: %w", env.Name, err)
	}
	return &Source{cfg: cfg, count: count, env: env}, nil
}

// parse turns a config into a trace configuration and a call count,
// refusing what Open would refuse before it touches the kernel. An error
// about one field's value is a *spec.ValueError naming it (pids[1]), so
// that the config loader reports it at the value's FILE:LINE:COL.
func parse(config []byte) (ksys.Config, uint64, error) {
	var sc sourceConfig
	if err := spec.Decode(Spec, config, &sc); err != nil {
		return ksys.Config{}, 0, err
	}
	cfg := ksys.Config{
		Follow: sc.Follow, Comms: sc.Comms, Cgroup: sc.Cgroup, FailedOnly: sc.Failed,
		Slower: time.Duration(sc.Slower), SampleRate: uint32(sc.Sample), RingSize: int(sc.RingSize),
	}
	if !sc.Order {
		cfg.OrderWindow = -1
	}
	for i, p := range sc.Pids {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return cfg, 0, valueError(fmt.Sprintf("pids[%d]", i), "%q is not a pid", p)
		}
		if err := ksys.CheckConfig(ksys.Config{Pids: []int{n}}); err != nil {
			return cfg, 0, valueError(fmt.Sprintf("pids[%d]", i), "%s", checkMsg(err))
		}
		// Open refuses it too, at every attempt to connect.
		if pm, ok := pidMax(); ok && n >= pm {
			return cfg, 0, valueError(fmt.Sprintf("pids[%d]", i), "pid %d is not below the kernel's pid_max %d", n, pm)
		}
		cfg.Pids = append(cfg.Pids, n)
	}
	if len(sc.Comms) > ksys.MaxComms {
		return cfg, 0, valueError(fmt.Sprintf("comms[%d]", ksys.MaxComms), "%d process names given; at most %d", len(sc.Comms), ksys.MaxComms)
	}
	for i, c := range sc.Comms {
		if err := ksys.CheckConfig(ksys.Config{Comms: []string{c}}); err != nil {
			return cfg, 0, valueError(fmt.Sprintf("comms[%d]", i), "%s", checkMsg(err))
		}
	}
	for i, name := range sc.Syscalls {
		if strings.Trim(name, ", ") == "" && len(sc.Syscalls) > 1 {
			continue // as in "openat,,close"
		}
		nrs, err := ksys.ParseList(name)
		var ue *ksys.UnknownSyscallError
		if errors.As(err, &ue) {
			if s := spec.Suggest(strings.ToLower(ue.Name), ksys.Names()); len(s) > 0 {
				err = fmt.Errorf("%w; did you mean %s?", err, strings.Join(s[:min(len(s), 3)], ", "))
			}
		}
		if err != nil {
			return cfg, 0, valueError(fmt.Sprintf("syscalls[%d]", i), "%v", err)
		}
		cfg.Syscalls = append(cfg.Syscalls, nrs...)
	}
	if len(sc.Syscalls) > 0 && len(cfg.Syscalls) == 0 {
		return cfg, 0, valueError("syscalls[0]", "syscall list %q names no syscall", strings.Join(sc.Syscalls, ","))
	}
	if cfg.Cgroup != "" {
		if _, _, err := ksys.ResolveCgroup(cfg.Cgroup); err != nil {
			return cfg, 0, valueError("cgroup", "%v", err)
		}
	}
	if err := ksys.CheckConfig(ksys.Config{Slower: cfg.Slower}); err != nil {
		return cfg, 0, valueError("slower", "%s", checkMsg(err))
	}
	if err := ksys.CheckConfig(ksys.Config{RingSize: cfg.RingSize}); err != nil {
		return cfg, 0, valueError("ring_size", "%s", checkMsg(err))
	}
	if err := ksys.CheckConfig(ksys.Config{Follow: cfg.Follow, Pids: cfg.Pids}); err != nil {
		return cfg, 0, valueError("follow", "%s", checkMsg(err))
	}
	return cfg, sc.Count, ksys.CheckConfig(cfg)
}

// pidMax returns the kernel's pid_max, above which no pid is given.
func pidMax() (int, bool) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// valueError is a *spec.ValueError about the whole value of field.
func valueError(field, format string, args ...any) error {
	return &spec.ValueError{Field: field, Offset: -1, Msg: fmt.Sprintf(format, args...)}
}

// checkMsg is a CheckConfig error without the "open trace: " it starts
// with, which is no news in a config error.
func checkMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "open trace: ")
}

// Config returns the trace configuration the source was created with.
func (s *Source) Config() ksys.Config { return s.cfg }

// Connect loads the programs and attaches them. After a failure nothing
// stays attached, so the engine may call it again.
func (s *Source) Connect(ctx context.Context, attempt int) error {
	if s.tracer != nil {
		return nil
	}
	t, err := ksys.Open(s.cfg)
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return connector.Permanent(fmt.Errorf("syscall source %s: %s: %w", s.env.Name, NeedsPrivileges, err))
	case errors.Is(err, ksys.ErrNotSupported):
		return connector.Permanent(fmt.Errorf("syscall source %s: %w", s.env.Name, err))
	case err != nil:
		return fmt.Errorf("syscall source %s: %w", s.env.Name, err)
	}
	s.mu.Lock()
	s.tracer = t
	s.mu.Unlock()
	return nil
}

// Poll appends the records waiting in the rings (see Tracer.Poll).
func (s *Source) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if s.tracer == nil {
		return cabi.Error, fmt.Errorf("syscall source %s: poll before connect", s.env.Name)
	}
	if s.count > 0 && s.out >= s.count {
		return cabi.EOF, nil
	}
	capacity := b.Capacity
	if s.count > 0 {
		b.Capacity = uint32(min(uint64(capacity), uint64(b.Len)+s.count-s.out))
	}
	n, err := s.tracer.Poll(b, timeout)
	b.Capacity = capacity
	s.out += uint64(n)
	switch {
	case err == io.EOF:
		return cabi.EOF, nil
	case err != nil:
		return cabi.Error, fmt.Errorf("syscall source %s: %w", s.env.Name, err)
	case n == 0:
		return cabi.Timeout, nil
	}
	return cabi.OK, nil
}

// Drain stops intake: it detaches the programs, so the rings only empty.
func (s *Source) Drain() error {
	if s.tracer == nil {
		return nil
	}
	if err := s.tracer.Drain(); err != nil {
		return fmt.Errorf("syscall source %s: drain: %w", s.env.Name, err)
	}
	return nil
}

// Counters reports what happened to every call the kernel programs
// decided on: seen = filtered + sampled_out + emitted + ring_full +
// unpaired, and emitted = the events the engine polled + rejected +
// unread.
func (s *Source) Counters() []connector.Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracer == nil {
		return s.final
	}
	return s.counters()
}

func (s *Source) counters() []connector.Counter {
	k, err := s.tracer.Counters()
	if err != nil {
		return s.final
	}
	st := s.tracer.Reader().Stats()
	var unread uint64
	if taken := st.Records + st.Rejected; k.Emitted > taken {
		unread = k.Emitted - taken
	}
	return []connector.Counter{
		{Name: "seen", Help: "Syscalls the kernel programs decided on (every process's, when filtering by pid: a filtered call is seen too).", Value: k.Seen},
		{Name: "filtered", Help: "Syscalls the kernel filters rejected.", Value: k.Filtered},
		{Name: "sampled_out", Help: "Syscalls the kernel sampler skipped.", Value: k.SampledOut},
		{Name: "ring_full", Help: "Syscalls lost in the kernel for want of room in a CPU's ring or in the table of calls in progress.", Value: k.RingFull, Loss: true},
		{Name: "unfollowed", Help: "Children of traced processes left untraced: their pids are beyond the pid_max the trace started with (it was raised since). Processes, not calls.", Value: k.Unfollowed, Loss: true},
		{Name: "unpaired", Help: "Syscalls that entered while traced and never returned (the thread died, or tracing stopped first).", Value: k.Unpaired},
		{Name: "emitted", Help: "Syscall records the kernel programs wrote to the rings.", Value: k.Emitted},
		{Name: "rejected", Help: "Records in the rings that were not well-formed syscall records.", Value: st.Rejected},
		{Name: "unread", Help: "Records in the rings not yet polled (at exit: left unread).", Value: unread, Gauge: true},
	}
}

// Close detaches and unloads the programs, keeping the final counters. It
// is safe after a failed Connect.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracer == nil {
		return nil
	}
	s.final = s.counters()
	err := s.tracer.Close()
	s.tracer = nil
	return err
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "syscall",
		Description: "Traces syscalls with eBPF, filtered and sampled in the kernel, and hands the records over from the kernel rings without copying.",
		Roles:       connector.RoleSource,
		Unpausable:  true,
		Spec:        Spec,
		Check:       func(config []byte) error { _, _, err := parse(config); return err },
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
