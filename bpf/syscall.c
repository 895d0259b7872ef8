// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * syscall.c - weir's syscall tracing: one pair of programs on the kernel's
 * sys_enter and sys_exit tracepoints covers every syscall and dispatches
 * on the number inside, as Falco and tracee do.
 *
 * Which hook. Each program comes twice, with the same body:
 *
 *   - tp_btf/sys_enter, tp_btf/sys_exit (BTF-typed raw tracepoints; task
 *     storage in them needs kernel >= 5.13): the loader tries these first;
 *   - raw_tracepoint/sys_enter, raw_tracepoint/sys_exit (the rings need
 *     kernel >= 5.8): the fallback where tp_btf is refused, e.g. kernels
 *     without BTF or before 5.13, or where tracing programs are forbidden
 *     as fentry/fexit are on the project's standard machine (there tp_btf
 *     attaches, kernel 6.18, and fentry does not). The raw tracepoint
 *     programs also run under BPF_PROG_TEST_RUN, which tp_btf ones do not.
 *
 * Both see the registers (struct pt_regs) and the number at entry, the
 * registers and return value at exit. The arguments are read from the
 * registers at entry (the offsets are per architecture: bpf2go builds an
 * object for x86-64 and one for arm64).
 *
 * At entry, in this order, each step cheaper than the next:
 *
 *   1. the tracer's own process is ignored, uncounted;
 *   2. the call is counted as seen, then filtered out (and counted so) when
 *      a pid set is given and its tgid (or tid) is not marked in weir_pids,
 *      when its number is not marked in weir_sysinfo, when its task is not
 *      in the cgroup subtree weir_cgroup_id, or when its name does not start
 *      with one of the weir_comm prefixes;
 *   3. 1 in weir_sample_rate calls is kept, at random
 *      (bpf_get_prandom_u32), the others counted as sampled out;
 *   4. the arguments are saved per thread, in the task's storage
 *      (weir_calls) under tp_btf, in the weir_inflight hash under raw
 *      tracepoints, with the strings of execve/execveat (they are gone at
 *      exit) in weir_execstr.
 *
 * At exit the thread's entry is taken from that table, the failed-only
 * and slower-than filters apply, pointer arguments are read from user
 * memory (socket addresses, paths; reading at exit finds the pages the
 * kernel just touched, so fewer reads fault) and one struct weir_sys_record
 * goes to this CPU's ring. exit and exit_group never return: their record
 * is made at entry.
 *
 * Each call is counted once, as seen and as one of filtered, sampled out,
 * emitted, ring full or unpaired, on the CPU where its fate is decided
 * (see struct weir_sys_counters). A thread that dies inside a call (another
 * thread's execve or exit_group) leaves its entry behind; sched_process_exit
 * counts it as unpaired.
 *
 * A thread other than its process's leader that calls execve takes the
 * leader's pid; sched_process_exec moves its entry to the new tid, so the
 * execve still pairs.
 *
 * With weir_follow, sched_process_fork adds every child of a traced process
 * to weir_pids (processes and threads alike, by their pid), so a trace of a pid covers its descendants born after the
 * trace started.
 */
#include "vmlinux.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_core_read.h"
#include "weir_syscall.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Offsets, in 8-byte words, of the six syscall argument registers in
 * struct pt_regs, and how many bytes of it to read to cover them. */
#if defined(__TARGET_ARCH_x86)
/* di, si, dx, r10, r8, r9 */
#define WEIR_ARG0 14
#define WEIR_ARG1 13
#define WEIR_ARG2 12
#define WEIR_ARG3 7
#define WEIR_ARG4 9
#define WEIR_ARG5 8
#define WEIR_REGS_WORDS 15
#elif defined(__TARGET_ARCH_arm64)
/* regs[0..5]: at sys_enter x0 still holds the first argument. */
#define WEIR_ARG0 0
#define WEIR_ARG1 1
#define WEIR_ARG2 2
#define WEIR_ARG3 3
#define WEIR_ARG4 4
#define WEIR_ARG5 5
#define WEIR_REGS_WORDS 6
#else
#error "syscall.c: set the argument registers of this architecture"
#endif

#define WEIR_AF_UNIX 1
#define WEIR_AF_INET 2
#define WEIR_AF_INET6 10
#define WEIR_S_IFMT 00170000
#define WEIR_S_IFSOCK 0140000
#define WEIR_MAX_ERRNO 4095

/* Settings the loader writes before load. */
volatile const __u64 weir_wakeup_bytes = 256 * 1024;
/* Process whose calls are never looked at: the tracer itself. */
volatile const __u32 weir_self_tgid = 0;
/* Non-zero: trace only the tgids and tids in weir_pids. */
volatile const __u8 weir_filter_pids = 0;
/* Non-zero: add the children of traced processes to weir_pids. */
volatile const __u8 weir_follow = 0;
/* Non-zero: trace numbers at or above WEIR_SYS_NR_MAX (set when every
 * syscall is traced). */
volatile const __u8 weir_all_numbers = 1;
/* Non-zero: count the calls the filters keep, write no record. */
volatile const __u8 weir_count_only = 0;
/* Non-zero: only failed calls (-4095 <= ret < 0). */
volatile const __u8 weir_failed_only = 0;
/* Only calls that took at least this long. */
volatile const __u64 weir_slower_ns = 0;
/* Keep 1 call in weir_sample_rate; 0 and 1 keep all. */
volatile const __u32 weir_sample_rate = 1;
/* Non-zero: only tasks in this cgroup v2 or below it, at weir_cgroup_level
 * (the cgroup's depth, the root being 0). */
volatile const __u64 weir_cgroup_id = 0;
volatile const __u32 weir_cgroup_level = 0;
/* Process-name prefixes, weir_ncomm of them; 0 accepts every name. */
volatile const __u32 weir_ncomm = 0;
volatile const __u8 weir_comm_len[WEIR_SYS_COMM_MAX] = {};
volatile const char weir_comm[WEIR_SYS_COMM_MAX][16] = {};

/* The inner map template: one ring per CPU. The loader sets max_entries. */
struct weir_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

/* weir_rings[cpu] is the ring of that CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct weir_ring);
} weir_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weir_sys_counters);
} weir_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WEIR_SYS_NR_MAX);
	__type(key, __u32);
	__type(value, struct weir_sys_info);
} weir_sysinfo SEC(".maps");

/*
 * Traced tgids and tids (with weir_filter_pids): weir_pids[pid] is non-zero
 * for a traced pid. An ARRAY indexed by pid, sized by the loader to the
 * kernel's pid_max (4 MiB at most), rather than a hash: the verifier
 * inlines an array lookup into a bounds check and a load, so the test that
 * rejects another process's call costs a few instructions, not a hash.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} weir_pids SEC(".maps");

/*
 * weir_incall[tid] is non-zero while the thread has an entry in
 * weir_calls or weir_inflight, so sys_exit skips the table for every call
 * it has no entry for (all calls of untraced processes). Only the thread itself
 * writes its byte (and sched_process_exit/exec, in its context). Each
 * change of a mark is counted in weir_sys_counters.in_progress, so that the
 * loader learns how many calls are in progress at stop without reading an
 * array as long as pid_max.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} weir_incall SEC(".maps");

/* Non-zero: some pid the loader was given is a thread, not a process, so
 * the filter looks up the tid too. */
volatile const __u8 weir_pids_tids = 0;

static __always_inline bool traced_pid(__u32 tgid, __u32 tid)
{
	__u8 *t = bpf_map_lookup_elem(&weir_pids, &tgid);
	if (t && *t)
		return true;
	if (!weir_pids_tids)
		return false;
	t = bpf_map_lookup_elem(&weir_pids, &tid);
	return t && *t;
}

/* set_incall sets (v = 1) or clears (v = 0) tid's mark, and counts the
 * change in cnt->in_progress. It returns false when tid is beyond
 * weir_incall (pid_max was raised during the trace). */
static __always_inline bool set_incall(struct weir_sys_counters *cnt, __u32 tid, __u8 v)
{
	__u8 *p = bpf_map_lookup_elem(&weir_incall, &tid);
	if (!p)
		return false;
	if (*p == v)
		return true;
	*p = v;
	if (v)
		cnt->in_progress++;
	else
		cnt->in_progress--;
	return true;
}

/* lost counts a call that found no room in the table of calls in
 * progress. */
static __always_inline void lost(struct weir_sys_counters *cnt)
{
	cnt->seen++;
	cnt->ring_full++;
	cnt->table_full++;
}

/* A call in progress: what its entry saw. */
struct weir_sys_call {
	__u64 ts;
	__u64 args[6];
	__u32 nr;
	__u32 has_strs;
};

/* Calls in progress, by tid: the raw tracepoint programs' table. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct weir_sys_call);
} weir_inflight SEC(".maps");

/*
 * Calls in progress, in the task's own storage: the tp_btf programs'
 * table. A task storage lookup is a pointer walk from the task with no
 * hashing and no bucket lock, and nothing is inserted or deleted per call:
 * the slot is made at a thread's first traced call, reused for every later
 * one (weir_incall says whether it holds a call), and freed with the task.
 * A thread that calls execve while not its process's leader keeps its
 * task_struct, so its slot follows it. It needs BTF (the task pointer is
 * BTF-typed), which the raw tracepoint programs cannot assume; the loader
 * creates only the table its hook uses.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct weir_sys_call);
} weir_calls SEC(".maps");

/* Strings read at entry (execve's path and arguments). s1 is twice the
 * slot so that each argument can be read at a variable offset with a
 * constant bound; only its first WEIR_SYS_STR_MAX bytes are kept. */
struct weir_sys_strs {
	__u16 len0;
	__u16 len1;
	__u16 flags;
	__u16 pad;
	char s0[WEIR_SYS_STR_MAX];
	char s1[2 * WEIR_SYS_STR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct weir_sys_strs);
} weir_execstr SEC(".maps");

/* Room to build a weir_sys_strs, which is larger than the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weir_sys_strs);
} weir_scratch SEC(".maps");

/* arg returns argument i of c (0-5; larger indexes read argument 5). */
static __always_inline __u64 arg(struct weir_sys_call *c, __u8 i)
{
	__u32 k = i & 7;
	if (k > 5)
		k = 5;
	return c->args[k];
}

/* BTF anchors: never called; their parameters make clang emit these
 * structs whole, so the generated Go bindings can name them. */
__noinline int weir_sys_btf_anchor(struct weir_sys_record *r, struct weir_sys_strs *s)
{
	return r != 0 && s != 0;
}

static __always_inline bool comm_matches(void)
{
	char comm[16];

	if (bpf_get_current_comm(comm, sizeof(comm)) < 0)
		return false;
	for (int i = 0; i < WEIR_SYS_COMM_MAX; i++) {
		if (i >= weir_ncomm)
			break;
		__u8 n = weir_comm_len[i];
		bool ok = true;
		for (int j = 0; j < 16; j++) {
			if (j >= n)
				break;
			if (comm[j] != weir_comm[i][j]) {
				ok = false;
				break;
			}
		}
		if (ok)
			return true;
	}
	return false;
}

/* str_cut says whether a string whose read filled all max bytes of its
 * slot was cut: bpf_probe_read_user_str ends the slot with a NUL either
 * way, so only the user's byte at max - 1 tells a string of exactly
 * max - 1 bytes (that byte is its NUL) from a longer one. */
static __always_inline bool str_cut(__u64 src, __u64 max)
{
	char c = 1;
	if (bpf_probe_read_user(&c, 1, (const void *)(src + max - 1)) < 0)
		return true;
	return c != 0;
}

/* read_str reads a NUL-terminated user string into dst (WEIR_SYS_STR_MAX
 * bytes) and returns its length without the NUL; it sets the truncated or
 * fault flag in *flags. */
static __always_inline __u16 read_str(char *dst, __u64 src, __u16 *flags, __u16 trunc,
				      __u16 fault)
{
	long n = bpf_probe_read_user_str(dst, WEIR_SYS_STR_MAX, (const void *)src);
	if (n <= 0) {
		*flags |= fault;
		return 0;
	}
	if (n >= WEIR_SYS_STR_MAX && str_cut(src, WEIR_SYS_STR_MAX))
		*flags |= trunc;
	return n - 1;
}

/* read_exec reads execve's path and first arguments into s. */
static __always_inline void read_exec(struct weir_sys_strs *s, __u64 path, __u64 argv)
{
	s->flags = 0;
	s->len0 = read_str(s->s0, path, &s->flags, WEIR_SYS_STR0_TRUNCATED, WEIR_SYS_STR0_FAULT);
	__u32 off = 0;
	int i;
	for (i = 0; i < WEIR_SYS_ARGV_MAX; i++) {
		__u64 p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), (const void *)(argv + 8 * i)) < 0) {
			if (i == 0)
				s->flags |= WEIR_SYS_STR1_FAULT;
			break;
		}
		if (!p)
			break;
		if (off >= WEIR_SYS_STR_MAX) {
			s->flags |= WEIR_SYS_STR1_TRUNCATED;
			break;
		}
		/* Bounds the verifier can follow, masked in place so that
		 * clang cannot drop them: o in [0, 255], room in [1, 256], so
		 * o + room stays inside the doubled slot. */
		__u64 o = off;
		asm volatile("%0 &= 255" : "+r"(o));
		__u64 room = WEIR_SYS_STR_MAX - o;
		asm volatile("%0 &= 511" : "+r"(room));
		if (room == 0)
			break;
		long n = bpf_probe_read_user_str(&s->s1[o], room, (const void *)p);
		if (n <= 0) {
			s->flags |= WEIR_SYS_STR1_FAULT;
			break;
		}
		if (n >= room && str_cut(p, room)) {
			off = WEIR_SYS_STR_MAX;
			s->flags |= WEIR_SYS_STR1_TRUNCATED;
			break;
		}
		off += n;
	}
	if (i == WEIR_SYS_ARGV_MAX) {
		__u64 p = 0;
		if (bpf_probe_read_user(&p, sizeof(p), (const void *)(argv + 8 * i)) == 0 && p)
			s->flags |= WEIR_SYS_STR1_TRUNCATED;
	}
	s->len1 = off > WEIR_SYS_STR_MAX ? WEIR_SYS_STR_MAX : off;
}

