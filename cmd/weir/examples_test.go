package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestExamplePipeline runs examples/pipeline.yaml as the README tells
// users to, with the C blackhole built where the example expects it, and
// checks that it ends by itself without losing an event.
func TestExamplePipeline(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) to build the C blackhole plugin")
	}
	root := t.TempDir()
	for _, d := range []string{"examples", "bin/plugins"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	example, err := os.ReadFile("../../examples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "examples", "pipeline.yaml")
	if err := os.WriteFile(cfg, example, 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(root, "bin/plugins/libweir_blackhole.so")
	build := exec.Command(cc, "-O2", "-Wall", "-Werror", "-fPIC", "-shared", "-I../../cabi/include", "-o", so,
		"../../plugins/c/blackhole.c", "../../plugins/c/config.c")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build C blackhole: %v\n%s", err, out)
	}

	t.Setenv("COUNT", "200000")
	var stdout, stderr runOutput
	if code := runRun([]string{"-c", cfg, "--metrics", "off"}, &stdout, &stderr, make(chan os.Signal)); code != 0 {
		t.Fatalf("weir run -c examples/pipeline.yaml = exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	// The pipeline samples one in ten of 200000 events (its 180000 drops are
	// the operator's); both sinks get every kept event and no edge drops.
	summary := stdout.String()
	for _, row := range []string{
		`(?m)^gen\s+source\s+stopped\s+200000\s+0\s+200000\s+0\s`,
		`(?m)^keep_tenth\s+pipeline\s+stopped\s+200000\s+0\s+20000\s+180000 operator\s`,
		`(?m)^latency\s+sink\s+stopped\s+20000\s+0\s+20000\s+0\s`,
		`(?m)^c_sink\s+sink\s+stopped\s+20000\s+0\s+20000\s+0\s`,
		`(?m)^keep_tenth -> latency\s+block\s+\d+\s+20000\s+20000\s+0\s+0\s+ok`,
		`(?m)^keep_tenth -> c_sink\s+block\s+\d+\s+20000\s+20000\s+0\s+0\s+ok`,
		`(?m)^accounting: balanced`,
	} {
		if !regexp.MustCompile(row).MatchString(summary) {
			t.Errorf("summary has no line matching %s:\n%s", row, summary)
		}
	}
}
