package isolate

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/plugin/isolate/shm"
)

// File descriptors the child inherits.
const (
	fdShm     = 3
	fdSock    = 4
	fdLibrary = 5
)

// Subcommand is the name of the weir subcommand that runs ChildMain.
const Subcommand = "plugin-host"

// RunChildIfAsked runs ChildMain and exits when the process was started as
// a plugin host (os.Args[1] is Subcommand). A test binary that makes
// isolated connectors calls it first thing in TestMain, since the host
// starts its own executable as the child.
func RunChildIfAsked() {
	if len(os.Args) > 1 && os.Args[1] == Subcommand {
		os.Exit(ChildMain(os.Args[2:]))
	}
}

// ChildMain is the child side of an isolated plugin, `weir plugin-host`,
// which only the host starts. args are the arguments after the subcommand.
// In its first stage it gives up every capability and sets no_new_privs,
// then executes itself again so that every thread of the second stage
// starts without them; the second stage checks that, loads the library
// from an inherited descriptor, installs the seccomp filter when asked,
// and serves the instance until destroy. It returns the exit code.
func ChildMain(args []string) int {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	typ := fs.String("type", "", "connector type ID")
	lib := fs.String("lib", "", "library path, for messages")
	mode := fs.String("mode", connector.IsolateProcess, "isolation mode")
	ppid := fs.Int("ppid", 0, "the host's process ID")
	stage := fs.Int("stage", 1, "start-up stage")
	spin := fs.Duration("spin", 0, "busy wait before sleeping")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Only weir starts this, with its descriptors in place. Run by hand,
	// 3 and 4 are whatever the shell had open there (or nothing), and a
	// message written to 4 would land in someone's file.
	if err := inherited(); err != nil {
		fmt.Fprintf(os.Stderr, "weir %s: this command serves an isolated plugin (isolate: process or seccomp in a config) and only weir itself starts it; it is not for direct use (%v)\n", Subcommand, err)
		return 2
	}
	sock := os.NewFile(fdSock, "plugin-host-socket")
	fatal := func(format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintf(os.Stderr, "weir plugin-host: %s\n", msg)
		if sock != nil {
			writeMsg(sock, msgFatal, []byte(msg))
		}
		return 1
	}
	if *stage == 1 {
		// The exec below happens on this thread, whose credentials the
		// new image inherits.
		goruntime.LockOSThread()
		if err := dropPrivileges(); err != nil {
			return fatal("drop privileges: %v", err)
		}
		exe := "/proc/self/exe"
		argv := append([]string{os.Args[0], Subcommand}, args...)
		argv = append(argv, "--stage=2")
		err := unix.Exec(exe, argv, os.Environ())
		return fatal("execute the second stage: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fatal("set parent-death signal: %v", err)
	}
	if *ppid != 0 && unix.Getppid() != *ppid {
		return fatal("the host (pid %d) is gone", *ppid)
	}
	// A crash in the plugin then prints one line naming the call (and
	// exits loader.FaultExitStatus), which the host passes on.
	loader.InstallFaultHandler()
	st, err := checkPrivileges()
	if err != nil {
		return fatal("%v", err)
	}
	reg, err := shm.Map(fdShm)
	if err != nil {
		return fatal("%v", err)
	}
	if err := reg.Check(); err != nil {
		return fatal("%v", err)
	}
	unix.Close(fdShm)
	l, err := loader.Options{AllowInsecure: true}.Load(fmt.Sprintf("/proc/self/fd/%d", fdLibrary))
	if err != nil {
		return fatal("load %s: %v", *lib, err)
	}
	t := l.Type(*typ)
	if t == nil {
		return fatal("library %s has no connector type %q", *lib, *typ)
	}
	if *mode == connector.IsolateSeccomp {
		f, err := os.Open("/proc/self/status")
		if err != nil {
			return fatal("%v", err)
		}
		if err := installSeccomp(); err != nil {
			return fatal("install seccomp filter: %v", err)
		}
		st.Seccomp, err = statusLineFrom(f, "Seccomp")
		f.Close()
		if err != nil {
			return fatal("%v", err)
		}
	}
	st.Base = uint64(reg.Base())
	st.Library, st.Version, st.PID = l.Name, l.Version, os.Getpid()
	out := &sockWriter{w: sock}
	js, _ := json.Marshal(st)
	if err := out.send(msgReady, js); err != nil {
		return 1
	}
	s := &server{reg: reg, typ: t, out: out, spin: *spin}
	s.host = newChildHost(out)
	goruntime.LockOSThread()
	return s.serve()
}

// inherited reports whether descriptors 3 and 4 are what the host passes:
// its shared memory (a memfd it named weir-isolate-...) and a Unix socket.
func inherited() error {
	target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fdShm))
	if err != nil || !strings.HasPrefix(target, "/memfd:"+shmNamePrefix) {
		return fmt.Errorf("descriptor %d is not weir's shared memory", fdShm)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fdSock, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("descriptor %d is not a socket", fdSock)
	}
	return nil
}

