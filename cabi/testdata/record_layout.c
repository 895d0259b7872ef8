/* record_layout.c - prints the size of every struct in weir/records.h that
 * package cabi mirrors, and the offset and size of each field, in
 * declaration order, for TestRecordLayout (same format as layout.c):
 *   struct NAME SIZE
 *   field NAME OFFSET SIZE
 */
#include <stdio.h>

#include "weir/records.h"

#define S(T) printf("struct %s %zu\n", #T, sizeof(struct T))
#define F(T, f) printf("field %s %zu %zu\n", #f, offsetof(struct T, f), sizeof(((struct T *)0)->f))

int main(void)
{
	S(weir_record_hdr);
	F(weir_record_hdr, ts_ns);
	F(weir_record_hdr, seq);
	F(weir_record_hdr, type);
	F(weir_record_hdr, version);
	F(weir_record_hdr, size);
	F(weir_record_hdr, cpu);
	F(weir_record_hdr, clock);
	F(weir_record_hdr, reserved);

	S(weir_pkt_record);
	F(weir_pkt_record, hdr);
	F(weir_pkt_record, ifindex);
	F(weir_pkt_record, orig_len);
	F(weir_pkt_record, cap_len);
	F(weir_pkt_record, sample_rate);
	F(weir_pkt_record, direction);
	F(weir_pkt_record, hook);
	F(weir_pkt_record, parse_flags);
	F(weir_pkt_record, vlan_depth);
	F(weir_pkt_record, l3_proto);
	F(weir_pkt_record, l3_off);
	F(weir_pkt_record, l4_off);
	F(weir_pkt_record, l4_proto);
	F(weir_pkt_record, sample_mode);
	F(weir_pkt_record, vlan_tci);
	F(weir_pkt_record, reserved1);

	printf("const %d %d %d %d %d %d %d %d %d %d %d %d %d %u %u %u %u %u %d %d %d %d\n", WEIR_RECORD_PACKET,
	       WEIR_RECORD_SYSCALL, WEIR_CLOCK_NONE, WEIR_CLOCK_MONOTONIC, WEIR_CLOCK_REALTIME,
	       WEIR_CLOCK_BOOTTIME, WEIR_RECORD_HDR_SIZE, WEIR_PKT_RECORD_SIZE, WEIR_PKT_RECORD_VERSION,
	       WEIR_DIR_INGRESS, WEIR_DIR_EGRESS, WEIR_HOOK_XDP, WEIR_HOOK_TCX, WEIR_PARSE_L3, WEIR_PARSE_L4,
	       WEIR_PARSE_FRAGMENT, WEIR_PARSE_TRUNCATED, WEIR_PARSE_EXT_LIMIT, WEIR_OFF_NONE,
	       WEIR_SAMPLE_NONE, WEIR_SAMPLE_RANDOM, WEIR_SAMPLE_FLOW);

	S(weir_sys_record);
	F(weir_sys_record, hdr);
	F(weir_sys_record, duration_ns);
	F(weir_sys_record, ret);
	F(weir_sys_record, args);
	F(weir_sys_record, cgroup_id);
	F(weir_sys_record, pid);
	F(weir_sys_record, tid);
	F(weir_sys_record, nr);
	F(weir_sys_record, sample_rate);
	F(weir_sys_record, decode);
	F(weir_sys_record, flags);
	F(weir_sys_record, str0_len);
	F(weir_sys_record, str1_len);
	F(weir_sys_record, family);
	F(weir_sys_record, port);
	F(weir_sys_record, reserved0);
	F(weir_sys_record, addr);
	F(weir_sys_record, comm);
	printf("const %d %d %d %d %d %d %d %d %d %u %u %u %u %u %u %u\n", WEIR_SYS_RECORD_VERSION,
	       WEIR_SYS_RECORD_SIZE, WEIR_SYS_STR_MAX, WEIR_SYS_DEC_NONE, WEIR_SYS_DEC_SOCKADDR,
	       WEIR_SYS_DEC_PATH, WEIR_SYS_DEC_PATH2, WEIR_SYS_DEC_EXEC, WEIR_SYS_DEC_SOCKFD,
	       WEIR_SYS_STR0_TRUNCATED, WEIR_SYS_STR1_TRUNCATED, WEIR_SYS_STR0_FAULT,
	       WEIR_SYS_STR1_FAULT, WEIR_SYS_ADDR, WEIR_SYS_ADDR_FAULT, WEIR_SYS_NO_RETURN);
	return 0;
}
