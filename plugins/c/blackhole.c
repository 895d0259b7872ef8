/*
 * blackhole.c - the "blackhole" sink: counts and checks, then discards.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every batch written to a blackhole is validated descriptor by descriptor
 * (stepping with batch->event_size, so a host with a larger weir_event still
 * works): data must be non-NULL when len > 0, kind must be a weir kind or a
 * plugin kind (>= 0x8000), and reserved weir flag bits must be clear. A bad
 * descriptor fails the whole write with WEIR_ERROR and a last_error that
 * names the event index and the defect; nothing from that batch is counted.
 *
 * Counts (events, bytes, batches) are published as host counters
 * blackhole_events_total, blackhole_bytes_total and blackhole_batches_total.
 * To keep the hot path free of host calls they are published when at least
 * publish_every events are pending, and always on pause, drain and stop.
 *
 * Config: {} or {"publish_every": N}; N defaults to 65536, 0 publishes after
 * every write.
 */
#include <weir/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Lifecycle states; write is accepted only while running. */
enum bh_state { BH_CREATED, BH_RUNNING, BH_PAUSED, BH_DRAINED, BH_STOPPED };

/* Weir's flag bits that the header leaves unassigned (bits 2-7). */
#define BH_RESERVED_FLAGS 0x00fcu

/* Smallest weir_batch prefix the blackhole needs to read. */
#define BH_MIN_BATCH_SIZE (offsetof(weir_batch, arena) + sizeof(uint8_t *))

struct weir_instance {
	const weir_host_api *api;
	weir_host *host;
	int has_metrics;
	int32_t m_events, m_bytes, m_batches;
	enum bh_state state;
	uint64_t publish_every;
	/* totals since create, and the share not yet published */
	uint64_t events, bytes, batches;
	uint64_t pend_events, pend_bytes, pend_batches;
	char err[256];
};

