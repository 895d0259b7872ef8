// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * packet.c - weir's passive packet capture: an XDP program for ingress and
 * TCX programs for ingress and egress. None of them alters traffic: XDP
 * returns XDP_PASS and TCX returns TCX_NEXT (TC_ACT_UNSPEC) on every path.
 *
 * For every packet on an interface that has an entry in weir_ifcfg:
 *
 *   1. count it as seen;
 *   2. parse Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 or IPv6
 *      (with up to WEIR_IPV6_EXT_MAX extension headers) and TCP, UDP, ICMP or
 *      ICMPv6, by direct packet access (extension headers through the load
 *      helper, see parse);
 *   3. call the filter hook weir_filter(); a zero return counts the packet as
 *      filtered out;
 *   4. sample 1 in sample_rate: by a random draw per packet, or, in flow
 *      mode, by a hash of the packet's flow (see sample);
 *   5. reserve a record in this CPU's ring (weir_rings[cpu]) sized by the
 *      smallest size class that holds min(len, snaplen) bytes (64, 128, ...
 *      4096 bytes, or weir_snap_bytes for the longest), fill the struct
 *      weir_pkt_record header, copy the bytes and submit it.
 *      A failed reservation counts as ring full.
 *
 * Packets on interfaces without a weir_ifcfg entry pass uncounted.
 */
#include "vmlinux.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_endian.h"
#include "weir_record.h"

char __license[] SEC("license") = "Dual BSD/GPL";

#define WEIR_ETH_P_IP 0x0800
#define WEIR_ETH_P_IPV6 0x86DD
#define WEIR_ETH_P_8021Q 0x8100
#define WEIR_ETH_P_8021AD 0x88A8

#define WEIR_IPPROTO_HOPOPTS 0
#define WEIR_IPPROTO_ICMP 1
#define WEIR_IPPROTO_TCP 6
#define WEIR_IPPROTO_UDP 17
#define WEIR_IPPROTO_ROUTING 43
#define WEIR_IPPROTO_FRAGMENT 44
#define WEIR_IPPROTO_AH 51
#define WEIR_IPPROTO_ICMPV6 58
#define WEIR_IPPROTO_NONE 59
#define WEIR_IPPROTO_DSTOPTS 60

/* Most IPv6 extension headers the parser walks before giving up. */
#define WEIR_IPV6_EXT_MAX 6
/* Headers must start within this many bytes for the parser to read them. */
#define WEIR_PARSE_MAX_OFF 1024

/*
 * Ring buffer wakeups: records are submitted with BPF_RB_NO_WAKEUP unless at
 * least this many bytes wait in the ring, in which case the submit forces a
 * wakeup. The loader sets it before load; the reader's deadline bounds the
 * latency below the threshold.
 */
volatile const __u64 weir_wakeup_bytes = 256 * 1024;

/*
 * Room for packet bytes in the largest record class: the capture's largest
 * snaplen rounded up to 8 (8..WEIR_SNAPLEN_MAX), set by the loader before
 * load. The verifier sees it as a constant, so records of packets longer than
 * the snaplen take no more ring space than the snaplen needs, and the classes
 * at or above it are dead code. Per-interface snaplens must not exceed it.
 */
volatile const __u32 weir_snap_bytes = WEIR_SNAPLEN_MAX;

/*
 * Seed of the flow hash, set by the loader before load: captures with the
 * same seed keep the same flows, on every interface, CPU and host.
 */
volatile const __u32 weir_flow_seed = 0;

/* The inner map template: one ring per CPU. The loader sets max_entries. */
struct weir_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

/* weir_rings[cpu] is the ring of that CPU. The loader sizes it to the
 * number of possible CPUs and fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct weir_ring);
} weir_rings SEC(".maps");

/* Per-CPU counters, one slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weir_pkt_counters);
} weir_counters SEC(".maps");

/* Per-interface settings keyed by ifindex; the programs only read them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct weir_if_config);
} weir_ifcfg SEC(".maps");

struct weir_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* The first 8 bytes of an IPv6 extension header: every kind is at least
 * that long. frag_off is the fragment header's. */
