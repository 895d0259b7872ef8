/* threadrule.c - a source that breaks the host API's thread rule: start
 * runs a thread that calls log and counter_add (only wakeup is allowed
 * from a plugin's own thread) three times each, then wakeup once; stop
 * joins it. The thread first sleeps 100 ms, so that start has returned:
 * the host detects such calls only while no host call on the instance
 * runs. Its poll calls counter_add legally. */
#define _DEFAULT_SOURCE /* usleep */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "weir/plugin.h"

struct weir_instance {
	const weir_host_api *api;
	weir_host *host;
	int32_t m;
	pthread_t t;
	int running;
};

static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	weir_instance *in = calloc(1, sizeof *in);
	(void)cfg;
	(void)len;
	if (!in)
		return WEIR_ERROR;
	in->api = api;
	in->host = host;
	in->m = api->metric_register(host, "polls", WEIR_METRIC_COUNTER, "polls");
	*out = in;
	return WEIR_OK;
}

static void *misbehave(void *arg)
{
	weir_instance *in = arg;
	int i;
	usleep(100000); /* after start has returned: no host call in flight */
	for (i = 0; i < 3; i++) {
		in->api->log(in->host, WEIR_LOG_INFO, "from my own thread");
		in->api->counter_add(in->host, in->m, 1);
	}
	in->api->wakeup(in->host);
	return NULL;
}

static weir_status start(weir_instance *in)
{
	if (pthread_create(&in->t, NULL, misbehave, in) != 0)
		return WEIR_ERROR;
	in->running = 1;
	return WEIR_OK;
}

static weir_status stop(weir_instance *in)
{
	if (in->running)
		pthread_join(in->t, NULL);
	in->running = 0;
	return WEIR_OK;
}

static void destroy(weir_instance *in)
{
	stop(in);
	free(in);
}

static const char *last_error(weir_instance *in) { (void)in; return NULL; }

static weir_status poll(weir_instance *in, weir_batch *b, int64_t t)
{
	(void)b;
	(void)t;
	in->api->counter_add(in->host, in->m, 1);
	return WEIR_TIMEOUT;
}

static const weir_source_ops src = {.struct_size = sizeof(weir_source_ops), .poll = poll};
static const weir_connector_type ty = {.struct_size = sizeof(weir_connector_type), .id = "rulebreaker",
				       .create = create, .destroy = destroy, .last_error = last_error,
				       .start = start, .stop = stop, .source = &src};
static const weir_connector_type *const types[] = {&ty};
static const weir_plugin plugin = {WEIR_PLUGIN_HEADER, .name = "threadrule", .version = "1",
				   .n_types = 1, .types = types};
const weir_plugin *weir_plugin_describe(void) { return &plugin; }
