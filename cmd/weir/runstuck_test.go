package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stuckConfig runs a blaster flat out into a file sink at %s.
const stuckConfig = `connectors:
  gen:
    type: blaster
    config: {loops: 0, size: 256}
  out:
    type: file
    config: {path: "%s", flush_interval: 0s}
connections:
  - {from: gen, to: out}
`

// TestRunStuckSink runs weir with a file sink writing to a FIFO that is
// open for reading but never read, so its Write blocks for good. A signal
// must still end weir (exit 1) after the drain timeout plus the kill grace,
// with the summary marking the sink stuck and stderr naming it; a second
// signal must end it at once, without the grace; and a SIGHUP while the
// Write is stuck must be refused at once rather than hold the main loop.
func TestRunStuckSink(t *testing.T) {
	tests := []struct {
		name  string
		drain string
		hup   bool // send SIGHUP first, once the Write is older than the drain timeout
		sigs  []syscall.Signal
		// bound is how long weir may take to exit after the last signal:
		// the drain timeout plus the kill grace (5s) and a wide margin, or,
		// after a second signal, far less than the drain timeout of 1m
		// that only the second signal can cut short (a bound below the
		// grace left too little room for a busy machine).
		bound time.Duration
	}{
		{name: "SIGTERM", drain: "1s", sigs: []syscall.Signal{syscall.SIGTERM}, bound: 30 * time.Second},
		{name: "SIGINT", drain: "1s", sigs: []syscall.Signal{syscall.SIGINT}, bound: 30 * time.Second},
		{name: "second SIGTERM", drain: "1m", sigs: []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM}, bound: 30 * time.Second},
		{name: "SIGHUP then SIGTERM", drain: "1s", hup: true, sigs: []syscall.Signal{syscall.SIGTERM}, bound: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "out.fifo")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			// Open the read end first (without blocking), so that the
			// sink's open succeeds; then never read.
			rd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(rd)
			cfg := filepath.Join(dir, "weir.yaml")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(stuckConfig, fifo)), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "run", "-c", cfg, "--metrics", "off", "--drain-timeout", tt.drain)
			cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
			var stdout, stderr runOutput
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var werr error
			exited := make(chan struct{})
			go func() {
				werr = cmd.Wait()
				close(exited)
			}()
			defer func() {
				select {
				case <-exited:
				default:
					cmd.Process.Kill()
					<-exited
				}
			}()

			// The sink's Writes block once the pipe stops filling (pages
			// are not packed, so short of its size) while the source
			// produces flat out; a drain would block on what is queued
			// anyway.
			last, same := -1, 0
			runWaitFor(t, "the FIFO to stop filling", func() bool {
				n, err := unix.IoctlGetInt(rd, unix.TIOCINQ) // FIONREAD
				if err != nil || n == 0 || n != last {
					last, same = n, 0
					return false
				}
				same++
				return same >= 40 // 200ms without a byte more
			})
			if tt.hup {
				d, _ := time.ParseDuration(tt.drain)
				time.Sleep(d + 500*time.Millisecond)
				cmd.Process.Signal(syscall.SIGHUP)
				// Refused at once; before, the reload waited out the drain
				// timeout and the kill grace (5s).
				deadline := time.Now().Add(4 * time.Second)
				for !strings.Contains(stderr.String(), "reload failed") {
					if time.Now().After(deadline) {
						t.Fatalf("no reload failure logged within 4s of SIGHUP; stderr:\n%s", stderr.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
				if want := "connector out (type file) is stuck in write"; !strings.Contains(stderr.String(), want) {
					t.Errorf("reload failure does not say %q; stderr:\n%s", want, stderr.String())
				}
			}
			for i, sig := range tt.sigs {
				if i > 0 {
					runWaitFor(t, "the drain to begin", func() bool { return strings.Contains(stderr.String(), "draining") })
				}
				cmd.Process.Signal(sig)
			}
			select {
			case <-exited:
			case <-time.After(tt.bound):
				t.Fatalf("weir still running %v after the last signal; stderr:\n%s", tt.bound, stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("weir exited %d (%v); want 1", code, werr)
			}
			out, errs := stdout.String(), stderr.String()
			if !regexp.MustCompile(`(?m)^out\s+sink\s+stuck\s`).MatchString(out) {
				t.Errorf("summary does not mark out stuck:\n%s", out)
			}
			if !regexp.MustCompile(`(?m)^out \(sink, type file\): 1 instance\(s\) abandoned .*; [1-9]\d* events in flight$`).MatchString(out) {
				t.Errorf("summary does not name the abandoned sink and its events in flight:\n%s", out)
			}
			if !regexp.MustCompile(`connector call is stuck.*connector=out type=file call=write`).MatchString(errs) {
				t.Errorf("log does not name the stuck connector, its type and call; stderr:\n%s", errs)
			}
			if !strings.Contains(errs, "weir run: connector out (type file, sink) was abandoned: its write call did not return") {
				t.Errorf("stderr does not name the abandoned connector:\n%s", errs)
			}
		})
	}
}