// sockWriter sends whole messages to the host from any goroutine.
type sockWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *sockWriter) send(typ byte, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeMsg(s.w, typ, payload)
}

// server runs one plugin instance in the child.
type server struct {
	reg  *shm.Region
	typ  *loader.ConnectorType
	inst *loader.Instance
	host *childHost
	out  *sockWriter
	spin time.Duration
}

// batch returns the batch header the child hands the plugin: it lives in
// the shared header page, outside the Go heap, as the loader requires.
func (s *server) batch() *cabi.Batch {
	return (*cabi.Batch)(s.reg.Ptr(shm.BatchOffset))
}

func (s *server) serve() int {
	for {
		e, ok, err := s.reg.SQ.Pop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "weir plugin-host: %v\n", err)
			return 1
		}
		if !ok {
			s.reg.SQ.Wait(s.spin, time.Second)
			continue
		}
		s.reg.SetCurrent(e.Op, e.Tag)
		c, reply := s.handle(e)
		s.reg.SetCurrent(0, e.Tag)
		s.host.flush()
		if !reply {
			continue
		}
		c.Op, c.Tag = e.Op, e.Tag
		for !s.reg.CQ.Push(c) {
			// Only one call waits for an answer at a time, so the ring
			// is never full unless the host is broken.
			time.Sleep(time.Millisecond)
		}
		if e.Op == opDestroy {
			return 0
		}
	}
}

// reply puts msg in the control area and returns a completion with status.
func (s *server) reply(st cabi.Status, msg string) shm.Entry {
	n := copy(s.reg.Mem[shm.CtrlOffset:shm.CtrlOffset+shm.CtrlSize], msg)
	return shm.Entry{Status: int32(st), D: uint64(n)}
}

func (s *server) errReply(err error) shm.Entry {
	if err == nil {
		return shm.Entry{Status: int32(cabi.OK)}
	}
	return s.reply(cabi.Error, err.Error())
}

func (s *server) handle(e shm.Entry) (shm.Entry, bool) {
	if s.inst == nil && e.Op != opCreate && e.Op != opDestroy {
		return s.reply(cabi.Error, opName(e.Op)+" before create"), e.Op != opAck && e.Op != opFail
	}
	switch e.Op {
	case opCreate:
		if e.A > shm.CtrlSize {
			return s.reply(cabi.Error, "config too large"), true
		}
		cfg := append([]byte(nil), s.reg.Mem[shm.CtrlOffset:shm.CtrlOffset+int(e.A)]...)
		inst, err := s.typ.Create(cfg, s.host)
		if err != nil {
			return s.errReply(err), true
		}
		s.inst = inst
		return shm.Entry{}, true
	case opConnect:
		st, err := s.inst.Connect(uint32(e.A))
		if err != nil {
			return s.errReply(err), true
		}
		if st == cabi.Retry {
			return s.reply(cabi.Retry, s.inst.LastError()), true
		}
		return shm.Entry{}, true
	case opStart:
		return s.errReply(s.inst.Start()), true
	case opPause:
		return s.errReply(s.inst.Pause()), true
	case opResume:
		return s.errReply(s.inst.Resume()), true
	case opDrain:
		return s.errReply(s.inst.Drain()), true
	case opStop:
		return s.errReply(s.inst.Stop()), true
	case opDestroy:
		if s.inst != nil {
			s.inst.Destroy()
		}
		return shm.Entry{}, true
	case opAck, opFail:
		var err error
		if e.Op == opAck {
			err = s.inst.Ack(e.A)
		} else {
			err = s.inst.Fail(e.A)
		}
		if err != nil {
			s.host.Log(cabi.LogWarn, fmt.Sprintf("plugin %s of batch %d failed: %v", opName(e.Op), e.A, err))
		}
		return shm.Entry{}, false
	case opPoll:
		return s.poll(e), true
	case opWrite, opProcess:
		if e.A > shm.MaxEvents || e.B > shm.MaxArena+shm.ExtraArena {
			return s.reply(cabi.Error, "batch larger than the shared area"), true
		}
		b := s.batch()
		*b = cabi.Batch{StructSize: cabi.BatchSize, EventSize: cabi.EventSize, Capacity: uint32(e.A), Len: uint32(e.A),
			Events: s.reg.Ptr(shm.EventsOffset), Arena: s.reg.Ptr(shm.ArenaOffset), ArenaCap: e.B, ArenaLen: e.B, ID: e.C}
		if e.Op == opProcess {
			return s.errReply(s.inst.Process(b)), true
		}
		st, err := s.inst.Write(b)
		if err != nil {
			return s.errReply(err), true
		}
		return shm.Entry{Status: int32(st)}, true
	}
	return s.reply(cabi.Error, "unknown "+opName(e.Op)), true
}

