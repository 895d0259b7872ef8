/* good.c - a well-behaved test plugin with three connector types:
 *   "counter" (source, wants acks): emits "count" events, then EOF. Event i
 *       has i%3==2 pointing at plugin memory, the others into the arena.
 *       start runs a thread that calls wakeup three times; stop joins it.
 *   "sink" (sink): checks and counts events; registers two metrics.
 *   "filter" (processor): drops odd events, shortens even ones by a byte.
 * Config is JSON; the only key read is "count" (default 10).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/plugin.h"

struct weir_instance {
	const weir_host_api *api;
	weir_host *host;
	char err[128];
	uint64_t count, next;
	uint64_t acked, failed;
	int32_t m_events, m_bytes, m_acked;
	char foreign[32];
	pthread_t thread;
	int running;
};

static weir_instance *alloc_inst(const weir_host_api *api, weir_host *host)
{
	weir_instance *in = calloc(1, sizeof *in);
	if (in) {
		in->api = api;
		in->host = host;
	}
	return in;
}

static uint64_t config_count(const uint8_t *cfg, size_t len)
{
	char buf[256];
	const char *p;
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, cfg, len);
	buf[len] = 0;
	p = strstr(buf, "\"count\":");
	return p ? strtoull(p + 8, NULL, 10) : 10;
}

static weir_status counter_create(const uint8_t *cfg, size_t len, const weir_host_api *api,
				  weir_host *host, weir_instance **out)
{
	weir_instance *in = alloc_inst(api, host);
	if (!in)
		return WEIR_ERROR;
	in->count = config_count(cfg, len);
	in->m_acked = api->metric_register(host, "acked_batches", WEIR_METRIC_GAUGE, "batches acked");
	api->log(host, WEIR_LOG_INFO, "counter created");
	*out = in;
	return WEIR_OK;
}

static void destroy(weir_instance *in) { free(in); }

static const char *last_error(weir_instance *in) { return in->err[0] ? in->err : NULL; }

static void *waker(void *arg)
{
	weir_instance *in = arg;
	int i;
	for (i = 0; i < 3; i++)
		in->api->wakeup(in->host);
	return NULL;
}

static weir_status counter_start(weir_instance *in)
{
	if (pthread_create(&in->thread, NULL, waker, in) != 0) {
		snprintf(in->err, sizeof in->err, "start: pthread_create failed");
		return WEIR_ERROR;
	}
	in->running = 1;
	return WEIR_OK;
}

static weir_status counter_stop(weir_instance *in)
{
	if (in->running) {
		pthread_join(in->thread, NULL);
		in->running = 0;
	}
	return WEIR_OK;
}

static weir_status counter_poll(weir_instance *in, weir_batch *b, int64_t timeout_ns)
{
	(void)timeout_ns;
	while (in->next < in->count && b->len < b->capacity) {
		weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)b->len * b->event_size);
		char text[32];
		int n = snprintf(text, sizeof text, "event %llu", (unsigned long long)in->next);
		if (in->next % 3 == 2) {
			memcpy(in->foreign, text, (size_t)n);
			e->data = (uint8_t *)in->foreign;
		} else {
			if (b->arena_cap - b->arena_len < (uint64_t)n)
				break;
			memcpy(b->arena + b->arena_len, text, (size_t)n);
			e->data = b->arena + b->arena_len;
			b->arena_len += (uint64_t)n;
		}
		e->len = (uint32_t)n;
		e->ts_ns = in->next;
		e->stream_id = 7;
		e->kind = WEIR_KIND_TEXT;
		e->flags = 0;
		b->len++;
		in->next++;
		/* Plugin memory is valid only until the next call, so a batch
		 * holds at most one foreign event. */
		if (in->next % 3 == 0)
			break;
	}
	if (in->next >= in->count)
		return WEIR_EOF;
	return b->len ? WEIR_OK : WEIR_TIMEOUT;
}

static weir_status counter_ack(weir_instance *in, uint64_t id)
{
	(void)id;
	in->acked++;
	in->api->gauge_set(in->host, in->m_acked, (int64_t)in->acked);
	return WEIR_OK;
}

static weir_status counter_fail(weir_instance *in, uint64_t id)
{
	(void)id;
	in->failed++;
	return WEIR_OK;
}

static weir_status sink_create(const uint8_t *cfg, size_t len, const weir_host_api *api,
			       weir_host *host, weir_instance **out)
{
	weir_instance *in = alloc_inst(api, host);
	(void)cfg;
	(void)len;
	if (!in)
		return WEIR_ERROR;
	in->m_events = api->metric_register(host, "events", WEIR_METRIC_COUNTER, "events written");
	in->m_bytes = api->metric_register(host, "bytes", WEIR_METRIC_COUNTER, NULL);
	*out = in;
	return WEIR_OK;
}

static weir_status sink_write(weir_instance *in, const weir_batch *b)
{
	uint64_t bytes = 0;
	uint32_t i;
	for (i = 0; i < b->len; i++) {
		const weir_event *e = (const weir_event *)((const uint8_t *)b->events + (size_t)i * b->event_size);
		if (e->len && !e->data) {
			snprintf(in->err, sizeof in->err, "event %u: NULL data with len %u", i, e->len);
			return WEIR_ERROR;
		}
		bytes += e->len;
	}
	in->api->counter_add(in->host, in->m_events, b->len);
	in->api->counter_add(in->host, in->m_bytes, bytes);
	return WEIR_OK;
}

static weir_status filter_process(weir_instance *in, weir_batch *b)
{
	uint32_t i;
	(void)in;
	for (i = 0; i < b->len; i++) {
		weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)i * b->event_size);
		if (i % 2)
			e->flags |= WEIR_EVENT_DROP;
		else if (e->len > 1)
			e->len--;
	}
	return WEIR_OK;
}

static const weir_source_ops counter_source = {
	.struct_size = sizeof(weir_source_ops),
	.flags = WEIR_SOURCE_WANTS_ACKS | WEIR_SOURCE_UNPAUSABLE,
	.poll = counter_poll,
	.ack = counter_ack,
	.fail = counter_fail,
};

static const weir_connector_type counter_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "counter",
	.description = "counts to config.count",
	.config_schema = "{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"}}}",
	.create = counter_create,
	.destroy = destroy,
	.last_error = last_error,
	.start = counter_start,
	.stop = counter_stop,
	.source = &counter_source,
};

static const weir_sink_ops sink_sink = {.struct_size = sizeof(weir_sink_ops), .write = sink_write};

static const weir_connector_type sink_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "sink",
	.description = "checks and counts events",
	.create = sink_create,
	.destroy = destroy,
	.last_error = last_error,
	.sink = &sink_sink,
};

static const weir_processor_ops filter_proc = {.struct_size = sizeof(weir_processor_ops),
					       .process = filter_process};

static const weir_connector_type filter_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "filter",
	.create = sink_create,
	.destroy = destroy,
	.last_error = last_error,
	.processor = &filter_proc,
};

static const weir_connector_type *const types[] = {&counter_type, &sink_type, &filter_type};

static const weir_plugin plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "good",
	.version = "1.2.3",
	.n_types = 3,
	.types = types,
};

const weir_plugin *weir_plugin_describe(void) { return &plugin; }
