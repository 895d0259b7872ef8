package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInsecurePlugins is issue 11: every command that loads plugins
// refuses a library in a world-writable directory, naming it and the fix,
// and loads it with --allow-insecure-plugins.
func TestInsecurePlugins(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := buildGenerator(t, dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "weir.yaml")
	graph := fmt.Sprintf("connectors:\n  g: {type: generator, config: {count: 10}}\n  out: {type: file, config: {path: %q}}\nconnections:\n  - {from: g, to: out}\n", filepath.Join(t.TempDir(), "out"))
	if err := os.WriteFile(cfg, []byte(graph), 0o644); err != nil {
		t.Fatal(err)
	}
	refusal := "fix with: chmod go-w " + dir
	for _, c := range []struct {
		name string
		run  func(args ...string) (code int, stderr string)
		args []string
		// code is the exit status without the flag; allowed is the one
		// with it, and allowedErr what stderr then says ("" for nothing
		// in particular).
		code, allowed int
		allowedErr    string
	}{
		{"run", func(args ...string) (int, string) {
			var stdout, stderr runOutput
			return runRun(args, &stdout, &stderr, nil), stderr.String()
		}, []string{"-c", cfg, "-P", lib, "--metrics", "off"}, 2, 0, ""},
		{"validate", func(args ...string) (int, string) {
			var stdout, stderr bytes.Buffer
			return runValidate(args, nil, &stdout, &stderr), stderr.String()
		}, []string{"-c", cfg, "-P", lib}, 2, 0, ""},
		{"plugin inspect", func(args ...string) (int, string) {
			var stdout, stderr bytes.Buffer
			return runPlugin(append([]string{"inspect"}, args...), &stdout, &stderr), stderr.String()
		}, []string{lib}, 1, 0, ""},
		// The generator has no sink: bench fails either way, but only
		// without the flag for the file's permissions.
		{"bench", func(args ...string) (int, string) {
			var stdout, stderr bytes.Buffer
			return runBench(args, &stdout, &stderr), stderr.String()
		}, []string{"--events", "10", "--sink", lib}, 1, 1, "offers no sink type"},
	} {
		code, stderr := c.run(c.args...)
		if code != c.code || !strings.Contains(stderr, refusal) {
			t.Errorf("weir %s %q: exit %d, stderr %q; want %d and %q", c.name, c.args, code, stderr, c.code, refusal)
		}
		args := append([]string{"--allow-insecure-plugins"}, c.args...)
		if c.name == "plugin inspect" {
			args = append(c.args, "--allow-insecure-plugins")
		}
		code, stderr = c.run(args...)
		if code != c.allowed || strings.Contains(stderr, refusal) || !strings.Contains(stderr, c.allowedErr) {
			t.Errorf("weir %s %q: exit %d, stderr %q; want %d and the library loaded", c.name, args, code, stderr, c.allowed)
		}
	}
}
