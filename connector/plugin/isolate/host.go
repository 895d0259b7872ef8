package isolate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/plugin/isolate/shm"
)

// DefaultDeadline bounds a call when Options.Deadline is 0.
const DefaultDeadline = 10 * time.Second

// StartTimeout bounds how long New waits for the child to be ready (two
// executions of weir and loading the library), apart from the deadline
// of calls, which may be much shorter.
const StartTimeout = 30 * time.Second

// Options tune New.
type Options struct {
	// Name is the connector instance's name, for messages.
	Name string
	// Mode is connector.IsolateProcess or connector.IsolateSeccomp.
	Mode string
	// Deadline bounds each call, beyond a poll's own timeout; a call
	// that takes longer kills the child. 0 means DefaultDeadline.
	Deadline time.Duration
	// Log receives the child's start and death, already tagged with the
	// connector's name and type, as the engine's loggers are; nil means
	// slog.Default() so tagged.
	Log *slog.Logger
	// Command is the program and leading arguments that run ChildMain;
	// nil means this executable with Subcommand.
	Command []string
	// Spin is how long a waiting side (host or child) checks the ring
	// before it sleeps on the futex; 0 sleeps at once. On a busy machine
	// with few cores spinning steals the time the other side needs: with
	// 2 cores and a load of about 20, a 20µs spin made a batch's round
	// trip several times slower (docs/BENCHMARKS.md).
	Spin time.Duration
}

// Conn is one plugin instance served by a child process. It implements
// connector.Source, Sink and Processor (AckingConn adds Acker) by sending each call to the
// child through shared memory; the runtime calls only the roles the type
// has. When the child dies or a call passes the deadline, every later
// call returns an error wrapping connector.ErrLost, so the runtime
// restarts the connector (Close, then a new Conn and child).
//
// Like any connector instance, a Conn is not safe for concurrent calls,
// except Counters.
type Conn struct {
	typ  *loader.ConnectorType
	host loader.Host
	opts Options
	log  *slog.Logger

	reg    *shm.Region
	cmd    *exec.Cmd
	sock   *os.File
	stderr *tail
	status childStatus
	tag    uint64
	closed bool

	// exited is closed by the reaper once the child is gone; death
	// holds why, set before.
	exited   chan struct{}
	reaped   chan struct{} // closed when reap is done with the region
	death    atomic.Pointer[string]
	expected atomic.Bool // the child was told to exit, or killed by us
	ready    chan error
	// staged holds the data address each event had in the child when
	// stage last wrote it.
	staged []uint64
	// wire holds the descriptors the child answered, read once.
	wire []wireEvent

	crashes, kills atomic.Uint64
	cpuNs          atomic.Uint64 // the child's CPU time once it is gone
}

var (
	_ connector.Source    = (*Conn)(nil)
	_ connector.Sink      = (*Conn)(nil)
	_ connector.Processor = (*Conn)(nil)
	_ connector.Acker     = AckingConn{}
	_ connector.Counting  = (*Conn)(nil)
)

// New starts a child process that loads t's library and creates an
// instance of t with config, then returns the host side. host receives
// the instance's log lines, metrics and wakeups, as for an in-process
// instance.
func New(t *loader.ConnectorType, config []byte, host loader.Host, opts Options) (*Conn, error) {
	if opts.Mode != connector.IsolateProcess && opts.Mode != connector.IsolateSeccomp {
		return nil, fmt.Errorf("isolate %s: unknown mode %q", opts.Name, opts.Mode)
	}
	if opts.Deadline <= 0 {
		opts.Deadline = DefaultDeadline
	}
	opts.Spin = max(opts.Spin, 0)
	if opts.Log == nil {
		opts.Log = slog.Default().With("connector", opts.Name, "type", t.ID)
	}
	if len(config) > shm.CtrlSize {
		return nil, fmt.Errorf("isolate %s: config of %d bytes is larger than %d", opts.Name, len(config), shm.CtrlSize)
	}
	c := &Conn{typ: t, host: host, opts: opts, exited: make(chan struct{}), reaped: make(chan struct{}), ready: make(chan error, 1)}
	c.log = opts.Log.With("library", t.Library().Path)
	if err := c.spawn(); err != nil {
		return nil, fmt.Errorf("isolate %s: %w", opts.Name, err)
	}
	select {
	case err := <-c.ready:
		if err != nil && errors.Is(err, errClosedEarly) {
			// The child died; say how.
			select {
			case <-c.exited:
				err = errors.New(*c.death.Load())
			case <-time.After(time.Second):
			}
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("isolate %s: start plugin host: %w", opts.Name, err)
		}
	case <-c.exited:
		c.Close()
		return nil, fmt.Errorf("isolate %s: start plugin host: %s", opts.Name, *c.death.Load())
	case <-time.After(StartTimeout):
		c.kill("start")
		c.Close()
		return nil, fmt.Errorf("isolate %s: the plugin host did not start within %v", opts.Name, StartTimeout)
	}
	copy(c.reg.Mem[shm.CtrlOffset:], config)
	r, err := c.call(opCreate, shm.Entry{A: uint64(len(config))}, 0)
	if err == nil && r.Status != int32(cabi.OK) {
		err = errors.New(c.message(r))
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("create %s/%s: %w", t.Library().Name, t.ID, err)
	}
	return c, nil
}

