/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * weir_record.h - the layout of records weir's BPF programs write into BPF
 * ring buffers, shared by the C programs in bpf/ and the Go mirror in
 * ingest/packet (whose layout test compiles this header with the host cc).
 *
 * A packet record is a struct weir_pkt_record followed by cap_len bytes of
 * the packet, starting at its Ethernet header. The ring reservation is
 * rounded up to a snaplen size class, so the ring's own record length may be
 * larger than WEIR_PKT_RECORD_SIZE + cap_len; readers use cap_len.
 *
 * All fields are in host byte order. The header size is a multiple of 8 so
 * the packet bytes that follow start 8-byte aligned.
 */
#ifndef WEIR_RECORD_H
#define WEIR_RECORD_H

#if !defined(__bpf__)
#include <linux/types.h>
#endif

/* Record types (weir_pkt_record.type). */
#define WEIR_REC_PACKET 1

/* Version of the packet record layout; bump on any change. */
#define WEIR_PKT_RECORD_VERSION 1

/* Directions (weir_pkt_record.direction). */
#define WEIR_DIR_INGRESS 1
#define WEIR_DIR_EGRESS 2

/* Capture hooks (weir_pkt_record.hook). */
#define WEIR_HOOK_XDP 1
#define WEIR_HOOK_TCX 2

/*
 * Parse flags (weir_pkt_record.parse_flags). The transport header and IPv6
 * extension headers are checked against the packet's length, the link and
 * IP headers against the part read by direct packet access, which under
 * TCX can end before the packet does (a non-linear skb). l4_off can lie
 * beyond cap_len.
 */
#define WEIR_PARSE_L3 (1u << 0)        /* l3_off/l3_proto are valid */
#define WEIR_PARSE_L4 (1u << 1)        /* l4_off/l4_proto are valid */
#define WEIR_PARSE_FRAGMENT (1u << 2)  /* an IP fragment (not the first or of many) */
#define WEIR_PARSE_TRUNCATED (1u << 3) /* a header ran past the packet's end or the 1024-byte parse limit */
#define WEIR_PARSE_EXT_LIMIT (1u << 4) /* more IPv6 extension headers than the bound */

/* Sentinel for an offset that is not known. */
#define WEIR_OFF_NONE 0xffff

/*
 * struct weir_pkt_record - the fixed 56-byte header of a packet record.
 */
struct weir_pkt_record {
	/* bpf_ktime_get_ns() when the program ran (CLOCK_MONOTONIC). */
	__u64 ts_ns;
	/* Per-CPU sequence number: counts packets that passed the filter and
	 * the sampler on this CPU, so a gap means records lost to a full ring. */
	__u64 seq;
	/* WEIR_REC_PACKET. */
	__u16 type;
	/* WEIR_PKT_RECORD_VERSION. */
	__u16 version;
	/* Interface index the packet was seen on. */
	__u32 ifindex;
	/* Length of the packet on the wire (all fragments for XDP multi-buffer). */
	__u32 orig_len;
	/* Number of packet bytes that follow this header, <= orig_len. */
	__u32 cap_len;
	/* 1-in-N sampling rate in force when the packet was kept (1 = all). */
	__u32 sample_rate;
	/* CPU the program ran on (and whose ring holds the record). */
	__u32 cpu;
	/* WEIR_DIR_INGRESS or WEIR_DIR_EGRESS. */
	__u8 direction;
	/* WEIR_HOOK_XDP or WEIR_HOOK_TCX. */
	__u8 hook;
	/* WEIR_PARSE_* bits. */
	__u8 parse_flags;
	/* Number of VLAN tags (802.1Q/802.1ad) parsed, at most 2. */
	__u8 vlan_depth;
	/* EtherType of the network layer (0x0800, 0x86dd, ...), 0 if none. */
	__u16 l3_proto;
	/* Offset of the network header from the start of the packet. */
	__u16 l3_off;
	/* Offset of the transport header, WEIR_OFF_NONE if not found. */
	__u16 l4_off;
	/* IP protocol number of the transport layer (6, 17, 1, 58...). */
	__u8 l4_proto;
	__u8 _pad0;
	/* VLAN TCI of the outer tag, 0 when there is none. */
	__u16 vlan_tci;
	__u16 _pad1;
};

#define WEIR_PKT_RECORD_SIZE 56

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
 * struct weir_if_config - per-interface settings, the value of the
 * PERCPU_HASH weir_ifcfg keyed by ifindex. The loader writes the same
 * settings into every CPU's slot; the program only updates sample_ctr in
 * its own CPU's slot.
 */
struct weir_if_config {
	/* Keep 1 packet in sample_rate; 0 and 1 keep every packet. */
	__u32 sample_rate;
	/* Capture at most this many bytes of each packet (1..WEIR_SNAPLEN_MAX);
	 * records hold at most weir_snap_bytes, which the loader sets at or
	 * above every interface's snaplen. */
	__u32 snaplen;
	/* Deterministic sampler state: packets offered to the sampler on this
	 * CPU and interface. A packet is kept when sample_ctr % rate == 0
	 * before the increment, so the first packet is always kept. */
	__u64 sample_ctr;
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