struct weir_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off;
	__be32 rest;
};

struct weir_parsed {
	__u16 l3_proto;
	__u16 l3_off;
	__u16 l4_off;
	__u16 vlan_tci;
	__u8 l4_proto;
	__u8 flags;
	__u8 vlan_depth;
};

/* l4_min returns the smallest valid header size of an IP protocol the
 * parser knows, 0 for others. */
static __always_inline __u32 l4_min(__u8 proto)
{
	switch (proto) {
	case WEIR_IPPROTO_TCP:
		return 20;
	case WEIR_IPPROTO_UDP:
		return 8;
	case WEIR_IPPROTO_ICMP:
		return 8;
	case WEIR_IPPROTO_ICMPV6:
		return 4;
	}
	return 0;
}

/* ipv6_ext tells whether proto is an IPv6 extension header the parser
 * walks. */
static __always_inline bool ipv6_ext(__u8 proto)
{
	return proto == WEIR_IPPROTO_HOPOPTS || proto == WEIR_IPPROTO_ROUTING ||
	       proto == WEIR_IPPROTO_DSTOPTS || proto == WEIR_IPPROTO_FRAGMENT ||
	       proto == WEIR_IPPROTO_AH;
}

/*
 * weir_btf_anchor is never called, so the loader never links it into a
 * program. Its parameters make clang emit the full BTF of the two structs
 * struct __sk_buff points to. Left as forward
 * declarations, their order in the object followed where clang's memory
 * allocator placed them, so regenerating the object in another directory
 * gave different bytes and failed make check-generate.
 */
__noinline int weir_btf_anchor(struct bpf_sock *sk, struct bpf_flow_keys *keys)
{
	return sk != 0 && keys != 0;
}

