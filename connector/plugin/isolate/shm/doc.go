// Package shm is the memory an isolated plugin's host and child share: one
// memfd that both map, holding a header, a submission ring (host to
// child), a completion ring (child to host), a control area for configs
// and error messages, and a data area for one batch's event slots and
// bytes.
//
// Each ring has one producer and one consumer. Indices are atomic; the
// consumer sleeps on a futex only after it has announced that it will, and
// the producer makes the wake-up system call only when it sees that
// announcement, so a busy pair exchanges entries without system calls.
//
// Nothing the other process writes is trusted: Pop checks the indices, and
// callers check every offset and length an entry carries against the
// Layout before they use it.
package shm
