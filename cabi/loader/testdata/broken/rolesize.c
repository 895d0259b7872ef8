/* rolesize.c - weir_sink_ops.struct_size smaller than ABI 1.0's. */
#include "stub.h"
static const weir_sink_ops small = {.struct_size = 8, .write = stub_write};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = &small};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
