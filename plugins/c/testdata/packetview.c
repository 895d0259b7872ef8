/*
 * packetview.c - a test sink that reads every event with weir_packet_view()
 * from weir/records.h and logs what it read, one info line per event:
 *   view STATUS ts=TS ifindex=N dir=D wire=W seq=S rate=R mode=M frame=HEX
 * (only "view STATUS" when the status is not WEIR_RECORD_OK).
 * TestCPacketView in plugins/records_test.go drives it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <weir/plugin.h>
#include <weir/records.h>

#include <stdio.h>
#include <stdlib.h>

struct weir_instance {
	const weir_host_api *api;
	weir_host *host;
};

static weir_status pv_create(const uint8_t *config, size_t config_len, const weir_host_api *api,
			     weir_host *host, weir_instance **out)
{
	(void)config;
	(void)config_len;
	weir_instance *pv = calloc(1, sizeof(*pv));
	if (pv == NULL)
		return WEIR_ERROR;
	pv->api = api;
	pv->host = host;
	*out = pv;
	return WEIR_OK;
}

static void pv_destroy(weir_instance *pv)
{
	free(pv);
}

static const char *pv_last_error(weir_instance *pv)
{
	(void)pv;
	return "packetview has no errors";
}

static weir_status pv_write(weir_instance *pv, const weir_batch *batch)
{
	for (uint32_t i = 0; i < batch->len; i++) {
		const weir_event *e =
			(const weir_event *)((const uint8_t *)batch->events + (size_t)i * batch->event_size);
		struct weir_packet_view v;
		char line[512];
		weir_record_status st = weir_packet_view(e, &v);
		int n = snprintf(line, sizeof(line), "view %d", (int)st);
		if (st == WEIR_RECORD_OK) {
			n += snprintf(line + n, sizeof(line) - (size_t)n,
				      " ts=%llu ifindex=%u dir=%u wire=%u seq=%llu rate=%u mode=%u frame=",
				      (unsigned long long)v.ts_ns, v.ifindex, v.direction, v.wire_len,
				      (unsigned long long)v.header.hdr.seq, v.header.sample_rate,
				      v.header.sample_mode);
			for (uint32_t j = 0; j < v.frame_len && (size_t)n + 3 < sizeof(line); j++)
				n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", v.frame[j]);
		}
		pv->api->log(pv->host, WEIR_LOG_INFO, line);
	}
	return WEIR_OK;
}

static const weir_sink_ops pv_sink = {
	.struct_size = sizeof(weir_sink_ops),
	.write = pv_write,
};

static const weir_connector_type pv_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "packetview",
	.description = "Logs what weir_packet_view reads from each event (test only).",
	.config_schema = "{\"type\":\"object\"}",
	.create = pv_create,
	.destroy = pv_destroy,
	.last_error = pv_last_error,
	.sink = &pv_sink,
};

static const weir_connector_type *const pv_types[] = {&pv_type};

static const weir_plugin pv_plugin = {
	WEIR_PLUGIN_HEADER,
	.name = "weir-c-packetview",
	.version = "1.0.0",
	.n_types = 1,
	.types = pv_types,
};

WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	return &pv_plugin;
}
