/* nulltype.c - n_types says 2 but the second pointer is NULL. */
#include "stub.h"
static const weir_connector_type a = {STUB_TYPE("a")};
static const weir_connector_type *const types[] = {&a, NULL};
STUB_PLUGIN(types, 2)