static __always_inline long load_bytes(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	if (xdp)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * parse fills p from the packet's headers. Ethernet, VLAN and IP headers are
 * read by direct packet access; IPv6 extension headers with the load helper,
 * so that their offsets stay plain numbers to the verifier, which can then
 * prune the walk's states. With direct access the verifier followed every
 * sequence of header kinds and sizes: it processed 21,700 instructions per
 * program, against 2,400 now, and took 12 ms instead of 1.5 ms per program
 * loaded (TestVerifierCost holds the line). len is the packet's length; the
 * L4 header must lie within it.
 */
static __always_inline void parse(void *ctx, bool xdp, void *data, void *data_end, __u32 len,
				  struct weir_parsed *p)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u8 proto = 0;

	p->l3_off = WEIR_OFF_NONE;
	p->l4_off = WEIR_OFF_NONE;
	if ((void *)(eth + 1) > data_end) {
		p->flags |= WEIR_PARSE_TRUNCATED;
		return;
	}
	__be16 type = eth->h_proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (type != bpf_htons(WEIR_ETH_P_8021Q) && type != bpf_htons(WEIR_ETH_P_8021AD))
			break;
		struct weir_vlan_hdr *vh = data + off;
		if ((void *)(vh + 1) > data_end) {
			p->flags |= WEIR_PARSE_TRUNCATED;
			return;
		}
		if (i == 0)
			p->vlan_tci = bpf_ntohs(vh->tci);
		type = vh->proto;
		off += sizeof(*vh);
		p->vlan_depth++;
	}

	p->l3_proto = bpf_ntohs(type);
	p->l3_off = off;
	p->flags |= WEIR_PARSE_L3;

	if (type == bpf_htons(WEIR_ETH_P_IP)) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > data_end) {
			p->flags |= WEIR_PARSE_TRUNCATED;
			return;
		}
		__u32 ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return;
		if (ip->frag_off & bpf_htons(0x1fff)) {
			p->flags |= WEIR_PARSE_FRAGMENT;
			return;
		}
		off += ihl;
		proto = ip->protocol;
	} else if (type == bpf_htons(WEIR_ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end) {
			p->flags |= WEIR_PARSE_TRUNCATED;
			return;
		}
		proto = ip6->nexthdr;
		off += sizeof(*ip6);
		int i;
		for (i = 0; i < WEIR_IPV6_EXT_MAX; i++) {
			struct weir_ipv6_ext h;
			__u32 hlen;

			if (!ipv6_ext(proto))
				break;
			if (off > WEIR_PARSE_MAX_OFF ||
			    load_bytes(ctx, xdp, off, &h, sizeof(h)) < 0) {
				p->flags |= WEIR_PARSE_TRUNCATED;
				return;
			}
			if (proto == WEIR_IPPROTO_FRAGMENT) {
				if (h.frag_off & bpf_htons(0xfff8)) {
					p->flags |= WEIR_PARSE_FRAGMENT;
					return;
				}
				hlen = sizeof(h);
			} else if (proto == WEIR_IPPROTO_AH) {
				hlen = ((__u32)h.hdrlen + 2) * 4;
			} else {
				hlen = ((__u32)h.hdrlen + 1) * 8;
			}
			proto = h.nexthdr;
			off += hlen;
		}
		if (i == WEIR_IPV6_EXT_MAX && ipv6_ext(proto)) {
			p->flags |= WEIR_PARSE_EXT_LIMIT;
			return;
		}
		if (proto == WEIR_IPPROTO_NONE)
			return;
	} else {
		return;
	}

	if (off > WEIR_PARSE_MAX_OFF) {
		p->flags |= WEIR_PARSE_TRUNCATED;
		return;
	}
	p->l4_proto = proto;
	__u32 need = l4_min(proto);
	if (need == 0)
		return;
	if (off + need > len) {
		p->flags |= WEIR_PARSE_TRUNCATED;
		return;
	}
	p->l4_off = off;
	p->flags |= WEIR_PARSE_L4;
}

/* Marks a global function's argument as the program's context, whatever
 * the program type (kernel 6.8 and later). */
#define __weir_arg_ctx __attribute__((btf_decl_tag("arg:ctx")))

/*
 * weir_filter - the filter hook: return non-zero to keep the packet, zero to
 * count it as filtered out.
 *
 * This placeholder keeps every packet. It is a global (non-static) noinline
 * function, so the verifier checks it on its own and its BTF prototype,
 *
 *     int weir_filter(void *ctx __weir_arg_ctx, const struct weir_filter_args *args)
 *
 * is what a replacement must match. ctx is the program's context (struct
 * xdp_md or struct __sk_buff), for bpf_xdp_load_bytes or
 * bpf_skb_load_bytes when the filter needs bytes beyond args->head. A
 * loader replaces the function before load (what ingest/packet does with
 * Config.Filter): in each of the three capture ProgramSpecs, it replaces
 * the instructions of the "weir_filter" function with the compiled
 * filter's, keeping the function's symbol, BTF func metadata and first
 * line info, so that the calls resolve to it and the verifier checks it
 * against this prototype. (freplace would need no reload, but the
 * project's standard machine refuses to load extension programs: EPERM,
 * as for fentry.)
 *
 * The verifier treats args as nullable in a global function, so a
 * replacement must test it before loading through it.
 *
 * args is read-only stack memory of the caller, valid for the call.
 */
__noinline int weir_filter(void *ctx __weir_arg_ctx, const struct weir_filter_args *args)
{
	int keep = ctx != 0 && args != 0;

	/* Keep clang from folding the result into the callers. */
	barrier_var(keep);
	return keep;
}

/* The 32-bit mixing steps of MurmurHash3: mix folds v into h, fmix
 * finishes h so that every input bit affects every output bit. */
