// Package syscall is the "syscall" source: it traces syscalls with the
// eBPF programs of ingest/syscall, filtered and sampled in the kernel, and
// hands the kernel's records (cabi.KindSyscall events, one per call with
// its arguments, return value and duration) to the engine without copying
// them, with the kernel's counters as its own.
package syscall
