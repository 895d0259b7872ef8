// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * trafgen.c - the programs behind tools/trafgen, weir's packet generator.
 *
 * weir_trafgen_tx runs under BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES:
 * the kernel feeds it a template Ethernet/IPv4/UDP-or-TCP frame Repeat times
 * and transmits every frame it returns XDP_TX for out of the ingress
 * interface named in the run's context. Each run rewrites the source port
 * to cycle through trafgen_flows flows, fixing the L4 checksum
 * incrementally, so the receiver sees several flows. The frame may be a
 * recycled page still holding the previous run's port; the incremental
 * update starts from whatever the frame holds, so the checksum stays right.
 *
 * weir_trafgen_rx returns XDP_PASS and counts frames: attached to the
 * receiving veth end it turns on that end's NAPI, without which the veth
 * drops XDP_TX frames from its peer, and gives the generator a count of
 * frames that arrived.
 */
#include "vmlinux.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_endian.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Layout of the template frame: Ethernet, IPv4 without options, then L4. */
#define TG_L4_OFF (14 + 20)
#define TG_IPPROTO_TCP 6
#define TG_IPPROTO_UDP 17

/* Set by the loader before loading. */
volatile const __u32 trafgen_flows = 1;      /* source ports to cycle through */
volatile const __u16 trafgen_base_port = 40000; /* first source port */

/*
 * Runs of weir_trafgen_tx, and the run count at which it stops transmitting
 * (XDP_DROP; the kernel just recycles the frame). The loader sets the limit
 * before each BPF_PROG_RUN, so a run the kernel restarts after a signal
 * cannot send more frames than asked for.
 */
__u64 trafgen_runs = 0;
__u64 trafgen_limit = ~0ULL;
/* Frames seen by weir_trafgen_rx. */
__u64 trafgen_received = 0;

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* RFC 1624 incremental update of a one's complement checksum (network
 * order) when a 16-bit word changes from old to new (network order). */
static __always_inline __u16 csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check;
	sum += (__u16)~old;
	sum += new;
	return (__u16)~csum_fold32(sum);
}

SEC("xdp")
int weir_trafgen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + 14;
	__u64 n = __sync_fetch_and_add(&trafgen_runs, 1);

	if (n >= trafgen_limit)
		return XDP_DROP;
	if ((void *)(ip + 1) > data_end)
		return XDP_TX;
	if (trafgen_flows <= 1)
		return XDP_TX;
	__u16 port = bpf_htons(trafgen_base_port + (__u16)(n % trafgen_flows));
	if (ip->protocol == TG_IPPROTO_UDP) {
		struct udphdr *udp = data + TG_L4_OFF;
		if ((void *)(udp + 1) > data_end)
			return XDP_TX;
		if (udp->check) {
			__u16 c = csum_replace2(udp->check, udp->source, port);
			udp->check = c ? c : 0xffff;
		}
		udp->source = port;
	} else if (ip->protocol == TG_IPPROTO_TCP) {
		struct tcphdr *tcp = data + TG_L4_OFF;
		if ((void *)(tcp + 1) > data_end)
			return XDP_TX;
		tcp->check = csum_replace2(tcp->check, tcp->source, port);
		tcp->source = port;
	}
	return XDP_TX;
}

SEC("xdp")
int weir_trafgen_rx(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&trafgen_received, 1);
	return XDP_PASS;
}
