package blaster

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// offHeap is a byte buffer in an anonymous mapping outside the Go heap, so
// event descriptors may point into it for as long as it lives and plugins
// may read it. The zero value is an empty buffer.
type offHeap struct {
	mem []byte
}

// newOffHeap copies src into a new mapping.
func newOffHeap(src []byte) (offHeap, error) {
	o, err := allocOffHeap(len(src))
	if err == nil {
		copy(o.mem, src)
	}
	return o, err
}

// allocOffHeap maps n zeroed bytes.
func allocOffHeap(n int) (offHeap, error) {
	if n == 0 {
		return offHeap{}, nil
	}
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return offHeap{}, fmt.Errorf("map %d bytes for events: %w", n, err)
	}
	return offHeap{mem: mem}, nil
}

// free unmaps the buffer; it may be called more than once.
func (o *offHeap) free() error {
	if o.mem == nil {
		return nil
	}
	err := unix.Munmap(o.mem)
	o.mem = nil
	if err != nil {
		return fmt.Errorf("unmap event buffer: %w", err)
	}
	return nil
}
