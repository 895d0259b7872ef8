/* procgrow.c - a processor that grows an event, which the ABI forbids. */
#include "stub.h"
static weir_status process(weir_instance *in, weir_batch *b)
{
	weir_event *e = (weir_event *)((uint8_t *)b->events + b->event_size);
	(void)in;
	if (b->len > 1)
		e->len += 5;
	return WEIR_OK;
}
static const weir_processor_ops proc = {.struct_size = sizeof(weir_processor_ops), .process = process};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = NULL, .processor = &proc};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
