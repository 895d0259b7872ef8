/*
 * weir/plugin.h - the weir connector plugin ABI.
 *
 * SPDX-License-Identifier: MIT
 *
 * Copyright (c) 2026 The weir authors.
 *
 * Permission is hereby granted, free of charge, to any person obtaining a
 * copy of this software and associated documentation files (the "Software"),
 * to deal in the Software without restriction, including without limitation
 * the rights to use, copy, modify, merge, publish, distribute, sublicense,
 * and/or sell copies of the Software, and to permit persons to whom the
 * Software is furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
 * FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 * DEALINGS IN THE SOFTWARE.
 *
 * ---------------------------------------------------------------------------
 *
 * A weir plugin is a shared library that exports exactly one function,
 * weir_plugin_describe(). It returns a static descriptor (struct weir_plugin)
 * that lists the connector types the library offers. Each connector type has
 * lifecycle operations and up to three roles: source, sink and processor.
 *
 * Conventions that hold for the whole header:
 *
 *  - History. 1.0: first release. 1.1: WEIR_SOURCE_UNPAUSABLE.
 *
 *  - Versioning. The host checks abi_major and abi_minor before it reads
 *    anything else. Majors must be equal, and the host's minor must be at
 *    least the plugin's. Within a major, structs only grow at the end; each
 *    struct that crosses the boundary starts with struct_size, and a reader
 *    treats fields past struct_size as absent (NULL or zero).
 *
 *  - Threading. The host never calls into one instance from two threads at
 *    once. Different instances, even of the same type, may be called
 *    concurrently. A thread the plugin starts itself may call only
 *    weir_host_api.wakeup; the host counts any other host API call it
 *    sees made outside a host call on the instance (host_api_misuse) and
 *    logs the first. stop and destroy join every thread the instance
 *    started before they return.
 *
 *  - Faults. A plugin runs inside the host process: a crash in plugin
 *    code (SIGSEGV, SIGBUS, SIGILL, SIGFPE, or abort(), which a failed
 *    assert calls) ends the process, which then
 *    writes one line naming the connector, its type, its library and the
 *    call, and exits with status 3. A call that never returns is
 *    abandoned: the instance is never called again, nor destroyed.
 *
 *  - Memory. Memory the host passes in is valid only for the duration of
 *    the call. Memory a plugin returns (strings, event bytes outside the
 *    batch arena) stays valid until the next call on the same instance, or
 *    until destroy. Each side frees only what it allocated. A plugin that
 *    needs event bytes after a call returns copies them.
 *
 *  - Errors. Operations return a weir_status. When one returns WEIR_ERROR,
 *    last_error(instance) describes the failure; that string stays valid
 *    until the next call on the instance.
 *
 *  - Unwinding. Nothing unwinds across the boundary: no C++ exception, Rust
 *    panic or Go panic may escape an exported function. Catch it and return
 *    WEIR_ERROR with a message.
 *
 *  - Reserved space. Every field named reserved, and every bit of a flags
 *    field that this header does not define, must be 0. The host does not
 *    check them: it ignores them today, and a later minor version may give
 *    them a meaning, so a plugin that leaves garbage there will misbehave
 *    on a newer host. Zero-initialise descriptors (a C designated
 *    initialiser does this) and never write these fields. Bits 8-15 of
 *    weir_event.flags are the exception: they belong to plugins.
 *
 *  - Signatures use only integers and pointers, never floating point values
 *    or structs passed by value, so that hosts without a C compiler (the Go
 *    host uses purego) can call every function.
 */
#ifndef WEIR_PLUGIN_H
#define WEIR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version this header describes. */
#define WEIR_ABI_MAJOR 1
#define WEIR_ABI_MINOR 1
#define WEIR_ABI_VERSION_STRING "1.1"

/* Name of the single symbol a plugin library exports. */
#define WEIR_PLUGIN_ENTRY "weir_plugin_describe"

/* Symbol visibility for the entry point. */
#if defined(_WIN32)
#define WEIR_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define WEIR_EXPORT __attribute__((visibility("default")))
#else
#define WEIR_EXPORT
#endif

/* Status codes returned by operations. Values are fixed forever. The Go
 * host reads a returned weir_status as a 32-bit int, which is the size of an
 * enum on every supported ABI; do not build plugins with -fshort-enums. */
