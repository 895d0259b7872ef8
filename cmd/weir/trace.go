package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	flag "github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
	ksys "github.com/weirproject/weir/ingest/syscall"
)

const traceUsage = `Usage: weir trace [flags] [-- COMMAND [ARGS...]]

Trace syscalls with eBPF, like strace or perf trace, at a fraction of their
cost: the filters run in the kernel, so a call they reject is dropped there
and never copied out to weir. By default one line per call:

  TIME COMM PID/TID SYSCALL(ARGS) = RETURN <DURATION in seconds>

ARGS are decoded for the common calls (paths, socket addresses, flags,
fds, counts); for the others they are the raw argument values in hex, as
many as the kernel says the call takes. RETURN is -1 and the errno name for
a failed call, and ? for one that does not return (exit_group). At exit,
weir prints on stderr how many calls it saw and what became of them.

Without a command, weir traces every process but itself (narrow it with
--pid, --comm, --cgroup) until interrupted, or until -c COUNT calls are
printed, or, with --pid and no --follow, until every pid has exited.
With -- COMMAND, weir starts COMMAND, traces it from its execve on (add
--follow to trace the processes it starts too), and exits with its exit
status when it ends (127 when it cannot be started). With --follow, weir
also waits for the processes COMMAND left running, daemons included, as
strace -f does; interrupt it to stop sooner. Interrupted (SIGINT, SIGTERM
or SIGHUP; SIGHUP not under nohup), weir stops tracing, sends COMMAND
SIGTERM and waits for it to end; a second interrupt kills it.

Examples:
  weir trace -- /bin/true                         every call of /bin/true
  weir trace --follow --syscalls execve -- make   every program make runs
  weir trace -p 1234 --failed                     the failed calls of pid 1234
  weir trace --comm nginx --slower 10ms           nginx's calls of 10 ms or more
  weir trace --summary -- ls                      counts, errors and latency per syscall

Tracing needs root, or the capabilities CAP_BPF and CAP_PERFMON.

Exit status: 0 when the trace ran and stopped (a signal, -c, or every --pid
gone), 1 when it could not start (privileges, a --pid that names no
process or a kernel thread, the kernel refused the programs) or failed
while running, 2 for bad flags. With -- COMMAND, the command's own status instead once it ran
(128+N when signal N ended it), and 127 when it could not be started.
(Never 3, a plugin fault: trace loads no plugin.)

Flags:
`

// traceOpts are weir trace's parsed flags.
type traceOpts struct {
	cfg     ksys.Config
	json    bool
	quiet   bool
	summary bool
	count   uint64
	command []string
}

func init() {
	register(command{name: "trace", summary: "trace syscalls with eBPF and print them (like strace)", run: func(args []string) int {
		// SIGHUP stops the trace as SIGINT and SIGTERM do, unless it
		// is ignored (nohup). SIGINT always does: a script's background
		// job starts with it ignored, and `kill -INT` of it must still
		// stop it (the terminal's ^C does not reach such a job).
		stopSigs := []os.Signal{syscall.SIGTERM, os.Interrupt}
		if !signal.Ignored(syscall.SIGHUP) {
			stopSigs = append(stopSigs, syscall.SIGHUP)
		}
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, stopSigs...)
		defer signal.Stop(sigs)
		signal.Ignore(syscall.SIGPIPE)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		again := make(chan struct{})
		go func() {
			<-sigs
			cancel()
			<-sigs
			close(again)
		}()
		return runTrace(ctx, again, args, os.Stdout, os.Stderr)
	}})
	register(command{name: traceGate, summary: "", run: runTraceGate})
}

