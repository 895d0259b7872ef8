/* oldplugin.c - a plugin built against the frozen ABI 1.0 header in this
 * directory (weir/plugin.h here is a byte-for-byte copy of the header as
 * released at 1.0; never edit it). TestV10Plugin checks that the current
 * host keeps loading and running it as the real header grows.
 *
 * One type, "ticker": a source that emits "count" (default 5) TICK events
 * with empty data, then EOF; and a sink that counts what it is given. */
#include <stdlib.h>

#include "weir/plugin.h"

struct weir_instance {
	const weir_host_api *api;
	weir_host *host;
	uint64_t sent, limit, written;
	int32_t metric;
	int started, drained;
};

static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	weir_instance *in = calloc(1, sizeof *in);
	(void)cfg;
	(void)len;
	if (!in)
		return WEIR_ERROR;
	in->api = api;
	in->host = host;
	in->limit = 5;
	in->metric = api->metric_register(host, "written", WEIR_METRIC_COUNTER, "events written");
	*out = in;
	return WEIR_OK;
}

static void destroy(weir_instance *in) { free(in); }
static const char *last_error(weir_instance *in)
{
	return in->started ? NULL : "not started";
}
static weir_status connect(weir_instance *in, uint32_t attempt)
{
	(void)in;
	return attempt < 2 ? WEIR_RETRY : WEIR_OK;
}
static weir_status start(weir_instance *in)
{
	in->started = 1;
	return WEIR_OK;
}
static weir_status drain(weir_instance *in)
{
	in->drained = 1;
	return WEIR_OK;
}

static weir_status poll(weir_instance *in, weir_batch *b, int64_t timeout_ns)
{
	(void)timeout_ns;
	while (b->len < b->capacity && in->sent < in->limit) {
		weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)b->len * b->event_size);
		e->ts_ns = in->sent;
		e->stream_id = 0;
		e->data = NULL;
		e->len = 0;
		e->kind = WEIR_KIND_TICK;
		e->flags = 0;
		b->len++;
		in->sent++;
	}
	return in->sent >= in->limit ? WEIR_EOF : WEIR_OK;
}

static weir_status write(weir_instance *in, const weir_batch *b)
{
	in->written += b->len;
	in->api->counter_add(in->host, in->metric, b->len);
	return WEIR_OK;
}

static const weir_source_ops source = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_sink_ops sink = {.struct_size = sizeof(weir_sink_ops), .write = write};

static const weir_connector_type ticker = {
	.struct_size = sizeof(weir_connector_type),
	.id = "ticker",
	.description = "ABI 1.0 ticker",
	.create = create,
	.destroy = destroy,
	.last_error = last_error,
	.connect = connect,
	.start = start,
	.drain = drain,
	.source = &source,
	.sink = &sink,
};

static const weir_connector_type *const types[] = {&ticker};

static const weir_plugin plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "old",
	.version = "1.0.0",
	.n_types = 1,
	.types = types,
};

const weir_plugin *weir_plugin_describe(void) { return &plugin; }
