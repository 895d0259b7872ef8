/* nopoll.c - a source role without its required poll. */
#include "stub.h"
static const weir_source_ops src = {.struct_size = sizeof(weir_source_ops)};
static const weir_connector_type t = {STUB_TYPE("x"), .sink = NULL, .source = &src};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