static __always_inline __u32 rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 mix(__u32 h, __u32 v)
{
	v *= 0xcc9e2d51;
	v = rotl32(v, 15);
	v *= 0x1b873593;
	h ^= v;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

static __always_inline __u32 fmix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* ICMP and ICMPv6 echo request and reply types, whose identifier stands in
 * for the ports. */
#define WEIR_ICMP_ECHO_REPLY 0
#define WEIR_ICMP_ECHO 8
#define WEIR_ICMPV6_ECHO 128
#define WEIR_ICMPV6_ECHO_REPLY 129

/* load32 reads 4 bytes at p in one load, aligned or not: the verifier
 * allows unaligned loads from the caller's stack copy on architectures
 * with efficient unaligned access (x86, arm64), and a memcpy would cost
 * four byte loads. */
static __always_inline __u32 load32(const __u8 *p)
{
	return *(const __u32 *)(const void *)p;
}

/*
 * weir_flow_hash returns a 32-bit hash of the packet's flow that is the
 * same in both directions, or -1 when the packet has no IP addresses in the
 * filter's copy of its first bytes (not IPv4 or IPv6, or cut short).
 *
 * Each end, an address and a port, is hashed on its own, from the seed; the
 * flow's hash combines the smaller end hash with the larger, then the IP
 * protocol, and finishes with fmix, so a request and its reply hash alike. The port of an end is
 * its TCP or UDP port, or for ICMP and ICMPv6 echo requests and replies the
 * echo identifier (both ends alike), so that each ping session is a flow.
 * IP packets whose ports are not read hash with port 0, so all of them
 * between two addresses with one protocol form one flow: other protocols,
 * other ICMP messages, a transport header the parser did not find or that
 * ends beyond the WEIR_FILTER_HEAD bytes the filter sees (IPv6 with long
 * extension header chains), and non-first fragments, which the parser
 * reports with protocol 0 and which therefore do not go with the first
 * fragment of their datagram.
 *
 * It is a global function, so the verifier checks it once, on its own,
 * rather than once for every path through the parser; that keeps flow mode
 * from doubling the programs' verification cost. It reads only args.
 */
__noinline long weir_flow_hash(const struct weir_filter_args *args)
{
	if (!args)
		return -1;
	__u32 seed = weir_flow_seed;
	__u32 a = seed, b = seed;
	__u32 n = args->head_len;
	__u32 l3 = args->l3_off;
	__u32 l4 = args->l4_off;
	__u16 sport = 0, dport = 0;

	if (n > WEIR_FILTER_HEAD)
		n = WEIR_FILTER_HEAD;
	if (args->l3_proto == WEIR_ETH_P_IP) {
		if (l3 > WEIR_FILTER_HEAD - 20 || l3 + 20 > n)
			return -1;
		a = mix(a, load32(args->head + l3 + 12));
		b = mix(b, load32(args->head + l3 + 16));
	} else if (args->l3_proto == WEIR_ETH_P_IPV6) {
		if (l3 > WEIR_FILTER_HEAD - 40 || l3 + 40 > n)
			return -1;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			a = mix(a, load32(args->head + l3 + 8 + 4 * i));
			b = mix(b, load32(args->head + l3 + 24 + 4 * i));
		}
	} else {
		return -1;
	}
	if (l4 <= WEIR_FILTER_HEAD - 6 && l4 + 6 <= n) {
		const __u8 *h = args->head + l4;

		switch (args->l4_proto) {
		case WEIR_IPPROTO_TCP:
		case WEIR_IPPROTO_UDP:
			sport = ((__u16)h[0] << 8) | h[1];
			dport = ((__u16)h[2] << 8) | h[3];
			break;
		case WEIR_IPPROTO_ICMP:
			if (h[0] == WEIR_ICMP_ECHO || h[0] == WEIR_ICMP_ECHO_REPLY)
				sport = dport = ((__u16)h[4] << 8) | h[5];
			break;
		case WEIR_IPPROTO_ICMPV6:
			if (h[0] == WEIR_ICMPV6_ECHO || h[0] == WEIR_ICMPV6_ECHO_REPLY)
				sport = dport = ((__u16)h[4] << 8) | h[5];
			break;
		}
	}
	a = mix(a, sport);
	b = mix(b, dport);
	__u32 lo = a < b ? a : b;
	__u32 hi = a < b ? b : a;
	return fmix(mix(mix(mix(seed, lo), hi), args->l4_proto));
}

