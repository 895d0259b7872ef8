// Package syscall traces syscalls with eBPF: it loads bpf/syscall.c's
// programs on the sys_enter and sys_exit tracepoints (tp_btf, or raw
// tracepoints where tp_btf is refused), writes their in-kernel filters
// (syscall numbers, pids with their descendants, process-name prefixes, a
// cgroup subtree, failed calls, slow calls) and 1-in-N random sampling, and
// reads the records they write, one per call with its arguments, return
// value and duration, from per-CPU rings through ingest/ring, merged by
// time. Config.CountOnly counts the calls the filters keep without writing
// records, which is what weir trace -q does.
//
// The syscall names and numbers of the running architecture come from
// tables generated from golang.org/x/sys (internal/mksysnum); Decode turns
// a record into a Call, whose AppendText and AppendJSON give strace-like
// text or a JSON object. How
// many arguments a call takes comes from the running kernel's syscall
// trace events in tracefs (ArgCount).
package syscall
