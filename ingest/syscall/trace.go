package syscall

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/ring"
)

// ErrNotSupported is wrapped by errors that come from a kernel feature this
// package needs (raw tracepoints, ring buffers, BTF) being unavailable.
var ErrNotSupported = errors.New("not supported by this kernel")

// Hook selects the kind of program attached to the syscall tracepoints.
type Hook uint8

// Hooks. The zero value is HookAuto.
const (
	// HookAuto tries tp_btf and falls back to raw tracepoints where the
	// kernel refuses it.
	HookAuto Hook = iota
	// HookBTF attaches BTF-typed tracepoint programs (tp_btf, kernel
	// >= 5.13 with BTF: they keep calls in task storage).
	HookBTF
	// HookRaw attaches raw tracepoint programs (kernel >= 5.8, for the
	// ring buffers).
	HookRaw
)

// String returns "auto", "tp_btf" or "raw_tracepoint".
func (h Hook) String() string {
	switch h {
	case HookAuto:
		return "auto"
	case HookBTF:
		return "tp_btf"
	case HookRaw:
		return "raw_tracepoint"
	}
	return fmt.Sprintf("hook(%d)", uint8(h))
}

// Defaults for zero Config fields.
const (
	DefaultRingSize    = 4 << 20
	DefaultOrderWindow = time.Millisecond
)

// MaxComms is how many process-name prefixes a Config may give
// (WEIR_SYS_COMM_MAX).
const MaxComms = 8

// Config describes a trace. The zero value traces every syscall of every
// process but the tracer's own.
type Config struct {
	// Pids limits the trace to these processes (tgids) or threads
	// (tids). Empty traces every process.
	Pids []int
	// Follow adds every child the traced processes fork from now on,
	// and theirs, to Pids.
	Follow bool
	// Comms limits the trace to tasks whose name (comm, at most 15
	// bytes) starts with one of these, at most MaxComms of them.
	Comms []string
	// Cgroup limits the trace to tasks in this cgroup v2 or below it: a
	// path under the cgroup v2 mount (Cgroup2Root), absolute or relative
	// to it.
	Cgroup string
	// Syscalls limits the trace to these numbers (ParseList). Empty
	// traces every syscall.
	Syscalls []uint32
	// FailedOnly keeps only calls that returned an error.
	FailedOnly bool
	// Slower keeps only calls that took at least this long.
	Slower time.Duration
	// CountOnly counts the calls the filters and the sampler keep
	// (Counters.Counted) and writes no record. Without FailedOnly and
	// Slower, which need the return, a call is counted at entry and
	// costs one program run, not two.
	CountOnly bool
	// SampleRate keeps 1 call in SampleRate, chosen at random after the
	// filters; 0 and 1 keep every call.
	SampleRate uint32
	// RingSize is the size in bytes of each CPU's ring, a power of two
	// and a multiple of the page size; 0 means DefaultRingSize.
	RingSize int
	// WakeupBytes is how much data must wait in a ring before a record
	// wakes the reader; 0 means RingSize / 2. Below it, the reader's
	// deadline picks records up.
	WakeupBytes uint64
	// OrderWindow is how old a record must be before Poll hands it out,
	// merged with the other CPUs' by time; 0 means DefaultOrderWindow, a
	// negative value hands records out one CPU's after another's.
	OrderWindow time.Duration
	// Hook picks the program kind; zero is HookAuto.
	Hook Hook
}

// Counters are the kernel programs' syscall counters. For any snapshot,
// Seen == Filtered + SampledOut + Emitted + Counted + RingFull + Unpaired; calls
// still in progress are in none of them until they return (or, once
// tracing stopped, until Drain counts them as unpaired).
type Counters struct {
	Seen       uint64 // calls whose fate was decided
	Filtered   uint64 // rejected by a filter (at entry, or failed/slower at return)
	SampledOut uint64 // skipped by the sampler
	Emitted    uint64 // records written to a ring
	Counted    uint64 // kept and counted without a record (Config.CountOnly)
	RingFull   uint64 // lost for want of room in a ring or in the in-progress table
	Unpaired   uint64 // entered and never returned while traced (not lost: there was no return to record)
	TableFull  uint64 // of RingFull, those that found no room in the in-progress table (full, or the tid beyond the pid_max the trace started with)
	// Children of traced processes that Config.Follow could not trace:
	// their pids are beyond the pid_max the trace started with (it was
	// raised since). Not calls: none of their calls is in Seen.
	Unfollowed uint64
}