// spawnReq asks the spawner thread to start a command.
type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// start starts cmd from one thread that lives as long as the process: the
// parent-death signal is tied to the thread that forked the child, and
// the Go runtime ends threads whose goroutine exits while locked to them.
func start(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go spawner()
	})
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawnCh <- r
	return <-r.done
}

// spawner starts the commands it is sent, on a thread of its own for
// the life of the process.
func spawner() {
	goruntime.LockOSThread()
	for r := range spawnCh {
		r.done <- r.cmd.Start()
	}
}

func (c *Conn) spawn() error {
	reg, memfd, err := shm.Create(shmNamePrefix + c.opts.Name)
	if err != nil {
		return err
	}
	c.reg = reg
	// One owner for the descriptor: an os.File closes it when collected.
	memFile := os.NewFile(uintptr(memfd), "shm")
	defer memFile.Close()
	lib, err := os.Open(c.typ.Library().Path)
	if err != nil {
		return fmt.Errorf("open plugin library: %w", err)
	}
	defer lib.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	c.sock = os.NewFile(uintptr(fds[0]), "plugin-host")
	theirs := os.NewFile(uintptr(fds[1]), "plugin-host-child")
	defer theirs.Close()
	argv := c.opts.Command
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the weir executable: %w", err)
		}
		argv = []string{exe, Subcommand}
	}
	args := append(append([]string(nil), argv[1:]...),
		"--type="+c.typ.ID, "--lib="+c.typ.Library().Path, "--mode="+c.opts.Mode,
		"--ppid="+strconv.Itoa(os.Getpid()), "--spin="+c.opts.Spin.String())
	cmd := exec.Command(argv[0], args...)
	cmd.ExtraFiles = []*os.File{memFile, theirs, lib}
	c.stderr = &tail{max: 64 << 10}
	cmd.Stderr = c.stderr
	cmd.WaitDelay = time.Second
	// Its own process group: a Ctrl-C at the terminal is the host's to
	// handle (it drains the instance); the child dies with the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	c.cmd = cmd
	go c.reap()
	go c.read()
	return nil
}

// shmNamePrefix starts the name of the memfd a child inherits, which
// the child checks to refuse being run by hand.
const shmNamePrefix = "weir-isolate-"

var errClosedEarly = errors.New("the plugin host closed its socket before it was ready")

// reap waits for the child, records why it ended, and wakes whatever
// waits for it.
func (c *Conn) reap() {
	err := c.cmd.Wait()
	if ps := c.cmd.ProcessState; ps != nil {
		c.cpuNs.Store(uint64((ps.UserTime() + ps.SystemTime()).Nanoseconds()))
	}
	op, _ := c.reg.Current()
	why := c.cause(err)
	msg := fmt.Sprintf("plugin connector %q (type %s, library %s) ", c.opts.Name, c.typ.ID, c.typ.Library().Path)
	if op != 0 {
		msg += "died in " + opName(op) + ": " + why
	} else {
		msg += "died between calls: " + why
	}
	c.death.Store(&msg)
	crashed := !c.expected.Load()
	if crashed {
		c.crashes.Add(1)
	}
	close(c.exited)
	c.reg.CQ.Kick()
	close(c.reaped)
	if crashed {
		c.log.Error("isolated plugin crashed", "call", callName(op), "cause", why)
		c.host.Wakeup()
	}
}

