// Package builtin holds weir's built-in connector types, written in Go:
//
//   - blaster (source): replays a file of events, or synthesises events of a
//     given size, at a set rate or flat out, looping a set number of times;
//   - blackhole (sink): counts what it receives and keeps an HDR histogram of
//     end-to-end latency;
//   - stdout (sink): prints events as text or JSON lines;
//   - file (sink): writes events to a file as length-prefixed raw records,
//     JSON lines or text lines;
//   - metronome (source): emits a tick event every interval.
//
// Each lives in its own package under connector/; importing this package
// registers them all into connector.Default. A new built-in connector gets
// a package of its own and one line in builtin.go. Each connector's config
// fields are described by its spec.Spec, which doubles as its
// documentation.
package builtin
