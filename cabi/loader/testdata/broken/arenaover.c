/* arenaover.c - a source that sets arena_len beyond arena_cap. */
#include "stub.h"
static weir_status poll(weir_instance *in, weir_batch *b, int64_t t)
{
	(void)in;
	(void)t;
	stub_append(b);
	b->arena_len = b->arena_cap + 1;
	return WEIR_OK;
}
static const weir_source_ops src = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = NULL, .source = &src};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
