package runtime

import (
	"fmt"
	"strings"

	"github.com/weirproject/weir/cabi"
)

// Limits on the sizes in Options. Every batch a pool makes is one off-heap
// mapping (cabi.AllocBatch) of BatchEvents event slots and BatchBytes of
// arena, and a pipeline keeps 8 bytes of heap per event slot besides; a
// producer whose consumers are slow fills all PoolBatches of its batches.
// Sizes beyond these limits cannot work or cannot be afforded, so New
// refuses them rather than failing every allocation at run time.
const (
	// MaxBatchEvents is the most events a batch may hold: 1Mi slots,
	// 40 MiB of descriptors.
	MaxBatchEvents = 1 << 20
	// MaxBatchBytes is the largest batch arena, 1 GiB.
	MaxBatchBytes = 1 << 30
	// MaxPoolBatches is the most batches one producer may have in flight,
	// whatever their size.
	MaxPoolBatches = 1 << 12
	// MaxPoolBytes is the most off-heap memory one producer's pool may
	// map: PoolBatches × (BatchEvents × cabi.EventSize + BatchBytes).
	// It lowers the allowed PoolBatches for large batches.
	MaxPoolBytes = 16 << 30
	// MaxEdgeCapacity is the longest edge queue, in batches.
	MaxEdgeCapacity = 1 << 16
)

// The limits are within what cabi.AllocBatch accepts.
var _ = [1]struct{}{}[max(0, MaxBatchEvents-cabi.MaxBatchCapacity, MaxBatchBytes-cabi.MaxArenaCap)]

// RangeError reports an Options field whose value is outside the range
// New accepts.
type RangeError struct {
	// Field is the Options field, such as "BatchEvents".
	Field string
	// Value is what it was set to, or the default when it was 0 (Note
	// then says so).
	Value int64
	// Min and Max bound the values allowed; 0 always means the default.
	Min, Max int64
	// Note says why the range is what it is when it depends on other
	// fields, or is "".
	Note string
}

// Error implements error.
func (e *RangeError) Error() string {
	s := fmt.Sprintf("%s %d is out of range %d..%d", e.Field, e.Value, e.Min, e.Max)
	if e.Note != "" {
		s += " " + e.Note
	}
	return s
}

// OptionsError is the error Check and New return for Options they refuse.
// It lists every field out of range.
type OptionsError struct {
	Fields []*RangeError
}

// Error implements error.
func (e *OptionsError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid engine options: " + strings.Join(parts, "; ")
}

// Check reports the sizes in o that New refuses: each field outside its
// range, in a *OptionsError. A zero field stands for its default, and is
// checked as the default. It returns nil when o is usable.
func (o Options) Check() error {
	d := o
	d.setDefaults()
	var bad []*RangeError
	field := func(name string, set, used, hi int64, note string) bool {
		if set >= 0 && used >= 1 && used <= hi {
			return true
		}
		v := set
		if set == 0 {
			v, note = used, strings.TrimSpace("(the default) "+note)
		}
		bad = append(bad, &RangeError{Field: name, Value: v, Min: 1, Max: hi, Note: note})
		return false
	}
	evOK := field("BatchEvents", int64(o.BatchEvents), int64(d.BatchEvents), MaxBatchEvents, "")
	bytesOK := field("BatchBytes", int64(o.BatchBytes), int64(d.BatchBytes), MaxBatchBytes, "")
	field("EdgeCapacity", int64(o.EdgeCapacity), int64(d.EdgeCapacity), MaxEdgeCapacity, "")
	// The pool's bound depends on the batch size, when that is in range.
	pool, note := int64(MaxPoolBatches), ""
	if evOK && bytesOK {
		batch := int64(d.BatchEvents)*int64(cabi.EventSize) + int64(d.BatchBytes)
		if n := int64(MaxPoolBytes) / batch; n < pool {
			pool = n
			note = fmt.Sprintf("for batches of %d events and %d arena bytes (a pool maps at most %d GiB)", d.BatchEvents, d.BatchBytes, MaxPoolBytes>>30)
		}
	}
	field("PoolBatches", int64(o.PoolBatches), int64(d.PoolBatches), pool, note)
	if len(bad) > 0 {
		return &OptionsError{Fields: bad}
	}
	return nil
}
