package isolate

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/plugin/isolate/shm"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start makes an isolated instance of type id from lib.
func startConn(t *testing.T, lib *loader.Library, id, config string, opts Options) (*Conn, *loader.BasicHost) {
	t.Helper()
	typ := lib.Type(id)
	if typ == nil {
		t.Fatalf("no type %s", id)
	}
	h := loader.NewBasicHost("", io.Discard)
	if opts.Mode == "" {
		opts.Mode = os.Getenv("ISOLATE_TEST_MODE")
	}
	if opts.Mode == "" {
		opts.Mode = connector.IsolateProcess
	}
	if opts.Name == "" {
		opts.Name = "t-" + id
	}
	if opts.Log == nil {
		opts.Log = quiet()
	}
	c, err := New(typ, []byte(config), h, opts)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Connect(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c, h
}

func batch(t testing.TB, events, arena int) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(events, arena)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	return b
}

// gone reports whether process pid no longer exists.
func gone(pid int) bool { return unix.Kill(pid, 0) == unix.ESRCH }

func TestRecordSinkGetsEveryEvent(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	t.Setenv("WEIR_RECORD", rec)
	c, _ := startConn(t, misbehave(t), "record_sink", "{}", Options{})
	b := batch(t, 300, 300*16)
	lent := []byte("lent from the Go heap, not in the arena")
	want := []uint64{}
	for round := 0; round < 20; round++ {
		b.Reset()
		for i := 0; i < 300; i++ {
			ts := uint64(round*1000 + i)
			if i%3 == 0 {
				b.Append(ts, 0, cabi.KindRaw, 0, []byte("in the arena"))
			} else {
				e := b.Event(int(b.Len))
				*e = cabi.Event{TsNs: ts, Data: unsafePointer(lent), Len: uint32(len(lent))}
				b.Len++
			}
			want = append(want, ts)
		}
		if st, err := c.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("Write = %v, %v", st, err)
		}
	}
	pid := c.PID()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("child %d still exists after Close", pid)
	}
	got, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8*len(want) {
		t.Fatalf("recorded %d events; want %d", len(got)/8, len(want))
	}
	for i, w := range want {
		if g := binary.LittleEndian.Uint64(got[8*i:]); g != w {
			t.Fatalf("event %d: ts %d; want %d", i, g, w)
		}
	}
}

func TestChildHasNoPrivileges(t *testing.T) {
	for _, mode := range []string{connector.IsolateProcess, connector.IsolateSeccomp} {
		t.Run(mode, func(t *testing.T) {
			c, _ := startConn(t, misbehave(t), "crash_sink", `{"after": 1000}`, Options{Mode: mode})
			caps, nnp, sc := c.Privileges()
			for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
				if caps[k] != "0000000000000000" {
					t.Errorf("%s = %q; want none", k, caps[k])
				}
			}
			if os.Geteuid() == 0 && caps["CapBnd"] != "0000000000000000" {
				t.Errorf("CapBnd = %q; want none (the host is root, so it can drop them)", caps["CapBnd"])
			}
			if nnp != "1" {
				t.Errorf("NoNewPrivs = %q; want 1", nnp)
			}
			want := "0"
			if mode == connector.IsolateSeccomp {
				want = "2"
			}
			if sc != want {
				t.Errorf("Seccomp = %q; want %s", sc, want)
			}
			// The host's own view of the running child agrees.
			st, err := os.ReadFile("/proc/" + itoa(c.PID()) + "/status")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(st, []byte("CapEff:\t0000000000000000")) {
				t.Errorf("/proc/%d/status shows capabilities:\n%s", c.PID(), st)
			}
		})
	}
}

func TestCrashInWriteIsNamedAndLost(t *testing.T) {
	for _, tc := range []struct{ id, cause string }{
		{"crash_sink", "SIGSEGV"},
		{"abort_sink", "SIGABRT"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			c, _ := startConn(t, misbehave(t), tc.id, `{"after": 2}`, Options{Name: "bad"})
			b := batch(t, 4, 64)
			b.Append(1, 0, cabi.KindRaw, 0, []byte("x"))
			for i := 0; i < 2; i++ {
				if st, err := c.Write(b); st != cabi.OK || err != nil {
					t.Fatalf("write %d = %v, %v", i, st, err)
				}
			}
			st, err := c.Write(b)
			if st != cabi.Error || !errors.Is(err, connector.ErrLost) {
				t.Fatalf("crashing write = %v, %v; want Error wrapping ErrLost", st, err)
			}
			for _, w := range []string{`"bad"`, "type " + tc.id, "misbehave.so", "died in write", tc.cause} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// Every later call fails the same way, at once.
			if _, err := c.Write(b); !errors.Is(err, connector.ErrLost) {
				t.Errorf("write after the crash = %v; want ErrLost", err)
			}
			if err := c.Stop(); !errors.Is(err, connector.ErrLost) {
				t.Errorf("stop after the crash = %v; want ErrLost", err)
			}
			if got := c.Counters()[0].Value; got != 1 {
				t.Errorf("isolate_crashes = %d; want 1", got)
			}
		})
	}
}

