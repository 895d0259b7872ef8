package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	ksys "github.com/weirproject/weir/ingest/syscall"
	"github.com/weirproject/weir/internal/testpid"
)

// TestTraceCommand traces /bin/true from its execve to its exit_group
// and exits with its status.
func TestTraceCommand(t *testing.T) {
	stdout, stderr, code := weir(t, "trace", "--", "/bin/true")
	if code != 0 {
		t.Fatalf("weir trace -- /bin/true: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if !strings.Contains(lines[0], ` execve("/bin/true", ["/bin/true"]) = 0 <`) {
		t.Errorf("first line %q; want the execve of /bin/true", lines[0])
	}
	if !strings.HasSuffix(lines[len(lines)-1], " exit_group(0) = ?") {
		t.Errorf("last line %q; want exit_group(0) = ?", lines[len(lines)-1])
	}
	if !strings.Contains(stdout, `openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3`) &&
		!strings.Contains(stdout, `openat(AT_FDCWD, "/lib`) {
		t.Errorf("no openat of the loader's files in:\n%s", stdout)
	}
	if !strings.Contains(stderr, "0 lost (ring full), 0 unpaired") {
		t.Errorf("stderr %q; want the counters with nothing lost", stderr)
	}
	for _, st := range []struct {
		cmd  string
		want int
	}{{"exit 7", 7}, {"kill -TERM $$", 128 + 15}} {
		if _, stderr, code := weir(t, "trace", "-q", "--", "/bin/sh", "-c", st.cmd); code != st.want {
			t.Errorf("weir trace -q -- sh -c %q: exit %d; want %d\n%s", st.cmd, code, st.want, stderr)
		}
	}
}

// TestTraceFollow: --follow sees the execve of a grandchild; without it
// only the command's own execve is traced.
func TestTraceFollow(t *testing.T) {
	script := `/bin/sh -c '/bin/true; exit 0'; exit 0`
	for _, follow := range []bool{true, false} {
		args := []string{"trace", "-e", "execve", "--", "/bin/sh", "-c", script}
		if follow {
			args = append([]string{"trace", "--follow"}, args[1:]...)
		}
		stdout, stderr, code := weir(t, args...)
		if code != 0 {
			t.Fatalf("weir %q: exit %d\n%s", args, code, stderr)
		}
		got := strings.Count(stdout, `execve("/bin/true"`)
		want := map[bool]int{true: 1, false: 0}[follow]
		if got != want || !strings.Contains(stdout, `execve("/bin/sh"`) {
			t.Errorf("weir %q printed %d execve of /bin/true; want %d and the command's own:\n%s", args, got, want, stdout)
		}
	}
}

// TestTraceCommandFiltered: the calls of a COMMAND are printed when a
// filter drops its execve, the call from which its trace starts: --failed
// prints its failed calls and --slower its slow ones, and neither prints
// the calls weir's own code made before the execve, also when the
// command has the name weir's executable has.
func TestTraceCommandFiltered(t *testing.T) {
	self := filepath.Base(os.Args[0])
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	namesake := filepath.Join(t.TempDir(), self)
	if err := os.WriteFile(namesake, sh, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
		gate string // the gate's task name
	}{
		{[]string{"--failed", "--", "/bin/sh", "-c", "exec 3</nonexistent/weir-failed"}, `openat(AT_FDCWD, "/nonexistent/weir-failed", O_RDONLY) = -1 ENOENT`, self},
		{[]string{"--slower", "100ms", "--", "/bin/sleep", "0.3"}, " clock_nanosleep(", self},
		{[]string{"--failed", "--", namesake, "-c", "exec 3</nonexistent/weir-failed"}, `openat(AT_FDCWD, "/nonexistent/weir-failed", O_RDONLY) = -1 ENOENT`, "exe"},
	} {
		args := append([]string{"trace"}, c.args...)
		stdout, stderr, code := weir(t, args...)
		if code != 0 && code != 2 {
			t.Fatalf("weir %q: exit %d\n%s", args, code, stderr)
		}
		if !strings.Contains(stdout, c.want) {
			t.Errorf("weir %q: want %s in:\n%s\n%s", args, c.want, stdout, stderr)
		}
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			if strings.Contains(l, " "+c.gate[:min(len(c.gate), 15)]+" ") {
				t.Errorf("weir %q printed a call of weir's own code before the execve: %s", args, l)
			}
		}
	}
}

