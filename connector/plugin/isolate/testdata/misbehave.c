/*
 * misbehave.c - plugins that break the rules of weir/plugin.h on purpose,
 * to test that the host survives them when they run isolated (and what
 * happens when they do not).
 *
 * SPDX-License-Identifier: MIT
 *
 * Types (config {"after": N}: misbehave from the N+1st call on; default 0):
 *   crash_sink      write dereferences NULL (SIGSEGV).
 *   block_sink      write never returns.
 *   abort_sink      write calls abort() (SIGABRT).
 *   wild_source     poll appends a 64-byte event whose data is a wild
 *                   pointer (0x10000: a user-space address nothing maps),
 *                   and returns WEIR_OK.
 *   overcap_source  poll fills the batch and then claims capacity + 10
 *                   events.
 *   count_source    a well-behaved source: events of 64 bytes whose ts_ns
 *                   counts from 1; wants acks, and counts acks and fails
 *                   in the counters misbehave_acks_total and
 *                   misbehave_fails_total.
 *   record_sink     a well-behaved sink that appends the ts_ns of every
 *                   event it takes, 8 bytes each, to the file named by the
 *                   environment variable WEIR_RECORD, before it answers
 *                   WEIR_OK.
 *   upper_proc      a processor: upper-cases ASCII letters in place and
 *                   drops events whose first byte is 'x'.
 */
#include <weir/plugin.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../../../plugins/c/config.h"

struct weir_instance {
	const weir_host_api *api;
	weir_host *host;
	uint64_t after;
	uint64_t calls;
	uint64_t next;
	int fd;
	int32_t m_acks, m_fails;
	char err[256];
};

static weir_status mb_create(const uint8_t *config, size_t len, const weir_host_api *api,
			     weir_host *host, weir_instance **out)
{
	weir_instance *m = calloc(1, sizeof(*m));
	struct wcfg_key keys[] = {{.name = "after", .max = UINT32_MAX}};

	*out = m;
	if (m == NULL)
		return WEIR_ERROR;
	m->api = api;
	m->host = host;
	m->fd = -1;
	keys[0].value = &m->after;
	if (wcfg_parse(config, len, keys, 1, m->err, sizeof(m->err)) < 0)
		return WEIR_ERROR;
	m->m_acks = api->metric_register(host, "misbehave_acks_total", WEIR_METRIC_COUNTER, "Batches acked.");
	m->m_fails = api->metric_register(host, "misbehave_fails_total", WEIR_METRIC_COUNTER, "Batches failed.");
	return WEIR_OK;
}

static void mb_destroy(weir_instance *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

static const char *mb_last_error(weir_instance *m) { return m->err[0] ? m->err : NULL; }

static int misbehave_now(weir_instance *m) { return m->calls++ >= m->after; }

static weir_status crash_write(weir_instance *m, const weir_batch *b)
{
	(void)b;
	if (misbehave_now(m)) {
		volatile int *p = NULL;
		*p = 1;
	}
	return WEIR_OK;
}

static weir_status block_write(weir_instance *m, const weir_batch *b)
{
	(void)b;
	if (misbehave_now(m))
		for (;;)
			sleep(1);
	return WEIR_OK;
}

static weir_status abort_write(weir_instance *m, const weir_batch *b)
{
	(void)b;
	if (misbehave_now(m))
		abort();
	return WEIR_OK;
}

static void append(weir_batch *b, weir_instance *m, uint8_t *data, uint32_t len)
{
	weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)b->len * b->event_size);
	e->ts_ns = ++m->next;
	e->stream_id = 0;
	e->data = data;
	e->len = len;
	e->kind = WEIR_KIND_RAW;
	e->flags = 0;
	b->len++;
}

/* fill appends 64-byte events in the arena while there is room. */
static void fill(weir_batch *b, weir_instance *m, uint32_t max)
{
	while (b->len < max && b->arena_cap - b->arena_len >= 64) {
		uint8_t *d = b->arena + b->arena_len;
		memset(d, 'a' + (int)(m->next % 26), 64);
		b->arena_len += 64;
		append(b, m, d, 64);
	}
}

static weir_status wild_poll(weir_instance *m, weir_batch *b, int64_t timeout)
{
	(void)timeout;
	fill(b, m, b->capacity > 1 ? b->capacity / 2 : 0);
	if (misbehave_now(m) && b->len < b->capacity)
		append(b, m, (uint8_t *)(uintptr_t)0x10000, 64);
	return b->len ? WEIR_OK : WEIR_TIMEOUT;
}