func TestDeadlineKillsBlockedWrite(t *testing.T) {
	c, _ := startConn(t, misbehave(t), "block_sink", "{}", Options{Deadline: 300 * time.Millisecond})
	pid := c.PID()
	b := batch(t, 4, 64)
	b.Append(1, 0, cabi.KindRaw, 0, []byte("x"))
	began := time.Now()
	st, err := c.Write(b)
	if st != cabi.Error || !errors.Is(err, connector.ErrLost) {
		t.Fatalf("blocked write = %v, %v; want Error wrapping ErrLost", st, err)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("blocked write returned after %v", took)
	}
	if !strings.Contains(err.Error(), "did not return from write within 300ms") {
		t.Errorf("error %q does not name the call and deadline", err)
	}
	if !gone(pid) {
		t.Errorf("child %d still runs after its deadline", pid)
	}
	if k := c.Counters()[1].Value; k != 1 {
		t.Errorf("isolate_deadline_kills = %d; want 1", k)
	}
}

func TestWildPointerKillsOnlyTheChild(t *testing.T) {
	c, _ := startConn(t, misbehave(t), "wild_source", "{}", Options{})
	b := batch(t, 16, 16*64)
	st, err := c.Poll(b, 0)
	if st != cabi.Error || !errors.Is(err, connector.ErrLost) {
		t.Fatalf("poll with a wild pointer = %v, %v; want Error wrapping ErrLost", st, err)
	}
	if !strings.Contains(err.Error(), "died in poll") {
		t.Errorf("error %q does not name poll", err)
	}
	if b.Len != 0 || b.ArenaLen != 0 {
		t.Errorf("failed poll left %d events and %d bytes in the batch", b.Len, b.ArenaLen)
	}
}

func TestOverCapacityPollDeliversNothing(t *testing.T) {
	c, _ := startConn(t, misbehave(t), "overcap_source", `{"after": 1}`, Options{})
	b := batch(t, 8, 8*64)
	if st, err := c.Poll(b, 0); st != cabi.OK || err != nil || b.Len != 8 {
		t.Fatalf("first poll = %v, %v with %d events; want OK with 8", st, err, b.Len)
	}
	b.Reset()
	st, err := c.Poll(b, 0)
	if st != cabi.Error || err == nil || errors.Is(err, connector.ErrLost) {
		t.Fatalf("over-capacity poll = %v, %v; want Error, not lost", st, err)
	}
	if b.Len != 0 {
		t.Errorf("over-capacity poll delivered %d events", b.Len)
	}
	if !strings.Contains(err.Error(), "capacity") {
		t.Errorf("error %q does not say what was wrong", err)
	}
}