typedef enum weir_status {
	/* The call succeeded. */
	WEIR_OK = 0,
	/* source poll: no event arrived before the timeout, and none was
	 * appended. */
	WEIR_TIMEOUT = 1,
	/* source poll: the source has no more events, ever. */
	WEIR_EOF = 2,
	/* sink write, connect: failed for now; the host retries with backoff.
	 * Only write and connect may return it: from poll, process or any other
	 * operation the host treats it as a failure, like WEIR_ERROR. */
	WEIR_RETRY = 3,
	/* The call failed; last_error(instance) says why. */
	WEIR_ERROR = -1
} weir_status;

/* Log levels for weir_host_api.log. */
typedef enum weir_log_level {
	WEIR_LOG_DEBUG = 0,
	WEIR_LOG_INFO = 1,
	WEIR_LOG_WARN = 2,
	WEIR_LOG_ERROR = 3
} weir_log_level;

/* Metric kinds for weir_host_api.metric_register. */
typedef enum weir_metric_kind {
	/* A monotonically increasing uint64 (counter_add). */
	WEIR_METRIC_COUNTER = 0,
	/* A value that goes up and down, an int64 (gauge_set). */
	WEIR_METRIC_GAUGE = 1
} weir_metric_kind;

/* Event kinds. Values below 0x8000 are reserved for weir; a plugin may use
 * 0x8000 and above for kinds of its own. */
typedef enum weir_event_kind {
	WEIR_KIND_RAW = 0,     /* opaque bytes */
	WEIR_KIND_PACKET = 1,  /* a captured packet, starting at its record header */
	WEIR_KIND_SYSCALL = 2, /* a syscall record */
	WEIR_KIND_JSON = 3,    /* one UTF-8 JSON document */
	WEIR_KIND_TEXT = 4,    /* one UTF-8 line without its newline */
	WEIR_KIND_TICK = 5     /* a metronome tick; data may be empty */
} weir_event_kind;

/*
 * Bits of weir_event.flags.
 *
 * Bits 0-7 are weir's. Bits 0 and 1 are defined below; bits 2-7 are
 * reserved and must be 0. A source that sets one of them, or
 * WEIR_EVENT_DROP, fails its poll: the host discards the whole batch (see
 * weir_source_ops.poll). A processor that sets one has it carried on; the
 * blackhole sinks reject such events.
 *
 * Bits 8-15 (mask 0xff00) belong to plugins. The host never reads, sets or
 * clears them: it carries them unchanged from source through processors to
 * sinks, also when it copies an event. Nothing assigns them to one plugin,
 * so their meaning is whatever the plugins of one pipeline agree on.
 */
/* Set by a processor: drop this event. The host removes dropped events
 * after the pipeline's last step, so later steps still see them: a
 * processor skips events that already carry the bit and never clears it.
 * Sources leave it clear: a poll that appends an event with it set fails,
 * and none of its events is delivered. */
#define WEIR_EVENT_DROP (1u << 0)
/* The bytes are a prefix of the original. A source sets it when it kept
 * only part of what it read (a packet capture's snap length); a processor
 * that shortens len sets it, as weir's built-in truncate operator does. */
#define WEIR_EVENT_TRUNCATED (1u << 1)

/* Opaque handles. The host never looks inside a weir_instance, and the
 * plugin never looks inside a weir_host. */
typedef struct weir_instance weir_instance;
typedef struct weir_host weir_host;

/*
 * weir_event - one event descriptor: 32 bytes, fixed layout.
 *
 * The host and every plugin use this exact layout, in batches; it is never
 * converted at the boundary. The descriptor does not own its bytes: they
 * live in the batch arena, in a kernel ring, or in plugin memory, as the
 * operation that produced the batch says.
 */
typedef struct weir_event {
	/* Event time in nanoseconds since the Unix epoch (CLOCK_REALTIME). */
	uint64_t ts_ns;
	/* Stream (flow, interface, file...) the event belongs to; 0 if none. */
	uint64_t stream_id;
	/* The event's bytes; may be NULL only when len is 0. */
	uint8_t *data;
	/* Number of bytes at data. */
	uint32_t len;
	/* One of weir_event_kind, or a plugin kind >= 0x8000. */
	uint16_t kind;
	/* WEIR_EVENT_* bits. */
	uint16_t flags;
} weir_event;

/*
 * weir_batch - a batch of events, always owned by the host.
 *
 * The host allocates events and arena outside any garbage-collected heap.
 * A source appends events at events[len] and bytes at arena[arena_len].
 */