func callName(op uint32) string {
	if op == 0 {
		return "none"
	}
	return opName(op)
}

// cause describes how the child ended: a signal, or an exit status with
// the line of its standard error that says why (a Go runtime's "signal
// SIGSEGV: segmentation violation", a panic).
func (c *Conn) cause(err error) string {
	var why string
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			why = "killed by signal " + unix.SignalName(ws.Signal())
			if ws.Signal() == unix.SIGSYS {
				why += " (a system call outside the seccomp allow-list)"
			}
		} else {
			why = fmt.Sprintf("exit status %d", ee.ExitCode())
		}
	case err != nil:
		why = err.Error()
	default:
		why = "exit status 0"
	}
	if line := c.stderr.reason(); line != "" {
		why = line + " (" + why + ")"
	}
	return why
}

// read takes the child's messages until the socket closes.
func (c *Conn) read() {
	r := bufio.NewReader(c.sock)
	ids := map[int32]int32{} // child's metric id -> host's
	var buf []byte
	for {
		typ, p, err := readMsg(r, buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				c.log.Warn("plugin host sent a bad message; killing it", "err", err)
				c.kill("message")
			}
			select {
			case c.ready <- errClosedEarly:
			default:
			}
			return
		}
		buf = p[:0]
		switch typ {
		case msgReady:
			var st childStatus
			if err := json.Unmarshal(p, &st); err != nil {
				c.ready <- fmt.Errorf("bad ready message: %w", err)
				continue
			}
			c.status = st
			c.log.Debug("plugin host ready", "pid", st.PID, "caps", st.Caps, "no_new_privs", st.NoNewPrivs, "seccomp", st.Seccomp)
			c.ready <- nil
		case msgFatal:
			c.ready <- errors.New(string(p))
		case msgLog:
			if len(p) >= 4 {
				c.host.Log(int32(binary.LittleEndian.Uint32(p)), string(p[4:]))
			}
		case msgMetric:
			if len(p) < 12 {
				continue
			}
			id, kind, n := int32(binary.LittleEndian.Uint32(p)), cabi.MetricKind(binary.LittleEndian.Uint32(p[4:])), binary.LittleEndian.Uint32(p[8:])
			if uint64(n) > uint64(len(p)-12) {
				continue
			}
			ids[id] = c.host.RegisterMetric(string(p[12:12+n]), kind, string(p[12+n:]))
		case msgValues:
			for ; len(p) >= 16; p = p[16:] {
				hid, ok := ids[int32(binary.LittleEndian.Uint32(p))]
				if !ok || hid < 0 {
					continue
				}
				v := binary.LittleEndian.Uint64(p[8:])
				if cabi.MetricKind(binary.LittleEndian.Uint32(p[4:])) == cabi.MetricCounter {
					c.host.CounterAdd(hid, v)
				} else {
					c.host.GaugeSet(hid, int64(v))
				}
			}
		case msgWakeup:
			c.host.Wakeup()
		}
	}
}

// dead reports whether the child is gone.
func (c *Conn) dead() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// lost is the error of a call on a dead child.
func (c *Conn) lost() error {
	msg := "plugin host is gone"
	if p := c.death.Load(); p != nil {
		msg = *p
	}
	return fmt.Errorf("%s: %w", msg, connector.ErrLost)
}

// kill ends the child with SIGKILL and waits, a bounded time, until it
// is reaped. why names the call that overran, for the log.
func (c *Conn) kill(why string) {
	c.expected.Store(true)
	if c.cmd != nil && c.cmd.Process != nil {
		// The whole process group: whatever the plugin started goes too.
		unix.Kill(-c.cmd.Process.Pid, unix.SIGKILL)
		c.cmd.Process.Kill()
	}
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.log.Error("isolated plugin does not die after SIGKILL; abandoning it", "pid", c.cmd.Process.Pid)
	}
}

