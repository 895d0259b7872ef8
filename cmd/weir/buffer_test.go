package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/weirproject/weir/runtime/diskbuf"
)

// TestBufferCommand: weir buffer prints what the next start would replay
// and the damage it would skip, and changes nothing.
func TestBufferCommand(t *testing.T) {
	dir := t.TempDir()
	b, err := diskbuf.Open(diskbuf.Options{Dir: dir, MaxSize: 1 << 20, Policy: diskbuf.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b.Append([]byte("0123456789abcdef0123456789abcdef"), 0)
	}
	b.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	data, _ := os.ReadFile(segs[0])
	os.WriteFile(segs[0], data[:len(data)-5], 0o644)

	stdout, stderr, code := weir(t, "buffer", dir)
	if code != 0 || !strings.Contains(stdout, dir+": 2 records, 0 events (112 bytes) to replay") ||
		!regexp.MustCompile(`torn: .*\.seg bytes \[112,163\)`).MatchString(stdout) {
		t.Fatalf("weir buffer %s = %d\nstdout:\n%s\nstderr:\n%s", dir, code, stdout, stderr)
	}
	if fi, _ := os.Stat(segs[0]); fi.Size() != int64(len(data)-5) {
		t.Fatal("weir buffer changed the segment")
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("connectors:\n  gen: {type: blaster}\n  hole: {type: blackhole}\nconnections:\n  - {from: gen, to: hole, buffer: {type: disk, path: "+dir+"}}\n"), 0o644)
	if stdout, stderr, code := weir(t, "validate", "-c", cfg); code != 0 || !strings.Contains(stdout, "buffer gen -> hole ("+dir+"): 0 events to replay in 1 segments; 0 corrupt and 51 torn bytes") {
		t.Fatalf("weir validate with the damaged buffer = %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, stderr, code := weir(t, "buffer", filepath.Join(dir, "nosuch")); code != 1 || !strings.Contains(stderr, "no such file") {
		t.Fatalf("weir buffer on a missing directory = %d, %q; want 1 naming it", code, stderr)
	}
	if _, _, code := weir(t, "buffer"); code != 2 {
		t.Fatalf("weir buffer without a directory = %d; want 2", code)
	}
}