// TestGateExecutable: the gate runs as weir's executable, or as
// /proc/self/exe when the command has weir's name.
func TestGateExecutable(t *testing.T) {
	for _, c := range []struct{ self, cmd, path, comm string }{
		{"/usr/bin/weir", "/bin/true", "/usr/bin/weir", "weir"},
		{"/usr/bin/weir", "/opt/weir", "/proc/self/exe", "exe"},
		{"/a/weir-with-a-long-name-1", "/b/weir-with-a-long-name-2", "/proc/self/exe", "exe"},
		{"/a/exe", "/b/exe", "/a/exe", ""},
	} {
		if path, comm := gateExecutable(c.self, c.cmd); path != c.path || comm != c.comm {
			t.Errorf("gateExecutable(%q, %q) = %q, %q; want %q, %q", c.self, c.cmd, path, comm, c.path, c.comm)
		}
	}
}

// TestTraceFollowReaps: with --follow, the processes the command leaves
// behind that end while it runs are reaped then, not left zombies of weir
// until the command ends.
func TestTraceFollowReaps(t *testing.T) {
	script := `for i in 1 2 3 4 5 6 7 8 9 10; do (/bin/true &); done; sleep 1; echo ready; sleep 3`
	cmd := exec.Command(os.Args[0], "trace", "--follow", "-q", "--", "/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the command printed %q; want ready", line)
	}
	zombies := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(cmd.Process.Pid) {
			zombies++
		}
	}
	if zombies > 0 {
		t.Errorf("weir trace --follow has %d zombie children while the command runs; want them reaped", zombies)
	}
}

// TestTraceSignals: SIGHUP stops a trace as SIGINT and SIGTERM do (the
// counters are printed, the command is sent SIGTERM), a second signal
// kills a command that ignores SIGTERM rather than wait for it, and
// SIGINT stops a weir started with it ignored, as a script's background
// job is (`weir trace ... & kill -INT $!`).
func TestTraceSignals(t *testing.T) {
	for _, c := range []struct {
		name   string
		script string
		sigs   []os.Signal
		want   int
		// ignoreInt starts weir with SIGINT ignored.
		ignoreInt bool
	}{
		{"SIGHUP", "echo ready; exec sleep 30", []os.Signal{syscall.SIGHUP}, 128 + 15, false},
		{"SIGINT twice", `trap "" TERM INT; echo ready; exec sleep 30`, []os.Signal{os.Interrupt, os.Interrupt}, 128 + 9, false},
		{"SIGINT in a background job", "echo ready; exec sleep 30", []os.Signal{os.Interrupt}, 128 + 15, true},
	} {
		cmd := exec.Command(os.Args[0], "trace", "-q", "--", "/bin/sh", "-c", c.script)
		if c.ignoreInt {
			cmd = exec.Command("/bin/sh", "-c", `trap "" INT; exec "$0" "$@"`, os.Args[0], "trace", "-q", "--", "/bin/sh", "-c", c.script)
		}
		cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
		// A group of its own, to kill what is left of it at the end;
		// stderr a file, so that Wait need not wait for the command.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			t.Fatalf("%s: the command printed %q; want ready", c.name, line)
		}
		for _, sig := range c.sigs {
			cmd.Process.Signal(sig)
			time.Sleep(200 * time.Millisecond)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		e, _ := os.ReadFile(stderr.Name())
		stderr.Close()
		if code := cmd.ProcessState.ExitCode(); code != c.want || !strings.Contains(string(e), " calls seen: ") {
			t.Errorf("%s: weir trace %v, stderr %q; want exit %d within 15 s, and the counters", c.name, cmd.ProcessState, e, c.want)
		}
	}
}

