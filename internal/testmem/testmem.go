// Package testmem gives tests memory the Go runtime does not own.
package testmem

import (
	"testing"

	"golang.org/x/sys/unix"
)

// ReadOnly returns a copy of data in a private mapping that is then made
// read-only (PROT_READ), as a kernel ring is to its reader: a store into it
// kills the process with SIGSEGV. It is unmapped when the test ends.
func ReadOnly(t testing.TB, data []byte) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, max(len(data), 1), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatalf("map %d bytes: %v", len(data), err)
	}
	copy(mem, data)
	if err := unix.Mprotect(mem, unix.PROT_READ); err != nil {
		unix.Munmap(mem)
		t.Fatalf("make %d bytes read-only: %v", len(data), err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return mem[:len(data)]
}
