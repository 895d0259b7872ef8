/* dupid.c - two types with the same ID. */
#include "stub.h"
static const weir_connector_type a = {STUB_TYPE("same")};
static const weir_connector_type b = {STUB_TYPE("same")};
static const weir_connector_type *const types[] = {&a, &b};
STUB_PLUGIN(types, 2)