static void set_error(weir_instance *bh, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(weir_instance *bh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(bh->err, sizeof(bh->err), fmt, ap);
	va_end(ap);
}

/* Hands the pending counts to the host. Only called from inside host calls,
 * as the host API requires. */
static void publish(weir_instance *bh)
{
	if (bh->has_metrics) {
		if (bh->pend_events)
			bh->api->counter_add(bh->host, bh->m_events, bh->pend_events);
		if (bh->pend_bytes)
			bh->api->counter_add(bh->host, bh->m_bytes, bh->pend_bytes);
		if (bh->pend_batches)
			bh->api->counter_add(bh->host, bh->m_batches, bh->pend_batches);
	}
	bh->pend_events = bh->pend_bytes = bh->pend_batches = 0;
}

/* create: parses config, registers the three counters. No side effects
 * beyond allocation and metric registration. */
static weir_status bh_create(const uint8_t *config, size_t config_len,
			     const weir_host_api *api, weir_host *host,
			     weir_instance **out)
{
	weir_instance *bh;
	struct wcfg_key keys[] = {
		{.name = "publish_every", .max = UINT64_MAX},
	};

	*out = NULL;
	bh = calloc(1, sizeof(*bh));
	if (bh == NULL)
		return WEIR_ERROR;
	*out = bh;
	bh->api = api;
	bh->host = host;
	bh->state = BH_CREATED;
	bh->publish_every = 65536;
	keys[0].value = &bh->publish_every;
	if (wcfg_parse(config, config_len, keys, 1, bh->err, sizeof(bh->err)) < 0)
		return WEIR_ERROR;
	if (api == NULL) {
		set_error(bh, "create blackhole: host API table is NULL");
		return WEIR_ERROR;
	}
	if (api->struct_size >= offsetof(weir_host_api, gauge_set) && api->metric_register != NULL &&
	    api->counter_add != NULL) {
		bh->m_events = api->metric_register(host, "blackhole_events_total", WEIR_METRIC_COUNTER,
						    "Events accepted by the blackhole.");
		bh->m_bytes = api->metric_register(host, "blackhole_bytes_total", WEIR_METRIC_COUNTER,
						   "Event bytes accepted by the blackhole.");
		bh->m_batches = api->metric_register(host, "blackhole_batches_total", WEIR_METRIC_COUNTER,
						     "Batches accepted by the blackhole.");
		if (bh->m_events < 0 || bh->m_bytes < 0 || bh->m_batches < 0) {
			set_error(bh, "create blackhole: host refused to register the blackhole counters");
			return WEIR_ERROR;
		}
		bh->has_metrics = 1;
	}
	return WEIR_OK;
}

/* destroy: frees the instance; safe after any failure, and on NULL. */
static void bh_destroy(weir_instance *bh)
{
	free(bh);
}

/* last_error: the message of the last failed call, or NULL. */
static const char *bh_last_error(weir_instance *bh)
{
	return bh->err[0] ? bh->err : NULL;
}

/* connect: a blackhole has nothing to connect to. */
static weir_status bh_connect(weir_instance *bh, uint32_t attempt)
{
	(void)attempt;
	bh->err[0] = '\0';
	return WEIR_OK;
}

/* start: accept writes from now on. */
static weir_status bh_start(weir_instance *bh)
{
	bh->err[0] = '\0';
	if (bh->state != BH_CREATED) {
		set_error(bh, "start blackhole: already started");
		return WEIR_ERROR;
	}
	bh->state = BH_RUNNING;
	return WEIR_OK;
}

/* pause: publish counts; writes answer WEIR_RETRY until resume. */
static weir_status bh_pause(weir_instance *bh)
{
	bh->err[0] = '\0';
	if (bh->state != BH_RUNNING && bh->state != BH_PAUSED) {
		set_error(bh, "pause blackhole: not running");
		return WEIR_ERROR;
	}
	publish(bh);
	bh->state = BH_PAUSED;
	return WEIR_OK;
}

/* resume: accept writes again. */
static weir_status bh_resume(weir_instance *bh)
{
	bh->err[0] = '\0';
	if (bh->state != BH_RUNNING && bh->state != BH_PAUSED) {
		set_error(bh, "resume blackhole: not paused");
		return WEIR_ERROR;
	}
	bh->state = BH_RUNNING;
	return WEIR_OK;
}

/* drain: nothing is buffered; publish the counts. Writes are refused after. */
static weir_status bh_drain(weir_instance *bh)
{
	bh->err[0] = '\0';
	publish(bh);
	bh->state = BH_DRAINED;
	return WEIR_OK;
}

/* stop: publish the counts; the blackhole has no threads to join. */
static weir_status bh_stop(weir_instance *bh)
{
	bh->err[0] = '\0';
	publish(bh);
	bh->state = BH_STOPPED;
	return WEIR_OK;
}

/* write: validates every descriptor, then counts the batch. The batch is
 * only read, never kept. */
static weir_status bh_write(weir_instance *bh, const weir_batch *batch)
{
	const uint8_t *ev;
	uint64_t bytes = 0;
	uint32_t i;

	bh->err[0] = '\0';
	if (bh->state == BH_PAUSED) {
		set_error(bh, "write blackhole: paused");
		return WEIR_RETRY;
	}
	if (bh->state != BH_RUNNING) {
		set_error(bh, "write blackhole: not running (write before start or after drain)");
		return WEIR_ERROR;
	}
	if (batch == NULL) {
		set_error(bh, "write blackhole: batch is NULL");
		return WEIR_ERROR;
	}
	if (batch->struct_size < BH_MIN_BATCH_SIZE) {
		set_error(bh, "write blackhole: batch struct_size %u, want at least %zu", batch->struct_size,
			  BH_MIN_BATCH_SIZE);
		return WEIR_ERROR;
	}
	if (batch->event_size < sizeof(weir_event)) {
		set_error(bh, "write blackhole: batch event_size %u, want at least %zu", batch->event_size,
			  sizeof(weir_event));
		return WEIR_ERROR;
	}
	if (batch->len > batch->capacity) {
		set_error(bh, "write blackhole: batch len %u exceeds capacity %u", batch->len, batch->capacity);
		return WEIR_ERROR;
	}
	if (batch->len > 0 && batch->events == NULL) {
		set_error(bh, "write blackhole: batch has %u events but events is NULL", batch->len);
		return WEIR_ERROR;
	}
	ev = (const uint8_t *)batch->events;
	for (i = 0; i < batch->len; i++, ev += batch->event_size) {
		const weir_event *e = (const weir_event *)(const void *)ev;
		if (e->len > 0 && e->data == NULL) {
			set_error(bh, "write blackhole: event %u has len %u but data is NULL", i, e->len);
			return WEIR_ERROR;
		}
		if (e->kind > WEIR_KIND_TICK && e->kind < 0x8000) {
			set_error(bh, "write blackhole: event %u has reserved kind %u", i, e->kind);
			return WEIR_ERROR;
		}
		if (e->flags & BH_RESERVED_FLAGS) {
			set_error(bh, "write blackhole: event %u has reserved flag bits 0x%04x", i,
				  e->flags & BH_RESERVED_FLAGS);
			return WEIR_ERROR;
		}
		bytes += e->len;
	}
	bh->events += batch->len;
	bh->bytes += bytes;
	bh->batches++;
	bh->pend_events += batch->len;
	bh->pend_bytes += bytes;
	bh->pend_batches++;
	if (bh->pend_events >= bh->publish_every)
		publish(bh);
	return WEIR_OK;
}

static const weir_sink_ops bh_sink = {
	.struct_size = sizeof(weir_sink_ops),
	.write = bh_write,
};

static const weir_connector_type bh_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "c_blackhole",
	.description = "Counts and checks every event, then discards it (C).",
	.config_schema = "{\"type\":\"object\",\"additionalProperties\":false,"
			 "\"properties\":{\"publish_every\":{\"type\":\"integer\",\"minimum\":0,"
			 "\"default\":65536}}}",
	.create = bh_create,
	.destroy = bh_destroy,
	.last_error = bh_last_error,
	.connect = bh_connect,
	.start = bh_start,
	.pause = bh_pause,
	.resume = bh_resume,
	.drain = bh_drain,
	.stop = bh_stop,
	.sink = &bh_sink,
};

static const weir_connector_type *const bh_types[] = {&bh_type};

static const weir_plugin bh_plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "weir-c-blackhole",
	.version = "1.0.0",
	.n_types = 1,
	.types = bh_types,
};

WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	return &bh_plugin;
}
