/* norole.c - a type with no role at all. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("x"), .sink = NULL};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