typedef struct weir_batch {
	/* sizeof(weir_batch) as the host that filled it knows it. */
	uint32_t struct_size;
	/* Stride of the events array: sizeof(weir_event) as the host knows it.
	 * Always step through events with this stride. */
	uint32_t event_size;
	/* Number of event slots in events. */
	uint32_t capacity;
	/* Number of valid events, 0 <= len <= capacity. */
	uint32_t len;
	/* The event slots. */
	weir_event *events;
	/* Byte arena that events may point into. */
	uint8_t *arena;
	/* Size of arena in bytes. */
	uint64_t arena_cap;
	/* Bytes of arena in use, 0 <= arena_len <= arena_cap. */
	uint64_t arena_len;
	/* Host-assigned identifier, unique per source instance; passed back to
	 * weir_source_ops.ack and .fail. */
	uint64_t id;
} weir_batch;

/*
 * weir_host_api - services the host offers a plugin.
 *
 * One table per process, passed to every create. Every function takes the
 * weir_host handle that create received for that instance. Functions other
 * than wakeup may be called only from inside a host call on that instance;
 * create counts, so create may log and is the usual place to declare
 * metrics with metric_register.
 */
typedef struct weir_host_api {
	/* sizeof(weir_host_api) as the host knows it. */
	uint32_t struct_size;
	uint32_t reserved;

	/* Writes msg (NUL-terminated UTF-8) to the host's log at level, tagged
	 * with the instance. The host copies msg before returning. */
	void (*log)(weir_host *host, int32_t level, const char *msg);

	/* Declares a metric of kind (weir_metric_kind) named name (NUL-
	 * terminated, [a-z0-9_]+), with help text help (may be NULL). Returns an
	 * id >= 0 for counter_add/gauge_set, or -1 if the name is invalid or
	 * already declared with another kind. Declaring the same name and kind
	 * again returns the same id. The host copies both strings. Legal in
	 * create and in any later call on the instance, but not from a thread
	 * the plugin started. */
	int32_t (*metric_register)(weir_host *host, const char *name, int32_t kind,
				   const char *help);

	/* Adds delta to the counter id. Unknown ids are ignored. */
	void (*counter_add)(weir_host *host, int32_t id, uint64_t delta);

	/* Sets the gauge id to value. Unknown ids are ignored. */
	void (*gauge_set)(weir_host *host, int32_t id, int64_t value);

	/* Tells the host that a source instance has events ready, so a poll
	 * blocked in the host should run now. Safe from any thread, including
	 * threads the plugin started, at any time until stop returns. */
	void (*wakeup)(weir_host *host);
} weir_host_api;

/*
 * weir_source_ops - the source role: the plugin produces events.
 */
typedef struct weir_source_ops {
	/* sizeof(weir_source_ops) as the plugin knows it. */
	uint32_t struct_size;
	/* WEIR_SOURCE_* bits. */
	uint32_t flags;

	/* Required. Appends up to batch->capacity - batch->len events to batch,
	 * waiting at most timeout_ns nanoseconds for the first one (0: do not
	 * wait). The host never passes a negative timeout; a plugin treats one
	 * as 0. A source that cannot wait returns WEIR_TIMEOUT at once and calls
	 * wakeup when events are ready. Each event's data points into batch->arena (advance
	 * batch->arena_len past the bytes written) or into plugin memory valid
	 * until the next call on this instance; the host copies the latter.
	 * Set flags to 0, WEIR_EVENT_TRUNCATED or plugin bits (8-15).
	 *
	 * Returns WEIR_OK when it appended at least one event, WEIR_TIMEOUT when
	 * none arrived in time, WEIR_EOF when the source is exhausted (events
	 * appended in the same call still count), or WEIR_ERROR.
	 *  - WEIR_TIMEOUT with events appended is not allowed: return WEIR_OK.
	 *    The host does not catch it (it checks and delivers those events as
	 *    if WEIR_OK had been returned); do not rely on that.
	 *  - WEIR_RETRY is not a poll answer. The host treats it, like any
	 *    status other than OK, TIMEOUT and EOF, as WEIR_ERROR: it logs
	 *    last_error, waits with backoff and polls again, and after several
	 *    failures in a row restarts the instance (stop, destroy, then a new
	 *    create).
	 *  - After WEIR_EOF the host does not poll the instance again.
	 *  - The host checks the batch after every poll: len and arena_len only
	 *    grew and stay within capacity and arena_cap; every appended event
	 *    (all of them, not only up to the first bad one) with len > 0 has
	 *    data, arena events end within arena_len, data outside the arena is
	 *    a user-space address (not a small integer such as NULL plus an
	 *    offset; the host cannot check more without reading it), flags set
	 *    neither WEIR_EVENT_DROP nor reserved bits 2-7; and the fields only
	 *    the host writes (struct_size, event_size, capacity, events, arena,
	 *    arena_cap, id) are unchanged. A violation fails the poll.
	 *  - A failed poll (WEIR_ERROR or any other failing status, or a batch
	 *    that fails the checks) delivers nothing: whatever the batch holds
	 *    is discarded, its events are counted as dropped with reason
	 *    poll_failed, and the failure is logged with the connector's name.
	 *  - While the instance is paused the host does not poll it. */
	weir_status (*poll)(weir_instance *inst, weir_batch *batch, int64_t timeout_ns);

	/* Optional; used only with WEIR_SOURCE_WANTS_ACKS. Every sink fed by the
	 * batch with this id has accepted it. Called between other calls on the
	 * instance (never concurrently with poll), possibly after drain or after
	 * poll returned WEIR_EOF, never after stop. An error is logged and
	 * changes nothing. */
	weir_status (*ack)(weir_instance *inst, uint64_t batch_id);

	/* Optional; used only with WEIR_SOURCE_WANTS_ACKS. At least one sink fed
	 * by the batch with this id gave up on it, or the host dropped it. */
	weir_status (*fail)(weir_instance *inst, uint64_t batch_id);
} weir_source_ops;

