package syscall

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/internal/testpid"
)

// helperProc is a helper child (see helper in main_test.go) held at its
// gate.
type helperProc struct {
	cmd  *exec.Cmd
	gate *os.File
	errb syncBuilder // the helper's stderr, written by exec's copier while tests read it
}

// startHelper starts the test binary as a helper that makes steps once
// released.
func startHelper(t *testing.T, steps ...string) *helperProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helperProc{cmd: exec.Command(os.Args[0], "-test.run=^$"), gate: w}
	// No asynchronous preemption: the runtime signals a thread with
	// getpid and tgkill to preempt it, which would add getpid calls.
	// Under -race, no sleep of the race runtime's at exit either: it
	// would add a nanosleep on the helper's main thread.
	h.cmd.Env = append(os.Environ(), "WEIR_SYSCALL_HELPER="+strings.Join(steps, ","), "GODEBUG=asyncpreemptoff=1", "GORACE=atexit_sleep_ms=0")
	h.cmd.ExtraFiles = []*os.File{r}
	h.cmd.Stderr = &h.errb
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() {
		h.gate.Close()
		h.cmd.Process.Kill()
		h.cmd.Wait()
	})
	return h
}

func (h *helperProc) pid() int { return h.cmd.Process.Pid }

// run releases the helper and waits for it, bounded.
func (h *helperProc) run(t *testing.T) {
	t.Helper()
	if _, err := h.gate.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, h.errb.String())
		}
	case <-time.After(20 * time.Second):
		h.cmd.Process.Kill()
		t.Fatal("helper did not finish within 20s")
	}
}

