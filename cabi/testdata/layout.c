/* layout.c - prints the size of every struct in weir/plugin.h and the
 * offset and size of each field, in declaration order, for TestLayout:
 *   struct NAME SIZE
 *   field NAME OFFSET SIZE
 */
#include <stdio.h>

#include "weir/plugin.h"

#define S(T) printf("struct %s %zu\n", #T, sizeof(T))
#define F(T, f) printf("field %s %zu %zu\n", #f, offsetof(T, f), sizeof(((T *)0)->f))

int main(void)
{
	S(weir_event);
	F(weir_event, ts_ns);
	F(weir_event, stream_id);
	F(weir_event, data);
	F(weir_event, len);
	F(weir_event, kind);
	F(weir_event, flags);

	S(weir_batch);
	F(weir_batch, struct_size);
	F(weir_batch, event_size);
	F(weir_batch, capacity);
	F(weir_batch, len);
	F(weir_batch, events);
	F(weir_batch, arena);
	F(weir_batch, arena_cap);
	F(weir_batch, arena_len);
	F(weir_batch, id);

	S(weir_host_api);
	F(weir_host_api, struct_size);
	F(weir_host_api, reserved);
	F(weir_host_api, log);
	F(weir_host_api, metric_register);
	F(weir_host_api, counter_add);
	F(weir_host_api, gauge_set);
	F(weir_host_api, wakeup);

	S(weir_source_ops);
	F(weir_source_ops, struct_size);
	F(weir_source_ops, flags);
	F(weir_source_ops, poll);
	F(weir_source_ops, ack);
	F(weir_source_ops, fail);

	S(weir_sink_ops);
	F(weir_sink_ops, struct_size);
	F(weir_sink_ops, flags);
	F(weir_sink_ops, write);

	S(weir_processor_ops);
	F(weir_processor_ops, struct_size);
	F(weir_processor_ops, flags);
	F(weir_processor_ops, process);

	S(weir_connector_type);
	F(weir_connector_type, struct_size);
	F(weir_connector_type, reserved);
	F(weir_connector_type, id);
	F(weir_connector_type, description);
	F(weir_connector_type, config_schema);
	F(weir_connector_type, create);
	F(weir_connector_type, destroy);
	F(weir_connector_type, last_error);
	F(weir_connector_type, connect);
	F(weir_connector_type, start);
	F(weir_connector_type, pause);
	F(weir_connector_type, resume);
	F(weir_connector_type, drain);
	F(weir_connector_type, stop);
	F(weir_connector_type, source);
	F(weir_connector_type, sink);
	F(weir_connector_type, processor);

	S(weir_plugin);
	F(weir_plugin, abi_major);
	F(weir_plugin, abi_minor);
	F(weir_plugin, struct_size);
	F(weir_plugin, name);
	F(weir_plugin, version);
	F(weir_plugin, n_types);
	F(weir_plugin, reserved);
	F(weir_plugin, types);
	return 0;
}