/*
 * sample decides whether to keep a packet at rate (> 1): it keeps it when a
 * 32-bit draw d has d * rate < 2^32, which holds for 1 draw in rate (to
 * within 2^-32) and costs no division. The draw is bpf_get_prandom_u32(),
 * or in flow mode the packet's flow hash, so all packets of a flow go the
 * same way; packets without one (not IP) are drawn at random. *how says
 * which of the two chose the packet.
 */
static __always_inline bool sample(const struct weir_filter_args *fa, __u32 rate, __u32 mode,
				   __u8 *how)
{
	__u32 d;
	long h = -1;

	if (mode == WEIR_SAMPLE_FLOW)
		h = weir_flow_hash(fa);
	if (h >= 0) {
		d = h;
		*how = WEIR_SAMPLE_FLOW;
	} else {
		d = bpf_get_prandom_u32();
		*how = WEIR_SAMPLE_RANDOM;
	}
	return (((__u64)d * rate) >> 32) == 0;
}

/* emit reserves a record of class size SIZE and fills it. */
#define WEIR_EMIT(SIZE)                                                                   \
	do {                                                                              \
		struct weir_pkt_record *r =                                               \
			bpf_ringbuf_reserve(ring, WEIR_PKT_RECORD_SIZE + (SIZE), 0);      \
		if (!r) {                                                                 \
			cnt->ring_full++;                                                 \
			return;                                                           \
		}                                                                         \
		__u32 n = cap;                                                            \
		barrier_var(n);                                                           \
		if (n > (SIZE))                                                           \
			n = (SIZE);                                                       \
		if (n == 0 || load_bytes(ctx, xdp, 0, (void *)(r + 1), n) < 0)            \
			n = 0;                                                            \
		r->hdr.ts_ns = ts;                                                        \
		r->hdr.seq = seq;                                                         \
		r->hdr.type = WEIR_RECORD_PACKET;                                         \
		r->hdr.version = WEIR_PKT_RECORD_VERSION;                                 \
		r->hdr.size = WEIR_PKT_RECORD_SIZE + n;                                   \
		r->hdr.cpu = cpu;                                                         \
		r->hdr.clock = WEIR_CLOCK_MONOTONIC;                                      \
		r->hdr.reserved[0] = 0;                                                   \
		r->hdr.reserved[1] = 0;                                                   \
		r->hdr.reserved[2] = 0;                                                   \
		r->ifindex = ifindex;                                                     \
		r->orig_len = wire_len;                                                   \
		r->cap_len = n;                                                           \
		r->sample_rate = rate;                                                    \
		r->direction = dir;                                                       \
		r->hook = hook;                                                           \
		r->parse_flags = p.flags;                                                 \
		r->vlan_depth = p.vlan_depth;                                             \
		r->l3_proto = p.l3_proto;                                                 \
		r->l3_off = p.l3_off;                                                     \
		r->l4_off = p.l4_off;                                                     \
		r->l4_proto = p.l4_proto;                                                 \
		r->sample_mode = how;                                                     \
		r->vlan_tci = p.vlan_tci;                                                 \
		r->reserved1 = 0;                                                         \
		bpf_ringbuf_submit(r, wake);                                              \
		cnt->emitted++;                                                           \
		return;                                                                   \
	} while (0)