func parseTrace(args []string, stdout, stderr io.Writer) (traceOpts, int, bool) {
	fs := flag.NewFlagSet("weir trace", flag.ContinueOnError)
	fs.SortFlags = false
	var (
		o        traceOpts
		pids     = fs.IntSliceP("pid", "p", nil, "trace the process `PID` (all its threads), or only the thread PID if it is a thread id (repeat, or comma-separate, for several)")
		follow   = fs.BoolP("follow", "f", false, "also trace the processes the traced ones (or COMMAND) start from now on, and theirs in turn")
		comms    = fs.StringArray("comm", nil, "trace processes and threads whose name (comm, as in /proc/PID/comm) starts with `NAME` (repeat for several, at most 8)")
		cgroup   = fs.String("cgroup", "", "trace tasks in the cgroup v2 at `PATH` or below it: a directory under the cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems), or a path relative to that mount (system.slice/nginx.service)")
		syscalls = fs.StringP("syscalls", "e", "", "trace only these syscalls: a comma-separated `LIST` of names or numbers (openat,connect)")
		failed   = fs.Bool("failed", false, "print only failed calls (return value -4095..-1)")
		slower   = fs.Duration("slower", 0, "print only calls that took at least `DURATION` (such as 1ms)")
		sample   = fs.Uint32("sample", 1, "keep 1 call in `N`, at random, after the filters")
		jsonOut  = fs.BoolP("json", "j", false, "print one JSON object per call instead of text")
		count    = fs.Uint64P("count", "c", 0, "exit after printing `COUNT` calls (0: no limit)")
		quiet    = fs.BoolP("quiet", "q", false, "print nothing per call; only the counters at exit")
		summary  = fs.Bool("summary", false, "print no calls; at exit, per-syscall counts, errors and latency percentiles (like strace -c)")
		ringSize = fs.String("ring-size", "4MiB", "`SIZE` of each CPU's ring buffer, a power of two such as 1MiB or 16MiB")
		hook     = fs.String("hook", "auto", "kernel `HOOK`: auto (tp_btf, else raw tracepoints), tp_btf or raw")
	)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), traceUsage)
		fmt.Fprint(fs.Output(), fs.FlagUsages())
	}
	if code, ok := parseFlags(fs, "trace", args, stdout, stderr); !ok {
		return o, code, false
	}
	usageErr := func(format string, a ...any) (traceOpts, int, bool) {
		fmt.Fprintf(stderr, "weir trace: "+format+"\n"+helpHint("trace"), a...)
		return o, 2, false
	}
	if fs.NArg() > 0 {
		if fs.ArgsLenAtDash() != 0 {
			return usageErr("unexpected argument %q; put the command to trace after --", fs.Arg(0))
		}
		o.command = fs.Args()
	} else if fs.ArgsLenAtDash() == 0 {
		// weir trace -- $CMD with CMD empty: not a trace of every process.
		return usageErr("-- and no COMMAND after it")
	}
	if len(o.command) > 0 && len(*pids) > 0 {
		return usageErr("--pid and a COMMAND: give one or the other")
	}
	if *follow && len(*pids) == 0 && len(o.command) == 0 {
		return usageErr("--follow needs --pid or a COMMAND to follow")
	}
	if *sample == 0 {
		return usageErr("--sample 0: want 1 (every call) or more")
	}
	if *quiet && (*summary || *jsonOut) {
		return usageErr("-q prints no calls; it goes with neither --summary nor -j")
	}
	if *summary && *jsonOut {
		return usageErr("--summary prints no calls, and its table is not JSON; it does not go with -j")
	}
	if *slower < 0 {
		return usageErr("--slower %v: want a duration of 0 or more", *slower)
	}
	rs, err := spec.ParseSize(*ringSize)
	if err != nil {
		return usageErr("--ring-size %q: %v", *ringSize, err)
	}
	o.cfg = ksys.Config{
		Pids: *pids, Follow: *follow, Comms: *comms, Cgroup: *cgroup, FailedOnly: *failed,
		Slower: *slower, SampleRate: *sample, RingSize: int(rs),
	}
	switch *hook {
	case "auto":
	case "tp_btf":
		o.cfg.Hook = ksys.HookBTF
	case "raw":
		o.cfg.Hook = ksys.HookRaw
	default:
		return usageErr("--hook %q: want auto, tp_btf or raw", *hook)
	}
	if fs.Changed("syscalls") {
		// -e "" (-e "$LIST" with LIST empty) is no syscall, not every one.
		nrs, err := ksys.ParseList(*syscalls)
		var ue *ksys.UnknownSyscallError
		if errors.As(err, &ue) {
			hint := ""
			if s := spec.Suggest(strings.ToLower(ue.Name), ksys.Names()); len(s) > 0 {
				hint = fmt.Sprintf("; did you mean %s?", strings.Join(s[:min(len(s), 3)], ", "))
			}
			return usageErr("--syscalls: %v%s", err, hint)
		}
		if err != nil {
			return usageErr("--syscalls: %v", err)
		}
		o.cfg.Syscalls = nrs
	}
	if *cgroup != "" {
		if _, _, err := ksys.ResolveCgroup(*cgroup); err != nil {
			return usageErr("--cgroup: %v", err)
		}
	}
	if err := ksys.CheckConfig(withPlaceholderPid(o.cfg, len(o.command) > 0)); err != nil {
		return usageErr("%v", err)
	}
	o.json, o.quiet, o.summary, o.count = *jsonOut, *quiet, *summary, *count
	// Quiet, the kernel programs count the calls the filters keep and
	// write no record, unless records are needed: -c counts calls, and a
	// COMMAND's trace starts at its execve, which only a record shows.
	o.cfg.CountOnly = o.quiet && o.count == 0 && len(o.command) == 0
	return o, 0, true
}

