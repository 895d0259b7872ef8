/* records_check.c - includes weir/records.h and calls its helpers, so the
 * compiler checks the header under the strictest warnings
 * (TestHeaderCompiles in layout_test.go). It is also compiled as C++. */
#include "weir/records.h"

int check_view(const weir_event *ev);
int check_view(const weir_event *ev)
{
	struct weir_packet_view v;
	weir_record_status s = weir_packet_view(ev, &v);
	return s == WEIR_RECORD_OK && v.header.hdr.type == WEIR_RECORD_PACKET &&
	       v.header.hdr.clock == WEIR_CLOCK_MONOTONIC &&
	       sizeof(struct weir_pkt_record) % 8 == 0;
}

int check_syscall_view(const weir_event *ev);
int check_syscall_view(const weir_event *ev)
{
	struct weir_syscall_view v;
	weir_record_status s = weir_syscall_view(ev, &v);
	return s == WEIR_RECORD_OK && v.header.hdr.type == WEIR_RECORD_SYSCALL &&
	       (v.str0 == NULL || v.str0_len < WEIR_SYS_STR_MAX) &&
	       sizeof(struct weir_sys_record) == WEIR_SYS_RECORD_SIZE;
}
