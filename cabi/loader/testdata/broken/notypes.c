/* notypes.c - n_types is 0. */
#include "stub.h"
static const weir_connector_type *const types[] = {NULL};
STUB_PLUGIN(types, 0)
