/* srcflags.c - a source that appends a good event, one flagged DROP
 * (a processor's bit) and one with reserved bit 5 set, and returns OK. */
#include "stub.h"
static weir_status poll(weir_instance *in, weir_batch *b, int64_t t)
{
	(void)in;
	(void)t;
	stub_append(b);
	stub_append(b)->flags = WEIR_EVENT_DROP;
	stub_append(b)->flags = 1u << 5;
	return WEIR_OK;
}
static const weir_source_ops src = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = NULL, .source = &src};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
