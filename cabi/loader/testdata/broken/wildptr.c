/* wildptr.c - a source that appends three events with wild data pointers
 * (a small integer, as from a NULL struct plus an offset) among good ones,
 * and returns OK. */
#include "stub.h"
static weir_status poll(weir_instance *in, weir_batch *b, int64_t t)
{
	int i;
	(void)in;
	(void)t;
	stub_append(b);
	for (i = 0; i < 3; i++)
		stub_append(b)->data = (uint8_t *)(uintptr_t)(0x18 + i);
	return WEIR_OK;
}
static const weir_source_ops src = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = NULL, .source = &src};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
