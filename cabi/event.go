package cabi

import (
	"strconv"
	"unsafe"
)

// ABI version implemented by this host. It matches WEIR_ABI_MAJOR and
// WEIR_ABI_MINOR in include/weir/plugin.h.
const (
	ABIMajor = 1
	ABIMinor = 1
)

// Status mirrors weir_status, the result of every plugin operation.
type Status int32

// Status values; they match the header and never change.
const (
	OK      Status = 0
	Timeout Status = 1
	EOF     Status = 2
	Retry   Status = 3
	Error   Status = -1
)

// String returns the status name as the header spells it.
func (s Status) String() string {
	switch s {
	case OK:
		return "WEIR_OK"
	case Timeout:
		return "WEIR_TIMEOUT"
	case EOF:
		return "WEIR_EOF"
	case Retry:
		return "WEIR_RETRY"
	case Error:
		return "WEIR_ERROR"
	}
	return "weir_status(" + strconv.Itoa(int(s)) + ")"
}

// Kind mirrors weir_event_kind.
type Kind uint16

// Event kinds defined by the header. Kinds from 0x8000 up belong to plugins.
const (
	KindRaw     Kind = 0
	KindPacket  Kind = 1
	KindSyscall Kind = 2
	KindJSON    Kind = 3
	KindText    Kind = 4
	KindTick    Kind = 5
)

// Event flag bits (WEIR_EVENT_*).
const (
	FlagDrop      uint16 = 1 << 0
	FlagTruncated uint16 = 1 << 1
)

// Event mirrors struct weir_event: one 32-byte event descriptor. The runtime
// uses this type for every event it moves, so batches cross the plugin
// boundary without conversion. Data is a raw pointer because the bytes live
// outside the Go heap (batch arenas, kernel rings, plugin memory).
type Event struct {
	TsNs     uint64
	StreamID uint64
	Data     unsafe.Pointer
	Len      uint32
	Kind     Kind
	Flags    uint16
}

// Bytes returns the event's bytes as a slice that aliases Data. It is valid
// only as long as the memory behind Data is.
func (e *Event) Bytes() []byte {
	if e.Data == nil || e.Len == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(e.Data), e.Len)
}

// Batch mirrors struct weir_batch. It is always allocated outside the Go heap
// (see the runtime's arenas), because plugins read and write it.
type Batch struct {
	StructSize uint32
	EventSize  uint32
	Capacity   uint32
	Len        uint32
	Events     unsafe.Pointer // *Event, Capacity slots
	Arena      unsafe.Pointer // *byte, ArenaCap bytes
	ArenaCap   uint64
	ArenaLen   uint64
	ID         uint64
}

// Sizes of the structs as this host knows them.
const (
	EventSize = uint32(unsafe.Sizeof(Event{}))
	BatchSize = uint32(unsafe.Sizeof(Batch{}))
)

// EventSlice returns the batch's valid events (the first Len slots) as a
// slice aliasing the batch's event array.
func (b *Batch) EventSlice() []Event {
	if b.Events == nil || b.Len == 0 {
		return nil
	}
	return unsafe.Slice((*Event)(b.Events), b.Len)
}

// Slots returns all Capacity event slots as a slice aliasing the batch's
// event array.
func (b *Batch) Slots() []Event {
	if b.Events == nil || b.Capacity == 0 {
		return nil
	}
	return unsafe.Slice((*Event)(b.Events), b.Capacity)
}

// ArenaBytes returns the whole arena (ArenaCap bytes) as a slice.
func (b *Batch) ArenaBytes() []byte {
	if b.Arena == nil || b.ArenaCap == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(b.Arena), b.ArenaCap)
}

// Log levels (weir_log_level).
const (
	LogDebug int32 = 0
	LogInfo  int32 = 1
	LogWarn  int32 = 2
	LogError int32 = 3
)

// MetricKind mirrors weir_metric_kind, the kind of a metric a plugin
// registers with the host.
type MetricKind int32

// Metric kinds.
const (
	MetricCounter MetricKind = 0
	MetricGauge   MetricKind = 1
)

// String returns the metric kind's name.
func (k MetricKind) String() string {
	switch k {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	}
	return "unknown"
}
