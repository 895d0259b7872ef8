// Package runtime is weir's event engine, usable as a Go library.
//
// It moves batches of cabi.Event descriptors from sources, through
// pipelines of operators, to sinks. Built-in connectors written in Go and
// plugin connectors loaded through cabi are registered in one Registry and
// are indistinguishable to the engine. Every edge between components is a
// bounded queue with its own overflow policy, and every event is accounted
// for: for each component and edge, in = out + dropped + in flight.
package runtime