func (c *Counters) add(o Counters) {
	c.Seen += o.Seen
	c.Filtered += o.Filtered
	c.SampledOut += o.SampledOut
	c.Emitted += o.Emitted
	c.Counted += o.Counted
	c.RingFull += o.RingFull
	c.Unpaired += o.Unpaired
	c.TableFull += o.TableFull
	c.Unfollowed += o.Unfollowed
}

// Tracer is a running syscall trace: the loaded programs, their
// attachments, the per-CPU rings and a Reader over them. Its methods may be
// called from several goroutines at once, except Poll and Drain, which
// must not run concurrently with each other, and Close, which must be the
// last call.
type Tracer struct {
	coll   *ebpf.Collection
	maps   sysMaps
	hook   Hook
	mu     sync.Mutex // guards links and stopUnpaired
	links  []link.Link
	rings  []*ebpf.Map
	reader *ring.Reader
	cfg    Config
	// Calls found in progress when tracing stopped.
	stopUnpaired uint64
	last         *cabi.Batch
	draining     bool
}

// Program names of each hook, in the order of tracepoints.
var hookPrograms = map[Hook][5]string{
	HookBTF: {sysProgWeirSysEnterBtf, sysProgWeirSysExitBtf, sysProgWeirForkBtf, sysProgWeirTaskExitBtf, sysProgWeirExecBtf},
	HookRaw: {sysProgWeirSysEnterRaw, sysProgWeirSysExitRaw, sysProgWeirForkRaw, sysProgWeirTaskExitRaw, sysProgWeirExecRaw},
}

// The tracepoints the programs attach to; the fork hook only with Follow.
var tracepoints = [5]string{"sys_enter", "sys_exit", "sched_process_fork", "sched_process_exit", "sched_process_exec"}

// Open loads the programs, creates one ring per possible CPU, writes the
// filters and attaches. With HookAuto it attaches tp_btf programs and, if
// the kernel refuses them, raw tracepoint programs. On error nothing stays
// attached or loaded. Missing kernel features wrap ErrNotSupported; a
// missing privilege wraps unix.EPERM.
func Open(cfg Config) (*Tracer, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if cfg.Hook != HookAuto {
		return open(cfg, cfg.Hook)
	}
	t, err := open(cfg, HookBTF)
	if err == nil {
		return t, nil
	}
	t, rerr := open(cfg, HookRaw)
	if rerr != nil {
		return nil, fmt.Errorf("%w (tp_btf: %v)", rerr, err)
	}
	return t, nil
}

// CheckConfig reports what Open would refuse in cfg before touching the
// kernel.
func CheckConfig(cfg Config) error {
	_, err := cfg.normalize()
	return err
}

