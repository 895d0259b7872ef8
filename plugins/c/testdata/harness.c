/*
 * harness.c - a stand-alone C host for smoke-testing the C plugins without
 * the Go loader: harness GENERATOR.so BLACKHOLE.so. It feeds 100000
 * generator events into the blackhole and checks the blackhole's counters.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <weir/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t counters[8];

static void h_log(weir_host *h, int32_t level, const char *msg)
{
	(void)h;
	fprintf(stderr, "log %d: %s\n", level, msg);
}

static int32_t h_register(weir_host *h, const char *name, int32_t kind, const char *help)
{
	(void)h;
	(void)kind;
	(void)help;
	if (strcmp(name, "blackhole_events_total") == 0)
		return 0;
	if (strcmp(name, "blackhole_bytes_total") == 0)
		return 1;
	if (strcmp(name, "blackhole_batches_total") == 0)
		return 2;
	return -1;
}

static void h_add(weir_host *h, int32_t id, uint64_t d)
{
	(void)h;
	if (id >= 0 && id < 8)
		counters[id] += d;
}

static void h_gauge(weir_host *h, int32_t id, int64_t v)
{
	(void)h;
	(void)id;
	(void)v;
}

static void h_wakeup(weir_host *h)
{
	(void)h;
}

static const weir_host_api api = {
	.struct_size = sizeof(weir_host_api),
	.log = h_log,
	.metric_register = h_register,
	.counter_add = h_add,
	.gauge_set = h_gauge,
	.wakeup = h_wakeup,
};

static const weir_connector_type *open_type(const char *path)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		exit(1);
	}
	weir_plugin_describe_fn fn = (weir_plugin_describe_fn)dlsym(lib, WEIR_PLUGIN_ENTRY);
	if (fn == NULL) {
		fprintf(stderr, "dlsym %s: %s\n", path, dlerror());
		exit(1);
	}
	return fn()->types[0];
}

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

int main(int argc, char **argv)
{
	static weir_event events[256];
	static uint8_t arena[256 * 64];
	weir_batch b = {.struct_size = sizeof(b), .event_size = sizeof(weir_event), .capacity = 256,
			.events = events, .arena = arena, .arena_cap = sizeof(arena)};
	const char *gcfg = "{\"size\":64,\"count\":100000}";
	const char *bad = "{\"size\":64,\"colour\":1}";
	weir_instance *g, *bh, *x;
	weir_status st;
	uint64_t total = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: harness GENERATOR.so BLACKHOLE.so\n");
		return 2;
	}
	const weir_connector_type *gt = open_type(argv[1]);
	const weir_connector_type *bt = open_type(argv[2]);

	CHECK(gt->create((const uint8_t *)bad, strlen(bad), &api, NULL, &x) == WEIR_ERROR);
	CHECK(x != NULL && gt->last_error(x) != NULL && strstr(gt->last_error(x), "colour") != NULL);
	printf("bad config: %s\n", gt->last_error(x));
	gt->destroy(x);

	CHECK(gt->create((const uint8_t *)gcfg, strlen(gcfg), &api, NULL, &g) == WEIR_OK);
	CHECK(bt->create((const uint8_t *)"{\"publish_every\":0}", 19, &api, NULL, &bh) == WEIR_OK);
	CHECK(bt->connect(bh, 1) == WEIR_OK && bt->start(bh) == WEIR_OK && gt->start(g) == WEIR_OK);
	CHECK(bt->pause(bh) == WEIR_OK && bt->resume(bh) == WEIR_OK);
	do {
		b.len = 0;
		b.arena_len = 0;
		st = gt->source->poll(g, &b, 1000000);
		CHECK(st == WEIR_OK || st == WEIR_EOF);
		total += b.len;
		CHECK(bt->sink->write(bh, &b) == WEIR_OK);
	} while (st == WEIR_OK);
	CHECK(bt->drain(bh) == WEIR_OK && bt->stop(bh) == WEIR_OK);
	CHECK(total == 100000 && counters[0] == 100000 && counters[1] == 6400000);
	events[0].data = NULL;
	b.len = 1;
	CHECK(bt->sink->write(bh, &b) == WEIR_ERROR);
	printf("after stop: %s\n", bt->last_error(bh));
	bt->destroy(bh);
	gt->destroy(g);
	printf("ok: %llu events, %llu bytes, %llu batches\n", (unsigned long long)counters[0],
	       (unsigned long long)counters[1], (unsigned long long)counters[2]);
	return 0;
}