// open opens a tracer or skips the test when the kernel lacks what it
// needs.
func openTracer(t *testing.T, cfg Config) *Tracer {
	t.Helper()
	tr, err := Open(cfg)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("syscall tracing not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// collect drains the tracer and returns every call it recorded, and its
// balanced counters.
func collect(t *testing.T, tr *Tracer) ([]Call, Counters) {
	t.Helper()
	if err := tr.Drain(); err != nil {
		t.Fatal(err)
	}
	b, err := cabi.AllocBatch(256, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	var calls []Call
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b.Reset()
		n, err := tr.Poll(b, 10*time.Millisecond)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.EventSlice()[:n] {
			if ev.Kind != cabi.KindSyscall {
				t.Fatalf("event kind %d; want %d", ev.Kind, cabi.KindSyscall)
			}
			v, err := cabi.ReadSyscall(ev.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, Decode(&v, ev.TsNs))
		}
	}
	k, err := tr.Counters()
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, tr, k)
	if st := tr.Reader().Stats(); st.Records != k.Emitted || st.Rejected != 0 {
		t.Errorf("reader took %d records (%d rejected); the programs emitted %d", st.Records, st.Rejected, k.Emitted)
	}
	return calls, k
}

// checkBalance asserts seen = filtered + sampled_out + emitted + counted +
// ring_full + unpaired, in the sum and on every CPU.
func checkBalance(t *testing.T, tr *Tracer, k Counters) {
	t.Helper()
	if k.Seen != k.Filtered+k.SampledOut+k.Emitted+k.Counted+k.RingFull+k.Unpaired {
		t.Errorf("counters do not balance: %+v", k)
	}
	per, err := tr.CountersPerCPU()
	if err != nil {
		t.Fatal(err)
	}
	for cpu, c := range per {
		if c.Seen != c.Filtered+c.SampledOut+c.Emitted+c.Counted+c.RingFull+c.Unpaired {
			t.Errorf("cpu %d counters do not balance: %+v", cpu, c)
		}
	}
}

func nrs(t *testing.T, list string) []uint32 {
	t.Helper()
	n, err := ParseList(list)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// line is how a test compares a call: its text without time and duration.
func line(c Call) string {
	var args []string
	for _, a := range c.Args {
		v := a.Value
		if a.Quote {
			v = fmt.Sprintf("%q", v)
		}
		args = append(args, v)
	}
	return fmt.Sprintf("%s %s(%s) = %s", c.Comm, c.Name, strings.Join(args, ", "), c.RetString())
}

// TestHelperCalls traces a helper that connects to a loopback listener,
// opens a temp file, writes to it, renames it and execs /bin/true, and
// checks the decoded calls in order with their return values.
func TestHelperCalls(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	h := startHelper(t, fmt.Sprintf("connect:127.0.0.1:%d", port), "open:"+a, "write", "rename:"+a+":"+b, "enoent", "exec:/bin/true")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, Syscalls: nrs(t, "connect,openat,write,renameat2,execve,exit_group")})
	h.run(t)
	calls, k := collect(t, tr)

	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15]
	}
	// The helper's file descriptors: 0-2, the gate (3), the socket;
	// the file comes next. Go's runtime may hold a few more (epoll,
	// pipes), so take the fd from the open's return value.
	want := []string{
		fmt.Sprintf("%s connect(%s, 127.0.0.1:%d, 16) = 0", comm, "FD", port),
		fmt.Sprintf("%s openat(AT_FDCWD, %q, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = FILE", comm, a),
		fmt.Sprintf("%s write(FILE, 5) = 5", comm),
		fmt.Sprintf("%s renameat2(-100, %q, -100, %q, 0x0) = 0", comm, a, b),
		fmt.Sprintf(`%s openat(AT_FDCWD, "/nonexistent/weir-test", O_RDONLY) = -1 ENOENT (no such file or directory)`, comm),
		`true execve("/bin/true", ["/bin/true"]) = 0`,
	}
	if len(calls) < len(want)+1 {
		t.Fatalf("got %d calls; want at least %d:\n%s", len(calls), len(want)+1, dump(calls))
	}
	if calls[0].Name == "connect" && len(calls[0].Args) > 0 {
		want[0] = strings.Replace(want[0], "FD", calls[0].Args[0].Value, 1)
	}
	if calls[1].Name == "openat" {
		for i := range want {
			want[i] = strings.ReplaceAll(want[i], "FILE", fmt.Sprint(calls[1].Ret))
		}
	}
	for i, w := range want {
		if got := line(calls[i]); got != w {
			t.Errorf("call %d = %s\n            want %s", i, got, w)
		}
		if calls[i].Pid != uint32(h.pid()) || calls[i].Tid == 0 {
			t.Errorf("call %d pid/tid = %d/%d; want pid %d", i, calls[i].Pid, calls[i].Tid, h.pid())
		}
	}
	// After the exec: /bin/true's own calls (the loader's openat of its
	// libraries), all from the same process, ending with exit_group.
	last := calls[len(calls)-1]
	if line(last) != "true exit_group(0) = ?" {
		t.Errorf("last call = %s; want true exit_group(0) = ?", line(last))
	}
	for _, c := range calls[len(want):] {
		if c.Comm != "true" || c.Pid != uint32(h.pid()) {
			t.Errorf("after exec: %s from pid %d; want comm true, pid %d", line(c), c.Pid, h.pid())
		}
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Time.Before(calls[i-1].Time) {
			t.Errorf("call %d (%s) started before call %d", i, calls[i].Name, i-1)
		}
	}
	if k.Emitted != uint64(len(calls)) || k.Unpaired != 0 || k.RingFull != 0 {
		t.Errorf("counters %+v; want %d emitted, none unpaired or lost", k, len(calls))
	}
}

func dump(calls []Call) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString(line(c))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestPidFilter: of two helpers making the same calls, only the traced
// one's are recorded, and the other's are counted as filtered out.
func TestPidFilter(t *testing.T) {
	kept := startHelper(t, "getpid:100", "enoent")
	other := startHelper(t, "getpid:100", "enoent")
	tr := openTracer(t, Config{Pids: []int{kept.pid()}, Syscalls: nrs(t, "getpid,openat")})
	kept.run(t)
	other.run(t)
	calls, k := collect(t, tr)
	var getpid, enoent int
	for _, c := range calls {
		if c.Pid != uint32(kept.pid()) {
			t.Fatalf("recorded %s of pid %d; only pid %d is traced", line(c), c.Pid, kept.pid())
		}
		switch {
		case c.Name == "getpid":
			getpid++
		case c.Name == "openat" && c.Errno == "ENOENT":
			enoent++
		}
	}
	if getpid != 100 || enoent != 1 {
		t.Errorf("recorded %d getpid and %d failed openat; want 100 and 1", getpid, enoent)
	}
	if k.Filtered < 101 {
		t.Errorf("filtered %d calls; the other helper alone made 101", k.Filtered)
	}
}

