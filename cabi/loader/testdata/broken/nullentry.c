/* nullentry.c - the entry point returns NULL. */
#include "weir/plugin.h"
const weir_plugin *weir_plugin_describe(void) { return NULL; }