func (cfg Config) normalize() (Config, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 1
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	page := unix.Getpagesize()
	if cfg.RingSize < page || cfg.RingSize&(cfg.RingSize-1) != 0 || cfg.RingSize > 1<<30 {
		return cfg, fmt.Errorf("open trace: ring size %d is not a power of two between %d and %d", cfg.RingSize, page, 1<<30)
	}
	if cfg.WakeupBytes == 0 {
		cfg.WakeupBytes = uint64(cfg.RingSize) / 2
	}
	if cfg.OrderWindow == 0 {
		cfg.OrderWindow = DefaultOrderWindow
	}
	if len(cfg.Comms) > MaxComms {
		return cfg, fmt.Errorf("open trace: %d process names given; at most %d", len(cfg.Comms), MaxComms)
	}
	for _, c := range cfg.Comms {
		if c == "" || len(c) > 15 {
			return cfg, fmt.Errorf("open trace: process name %q: want 1 to 15 bytes (the kernel keeps 15 of a task's name)", c)
		}
	}
	for _, p := range cfg.Pids {
		if p <= 0 || p > 1<<22 {
			return cfg, fmt.Errorf("open trace: pid %d out of range", p)
		}
	}
	if cfg.Follow && len(cfg.Pids) == 0 {
		return cfg, errors.New("open trace: follow needs a pid to follow")
	}
	for _, nr := range cfg.Syscalls {
		if nr >= NrMax {
			return cfg, fmt.Errorf("open trace: syscall number %d: the programs look up numbers below %d", nr, NrMax)
		}
	}
	if cfg.Slower < 0 {
		return cfg, fmt.Errorf("open trace: negative slower-than threshold %v", cfg.Slower)
	}
	if cfg.Hook > HookRaw {
		return cfg, fmt.Errorf("open trace: unknown hook %d", cfg.Hook)
	}
	return cfg, nil
}

// CgroupV2Root is where the cgroup v2 hierarchy usually is; on hybrid
// systems (cgroup v1 controllers beside v2) it is at its "unified"
// directory, which Cgroup2Root finds.
const CgroupV2Root = "/sys/fs/cgroup"

// Cgroup2Root returns the mount point of the cgroup v2 hierarchy:
// CgroupV2Root when that is one, else the first cgroup2 mount listed in
// /proc/self/mountinfo (such as /sys/fs/cgroup/unified).
func Cgroup2Root() (string, error) {
	var fs unix.Statfs_t
	if unix.Statfs(CgroupV2Root, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
		return CgroupV2Root, nil
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find the cgroup v2 mount: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(l, " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return f[4], nil
		}
	}
	return "", fmt.Errorf("no cgroup v2 hierarchy is mounted: %w", ErrNotSupported)
}

// ResolveCgroup returns the id and depth (the root being 0) of a cgroup v2
// given by path: absolute under the cgroup v2 mount, relative to it, or
// absolute from the hierarchy's root as /proc/PID/cgroup shows it
// (/system.slice). Its errors say where the cgroup v2 hierarchy is mounted.
func ResolveCgroup(path string) (id uint64, level uint32, err error) {
	root, err := Cgroup2Root()
	if err != nil {
		return 0, 0, fmt.Errorf("cgroup %q: %w", path, err)
	}
	full := filepath.Clean(path)
	if full != root && !strings.HasPrefix(full, root+"/") {
		under := filepath.Join(root, path)
		if filepath.IsAbs(path) {
			if _, err := os.Stat(under); err != nil {
				return 0, 0, notCgroup2(full, root)
			}
		}
		full = under
	}
	var st unix.Stat_t
	if err := unix.Stat(full, &st); err != nil {
		switch {
		case !errors.Is(err, unix.ENOENT):
			return 0, 0, fmt.Errorf("cgroup %q: %w", path, err)
		case filepath.IsAbs(path):
			return 0, 0, fmt.Errorf("%s does not exist in the cgroup v2 hierarchy mounted at %s", full, root)
		}
		return 0, 0, fmt.Errorf("cgroup %q: %s does not exist (a relative path is taken from the cgroup v2 mount, %s)", path, full, root)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, 0, fmt.Errorf("%s is not a cgroup directory", full)
	}
	// A relative path can climb out of the mount with "..".
	var fs unix.Statfs_t
	if err := unix.Statfs(full, &fs); err != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return 0, 0, notCgroup2(full, root)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(full, root), "/")
	if rel != "" {
		level = uint32(strings.Count(rel, "/") + 1)
	}
	// On cgroup v2 a cgroup's id is its directory's inode number.
	return st.Ino, level, nil
}

