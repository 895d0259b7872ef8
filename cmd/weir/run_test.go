package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runOutput is a bytes.Buffer safe for the concurrent writes of a run.
type runOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *runOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *runOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const runConfig = `connectors:
  gen:
    type: blaster
    config: {loops: 0, size: 16, rate: 20000}
  out:
    type: file
    config: {path: "%s", flush_interval: 0s}
connections:
  - {from: gen, to: out}
`

func fileLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

// runWaitFor polls cond until it holds, and fails the test when it has not
// after 30 s: a bound for a hang, not a speed (it returns as soon as cond
// holds, and a machine busy with other work may need more than a few
// seconds).
func runWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backgroundRun is a runRun in progress.
type backgroundRun struct {
	stdout, stderr runOutput
	sigs           chan os.Signal
	done           chan int
}

// startRun starts runRun with args in the background.
func startRun(args ...string) *backgroundRun {
	r := &backgroundRun{sigs: make(chan os.Signal, 2), done: make(chan int, 1)}
	go func() { r.done <- runRun(args, &r.stdout, &r.stderr, r.sigs) }()
	return r
}

// exit waits (at most 30s, a bound for a hang: the drain timeouts here are
// at most 3s, and the kill grace 5s) for the run to end and returns its
// exit code.
func (r *backgroundRun) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
		return -1
	}
}