/* The parts of a record the fill functions need. */
struct weir_sys_out {
	__u64 ts;
	__u64 seq;
	__u64 dur;
	__s64 ret;
	__u32 cpu;
	__u32 tgid;
	__u32 tid;
	__u16 flags;
	__u8 decode;
	__u8 a;
	__u8 b;
};

static __always_inline void fill_hdr(struct weir_sys_record *r, struct weir_sys_out *o,
				     struct weir_sys_call *c, __u32 size)
{
	r->hdr.ts_ns = o->ts;
	r->hdr.seq = o->seq;
	r->hdr.type = WEIR_RECORD_SYSCALL;
	r->hdr.version = WEIR_SYS_RECORD_VERSION;
	r->hdr.size = size;
	r->hdr.cpu = o->cpu;
	r->hdr.clock = WEIR_CLOCK_MONOTONIC;
	r->hdr.reserved[0] = 0;
	r->hdr.reserved[1] = 0;
	r->hdr.reserved[2] = 0;
	r->duration_ns = o->dur;
	r->ret = o->ret;
	for (int i = 0; i < 6; i++)
		r->args[i] = c->args[i];
	r->cgroup_id = bpf_get_current_cgroup_id();
	r->pid = o->tgid;
	r->tid = o->tid;
	r->nr = c->nr;
	r->sample_rate = weir_sample_rate > 1 ? weir_sample_rate : 1;
	r->decode = o->decode;
	r->flags = o->flags;
	r->str0_len = 0;
	r->str1_len = 0;
	r->family = 0;
	r->port = 0;
	r->reserved0 = 0;
	__builtin_memset(r->addr, 0, sizeof(r->addr));
	if (bpf_get_current_comm(r->comm, sizeof(r->comm)) < 0)
		__builtin_memset(r->comm, 0, sizeof(r->comm));
}

