/*
 * generator.c - the "generator" source: synthetic events at a set rate.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Config (all keys optional):
 *   size    bytes per event, 0..1048576 (default 64)
 *   rate    events per second, 0 for as fast as possible (default 0)
 *   burst   token bucket depth in events (default rate/100, at least 1)
 *   count   events to emit before WEIR_EOF, 0 for no limit (default 0)
 *   stream  stream_id stamped on every event (default 1)
 *
 * Each event is WEIR_KIND_RAW and lives in the batch arena. Its first eight
 * bytes (or fewer, if size < 8) are the event's sequence number, counting
 * from 0, little-endian; byte i after that is (seq + i) & 0xff. The rate is
 * kept by a token bucket on CLOCK_MONOTONIC; poll sleeps for the next token
 * only as long as its timeout allows.
 */
#define _POSIX_C_SOURCE 200809L

#include <weir/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

#define NSEC_PER_SEC 1000000000ull

enum gen_state { GEN_CREATED, GEN_RUNNING, GEN_PAUSED, GEN_DRAINED, GEN_STOPPED };

struct weir_instance {
	enum gen_state state;
	uint64_t size, rate, burst, count, stream;
	uint64_t seq;       /* events emitted so far */
	uint64_t tokens;    /* whole tokens in the bucket */
	uint64_t rem;       /* fractional token, in units of 1/NSEC_PER_SEC */
	uint64_t last_ns;   /* CLOCK_MONOTONIC time of the last refill */
	uint8_t *ramp;      /* bytes 0,1,...,255,0,1,... : size + 256 of them */
	char err[256];
};