// TestTraceFollowWaits: with --follow, weir waits for what the command
// left running (here a background job that outlives its shell) and traces
// it to its end; the exit status stays the command's.
func TestTraceFollowWaits(t *testing.T) {
	script := `(sleep 0.3; /bin/true) & exit 3`
	stdout, stderr, code := weir(t, "trace", "--follow", "-e", "execve", "--", "/bin/sh", "-c", script)
	if code != 3 || !strings.Contains(stdout, `execve("/bin/true"`) {
		t.Errorf("weir trace --follow -- sh -c %q: exit %d; want 3 and the background job's execve of /bin/true in:\n%s\n%s", script, code, stdout, stderr)
	}
}

// TestTraceJSONAndSummary: -j prints one JSON object per call; --summary
// prints a table instead of the calls.
func TestTraceJSONAndSummary(t *testing.T) {
	stdout, stderr, code := weir(t, "trace", "-j", "-e", "openat,exit_group", "--", "/bin/true")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var n int
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var c struct {
			Syscall string            `json:"syscall"`
			Args    map[string]string `json:"args"`
			Ret     *int64            `json:"ret"`
		}
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if c.Syscall == "openat" && c.Args["path"] != "" && c.Ret != nil {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no openat with a path and a return value in:\n%s", stdout)
	}
	stdout, stderr, code = weir(t, "trace", "--summary", "--", "/bin/true")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "p99 us") || !strings.Contains(stdout, " execve\n") || !strings.Contains(stdout, " total\n") || strings.Contains(stdout, "(") {
		t.Errorf("summary:\n%s", stdout)
	}
}

// TestTraceErrors: bad flags exit 2 naming the flag, a command that does
// not exist exits 127.
func TestTraceErrors(t *testing.T) {
	type errCase struct {
		args []string
		code int
		want string
	}
	// --cgroup takes a directory in the cgroup v2 hierarchy; the errors
	// say where that is mounted.
	var cgroupCases []errCase
	if root, err := ksys.Cgroup2Root(); err == nil {
		cgroupCases = []errCase{
			{[]string{"trace", "--cgroup", "/tmp"}, 2, "weir trace: --cgroup: /tmp is not a cgroup v2 directory; the cgroup v2 hierarchy is mounted at " + root + "\n"},
			{[]string{"trace", "--cgroup", "/sys/fs/cgroup/does-not-exist"}, 2, "weir trace: --cgroup: /sys/fs/cgroup/does-not-exist does not exist"},
			{[]string{"trace", "--cgroup", "/sys/fs/cgroup/does-not-exist"}, 2, "mounted at " + root + "\n"},
			{[]string{"trace", "--cgroup", "no/such/weir"}, 2, `weir trace: --cgroup: cgroup "no/such/weir": ` + root + "/no/such/weir does not exist (a relative path is taken from the cgroup v2 mount, " + root + ")\n"},
			{[]string{"trace", "--cgroup", strings.Repeat("../", strings.Count(root, "/")) + "tmp"}, 2, "weir trace: --cgroup: /tmp is not a cgroup v2 directory; the cgroup v2 hierarchy is mounted at " + root + "\n"},
			{[]string{"trace", "--cgroup", root + "/cgroup.procs"}, 2, "weir trace: --cgroup: " + root + "/cgroup.procs is not a cgroup directory\n"},
		}
	}
	for _, c := range append([]errCase{
		{[]string{"trace", "-e", "opn"}, 2, `weir trace: --syscalls: unknown syscall "opn" on ` + "amd64"},
		{[]string{"trace", "-e", "conect"}, 2, "did you mean connect?"},
		{[]string{"trace", "--sample", "0"}, 2, "--sample 0"},
		{[]string{"trace", "--follow"}, 2, "--follow needs --pid or a COMMAND"},
		{[]string{"trace", "-q", "--summary"}, 2, "-q prints no calls"},
		{[]string{"trace", "--comm", "a-name-of-16-byt"}, 2, "1 to 15 bytes"},
		{[]string{"trace", "--cgroup", "no/such/weir"}, 2, "--cgroup"},
		{[]string{"trace", "-p", "1", "--", "/bin/true"}, 2, "--pid and a COMMAND"},
		{[]string{"trace", "--slower", "soon"}, 2, `invalid argument "soon"`},
		{[]string{"trace", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"trace", "--"}, 2, "-- and no COMMAND after it"},
		{[]string{"trace", "-e", ""}, 2, `--syscalls: syscall list "" names no syscall`},
		{[]string{"trace", "-e", " , "}, 2, `--syscalls: syscall list " , " names no syscall`},
		{[]string{"trace", "-j", "--summary"}, 2, "--summary prints no calls"},
		{[]string{"trace", "--", "/no/such/weir-command"}, 127, `weir trace: command "/no/such/weir-command": no such file or directory`},
	}, cgroupCases...) {
		if c.want == `weir trace: --syscalls: unknown syscall "opn" on amd64` {
			c.want = strings.Replace(c.want, "amd64", archName(), 1)
		}
		stdout, stderr, code := weir(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("weir %q: exit %d, stderr %q, stdout %q; want exit %d and %q", c.args, code, stderr, stdout, c.code, c.want)
		}
	}
}

