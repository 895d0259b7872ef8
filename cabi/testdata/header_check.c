/* header_check.c - includes the header and uses its macros, so the
 * compiler checks it under the strictest warnings (TestHeaderCompiles). It
 * is also compiled as C++. */
#include "weir/plugin.h"

#ifndef __cplusplus
static const weir_plugin check_plugin = {WEIR_PLUGIN_HEADER, .name = "check"};
const weir_plugin *weir_plugin_describe(void) { return &check_plugin; }
#else
const weir_plugin *weir_plugin_describe(void) { return 0; }
#endif

int check_status(weir_status s);
int check_status(weir_status s) { return s == WEIR_OK && WEIR_ABI_MAJOR == 1; }