// call submits op and waits for its completion, for the deadline plus
// extra. The child is killed when it overruns, and a dead child's error
// wraps connector.ErrLost.
func (c *Conn) call(op uint32, e shm.Entry, extra time.Duration) (shm.Entry, error) {
	if c.dead() {
		return shm.Entry{}, c.lost()
	}
	c.tag++
	e.Op, e.Tag = op, c.tag
	deadline := time.Now().Add(c.opts.Deadline + extra)
	if err := c.push(e, deadline); err != nil {
		return shm.Entry{}, err
	}
	for {
		r, ok, err := c.reg.CQ.Pop()
		if err != nil {
			c.log.Error("isolated plugin corrupted its completion ring; killing it")
			c.kill(opName(op))
			return shm.Entry{}, c.lost()
		}
		if ok {
			if r.Tag == e.Tag && r.Op == op {
				return r, nil
			}
			continue
		}
		if c.dead() {
			return shm.Entry{}, c.lost()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return shm.Entry{}, c.overran(op, extra)
		}
		c.reg.CQ.Wait(c.opts.Spin, min(left, 100*time.Millisecond))
	}
}

// overran kills a child whose call took longer than the deadline.
func (c *Conn) overran(op uint32, extra time.Duration) error {
	c.kills.Add(1)
	c.crashes.Add(1)
	c.log.Error("isolated plugin call passed its deadline; killing the plugin host", "call", opName(op), "deadline", c.opts.Deadline+extra)
	c.kill(opName(op))
	msg := fmt.Sprintf("plugin connector %q (type %s, library %s) did not return from %s within %v; killed",
		c.opts.Name, c.typ.ID, c.typ.Library().Path, opName(op), c.opts.Deadline+extra)
	c.death.Store(&msg)
	return fmt.Errorf("%s: %w", msg, connector.ErrLost)
}