// withPlaceholderPid gives a config whose pid comes from a command not yet
// started a stand-in, for checking.
func withPlaceholderPid(cfg ksys.Config, command bool) ksys.Config {
	if command {
		cfg.Pids = []int{1}
	}
	return cfg
}

// traceGate is the hidden command weir runs as a COMMAND's first process:
// it waits at the gate (fd 3) until the tracer has added its pid, then
// execs the command. It is not listed in the usage.
const traceGate = "__trace-exec"

// runTraceGate waits for one byte on fd 3, then execs args[1:] (args[0] is
// "--"). EOF without a byte means the tracer gave up: exit 127.
func runTraceGate(args []string) int {
	gate := os.NewFile(3, "gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 || len(args) < 2 {
		return 127
	}
	gate.Close()
	path, err := exec.LookPath(args[1])
	if err == nil {
		err = unix.Exec(path, args[1:], os.Environ())
	}
	fmt.Fprintf(os.Stderr, "weir trace: %s: %v\n", args[1], err)
	return 127
}

// needsTracePrivileges says what tracing needs, for errors.
const needsTracePrivileges = "tracing syscalls needs root, or the capabilities CAP_BPF and CAP_PERFMON"

// runTrace runs weir trace and returns the exit status. The trace stops
// when ctx ends, and the COMMAND is then sent SIGTERM; when again closes
// (a second signal) before the COMMAND has ended, it is killed.
func runTrace(ctx context.Context, again <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseTrace(args, stdout, stderr)
	if !ok {
		return code
	}
	if os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(1)
		defer goruntime.SetDefaultGOMAXPROCS()
	}
	for _, pid := range o.cfg.Pids {
		if !pidAlive(pid) {
			fmt.Fprintf(stderr, "weir trace: --pid %d: no such process or thread\n", pid)
			return 1
		}
		if isKernelThread(pid) {
			fmt.Fprintf(stderr, "weir trace: --pid %d: a kernel thread, which makes no syscalls\n", pid)
			return 1
		}
	}
	// Without --follow, a trace of --pid ends when every pid has
	// exited, as strace's does; with it, their children may live on.
	watched := o.cfg.Pids
	if o.cfg.Follow {
		watched = nil
	}
	var child *exec.Cmd
	var gate *os.File
	// exited closes when the command has ended and, with --follow, every
	// process it left behind too; status is the command's.
	exited := make(chan struct{})
	cmdExited := make(chan struct{})
	var gateComm string
	if len(o.command) > 0 {
		path, err := exec.LookPath(o.command[0])
		if err != nil {
			for errors.Unwrap(err) != nil {
				err = errors.Unwrap(err)
			}
			fmt.Fprintf(stderr, "weir trace: command %q: %v\n", o.command[0], err)
			return 127
		}
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "weir trace: find weir's own executable to start the command: %v\n", err)
			return 1
		}
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintf(stderr, "weir trace: %v\n", err)
			return 1
		}
		if o.cfg.Follow {
			// Orphans among the command's descendants (daemons) are
			// reparented to weir rather than to init, so weir can wait
			// for them as it traces them.
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				fmt.Fprintf(stderr, "weir trace: warning: become a subreaper: %v; processes the command leaves behind are not waited for\n", err)
			}
		}
		var gatePath string
		gatePath, gateComm = gateExecutable(self, path)
		child = exec.Command(gatePath, append([]string{traceGate, "--"}, o.command...)...)
		child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
		if f, ok := stdout.(*os.File); ok {
			child.Stdout = f
		}
		child.ExtraFiles = []*os.File{r}
		if err := child.Start(); err != nil {
			r.Close()
			w.Close()
			fmt.Fprintf(stderr, "weir trace: start %s: %v\n", o.command[0], err)
			return 127
		}
		r.Close()
		gate = w
		defer func() {
			if gate != nil {
				gate.Close() // the gate exits 127 without running the command
				child.Wait()
			}
		}()
		o.cfg.Pids = []int{child.Process.Pid}
		// The calls before the command's execve are the gate's, in
		// weir's own code: the printer hides them until it sees the
		// execve, which the kernel must record for that even when
		// --syscalls leaves it out (the printer drops it then).
		if len(o.cfg.Syscalls) > 0 {
			o.cfg.Syscalls = append(slices.Clone(o.cfg.Syscalls), execNrs()...)
		}
	}
	if !o.quiet && !o.summary {
		// Read the kernel's argument counts now: read at the first
		// undecoded call, they stalled the printer 20 to 30 ms while
		// the rings filled, and a burst overflowed a small ring.
		ksys.ArgCount(0)
	}
	tr, err := ksys.Open(o.cfg)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			msg := strings.Replace(err.Error(), " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "", 1)
			fmt.Fprintf(stderr, "weir trace: %s: %s\n", needsTracePrivileges, msg)
		} else {
			fmt.Fprintf(stderr, "weir trace: %v\n", err)
		}
		return 1
	}
	defer tr.Close()
	var status int
	if child != nil {
		if _, err := gate.Write([]byte{1}); err != nil {
			fmt.Fprintf(stderr, "weir trace: release %s: %v\n", o.command[0], err)
			return 1
		}
		gate.Close()
		gate = nil
		go func() {
			if o.cfg.Follow {
				status = reapUntil(child.Process.Pid)
			} else {
				err := child.Wait()
				status = exitStatus(child.ProcessState, err)
			}
			close(cmdExited)
			if o.cfg.Follow {
				reapAll()
			}
			close(exited)
		}()
	}
	lines := &lineCounter{w: stdout}
	out := bufio.NewWriterSize(lines, 64<<10)
	defer out.Flush()
	p := &tracePrinter{o: o, out: out}
	if child != nil {
		p.gated = uint32(child.Process.Pid)
		p.gateComm = gateComm
		if len(o.cfg.Syscalls) > 0 {
			p.wanted = map[uint32]bool{}
			for _, nr := range o.cfg.Syscalls[:len(o.cfg.Syscalls)-len(execNrs())] {
				p.wanted[nr] = true
			}
		}
	}
	if o.summary {
		p.stats = map[string]*sysStats{}
	}
	b, err := cabi.AllocBatch(1024, 64)
	if err != nil {
		fmt.Fprintf(stderr, "weir trace: %v\n", err)
		return 1
	}
	defer cabi.FreeBatch(b)
	draining := false
	writeFailed := false
	code = 0
	for {
		if !draining {
			select {
			case <-ctx.Done():
				draining = true
			case <-exited:
				draining = true
			default:
			}
			if o.count > 0 && p.printed >= o.count {
				draining = true
			}
			if len(watched) > 0 && !slices.ContainsFunc(watched, pidAlive) {
				draining = true
			}
			if draining {
				if err := tr.Drain(); err != nil {
					fmt.Fprintf(stderr, "weir trace: %v\n", err)
					code = 1
				}
			}
		}
		b.Reset()
		n, err := tr.Poll(b, 100*time.Millisecond)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(stderr, "weir trace: %v\n", err)
			code = 1
			break
		}
		for _, ev := range b.EventSlice()[:n] {
			if o.count > 0 && p.printed >= o.count {
				break
			}
			p.event(&ev)
		}
		if err := out.Flush(); err != nil {
			if !errors.Is(err, syscall.EPIPE) {
				fmt.Fprintf(stderr, "weir trace: write: %v\n", err)
				code = 1
			}
			writeFailed = true
			break
		}
	}
	tr.Drain()
	if p.stats != nil {
		p.writeSummary(out)
	}
	// The summary is written only now; its error counts as one while tracing.
	if err := out.Flush(); err != nil && !writeFailed && !errors.Is(err, syscall.EPIPE) {
		fmt.Fprintf(stderr, "weir trace: write: %v\n", err)
		code = 1
	}
	if k, err := tr.Counters(); err == nil && o.cfg.CountOnly {
		fmt.Fprintf(stderr, "weir trace: %d calls seen: %d filtered out, %d sampled out, %d counted (no records), %d lost, %d unpaired\n",
			k.Seen, k.Filtered, k.SampledOut, k.Counted, k.RingFull, k.Unpaired)
	} else if err == nil {
		// What reached stdout: the lines written whole, not those
		// formatted into a buffer that a failed write then lost.
		shown := fmt.Sprintf("; %d printed", lines.n)
		switch {
		case o.quiet:
			shown = ""
		case o.summary:
			shown = fmt.Sprintf("; %d in the summary", p.printed)
		}
		fmt.Fprintf(stderr, "weir trace: %d calls seen: %d filtered out, %d sampled out, %d recorded, %d lost (ring full), %d unpaired%s\n",
			k.Seen, k.Filtered, k.SampledOut, k.Emitted, k.RingFull, k.Unpaired, shown)
	}
	if k, err := tr.Counters(); err == nil && k.Unfollowed > 0 {
		what := "child processes not followed: their pids are"
		if k.Unfollowed == 1 {
			what = "child process not followed: its pid is"
		}
		fmt.Fprintf(stderr, "weir trace: %d %s above the pid_max weir started with (kernel.pid_max was raised during the trace)\n", k.Unfollowed, what)
	}
	if child != nil {
		if ctx.Err() != nil {
			child.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-cmdExited:
		case <-again:
			child.Process.Kill()
			<-cmdExited
		}
		if code == 0 {
			code = status
		}
	}
	return code
}

