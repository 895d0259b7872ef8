// Package bench runs weir's ready-made throughput benchmark: a blaster
// source, a pipeline of built-in operators, and a blackhole sink (the
// built-in one, or a sink type from a plugin library), inside a real
// runtime.Engine. It measures events/s, MB/s and end-to-end latency, and
// records heap and RSS around and during the run so memory growth shows.
// `weir bench` and the package's Go benchmarks both use Run.
package bench
