/* pluginsize.c - weir_plugin.struct_size smaller than ABI 1.0's. */
#include "stub.h"
static const weir_connector_type t = {STUB_TYPE("x")};
static const weir_connector_type *const types[] = {&t};
static const weir_plugin plugin = {.abi_major = WEIR_ABI_MAJOR, .abi_minor = WEIR_ABI_MINOR,
				   .struct_size = 16, .name = "broken", .version = "0",
				   .n_types = 1, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
