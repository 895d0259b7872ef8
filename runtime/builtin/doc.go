// Package builtin holds weir's built-in connector types, written in Go:
//
//   - blaster (source): replays a file of events, or synthesises events of a
//     given size, at a set rate or flat out, looping a set number of times;
//   - blackhole (sink): counts what it receives and keeps an HDR histogram of
//     end-to-end latency;
//   - stdout (sink): prints events as text or JSON lines;
//   - file (sink): writes events to a file as length-prefixed raw records,
//     JSON lines or text lines;
//   - metronome (source): emits a tick event every interval.
//
// Importing the package registers every type into runtime.Default from
// init. Each connector's config fields are described by its spec.Spec,
// which doubles as its documentation.
//
// # Event file formats
//
// The blaster reads, and the file and stdout sinks write, two formats.
//
// JSON lines ("jsonl"): one JSON object per line, blank lines ignored:
//
//	{"kind": "text", "stream_id": 7, "data": "hello"}
//	{"kind": 32768, "data_b64": "AAECAw=="}
//
// kind is a kind name (raw, packet, syscall, json, text, tick) or a number;
// it defaults to raw. stream_id defaults to 0. The bytes come from data (a
// JSON string, taken as its UTF-8 bytes) or data_b64 (standard base64), not
// both. Sinks also write ts_ns, len and flags, which the blaster accepts and
// ignores (it stamps events when it emits them); any other field is an error.
//
// Length-prefixed raw ("raw"): a sequence of records, each a little-endian
// uint32 length followed by that many bytes. Kind and stream come from the
// blaster's config.
package builtin
