// Package operator implements the built-in pipeline operators: filter,
// sample, truncate, rate-limit, route and aggregate. Each works on a whole
// cabi.Batch at a time and never allocates per event. Operators keep state
// (counters, token buckets, windows, scratch buffers), so an instance is
// not safe for concurrent use: a pipeline calls its steps from one
// goroutine. Build them with New; Types describes each type's config for
// validation and docs.
package operator