/* set_addr fills the record's address from a sockaddr read into sa. */
static __always_inline void set_addr(struct weir_sys_record *r, const __u8 *sa, __u32 len)
{
	__u16 family = *(const __u16 *)sa;

	r->family = family;
	r->flags |= WEIR_SYS_ADDR;
	if (family == WEIR_AF_INET && len >= 8) {
		r->port = ((__u16)sa[2] << 8) | sa[3];
		__builtin_memcpy(r->addr, sa + 4, 4);
	} else if (family == WEIR_AF_INET6 && len >= 24) {
		r->port = ((__u16)sa[2] << 8) | sa[3];
		__builtin_memcpy(r->addr, sa + 8, 16);
	} else if (family == WEIR_AF_UNIX) {
		__builtin_memcpy(r->addr, sa + 2, 16);
	}
}

/* decode_sockaddr reads the socket address a connect, bind, accept,
 * sendto, recvfrom, sendmsg or recvmsg passed or received. */
static __always_inline void decode_sockaddr(struct weir_sys_record *r, struct weir_sys_out *o,
					    struct weir_sys_call *c)
{
	__u64 ptr = 0, lenarg;
	__u32 len = 0;
	bool out = o->b & WEIR_SYS_ARG_LENPTR;

	if (out && o->ret < 0 && o->ret >= -WEIR_MAX_ERRNO) {
		r->flags |= WEIR_SYS_ADDR_FAULT;
		return;
	}
	if (o->a & WEIR_SYS_ARG_MSGHDR) {
		struct {
			__u64 name;
			__u32 namelen;
		} mh = {};
		if (bpf_probe_read_user(&mh, 12, (const void *)c->args[1]) < 0) {
			r->flags |= WEIR_SYS_ADDR_FAULT;
			return;
		}
		ptr = mh.name;
		len = mh.namelen;
	} else {
		ptr = arg(c, o->a);
		lenarg = arg(c, o->b);
		if (out) {
			if (!lenarg || bpf_probe_read_user(&len, sizeof(len), (const void *)lenarg) < 0) {
				r->flags |= WEIR_SYS_ADDR_FAULT;
				return;
			}
		} else {
			len = lenarg;
		}
	}
	if (!ptr || len < 2) {
		r->flags |= WEIR_SYS_ADDR_FAULT;
		return;
	}
	/* Up to a sockaddr_in6 (28 bytes); the mask keeps the bound where
	 * the verifier sees it. */
	__u8 sa[32] = {};
	__u64 n = len > 28 ? 28 : len;
	asm volatile("%0 &= 31" : "+r"(n));
	len = n;
	if (bpf_probe_read_user(sa, n, (const void *)ptr) < 0) {
		r->flags |= WEIR_SYS_ADDR_FAULT;
		return;
	}
	set_addr(r, sa, len);
}

