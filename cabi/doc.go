// Package cabi is the data layout of weir's C plugin ABI, defined in
// include/weir/plugin.h: the event descriptor (Event), the batch (Batch),
// event kinds and flags, status codes, the connector ID rule, and batch
// memory. It has no loader and no cgo, so everything that moves events
// (the runtime, connectors, the Go plugin SDK) can use it without linking
// the dlopen machinery, which lives in package cabi/loader.
//
// Event and Batch have the header's memory layout exactly (a test checks
// every offset), so events cross the plugin boundary without conversion.
//
// # Batches
//
// Batches come from AllocBatch and live outside the Go heap, so plugins
// may read them and descriptors may point into their arena. Events may
// point at memory outside the arena (a plugin's, valid only until its next
// call, or a kernel ring's); Batch.AdoptForeign copies those bytes into the
// arena so the batch can outlive that memory.
package cabi