// push puts e on the submission ring, waiting while acks fill it.
func (c *Conn) push(e shm.Entry, deadline time.Time) error {
	for !c.reg.SQ.Push(e) {
		if c.dead() {
			return c.lost()
		}
		if time.Now().After(deadline) {
			return c.overran(e.Op, 0)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// message returns the error text of completion r: the loader's error in
// the child, which names the library, type and call.
func (c *Conn) message(r shm.Entry) string {
	n := min(r.D, shm.CtrlSize)
	msg := strings.ToValidUTF8(string(c.reg.Mem[shm.CtrlOffset:shm.CtrlOffset+int(n)]), "?")
	if msg == "" {
		msg = "no error message"
	}
	return msg
}

// lifecycle runs a call that answers OK or an error.
func (c *Conn) lifecycle(op uint32) error {
	r, err := c.call(op, shm.Entry{}, 0)
	if err != nil {
		return err
	}
	if r.Status != int32(cabi.OK) {
		return errors.New(c.message(r))
	}
	return nil
}

// Connect calls the plugin's connect with attempt; a WEIR_RETRY answer is
// an error, so that the runtime retries with backoff.
func (c *Conn) Connect(_ context.Context, attempt int) error {
	r, err := c.call(opConnect, shm.Entry{A: uint64(attempt)}, 0)
	if err != nil {
		return err
	}
	switch cabi.Status(r.Status) {
	case cabi.OK:
		return nil
	case cabi.Retry:
		return fmt.Errorf("connect %s (attempt %d): plugin asked to retry: %s", c.opts.Name, attempt, c.message(r))
	}
	return errors.New(c.message(r))
}

// Start calls the plugin's start.
func (c *Conn) Start() error { return c.lifecycle(opStart) }

// Pause calls the plugin's pause.
func (c *Conn) Pause() error { return c.lifecycle(opPause) }

// Resume calls the plugin's resume.
func (c *Conn) Resume() error { return c.lifecycle(opResume) }

// Drain calls the plugin's drain.
func (c *Conn) Drain() error { return c.lifecycle(opDrain) }

// Stop calls the plugin's stop.
func (c *Conn) Stop() error { return c.lifecycle(opStop) }

// Close destroys the instance, lets the child exit, and frees the shared
// memory. It waits a bounded time: a child that does not exit is killed.
// Later calls do nothing.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.cmd != nil {
		if !c.dead() && c.status.PID != 0 {
			c.expected.Store(true)
			if _, err := c.call(opDestroy, shm.Entry{}, 0); err != nil {
				c.log.Warn("isolated plugin destroy failed", "err", err)
			}
		}
		c.expected.Store(true)
		select {
		case <-c.exited:
		case <-time.After(2 * time.Second):
			c.kill("exit")
		}
	}
	if c.sock != nil {
		c.sock.Close()
	}
	select {
	case <-c.reaped:
		c.reg.Close()
	default:
		if c.cmd == nil {
			c.reg.Close()
		}
		// A child that would not die keeps the region mapped, and so do
		// we.
	}
	return nil
}

// Poll asks the plugin source for events; they arrive in the shared data
// area and are copied into b's arena (or, when it is full, lent from the
// shared area until the next call).
func (c *Conn) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	room := b.Capacity - b.Len
	arena := b.ArenaCap - b.ArenaLen
	if room == 0 {
		return cabi.Timeout, nil
	}
	room = min(room, shm.MaxEvents)
	arena = min(arena, shm.MaxArena)
	r, err := c.call(opPoll, shm.Entry{A: uint64(room), B: arena, C: b.ID, D: uint64(max(timeout, 0).Nanoseconds())}, max(timeout, 0))
	if err != nil {
		return cabi.Error, err
	}
	st := cabi.Status(r.Status)
	switch st {
	case cabi.OK, cabi.Timeout, cabi.EOF:
	default:
		return cabi.Error, errors.New(c.message(r))
	}
	n, used, extra := r.A, r.B, r.C
	if n > uint64(room) || used > arena || extra > shm.ExtraArena {
		c.kill("poll")
		return cabi.Error, c.protocol("poll answered %d events, %d arena bytes and %d lent bytes for room of %d and %d", n, used, extra, room, arena)
	}
	limit := arena + extra
	// The child can rewrite the shared descriptors at any time, so they
	// are read once, into memory of ours, and only that copy is checked
	// and used. Data is read as a number: an offset from the child is no
	// pointer, and the Go runtime must never see it as one.
	evs := c.snapshot(int(n))
	// Check every descriptor before any is appended, so that a bad one
	// leaves b as it was.
	for i := range evs {
		off := evs[i].Data
		if l := uint64(evs[i].Len); l > 0 && (off > limit || l > limit-off) {
			c.kill("poll")
			return cabi.Error, c.protocol("poll event %d points outside the shared arena", i)
		}
	}
	base := c.reg.Ptr(shm.ArenaOffset)
	for i := range evs {
		src := &evs[i]
		dst := (*cabi.Event)(unsafe.Add(b.Events, uintptr(b.Len)*uintptr(b.EventSize)))
		*dst = cabi.Event{TsNs: src.TsNs, StreamID: src.StreamID, Len: src.Len, Kind: src.Kind, Flags: src.Flags}
		if src.Len > 0 {
			from := unsafe.Add(base, src.Data)
			if b.ArenaCap-b.ArenaLen >= uint64(src.Len) {
				to := unsafe.Add(b.Arena, b.ArenaLen)
				copy(unsafe.Slice((*byte)(to), src.Len), unsafe.Slice((*byte)(from), src.Len))
				b.ArenaLen += uint64(src.Len)
				dst.Data = to
			} else {
				dst.Data = from // lent until the next call
			}
		}
		b.Len++
	}
	return st, nil
}

// wireEvent is cabi.Event as it lies in the shared data area, with Data
// a plain number: in the child's answer it is an offset or the child's
// address, never a pointer of this process.
type wireEvent struct {
	TsNs     uint64
	StreamID uint64
	Data     uint64
	Len      uint32
	Kind     cabi.Kind
	Flags    uint16
}

var _ = [1]struct{}{}[unsafe.Sizeof(wireEvent{})-unsafe.Sizeof(cabi.Event{})]
var _ = [1]struct{}{}[unsafe.Offsetof(wireEvent{}.Flags)-unsafe.Offsetof(cabi.Event{}.Flags)]

// snapshot copies the first n event descriptors of the shared data area
// into c.wire, which it returns: one read of memory the child can change.
func (c *Conn) snapshot(n int) []wireEvent {
	if cap(c.wire) < n {
		c.wire = make([]wireEvent, n)
	}
	c.wire = c.wire[:n]
	copy(c.wire, unsafe.Slice((*wireEvent)(c.reg.Ptr(shm.EventsOffset)), n))
	return c.wire
}