func archName() string { return ksys.Arch }

// TestTracePidExits: a trace of --pid ends when the process exits (it does
// not wait for an interrupt that never comes), and a pid that names no
// process is an error rather than a trace of nothing.
func TestTracePidExits(t *testing.T) {
	// The process waits in a loop of sleeps until the test has seen weir
	// trace it (its wait for each sleep), then exits: a process that
	// ended after a fixed time could end before weir attached on a
	// loaded machine.
	flag := filepath.Join(t.TempDir(), "go")
	sleeper := exec.Command("/bin/sh", "-c", `until [ -e "$0" ]; do sleep 0.05; done; exit 0`, flag)
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait() // reaped at once, or it would stay a zombie
	defer sleeper.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "trace", "-e", "wait4,waitid,exit_group", "-p", strconv.Itoa(sleeper.Process.Pid))
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() {
		if lines = append(lines, sc.Text()); len(lines) == 1 {
			os.WriteFile(flag, nil, 0o644) // traced: let it exit
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("weir trace -p %d still ran 30 s after it started\n%s", sleeper.Process.Pid, e.String())
	}
	if err != nil || len(lines) == 0 || !strings.Contains(lines[len(lines)-1], " exit_group(0) = ?") {
		t.Errorf("weir trace -p %d: %v; stdout %q; want the exit_group last and exit 0\n%s", sleeper.Process.Pid, err, lines, e.String())
	}
	// A pid below pid_max that no process holds (pids are not reused
	// at once: the sleeper's just ended).
	_, stderr, code := weir(t, "trace", "-p", strconv.Itoa(sleeper.Process.Pid))
	if code != 1 || !strings.Contains(stderr, "no such process") {
		t.Errorf("weir trace -p of a dead pid: exit %d, %q; want 1 and no such process", code, stderr)
	}
}

