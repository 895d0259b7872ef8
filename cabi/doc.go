// Package cabi is the Go side of weir's C plugin ABI, defined in
// include/weir/plugin.h.
//
// It mirrors the header's structs with identical memory layout (Event and
// Batch are used by the whole runtime, so events cross the plugin boundary
// without conversion), loads plugin libraries with purego (no cgo), checks
// their ABI version and descriptors, and calls their operations through
// pre-resolved function pointers.
package cabi
