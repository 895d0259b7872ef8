// Package nats holds the "nats_out" sink and the "nats_in" source, which
// publish events to and consume them from a NATS server, on core subjects
// or JetStream streams (github.com/nats-io/nats.go).
//
// The sink answers a batch OK only when it is published: for JetStream,
// once the server acknowledged every message of it. Publishes are
// asynchronous, with at most max_pending acknowledgements outstanding,
// and every message carries a Nats-Msg-Id derived from the batch content
// (connector/frame), so that a batch offered again after a RETRY or a
// replay is dropped by JetStream's duplicate window. While the server is
// away the sink answers RETRY, so the engine's circuit breaker pauses its
// sources; nats.go reconnects in the background with backoff.
//
// The source reads core subjects (at most once: what arrives while it is
// slow is dropped by the client and counted) or a JetStream stream
// through a durable or ephemeral pull consumer, acknowledging each
// message only when every batch that holds its events has been
// acknowledged by the engine, that is by weir's sinks.
package nats
