package isolate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/weirproject/weir/cabi/loader"
)

// TestMain serves as the plugin host when the test binary is started as
// one: the host side starts its own executable.
func TestMain(m *testing.M) {
	RunChildIfAsked()
	dir, err := os.MkdirTemp("", "isolate-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	libDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var libDir string

// build compiles C sources (paths relative to the repository root) into
// a plugin library once per test run.
func build(t testing.TB, name string, srcs ...string) string {
	t.Helper()
	out := filepath.Join(libDir, name+".so")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build test plugins: %v", cc, err)
	}
	root := "../../.."
	args := []string{"-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden", "-I", filepath.Join(root, "cabi/include"), "-o", out + ".tmp"}
	for _, s := range srcs {
		args = append(args, filepath.Join(root, s))
	}
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, b)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		t.Fatal(err)
	}
	return out
}

func misbehave(t testing.TB) *loader.Library {
	t.Helper()
	return load(t, build(t, "misbehave", "connector/plugin/isolate/testdata/misbehave.c", "plugins/c/config.c"))
}

func load(t testing.TB, path string) *loader.Library {
	t.Helper()
	l, err := loader.Options{AllowInsecure: true}.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
