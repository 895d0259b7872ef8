package loader

import (
	"github.com/weirproject/weir/cabi"

	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var goPluginPath string // built once per test binary, in buildDir

// goPluginCopies builds testdata/goplug with -buildmode=c-shared (once per
// test binary) and returns copies named name0.so, name1.so... in buildDir:
// distinct files, so the dynamic loader cannot treat them as one library.
// The same names give the same files, so -count=N reuses loaded images.
func goPluginCopies(t testing.TB, name string, n int) []string {
	t.Helper()
	buildPlugin(t, "bench.c", "../include") // makes sure buildDir exists
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH; cannot build the Go c-shared test plugin")
	}
	builtMu.Lock()
	defer builtMu.Unlock()
	if goPluginPath == "" {
		p := filepath.Join(buildDir, "goplug.so")
		cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", p, "./testdata/goplug")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build Go plugin: %v\n%s", err, msg)
		}
		goPluginPath = p
	}
	data, err := os.ReadFile(goPluginPath)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := 0; i < n; i++ {
		p := filepath.Join(buildDir, fmt.Sprintf("%s%d.so", name, i))
		if _, err := os.Stat(p); err != nil {
			if err := os.WriteFile(p, data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, p)
	}
	return paths
}

// TestTwoGoRuntimes loads two Go c-shared libraries into this (Go) host,
// so three Go runtimes share the process, and drives instances of both
// from many goroutines while each plugin runtime and the host collect
// garbage. Every count must come out exact.
func TestTwoGoRuntimes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go c-shared library; skipped in -short mode")
	}
	paths := goPluginCopies(t, "two", 2)
	var libs []*Library
	for _, p := range paths {
		l, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s) = %v", p, err)
		}
		if !l.GoRuntime {
			t.Errorf("Load(%s).GoRuntime = false; want true", p)
		}
		libs = append(libs, l)
	}
	for _, l := range libs {
		if err := l.Close(); err != nil {
			t.Errorf("Close of a Go library = %v; want nil (it stays mapped)", err)
		}
		if _, err := l.Types[0].Create(nil, NewBasicHost("", nil)); err == nil {
			t.Error("Create on a closed Go library succeeded")
		}
	}
	// Closing only marks them; load fresh handles for the stress run. The
	// files are the same, so dlopen returns the same, still-mapped images,
	// and they do not count again against MaxGoRuntimes.
	libs = libs[:0]
	for _, p := range paths {
		l, err := Load(p)
		if err != nil {
			t.Fatalf("reload %s = %v", p, err)
		}
		libs = append(libs, l)
	}

	const (
		perLib  = 4
		writes  = 3000
		batchSz = 32
	)
	stop := make(chan struct{})
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() { // the host's runtime collects too
		defer gcWG.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				runtime.GC()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 2*perLib)
	for _, l := range libs {
		for i := 0; i < perLib; i++ {
			wg.Add(1)
			go func(typ *ConnectorType) {
				defer wg.Done()
				errs <- stressGoInstance(typ, writes, batchSz)
			}(l.Types[0])
		}
	}
	wg.Wait()
	close(stop)
	gcWG.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func stressGoInstance(typ *ConnectorType, writes, size int) error {
	in, err := typ.Create(nil, NewBasicHost("", nil))
	if err != nil {
		return err
	}
	defer in.Destroy()
	b, err := cabi.AllocBatch(size, size*16)
	if err != nil {
		return err
	}
	defer cabi.FreeBatch(b)
	fill(b, 16)
	for i := 0; i < writes; i++ {
		if st, err := in.Write(b); st != cabi.OK || err != nil {
			return err
		}
	}
	b.Reset()
	if _, err := in.Poll(b, 0); err != nil {
		return err
	}
	if got, want := b.EventSlice()[0].TsNs, uint64(writes*size); got != want {
		return fmt.Errorf("instance of %s counted %d events; want %d", typ.lib.Path, got, want)
	}
	return nil
}

// TestGoRuntimeCap loads copies of the Go plugin until MaxGoRuntimes Go
// images are in the process, then checks that one more is refused with
// ErrGoRuntime while reloading a loaded one still works. It runs last in
// this file because it leaves the process at the cap.
func TestGoRuntimeCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go c-shared library; skipped in -short mode")
	}
	paths := goPluginCopies(t, "cap", MaxGoRuntimes+1)
	var loaded []string
	refused := false
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		goRuntimeMu.Lock()
		full := len(goImages) >= MaxGoRuntimes && !goImages[[2]uint64{st.Dev, st.Ino}]
		goRuntimeMu.Unlock()
		_, err := Load(p)
		if full {
			if !errors.Is(err, ErrGoRuntime) {
				t.Fatalf("Load(%s) past the cap = %v; want ErrGoRuntime", p, err)
			}
			if !strings.Contains(err.Error(), "the most this host allows") {
				t.Errorf("cap error %q does not explain itself", err)
			}
			refused = true
			break
		}
		if err != nil {
			t.Fatalf("Load(%s) under the cap = %v", p, err)
		}
		loaded = append(loaded, p)
	}
	if !refused {
		t.Fatalf("loaded %d Go plugin copies without reaching MaxGoRuntimes (%d)", len(paths), MaxGoRuntimes)
	}
	if len(loaded) == 0 {
		loaded = goPluginCopies(t, "two", 1)
	}
	if _, err := Load(loaded[0]); err != nil {
		t.Errorf("reloading %s at the cap = %v; want success", loaded[0], err)
	}
}
