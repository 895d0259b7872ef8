// Package testfs gives tests a small file system of their own, to drive
// a writer into a full disk: a tmpfs of a chosen size mounted on a
// temporary directory.
package testfs

import (
	"os"
	"os/exec"
	"testing"
)

// Tmpfs mounts a tmpfs of size (such as "64k" or "3m") on a temporary
// directory, unmounts it when the test ends, and returns the directory. It
// skips the test, saying why, where mounting is not allowed (not root).
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "weir-test", dir).CombinedOutput(); err != nil {
		t.Skipf("skipping: mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
