/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * weir_syscall.h - the syscall programs' (bpf/syscall.c) counters and
 * per-syscall settings, shared with their loader in ingest/syscall, whose
 * layout test compiles this header with the host cc. The record itself,
 * struct weir_sys_record, is in cabi/include/weir/records.h.
 */
#ifndef WEIR_SYSCALL_H
#define WEIR_SYSCALL_H

#if !defined(__bpf__)
#include <linux/types.h>
#endif

#include "../../cabi/include/weir/records.h"

/* Syscall numbers the programs look up: 0..WEIR_SYS_NR_MAX-1. Calls with
 * other numbers (x32 calls on x86-64, whose numbers have bit 30 set) are
 * traced only when every syscall is, and are never decoded. */
#define WEIR_SYS_NR_MAX 1024

/* Most process-name prefixes a trace can select. */
#define WEIR_SYS_COMM_MAX 8

/* Most exec arguments copied into str1. */
#define WEIR_SYS_ARGV_MAX 8

/*
 * struct weir_sys_counters - per-CPU syscall counters, one PERCPU_ARRAY
 * slot. Each call is counted once, on the CPU where its fate was decided:
 * at entry when a filter on the call's number, process, name or cgroup
 * rejects it or the sampler skips it (or, counting only, keeps it), at
 * return otherwise. So on every CPU,
 * seen == filtered + sampled_out + emitted + counted + ring_full + unpaired.
 */
struct weir_sys_counters {
	__u64 seen;
	/* Rejected by a filter, at entry or (failed, slower) at return. */
	__u64 filtered;
	/* Skipped by the 1-in-N sampler. */
	__u64 sampled_out;
	/* Records submitted to a ring. */
	__u64 emitted;
	/* Calls lost for want of room: in the CPU's ring, or in the table of
	 * calls in progress (then table_full counts it too). */
	__u64 ring_full;
	/* Calls that entered and never returned: the thread died in the call
	 * (another thread's execve or exit_group). Calls still in progress
	 * when tracing stops are counted by the loader from in_progress. */
	__u64 unpaired;
	/* Of ring_full, the calls that found no room in the in-progress
	 * table: it was full, or the thread's id is beyond weir_incall, sized
	 * to the pid_max the trace started with. */
	__u64 table_full;
	/* Next per-CPU sequence number (emitted + ring_full on this CPU). */
	__u64 seq;
	/* Calls kept and counted without a record (weir_count_only). */
	__u64 counted;
	/* Not a count of calls: an upper bound on the bytes waiting in this
	 * CPU's ring, which decides when to ask the ring (see wake_flag). */
	__u64 unwoken;
	/* Not a count of calls: marks set in weir_incall on this CPU less
	 * the marks cleared (modulo 2^64). Summed over CPUs once the programs
	 * are detached, it is the number of calls still in progress. */
	__u64 in_progress;
	/* Children of traced processes left untraced (with weir_follow):
	 * their pids are beyond weir_pids, sized to the pid_max the trace
	 * started with, so pid_max was raised during the trace. */
	__u64 unfollowed;
};

/* weir_sys_info.trace: trace this syscall. */
#define WEIR_SYS_TRACE 1
/* weir_sys_info.trace: the call never returns (exit, exit_group); its
 * record is made at entry. */
#define WEIR_SYS_NORETURN 2

/*
 * struct weir_sys_info - what the programs do with one syscall number:
 * the value of the ARRAY weir_sysinfo indexed by number, written by the
 * loader from its table of the running architecture's syscalls.
 */
struct weir_sys_info {
	/* WEIR_SYS_TRACE (with WEIR_SYS_NORETURN for exit and exit_group),
	 * or 0 to filter the call out at entry. */
	__u8 trace;
	/* WEIR_SYS_DEC_* to decode. */
	__u8 decode;
	/* Argument indexes the decoder reads (0-5), by kind:
	 *  SOCKADDR: a = the sockaddr pointer, b = its length; the length is
	 *            a value with WEIR_SYS_ARG_LENPTR clear, a pointer to it
	 *            when set; WEIR_SYS_ARG_MSGHDR in a: args[1] is a msghdr.
	 *  PATH:     a = the path.
	 *  PATH2:    a, b = the two paths.
	 *  EXEC:     a = the path, b = argv.
	 *  SOCKFD:   a = the fd. */
	__u8 a;
	__u8 b;
};

/* Flag on weir_sys_info.b for SOCKADDR: the length argument is a pointer
 * (accept, recvfrom), and the address is read only when the call
 * succeeded. */
#define WEIR_SYS_ARG_LENPTR 0x80
/* Value of weir_sys_info.a for SOCKADDR: args[1] is a struct msghdr whose
 * msg_name and msg_namelen hold the address (sendmsg, recvmsg). */
#define WEIR_SYS_ARG_MSGHDR 0x40

#endif /* WEIR_SYSCALL_H */