// TestRunReloadAndDrain runs a config, changes the sink's file and sends
// SIGHUP, then SIGTERM: the unchanged source must keep running (its count
// covers both files), the changed sink must be replaced, and the drain
// must lose nothing.
func TestRunReloadAndDrain(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "weir.yaml")
	first, second := filepath.Join(dir, "first.jsonl"), filepath.Join(dir, "second.jsonl")
	if err := os.WriteFile(cfg, []byte(strings.Replace(runConfig, "%s", first, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRun("-c", cfg, "--metrics", "off", "--drain-timeout", "3s")
	stdout, stderr := &r.stdout, &r.stderr

	runWaitFor(t, "events in the first file", func() bool { return fileLines(t, first) > 100 })
	if err := os.WriteFile(cfg, []byte(strings.Replace(runConfig, "%s", second, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.sigs <- syscall.SIGHUP
	runWaitFor(t, "events in the second file", func() bool { return fileLines(t, second) > 100 })
	r.sigs <- syscall.SIGTERM
	if code := r.exit(t); code != 0 {
		t.Fatalf("run exited %d; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "accounting: balanced") {
		t.Errorf("summary does not report balanced accounting:\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^gen\s+source\s+\S+\s+(\d+)\s+\d+\s+(\d+)\s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no gen line in summary:\n%s", out)
	}
	produced, _ := strconv.Atoi(m[2])
	if got := fileLines(t, first) + fileLines(t, second); got != produced {
		t.Errorf("files hold %d events; the source produced %d (kept across the reload, nothing lost)", got, produced)
	}
	if !strings.Contains(stderr.String(), "kept_connectors=1") {
		t.Errorf("reload did not keep the unchanged source; stderr:\n%s", stderr.String())
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfg, []byte("connectors:\n  x:\n    type: nosuch\n"), 0o644)
	var stdout, stderr runOutput
	if code := runRun([]string{"-c", cfg, "--metrics", "off"}, &stdout, &stderr, nil); code != 1 {
		t.Errorf("run with a bad config exited %d; want 1", code)
	}
	if !strings.Contains(stderr.String(), cfg+":3:") {
		t.Errorf("error lacks FILE:LINE position:\n%s", stderr.String())
	}
	if code := runRun(nil, &stdout, &stderr, nil); code != 2 {
		t.Errorf("run without -c exited %d; want 2", code)
	}
}

// TestRunRefusesSizes is issue 11: sizes the engine can never allocate
// used to run forever, logging an error ten times a second. They are
// usage errors naming the flag and its range, before the config is read.
func TestRunRefusesSizes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch-events", "100000000"}, "weir run: --batch-events 100000000: out of range 1..1048576"},
		{[]string{"--batch-bytes", "-1"}, "weir run: --batch-bytes -1: out of range 1..1073741824"},
		{[]string{"--pool", "5000"}, "weir run: --pool 5000: out of range 1..4096"},
		{[]string{"--edge-capacity", "100000"}, "weir run: --edge-capacity 100000: out of range 1..65536"},
		{[]string{"--batch-bytes", "1073741824"}, "weir run: --pool 64: out of range 1..15 for batches of 1024 events"},
	} {
		var stdout, stderr runOutput
		args := append([]string{"-c", "/nonexistent.yaml", "--metrics", "off"}, c.args...)
		sigs := make(chan os.Signal, 1)
		time.AfterFunc(10*time.Second, func() { sigs <- syscall.SIGTERM })
		if code := runRun(args, &stdout, &stderr, sigs); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("weir run %q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// TestRunFailedConnectorExits1: a connector whose create fails (for good)
// or whose connect never succeeds makes run exit 1 and name it, with its
// error, on stderr, even when the run ends on SIGTERM.
func TestRunFailedConnectorExits1(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		config string
		// signal: send SIGTERM once the run has logged that it runs.
		signal bool
		want   string
	}{
		{
			name: "create",
			config: `connectors:
  gen: {type: blaster, config: {file: "` + dir + `/missing.jsonl"}}
  out: {type: blackhole}
connections:
  - {from: gen, to: out}
`,
			want: "weir run: connector gen (type blaster) failed: create gen: blaster gen: read events: open " + dir + "/missing.jsonl: no such file or directory\n",
		},
		{
			name: "connect",
			config: `connectors:
  gen: {type: blaster, config: {count: 10}}
  out: {type: file, config: {path: "` + dir + `/no/such/dir/out.jsonl"}}
connections:
  - {from: gen, to: out}
`,
			signal: true,
			want:   "weir run: connector out (type file) failed: connect out: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(dir, tt.name+".yaml")
			if err := os.WriteFile(cfg, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			r := startRun("-c", cfg, "--metrics", "off", "--drain-timeout", "200ms")
			if tt.signal {
				runWaitFor(t, "a failed connect", func() bool { return strings.Contains(r.stderr.String(), "connector connect failed") })
				r.sigs <- syscall.SIGTERM
			}
			if code := r.exit(t); code != 1 {
				t.Errorf("run exited %d; want 1", code)
			}
			if !strings.Contains(r.stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr.String())
			}
		})
	}
}

// TestRunSinkFailureExits1: a run whose sink fails every write (a full
// disk: /dev/full) balances its accounting but exits 1, naming the sink
// and the events it dropped; so does one whose sink buffered every event
// and failed to write them out at the drain; the same run into a
// blackhole exits 0.
func TestRunSinkFailureExits1(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		sink string
		code int
		want string
	}{
		{`{type: file, config: {path: /dev/full, flush_interval: 0s}}`, 1, "weir run: sink out dropped 100 events: the sink's writes failed (100 sink_error)\n"},
		{`{type: file, config: {path: /dev/full, flush_interval: 1h}}`, 1, "weir run: connector out (type file) failed to stop cleanly, so what it still held may be lost: drain out: file out: write /dev/full: no space left on device\n"},
		{`{type: blackhole}`, 0, ""},
	} {
		cfg := filepath.Join(dir, "run.yaml")
		config := "connectors:\n  gen: {type: blaster, config: {count: 100}}\n  out: " + tt.sink + "\nconnections:\n  - {from: gen, to: out}\n"
		if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		r := startRun("-c", cfg, "--metrics", "off", "--drain-timeout", "2s")
		if code := r.exit(t); code != tt.code {
			t.Errorf("%s: run exited %d; want %d\n%s", tt.sink, code, tt.code, r.stderr.String())
		}
		if !strings.Contains(r.stdout.String(), "accounting: balanced") {
			t.Errorf("%s: summary does not balance:\n%s", tt.sink, r.stdout.String())
		}
		var got []string
		for _, l := range strings.SplitAfter(r.stderr.String(), "\n") {
			if strings.HasPrefix(l, "weir run: ") {
				got = append(got, l)
			}
		}
		if strings.Join(got, "") != tt.want {
			t.Errorf("%s: stderr says %q; want %q", tt.sink, got, tt.want)
		}
	}
}

// TestRunPluginFlags: run takes -P/--plugin as validate does, a library or
// a directory of them, loads a library named both ways once, and still
// accepts the deprecated --plugin-dir (hidden from --help).
func TestRunPluginFlags(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := buildGenerator(t, plugins)
	graph := "connectors:\n  g: {type: generator, config: {count: 100}}\n  out: {type: file, config: {path: %q}}\nconnections:\n  - {from: g, to: out}\n"
	tests := []struct {
		name string
		args []string
		// listed: the config names the library itself
		listed bool
		// warn is a line stderr must hold
		warn string
	}{
		{name: "-P DIR", args: []string{"-P", plugins}},
		{name: "-P LIB", args: []string{"-P", lib}},
		{name: "--plugin DIR", args: []string{"--plugin", plugins}},
		{name: "-P DIR and LIB in the config", args: []string{"-P", plugins}, listed: true},
		{name: "--plugin-dir DIR", args: []string{"--plugin-dir", plugins}, warn: "Flag --plugin-dir has been deprecated, use -P/--plugin DIR\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d.jsonl", i))
			text := fmt.Sprintf(graph, out)
			if tt.listed {
				text = "plugins: [plugins/libgen.so]\n" + text
			}
			cfg := filepath.Join(dir, fmt.Sprintf("run%d.yaml", i))
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr runOutput
			args := append(append([]string(nil), tt.args...), "-c", cfg, "--metrics", "off")
			if code := runRun(args, &stdout, &stderr, nil); code != 0 {
				t.Fatalf("run %q exited %d; want 0; stderr:\n%s", args, code, stderr.String())
			}
			if n := fileLines(t, out); n != 100 {
				t.Errorf("run %q wrote %d events; want 100", args, n)
			}
			if tt.warn != "" && !strings.Contains(stderr.String(), tt.warn) {
				t.Errorf("stderr lacks %q:\n%s", tt.warn, stderr.String())
			}
		})
	}

	var stdout, stderr runOutput
	if code := runRun([]string{"--help"}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("run --help exited %d; want 0", code)
	}
	help := stdout.String()
	if stderr.String() != "" {
		t.Errorf("run --help wrote to stderr: %q; want its help on stdout only", stderr.String())
	}
	if want := `(?m)^\s+-P, --plugin PATH\s+load plugin PATH \(a library or a directory of \*\.so\) before the config's own; repeatable$`; !regexp.MustCompile(want).MatchString(help) {
		t.Errorf("run --help lacks a line matching %s:\n%s", want, help)
	}
	if strings.Contains(help, "plugin-dir") || strings.Contains(help, "--plugins") {
		t.Errorf("run --help shows a deprecated plugin flag:\n%s", help)
	}
}

// buildGenerator builds the C generator plugin into dir/libgen.so and
// returns its path. It skips the test when there is no C compiler.
func buildGenerator(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler (cc) to build the test plugin")
	}
	lib := filepath.Join(dir, "libgen.so")
	cmd := exec.Command("cc", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-I", "../../cabi/include",
		"-o", lib, "../../plugins/c/generator.c", "../../plugins/c/config.c")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	return lib
}