/* decode_sockfd fills the local address of the socket the fd in
 * args[a] names, by walking the task's file table (listen). */
static __always_inline void decode_sockfd(struct weir_sys_record *r, struct weir_sys_out *o,
					  struct weir_sys_call *c)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 fd = arg(c, o->a);
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		goto fault;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) < 0 || !f)
		goto fault;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & WEIR_S_IFMT) != WEIR_S_IFSOCK)
		goto fault;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		goto fault;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->family = family;
	r->flags |= WEIR_SYS_ADDR;
	r->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (family == WEIR_AF_INET) {
		__u32 a4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(r->addr, &a4, 4);
	} else if (family == WEIR_AF_INET6) {
		BPF_CORE_READ_INTO(&r->addr, sk, __sk_common.skc_v6_rcv_saddr);
	}
	return;
fault:
	r->flags |= WEIR_SYS_ADDR_FAULT;
}

/* fill_strs fills the string slots that follow the record header. */
static __always_inline void fill_strs(struct weir_sys_record *r, char *slots,
				      struct weir_sys_out *o, struct weir_sys_call *c,
				      struct weir_sys_strs *ex)
{
	__u16 flags = 0;

	if (o->decode == WEIR_SYS_DEC_EXEC) {
		if (!ex) {
			r->flags |= WEIR_SYS_STR0_FAULT | WEIR_SYS_STR1_FAULT;
			return;
		}
		if (bpf_probe_read_kernel(slots, 2 * WEIR_SYS_STR_MAX, ex->s0) < 0) {
			r->flags |= WEIR_SYS_STR0_FAULT | WEIR_SYS_STR1_FAULT;
			return;
		}
		r->str0_len = ex->len0 < WEIR_SYS_STR_MAX ? ex->len0 : WEIR_SYS_STR_MAX - 1;
		r->str1_len = ex->len1 < WEIR_SYS_STR_MAX ? ex->len1 : WEIR_SYS_STR_MAX;
		r->flags |= ex->flags;
		return;
	}
	r->str0_len = read_str(slots, arg(c, o->a), &flags, WEIR_SYS_STR0_TRUNCATED,
			       WEIR_SYS_STR0_FAULT);
	if (o->decode == WEIR_SYS_DEC_PATH2)
		r->str1_len = read_str(slots + WEIR_SYS_STR_MAX, arg(c, o->b), &flags,
				       WEIR_SYS_STR1_TRUNCATED, WEIR_SYS_STR1_FAULT);
	r->flags |= flags;
}

