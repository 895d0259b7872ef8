//go:build linux && amd64

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunPluginCrash: weir run with a plugin sink that segfaults in
// write exits with status 3, and the first line of its standard error
// that is not a log line names the connector, its type, its library and
// the call; no Go dump follows.
func TestRunPluginCrash(t *testing.T) {
	dir := t.TempDir()
	lib := buildC(t, dir, "crash.c")
	cfg := filepath.Join(dir, "weir.yaml")
	yaml := fmt.Sprintf(`plugins: [%q]
connectors:
  gen: {type: blaster, config: {count: 1000}}
  boom: {type: crash}
connections:
  - {from: gen, to: boom}
`, lib)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "run", "-c", cfg, "--metrics", "off")
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("weir run still running after 20s; stderr:\n%s", stderr.String())
	}
	var first string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if !strings.HasPrefix(l, "time=") && l != "" {
			first = l
			break
		}
	}
	want := `weir: plugin fault: connector "boom" (type crash, library ` + lib + `) crashed in its write (SIGSEGV)`
	if code := cmd.ProcessState.ExitCode(); code != 3 || first != want {
		t.Errorf("weir run: exit %d, first error line %q; want 3, %q\nstderr:\n%.3000s", code, first, want, stderr.String())
	}
	if strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("a Go dump follows the line:\n%.3000s", stderr.String())
	}
}
