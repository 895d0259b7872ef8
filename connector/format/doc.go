// Package format encodes events for the sinks that write them out (file,
// stdout) and parses the event files the blaster replays.
//
// # Event file formats
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
//
// Text ("text"): each event's bytes and a newline; written, never read.
package format
