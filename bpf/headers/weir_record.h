/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * weir_record.h - the BPF programs' side of weir's kernel records: the
 * per-CPU counters, per-interface settings and filter arguments that only
 * the programs in bpf/ and their loader in ingest/packet share. The Go
 * mirrors live in ingest/packet, whose layout test compiles this header
 * with the host cc.
 *
 * The records themselves (struct weir_record_hdr, struct weir_pkt_record
 * and their constants) are defined once, in cabi/include/weir/records.h
 * (MIT), which plugins compile against too; this header includes it.
 */
#ifndef WEIR_RECORD_H
#define WEIR_RECORD_H

#if !defined(__bpf__)
#include <linux/types.h>
#endif

#include "../../cabi/include/weir/records.h"

/*
 * struct weir_pkt_counters - per-CPU packet counters, one PERCPU_ARRAY slot.
 *
 * Every packet a program sees on a configured interface lands in exactly one
 * of filtered, sampled_out, emitted and ring_full, so after any run
 * seen == filtered + sampled_out + emitted + ring_full.
 */
struct weir_pkt_counters {
	__u64 seen;
	__u64 filtered;
	__u64 sampled_out;
	__u64 emitted;
	__u64 ring_full;
	/* Next per-CPU sequence number (emitted + ring_full on this CPU). */
	__u64 seq;
};

/*
 * struct weir_if_config - per-interface settings, the value of the HASH
 * weir_ifcfg keyed by ifindex. The programs only read it.
 */
struct weir_if_config {
	/* Keep 1 packet (or flow) in sample_rate; 0 and 1 keep every packet. */
	__u32 sample_rate;
	/* Capture at most this many bytes of each packet (1..WEIR_SNAPLEN_MAX);
	 * records hold at most weir_snap_bytes, which the loader sets at or
	 * above every interface's snaplen. */
	__u32 snaplen;
	/* WEIR_SAMPLE_RANDOM (and 0): a random draw per packet;
	 * WEIR_SAMPLE_FLOW: a hash of the packet's flow (see packet.c). */
	__u32 sample_mode;
};

/* Largest snaplen the programs honour: the largest weir_snap_bytes. */
#define WEIR_SNAPLEN_MAX 9216

/* Number of bytes of the packet copied for the filter (see weir_filter). */
#define WEIR_FILTER_HEAD 128

/*
 * struct weir_filter_args - what the filter hook sees: parsed metadata and
 * a copy of the first head_len bytes of the packet.
 */
struct weir_filter_args {
	__u8 head[WEIR_FILTER_HEAD];
	__u32 head_len;
	__u32 wire_len;
	__u32 ifindex;
	__u16 l3_proto;
	__u16 l3_off;
	__u16 l4_off;
	__u8 l4_proto;
	__u8 direction;
};

#endif /* WEIR_RECORD_H */