/* wake_flag returns the flag that submits a record of size bytes to ring:
 * it wakes the reader while weir_wakeup_bytes or more wait in the ring,
 * as asking the ring at every record would, but asks only once the bytes
 * written since the ring last held less than that could add up to it
 * (cnt->unwoken, an upper bound on what waits). A reader that keeps up
 * thus costs one query per weir_wakeup_bytes or so, while one that is
 * behind is woken at every record until it catches up; below the
 * threshold, the reader's deadline picks records up. */
static __always_inline __u64 wake_flag(struct weir_sys_counters *cnt, void *ring, __u32 size)
{
	cnt->unwoken += size;
	if (cnt->unwoken < weir_wakeup_bytes)
		return BPF_RB_NO_WAKEUP;
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	if (avail < weir_wakeup_bytes) {
		cnt->unwoken = avail;
		return BPF_RB_NO_WAKEUP;
	}
	return BPF_RB_FORCE_WAKEUP;
}

/* emit writes the record of call c to this CPU's ring and counts it. */
static __always_inline void emit(struct weir_sys_counters *cnt, struct weir_sys_call *c,
				 struct weir_sys_out *o)
{
	o->seq = cnt->seq++;
	o->cpu = bpf_get_smp_processor_id();
	void *ring = bpf_map_lookup_elem(&weir_rings, &o->cpu);
	if (!ring) {
		cnt->ring_full++;
		return;
	}
	struct weir_sys_strs *ex = 0;
	if (c->has_strs)
		ex = bpf_map_lookup_elem(&weir_execstr, &o->tid);

