/* stub.h - well-formed pieces the broken test plugins share, so each
 * file in broken/ differs from a good plugin in exactly one way: it takes
 * the complete STUB_TYPE and overrides one field, which is why
 * -Woverride-init is switched off here. */
#pragma GCC diagnostic ignored "-Woverride-init"
#define STUB_UNUSED __attribute__((unused))
#include <stdlib.h>
#include <string.h>

#include "weir/plugin.h"

struct weir_instance {
	char err[128];
	int polls;
};

static STUB_UNUSED weir_status stub_create(const uint8_t *cfg, size_t len, const weir_host_api *api,
			       weir_host *host, weir_instance **out)
{
	(void)cfg;
	(void)len;
	(void)api;
	(void)host;
	*out = calloc(1, sizeof(weir_instance));
	return *out ? WEIR_OK : WEIR_ERROR;
}

static STUB_UNUSED void stub_destroy(weir_instance *in) { free(in); }

static STUB_UNUSED const char *stub_last_error(weir_instance *in) { return in->err[0] ? in->err : NULL; }

static STUB_UNUSED weir_status stub_write(weir_instance *in, const weir_batch *b)
{
	(void)in;
	(void)b;
	return WEIR_OK;
}

/* Appends one well-formed event ("ok") in the arena; returns its slot. */
static STUB_UNUSED weir_event *stub_append(weir_batch *b)
{
	weir_event *e = (weir_event *)((uint8_t *)b->events + (size_t)b->len * b->event_size);
	memcpy(b->arena + b->arena_len, "ok", 2);
	e->data = b->arena + b->arena_len;
	e->len = 2;
	e->kind = WEIR_KIND_RAW;
	e->flags = 0;
	b->arena_len += 2;
	b->len++;
	return e;
}

static const weir_sink_ops stub_sink = {.struct_size = sizeof(weir_sink_ops), .write = stub_write};

/* A complete sink type other files can copy and change. */
#define STUB_TYPE(ID)                                                                              \
	.struct_size = sizeof(weir_connector_type), .id = ID, .create = stub_create,                \
	.destroy = stub_destroy, .last_error = stub_last_error, .sink = &stub_sink

#define STUB_PLUGIN(TYPES, N)                                                                      \
	static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "broken", .version = "0",   \
					   .n_types = N, .types = TYPES};                          \
	const weir_plugin *weir_plugin_describe(void) { return &plugin; }