func TestSourceEventsAcksAndMetrics(t *testing.T) {
	c, h := startConn(t, misbehave(t), "count_source", "{}", Options{})
	ac := AckingConn{c}
	b := batch(t, 100, 100*64)
	var next uint64 = 1
	for round := 0; round < 10; round++ {
		b.Reset()
		b.ID = uint64(round + 1)
		if st, err := c.Poll(b, time.Millisecond); st != cabi.OK || err != nil {
			t.Fatalf("poll = %v, %v", st, err)
		}
		if b.Len != 100 {
			t.Fatalf("poll gave %d events; want 100", b.Len)
		}
		for i := 0; i < int(b.Len); i++ {
			e := b.Event(i)
			if e.TsNs != next || e.Len != 64 || !b.InArena(e) || e.Bytes()[0] != byte('a'+(next-1)%26) {
				t.Fatalf("event %d = %+v %q", i, e, e.Bytes())
			}
			next++
		}
		if round%2 == 0 {
			ac.Ack(b.ID)
		} else {
			ac.Fail(b.ID)
		}
	}
	// Acks are not answered; a call after them sees them done, and their
	// metrics reach the host with it.
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		acks, _, _ := h.Metric("misbehave_acks_total")
		fails, _, _ := h.Metric("misbehave_fails_total")
		if acks == 5 && fails == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acks %d, fails %d; want 5 and 5", acks, fails)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcessorRewritesInPlace(t *testing.T) {
	c, _ := startConn(t, misbehave(t), "upper_proc", "{}", Options{})
	b := batch(t, 4, 64)
	b.Append(1, 0, cabi.KindText, 0, []byte("hello"))
	b.Append(2, 0, cabi.KindText, 0, []byte("xray"))
	b.Append(3, 0, cabi.KindText, cabi.FlagDrop, []byte("skip"))
	if err := c.Process(b); err != nil {
		t.Fatal(err)
	}
	got := []string{string(b.Event(0).Bytes()), string(b.Event(1).Bytes()), string(b.Event(2).Bytes())}
	if got[0] != "HELLO" || got[1] != "xray" || got[2] != "skip" {
		t.Errorf("bytes after process = %q", got)
	}
	if b.Event(0).Flags != 0 || b.Event(1).Flags != cabi.FlagDrop || b.Event(2).Flags != cabi.FlagDrop {
		t.Errorf("flags after process = %d %d %d", b.Event(0).Flags, b.Event(1).Flags, b.Event(2).Flags)
	}
}

func TestSeccompKillsAFileOpen(t *testing.T) {
	t.Setenv("WEIR_RECORD", filepath.Join(t.TempDir(), "rec"))
	c, _ := startConn(t, misbehave(t), "record_sink", "{}", Options{Mode: connector.IsolateSeccomp})
	b := batch(t, 4, 64)
	b.Append(1, 0, cabi.KindRaw, 0, []byte("x"))
	_, err := c.Write(b)
	if !errors.Is(err, connector.ErrLost) || !strings.Contains(err.Error(), "SIGSYS") {
		t.Fatalf("open under seccomp: write = %v; want the child killed by SIGSYS", err)
	}
}

func TestBadConfigFailsCreate(t *testing.T) {
	typ := misbehave(t).Type("crash_sink")
	_, err := New(typ, []byte(`{"after": "x"}`), loader.NewBasicHost("", io.Discard), Options{Name: "c", Mode: connector.IsolateProcess, Log: quiet()})
	if err == nil || !strings.Contains(err.Error(), "after") {
		t.Fatalf("New with a bad config = %v; want the plugin's message", err)
	}
	if _, err := New(typ, []byte(`{}`), loader.NewBasicHost("", io.Discard), Options{Name: "c", Mode: "thread"}); err == nil {
		t.Fatal("New with an unknown mode succeeded")
	}
}

// TestStageCopiesLentRuns checks the bytes the child would read for events
// in the arena, lent from one buffer in order (copied as one run), and
// lent out of order.
func TestStageCopiesLentRuns(t *testing.T) {
	c, _ := startConn(t, misbehave(t), "crash_sink", `{"after": 1000}`, Options{})
	buf := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	b := batch(t, 16, 64)
	lend := func(off, n int) {
		e := b.Event(int(b.Len))
		*e = cabi.Event{TsNs: uint64(b.Len), Data: unsafePointer(buf[off:]), Len: uint32(n)}
		b.Len++
	}
	b.Append(0, 0, cabi.KindRaw, 0, []byte("arena"))
	lend(0, 4)
	lend(4, 6) // follows the previous one: same run
	lend(20, 3)
	lend(2, 5) // goes back: a new run
	b.Append(5, 0, cabi.KindRaw, 0, []byte("more"))
	want := []string{"arena", "0123", "456789", "klm", "23456", "more"}
	used, err := c.stage(b)
	if err != nil {
		t.Fatal(err)
	}
	if used != b.ArenaLen+4+6+3+5 {
		t.Errorf("stage used %d bytes; want %d", used, b.ArenaLen+18)
	}
	child := c.status.Base + shm.ArenaOffset
	evs := unsafe.Slice((*cabi.Event)(c.reg.Ptr(shm.EventsOffset)), b.Len)
	for i, w := range want {
		off := *(*uint64)(unsafe.Pointer(&evs[i].Data)) - child
		got := string(c.reg.Mem[shm.ArenaOffset+int(off):][:evs[i].Len])
		if got != w {
			t.Errorf("staged event %d = %q; want %q", i, got, w)
		}
	}
	if st, err := c.Write(b); st != cabi.OK || err != nil {
		t.Errorf("write of the staged batch = %v, %v", st, err)
	}
}