// reapUntil waits for every child weir has, as each ends, until the one
// with pid ends, and returns its status as a shell gives it: with weir a
// subreaper, the others are processes the traced command left behind,
// which would stay zombies until the command ends.
func reapUntil(pid int) int {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 127 // ECHILD: pid was no child
		case wpid != pid:
			continue
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// reapAll waits for every child weir has, until none is left: with
// weir a subreaper, these are the processes the traced command left
// behind.
func reapAll() {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // ECHILD: none left
		}
	}
}

// pidAlive reports whether pid names a live process or thread (a zombie
// is not: it makes no more calls).
func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	st := b[i+2]
	return st != 'Z' && st != 'X' && st != 'x'
}

// gateExecutable returns the path weir runs the gate as, for a command
// whose program is at path, and the gate's task name (comm), which
// tells the gate's calls from the command's when the filters drop the
// command's execve; "" when both candidates, weir's own executable self
// and /proc/self/exe, give the command's name.
func gateExecutable(self, path string) (string, string) {
	for _, p := range []string{self, "/proc/self/exe"} {
		if c := taskComm(p); c != taskComm(path) {
			return p, c
		}
	}
	return self, ""
}

// taskComm is the task name (comm) the kernel gives a process that execs
// path: its base name, cut to 15 bytes.
func taskComm(path string) string {
	b := filepath.Base(path)
	return b[:min(len(b), 15)]
}