	if (o->decode == WEIR_SYS_DEC_PATH || o->decode == WEIR_SYS_DEC_PATH2 ||
	    o->decode == WEIR_SYS_DEC_EXEC) {
		__u32 size = WEIR_SYS_RECORD_SIZE + 2 * WEIR_SYS_STR_MAX;
		struct weir_sys_record *r = bpf_ringbuf_reserve(ring, size, 0);
		if (!r) {
			cnt->ring_full++;
			goto out;
		}
		fill_hdr(r, o, c, size);
		fill_strs(r, (char *)(r + 1), o, c, ex);
		bpf_ringbuf_submit(r, wake_flag(cnt, ring, size));
	} else {
		struct weir_sys_record *r = bpf_ringbuf_reserve(ring, WEIR_SYS_RECORD_SIZE, 0);
		if (!r) {
			cnt->ring_full++;
			goto out;
		}
		fill_hdr(r, o, c, WEIR_SYS_RECORD_SIZE);
		if (o->decode == WEIR_SYS_DEC_SOCKADDR)
			decode_sockaddr(r, o, c);
		else if (o->decode == WEIR_SYS_DEC_SOCKFD)
			decode_sockfd(r, o, c);
		bpf_ringbuf_submit(r, wake_flag(cnt, ring, WEIR_SYS_RECORD_SIZE));
	}
	cnt->emitted++;
out:
	if (c->has_strs)
		bpf_map_delete_elem(&weir_execstr, &o->tid);
}

static __always_inline int on_enter(__u64 *ctx, bool btf)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tgid = pt >> 32, tid = (__u32)pt;

	if (tgid == weir_self_tgid)
		return 0;
	__u32 zero = 0;
	struct weir_sys_counters *cnt = bpf_map_lookup_elem(&weir_counters, &zero);
	if (!cnt)
		return 0;
	if (weir_filter_pids && !traced_pid(tgid, tid))
		goto filtered;
	__u64 nr = ctx[1];
	struct weir_sys_info *info = 0;
	if (nr < WEIR_SYS_NR_MAX) {
		__u32 k = nr;
		info = bpf_map_lookup_elem(&weir_sysinfo, &k);
	}
	if (info ? !(info->trace & WEIR_SYS_TRACE) : !weir_all_numbers)
		goto filtered;
	if (weir_cgroup_id &&
	    bpf_get_current_ancestor_cgroup_id(weir_cgroup_level) != weir_cgroup_id)
		goto filtered;
	if (weir_ncomm && !comm_matches())
		goto filtered;
	if (weir_sample_rate > 1 && bpf_get_prandom_u32() % weir_sample_rate != 0) {
		cnt->seen++;
		cnt->sampled_out++;
		return 0;
	}
	if (weir_count_only && !weir_failed_only && !weir_slower_ns) {
		/* Nothing to learn from the return: count the call now, with
		 * no table and no exit work. */
		cnt->seen++;
		cnt->counted++;
		return 0;
	}

	struct weir_sys_call c = {};
	c.ts = bpf_ktime_get_ns();
	c.nr = nr;
	__u64 buf[WEIR_REGS_WORDS] = {};
	const __u64 *regs = buf;
	if (btf)
		/* A BTF-typed pointer: the verifier turns the loads below into
		 * plain loads, with no helper call. */
		regs = (const __u64 *)ctx[0];
	else
		bpf_probe_read_kernel(buf, sizeof(buf), (const void *)ctx[0]);
	c.args[0] = regs[WEIR_ARG0];
	c.args[1] = regs[WEIR_ARG1];
	c.args[2] = regs[WEIR_ARG2];
	c.args[3] = regs[WEIR_ARG3];
	c.args[4] = regs[WEIR_ARG4];
	c.args[5] = regs[WEIR_ARG5];

	struct weir_sys_out o = {};
	o.tgid = tgid;
	o.tid = tid;
	if (info) {
		o.decode = info->decode;
		o.a = info->a;
		o.b = info->b;
	}
	if (info && (info->trace & WEIR_SYS_NORETURN)) {
		/* exit, exit_group: no return to pair with. */
		cnt->seen++;
		if (weir_failed_only || weir_slower_ns) {
			cnt->filtered++;
			return 0;
		}
		o.ts = c.ts;
		o.flags = WEIR_SYS_NO_RETURN;
		o.decode = WEIR_SYS_DEC_NONE;
		emit(cnt, &c, &o);
		return 0;
	}
	if (o.decode == WEIR_SYS_DEC_EXEC && !weir_count_only) {
		struct weir_sys_strs *s = bpf_map_lookup_elem(&weir_scratch, &zero);
		if (s) {
			read_exec(s, arg(&c, o.a), arg(&c, o.b));
			if (bpf_map_update_elem(&weir_execstr, &tid, s, BPF_ANY) == 0)
				c.has_strs = 1;
		}
	}
	/* A tid beyond weir_incall (pid_max was raised during the trace) has
	 * no mark to pair its return with: the call is lost, as when the
	 * in-progress table is full. */
	__u8 *in = bpf_map_lookup_elem(&weir_incall, &tid);
	long err;
	if (btf) {
		struct weir_sys_call *slot =
			bpf_task_storage_get(&weir_calls, bpf_get_current_task_btf(), 0,
					     BPF_LOCAL_STORAGE_GET_F_CREATE);
		err = -12; /* ENOMEM */
		if (slot && in) {
			if (*in) {
				/* The thread's last entry never met its exit. */
				cnt->seen++;
				cnt->unpaired++;
			}
			*slot = c;
			err = 0;
		}
	} else if (!in) {
		err = -12;
	} else {
		err = bpf_map_update_elem(&weir_inflight, &tid, &c, BPF_NOEXIST);
		if (err == -17 /* EEXIST */) {
			/* The thread's last entry never met its exit. */
			cnt->seen++;
			cnt->unpaired++;
			err = bpf_map_update_elem(&weir_inflight, &tid, &c, BPF_ANY);
		}
	}
	if (err) {
		lost(cnt);
		if (c.has_strs)
			bpf_map_delete_elem(&weir_execstr, &tid);
		return 0;
	}
	if (!*in) {
		*in = 1;
		cnt->in_progress++;
	}
	return 0;

