// Package plugin adapts connector plugins loaded through cabi to the
// runtime, so that a plugin connector type registers in a connector.Registry
// and runs exactly like a built-in one.
//
// Load opens libraries (or every .so file in a directory) and registers
// each connector type they offer. The instances the registered types create
// map the runtime's calls one to one onto the plugin's: sources poll
// straight into the runtime's batch and sinks and processors receive the
// runtime's batch itself, because the runtime and the ABI share one event
// and batch layout. The runtime serializes calls on each instance, as the
// ABI requires.
package plugin
