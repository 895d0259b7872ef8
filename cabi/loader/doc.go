// Package loader loads weir plugin libraries and calls them: the dlopen
// side of the C plugin ABI in ../include/weir/plugin.h. The data layout it
// passes across (Event, Batch, status codes) is in package cabi.
//
// # Loading
//
// Load opens a library with RTLD_NOW|RTLD_LOCAL, calls weir_plugin_describe,
// checks the ABI version before reading anything else, then validates the
// descriptor and copies every string into Go. Each failure is a *LoadError
// naming the file and wrapping a sentinel (ErrOpen, ErrNoEntry,
// ErrABIVersion, ErrDescriptor, ErrGoRuntime) callers can test with
// errors.Is. Fields past a struct's struct_size read as absent.
//
// A library that embeds a Go runtime (a Go c-shared plugin) is never
// unloaded: Library.Close only marks it closed. Several such libraries may be
// loaded at once, up to MaxGoRuntimes distinct files.
//
// # Instances
//
// ConnectorType.Create makes an Instance, giving the plugin the process-wide
// weir_host_api table and an integer handle that routes its calls to the
// Host passed to Create (BasicHost is a simple one). The lifecycle follows
// the header: Connect (repeated while it answers Retry), Start, Pause and
// Resume, Drain, Stop, and Destroy exactly once, also after any failure.
// Absent optional operations answer OK. WEIR_ERROR becomes an *OpError
// carrying last_error's text and the connector's ID.
//
// Calls on one Instance must be serialized by the caller; different
// instances may be used from different goroutines at once. Poll, Write and
// Process do not allocate on the Go heap.
//
// # Call path
//
// Create calls the plugin through purego.SyscallN. Every other operation
// takes at most three integer arguments, and on linux/amd64 goes through a
// direct path instead: the runtime's cgocall (the same entry SyscallN
// uses, so the plugin may call the host API back during the call) with a
// ten-instruction assembly trampoline that loads three argument registers,
// rather than SyscallN's generic one, which fills every integer and float
// argument register and copies stack arguments from a pooled block. An
// empty C call costs about 24 ns this way against about 63 ns through
// SyscallN (BenchmarkCallPath). Other platforms use SyscallN throughout.
// Setting CallEnv to "syscalln" makes new instances use SyscallN too.
//
// # Batches across the boundary
//
// After a source's Poll, the batch is checked (lengths, arena bounds, NULL
// data, header fields the plugin may not touch) and a violation is a
// *BatchError naming the event, never a crash. After Process the batch
// must have the same length, no event may have grown and no data pointer
// may have moved.
package loader
