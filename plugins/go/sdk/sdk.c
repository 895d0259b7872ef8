/*
 * sdk.c - static descriptor tables and trampolines of the Go plugin SDK.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * The host sees ordinary C function pointers. Each trampoline turns the
 * weir_instance pointer, which is really an SDK handle number, back into an
 * integer and calls the matching exported Go function (weirsdk_* in
 * export.go). No Go pointer is ever stored in C memory.
 */
#include <stddef.h>
#include <stdint.h>

#include "sdk.h"
#include "_cgo_export.h"

#define H(inst) ((uintptr_t)(inst))

static const char *sdk_last_error(weir_instance *inst)
{
	return weirsdk_last_error(H(inst));
}

static void sdk_destroy(weir_instance *inst)
{
	weirsdk_destroy(H(inst));
}

static weir_status sdk_connect(weir_instance *inst, uint32_t attempt)
{
	return (weir_status)weirsdk_connect(H(inst), attempt);
}

static weir_status sdk_start(weir_instance *inst)
{
	return (weir_status)weirsdk_op(H(inst), WEIRSDK_OP_START);
}

static weir_status sdk_pause(weir_instance *inst)
{
	return (weir_status)weirsdk_op(H(inst), WEIRSDK_OP_PAUSE);
}

static weir_status sdk_resume(weir_instance *inst)
{
	return (weir_status)weirsdk_op(H(inst), WEIRSDK_OP_RESUME);
}

static weir_status sdk_drain(weir_instance *inst)
{
	return (weir_status)weirsdk_op(H(inst), WEIRSDK_OP_DRAIN);
}

static weir_status sdk_stop(weir_instance *inst)
{
	return (weir_status)weirsdk_op(H(inst), WEIRSDK_OP_STOP);
}

static weir_status sdk_poll(weir_instance *inst, weir_batch *batch, int64_t timeout_ns)
{
	return (weir_status)weirsdk_poll(H(inst), batch, timeout_ns);
}

static weir_status sdk_ack(weir_instance *inst, uint64_t id)
{
	return (weir_status)weirsdk_ack(H(inst), id, 1);
}

static weir_status sdk_fail(weir_instance *inst, uint64_t id)
{
	return (weir_status)weirsdk_ack(H(inst), id, 0);
}

static weir_status sdk_write(weir_instance *inst, const weir_batch *batch)
{
	return (weir_status)weirsdk_write(H(inst), (weir_batch *)batch);
}

static weir_status sdk_process(weir_instance *inst, weir_batch *batch)
{
	return (weir_status)weirsdk_process(H(inst), batch);
}

/* create has no instance to tell the types apart, so each slot gets its own
 * trampoline that passes its index. */
#define SDK_CREATE(n)                                                                    \
	static weir_status sdk_create_##n(const uint8_t *config, size_t len,             \
					  const weir_host_api *api, weir_host *host,     \
					  weir_instance **out)                           \
	{                                                                                \
		uintptr_t h = 0;                                                         \
		weir_status st = (weir_status)weirsdk_create(n, (uint8_t *)config, len,  \
							     (weir_host_api *)api, host, &h); \
		*out = (weir_instance *)h;                                               \
		return st;                                                               \
	}
SDK_CREATE(0)
SDK_CREATE(1)
SDK_CREATE(2)
SDK_CREATE(3)
SDK_CREATE(4)
SDK_CREATE(5)
SDK_CREATE(6)
SDK_CREATE(7)
SDK_CREATE(8)
SDK_CREATE(9)
SDK_CREATE(10)
SDK_CREATE(11)
SDK_CREATE(12)
SDK_CREATE(13)
SDK_CREATE(14)
SDK_CREATE(15)

typedef weir_status (*sdk_create_fn)(const uint8_t *, size_t, const weir_host_api *, weir_host *,
				     weir_instance **);

static const sdk_create_fn sdk_creates[WEIRSDK_MAX_TYPES] = {
	sdk_create_0,  sdk_create_1,  sdk_create_2,  sdk_create_3,  sdk_create_4,  sdk_create_5,
	sdk_create_6,  sdk_create_7,  sdk_create_8,  sdk_create_9,  sdk_create_10, sdk_create_11,
	sdk_create_12, sdk_create_13, sdk_create_14, sdk_create_15,
};

static const weir_source_ops sdk_source = {
	.struct_size = sizeof(weir_source_ops),
	.poll = sdk_poll,
};

static const weir_source_ops sdk_source_acks = {
	.struct_size = sizeof(weir_source_ops),
	.flags = WEIR_SOURCE_WANTS_ACKS,
	.poll = sdk_poll,
	.ack = sdk_ack,
	.fail = sdk_fail,
};

static const weir_sink_ops sdk_sink = {
	.struct_size = sizeof(weir_sink_ops),
	.write = sdk_write,
};

static const weir_processor_ops sdk_processor = {
	.struct_size = sizeof(weir_processor_ops),
	.process = sdk_process,
};

static weir_connector_type sdk_types[WEIRSDK_MAX_TYPES];
static const weir_connector_type *sdk_type_ptrs[WEIRSDK_MAX_TYPES];
static weir_plugin sdk_plugin;

void weirsdk_set_type(int i, const char *id, const char *description, const char *schema,
		      int roles, int wants_acks)
{
	weir_connector_type *t = &sdk_types[i];

	t->struct_size = sizeof(*t);
	t->id = id;
	t->description = description;
	t->config_schema = schema;
	t->create = sdk_creates[i];
	t->destroy = sdk_destroy;
	t->last_error = sdk_last_error;
	t->connect = sdk_connect;
	t->start = sdk_start;
	t->pause = sdk_pause;
	t->resume = sdk_resume;
	t->drain = sdk_drain;
	t->stop = sdk_stop;
	t->source = (roles & WEIRSDK_ROLE_SOURCE) ? (wants_acks ? &sdk_source_acks : &sdk_source) : NULL;
	t->sink = (roles & WEIRSDK_ROLE_SINK) ? &sdk_sink : NULL;
	t->processor = (roles & WEIRSDK_ROLE_PROCESSOR) ? &sdk_processor : NULL;
	sdk_type_ptrs[i] = t;
}

const weir_plugin *weirsdk_set_plugin(const char *name, const char *version, int n_types)
{
	sdk_plugin.abi_major = WEIR_ABI_MAJOR;
	sdk_plugin.abi_minor = WEIR_ABI_MINOR;
	sdk_plugin.struct_size = sizeof(sdk_plugin);
	sdk_plugin.name = name;
	sdk_plugin.version = version;
	sdk_plugin.n_types = (uint32_t)n_types;
	sdk_plugin.types = sdk_type_ptrs;
	return &sdk_plugin;
}

WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	return weirsdk_describe();
}

size_t weirsdk_layout(int what)
{
	switch (what) {
	case 0: return sizeof(weir_event);
	case 1: return offsetof(weir_event, stream_id);
	case 2: return offsetof(weir_event, data);
	case 3: return offsetof(weir_event, len);
	case 4: return offsetof(weir_event, kind);
	case 5: return offsetof(weir_event, flags);
	case 6: return sizeof(weir_batch);
	case 7: return offsetof(weir_batch, len);
	case 8: return offsetof(weir_batch, events);
	case 9: return offsetof(weir_batch, arena);
	case 10: return offsetof(weir_batch, arena_cap);
	case 11: return offsetof(weir_batch, arena_len);
	case 12: return offsetof(weir_batch, id);
	}
	return 0;
}