static void set_error(weir_instance *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(weir_instance *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Sleeps ns nanoseconds on CLOCK_MONOTONIC, resuming after signals. */
static void sleep_ns(uint64_t ns)
{
	struct timespec until;
	uint64_t t = now_ns(CLOCK_MONOTONIC) + ns;

	until.tv_sec = (time_t)(t / NSEC_PER_SEC);
	until.tv_nsec = (long)(t % NSEC_PER_SEC);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

/* Adds the tokens earned since the last refill, up to burst. */
static void refill(weir_instance *g)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	uint64_t elapsed = now - g->last_ns;
	uint64_t add;

	g->last_ns = now;
	/* Past this the bucket is full anyway; the cap keeps elapsed*rate
	 * (rate <= 1e9) far from overflow. */
	if (elapsed > 2 * NSEC_PER_SEC)
		elapsed = 2 * NSEC_PER_SEC;
	g->rem += elapsed * g->rate;
	add = g->rem / NSEC_PER_SEC;
	g->rem %= NSEC_PER_SEC;
	g->tokens += add;
	if (g->tokens >= g->burst) {
		g->tokens = g->burst;
		g->rem = 0;
	}
}

/* Nanoseconds until the bucket holds one token. */
static uint64_t next_token_ns(const weir_instance *g)
{
	return (NSEC_PER_SEC - g->rem + g->rate - 1) / g->rate;
}

/* create: parses and checks the config; allocates nothing else. */
static weir_status gen_create(const uint8_t *config, size_t config_len,
			      const weir_host_api *api, weir_host *host,
			      weir_instance **out)
{
	weir_instance *g;

	(void)api;
	(void)host;
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return WEIR_ERROR;
	*out = g;
	g->size = 64;
	g->stream = 1;
	struct wcfg_key keys[] = {
		{.name = "size", .max = 1u << 20, .value = &g->size},
		{.name = "rate", .max = NSEC_PER_SEC, .value = &g->rate},
		{.name = "burst", .max = 1u << 30, .value = &g->burst},
		{.name = "count", .max = UINT64_MAX, .value = &g->count},
		{.name = "stream", .max = UINT64_MAX, .value = &g->stream},
	};
	if (wcfg_parse(config, config_len, keys, sizeof(keys) / sizeof(keys[0]), g->err,
		       sizeof(g->err)) < 0)
		return WEIR_ERROR;
	if (keys[2].seen && g->burst == 0) {
		set_error(g, "create generator: burst must be at least 1");
		return WEIR_ERROR;
	}
	if (keys[2].seen && g->rate == 0) {
		set_error(g, "create generator: burst needs a non-zero rate");
		return WEIR_ERROR;
	}
	if (!keys[2].seen)
		g->burst = g->rate / 100 > 0 ? g->rate / 100 : 1;
	/* Every event's payload after its sequence number is a window of this
	 * ramp, so poll copies instead of computing byte by byte. */
	g->ramp = malloc(g->size + 256);
	if (g->ramp == NULL) {
		set_error(g, "create generator: cannot allocate %llu bytes", (unsigned long long)(g->size + 256));
		return WEIR_ERROR;
	}
	for (uint64_t i = 0; i < g->size + 256; i++)
		g->ramp[i] = (uint8_t)i;
	g->state = GEN_CREATED;
	return WEIR_OK;
}

/* destroy: frees the instance; safe after any failure, and on NULL. */
static void gen_destroy(weir_instance *g)
{
	if (g != NULL)
		free(g->ramp);
	free(g);
}

/* last_error: the message of the last failed call, or NULL. */
static const char *gen_last_error(weir_instance *g)
{
	return g->err[0] ? g->err : NULL;
}

/* start: begins emitting; the bucket starts with one token so the first
 * event is not delayed. */
static weir_status gen_start(weir_instance *g)
{
	g->err[0] = '\0';
	if (g->state != GEN_CREATED) {
		set_error(g, "start generator: already started");
		return WEIR_ERROR;
	}
	g->last_ns = now_ns(CLOCK_MONOTONIC);
	g->tokens = 1;
	g->rem = 0;
	g->state = GEN_RUNNING;
	return WEIR_OK;
}

/* pause: poll answers WEIR_TIMEOUT until resume. */
static weir_status gen_pause(weir_instance *g)
{
	g->err[0] = '\0';
	if (g->state != GEN_RUNNING && g->state != GEN_PAUSED) {
		set_error(g, "pause generator: not running");
		return WEIR_ERROR;
	}
	g->state = GEN_PAUSED;
	return WEIR_OK;
}

/* resume: emit again; time spent paused earns no tokens beyond burst. */
static weir_status gen_resume(weir_instance *g)
{
	g->err[0] = '\0';
	if (g->state != GEN_RUNNING && g->state != GEN_PAUSED) {
		set_error(g, "resume generator: not paused");
		return WEIR_ERROR;
	}
	g->state = GEN_RUNNING;
	return WEIR_OK;
}

/* drain: the generator holds nothing, so poll answers WEIR_EOF from now on. */
static weir_status gen_drain(weir_instance *g)
{
	g->err[0] = '\0';
	g->state = GEN_DRAINED;
	return WEIR_OK;
}

/* stop: no threads to join. */
static weir_status gen_stop(weir_instance *g)
{
	g->err[0] = '\0';
	g->state = GEN_STOPPED;
	return WEIR_OK;
}

/* Writes event seq's payload: seq little-endian in the first eight bytes,
 * then byte i is (seq + i) & 0xff. */
static void fill(const weir_instance *g, uint8_t *p, uint64_t seq)
{
	uint64_t i;

	for (i = 0; i < g->size && i < 8; i++)
		p[i] = (uint8_t)(seq >> (8 * i));
	if (g->size > 8)
		memcpy(p + 8, g->ramp + ((seq + 8) & 0xff), g->size - 8);
}

/* poll: appends as many events as the batch, the arena, the token bucket
 * and the count limit allow. */
static weir_status gen_poll(weir_instance *g, weir_batch *batch, int64_t timeout_ns)
{
	uint64_t room, want, n, i, ts;
	uint8_t *ev;

	g->err[0] = '\0';
	switch (g->state) {
	case GEN_RUNNING:
		break;
	case GEN_PAUSED:
		if (timeout_ns > 0)
			sleep_ns((uint64_t)timeout_ns);
		return WEIR_TIMEOUT;
	case GEN_DRAINED:
		return WEIR_EOF;
	default:
		set_error(g, "poll generator: not running (poll before start or after stop)");
		return WEIR_ERROR;
	}
	if (batch == NULL || batch->event_size < sizeof(weir_event) || batch->len > batch->capacity ||
	    batch->arena_len > batch->arena_cap) {
		set_error(g, "poll generator: malformed batch");
		return WEIR_ERROR;
	}
	if (g->count > 0 && g->seq >= g->count)
		return WEIR_EOF;
	room = batch->capacity - batch->len;
	if (g->size > 0) {
		uint64_t fit = (batch->arena_cap - batch->arena_len) / g->size;
		if (fit == 0 && room > 0) {
			set_error(g, "poll generator: arena has %llu free bytes, an event needs %llu",
				  (unsigned long long)(batch->arena_cap - batch->arena_len),
				  (unsigned long long)g->size);
			return WEIR_ERROR;
		}
		if (fit < room)
			room = fit;
	}
	if (room == 0)
		return WEIR_TIMEOUT;
	want = room;
	if (g->count > 0 && g->count - g->seq < want)
		want = g->count - g->seq;
	if (g->rate > 0) {
		refill(g);
		if (g->tokens == 0) {
			uint64_t wait = next_token_ns(g);
			if (timeout_ns <= 0)
				return WEIR_TIMEOUT;
			if (wait > (uint64_t)timeout_ns) {
				sleep_ns((uint64_t)timeout_ns);
				refill(g);
				if (g->tokens == 0)
					return WEIR_TIMEOUT;
			} else {
				sleep_ns(wait);
				refill(g);
			}
		}
		if (g->tokens < want)
			want = g->tokens;
		g->tokens -= want;
	}
	n = want;
	ts = now_ns(CLOCK_REALTIME);
	ev = (uint8_t *)batch->events + (size_t)batch->len * batch->event_size;
	for (i = 0; i < n; i++, ev += batch->event_size) {
		weir_event *e = (weir_event *)(void *)ev;
		e->ts_ns = ts;
		e->stream_id = g->stream;
		e->kind = WEIR_KIND_RAW;
		e->flags = 0;
		e->len = (uint32_t)g->size;
		if (g->size > 0) {
			e->data = batch->arena + batch->arena_len;
			fill(g, e->data, g->seq);
			batch->arena_len += g->size;
		} else {
			e->data = NULL;
		}
		g->seq++;
	}
	batch->len += (uint32_t)n;
	if (g->count > 0 && g->seq >= g->count)
		return WEIR_EOF;
	return WEIR_OK;
}

static const weir_source_ops gen_source = {
	.struct_size = sizeof(weir_source_ops),
	.poll = gen_poll,
};

static const weir_connector_type gen_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "generator",
	.description = "Emits synthetic events at a set rate or as fast as it can (C).",
	.config_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
			 "\"size\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1048576,\"default\":64},"
			 "\"rate\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000000000,\"default\":0},"
			 "\"burst\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1073741824},"
			 "\"count\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},"
			 "\"stream\":{\"type\":\"integer\",\"minimum\":0,\"default\":1}}}",
	.create = gen_create,
	.destroy = gen_destroy,
	.last_error = gen_last_error,
	.start = gen_start,
	.pause = gen_pause,
	.resume = gen_resume,
	.drain = gen_drain,
	.stop = gen_stop,
	.source = &gen_source,
};

static const weir_connector_type *const gen_types[] = {&gen_type};

static const weir_plugin gen_plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "weir-c-generator",
	.version = "1.0.0",
	.n_types = 1,
	.types = gen_types,
};

WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	return &gen_plugin;
}
