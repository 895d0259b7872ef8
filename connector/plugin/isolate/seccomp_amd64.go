package isolate

import "golang.org/x/sys/unix"

// auditArch is AUDIT_ARCH_X86_64.
const auditArch = 0xc000003e

// seccompAllowed is what the child may call under isolate: seccomp, beside
// clone for threads: what the Go runtime needs to run (memory, signals,
// threads, timers, its poller), reading and writing descriptors it already
// has (the shared-memory futexes and the socket to the host), and what a
// computing plugin's C library commonly uses (time, random numbers, memory
// maps). It was measured with strace -f on the child serving the C and Go
// plugins; opening files, sockets, exec and fork are not in it.
var seccompAllowed = []uintptr{
	unix.SYS_FUTEX, unix.SYS_READ, unix.SYS_WRITE, unix.SYS_CLOSE,
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE, unix.SYS_BRK, unix.SYS_MREMAP,
	unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
	unix.SYS_GETTID, unix.SYS_GETPID, unix.SYS_TGKILL, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
	unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_CLOCK_GETTIME, unix.SYS_GETTIMEOFDAY,
	unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY,
	unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_CREATE1, unix.SYS_EVENTFD2, unix.SYS_PIPE2,
	unix.SYS_FCNTL, unix.SYS_GETRANDOM, unix.SYS_RESTART_SYSCALL, unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ,
	unix.SYS_FSTAT, unix.SYS_NEWFSTATAT, unix.SYS_LSEEK, unix.SYS_PREAD64, unix.SYS_PPOLL, unix.SYS_POLL,
	unix.SYS_PRLIMIT64, unix.SYS_GETRLIMIT, unix.SYS_SENDMSG, unix.SYS_RECVMSG,
}