// protocol is the error of a child that broke the protocol (it was killed).
func (c *Conn) protocol(format string, a ...any) error {
	msg := fmt.Sprintf("plugin connector %q (type %s, library %s): plugin host broke the protocol: %s; killed",
		c.opts.Name, c.typ.ID, c.typ.Library().Path, fmt.Sprintf(format, a...))
	c.crashes.Add(1)
	c.log.Error("isolated plugin host broke the protocol", "err", msg)
	c.death.Store(&msg)
	return fmt.Errorf("%s: %w", msg, connector.ErrLost)
}

// stage copies b into the shared data area: its descriptors, with data
// pointing at the child's mapping of the bytes, b's arena in one piece,
// and after it the bytes of events outside the arena. It returns the
// arena bytes in use.
func (c *Conn) stage(b *cabi.Batch) (uint64, error) {
	if b.Len > shm.MaxEvents || b.ArenaLen > shm.MaxArena {
		return 0, fmt.Errorf("batch of %d events and %d arena bytes is larger than an isolated plugin takes (%d, %d)", b.Len, b.ArenaLen, shm.MaxEvents, shm.MaxArena)
	}
	base := c.reg.Ptr(shm.ArenaOffset)
	child := uintptr(c.status.Base) + shm.ArenaOffset
	if b.ArenaLen > 0 {
		copy(unsafe.Slice((*byte)(base), b.ArenaLen), unsafe.Slice((*byte)(b.Arena), b.ArenaLen))
	}
	used := b.ArenaLen
	dst := unsafe.Slice((*cabi.Event)(c.reg.Ptr(shm.EventsOffset)), b.Len)
	if cap(c.staged) < len(dst) {
		c.staged = make([]uint64, len(dst))
	}
	c.staged = c.staged[:len(dst)]
	// Bytes outside the arena are copied in runs: events a source lent
	// from one buffer usually follow each other there (the blaster's do),
	// and one copy of a run costs much less than one per event.
	var runSrc unsafe.Pointer
	var runLen, runAt uint64
	flush := func() {
		if runLen > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Add(base, runAt)), runLen), unsafe.Slice((*byte)(runSrc), runLen))
		}
		runLen = 0
	}
	for i := range dst {
		e := b.Event(i)
		dst[i] = cabi.Event{TsNs: e.TsNs, StreamID: e.StreamID, Len: e.Len, Kind: e.Kind, Flags: e.Flags}
		raw := (*uint64)(unsafe.Pointer(&dst[i].Data))
		switch {
		case e.Len == 0 || e.Data == nil:
			*raw = 0
		case b.InArena(e) && uint64(uintptr(e.Data)-uintptr(b.Arena))+uint64(e.Len) <= b.ArenaLen:
			*raw = uint64(child + (uintptr(e.Data) - uintptr(b.Arena)))
		default:
			if used+uint64(e.Len) > shm.MaxArena+shm.ExtraArena {
				return 0, fmt.Errorf("batch bytes exceed the %d an isolated plugin takes", shm.MaxArena+shm.ExtraArena)
			}
			if runLen == 0 || e.Data != unsafe.Add(runSrc, runLen) {
				flush()
				runSrc, runAt = e.Data, used
			}
			runLen += uint64(e.Len)
			*raw = uint64(child) + used
			used += uint64(e.Len)
		}
		c.staged[i] = *raw
	}
	flush()
	return used, nil
}

// Write offers b to the plugin sink, copied into the shared data area.
func (c *Conn) Write(b *cabi.Batch) (cabi.Status, error) {
	used, err := c.stage(b)
	if err != nil {
		return cabi.Error, fmt.Errorf("write %s: %w", c.opts.Name, err)
	}
	r, err := c.call(opWrite, shm.Entry{A: uint64(b.Len), B: used, C: b.ID}, 0)
	if err != nil {
		return cabi.Error, err
	}
	switch st := cabi.Status(r.Status); st {
	case cabi.OK, cabi.Retry:
		return st, nil
	}
	return cabi.Error, errors.New(c.message(r))
}