// TestCommFilter: a comm prefix keeps the calls /bin/true makes after the
// helper execs it and drops the helper's own before.
func TestCommFilter(t *testing.T) {
	h := startHelper(t, "enoent", "exec:/bin/true")
	tr := openTracer(t, Config{Comms: []string{"tru"}, Syscalls: nrs(t, "openat,exit_group")})
	h.run(t)
	calls, _ := collect(t, tr)
	var mine int
	for _, c := range calls {
		if c.Pid != uint32(h.pid()) {
			continue // another true running on the machine
		}
		mine++
		if c.Comm != "true" || c.Errno == "ENOENT" && strings.Contains(line(c), "weir-test") {
			t.Errorf("recorded %s; want only calls of comm true", line(c))
		}
	}
	if mine < 2 {
		t.Errorf("recorded %d calls of /bin/true; want its openat calls and exit_group:\n%s", mine, dump(calls))
	}
}

// TestFailedOnly keeps only failed calls.
func TestFailedOnly(t *testing.T) {
	dir := t.TempDir()
	h := startHelper(t, "open:"+filepath.Join(dir, "x"), "enoent", "getpid:10")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, FailedOnly: true, Syscalls: nrs(t, "openat,getpid")})
	h.run(t)
	calls, k := collect(t, tr)
	if len(calls) != 1 || calls[0].Errno != "ENOENT" {
		t.Fatalf("recorded:\n%swant exactly the failed openat", dump(calls))
	}
	if k.Filtered < 11 {
		t.Errorf("filtered %d; the successful openat and 10 getpid make 11", k.Filtered)
	}
}

// TestCountOnly: counting only, the calls the filters keep are counted
// and no record is written, at entry without a return filter and at
// return with one.
func TestCountOnly(t *testing.T) {
	t.Run("entry", func(t *testing.T) {
		h := startHelper(t, "getpid:100", "enoent")
		tr := openTracer(t, Config{Pids: []int{h.pid()}, CountOnly: true, Syscalls: nrs(t, "getpid")})
		h.run(t)
		calls, k := collect(t, tr)
		if len(calls) != 0 || k.Emitted != 0 || k.Counted != 100 {
			t.Fatalf("recorded:\n%scounters %+v; want no record and the 100 getpid counted", dump(calls), k)
		}
	})
	t.Run("failed", func(t *testing.T) {
		dir := t.TempDir()
		h := startHelper(t, "open:"+filepath.Join(dir, "x"), "enoent", "getpid:10")
		tr := openTracer(t, Config{Pids: []int{h.pid()}, CountOnly: true, FailedOnly: true, Syscalls: nrs(t, "openat,getpid")})
		h.run(t)
		calls, k := collect(t, tr)
		if len(calls) != 0 || k.Emitted != 0 || k.Counted != 1 || k.Filtered < 11 {
			t.Fatalf("recorded:\n%scounters %+v; want no record, the failed openat counted and 11 calls filtered out", dump(calls), k)
		}
	})
}

// TestSlower keeps a 30 ms sleep and drops fast calls.
func TestSlower(t *testing.T) {
	h := startHelper(t, "getpid:10", "sleep:30ms", "getpid:10")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, Slower: 20 * time.Millisecond, Syscalls: nrs(t, "getpid,nanosleep")})
	h.run(t)
	calls, _ := collect(t, tr)
	// The runtime's sysmon thread sleeps in nanosleep too, at most 10ms
	// at a time, so it is normally filtered out as well; on a loaded
	// machine one of its sleeps can overrun 20ms, and is then rightly
	// kept. So: every kept call is a slow nanosleep, and the helper's
	// own thread (tid = pid; it is locked to it) kept exactly one.
	own := 0
	for _, c := range calls {
		if c.Name != "nanosleep" || c.Duration < 20*time.Millisecond {
			t.Fatalf("recorded:\n%skept %s, which is not a nanosleep of 20ms or more", dump(calls), line(c))
		}
		if c.Tid == uint32(h.pid()) {
			own++
		}
	}
	if own != 1 {
		tids := []uint32{}
		for _, c := range calls {
			tids = append(tids, c.Tid)
		}
		t.Fatalf("recorded:\n%s(tids %v) want exactly one nanosleep of 30ms from the helper's thread %d", dump(calls), tids, h.pid())
	}
}