// cstr returns the bytes of b up to its first NUL.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// isKernelThread reports whether pid names a kernel thread (PF_KTHREAD
// in the flags of /proc/PID/stat).
func isKernelThread(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	// After the name: state ppid pgrp session tty_nr tpgid flags.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&0x00200000 != 0 // PF_KTHREAD
}

// execNrs returns the numbers of execve and execveat.
func execNrs() []uint32 {
	var out []uint32
	for _, n := range []string{"execve", "execveat"} {
		if nr, ok := ksys.Number(n); ok {
			out = append(out, nr)
		}
	}
	return out
}

// exitStatus is the status a shell would report for a finished process.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 127
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// lineCounter passes writes on to w and counts the lines that reached it
// whole: the newlines among the bytes w took.
type lineCounter struct {
	w io.Writer
	n uint64
}

func (l *lineCounter) Write(b []byte) (int, error) {
	n, err := l.w.Write(b)
	l.n += uint64(bytes.Count(b[:n], []byte{'\n'}))
	return n, err
}

// tracePrinter prints or counts calls.
type tracePrinter struct {
	o       traceOpts
	out     *bufio.Writer
	buf     []byte
	printed uint64
	// gated is the pid of the COMMAND's process, whose calls before its
	// execve (the gate's, in weir's own code) are not shown.
	gated  uint32
	execed bool
	// gateComm is the gate's task name, which no call of the command
	// has, or "" when the command's name may be the same.
	gateComm string
	// wanted holds the numbers --syscalls asked for; nil for all.
	wanted map[uint32]bool
	stats  map[string]*sysStats
}