// TestTracePidKernelThread: a --pid that names a kernel thread, which
// makes no syscalls, is an error rather than a trace that waits forever.
func TestTracePidKernelThread(t *testing.T) {
	kthread := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil && isKernelThread(pid) {
			kthread = pid
			break
		}
	}
	if kthread == 0 {
		t.Skip("no kernel thread in /proc (a pid namespace)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "trace", "-p", strconv.Itoa(kthread))
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	var e bytes.Buffer
	cmd.Stderr = &e
	err := cmd.Run()
	if ctx.Err() != nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(e.String(), "kernel thread") {
		t.Errorf("weir trace -p %d (a kernel thread): %v, stderr %q; want exit 1 and an error saying it is a kernel thread", kthread, err, e.String())
	}
}

// TestTraceQuietCounts: -q counts the calls in the kernel, with no records:
// the one exit_group of a sleep is counted and nothing is printed.
func TestTraceQuietCounts(t *testing.T) {
	sleeper := exec.Command("/bin/sleep", "1")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait()
	stdout, stderr, code := weir(t, "trace", "-q", "-e", "exit_group", "-p", strconv.Itoa(sleeper.Process.Pid))
	if code != 0 || stdout != "" || !strings.Contains(stderr, " 0 sampled out, 1 counted (no records), 0 lost, 0 unpaired") {
		t.Errorf("weir trace -q -p %d: exit %d, stdout %q, stderr %q; want the exit_group counted, nothing printed", sleeper.Process.Pid, code, stdout, stderr)
	}
}

// TestTraceStringBound: a path of 255 bytes (the slot's 256 with its NUL)
// is printed whole, one of 256 is cut and marked with "...".
func TestTraceStringBound(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{255, 256} {
		path := dir + "/" + strings.Repeat("b", n-len(dir)-1)
		stdout, stderr, _ := weir(t, "trace", "-e", "openat", "--", "/bin/cat", path)
		whole := `openat(AT_FDCWD, "` + path + `", O_RDONLY)`
		cut := `openat(AT_FDCWD, "` + path[:255] + `"..., O_RDONLY)`
		want := map[int]string{255: whole, 256: cut}[n]
		if !strings.Contains(stdout, want) {
			t.Errorf("a path of %d bytes: want %s in:\n%s\n%s", n, want, stdout, stderr)
		}
	}
}

// TestTraceArgCount: a call weir does not decode prints as many arguments
// as it takes, as strace does, in text and in JSON, not all six argument
// registers.
func TestTraceArgCount(t *testing.T) {
	want := map[string]int{"set_tid_address": 1, "set_robust_list": 2}
	for name := range want {
		nr, _ := ksys.Number(name)
		if _, ok := ksys.ArgCount(nr); !ok {
			t.Skipf("the kernel does not say how many arguments %s takes here (no tracefs)", name)
		}
	}
	for _, j := range []bool{false, true} {
		args := []string{"trace", "-e", "set_tid_address,set_robust_list", "--", "/bin/true"}
		if j {
			args = append([]string{"trace", "-j"}, args[1:]...)
		}
		stdout, stderr, code := weir(t, args...)
		if code != 0 {
			t.Fatalf("weir %q: exit %d\n%s", args, code, stderr)
		}
		seen := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var name string
			var n int
			if j {
				var c struct {
					Syscall string            `json:"syscall"`
					Args    map[string]string `json:"args"`
				}
				if err := json.Unmarshal([]byte(l), &c); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				name, n = c.Syscall, len(c.Args)
			} else {
				for s := range want {
					if _, a, ok := strings.Cut(l, " "+s+"("); ok {
						a, _, _ = strings.Cut(a, ") = ")
						name, n = s, strings.Count(a, ",")+1
					}
				}
			}
			if _, ok := want[name]; !ok {
				t.Errorf("weir %q printed %q; want only %v", args, l, want)
				continue
			}
			seen[name] = true
			if n != want[name] {
				t.Errorf("weir %q: %s has %d arguments; want %d: %s", args, name, n, want[name], l)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("weir %q printed %v; want %v:\n%s", args, seen, want, stdout)
		}
	}
}

// TestTraceHelp: the flags show what they take by name, as the text
// refers to them, not pflag's type names.
func TestTraceHelp(t *testing.T) {
	stdout, stderr, code := weir(t, "trace", "--help")
	if code != 0 || stderr != "" {
		t.Fatalf("weir trace --help: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"-p, --pid PID ", "--comm NAME ", "--cgroup PATH ", "-e, --syscalls LIST ", "--slower DURATION ",
		"--sample N ", "-c, --count COUNT ", "--ring-size SIZE ", "--hook HOOK ", "-c COUNT calls"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("weir trace --help has no %q:\n%s", want, stdout)
		}
	}
	for _, bad := range []string{" ints ", " stringArray ", " string ", " uint32 ", " uint ", " duration "} {
		if strings.Contains(stdout, bad) {
			t.Errorf("weir trace --help names a flag's Go type, %q:\n%s", bad, stdout)
		}
	}
}

// TestTraceSummaryLongCall: --summary counts a call longer than an hour
// (an idle daemon's epoll_wait, a parent's wait4) in its latency columns
// too, not only in its calls and seconds.
func TestTraceSummaryLongCall(t *testing.T) {
	nr, _ := ksys.Number("wait4")
	var b bytes.Buffer
	p := &tracePrinter{out: bufio.NewWriter(&b), stats: map[string]*sysStats{}}
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Hour} {
		h := cabi.SyscallRecord{Nr: nr, DurationNs: uint64(d), Pid: 1, Tid: 1}
		h.Type, h.Version, h.Size = cabi.RecordSyscall, cabi.SyscallRecordVersion, uint32(cabi.SyscallRecordSize)
		rec := make([]byte, cabi.SyscallRecordSize)
		copy(rec, unsafe.Slice((*byte)(unsafe.Pointer(&h)), cabi.SyscallRecordSize))
		p.event(&cabi.Event{Data: unsafe.Pointer(&rec[0]), Len: uint32(len(rec)), Kind: cabi.KindSyscall})
	}
	p.writeSummary(&b)
	var row string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasSuffix(l, " wait4") {
			row = l
		}
	}
	f := strings.Fields(row)
	if len(f) != 9 || f[3] != "2" {
		t.Fatalf("no wait4 row with 2 calls in:\n%s", b.String())
	}
	// % time, seconds, usecs/call, calls, errors, p50, p99, max.
	for i, want := range map[int]float64{6: 2 * 3600e6, 7: 2 * 3600e6} {
		if v, _ := strconv.ParseFloat(f[i], 64); v < want*0.99 || v > want*1.01 {
			t.Errorf("column %d of %q is %s; want about %.1f (2 h in us)", i+1, row, f[i], want)
		}
	}
}

