// Package blackhole is the "blackhole" sink: it discards events, counting
// them and keeping an HDR histogram of end-to-end latency, for benchmarks.
package blackhole