func (p *tracePrinter) event(ev *cabi.Event) {
	v, err := cabi.ReadSyscall(ev.Bytes())
	if err != nil {
		return // the ring reader refused such records already
	}
	h := &v.Header
	if p.gated != 0 && !p.execed && h.Pid == p.gated {
		name := ksys.Name(h.Nr)
		switch {
		case (name == "execve" || name == "execveat") && h.Ret == 0:
		case p.gateComm != "" && cstr(h.Comm[:]) != p.gateComm:
			// The execve was filtered out (--failed, --slower),
			// sampled out or lost, but the call is made under
			// another name than the gate's: the command's.
		default:
			return
		}
		p.execed = true
	}
	if p.wanted != nil && !p.wanted[h.Nr] {
		return // an execve traced only for the gate
	}
	p.printed++
	if p.o.quiet {
		return
	}
	c := ksys.Decode(&v, ev.TsNs)
	if p.stats != nil {
		s := p.stats[c.Name]
		if s == nil {
			s = &sysStats{h: hdrhistogram.New(1, summaryMaxNs, 3)}
			p.stats[c.Name] = s
		}
		s.calls++
		if c.Errno != "" {
			s.errors++
		}
		s.total += c.Duration
		s.h.RecordValue(min(max(int64(c.Duration), 1), summaryMaxNs))
		return
	}
	if p.o.json {
		p.buf = c.AppendJSON(p.buf[:0])
	} else {
		p.buf = c.AppendText(p.buf[:0])
	}
	p.buf = append(p.buf, '\n')
	p.out.Write(p.buf)
}

// summaryMaxNs bounds the latencies --summary's histograms tell apart: a
// year, for the calls that block as long as the trace runs (an idle
// daemon's epoll_wait), which an hour left out of the percentiles. The
// range costs little: a histogram's size grows with its logarithm.
const summaryMaxNs = int64(365 * 24 * time.Hour)

// sysStats are one syscall's figures for --summary.
type sysStats struct {
	calls, errors uint64
	total         time.Duration
	h             *hdrhistogram.Histogram
}

// writeSummary prints the --summary table, the most time first.
func (p *tracePrinter) writeSummary(w io.Writer) {
	names := make([]string, 0, len(p.stats))
	var total time.Duration
	var calls, errs uint64
	for n, s := range p.stats {
		names = append(names, n)
		total += s.total
		calls += s.calls
		errs += s.errors
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := p.stats[names[i]], p.stats[names[j]]
		if a.total != b.total {
			return a.total > b.total
		}
		return names[i] < names[j]
	})
	us := func(ns int64) string { return strconv.FormatFloat(float64(ns)/1e3, 'f', 1, 64) }
	fmt.Fprintf(w, "%6s %11s %10s %9s %9s %10s %10s %10s %s\n", "% time", "seconds", "usecs/call", "calls", "errors", "p50 us", "p99 us", "max us", "syscall")
	for _, n := range names {
		s := p.stats[n]
		pct := 0.0
		if total > 0 {
			pct = 100 * float64(s.total) / float64(total)
		}
		fmt.Fprintf(w, "%6.2f %11.6f %10s %9d %9d %10s %10s %10s %s\n", pct, s.total.Seconds(), us(int64(s.total)/int64(s.calls)),
			s.calls, s.errors, us(s.h.ValueAtQuantile(50)), us(s.h.ValueAtQuantile(99)), us(s.h.Max()), n)
	}
	fmt.Fprintf(w, "%6s %11.6f %10s %9d %9d %10s %10s %10s %s\n", "100.00", total.Seconds(), "", calls, errs, "", "", "", "total")
}