/* weir_source_ops.flags: the host calls ack or fail once for every batch
 * with at least one event this source produced (an empty batch is never
 * delivered, so it is never acked). A WANTS_ACKS source should set both ack
 * and fail. The host does not require them: it loads a WANTS_ACKS source
 * whose ack or fail is NULL and skips the NULL one, as if it had answered
 * WEIR_OK, so that source never learns of that outcome. */
#define WEIR_SOURCE_WANTS_ACKS (1u << 0)
/* weir_source_ops.flags (since 1.1): the source cannot hold its input back
 * (a kernel ring, a UDP socket), so pausing it loses events at their origin.
 * The host warns when a config would make it wait. */
#define WEIR_SOURCE_UNPAUSABLE (1u << 1)

/*
 * weir_sink_ops - the sink role: the plugin consumes events.
 */
typedef struct weir_sink_ops {
	/* sizeof(weir_sink_ops) as the plugin knows it. */
	uint32_t struct_size;
	/* No bits are defined yet: must be 0. */
	uint32_t flags;

	/* Required. Consumes every event in batch. The batch and the bytes its
	 * events point to are valid only during the call, and are read-only.
	 * The host does not copy bytes for a sink: they may be a source's own
	 * (a kernel ring mapped read-only, another plugin's memory), lent for
	 * the call. A sink that keeps bytes past the call copies them. (When
	 * one batch of lent bytes fans out to several consumers the host
	 * copies it once into its own memory, so that one slow consumer holds
	 * no lender; the sink cannot tell the difference.)
	 * Returns WEIR_OK once the sink has taken the batch, WEIR_RETRY if the
	 * host should offer the same batch again later, or WEIR_ERROR to give
	 * up on it (the host drops the batch and counts it).
	 *
	 * Circuit breaker: after several WEIR_RETRY or WEIR_ERROR answers in a
	 * row, the host opens the sink's breaker. It then pauses every source
	 * that feeds the sink (see weir_connector_type.pause), stops writing
	 * for a cool-down (seconds), and then offers one batch as a trial (one
	 * still queued, or, when none is, the first that comes once the host
	 * resumes the sources for it); OK closes the breaker and resumes the
	 * sources, a failure opens it again and pauses them again.
	 * The host does not call pause on a sink for this, nor for backpressure.
	 * So a sink that cannot deliver for now returns WEIR_RETRY promptly,
	 * rather than block in write, and reconnects inside a later write if it
	 * must. */
	weir_status (*write)(weir_instance *inst, const weir_batch *batch);
} weir_sink_ops;

/*
 * weir_processor_ops - the processor role: the plugin inspects a batch in a
 * pipeline.
 */
