// Command plugindemo drives the C generator plugin into each blackhole
// plugin (C, Rust and Go) through the weir plugin ABI, using the same
// loader as the host (package cabi, no cgo), and prints the events per
// second each pair sustains. `make plugin-demo` builds the plugins and
// runs it.
//
// Usage:
//
//	plugindemo [--dir bin/plugins] [--duration 2s] [--size 64] [--batch 256] [--rate 0]
package main
