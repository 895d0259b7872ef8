// Package blaster is the "blaster" source: it replays a file of events, or
// synthesises events, at a set rate or flat out, for benchmarks and tests.
package blaster
