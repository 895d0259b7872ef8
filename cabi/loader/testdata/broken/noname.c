/* noname.c - weir_plugin.name is NULL. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("x")};
static const weir_connector_type *const types[] = {&t};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .version = "0", .n_types = 1, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
