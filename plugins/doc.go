// Package plugins holds weir's real plugins and the tests that load them
// through the ABI: the C blackhole and generator (plugins/c), the Rust
// blackhole (plugins/rust), and the Go SDK with two Go plugins
// (plugins/go). The Go package itself has only tests and benchmarks; they
// build every plugin from source into a temporary directory (cc, cargo and
// go build -buildmode=c-shared), or use the libraries in $WEIR_PLUGIN_DIR
// when it is set (for example bin/plugins after make).
package plugins