// Process runs the plugin processor over a copy of b in the shared data
// area, then copies back each event's flags, length and bytes, after
// checking that no event moved or grew.
func (c *Conn) Process(b *cabi.Batch) error {
	used, err := c.stage(b)
	if err != nil {
		return fmt.Errorf("process %s: %w", c.opts.Name, err)
	}
	r, err := c.call(opProcess, shm.Entry{A: uint64(b.Len), B: used, C: b.ID}, 0)
	if err != nil {
		return err
	}
	if r.Status != int32(cabi.OK) {
		return errors.New(c.message(r))
	}
	base := c.reg.Ptr(shm.ArenaOffset)
	child := uint64(c.status.Base) + shm.ArenaOffset
	// Read once into our memory: the child may rewrite the shared copy
	// between our check and our use of it.
	got := c.snapshot(int(b.Len))
	for i := range got {
		e := b.Event(i)
		if got[i].Data != c.staged[i] {
			return fmt.Errorf("process %s/%s: event %d: data pointer moved", c.typ.Library().Name, c.typ.ID, i)
		}
		if got[i].Len > e.Len {
			return fmt.Errorf("process %s/%s: event %d grew from %d to %d bytes", c.typ.Library().Name, c.typ.ID, i, e.Len, got[i].Len)
		}
	}
	for i := range got {
		e := b.Event(i)
		// Bytes come back only into b's own arena, where the runtime puts
		// every processor's events.
		if got[i].Len > 0 && e.Data != nil && b.InArena(e) {
			off := c.staged[i] - child
			copy(unsafe.Slice((*byte)(e.Data), got[i].Len), unsafe.Slice((*byte)(unsafe.Add(base, off)), got[i].Len))
		}
		e.Len, e.Flags = got[i].Len, got[i].Flags
	}
	return nil
}

// AckingConn is a Conn whose plugin source asked for acks.
type AckingConn struct {
	*Conn
}

// Ack tells the plugin source that batch id was delivered. It does not
// wait for the child; a failure is logged there.
func (a AckingConn) Ack(id uint64) { a.notify(opAck, id) }

// Fail tells the plugin source that batch id was not delivered.
func (a AckingConn) Fail(id uint64) { a.notify(opFail, id) }

func (c *Conn) notify(op uint32, id uint64) {
	if c.dead() {
		return
	}
	c.tag++
	if err := c.push(shm.Entry{Op: op, Tag: c.tag, A: id}, time.Now().Add(c.opts.Deadline)); err != nil {
		c.log.Warn("isolated plugin "+opName(op)+" lost", "batch", id, "err", err)
	}
}

// Counters implements connector.Counting: the crashes and deadline kills
// of this instance's child.
func (c *Conn) Counters() []connector.Counter {
	return []connector.Counter{
		{Name: "isolate_crashes", Help: "Isolated plugin hosts that died or were killed while serving the connector.", Value: c.crashes.Load()},
		{Name: "isolate_deadline_kills", Help: "Isolated plugin hosts killed because a call passed its deadline.", Value: c.kills.Load()},
	}
}

// PID returns the child's process ID, or 0 before it is ready.
func (c *Conn) PID() int { return c.status.PID }

// Privileges returns the child's capability sets, no_new_privs and
// seccomp mode as its /proc/self/status showed them when it was ready.
func (c *Conn) Privileges() (caps map[string]string, noNewPrivs, seccomp string) {
	return c.status.Caps, c.status.NoNewPrivs, c.status.Seccomp
}

// CPUTime returns the CPU time the child has used, from
// /proc/PID/stat while it runs and from its rusage once it is reaped.
func (c *Conn) CPUTime() time.Duration {
	if c.dead() {
		return time.Duration(c.cpuNs.Load())
	}
	return procCPU(c.status.PID)
}

// procCPU reads utime+stime of pid from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// tail keeps the last max bytes written to it: the child's standard error.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// reason returns the first line of the child's standard error that says
// why it died: a fatal signal, a Go panic or fatal error, or a line of
// our own.
func (t *tail) reason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(t.buf), "\n")
	// In order of preference: the loader's fault handler's one line, then
	// the Go runtime's "SIGSEGV: segmentation
	// violation" names the signal better than "signal arrived during cgo
	// execution", which comes first.
	for _, p := range []string{"weir: plugin fault:", "SIG", "panic:", "fatal error:", "unexpected fault address", "weir plugin-host:", "signal "} {
		for _, l := range lines {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, p) {
				return l
			}
		}
	}
	return ""
}

// Stderr returns what the child wrote to its standard error, up to the
// last 64 KiB.
func (c *Conn) Stderr() string {
	c.stderr.mu.Lock()
	defer c.stderr.mu.Unlock()
	return string(c.stderr.buf)
}
