/* callback.c - a plugin that calls back into the host from inside its
 * hot-path operations, for the call-path tests:
 *   "chatty" (source and sink): write logs the batch length, adds it to the
 *       "events" counter and calls wakeup; it answers WEIR_RETRY for a batch
 *       of exactly 7 events. poll logs its timeout, sets the "timeout"
 *       gauge to it and appends one TICK event whose ts_ns is the timeout
 *       and whose stream_id counts the polls. Both check that the instance
 *       pointer they got is the one create made.
 * mix3 is a bare exported function that combines its three arguments so a
 * test can see each one arrived in the right register. frame_misalign
 * returns its frame address mod 16: 0 when it was entered with the stack
 * aligned as the System V ABI requires (the return address pushed on a
 * 16-byte boundary, then the frame pointer), 8 when not.
 */
#include <stdio.h>
#include <stdlib.h>

#include "weir/plugin.h"

#define MAGIC 0x77656972u

struct weir_instance {
	uint32_t magic;
	const weir_host_api *api;
	weir_host *host;
	int32_t m_events, m_timeout;
	uint64_t polls;
	char err[64];
};

uint64_t mix3(uint64_t a, uint64_t b, uint64_t c) { return a * 1000003u + b * 1009u + c; }

uint64_t frame_misalign(void) { return (uintptr_t)__builtin_frame_address(0) & 15; }

static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	weir_instance *in = calloc(1, sizeof *in);
	(void)cfg;
	(void)len;
	if (!in)
		return WEIR_ERROR;
	in->magic = MAGIC;
	in->api = api;
	in->host = host;
	in->m_events = api->metric_register(host, "events", WEIR_METRIC_COUNTER, "events written");
	in->m_timeout = api->metric_register(host, "timeout", WEIR_METRIC_GAUGE, "last poll timeout");
	*out = in;
	return WEIR_OK;
}

static void destroy(weir_instance *in) { free(in); }
static const char *last_error(weir_instance *in) { return in->err; }

static weir_status write(weir_instance *in, const weir_batch *b)
{
	char msg[64];
	if (in->magic != MAGIC)
		return WEIR_ERROR;
	snprintf(msg, sizeof msg, "write %u", b->len);
	in->api->log(in->host, WEIR_LOG_INFO, msg);
	in->api->counter_add(in->host, in->m_events, b->len);
	in->api->wakeup(in->host);
	return b->len == 7 ? WEIR_RETRY : WEIR_OK;
}

static weir_status poll(weir_instance *in, weir_batch *b, int64_t timeout_ns)
{
	char msg[64];
	weir_event *e;
	if (in->magic != MAGIC)
		return WEIR_ERROR;
	snprintf(msg, sizeof msg, "poll %lld", (long long)timeout_ns);
	in->api->log(in->host, WEIR_LOG_DEBUG, msg);
	in->api->gauge_set(in->host, in->m_timeout, timeout_ns);
	if (b->len >= b->capacity) {
		snprintf(in->err, sizeof in->err, "batch full");
		return WEIR_ERROR;
	}
	e = (weir_event *)((uint8_t *)b->events + (size_t)b->len * b->event_size);
	e->ts_ns = (uint64_t)timeout_ns;
	e->stream_id = ++in->polls;
	e->data = NULL;
	e->len = 0;
	e->kind = WEIR_KIND_TICK;
	e->flags = 0;
	b->len++;
	return WEIR_OK;
}

static const weir_source_ops source = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_sink_ops sink = {.struct_size = sizeof(weir_sink_ops), .write = write};

static const weir_connector_type chatty = {
	.struct_size = sizeof(weir_connector_type),
	.id = "chatty",
	.description = "calls back into the host from write and poll",
	.create = create,
	.destroy = destroy,
	.last_error = last_error,
	.source = &source,
	.sink = &sink,
};

static const weir_connector_type *const types[] = {&chatty};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "callback", .version = "1", .n_types = 1, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
