// Package ring reads BPF ring buffers (BPF_MAP_TYPE_RINGBUF) without
// copying.
//
// A Reader maps each ring into the process the way the kernel lays it out:
// the consumer page read-write, and the producer page plus the data area
// read-only, with the data area mapped twice in a row so that a record that
// wraps around the end of the ring is still contiguous. Read fills a
// cabi.Batch with event descriptors whose Data points straight into ring
// memory. The kernel cannot reuse that memory until the reader advances the
// ring's consumer position, which it does only when the batch is released,
// with one store per ring per batch.
//
// The rules a Reader follows:
//
//   - each record's length word is loaded atomically (acquire), since the
//     producer publishes a record by clearing its BUSY bit;
//   - a record with the BUSY bit set stops reading of that ring until the
//     next Read;
//   - records the producer discarded are skipped and counted in Stats;
//   - batches are released in the order they were read, and a released
//     batch's descriptors must not be used again;
//   - Close never unmaps memory that a batch in flight still points into:
//     the unmapping waits for the last Release.
//
// Waiting uses epoll on the ring file descriptors, edge-triggered, with a
// deadline. Producers that submit with BPF_RB_NO_WAKEUP wake nobody, so the
// deadline passed to Read bounds the latency of such records.
package ring
