// Package operator implements the built-in pipeline operators: filter,
// sample, truncate, rate-limit, route and aggregate. Each works on a whole
// cabi.Batch at a time and never allocates per event.
package operator
