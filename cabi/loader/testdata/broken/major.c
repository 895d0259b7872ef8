/* major.c - built for ABI 2.0. The rest of the descriptor is garbage on
 * purpose: the host must not read past the version. */
#include "weir/plugin.h"
static const struct {
	uint16_t major, minor;
	uint32_t size;
	const char *junk;
} plugin = {2, 0, 4, (const char *)1};
const weir_plugin *weir_plugin_describe(void) { return (const weir_plugin *)(const void *)&plugin; }
