// Package kafka holds the "kafka_out" sink and the "kafka_in" source,
// which produce events to and consume them from Kafka topics with
// github.com/twmb/franz-go.
//
// The sink is an idempotent producer (acks from all in-sync replicas;
// the broker drops a producer's retried batches within its session),
// with lz4 or zstd compression, and a partition key the config chooses:
// the stream ID, a hash of a packet's flow, or none. It answers a batch
// OK only when every record of it is acknowledged, and RETRY when
// records could not be delivered within delivery_timeout (the broker is
// away); the retry skips records that went through.
//
// The source is a consumer-group member. It commits, per partition, only
// offsets below which every record's events were acknowledged by weir's
// sinks; a failed batch rewinds its partitions to the first record that
// is not settled, so those records are read again.
package kafka