// TestRunStopFailureAcrossReload: a sink that failed to write out what it
// buffered when a reload replaced it with a sink of another type is named
// with the type that failed, not the one it has now.
func TestRunStopFailureAcrossReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "run.yaml")
	write := func(sink string) {
		config := "connectors:\n  gen: {type: blaster, config: {rate: 200}}\n  out: " + sink + "\nconnections:\n  - {from: gen, to: out}\n"
		if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{type: file, config: {path: /dev/full, flush_interval: 1h}}`)
	r := startRun("-c", cfg, "--metrics", "off", "--drain-timeout", "2s")
	runWaitFor(t, "the file sink running", func() bool { return strings.Contains(r.stderr.String(), "connector=out type=file attempts=1") })
	time.Sleep(200 * time.Millisecond)
	write(`{type: blackhole, config: {print: false}}`)
	r.sigs <- syscall.SIGHUP
	runWaitFor(t, "the reload", func() bool { return strings.Contains(r.stderr.String(), "msg=reloaded") })
	r.sigs <- syscall.SIGTERM
	if code := r.exit(t); code != 1 {
		t.Errorf("run exited %d; want 1\n%s", code, r.stderr.String())
	}
	want := "weir run: connector out (type file, replaced by a reload with type blackhole) failed to stop cleanly, so what it still held may be lost: drain out: file out: write /dev/full: no space left on device\n"
	if !strings.Contains(r.stderr.String(), want) {
		t.Errorf("stderr does not say\n%s\n%s", want, r.stderr.String())
	}
}

// TestRunFailureOfRemovedConnector: a sink that a reload removed still
// counts at the end: it failed to write out what it buffered, or its
// writes failed, and the run exits 1 naming it as removed, while the
// summary lists its final figures and its edge's, and balances.
func TestRunFailureOfRemovedConnector(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		flush string
		want  string // a regexp for the one "weir run:" line
	}{
		{"1h", `^weir run: connector out \(type file, removed by a reload\) failed to stop cleanly, so what it still held may be lost: drain out: file out: write /dev/full: no space left on device\n$`},
		{"0s", `^weir run: sink out \(removed\) dropped ([1-9][0-9]*) events: the sink's writes failed \(([1-9][0-9]*) sink_error\)\n$`},
	} {
		cfg := filepath.Join(dir, "run.yaml")
		write := func(out string) {
			config := "connectors:\n  gen: {type: blaster, config: {rate: 200}}\n  hole: {type: blackhole, config: {print: false}}\n" + out +
				"connections:\n  - {from: gen, to: hole}\n"
			if out != "" {
				config += "  - {from: gen, to: out}\n"
			}
			if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("  out: {type: file, config: {path: /dev/full, flush_interval: " + tt.flush + "}}\n")
		r := startRun("-c", cfg, "--metrics", "off", "--drain-timeout", "2s")
		runWaitFor(t, "the file sink running", func() bool { return strings.Contains(r.stderr.String(), "connector=out type=file attempts=1") })
		time.Sleep(200 * time.Millisecond)
		write("")
		r.sigs <- syscall.SIGHUP
		runWaitFor(t, "the reload", func() bool { return strings.Contains(r.stderr.String(), "msg=reloaded") })
		r.sigs <- syscall.SIGTERM
		if code := r.exit(t); code != 1 {
			t.Errorf("flush %s: run exited %d; want 1\n%s", tt.flush, code, r.stderr.String())
		}
		var got []string
		for _, l := range strings.SplitAfter(r.stderr.String(), "\n") {
			if strings.HasPrefix(l, "weir run: ") {
				got = append(got, l)
			}
		}
		if len(got) != 1 || !regexp.MustCompile(tt.want).MatchString(got[0]) {
			t.Errorf("flush %s: stderr says %q; want one line matching %s", tt.flush, got, tt.want)
		}
		out := r.stdout.String()
		for _, want := range []string{`(?m)^out \(removed\) +sink +stopped +[1-9]`, `(?m)^gen -> out \(removed\) +block +16 +[1-9][0-9]* .* ok +$`, `(?m)^accounting: balanced`} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("flush %s: summary has no line matching %s:\n%s", tt.flush, want, out)
			}
		}
	}
}
