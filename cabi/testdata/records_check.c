/* records_check.c - includes weir/records.h and calls its helper, so the
 * compiler checks the header under the strictest warnings
 * (TestRecordsHeaderCompiles). It is also compiled as C++. */
#include "weir/records.h"

int check_view(const weir_event *ev);
int check_view(const weir_event *ev)
{
	struct weir_packet_view v;
	weir_record_status s = weir_packet_view(ev, &v);
	return s == WEIR_RECORD_OK && v.header.hdr.type == WEIR_RECORD_PACKET &&
	       v.header.hdr.clock == WEIR_CLOCK_MONOTONIC && sizeof(struct weir_pkt_record) % 8 == 0;
}
