package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	// The pipeline samples one in ten of 200000 events at random (its drops
	// are the operator's); both sinks get every kept event and no edge
	// drops. Binomial(200000, 0.1) has sd 134: 19000..21000 never flakes.
	summary := stdout.String()
	m := regexp.MustCompile(`(?m)^keep_tenth\s+pipeline\s+stopped\s+200000\s+0\s+(\d+)\s+(\d+) operator\s`).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("summary has no keep_tenth row:\n%s", summary)
	}
	kept, _ := strconv.Atoi(m[1])
	dropped, _ := strconv.Atoi(m[2])
	if kept+dropped != 200000 || kept < 19000 || kept > 21000 {
		t.Errorf("keep_tenth kept %d and dropped %d of 200000; want about 20000 kept, the rest dropped", kept, dropped)
	}
	k := m[1]
	for _, row := range []string{
		`(?m)^gen\s+source\s+stopped\s+200000\s+0\s+200000\s+0\s`,
		`(?m)^latency\s+sink\s+stopped\s+` + k + `\s+0\s+` + k + `\s+0\s`,
		`(?m)^c_sink\s+sink\s+stopped\s+` + k + `\s+0\s+` + k + `\s+0\s`,
		`(?m)^keep_tenth -> latency\s+block\s+\d+\s+` + k + `\s+` + k + `\s+0\s+0\s+ok`,
		`(?m)^keep_tenth -> c_sink\s+block\s+\d+\s+` + k + `\s+` + k + `\s+0\s+0\s+ok`,
		`(?m)^accounting: balanced`,
	} {
		if !regexp.MustCompile(row).MatchString(summary) {
			t.Errorf("summary has no line matching %s:\n%s", row, summary)
		}
	}
}
