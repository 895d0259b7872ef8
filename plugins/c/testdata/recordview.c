/*
 * recordview.c - two test sinks that read every event with the readers in
 * weir/records.h and log what they read, one info line per event (only
 * "view STATUS" when the status is not WEIR_RECORD_OK):
 *
 *   packetview, with weir_packet_view():
 *     view STATUS ts=TS ifindex=N dir=D wire=W seq=S rate=R mode=M frame=HEX
 *   syscallview, with weir_syscall_view():
 *     view STATUS ts=TS pid=P tid=T nr=N ret=R dur=D decode=K flags=F
 *       family=A port=P comm=NAME str0=HEX str1=HEX
 *     (on one line; a string is "-" when its pointer is NULL).
 *
 * TestCPacketView and TestCSyscallView in plugins/records_test.go drive
 * them; the Rust reader's test reads the same events from
 * plugins/testdata/record_events.txt and must log the same lines.
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
	return "recordview has no errors";
}

static const weir_event *event_at(const weir_batch *batch, uint32_t i)
{
	return (const weir_event *)((const uint8_t *)batch->events + (size_t)i * batch->event_size);
}

static weir_status pv_write(weir_instance *pv, const weir_batch *batch)
{
	for (uint32_t i = 0; i < batch->len; i++) {
		const weir_event *e = event_at(batch, i);
		struct weir_packet_view v;
		char line[512];
		weir_record_status st = weir_packet_view(e, &v);
		int n = snprintf(line, sizeof(line), "view %d", (int)st);
		if (st == WEIR_RECORD_OK) {
			n += snprintf(line + n, sizeof(line) - (size_t)n,
				      " ts=%llu ifindex=%u dir=%u wire=%u seq=%llu rate=%u mode=%u "
				      "frame=",
				      (unsigned long long)v.ts_ns, v.ifindex, v.direction,
				      v.wire_len, (unsigned long long)v.header.hdr.seq,
				      v.header.sample_rate, v.header.sample_mode);
			for (uint32_t j = 0; j < v.frame_len && (size_t)n + 3 < sizeof(line); j++)
				n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x",
					      v.frame[j]);
		}
		pv->api->log(pv->host, WEIR_LOG_INFO, line);
	}
	return WEIR_OK;
}

/* hex appends "-" when s is NULL, else the n bytes at s in hex, to line. */
static int hex(char *line, size_t size, int n, const char *s, uint32_t len)
{
	if (s == NULL)
		return n + snprintf(line + n, size - (size_t)n, "-");
	for (uint32_t j = 0; j < len && (size_t)n + 3 < size; j++)
		n += snprintf(line + n, size - (size_t)n, "%02x", (unsigned)(uint8_t)s[j]);
	return n;
}

static weir_status sv_write(weir_instance *pv, const weir_batch *batch)
{
	for (uint32_t i = 0; i < batch->len; i++) {
		struct weir_syscall_view v;
		char line[1536];
		weir_record_status st = weir_syscall_view(event_at(batch, i), &v);
		int n = snprintf(line, sizeof(line), "view %d", (int)st);
		if (st == WEIR_RECORD_OK) {
			const struct weir_sys_record *h = &v.header;
			n += snprintf(
				line + n, sizeof(line) - (size_t)n,
				" ts=%llu pid=%u tid=%u nr=%u ret=%lld dur=%llu decode=%u flags=%u"
				" family=%u port=%u comm=%.16s str0=",
				(unsigned long long)v.ts_ns, h->pid, h->tid, h->nr,
				(long long)h->ret, (unsigned long long)h->duration_ns, h->decode,
				h->flags, h->family, h->port, h->comm);
			n = hex(line, sizeof(line), n, v.str0, v.str0_len);
			n += snprintf(line + n, sizeof(line) - (size_t)n, " str1=");
			hex(line, sizeof(line), n, v.str1, v.str1_len);
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

static const weir_sink_ops sv_sink = {
	.struct_size = sizeof(weir_sink_ops),
	.write = sv_write,
};

static const weir_connector_type sv_type = {
	.struct_size = sizeof(weir_connector_type),
	.id = "syscallview",
	.description = "Logs what weir_syscall_view reads from each event (test only).",
	.config_schema = "{\"type\":\"object\"}",
	.create = pv_create,
	.destroy = pv_destroy,
	.last_error = pv_last_error,
	.sink = &sv_sink,
};

static const weir_connector_type *const pv_types[] = {&pv_type, &sv_type};

static const weir_plugin pv_plugin = {
	WEIR_PLUGIN_HEADER, .name = "weir-c-recordview", .version = "1.0.0",
	.n_types = 2,	    .types = pv_types,
};

WEIR_EXPORT const weir_plugin *weir_plugin_describe(void)
{
	return &pv_plugin;
}
