/*
 * template.c - a minimal weir processor plugin in C, to copy and adapt.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Connector type "c_template", a processor. For every event of a batch that
 * no earlier step dropped, it:
 *   1. drops the event (WEIR_EVENT_DROP) when it is shorter than min_len;
 *   2. otherwise shortens it to max_len bytes when it is longer, and marks
 *      it WEIR_EVENT_TRUNCATED;
 *   3. rewrites ASCII a-z to A-Z in place in what is left.
 * It counts the events it dropped in the host counter
 * template_dropped_total.
 *
 * Config: {} or {"min_len": N, "max_len": M}. min_len defaults to 0 (keep
 * everything); max_len defaults to 0, which means no limit.
 *
 * Build: `make` in this directory (see Makefile), or `make plugins` at the
 * top of weir, which writes bin/plugins/libweir_c_template.so. Check the
 * result with `weir plugin inspect bin/plugins/libweir_c_template.so`.
 *
 * To start a plugin of your own, copy this directory, config.c and
 * config.h (the flat JSON config parser in plugins/c), rename the type, and
 * replace tpl_process. Read cabi/include/weir/plugin.h for the contract of
 * every operation.
 */
#include <weir/plugin.h>

#include <stdio.h>
#include <stdlib.h>

#include "config.h"

/*
 * The instance: everything one configured connector needs. Never use
 * globals for state; the host may run many instances of a type at once, on
 * different threads. The host never looks inside this struct.
 */
struct weir_instance {
	const weir_host_api *api; /* valid until destroy */
	weir_host *host;          /* pass back to every api function */
	int32_t m_dropped;        /* counter id, or -1 without metrics */
	uint64_t min_len;
	uint64_t max_len; /* 0: no limit */
	char err[256];    /* last_error's text; "" when none */
};

/* create: parse the config and declare the metric. No sockets, no threads:
 * those belong in connect or start. On failure the instance is still
 * returned, so the host can read last_error before it calls destroy. */
static weir_status tpl_create(const uint8_t *config, size_t config_len,
			      const weir_host_api *api, weir_host *host,
			      weir_instance **out)
{
	weir_instance *t;
	struct wcfg_key keys[] = {
		{.name = "min_len", .max = UINT32_MAX},
		{.name = "max_len", .max = UINT32_MAX},
	};

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return WEIR_ERROR; /* no instance, so no message: the host says so */
	*out = t;
	t->api = api;
	t->host = host;
	t->m_dropped = -1;
	keys[0].value = &t->min_len;
	keys[1].value = &t->max_len;
	if (wcfg_parse(config, config_len, keys, 2, t->err, sizeof(t->err)) < 0)
		return WEIR_ERROR;
	/* metric_register is legal in create. Check struct_size before using
	 * a host API field, so an older host with a shorter table works. */
	if (api != NULL && api->struct_size >= offsetof(weir_host_api, gauge_set) &&
	    api->metric_register != NULL && api->counter_add != NULL)
		t->m_dropped = api->metric_register(host, "template_dropped_total", WEIR_METRIC_COUNTER,
						    "Events the template dropped for being shorter than min_len.");
	return WEIR_OK;
}

/* destroy: free everything. The host calls it once per instance, never
 * with NULL, also after a failed create. */
static void tpl_destroy(weir_instance *t)
{
	free(t);
}

/* last_error: the message of the last failed call, or NULL. */
static const char *tpl_last_error(weir_instance *t)
{
	return t->err[0] ? t->err : NULL;
}

/* process: the hot path, once per batch. Step through events with
 * batch->event_size, not sizeof(weir_event): a newer host may use a larger
 * descriptor. The bytes are writable (the runtime copies lent or shared
 * bytes into the batch's own arena before a processor runs), but an event
 * may never grow, move, or leave the batch: drop it with a flag instead. */
static weir_status tpl_process(weir_instance *t, weir_batch *batch)
{
	uint8_t *ev = (uint8_t *)batch->events;
	uint64_t dropped = 0;
	uint32_t i, j;

	t->err[0] = '\0';
	if (batch->event_size < sizeof(weir_event)) {
		snprintf(t->err, sizeof(t->err), "process c_template: batch event_size %u, want at least %zu",
			 batch->event_size, sizeof(weir_event));
		return WEIR_ERROR;
	}
	for (i = 0; i < batch->len; i++, ev += batch->event_size) {
		weir_event *e = (weir_event *)(void *)ev;

		if (e->flags & WEIR_EVENT_DROP)
			continue; /* an earlier step dropped it; never clear the bit */
		if (e->len < t->min_len) {
			e->flags |= WEIR_EVENT_DROP;
			dropped++;
			continue;
		}
		if (t->max_len > 0 && e->len > t->max_len) {
			e->len = (uint32_t)t->max_len;
			e->flags |= WEIR_EVENT_TRUNCATED;
		}
		for (j = 0; j < e->len; j++) {
			if (e->data[j] >= 'a' && e->data[j] <= 'z')
				e->data[j] -= 'a' - 'A';
		}
	}
	/* One host call per batch at most, never one per event. */
	if (dropped > 0 && t->m_dropped >= 0)
		t->api->counter_add(t->host, t->m_dropped, dropped);
	return WEIR_OK;
}

/* The role table. struct_size lets a newer host tell which fields this
 * plugin knows; flags has no bits defined for processors and stays 0. */
static const weir_processor_ops tpl_processor = {
	.struct_size = sizeof(weir_processor_ops),
	.process = tpl_process,
};

/* The connector type. connect, start, pause, resume, drain and stop are
 * optional; a processor with no external resources needs none of them.
 * Fields left out of the initialiser (reserved, the other roles) are 0. */
static const weir_connector_type tpl_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "c_template",
	.description = "Drops events shorter than min_len, truncates to max_len, uppercases ASCII (C template).",
	.config_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
			 "\"min_len\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},"
			 "\"max_len\":{\"type\":\"integer\",\"minimum\":0,\"default\":0}}}",
	.create = tpl_create,
	.destroy = tpl_destroy,
	.last_error = tpl_last_error,
	.processor = &tpl_processor,
};

static const weir_connector_type *const tpl_types[] = {&tpl_type};

/* The descriptor: static, so it outlives every call. WEIR_PLUGIN_HEADER
 * fills in the ABI version of the header this file was compiled with. */
static const weir_plugin tpl_plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "weir-c-template",
	.version = "1.0.0",
	.n_types = 1,
	.types = tpl_types,
};

/* The one exported symbol. Build with -fvisibility=hidden so that nothing
 * else is exported. */
WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	return &tpl_plugin;
}