// notCgroup2 says why path, absolute and outside the cgroup v2 mount at
// root, is no cgroup v2.
func notCgroup2(path, root string) error {
	var fs unix.Statfs_t
	switch err := unix.Statfs(path, &fs); {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%s does not exist, and is not under the cgroup v2 hierarchy, which is mounted at %s", path, root)
	case err == nil && fs.Type == unix.CGROUP_SUPER_MAGIC:
		return fmt.Errorf("%s is not a cgroup v2 directory (it is cgroup v1); the cgroup v2 hierarchy is mounted at %s", path, root)
	}
	return fmt.Errorf("%s is not a cgroup v2 directory; the cgroup v2 hierarchy is mounted at %s", path, root)
}

// open loads and attaches the programs of one hook.
func open(cfg Config, hook Hook) (*Tracer, error) {
	t, err := load(cfg, hook)
	if err != nil {
		return nil, err
	}
	if err := t.attach(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func notSupported(err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	return err
}

func load(cfg Config, hook Hook) (*Tracer, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("load syscall programs: count possible cpus: %w", err)
	}
	spec, err := loadSys()
	if err != nil {
		return nil, fmt.Errorf("load syscall programs: %w", err)
	}
	rs := spec.Maps[sysMapWeirRings]
	rs.MaxEntries = uint32(ncpu)
	rs.InnerMap.MaxEntries = uint32(cfg.RingSize)
	pidMax := pidMax()
	spec.Maps[sysMapWeirPids].MaxEntries = pidMax
	spec.Maps[sysMapWeirIncall].MaxEntries = pidMax
	tids := false
	for _, p := range cfg.Pids {
		if uint32(p) >= pidMax {
			return nil, fmt.Errorf("open trace: pid %d is not below the kernel's pid_max %d", p, pidMax)
		}
		tids = tids || isThread(p)
	}
	var comm [MaxComms][16]byte
	var commLen [MaxComms]uint8
	for i, c := range cfg.Comms {
		copy(comm[i][:], c)
		commLen[i] = uint8(len(c))
	}
	var cgID uint64
	var cgLevel uint32
	if cfg.Cgroup != "" {
		if cgID, cgLevel, err = ResolveCgroup(cfg.Cgroup); err != nil {
			return nil, fmt.Errorf("open trace: %w", err)
		}
	}
	b2u := func(b bool) uint8 {
		if b {
			return 1
		}
		return 0
	}
	vars := []struct {
		name string
		v    any
	}{
		{sysVarWeirWakeupBytes, cfg.WakeupBytes},
		{sysVarWeirSelfTgid, uint32(os.Getpid())},
		{sysVarWeirFilterPids, b2u(len(cfg.Pids) > 0)},
		{sysVarWeirPidsTids, b2u(tids)},
		{sysVarWeirFollow, b2u(cfg.Follow)},
		{sysVarWeirAllNumbers, b2u(len(cfg.Syscalls) == 0)},
		{sysVarWeirFailedOnly, b2u(cfg.FailedOnly)},
		{sysVarWeirCountOnly, b2u(cfg.CountOnly)},
		{sysVarWeirSlowerNs, uint64(cfg.Slower)},
		{sysVarWeirSampleRate, cfg.SampleRate},
		{sysVarWeirCgroupId, cgID},
		{sysVarWeirCgroupLevel, cgLevel},
		{sysVarWeirNcomm, uint32(len(cfg.Comms))},
		{sysVarWeirCommLen, commLen},
		{sysVarWeirComm, comm},
	}
	for _, v := range vars {
		if err := spec.Variables[v.name].Set(v.v); err != nil {
			return nil, fmt.Errorf("load syscall programs: set %s: %w", v.name, err)
		}
	}
	keep := hookPrograms[hook]
	for name := range spec.Programs {
		if !slices.Contains(keep[:], name) {
			delete(spec.Programs, name)
		}
	}
	if !cfg.Follow {
		delete(spec.Programs, keep[2])
	}
	// Each hook keeps its calls in progress in its own table: tp_btf in
	// task storage, which needs BTF, raw tracepoints in a hash.
	if hook == HookBTF {
		delete(spec.Maps, sysMapWeirInflight)
	} else {
		delete(spec.Maps, sysMapWeirCalls)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load syscall programs (%s): %w", hook, notSupported(fmt.Errorf("%+v", ve)))
		}
		return nil, fmt.Errorf("load syscall programs (%s): %w", hook, notSupported(err))
	}
	t := &Tracer{cfg: cfg, coll: coll, hook: hook, maps: sysMaps{
		WeirCounters: coll.Maps[sysMapWeirCounters],
		WeirExecstr:  coll.Maps[sysMapWeirExecstr],
		WeirInflight: coll.Maps[sysMapWeirInflight],
		WeirCalls:    coll.Maps[sysMapWeirCalls],
		WeirPids:     coll.Maps[sysMapWeirPids],
		WeirIncall:   coll.Maps[sysMapWeirIncall],
		WeirRings:    coll.Maps[sysMapWeirRings],
		WeirScratch:  coll.Maps[sysMapWeirScratch],
		WeirSysinfo:  coll.Maps[sysMapWeirSysinfo],
	}}
	if err := t.fillSysinfo(); err != nil {
		t.Close()
		return nil, err
	}
	for _, p := range cfg.Pids {
		if err := t.AddPid(p); err != nil {
			t.Close()
			return nil, err
		}
	}
	for cpu := 0; cpu < ncpu; cpu++ {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: fmt.Sprintf("weir_sysring%d", cpu), Type: ebpf.RingBuf, MaxEntries: uint32(cfg.RingSize)})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("create ring for cpu %d: %w", cpu, notSupported(err))
		}
		t.rings = append(t.rings, m)
		if err := t.maps.WeirRings.Put(uint32(cpu), m); err != nil {
			t.Close()
			return nil, fmt.Errorf("install ring for cpu %d: %w", cpu, err)
		}
	}
	giveBack := int(min(uint64(ring.DefaultGiveBack), max(cfg.WakeupBytes/2, 8)))
	t.reader, err = ring.NewReader(t.rings, ring.Options{Describe: Describe, GiveBack: giveBack})
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("load syscall programs: %w", err)
	}
	if cfg.OrderWindow >= 0 {
		t.reader.SetOrder(cfg.OrderWindow)
	}
	return t, nil
}

