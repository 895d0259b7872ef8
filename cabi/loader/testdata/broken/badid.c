/* badid.c - a type ID outside [a-z][a-z0-9_.-]*. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("Blackhole Sink")};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