static weir_status overcap_poll(weir_instance *m, weir_batch *b, int64_t timeout)
{
	(void)timeout;
	fill(b, m, b->capacity);
	if (misbehave_now(m))
		b->len = b->capacity + 10;
	return WEIR_OK;
}

static weir_status count_poll(weir_instance *m, weir_batch *b, int64_t timeout)
{
	(void)timeout;
	fill(b, m, b->capacity);
	return b->len ? WEIR_OK : WEIR_TIMEOUT;
}

static weir_status count_ack(weir_instance *m, uint64_t id)
{
	(void)id;
	m->api->counter_add(m->host, m->m_acks, 1);
	return WEIR_OK;
}

static weir_status count_fail(weir_instance *m, uint64_t id)
{
	(void)id;
	m->api->counter_add(m->host, m->m_fails, 1);
	return WEIR_OK;
}

static weir_status record_write(weir_instance *m, const weir_batch *b)
{
	uint64_t buf[512];
	uint32_t i, n = 0;

	if (m->fd < 0) {
		const char *path = getenv("WEIR_RECORD");
		if (path == NULL) {
			snprintf(m->err, sizeof(m->err), "WEIR_RECORD is not set");
			return WEIR_ERROR;
		}
		m->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (m->fd < 0) {
			snprintf(m->err, sizeof(m->err), "open %s failed", path);
			return WEIR_ERROR;
		}
	}
	for (i = 0; i < b->len; i++) {
		const weir_event *e = (const weir_event *)((const uint8_t *)b->events + (size_t)i * b->event_size);
		buf[n++] = e->ts_ns;
		if (n == 512 || i + 1 == b->len) {
			if (write(m->fd, buf, n * 8) != (ssize_t)(n * 8)) {
				snprintf(m->err, sizeof(m->err), "short write");
				return WEIR_ERROR;
			}
			n = 0;
		}
	}
	return WEIR_OK;
}

static weir_status upper_process(weir_instance *m, weir_batch *b)
{
	uint32_t i, j;
	(void)m;
	for (i = 0; i < b->len; i++) {
		weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)i * b->event_size);
		if (e->flags & WEIR_EVENT_DROP)
			continue;
		if (e->len > 0 && e->data[0] == 'x') {
			e->flags |= WEIR_EVENT_DROP;
			continue;
		}
		for (j = 0; j < e->len; j++)
			if (e->data[j] >= 'a' && e->data[j] <= 'z')
				e->data[j] -= 32;
	}
	return WEIR_OK;
}

#define SINK(name, fn)                                                          \
	static const weir_sink_ops name##_ops = {.struct_size = sizeof(weir_sink_ops), .write = fn}; \
	static const weir_connector_type name##_type = {                        \
		.struct_size = sizeof(weir_connector_type), .id = #name,        \
		.create = mb_create, .destroy = mb_destroy, .last_error = mb_last_error, \
		.sink = &name##_ops}

#define SOURCE(name, fn, fl, ak, fa)                                            \
	static const weir_source_ops name##_ops = {.struct_size = sizeof(weir_source_ops), \
						   .flags = fl, .poll = fn, .ack = ak, .fail = fa}; \
	static const weir_connector_type name##_type = {                        \
		.struct_size = sizeof(weir_connector_type), .id = #name,        \
		.create = mb_create, .destroy = mb_destroy, .last_error = mb_last_error, \
		.source = &name##_ops}

SINK(crash_sink, crash_write);
SINK(block_sink, block_write);
SINK(abort_sink, abort_write);
SINK(record_sink, record_write);
SOURCE(wild_source, wild_poll, 0, NULL, NULL);
SOURCE(overcap_source, overcap_poll, 0, NULL, NULL);
SOURCE(count_source, count_poll, WEIR_SOURCE_WANTS_ACKS, count_ack, count_fail);

static const weir_processor_ops upper_proc_ops = {.struct_size = sizeof(weir_processor_ops), .process = upper_process};
static const weir_connector_type upper_proc_type = {
	.struct_size = sizeof(weir_connector_type), .id = "upper_proc",
	.create = mb_create, .destroy = mb_destroy, .last_error = mb_last_error,
	.processor = &upper_proc_ops};

static const weir_connector_type *const types[] = {
	&crash_sink_type, &block_sink_type, &abort_sink_type, &record_sink_type,
	&wild_source_type, &overcap_source_type, &count_source_type, &upper_proc_type,
};

WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	static const weir_plugin p = {
		WEIR_PLUGIN_HEADER,
		.name = "misbehave",
		.version = "1.0",
		.n_types = sizeof(types) / sizeof(types[0]),
		.types = types,
	};
	return &p;
}
