//go:build linux && amd64

package loader

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/weirproject/weir/cabi"
)

// faultChildEnv selects what TestFaultChild does in a child process.
const faultChildEnv = "WEIR_TEST_FAULT_CHILD"

// TestFaultHandler runs each case in a child process (this test binary
// again, running only TestFaultChild) and checks its exit status and the
// first line of its standard error: a plugin that segfaults in write is
// named in one line (connector, type, library, call) and the process exits
// with FaultExitStatus; a segfault in a thread the plugin started is
// reported as such, with the same status; an assert that fails in write
// (abort, SIGABRT) is named the same way; the line is whole even while
// other goroutines write to stderr ("noisy"); a SIGABRT sent from outside
// still gets Go's dump and status 2; and a nil dereference in Go code
// still panics and is recovered as usual.
func TestFaultHandler(t *testing.T) {
	lib := buildPlugin(t, "crash.c", "../include")
	cases := []struct {
		mode   string
		status int
		first  string
	}{
		{"write", FaultExitStatus, `weir: plugin fault: connector "boom" (type crash, library ` + lib + `) crashed in its write (SIGSEGV)`},
		{"thread", FaultExitStatus, "weir: plugin fault: code outside weir crashed with no plugin call in flight on that stack (a thread the plugin started?) (SIGSEGV)"},
		{"abort", FaultExitStatus, `weir: plugin fault: connector "boom" (type abort, library ` + lib + `) crashed in its write (SIGABRT)`},
		{"noisy", FaultExitStatus, `weir: plugin fault: connector "boom" (type crash, library ` + lib + `) crashed in its write (SIGSEGV)`},
		{"killabrt", 2, "SIGABRT: abort"},
		{"gonil", 0, "recovered: runtime error: invalid memory address or nil pointer dereference"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaultChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), faultChildEnv+"="+tc.mode, "WEIR_TEST_FAULT_LIB="+lib)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("child %s still running after 20s", tc.mode)
			}
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			switch tc.mode {
			case "abort": // the C library's assert line comes first
				if _, rest, ok := strings.Cut(stderr.String(), "Assertion"); ok {
					_, first, _ = strings.Cut(rest, "\n")
					first, _, _ = strings.Cut(first, "\n")
				}
			case "noisy", "killabrt":
				for _, l := range strings.Split(stderr.String(), "\n") {
					if l != "noise" {
						first = l
						break
					}
				}
			}
			if status != tc.status || first != tc.first {
				t.Errorf("child %s: exit status %d, first line %q; want %d, %q\nstderr:\n%.2000s", tc.mode, status, first, tc.status, tc.first, stderr.String())
			}
		})
	}
}

// TestFaultChild is TestFaultHandler's child; it skips unless run as one.
func TestFaultChild(t *testing.T) {
	mode := os.Getenv(faultChildEnv)
	if mode == "" {
		t.Skip("run by TestFaultHandler in a child process")
	}
	if err := InstallFaultHandler(); err != nil {
		t.Fatal(err)
	}
	l, err := Load(os.Getenv("WEIR_TEST_FAULT_LIB"))
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "write", "abort", "noisy":
		typ := "crash"
		if mode == "abort" {
			typ = "abort"
		}
		in, err := l.Type(typ).Create(nil, NewBasicHost("", nil))
		if err != nil {
			t.Fatal(err)
		}
		in.SetName("boom")
		b, err := cabi.AllocBatch(4, 64)
		if err != nil {
			t.Fatal(err)
		}
		if mode == "noisy" {
			for range 2 {
				go func() {
					for {
						os.Stderr.WriteString("noise\n")
					}
				}()
			}
			time.Sleep(50 * time.Millisecond)
		}
		in.Write(b)
		t.Fatal("write returned")
	case "killabrt":
		os.Stderr.WriteString("")
		exec.Command("kill", "-ABRT", strconv.Itoa(os.Getpid())).Run()
		time.Sleep(10 * time.Second)
		t.Fatal("SIGABRT from outside did not end the process")
	case "thread":
		fn, err := purego.Dlsym(l.handle, "crash_in_thread")
		if err != nil {
			t.Fatal(err)
		}
		purego.SyscallN(fn)
		time.Sleep(10 * time.Second)
		t.Fatal("the plugin's thread did not crash")
	case "gonil":
		var p *int
		func() {
			defer func() {
				if r := recover(); r != nil {
					os.Stderr.WriteString("recovered: " + r.(error).Error() + "\n")
				}
			}()
			*(*int)(unsafe.Pointer(p)) = 1
		}()
		os.Exit(0)
	}
}