static __always_inline void capture(void *ctx, bool xdp, void *data, void *data_end,
				    __u32 wire_len, __u32 ifindex, __u8 dir, __u8 hook)
{
	struct weir_if_config *cfg = bpf_map_lookup_elem(&weir_ifcfg, &ifindex);
	if (!cfg)
		return;
	__u32 zero = 0;
	struct weir_pkt_counters *cnt = bpf_map_lookup_elem(&weir_counters, &zero);
	if (!cnt)
		return;
	cnt->seen++;

	struct weir_parsed p = {};
	parse(ctx, xdp, data, data_end, wire_len, &p);

	struct weir_filter_args fa;
	__builtin_memset(&fa, 0, sizeof(fa));
	__u32 head = wire_len;
	if (head > WEIR_FILTER_HEAD)
		head = WEIR_FILTER_HEAD;
	barrier_var(head);
	if (head > WEIR_FILTER_HEAD)
		head = WEIR_FILTER_HEAD;
	if (head > 0 && load_bytes(ctx, xdp, 0, fa.head, head) < 0)
		head = 0;
	fa.head_len = head;
	fa.wire_len = wire_len;
	fa.ifindex = ifindex;
	fa.l3_proto = p.l3_proto;
	fa.l3_off = p.l3_off;
	fa.l4_off = p.l4_off;
	fa.l4_proto = p.l4_proto;
	fa.direction = dir;
	if (!weir_filter(ctx, &fa)) {
		cnt->filtered++;
		return;
	}

	__u32 rate = cfg->sample_rate;
	__u8 how = WEIR_SAMPLE_NONE;
	if (rate > 1) {
		if (!sample(&fa, rate, cfg->sample_mode, &how)) {
			cnt->sampled_out++;
			return;
		}
	} else {
		rate = 1;
	}

	__u64 seq = cnt->seq++;
	__u64 ts = bpf_ktime_get_ns();
	__u32 cpu = bpf_get_smp_processor_id();
	void *ring = bpf_map_lookup_elem(&weir_rings, &cpu);
	if (!ring) {
		/* No ring for this CPU: the loader did not fill the slot. */
		cnt->ring_full++;
		return;
	}
	__u64 wake = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= weir_wakeup_bytes)
		wake = BPF_RB_FORCE_WAKEUP;

	__u32 cap = wire_len;
	if (cap > cfg->snaplen)
		cap = cfg->snaplen;

	/* Classes below weir_snap_bytes for short packets, then the snaplen's. */
	__u32 top = weir_snap_bytes;
	if (top > WEIR_SNAPLEN_MAX)
		top = WEIR_SNAPLEN_MAX;
	if (cap <= 64 && top > 64)
		WEIR_EMIT(64);
	if (cap <= 128 && top > 128)
		WEIR_EMIT(128);
	if (cap <= 256 && top > 256)
		WEIR_EMIT(256);
	if (cap <= 512 && top > 512)
		WEIR_EMIT(512);
	if (cap <= 1024 && top > 1024)
		WEIR_EMIT(1024);
	if (cap <= 2048 && top > 2048)
		WEIR_EMIT(2048);
	if (cap <= 4096 && top > 4096)
		WEIR_EMIT(4096);
	WEIR_EMIT(top);
}

SEC("xdp")
int weir_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	capture(ctx, true, data, data_end, bpf_xdp_get_buff_len(ctx), ctx->ingress_ifindex,
		WEIR_DIR_INGRESS, WEIR_HOOK_XDP);
	return XDP_PASS;
}

SEC("tcx/ingress")
int weir_tc_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	capture(skb, false, data, data_end, skb->len, skb->ifindex, WEIR_DIR_INGRESS,
		WEIR_HOOK_TCX);
	return TCX_NEXT;
}

SEC("tcx/egress")
int weir_tc_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	capture(skb, false, data, data_end, skb->len, skb->ifindex, WEIR_DIR_EGRESS,
		WEIR_HOOK_TCX);
	return TCX_NEXT;
}
