package loader

import (
	"github.com/weirproject/weir/cabi"

	"errors"
	"fmt"
)

// Sentinel errors. Every error Load returns is a *LoadError wrapping one of
// the Err* load sentinels (ErrOpen to ErrInsecure); every error an Instance returns wraps ErrPlugin
// (an operation answered WEIR_ERROR or an unknown status), ErrBatch (the
// plugin left a batch inconsistent) or ErrDestroyed. Branch on them with
// errors.Is.
var (
	// ErrOpen means the dynamic loader refused the file: it does not exist,
	// is not a shared library for this machine, or has unresolved symbols.
	ErrOpen = errors.New("cannot open shared library")
	// ErrNoEntry means the library does not export weir_plugin_describe, or
	// it returned NULL.
	ErrNoEntry = errors.New("no " + EntrySymbol + " entry point")
	// ErrABIVersion means the plugin was built for an ABI this host cannot
	// read: another major, or a newer minor.
	ErrABIVersion = errors.New("incompatible plugin ABI version")
	// ErrDescriptor means a descriptor the plugin returned is malformed: a
	// struct too small, a missing name or required operation, a bad ID.
	ErrDescriptor = errors.New("invalid plugin descriptor")
	// ErrGoRuntime means the library embeds a Go runtime and the host
	// refuses to load it next to another one.
	ErrGoRuntime = errors.New("cannot load another Go runtime")
	// ErrInsecure means the library file, or a directory it lies in, could
	// have been changed by a user other than root and the one loading it
	// (see CheckFile).
	ErrInsecure = errors.New("insecure plugin file")
	// ErrClosed means the library was closed.
	ErrClosed = errors.New("plugin library closed")

	// ErrPlugin means a plugin operation returned WEIR_ERROR, or a status
	// the operation may not return.
	ErrPlugin = errors.New("plugin operation failed")
	// ErrBatch means a plugin left a batch in a state that breaks the
	// batch contract.
	ErrBatch = errors.New("plugin broke the batch contract")
	// ErrDestroyed means the instance was already destroyed.
	ErrDestroyed = errors.New("instance destroyed")
)

// EntrySymbol is the one symbol a plugin library exports.
const EntrySymbol = "weir_plugin_describe"

// LoadError is the error Load returns. Err wraps one of ErrOpen, ErrNoEntry,
// ErrABIVersion, ErrDescriptor, ErrGoRuntime or ErrInsecure.
type LoadError struct {
	// Path is the file Load was given.
	Path string
	// Err says what is wrong.
	Err error
}

// Error implements error.
func (e *LoadError) Error() string {
	return fmt.Sprintf("load plugin %s: %v", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// OpError is the error an instance operation returns when the plugin
// answers WEIR_ERROR or a status the operation may not return. It wraps
// ErrPlugin.
type OpError struct {
	// Plugin is the library's name as its descriptor gives it.
	Plugin string
	// Connector is the connector type's ID.
	Connector string
	// Op is the operation: "create", "poll", "write" and so on.
	Op string
	// Status is what the operation returned.
	Status cabi.Status
	// Message is last_error's text, or "" when the plugin gave none.
	Message string
}

// Error implements error.
func (e *OpError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error message"
	}
	if e.Status != cabi.Error {
		return fmt.Sprintf("%s %s/%s: unexpected status %v (%s)", e.Op, e.Plugin, e.Connector, e.Status, msg)
	}
	return fmt.Sprintf("%s %s/%s: %s", e.Op, e.Plugin, e.Connector, msg)
}

// Unwrap returns ErrPlugin.
func (e *OpError) Unwrap() error { return ErrPlugin }

// BatchError reports a batch a plugin left inconsistent. It wraps ErrBatch.
type BatchError struct {
	// Plugin and Connector name the offender.
	Plugin, Connector string
	// Op is the operation after which the batch was checked.
	Op string
	// Index is the offending event's index, or -1 for the batch header.
	Index int
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *BatchError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%s %s/%s: batch: %s", e.Op, e.Plugin, e.Connector, e.Reason)
	}
	return fmt.Sprintf("%s %s/%s: event %d: %s", e.Op, e.Plugin, e.Connector, e.Index, e.Reason)
}

// Unwrap returns ErrBatch.
func (e *BatchError) Unwrap() error { return ErrBatch }
