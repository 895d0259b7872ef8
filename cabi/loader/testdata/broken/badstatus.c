/* badstatus.c - a sink whose write returns a status outside the enum. */
#include "stub.h"
static weir_status write(weir_instance *in, const weir_batch *b)
{
	(void)b;
	strcpy(in->err, "confused");
	return (weir_status)7;
}
static const weir_sink_ops snk = {.struct_size = sizeof(weir_sink_ops), .write = write};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = &snk};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
