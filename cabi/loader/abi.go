package loader

import "unsafe"

// Go mirrors of the header structs that only the loader reads. Their layout
// is checked against the C compiler by TestLayout. Event and Batch, which the
// whole runtime uses, live in event.go.

// pluginDesc mirrors struct weir_plugin.
type pluginDesc struct {
	ABIMajor   uint16
	ABIMinor   uint16
	StructSize uint32
	Name       unsafe.Pointer // const char *
	Version    unsafe.Pointer // const char *
	NTypes     uint32
	Reserved   uint32
	Types      unsafe.Pointer // const weir_connector_type *const *
}

// connectorDesc mirrors struct weir_connector_type.
type connectorDesc struct {
	StructSize   uint32
	Reserved     uint32
	ID           unsafe.Pointer
	Description  unsafe.Pointer
	ConfigSchema unsafe.Pointer
	Create       uintptr
	Destroy      uintptr
	LastError    uintptr
	Connect      uintptr
	Start        uintptr
	Pause        uintptr
	Resume       uintptr
	Drain        uintptr
	Stop         uintptr
	Source       unsafe.Pointer // const weir_source_ops *
	Sink         unsafe.Pointer // const weir_sink_ops *
	Processor    unsafe.Pointer // const weir_processor_ops *
}

// sourceOps mirrors struct weir_source_ops.
type sourceOps struct {
	StructSize uint32
	Flags      uint32
	Poll       uintptr
	Ack        uintptr
	Fail       uintptr
}

// sinkOps mirrors struct weir_sink_ops.
type sinkOps struct {
	StructSize uint32
	Flags      uint32
	Write      uintptr
}

// processorOps mirrors struct weir_processor_ops.
type processorOps struct {
	StructSize uint32
	Flags      uint32
	Process    uintptr
}

// hostAPI mirrors struct weir_host_api.
type hostAPI struct {
	StructSize     uint32
	Reserved       uint32
	Log            uintptr
	MetricRegister uintptr
	CounterAdd     uintptr
	GaugeSet       uintptr
	Wakeup         uintptr
}

// Sizes of the v1.0 structs. A plugin's struct_size must be at least these;
// fields added by later minors sit past them and are read only when the
// plugin's struct_size covers them.
const (
	pluginSizeV10    = uint32(unsafe.Sizeof(pluginDesc{}))
	connectorSizeV10 = uint32(unsafe.Sizeof(connectorDesc{}))
	sourceSizeV10    = uint32(unsafe.Sizeof(sourceOps{}))
	sinkSizeV10      = uint32(unsafe.Sizeof(sinkOps{}))
	processorSizeV10 = uint32(unsafe.Sizeof(processorOps{}))
)

// SourceWantsAcks mirrors WEIR_SOURCE_WANTS_ACKS.
const SourceWantsAcks uint32 = 1 << 0

// SourceUnpausable mirrors WEIR_SOURCE_UNPAUSABLE (ABI 1.1).
const SourceUnpausable uint32 = 1 << 1

// readPrefix copies the first min(have, want) bytes of the C struct at src
// into the zeroed Go mirror at dst (want bytes), so fields beyond the size
// the plugin declared read as zero.
//
// It is kept out of line: when it is inlined, go1.26's SSA lowering panics
// ("disjointTypes: one of arguments is not a pointer") on the memmove.
//
//go:noinline
func readPrefix(dst unsafe.Pointer, want uintptr, src unsafe.Pointer, have uint32) {
	n := want
	if uintptr(have) < n {
		n = uintptr(have)
	}
	clear(unsafe.Slice((*byte)(dst), want))
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(src), n))
}

// maxCString bounds how far cString scans for a terminating NUL.
const maxCString = 1 << 16

// cString copies the NUL-terminated string at p into Go memory. It reports
// false when no NUL appears within maxCString bytes.
func cString(p unsafe.Pointer) (string, bool) {
	if p == nil {
		return "", true
	}
	for n := 0; n < maxCString; n++ {
		if *(*byte)(unsafe.Add(p, n)) == 0 {
			return string(unsafe.Slice((*byte)(p), n)), true
		}
	}
	return "", false
}

// ptrFrom turns an address returned by C into an unsafe.Pointer without
// tripping go vet's uintptr check; the memory is never on the Go heap.
func ptrFrom(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}