// TestPollReadsDescriptorsOnce rewrites the length of the last event the
// child answered, in the shared memory, while the host takes the answer:
// a host that checks one read of the descriptors and then uses another
// lets a length past the shared arena through. Every event delivered
// must have the length the child's plugin gave it (64 bytes), or the
// poll must fail.
func TestPollReadsDescriptorsOnce(t *testing.T) {
	const events = 4096
	lenAt := shm.EventsOffset + (events-1)*32 + 24
	stop := time.Now().Add(3 * time.Second)
	for attempt := 0; time.Now().Before(stop); attempt++ {
		c, _ := startConn(t, misbehave(t), "count_source", "{}", Options{})
		word := (*atomic.Uint32)(unsafe.Pointer(&c.reg.Mem[lenAt]))
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		// The child's completion ring tail (shm's offCQ+ringTail): once it
		// moves, the host is taking the answer, after the child's own
		// checks. The scribbler then waits a varying while, so that over
		// the polls its write falls between the host's check and its use.
		cqTail := (*atomic.Uint32)(unsafe.Pointer(&c.reg.Mem[2048+64]))
		go func() {
			defer wg.Done()
			seen := cqTail.Load()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if now := cqTail.Load(); now != seen {
					seen = now
					for spin := 0; spin < (i*97)%20000; spin++ {
					}
					word.Store(1 << 30)
				}
			}
		}()
		b := batch(t, events, events*64)
		for time.Now().Before(stop) {
			b.Reset()
			_, err := c.Poll(b, 0)
			if err != nil {
				break // caught and killed: start another child
			}
			for i := 0; i < int(b.Len); i++ {
				if l := b.Event(i).Len; l != 64 {
					close(done)
					wg.Wait()
					t.Fatalf("attempt %d: event %d delivered with %d bytes; the check passed a different read", attempt, i, l)
				}
			}
		}
		close(done)
		wg.Wait()
		c.Close()
	}
}

// TestPluginHostRefusesADirectRun runs `plugin-host` as a user would, with
// ordinary files on descriptors 3 and 4 (a shell's `exec 4>log`): it must
// refuse, say what the command is for, and write nothing to either file.
func TestPluginHostRefusesADirectRun(t *testing.T) {
	dir := t.TempDir()
	var files []*os.File
	for _, name := range []string{"three", "four"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	for _, args := range [][]string{{Subcommand}, {Subcommand, "--stage=2"}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.ExtraFiles = files
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v; want exit status 2", args, err)
		}
		if msg := stderr.String(); !strings.Contains(msg, "only weir itself starts it") || !strings.Contains(msg, "isolate: process") {
			t.Errorf("%v: stderr %q does not say what the command is for", args, msg)
		}
		for _, f := range files {
			if st, _ := f.Stat(); st.Size() != 0 {
				t.Errorf("%v: wrote %d bytes to the file on its descriptor", args, st.Size())
			}
		}
	}
}

// TestChildDiesWithKilledHost kills a host with SIGKILL, which it cannot
// handle, while its isolated instance runs: the child must die too (its
// parent-death signal), not live on as an orphan.
func TestChildDiesWithKilledHost(t *testing.T) {
	if os.Getenv("ISOLATE_TEST_HOST") == "1" {
		c, _ := startConn(t, misbehave(t), "count_source", "{}", Options{})
		fmt.Println("child", c.PID())
		time.Sleep(time.Minute) // until killed
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithKilledHost$", "-test.v")
	cmd.Env = append(os.Environ(), "ISOLATE_TEST_HOST=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	pid := 0
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "child %d", &pid); err == nil {
			break
		}
	}
	if pid <= 0 || gone(pid) {
		t.Fatalf("the host did not report a live child (pid %d)", pid)
	}
	cmd.Process.Signal(unix.SIGKILL)
	cmd.Wait()
	// A bound on a hang, not a speed: the child ends at once when it
	// works, and a loaded machine may delay that by seconds.
	for end := time.Now().Add(20 * time.Second); !gone(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("child %d still runs 20 s after its host was killed", pid)
		}
	}
}
