/* crash.c - a sink whose write dereferences NULL (type crash) and one
 * whose write fails an assert, calling abort() (type abort), for the
 * fault-handler tests, and crash_in_thread(), which starts a thread that
 * dereferences NULL while no host call is in flight. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "weir/plugin.h"

struct weir_instance {
	int unused;
};

static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	(void)cfg;
	(void)len;
	(void)api;
	(void)host;
	*out = calloc(1, sizeof **out);
	return *out ? WEIR_OK : WEIR_ERROR;
}

static void destroy(weir_instance *in) { free(in); }
static const char *last_error(weir_instance *in) { (void)in; return NULL; }

static volatile int *volatile nowhere;

static weir_status write_crash(weir_instance *in, const weir_batch *b)
{
	(void)in;
	(void)b;
	*nowhere = 1;
	return WEIR_OK;
}

static weir_status write_abort(weir_instance *in, const weir_batch *b)
{
	(void)b;
	assert(in == NULL);
	return WEIR_OK;
}

static void *crasher(void *arg)
{
	(void)arg;
	*nowhere = 2;
	return NULL;
}

int crash_in_thread(void)
{
	pthread_t t;
	return pthread_create(&t, NULL, crasher, NULL);
}

static const weir_sink_ops sink = {.struct_size = sizeof(weir_sink_ops), .write = write_crash};
static const weir_connector_type crash = {.struct_size = sizeof(weir_connector_type), .id = "crash",
					  .create = create, .destroy = destroy,
					  .last_error = last_error, .sink = &sink};
static const weir_sink_ops abort_sink = {.struct_size = sizeof(weir_sink_ops), .write = write_abort};
static const weir_connector_type abort_type = {.struct_size = sizeof(weir_connector_type), .id = "abort",
					       .create = create, .destroy = destroy,
					       .last_error = last_error, .sink = &abort_sink};
static const weir_connector_type *const types[] = {&crash, &abort_type};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "crash", .version = "1",
				   .n_types = 2, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
