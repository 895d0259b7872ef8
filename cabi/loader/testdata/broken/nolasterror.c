/* nolasterror.c - the required op last_error is missing. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("x"), .last_error = NULL};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
