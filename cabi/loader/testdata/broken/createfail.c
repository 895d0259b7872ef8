/* createfail.c - create fails with a message and still returns an
 * instance, which the host must destroy. */
#include <stdio.h>

#include "stub.h"
static int destroyed;
static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	weir_instance *in;
	if (stub_create(cfg, len, api, host, &in) != WEIR_OK)
		return WEIR_ERROR;
	snprintf(in->err, sizeof in->err, "bad config: missing field \"rate\"");
	*out = in;
	return WEIR_ERROR;
}
static void destroy(weir_instance *in)
{
	destroyed++;
	free(in);
}
/* For the test: how many instances were destroyed. */
WEIR_EXPORT int broken_destroyed(void) { return destroyed; }
static const weir_connector_type t = {STUB_TYPE("x"), .create = create, .destroy = destroy};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
