/* noentry.c - exports a misspelt entry point. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("x")};
static const weir_connector_type *const types[] = {&t};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "broken", .version = "0", .n_types = 1, .types = types};
WEIR_EXPORT const weir_plugin *weir_plugin_describes(void) { return &plugin; }