// poll runs the plugin's poll into the data area, copies bytes it lent
// from its own memory to after the arena, and turns every data pointer
// into an offset from the arena's start for the host.
func (s *server) poll(e shm.Entry) shm.Entry {
	if e.A == 0 || e.A > shm.MaxEvents || e.B > shm.MaxArena {
		return s.reply(cabi.Error, fmt.Sprintf("poll of %d events and %d bytes does not fit the shared area", e.A, e.B))
	}
	b := s.batch()
	*b = cabi.Batch{StructSize: cabi.BatchSize, EventSize: cabi.EventSize, Capacity: uint32(e.A),
		Events: s.reg.Ptr(shm.EventsOffset), Arena: s.reg.Ptr(shm.ArenaOffset), ArenaCap: e.B, ID: e.C}
	if e.B == 0 {
		b.Arena = nil
	}
	st, err := s.inst.Poll(b, time.Duration(e.D))
	if err != nil {
		return s.errReply(err)
	}
	extra := uint64(0)
	arena := uintptr(s.reg.Ptr(shm.ArenaOffset))
	for i := 0; i < int(b.Len); i++ {
		ev := b.Event(i)
		raw := (*uint64)(unsafe.Pointer(&ev.Data))
		if ev.Len == 0 {
			*raw = 0
			continue
		}
		if !b.InArena(ev) {
			if extra+uint64(ev.Len) > shm.ExtraArena {
				return s.reply(cabi.Error, fmt.Sprintf("the source lent %d bytes or more from its own memory; at most %d fit the shared area", extra+uint64(ev.Len), shm.ExtraArena))
			}
			off := shm.ArenaOffset + int(b.ArenaCap) + int(extra)
			copy(s.reg.Mem[off:off+int(ev.Len)], unsafe.Slice((*byte)(ev.Data), ev.Len))
			*raw = uint64(b.ArenaCap + extra)
			extra += uint64(ev.Len)
			continue
		}
		*raw = uint64(uintptr(ev.Data) - arena)
	}
	return shm.Entry{Status: int32(st), A: uint64(b.Len), B: b.ArenaLen, C: extra}
}

// childHost is the loader.Host of the instance in the child: it sends log
// lines and metric declarations to the host at once, gathers counter and
// gauge updates until the call ends (flush), and forwards wakeups without
// blocking the plugin's thread.
type childHost struct {
	out   *sockWriter
	names map[string]int32
	kinds []cabi.MetricKind
	vals  []int64
	dirty []bool
	wake  chan struct{}
	buf   []byte
}

func newChildHost(out *sockWriter) *childHost {
	h := &childHost{out: out, names: map[string]int32{}, wake: make(chan struct{}, 1)}
	go func() {
		for range h.wake {
			if out.send(msgWakeup, nil) != nil {
				return
			}
		}
	}()
	return h
}

// Log implements loader.Host.
func (h *childHost) Log(level int32, msg string) {
	p := make([]byte, 4+len(msg))
	binary.LittleEndian.PutUint32(p, uint32(level))
	copy(p[4:], msg)
	h.out.send(msgLog, p)
}

// RegisterMetric implements loader.Host.
func (h *childHost) RegisterMetric(name string, kind cabi.MetricKind, help string) int32 {
	if id, ok := h.names[name]; ok {
		if h.kinds[id] != kind {
			return -1
		}
		return id
	}
	id := int32(len(h.kinds))
	h.names[name] = id
	h.kinds = append(h.kinds, kind)
	h.vals = append(h.vals, 0)
	h.dirty = append(h.dirty, false)
	p := make([]byte, 12+len(name)+len(help))
	binary.LittleEndian.PutUint32(p, uint32(id))
	binary.LittleEndian.PutUint32(p[4:], uint32(kind))
	binary.LittleEndian.PutUint32(p[8:], uint32(len(name)))
	copy(p[12:], name)
	copy(p[12+len(name):], help)
	h.out.send(msgMetric, p)
	return id
}

// CounterAdd implements loader.Host.
func (h *childHost) CounterAdd(id int32, delta uint64) {
	if id >= 0 && int(id) < len(h.kinds) && h.kinds[id] == cabi.MetricCounter {
		h.vals[id] += int64(delta)
		h.dirty[id] = true
	}
}

// GaugeSet implements loader.Host.
func (h *childHost) GaugeSet(id int32, value int64) {
	if id >= 0 && int(id) < len(h.kinds) && h.kinds[id] == cabi.MetricGauge {
		h.vals[id] = value
		h.dirty[id] = true
	}
}

// Wakeup implements loader.Host; it never blocks.
func (h *childHost) Wakeup() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// flush sends the metric updates of the call that just ended.
func (h *childHost) flush() {
	p := h.buf[:0]
	for id, d := range h.dirty {
		if !d {
			continue
		}
		p = binary.LittleEndian.AppendUint32(p, uint32(id))
		p = binary.LittleEndian.AppendUint32(p, uint32(h.kinds[id]))
		p = binary.LittleEndian.AppendUint64(p, uint64(h.vals[id]))
		if h.kinds[id] == cabi.MetricCounter {
			h.vals[id] = 0
		}
		h.dirty[id] = false
	}
	h.buf = p
	if len(p) > 0 {
		h.out.send(msgValues, p)
	}
}