// fillSysinfo writes, for every number below NrMax, whether to trace it
// and what to decode.
func (t *Tracer) fillSysinfo() error {
	keys := make([]uint32, NrMax)
	vals := make([]sysWeirSysInfo, NrMax)
	traced := make([]bool, NrMax)
	if len(t.cfg.Syscalls) == 0 {
		for i := range traced {
			traced[i] = true
		}
	}
	for _, nr := range t.cfg.Syscalls {
		traced[nr] = true
	}
	for nr := range keys {
		keys[nr] = uint32(nr)
		name := Name(uint32(nr))
		v := sysWeirSysInfo{}
		if traced[nr] {
			v.Trace = 1
			if noReturn[name] {
				v.Trace |= 2
			}
		}
		if d, ok := decoders[name]; ok {
			v.Decode, v.A, v.B = d.kind, d.a, d.b
		}
		vals[nr] = v
	}
	if _, err := t.maps.WeirSysinfo.BatchUpdate(keys, vals, nil); err != nil {
		for i := range keys {
			if err := t.maps.WeirSysinfo.Put(keys[i], vals[i]); err != nil {
				return fmt.Errorf("write syscall table: %w", err)
			}
		}
	}
	return nil
}

// pidMax returns the kernel's pid_max, which bounds every pid and tid,
// or the largest it can be (PID_MAX_LIMIT on 64-bit) when unreadable.
func pidMax() uint32 {
	const limit = 4 << 20
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return limit
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || n == 0 || n > limit {
		return limit
	}
	return uint32(n)
}

