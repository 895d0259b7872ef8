package testfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestTmpfsFills: a file written past the tmpfs's size fails with ENOSPC.
func TestTmpfsFills(t *testing.T) {
	dir := Tmpfs(t, "64k")
	err := os.WriteFile(filepath.Join(dir, "x"), make([]byte, 1<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 1 MiB to a 64 KiB tmpfs: %v; want ENOSPC", err)
	}
}