typedef struct weir_processor_ops {
	/* sizeof(weir_processor_ops) as the plugin knows it. */
	uint32_t struct_size;
	/* No bits are defined yet: must be 0. */
	uint32_t flags;

	/* Required. Looks at every event in batch, sets WEIR_EVENT_DROP in the
	 * flags of those to drop, and may rewrite bytes in place or shorten len.
	 * It must not grow len, move data, or change batch->len. Returns WEIR_OK
	 * or WEIR_ERROR (the host then drops the whole batch and counts it).
	 *
	 *  - The bytes are writable: the weir runtime gives a processor only a
	 *    batch that nothing else holds, with every event's bytes in the
	 *    batch's own arena. Bytes a source lent (a kernel ring mapped
	 *    read-only, plugin memory) or another consumer shares are copied
	 *    into a private arena before the first processor runs.
	 *  - Events an earlier step marked WEIR_EVENT_DROP are still in the
	 *    batch: skip them, and never clear the bit (the weir runtime sets
	 *    it again on such an event after the call).
	 *  - A processor that shortens len sets WEIR_EVENT_TRUNCATED.
	 *  - It may set or clear plugin flag bits 8-15; it leaves bits 2-7 at 0.
	 *  - The host checks after the call that batch->len, arena_len and the
	 *    fields only the host writes are unchanged, that no data pointer
	 *    moved and that no len grew; a violation fails the call. */
	weir_status (*process)(weir_instance *inst, weir_batch *batch);
} weir_processor_ops;

/*
 * weir_connector_type - one kind of connector a library offers.
 *
 * Lifecycle of an instance, in order:
 *   create -> connect (repeated until OK) -> start
 *          -> (pause -> resume)* -> drain -> stop -> destroy
 * with poll, write or process (by role) between start and stop.
 *
 *  - Any step may fail; destroy is always called once for every instance
 *    that create returned, whatever happened before, and never with NULL.
 *    After a failed create, connect or start, destroy comes without stop:
 *    destroy must then also do stop's work (join threads, close sockets).
 *  - After drain, the host may call: poll (a source, until it returns
 *    WEIR_EOF or WEIR_TIMEOUT; the host stops polling at either), ack and
 *    fail (for batches still in flight), write (only on an instance that is
 *    both source and sink), drain again (a repeat must succeed and do
 *    nothing new), stop, destroy and last_error. Never connect, start,
 *    pause or resume.
 *  - After stop, the host calls only destroy and last_error.
 *  - When a source fails too often the host restarts it: stop, destroy,
 *    then create a new instance (the old one is never reused).
 *  - last_error may be called at any time between create and destroy.
 */