// TestTraceSummaryWriteError: a --summary table that cannot be written
// (a full disk) is an error, exit 1, not a silent success.
func TestTraceSummaryWriteError(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	cmd := exec.Command(os.Args[0], "trace", "--summary", "--", "/bin/true")
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	var e bytes.Buffer
	cmd.Stdout, cmd.Stderr = full, &e
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(e.String(), "no space left on device") {
		t.Errorf("weir trace --summary > /dev/full: exit %d, stderr %q; want exit 1 and the write error", code, e.String())
	}
}

// TestTracePrintedCount: the counter line's "N printed" counts the lines
// that reached stdout, none when every write fails (a full disk); -q
// prints no such count, and --summary counts the calls in its table.
func TestTracePrintedCount(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	for _, tt := range []struct {
		args []string
		out  *os.File // nil: a pipe, read whole
		want string
	}{
		{[]string{"-e", "execve"}, full, "; 0 printed\n"},
		{[]string{"-e", "execve"}, nil, "; 1 printed\n"},
		{[]string{"-q", "-e", "execve"}, nil, " unpaired\n"},
		{[]string{"--summary", "-e", "execve"}, nil, "; 1 in the summary\n"},
	} {
		args := append(append([]string{"trace"}, tt.args...), "--", "/bin/true")
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if tt.out != nil {
			cmd.Stdout = tt.out
		}
		cmd.Run()
		if !strings.HasSuffix(e.String(), tt.want) {
			t.Errorf("weir %q: stderr %q; want it to end with %q", args, e.String(), tt.want)
		}
	}
}

// TestTraceUnfollowed: a child that --follow cannot trace, because
// pid_max was raised during the trace and its pid is beyond weir's tables,
// is named in a line of its own at exit.
func TestTraceUnfollowed(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// sh blocks opening the FIFO, which weir lets it do only once it
	// traces: then it forks /bin/true, the child to miss.
	pm := testpid.Lock(t)
	cmd := exec.Command(os.Args[0], "trace", "--follow", "-q", "--", "/bin/sh", "-c", `read x <"$0"; /bin/true; echo $?`, fifo)
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	var o, e syncBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once sh opened it
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	pm.HighPids(func() {
		// sh forks /bin/true, then ends, and so does weir.
		w.WriteString("go\n")
		w.Close()
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			err = errors.New("did not end 30s after the command was released")
		}
	})
	if err != nil {
		t.Fatalf("weir trace: %v\n%s", err, e.String())
	}
	if want := "weir trace: 1 child process not followed: its pid is above the pid_max weir started with (kernel.pid_max was raised during the trace)\n"; !strings.HasSuffix(e.String(), want) {
		t.Errorf("stderr %q; want it to end with %q", e.String(), want)
	}
}
