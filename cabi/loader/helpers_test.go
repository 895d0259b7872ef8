package loader

import (
	"github.com/weirproject/weir/cabi/internal/ctest"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ebitengine/purego"
)

func cc(t testing.TB) string { return ctest.CC(t) }

var (
	builtMu  sync.Mutex
	built    = map[string]string{} // source+include -> .so, per test binary
	buildDir string
)

// buildPlugin compiles testdata source src (relative to testdata/) into a
// shared library with -Wall -Wextra -Werror, against the header in
// include (relative to the package directory), and returns its path. Each
// source is built once per test binary.
func buildPlugin(t testing.TB, src, include string) string {
	t.Helper()
	compiler := cc(t)
	key := src + "|" + include
	builtMu.Lock()
	defer builtMu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "cabi-test-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, strings.NewReplacer("/", "_", ".c", "").Replace(src)+".so")
	cmd := exec.Command(compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-shared", "-fPIC",
		"-I"+include, "-o", out, filepath.Join("testdata", src), "-lpthread")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", src, err, msg)
	}
	built[key] = out
	return out
}

// TestMain fails the run if a plugin file is left open: Load reads each
// file's ELF headers and must close it. (Other descriptors are not counted:
// every Go runtime a Go plugin brings keeps its own cgroup and netpoll
// descriptors, for the life of the process.)
func TestMain(m *testing.M) {
	code := m.Run()
	if open := openPluginFiles(); code == 0 && len(open) > 0 {
		fmt.Fprintf(os.Stderr, "cabi tests left plugin files open: %v\n", open)
		code = 1
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// openPluginFiles lists the .so files the process has open descriptors on.
func openPluginFiles() []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var open []string
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasSuffix(target, ".so") {
			open = append(open, target)
		}
	}
	return open
}

// loadGood loads testdata/good.c, built against the current header.
func loadGood(t testing.TB) *Library {
	t.Helper()
	l, err := Load(buildPlugin(t, "good.c", "../include"))
	if err != nil {
		t.Fatalf("Load(good) = %v", err)
	}
	return l
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// callInt calls the exported C function name(void) returning int in l.
func callInt(t testing.TB, l *Library, name string) int32 {
	t.Helper()
	fn, err := purego.Dlsym(l.handle, name)
	if err != nil {
		t.Fatalf("dlsym %s: %v", name, err)
	}
	r, _, _ := purego.SyscallN(fn)
	return int32(uint32(r))
}
