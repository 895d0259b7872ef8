/* misbehave.c - sources that break the poll contract, for the engine's
 * failure-path tests. Config: {"count": N} polls before EOF (default 50).
 *   "overcap":   fills every slot, then sets len past the capacity and
 *                returns OK.
 *   "wilderror": appends good events and one whose data is a wild pointer,
 *                then returns ERROR.
 *   "wildok":    appends one good event and one wild one, returns OK.
 * Every poll of these fails; delivering any of its events would hand the
 * sinks descriptors that cannot be trusted (the wild ones crash a reader).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/plugin.h"

struct weir_instance {
	char err[128];
	int polls, count;
};

static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	char buf[128];
	const char *p;
	weir_instance *in = calloc(1, sizeof *in);
	(void)api;
	(void)host;
	if (!in)
		return WEIR_ERROR;
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, cfg, len);
	buf[len] = 0;
	p = strstr(buf, "\"count\":");
	in->count = p ? atoi(p + 8) : 50;
	*out = in;
	return WEIR_OK;
}

static void destroy(weir_instance *in) { free(in); }
static const char *last_error(weir_instance *in) { return in->err[0] ? in->err : NULL; }

static weir_event *slot(weir_batch *b, uint32_t i)
{
	return (weir_event *)((uint8_t *)b->events + (size_t)i * b->event_size);
}

static void append_good(weir_batch *b)
{
	weir_event *e = slot(b, b->len);
	memcpy(b->arena + b->arena_len, "good", 4);
	e->data = b->arena + b->arena_len;
	e->len = 4;
	e->kind = WEIR_KIND_RAW;
	e->flags = 0;
	b->arena_len += 4;
	b->len++;
}

static void append_wild(weir_batch *b)
{
	weir_event *e = slot(b, b->len);
	e->data = (uint8_t *)(uintptr_t)0x10; /* never mapped */
	e->len = 4096;
	e->kind = WEIR_KIND_RAW;
	e->flags = 0;
	b->len++;
}

static int done(weir_instance *in) { return in->polls++ >= in->count; }

static weir_status overcap_poll(weir_instance *in, weir_batch *b, int64_t t)
{
	(void)t;
	if (done(in))
		return WEIR_EOF;
	while (b->len < b->capacity && b->arena_cap - b->arena_len >= 4)
		append_good(b);
	b->len = b->capacity + 100;
	return WEIR_OK;
}

static weir_status wilderror_poll(weir_instance *in, weir_batch *b, int64_t t)
{
	(void)t;
	if (done(in))
		return WEIR_EOF;
	append_good(b);
	append_wild(b);
	append_good(b);
	snprintf(in->err, sizeof in->err, "wilderror: failed after appending");
	return WEIR_ERROR;
}

static weir_status wildok_poll(weir_instance *in, weir_batch *b, int64_t t)
{
	(void)t;
	if (done(in))
		return WEIR_EOF;
	append_good(b);
	append_wild(b);
	return WEIR_OK;
}

static const weir_source_ops overcap_src = {.struct_size = sizeof(weir_source_ops), .poll = overcap_poll};
static const weir_source_ops wilderror_src = {.struct_size = sizeof(weir_source_ops), .poll = wilderror_poll};
static const weir_source_ops wildok_src = {.struct_size = sizeof(weir_source_ops), .poll = wildok_poll};

#define TYPE(ID, SRC)                                                                              \
	{.struct_size = sizeof(weir_connector_type), .id = ID, .create = create, .destroy = destroy, \
	 .last_error = last_error, .source = SRC}
static const weir_connector_type overcap = TYPE("overcap", &overcap_src);
static const weir_connector_type wilderror = TYPE("wilderror", &wilderror_src);
static const weir_connector_type wildok = TYPE("wildok", &wildok_src);
static const weir_connector_type *const types[] = {&overcap, &wilderror, &wildok};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "misbehave", .version = "1",
				   .n_types = 3, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