// isThread reports whether pid names a thread that is not its process's
// leader (its Tgid differs), so the filter must look up tids too.
func isThread(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		// /proc/PID/status is there only for leaders; a tid is
		// under /proc/PID/task, and still reachable as /proc/TID.
		return true
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
			return strings.TrimSpace(v) != strconv.Itoa(pid)
		}
	}
	return true
}

// AddPid adds a process (tgid) to the traced set. It is how a tracer that
// starts a command adds it before letting it run. It has no effect on a
// trace of every process. A thread that is not its process's leader is
// traced only when the Config named one (Config.Pids).
func (t *Tracer) AddPid(pid int) error {
	if err := t.maps.WeirPids.Put(uint32(pid), uint8(1)); err != nil {
		return fmt.Errorf("trace pid %d: %w", pid, err)
	}
	return nil
}

// attachOrder attaches sys_enter last, so that the programs that clear a
// thread's in-call mark (at return, exit, exec) are there before any mark
// is set: a call that entered before sys_exit was attached returned unseen,
// and its mark was taken by the thread's next return, pairing that call
// with another's return value. Detach closes the links in the reverse
// order, sys_enter first, so the calls in progress may still return.
var attachOrder = [5]int{1, 2, 3, 4, 0}

func (t *Tracer) attach() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	progs := hookPrograms[t.hook]
	for _, i := range attachOrder {
		p := t.coll.Programs[progs[i]]
		if p == nil {
			continue // fork hook without Follow
		}
		var l link.Link
		var err error
		if t.hook == HookBTF {
			l, err = link.AttachTracing(link.TracingOptions{Program: p})
		} else {
			l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tracepoints[i], Program: p})
		}
		if err != nil {
			return fmt.Errorf("attach %s to %s: %w", t.hook, tracepoints[i], notSupported(err))
		}
		t.links = append(t.links, l)
	}
	return nil
}

// Hook returns the kind of program attached.
func (t *Tracer) Hook() Hook { return t.hook }

// Reader returns the reader over the rings. Closing the Tracer closes it.
func (t *Tracer) Reader() *ring.Reader { return t.reader }

// Counters returns the kernel counters summed over CPUs, with the calls
// found in progress when tracing stopped counted as unpaired.
func (t *Tracer) Counters() (Counters, error) {
	per, err := t.CountersPerCPU()
	if err != nil {
		return Counters{}, err
	}
	var sum Counters
	for _, p := range per {
		sum.add(p)
	}
	t.mu.Lock()
	sum.Seen += t.stopUnpaired
	sum.Unpaired += t.stopUnpaired
	t.mu.Unlock()
	return sum, nil
}

// CountersPerCPU returns the kernel counters of each possible CPU. On each,
// Seen == Filtered + SampledOut + Emitted + Counted + RingFull + Unpaired. Calls
// found in progress when tracing stopped are not in them (Counters adds
// them).
func (t *Tracer) CountersPerCPU() ([]Counters, error) {
	var vals []sysWeirSysCounters
	if err := t.maps.WeirCounters.Lookup(uint32(0), &vals); err != nil {
		return nil, fmt.Errorf("read syscall counters: %w", err)
	}
	out := make([]Counters, len(vals))
	for i, v := range vals {
		out[i] = Counters{Seen: v.Seen, Filtered: v.Filtered, SampledOut: v.SampledOut, Emitted: v.Emitted,
			Counted: v.Counted, RingFull: v.RingFull, Unpaired: v.Unpaired, TableFull: v.TableFull,
			Unfollowed: v.Unfollowed}
	}
	return out, nil
}

// Detach detaches every program, so that no call enters the trace any
// more, then counts the calls left in progress as unpaired and forgets
// them. The reader and counters stay usable. Detach is idempotent.
func (t *Tracer) Detach() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, l := range slices.Backward(t.links) {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", t.hook, err))
		}
	}
	if t.links != nil {
		t.links = nil
		// No program runs any more: a thread still marked in a call
		// entered it while traced and has not returned.
		n, err := t.inCall()
		if err != nil {
			errs = append(errs, fmt.Errorf("count calls in progress: %w", err))
		}
		t.stopUnpaired += n
	}
	return errors.Join(errs...)
}

