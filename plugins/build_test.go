package plugins

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A plugin library the tests use: which file, and how it is built.
type pluginLib struct {
	file  string // name in bin/plugins
	build func(root, out string) error
	tool  string // program the build needs
}

var libs = map[string]pluginLib{
	"c_blackhole": {file: "libweir_blackhole.so", tool: "cc", build: func(root, out string) error {
		return ccPlugin(root, out, "plugins/c/blackhole.c")
	}},
	"c_generator": {file: "libweir_generator.so", tool: "cc", build: func(root, out string) error {
		return ccPlugin(root, out, "plugins/c/generator.c")
	}},
	"rust_blackhole": {file: "libweir_rust_blackhole.so", tool: "cargo", build: func(root, out string) error {
		target := filepath.Join(filepath.Dir(out), "cargo-target")
		cmd := exec.Command("cargo", "build", "--release", "--offline",
			"--manifest-path", filepath.Join(root, "plugins/rust/blackhole/Cargo.toml"))
		cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+target)
		if err := run(cmd); err != nil {
			return err
		}
		return os.Rename(filepath.Join(target, "release/libweir_rust_blackhole.so"), out)
	}},
	"go_blackhole": {file: "libweir_go_blackhole.so", tool: "go", build: func(root, out string) error {
		return goPlugin(root, out, "./plugins/go/blackhole")
	}},
	"go_counter": {file: "libweir_go_counter.so", tool: "go", build: func(root, out string) error {
		return goPlugin(root, out, "./plugins/go/counter")
	}},
}

func ccPlugin(root, out, src string) error {
	cmd := exec.Command("cc", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden",
		"-I", filepath.Join(root, "cabi/include"), "-o", out,
		filepath.Join(root, src), filepath.Join(root, "plugins/c/config.c"))
	return run(cmd)
}

func goPlugin(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	return run(cmd)
}

func run(cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %w\n%s", cmd.Args, err, out)
	}
	return nil
}

var built struct {
	mu    sync.Mutex
	dir   string
	paths map[string]string
	errs  map[string]error
}

// pluginPath returns the path of the named library (a key of libs),
// building it on first use. It skips the test when the build tool is
// missing and fails it when the build fails.
func pluginPath(tb testing.TB, name string) string {
	tb.Helper()
	lib, ok := libs[name]
	if !ok {
		tb.Fatalf("pluginPath(%q): no such plugin", name)
	}
	if dir := os.Getenv("WEIR_PLUGIN_DIR"); dir != "" {
		p := filepath.Join(dir, lib.file)
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("WEIR_PLUGIN_DIR is set but %s is missing: %v", p, err)
		}
		return p
	}
	built.mu.Lock()
	defer built.mu.Unlock()
	if p, ok := built.paths[name]; ok {
		return p
	}
	if err, ok := built.errs[name]; ok {
		tb.Fatalf("build %s: %v", name, err)
	}
	if _, err := exec.LookPath(lib.tool); err != nil {
		tb.Skipf("build %s: %s not found on PATH: %v", name, lib.tool, err)
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "weir-plugins-")
		if err != nil {
			tb.Fatalf("make plugin build dir: %v", err)
		}
		built.dir = dir
		built.paths = map[string]string{}
		built.errs = map[string]error{}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatalf("find module root: %v", err)
	}
	out := filepath.Join(built.dir, lib.file)
	start := time.Now()
	if err := lib.build(root, out); err != nil {
		built.errs[name] = err
		tb.Fatalf("build %s: %v", name, err)
	}
	tb.Logf("built %s in %v", lib.file, time.Since(start).Round(time.Millisecond))
	built.paths[name] = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
