/* bench.c - a blackhole sink and an endless source with no host
 * callbacks, so TestHotPathAllocs and the benchmarks measure the call
 * itself plus a realistic per-event touch of each descriptor. */
#include <stdlib.h>

#include "weir/plugin.h"

/* bench_noop is an empty function with the poll signature, for measuring
 * the bare cost of one call. */
int32_t bench_noop(void *a, void *b, int64_t c)
{
	(void)a;
	(void)b;
	(void)c;
	return 0;
}

struct weir_instance {
	uint64_t events, bytes, seq;
};

static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	(void)cfg;
	(void)len;
	(void)api;
	(void)host;
	*out = calloc(1, sizeof(weir_instance));
	return *out ? WEIR_OK : WEIR_ERROR;
}
static void destroy(weir_instance *in) { free(in); }
static const char *last_error(weir_instance *in)
{
	(void)in;
	return NULL;
}

static weir_status write(weir_instance *in, const weir_batch *b)
{
	const uint8_t *p = (const uint8_t *)b->events;
	uint32_t i;
	for (i = 0; i < b->len; i++, p += b->event_size) {
		const weir_event *e = (const weir_event *)p;
		in->bytes += e->len;
	}
	in->events += b->len;
	return WEIR_OK;
}

/* Fills the batch with empty TICK events. */
static weir_status poll(weir_instance *in, weir_batch *b, int64_t timeout_ns)
{
	(void)timeout_ns;
	while (b->len < b->capacity) {
		weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)b->len * b->event_size);
		e->ts_ns = in->seq++;
		e->stream_id = 0;
		e->data = NULL;
		e->len = 0;
		e->kind = WEIR_KIND_TICK;
		e->flags = 0;
		b->len++;
	}
	return WEIR_OK;
}

static weir_status process(weir_instance *in, weir_batch *b)
{
	uint8_t *p = (uint8_t *)b->events;
	uint32_t i;
	(void)in;
	for (i = 0; i < b->len; i++, p += b->event_size) {
		weir_event *e = (weir_event *)p;
		if (e->len == 0)
			e->flags |= WEIR_EVENT_DROP;
	}
	return WEIR_OK;
}

static const weir_source_ops source = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_sink_ops sink = {.struct_size = sizeof(weir_sink_ops), .write = write};
static const weir_processor_ops proc = {.struct_size = sizeof(weir_processor_ops), .process = process};

static const weir_connector_type all = {
	.struct_size = sizeof(weir_connector_type),
	.id = "bench",
	.description = "blackhole sink, endless source, drop-empty processor",
	.create = create,
	.destroy = destroy,
	.last_error = last_error,
	.source = &source,
	.sink = &sink,
	.processor = &proc,
};

static const weir_connector_type *const types[] = {&all};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "bench", .version = "1", .n_types = 1, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