// inCall returns the number of threads weir_incall marks as inside a
// traced call: the programs count each mark they set or clear in
// in_progress, on the CPU where they do it, so the sum over CPUs is the
// number of marks set. Reading the array itself would take a batch lookup
// of pid_max entries (0.3 s where pid_max is 4194304, as systemd sets it).
func (t *Tracer) inCall() (uint64, error) {
	var vals []sysWeirSysCounters
	if err := t.maps.WeirCounters.Lookup(uint32(0), &vals); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range vals {
		n += v.InProgress // modulo 2^64: a CPU may clear more marks than it set
	}
	if int64(n) < 0 {
		return 0, fmt.Errorf("the programs cleared %d marks more than they set", -int64(n))
	}
	return n, nil
}

// Drained reports whether every record the programs emitted has been read.
func (t *Tracer) Drained() (bool, error) {
	k, err := t.Counters()
	if err != nil {
		return false, err
	}
	st := t.reader.Stats()
	return st.Records+st.Rejected >= k.Emitted, nil
}

// Poll gives the ring memory of the previous Poll's events back to the
// kernel, then appends descriptors of the syscall records now waiting to b
// (cabi.KindSyscall events pointing into the rings, TsNs in Unix
// nanoseconds), waiting up to timeout for the first. After Drain it returns
// io.EOF once every emitted record has been read.
func (t *Tracer) Poll(b *cabi.Batch, timeout time.Duration) (int, error) {
	if err := t.release(); err != nil {
		return 0, err
	}
	if t.draining {
		timeout = min(timeout, time.Millisecond)
	}
	n, err := t.reader.Append(b, timeout)
	if err != nil {
		return 0, fmt.Errorf("read rings: %w", err)
	}
	if n > 0 {
		t.last = b
		return n, nil
	}
	if t.draining {
		done, err := t.Drained()
		if err != nil {
			return 0, err
		}
		if done {
			return 0, io.EOF
		}
	}
	return 0, nil
}

func (t *Tracer) release() error {
	if t.last == nil {
		return nil
	}
	b := t.last
	t.last = nil
	if err := t.reader.Release(b); err != nil {
		return fmt.Errorf("release ring batch: %w", err)
	}
	return nil
}

// Drain stops intake (Detach) and stops holding records back for
// ordering; Poll then returns what the rings hold, then io.EOF.
func (t *Tracer) Drain() error {
	t.draining = true
	if t.cfg.OrderWindow >= 0 {
		t.reader.SetOrder(0)
	}
	return errors.Join(t.Detach(), t.release())
}

// Close detaches and unloads everything; memory of batches in flight stays
// mapped until they are released.
func (t *Tracer) Close() error {
	var errs []error
	if err := t.Detach(); err != nil {
		errs = append(errs, err)
	}
	if t.reader != nil {
		if err := t.reader.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range t.rings {
		m.Close()
	}
	t.rings = nil
	t.coll.Close()
	return errors.Join(errs...)
}

// Describe is the ring.Describer for syscall records: each becomes a
// cabi.KindSyscall event covering the record, StreamID the pid, TsNs the
// time of the return, and cabi.FlagTruncated when a string was cut. It
// rejects records that ReadSyscall would refuse.
func Describe(rec []byte, ev *cabi.Event) bool {
	v, err := cabi.ReadSyscall(rec)
	if err != nil {
		return false
	}
	h := &v.Header
	ev.Kind = cabi.KindSyscall
	ev.Len = h.Size
	ev.StreamID = uint64(h.Pid)
	ev.TsNs = h.TsNs
	if h.Flags&(cabi.SysStr0Truncated|cabi.SysStr1Truncated) != 0 {
		ev.Flags |= cabi.FlagTruncated
	}
	return true
}