filtered:
	cnt->seen++;
	cnt->filtered++;
	return 0;
}

static __always_inline int on_exit(__u64 *ctx, bool btf)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pt;

	__u8 *in = bpf_map_lookup_elem(&weir_incall, &tid);
	if (!in || !*in)
		return 0;
	__u32 zero = 0;
	struct weir_sys_counters *cnt = bpf_map_lookup_elem(&weir_counters, &zero);
	if (!cnt)
		return 0;
	*in = 0;
	cnt->in_progress--;
	struct weir_sys_call c;
	__u64 now;
	if (btf) {
		struct weir_sys_call *p =
			bpf_task_storage_get(&weir_calls, bpf_get_current_task_btf(), 0, 0);
		if (!p)
			return 0;
		now = bpf_ktime_get_ns();
		c = *p;
	} else {
		struct weir_sys_call *p = bpf_map_lookup_elem(&weir_inflight, &tid);
		if (!p)
			return 0;
		now = bpf_ktime_get_ns();
		c = *p;
		if (bpf_map_delete_elem(&weir_inflight, &tid) != 0)
			return 0; /* sched_process_exit took it */
	}
	cnt->seen++;
	__s64 ret = ctx[1];
	__u64 dur = now - c.ts;
	if ((weir_failed_only && !(ret < 0 && ret >= -WEIR_MAX_ERRNO)) || dur < weir_slower_ns) {
		cnt->filtered++;
		if (c.has_strs)
			bpf_map_delete_elem(&weir_execstr, &tid);
		return 0;
	}
	if (weir_count_only) {
		cnt->counted++;
		return 0;
	}
	struct weir_sys_out o = {};
	o.ts = now;
	o.dur = dur;
	o.ret = ret;
	o.tgid = pt >> 32;
	o.tid = tid;
	if (c.nr < WEIR_SYS_NR_MAX) {
		__u32 k = c.nr;
		struct weir_sys_info *info = bpf_map_lookup_elem(&weir_sysinfo, &k);
		if (info) {
			o.decode = info->decode;
			o.a = info->a;
			o.b = info->b;
		}
	}
	emit(cnt, &c, &o);
	return 0;
}

/* on_fork adds the child of a traced process to weir_pids. */
static __always_inline int on_fork(struct task_struct *child)
{
	if (!weir_follow)
		return 0;
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tgid = pt >> 32, tid = (__u32)pt;
	if (!traced_pid(tgid, tid))
		return 0;
	__u32 pid = BPF_CORE_READ(child, pid);
	__u8 *t = bpf_map_lookup_elem(&weir_pids, &pid);
	if (t) {
		*t = 1;
		return 0;
	}
	__u32 zero = 0;
	struct weir_sys_counters *cnt = bpf_map_lookup_elem(&weir_counters, &zero);
	if (cnt)
		cnt->unfollowed++;
	return 0;
}

/* on_exec moves the call in progress of a thread that called execve while
 * not its process's leader: the kernel gives it the leader's pid, so its
 * sys_exit looks for the new tid. old_pid is the tid it had. */
