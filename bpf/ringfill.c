// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ringfill.c - a test and benchmark producer for ingest/ring: each run of
 * weir_ring_fill writes a requested number of records into weir_fill_ring
 * (which the loader replaces with the ring under test), so tests can fill a
 * ring with known contents at a known pace, without any packets.
 *
 * Run it with BPF_PROG_TEST_RUN, passing a struct weir_fill_args as the
 * context. Record i (counting across runs, in weir_fill_seq) holds a payload
 * whose first 8 bytes are i, next 8 its payload size, and whose remaining
 * 8-byte words are i ^ word index. With args.mixed the payload sizes cycle
 * through 20, 64 and 200 bytes; otherwise every payload is 64 bytes. Records
 * whose number is a multiple of args.discard_every (when it is non-zero) are
 * reserved and then discarded.
 */
#include "vmlinux.h"
#include "bpf/bpf_helpers.h"

char __license[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} weir_fill_ring SEC(".maps");

struct weir_fill_args {
	__u32 count;
	__u32 discard_every;
	__u32 mixed;
	__u32 submit_flags;
};

/* Records numbered so far, and reservations that failed (ring full). */
__u64 weir_fill_seq;
__u64 weir_fill_full;

struct fill_state {
	__u32 discard_every;
	__u32 mixed;
	__u64 flags;
};

#define FILL_RECORD(SIZE)                                                         \
	do {                                                                      \
		__u64 *r = bpf_ringbuf_reserve(&weir_fill_ring, (SIZE), 0);       \
		if (!r) {                                                         \
			weir_fill_full++;                                         \
			return 0;                                                 \
		}                                                                 \
		r[0] = seq;                                                       \
		r[1] = (SIZE);                                                    \
		for (int w = 2; w < (SIZE) / 8; w++)                              \
			r[w] = seq ^ w;                                           \
		if (st->discard_every && seq % st->discard_every == 0)            \
			bpf_ringbuf_discard(r, 0);                                \
		else                                                              \
			bpf_ringbuf_submit(r, st->flags);                         \
		return 0;                                                         \
	} while (0)

static long fill_one(__u64 index, void *ctx)
{
	struct fill_state *st = ctx;
	__u64 seq = weir_fill_seq++;

	if (st->mixed) {
		switch (seq % 3) {
		case 0:
			FILL_RECORD(20);
		case 1:
			FILL_RECORD(64);
		}
		FILL_RECORD(200);
	}
	FILL_RECORD(64);
}

SEC("syscall")
int weir_ring_fill(struct weir_fill_args *args)
{
	struct fill_state st = {
		.discard_every = args->discard_every,
		.mixed = args->mixed,
		.flags = args->submit_flags,
	};

	bpf_loop(args->count, fill_one, &st, 0);
	return 0;
}
