// Package frame turns events into broker messages and back, for the
// connectors that publish to and consume from message brokers (nats,
// kafka). It has two framings:
//
//   - Event framing: one event per message. The message payload is the
//     event's bytes; its kind, stream ID, timestamp and flags travel as
//     message headers (HeaderKind and the others), in decimal.
//   - Batch framing: many events per message, in the versioned batch frame
//     that docs/FRAMING.md lays out byte by byte, with a CRC-32 over the
//     whole frame, so that consumers in any language can decode it.
//
// It also derives message IDs from a batch's content (Digest, MsgID), so
// that the same batch offered twice (an engine retry, or a replay from a
// disk buffer) gets the same IDs and a broker that deduplicates by ID
// (JetStream's Nats-Msg-Id) keeps one copy.
package frame
