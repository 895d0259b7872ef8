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
//
// # Packet encodings
//
// Packet events (cabi.KindPacket, a packet record header and the captured
// bytes) are written by the "packet" encoding as a tcpdump-like line and by
// "packet-json" as one JSON object a line, both from ingest/pktfmt, with
// the interface named as the host names it then (or "ifN"). Any other
// event, or a malformed record, becomes a short marker line instead:
//
//	[text event, 5 bytes: not a packet]
//	{"ts_ns":1700000000000010000,"kind":"text","len":5,"error":"not a packet"}
//
// Both are written, never read.
package format
