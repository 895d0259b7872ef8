/* typesize.c - weir_connector_type.struct_size smaller than ABI 1.0's. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("x"), .struct_size = 24};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