// TestSampling keeps about 1 in 10 of 5000 getpid calls, at random: every
// call is either emitted or sampled out, and the kept share is within
// 5 standard deviations of 500.
func TestSampling(t *testing.T) {
	h := startHelper(t, "getpid:5000")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, SampleRate: 10, Syscalls: nrs(t, "getpid")})
	h.run(t)
	calls, k := collect(t, tr)
	if k.Emitted+k.SampledOut != 5000 {
		t.Errorf("emitted %d + sampled out %d = %d; want the 5000 getpid calls", k.Emitted, k.SampledOut, k.Emitted+k.SampledOut)
	}
	// sd = sqrt(5000 * 0.1 * 0.9) = 21.2
	if k.Emitted < 394 || k.Emitted > 606 {
		t.Errorf("kept %d of 5000 at 1 in 10; want 500 +- 106", k.Emitted)
	}
	if uint64(len(calls)) != k.Emitted {
		t.Errorf("read %d calls; emitted %d", len(calls), k.Emitted)
	}
	for _, c := range calls {
		if c.Name != "getpid" {
			t.Fatalf("recorded %s", line(c))
		}
	}
}

// TestFollow: with Follow, a process forked by a traced one is traced,
// and so is its child; without it, neither is.
func TestFollow(t *testing.T) {
	for _, follow := range []bool{true, false} {
		t.Run(fmt.Sprint("follow=", follow), func(t *testing.T) {
			// sh forks a sh that forks /bin/true: the grandchild.
			cmd := exec.Command("/bin/sh", "-c", `read x; /bin/sh -c '/bin/true; exit 0'; exit 0`)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			tr := openTracer(t, Config{Pids: []int{cmd.Process.Pid}, Follow: follow, Syscalls: nrs(t, "execve")})
			stdin.Write([]byte("go\n"))
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			calls, _ := collect(t, tr)
			var paths []string
			for _, c := range calls {
				paths = append(paths, c.Args[0].Value)
			}
			want := "/bin/sh /bin/true"
			if !follow {
				want = ""
			}
			if got := strings.Join(paths, " "); got != want {
				t.Errorf("execve paths = %q; want %q\n%s", got, want, dump(calls))
			}
			// Every traced process has exited (each was waited for):
			// none may stay marked, or whatever process next gets its
			// pid (pid_max is often 32768) would be traced too.
			var pid uint32
			var mark uint8
			it := tr.maps.WeirPids.Iterate()
			for it.Next(&pid, &mark) {
				if mark != 0 {
					t.Errorf("pid %d still marked as traced after it exited (the command was %d)", pid, cmd.Process.Pid)
				}
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUnpaired: a call still in progress when tracing stops is counted as
// unpaired, and the counters balance.
func TestUnpaired(t *testing.T) {
	// Each hook keeps calls in progress in a table of its own.
	for _, hook := range []Hook{HookBTF, HookRaw} {
		t.Run(hook.String(), func(t *testing.T) { testUnpaired(t, hook) })
	}
}

func testUnpaired(t *testing.T, hook Hook) {
	h := startHelper(t, "sleep:2s")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, Syscalls: nrs(t, "nanosleep"), Hook: hook})
	if _, err := h.gate.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	// Wait until the helper's main thread sleeps in nanosleep.
	nr, _ := Number("nanosleep")
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", h.pid()))
		if strings.HasPrefix(string(b), fmt.Sprint(nr, " ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper not in nanosleep after 20s: /proc/%d/syscall says %q", h.pid(), b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	calls, k := collect(t, tr)
	// The runtime's sysmon thread may have slept and woken in the
	// meantime (and be asleep at the stop: then 2 unpaired); the
	// helper's own 2s sleep must not have been recorded.
	for _, c := range calls {
		if c.Tid == uint32(h.pid()) {
			t.Errorf("recorded %s of the helper's thread; its sleep was in progress", line(c))
		}
	}
	if k.Unpaired < 1 || k.Unpaired > 2 {
		t.Errorf("counters %+v; want 1 or 2 unpaired", k)
	}
	h.cmd.Process.Kill()
}

// TestUnpairedThreads: calls in progress on many threads when tracing
// stops are each counted as unpaired once, and those that returned are
// not, under both hooks; the threads' marks were set and cleared on any
// CPU.
func TestUnpairedThreads(t *testing.T) {
	for _, hook := range []Hook{HookBTF, HookRaw} {
		t.Run(hook.String(), func(t *testing.T) { testUnpairedThreads(t, hook) })
	}
}

func testUnpairedThreads(t *testing.T, hook Hook) {
	const threads = 20
	h := startHelper(t, fmt.Sprintf("threadsleep:%d:10s", threads), "sleep:10s")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, Syscalls: nrs(t, "nanosleep"), Hook: hook})
	if _, err := h.gate.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	// Wait until the helper's main thread sleeps, and every thread had
	// its 5 short sleeps.
	nr, _ := Number("nanosleep")
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", h.pid()))
		k, err := tr.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(b), fmt.Sprint(nr, " ")) && k.Emitted >= 5*threads {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper not asleep after 20s: /proc/%d/syscall says %q, counters %+v", h.pid(), b, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Give the last short sleeps time to reach their long one.
	time.Sleep(50 * time.Millisecond)
	calls, k := collect(t, tr)
	long := 0
	for _, c := range calls {
		if c.Duration >= time.Second {
			long++
		}
	}
	// The runtime's sysmon may be asleep at the stop too.
	if long != 0 || k.Unpaired < threads+1 || k.Unpaired > threads+2 || k.RingFull != 0 {
		t.Errorf("counters %+v, %d long sleeps recorded; want %d or %d unpaired, none lost and no long sleep", k, long, threads+1, threads+2)
	}
	h.cmd.Process.Kill()
}

// TestStartBusy: a trace that starts while its process makes calls
// nonstop pairs each call it keeps with that call's own return. A thread
// must not be marked in a call before the programs that take the mark at
// return are attached: the mark of a call that returned unseen was counted
// as unpaired at the next kept call, or taken by the return of an
// untraced one (getpid's return printed as getppid's).
func TestStartBusy(t *testing.T) {
	for _, hook := range []Hook{HookBTF, HookRaw} {
		t.Run(hook.String(), func(t *testing.T) { testStartBusy(t, hook) })
	}
}

func testStartBusy(t *testing.T, hook Hook) {
	h := startHelper(t, "alternate:20s")
	if _, err := h.gate.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	getppid, _ := Number("getppid")
	for range 5 {
		tr := openTracer(t, Config{Pids: []int{h.pid()}, Syscalls: []uint32{getppid}, Hook: hook})
		// Trace until the loop made a call: on a busy machine it may
		// not get a CPU for a while.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if k, err := tr.Counters(); err != nil || k.Emitted > 0 || time.Now().After(deadline) {
				break
			}
		}
		calls, k := collect(t, tr)
		tr.Close()
		bad := 0
		for _, c := range calls {
			if c.Name != "getppid" || c.Ret != int64(os.Getpid()) {
				if bad++; bad <= 3 {
					t.Errorf("recorded %s; want getppid() = %d", line(c), os.Getpid())
				}
			}
		}
		if len(calls) == 0 || k.Unpaired != 0 || bad != 0 {
			t.Fatalf("%d calls recorded, %d wrong; counters %+v; want getppid calls only, none unpaired", len(calls), bad, k)
		}
	}
}

// TestConfigErrors lists what Open refuses before loading anything.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{RingSize: 5000}, "ring size 5000"},
		{Config{Comms: []string{""}}, "process name"},
		{Config{Comms: []string{"a-name-of-16-byt"}}, "1 to 15 bytes"},
		{Config{Comms: make([]string, 9)}, "at most 8"},
		{Config{Pids: []int{-1}}, "pid -1"},
		{Config{Follow: true}, "follow needs a pid"},
		{Config{Syscalls: []uint32{5000}}, "below 1024"},
		{Config{Slower: -time.Second}, "negative"},
	} {
		if err := CheckConfig(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckConfig(%+v) = %v; want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

// TestHooks: both program kinds load, attach and record the same calls.
func TestHooks(t *testing.T) {
	for _, hook := range []Hook{HookBTF, HookRaw} {
		t.Run(hook.String(), func(t *testing.T) {
			h := startHelper(t, "getpid:3", "enoent")
			tr, err := Open(Config{Pids: []int{h.pid()}, Syscalls: nrs(t, "getpid,openat"), Hook: hook})
			if err != nil {
				if hook == HookBTF && (errors.Is(err, unix.EPERM) || errors.Is(err, ErrNotSupported)) {
					t.Skipf("tp_btf refused here: %v", err)
				}
				t.Fatal(err)
			}
			defer tr.Close()
			if tr.Hook() != hook {
				t.Errorf("Hook() = %v; want %v", tr.Hook(), hook)
			}
			h.run(t)
			calls, _ := collect(t, tr)
			if got := dump(calls); strings.Count(got, "getpid()") != 3 || !strings.Contains(got, "ENOENT") {
				t.Errorf("recorded:\n%swant 3 getpid and a failed openat", got)
			}
		})
	}
}

// TestExecFromThread: an execve made by a thread that is not its
// process's leader still pairs with its return, although the thread's tid
// changes to the leader's during the call.
func TestExecFromThread(t *testing.T) {
	for _, hook := range []Hook{HookBTF, HookRaw} {
		t.Run(hook.String(), func(t *testing.T) { testExecFromThread(t, hook) })
	}
}

func testExecFromThread(t *testing.T, hook Hook) {
	h := startHelper(t, "threadexec:/bin/true")
	tr := openTracer(t, Config{Pids: []int{h.pid()}, Syscalls: nrs(t, "execve"), Hook: hook})
	h.run(t)
	calls, k := collect(t, tr)
	if len(calls) != 1 || line(calls[0]) != `true execve("/bin/true", ["/bin/true"]) = 0` || calls[0].Tid != uint32(h.pid()) {
		t.Fatalf("recorded:\n%swant the execve of /bin/true, returning in tid %d", dump(calls), h.pid())
	}
	if k.Unpaired != 0 || k.RingFull != 0 {
		t.Errorf("counters %+v; want nothing unpaired or lost", k)
	}
}

// TestCgroupFilter: with a cgroup, the calls of a helper moved into a
// child of it are kept and those of a helper outside are not.
func TestCgroupFilter(t *testing.T) {
	root, err := Cgroup2Root()
	if err != nil {
		t.Skipf("no cgroup v2: %v", err)
	}
	parent, err := os.MkdirTemp(root, "weir-test-")
	if err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	child := filepath.Join(parent, "inner")
	if err := os.Mkdir(child, 0o755); err != nil {
		os.Remove(parent)
		t.Fatal(err)
	}
	inside := startHelper(t, "getpid:20")
	outside := startHelper(t, "getpid:20")
	t.Cleanup(func() {
		inside.cmd.Process.Kill()
		inside.cmd.Wait()
		os.Remove(child)
		os.Remove(parent)
	})
	if err := os.WriteFile(filepath.Join(child, "cgroup.procs"), []byte(fmt.Sprint(inside.pid())), 0); err != nil {
		t.Skipf("cannot move a process into a cgroup: %v", err)
	}
	tr := openTracer(t, Config{Cgroup: strings.TrimPrefix(parent, root+"/"), Syscalls: nrs(t, "getpid")})
	inside.run(t)
	outside.run(t)
	calls, _ := collect(t, tr)
	// A cgroup v2 id is the inode number of its directory.
	var st unix.Stat_t
	if err := unix.Stat(child, &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range calls {
		switch c.Pid {
		case uint32(inside.pid()):
			n++
			if c.CgroupID != st.Ino {
				t.Fatalf("recorded %s with cgroup id %d; want %d, the inode of %s", line(c), c.CgroupID, st.Ino, child)
			}
		case uint32(outside.pid()):
			t.Fatalf("recorded %s of the helper outside the cgroup", line(c))
		}
	}
	if n != 20 {
		t.Errorf("recorded %d getpid of the helper inside the cgroup; want 20", n)
	}
}

// TestThreadPid: a pid that names a thread, not a process, traces that
// thread alone.
func TestThreadPid(t *testing.T) {
	h := startHelper(t, "threadgetpid:10", "getpid:5")
	// The helper prints its thread's tid on stderr before waiting.
	var tid int
	deadline := time.Now().Add(10 * time.Second)
	for tid == 0 && time.Now().Before(deadline) {
		fmt.Sscanf(h.errb.String(), "tid %d", &tid)
		time.Sleep(5 * time.Millisecond)
	}
	if tid == 0 {
		t.Fatal("helper did not report its thread")
	}
	tr := openTracer(t, Config{Pids: []int{tid}, Syscalls: nrs(t, "getpid")})
	h.run(t)
	calls, _ := collect(t, tr)
	if len(calls) != 10 {
		t.Fatalf("recorded:\n%swant the 10 getpid of thread %d alone", dump(calls), tid)
	}
	for _, c := range calls {
		if c.Tid != uint32(tid) {
			t.Errorf("recorded %s of tid %d", line(c), c.Tid)
		}
	}
}

// syncBuilder is a strings.Builder that one goroutine may write while
// another reads it.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPidMaxRaised: when pid_max is raised during a trace, the calls of a
// thread whose id is beyond the tracer's arrays are counted as lost, not
// dropped unseen, under both hooks.
func TestPidMaxRaised(t *testing.T) {
	for _, hook := range []Hook{HookBTF, HookRaw} {
		t.Run(hook.String(), func(t *testing.T) {
			pm := testpid.Lock(t)
			tr := openTracer(t, Config{Syscalls: nrs(t, "getpid"), Hook: hook})
			var h *helperProc
			old := pm.HighPids(func() { h = startHelper(t, "getpid:500") })
			if uint32(h.pid()) < old {
				t.Skipf("the helper got pid %d, below the old pid_max %d (another process reset the last pid)", h.pid(), old)
			}
			h.run(t)
			calls, k := collect(t, tr)
			for _, c := range calls {
				if c.Pid == uint32(h.pid()) {
					t.Fatalf("recorded %s of the helper, whose pid %d is beyond the tracer's arrays (pid_max was %d)", line(c), h.pid(), old)
				}
			}
			if k.TableFull < 500 || k.RingFull < k.TableFull {
				t.Errorf("counters %+v; want the helper's 500 getpid calls among the lost (ring_full, table_full)", k)
			}
		})
	}
}

// TestPidMaxRaisedFollow: a child of a traced process whose pid is beyond
// the tracer's arrays cannot be followed; it is counted as unfollowed.
func TestPidMaxRaisedFollow(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", `read x; /bin/true; echo $?`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	pm := testpid.Lock(t)
	tr := openTracer(t, Config{Pids: []int{cmd.Process.Pid}, Follow: true, Syscalls: nrs(t, "execve")})
	pm.HighPids(func() {
		// sh forks /bin/true now.
		stdin.Write([]byte("go\n"))
		stdin.Close()
		err = cmd.Wait()
	})
	if err != nil {
		t.Fatal(err)
	}
	calls, k := collect(t, tr)
	if len(calls) != 0 {
		t.Errorf("recorded:\n%swant nothing: the child's pid is beyond the tracer's arrays", dump(calls))
	}
	if k.Unfollowed != 1 {
		t.Errorf("counters %+v; want the one child of sh unfollowed", k)
	}
}
