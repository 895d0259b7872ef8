/* plugin.c - the C half of the Go test plugin: the static descriptor and
 * thin wrappers that call the Go exports in main.go. */
#include <stdlib.h>

#include "_cgo_export.h"
#include "weir/plugin.h"

static weir_status c_create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			    weir_instance **out)
{
	(void)cfg;
	(void)len;
	(void)api;
	(void)host;
	*out = (weir_instance *)(uintptr_t)goCreate();
	return WEIR_OK;
}

static void c_destroy(weir_instance *in) { goDestroy((uintptr_t)in); }

static const char *c_last_error(weir_instance *in)
{
	(void)in;
	return NULL;
}

static weir_status c_write(weir_instance *in, const weir_batch *b)
{
	return (weir_status)goWrite((uintptr_t)in, (uintptr_t)b);
}

static weir_status c_poll(weir_instance *in, weir_batch *b, int64_t timeout_ns)
{
	(void)timeout_ns;
	return (weir_status)goPoll((uintptr_t)in, (uintptr_t)b);
}

static const weir_sink_ops sink = {.struct_size = sizeof(weir_sink_ops), .write = c_write};
static const weir_source_ops source = {.struct_size = sizeof(weir_source_ops), .poll = c_poll};

static const weir_connector_type counter = {
	.struct_size = sizeof(weir_connector_type),
	.id = "gocount",
	.description = "counts written events in Go; poll reports the count",
	.create = c_create,
	.destroy = c_destroy,
	.last_error = c_last_error,
	.source = &source,
	.sink = &sink,
};

static const weir_connector_type *const types[] = {&counter};

static const weir_plugin plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "goplug",
	.version = "1",
	.n_types = 1,
	.types = types,
};

const weir_plugin *weir_plugin_describe(void) { return &plugin; }