typedef struct weir_connector_type {
	/* sizeof(weir_connector_type) as the plugin knows it. */
	uint32_t struct_size;
	uint32_t reserved;

	/* Required. The type's ID, unique in the host: [a-z][a-z0-9_.-]*. */
	const char *id;
	/* Optional. One line describing the type. */
	const char *description;
	/* Optional. A JSON Schema for the config, or NULL; see create for the
	 * subset the host understands and what it then does with a config. */
	const char *config_schema;

	/* Required. Makes an instance from config, config_len bytes of JSON (an
	 * object; not NUL-terminated). It must have no side effects beyond
	 * allocating: no sockets, no threads. It may call api->log and
	 * api->metric_register. api and host stay valid until destroy.
	 *
	 * What the host does with the user's config first depends on
	 * config_schema. When the host understands the schema (below), the
	 * config has been validated against it (an unknown key, a missing
	 * required one, a value of the wrong type, out of minimum..maximum or
	 * not in enum is refused, with FILE:LINE:COL, before create is ever
	 * called), defaults have been filled in for absent fields, and values
	 * have been converted to the schema's types (a YAML 10 or "10" for an
	 * integer field arrives as the JSON number 10); keys come in the
	 * schema's property order, sorted by name. So a plugin with a schema
	 * gets every field that has a default even when the user gave no
	 * config. Without a schema, or with one the host does not understand,
	 * the config is the user's YAML mapping converted to JSON as it is
	 * ("{}" when the user gave none), unchecked.
	 *
	 * The JSON Schema subset the host understands: an object with
	 * "properties" (and "required"; "additionalProperties" absent or
	 * false, since the property list is taken as closed), each property
	 * with a single "type" of string, integer, number, boolean, object
	 * (the same rules, recursively) or array of strings or of objects, and
	 * optionally "enum" (strings), "default", "description" (or "title"),
	 * "minimum" and "maximum"; a string with "format": "duration" takes
	 * values such as "250ms". Anything else (other keywords such as
	 * pattern or oneOf, "additionalProperties": true) makes the host
	 * treat the type as having no schema; `weir plugin inspect` says why,
	 * and shows each field's type, default, minimum, maximum and enum
	 * values as the host will enforce them.
	 *
	 * *out is NULL on entry. On success, store the instance in *out and
	 * return WEIR_OK; the host treats WEIR_OK with *out NULL as a failure.
	 * On failure, return WEIR_ERROR and leave *out either NULL or, better,
	 * an instance whose last_error says what was wrong: the host reads that
	 * message, then calls destroy on it. If *out is NULL the host calls
	 * nothing else and has no message. The host does not retry a failed
	 * create with the same config. */
	weir_status (*create)(const uint8_t *config, size_t config_len,
			      const weir_host_api *api, weir_host *host,
			      weir_instance **out);

	/* Required. Frees the instance and everything it owns. Called exactly
	 * once per instance, including after a failed create, connect or start
	 * (then without stop first), and never with NULL. */
	void (*destroy)(weir_instance *inst);

	/* Required. The last error on inst, NUL-terminated, or NULL if none.
	 * Valid until the next call on inst. */
	const char *(*last_error)(weir_instance *inst);

	/* Optional (absent means OK). Acquires external resources. attempt
	 * counts from 1; the host retries with backoff after WEIR_RETRY or
	 * WEIR_ERROR. */
	weir_status (*connect)(weir_instance *inst, uint32_t attempt);

	/* Optional. Begins work; a source may start threads here. */
	weir_status (*start)(weir_instance *inst);

	/* Optional. A source stops producing until resume; a sink may release
	 * what it holds. May be called any number of times.
	 *
	 * The weir runtime pauses a source while the circuit breaker of a sink
	 * it feeds is open (see weir_sink_ops.write), and does not poll it until
	 * resume. Backpressure (full queues) never calls pause: the host polls
	 * later, or drops batches as the queue's policy says. A connector that
	 * is only a sink is never paused; one that is also a source is paused
	 * as a source, and may still get writes while paused. A source that
	 * cannot hold its input back sets WEIR_SOURCE_UNPAUSABLE. */
	weir_status (*pause)(weir_instance *inst);

	/* Optional. Undoes pause. */
	weir_status (*resume)(weir_instance *inst);

	/* Optional. No more input will arrive: a source stops taking new input
	 * and returns what it holds from poll, then WEIR_EOF; a sink flushes
	 * what it buffered. See the lifecycle above for what may follow. */
	weir_status (*drain)(weir_instance *inst);

	/* Optional. Stops work and joins the instance's threads. Only destroy
	 * and last_error follow it. */
	weir_status (*stop)(weir_instance *inst);

	/* Role tables; at least one is non-NULL. */
	const weir_source_ops *source;
	const weir_sink_ops *sink;
	const weir_processor_ops *processor;
} weir_connector_type;

/*
 * weir_plugin - what weir_plugin_describe returns. Static: it stays valid
 * for as long as the library is loaded.
 */
typedef struct weir_plugin {
	/* WEIR_ABI_MAJOR and WEIR_ABI_MINOR of the header the plugin was built
	 * with. The host reads these before anything else. */
	uint16_t abi_major;
	uint16_t abi_minor;
	/* sizeof(weir_plugin) as the plugin knows it. */
	uint32_t struct_size;

	/* Required. The plugin's name and version, NUL-terminated. */
	const char *name;
	const char *version;

	/* Number of entries in types, at least 1. */
	uint32_t n_types;
	uint32_t reserved;
	/* Array of n_types pointers to connector types. */
	const weir_connector_type *const *types;
} weir_plugin;

/* Fills in the ABI fields of a weir_plugin. */
#define WEIR_PLUGIN_HEADER                                                     \
	.abi_major = WEIR_ABI_MAJOR, .abi_minor = WEIR_ABI_MINOR,              \
	.struct_size = sizeof(weir_plugin)

/* The entry point: the one symbol a plugin exports. Thread-safe, cheap, and
 * returns the same pointer every time. */
typedef const weir_plugin *(*weir_plugin_describe_fn)(void);
WEIR_EXPORT const weir_plugin *weir_plugin_describe(void);

#ifdef __cplusplus
}
#endif

#endif /* WEIR_PLUGIN_H */