static __always_inline int on_exec(__u32 old_pid, bool btf)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (old_pid == tid)
		return 0;
	__u32 zero = 0;
	struct weir_sys_counters *cnt = bpf_map_lookup_elem(&weir_counters, &zero);
	if (!cnt)
		return 0;
	if (btf) {
		/* The call stays in the task's storage; only the marks keyed
		 * by tid move. */
		__u8 *in = bpf_map_lookup_elem(&weir_incall, &old_pid);
		if (!in || !*in)
			return 0;
		*in = 0;
		cnt->in_progress--;
		struct weir_sys_call *c =
			bpf_task_storage_get(&weir_calls, bpf_get_current_task_btf(), 0, 0);
		bool marked = set_incall(cnt, tid, 1);
		if (c && c->has_strs) {
			struct weir_sys_strs *s = bpf_map_lookup_elem(&weir_execstr, &old_pid);
			if (!marked || !s ||
			    bpf_map_update_elem(&weir_execstr, &tid, s, BPF_ANY) != 0)
				c->has_strs = 0;
			bpf_map_delete_elem(&weir_execstr, &old_pid);
		}
		if (!marked)
			lost(cnt);
		return 0;
	}
	struct weir_sys_call *p = bpf_map_lookup_elem(&weir_inflight, &old_pid);
	if (!p)
		return 0;
	struct weir_sys_call c = *p;
	if (bpf_map_delete_elem(&weir_inflight, &old_pid) != 0)
		return 0;
	set_incall(cnt, old_pid, 0);
	if (c.has_strs) {
		struct weir_sys_strs *s = bpf_map_lookup_elem(&weir_execstr, &old_pid);
		if (!s || bpf_map_update_elem(&weir_execstr, &tid, s, BPF_ANY) != 0)
			c.has_strs = 0;
		bpf_map_delete_elem(&weir_execstr, &old_pid);
	}
	/* The leader's own entry, if it died in a call, was counted by
	 * sched_process_exit before the exec went on. */
	if (bpf_map_update_elem(&weir_inflight, &tid, &c, BPF_ANY) == 0) {
		if (set_incall(cnt, tid, 1))
			return 0;
		bpf_map_delete_elem(&weir_inflight, &tid);
	}
	if (c.has_strs)
		bpf_map_delete_elem(&weir_execstr, &tid);
	lost(cnt);
	return 0;
}

/*
 * untrace_dead clears the marks of a dying thread in weir_pids: its own
 * tid's, and its process's tgid's when it is the last thread (the kernel
 * decrements signal->live before sched_process_exit). A mark left behind
 * would trace whatever process is next given that pid, which comes soon
 * where pid_max is 32768.
 */
static __always_inline void untrace_dead(__u32 tgid, __u32 tid)
{
	__u8 *t;
	if (tid != tgid) {
		t = bpf_map_lookup_elem(&weir_pids, &tid);
		if (t && *t)
			*t = 0;
	}
	t = bpf_map_lookup_elem(&weir_pids, &tgid);
	if (!t || !*t)
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		*t = 0;
}

/* on_task_exit counts the call a dying thread leaves in progress and
 * untraces a dead pid. */
static __always_inline int on_task_exit(bool btf)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pt;
	if (weir_filter_pids)
		untrace_dead(pt >> 32, tid);
	__u8 *in = bpf_map_lookup_elem(&weir_incall, &tid);
	if (!in || !*in)
		return 0;
	__u32 zero = 0;
	struct weir_sys_counters *cnt = bpf_map_lookup_elem(&weir_counters, &zero);
	if (!cnt)
		return 0;
	*in = 0;
	cnt->in_progress--;
	__u32 has_strs;
	if (btf) {
		/* The kernel frees the task's storage with the task. */
		struct weir_sys_call *p =
			bpf_task_storage_get(&weir_calls, bpf_get_current_task_btf(), 0, 0);
		if (!p)
			return 0;
		has_strs = p->has_strs;
	} else {
		struct weir_sys_call *p = bpf_map_lookup_elem(&weir_inflight, &tid);
		if (!p)
			return 0;
		has_strs = p->has_strs;
		if (bpf_map_delete_elem(&weir_inflight, &tid) != 0)
			return 0;
	}
	if (has_strs)
		bpf_map_delete_elem(&weir_execstr, &tid);
	cnt->seen++;
	cnt->unpaired++;
	return 0;
}

SEC("tp_btf/sys_enter")
int weir_sys_enter_btf(__u64 *ctx)
{
	return on_enter(ctx, true);
}

SEC("tp_btf/sys_exit")
int weir_sys_exit_btf(__u64 *ctx)
{
	return on_exit(ctx, true);
}

SEC("tp_btf/sched_process_fork")
int weir_fork_btf(__u64 *ctx)
{
	return on_fork((struct task_struct *)ctx[1]);
}

SEC("tp_btf/sched_process_exit")
int weir_task_exit_btf(__u64 *ctx)
{
	return on_task_exit(true);
}

SEC("tp_btf/sched_process_exec")
int weir_exec_btf(__u64 *ctx)
{
	return on_exec((__u32)ctx[1], true);
}

SEC("raw_tracepoint/sys_enter")
int weir_sys_enter_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_enter(ctx->args, false);
}

SEC("raw_tracepoint/sys_exit")
int weir_sys_exit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit(ctx->args, false);
}

SEC("raw_tracepoint/sched_process_fork")
int weir_fork_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_fork((struct task_struct *)ctx->args[1]);
}

SEC("raw_tracepoint/sched_process_exit")
int weir_task_exit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_task_exit(false);
}

SEC("raw_tracepoint/sched_process_exec")
int weir_exec_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exec((__u32)ctx->args[1], false);
}
