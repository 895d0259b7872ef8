package operator

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

var aggregateSpec = spec.Spec{
	{Name: "window", Kind: spec.Duration, Required: true, Min: "1ms", Doc: "Length of the tumbling windows, aligned to multiples of it since the Unix epoch on the wall clock."},
	{Name: "group_by", Kind: spec.Enum, Enum: []string{"kind", "stream_id", "none"}, Default: "kind", Doc: "Event field whose value makes the groups; none keeps one group."},
	{Name: "sum", Kind: spec.Enum, Enum: []string{"len", "u8", "u16le", "u32le", "u64le", "none"}, Default: "len",
		Doc: "What to sum per group: the event length, or an unsigned little-endian integer read from the payload at sum_offset (events too short add 0), or nothing."},
	{Name: "sum_offset", Kind: spec.Uint, Default: 0, Doc: "Byte offset in the payload of the integer that sum reads."},
	{Name: "format", Kind: spec.Enum, Enum: []string{"binary", "json"}, Default: "binary", Doc: "Payload of the rollup events: a 40-byte little-endian record (kind raw) or a JSON object (kind json)."},
	{Name: "max_groups", Kind: spec.Uint, Default: 4096, Min: 1, Max: 1 << 20, Doc: "Most groups per window; events of further groups are counted in one overflow group whose key is 2^64-1."},
}

// RecordSize is the length of a binary rollup record.
const RecordSize = 40

// OverflowKey is the group key of events that arrived when a window
// already had max_groups groups.
const OverflowKey = ^uint64(0)

// Sum sources.
const (
	sumLen = iota
	sumU8
	sumU16
	sumU32
	sumU64
	sumNone
)

var sumNames = map[string]int{"len": sumLen, "u8": sumU8, "u16le": sumU16, "u32le": sumU32, "u64le": sumU64, "none": sumNone}

// rollup is one group's totals over one window.
type rollup struct {
	start, end uint64 // Unix ns
	key        uint64
	count, sum uint64
}

// Aggregate counts the events and sums a field per group over tumbling
// windows of processing time. It absorbs every live event (marks it
// dropped) and, via Flush, emits one rollup event per group when a window
// ends. Binary rollups are 40 bytes, all little-endian uint64:
//
//	0  window start, Unix ns
//	8  window end, Unix ns (exclusive)
//	16 group key (kind or stream ID; 0 for group_by none; OverflowKey)
//	24 event count
//	32 sum
//
// JSON rollups are one object:
// {"start_ns":S,"end_ns":E,"group_by":"kind","key":K,"count":C,"sum":N}.
// A rollup event has TsNs = window end, Kind raw or json, and StreamID = the
// key when grouping by stream_id, else 0.
type Aggregate struct {
	window    uint64
	groupBy   string
	group     int // fieldKind, fieldStream, or -1 for none
	sum       int
	sumOffset uint64
	json      bool
	maxGroups int

	start, end uint64 // current window; end == 0 when idle
	index      groupTable
	groups     []rollup
	pending    []rollup // closed windows not yet emitted
	buf        []byte
}

var _ Emitter = (*Aggregate)(nil)

func newAggregate(config []byte) (Op, error) {
	var c struct {
		Window    string `json:"window"`
		GroupBy   string `json:"group_by"`
		Sum       string `json:"sum"`
		SumOffset uint64 `json:"sum_offset"`
		Format    string `json:"format"`
		MaxGroups int    `json:"max_groups"`
	}
	if err := decode(config, &c); err != nil {
		return nil, err
	}
	w, err := spec.ParseDuration(c.Window)
	if err != nil {
		return nil, err
	}
	a := &Aggregate{
		window: uint64(w), groupBy: c.GroupBy, group: -1, sum: sumNames[c.Sum], sumOffset: c.SumOffset,
		json: c.Format == "json", maxGroups: c.MaxGroups,
		index: newGroupTable(c.MaxGroups + 1), groups: make([]rollup, 0, c.MaxGroups+1),
		pending: make([]rollup, 0, c.MaxGroups), buf: make([]byte, 0, 160),
	}
	switch c.GroupBy {
	case "kind":
		a.group = fieldKind
	case "stream_id":
		a.group = fieldStream
	}
	return a, nil
}

// Apply adds every live event to its group in the window containing now,
// closing the previous window first if now is past it, and marks the event
// dropped.
func (a *Aggregate) Apply(b *cabi.Batch, now time.Time) {
	t := unixNano(now)
	if a.end != 0 && t >= a.end {
		a.close()
	}
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		if e.Flags&cabi.FlagDrop != 0 {
			continue
		}
		e.Flags |= cabi.FlagDrop
		if a.end == 0 {
			a.start = t - t%a.window
			a.end = a.start + a.window
		}
		var key uint64
		if a.group >= 0 {
			key = fieldValue(e, uint8(a.group))
		}
		g, ok := a.index.get(key)
		if !ok {
			if len(a.groups) >= a.maxGroups {
				key = OverflowKey
				g, ok = a.index.get(key)
			}
			if !ok {
				g = int32(len(a.groups))
				a.groups = append(a.groups, rollup{start: a.start, end: a.end, key: key})
				a.index.put(key, g)
			}
		}
		r := &a.groups[g]
		r.count++
		r.sum += a.value(e)
	}
}

// unixNano is now in Unix nanoseconds, clamped to [0, MaxInt64] so that a
// far-future time (a final flush) closes every window instead of
// overflowing.
func unixNano(now time.Time) uint64 {
	switch {
	case now.Before(time.Unix(0, 0)):
		return 0
	case now.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return uint64(now.UnixNano())
}

// value is what an event adds to its group's sum.
func (a *Aggregate) value(e *cabi.Event) uint64 {
	var size uint64
	switch a.sum {
	case sumLen:
		return uint64(e.Len)
	case sumNone:
		return 0
	case sumU8:
		size = 1
	case sumU16:
		size = 2
	case sumU32:
		size = 4
	default:
		size = 8
	}
	if e.Data == nil || uint64(e.Len) < a.sumOffset+size {
		return 0
	}
	p := unsafe.Slice((*byte)(unsafe.Add(e.Data, a.sumOffset)), size)
	switch size {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(p))
	case 4:
		return uint64(binary.LittleEndian.Uint32(p))
	}
	return binary.LittleEndian.Uint64(p)
}

// close moves the current window's groups to pending.
func (a *Aggregate) close() {
	a.pending = append(a.pending, a.groups...)
	a.groups = a.groups[:0]
	a.index.reset()
	a.end = 0
}

// Flush closes the current window if now is past its end (a time far in
// the future, as at a final drain, closes it whatever its end), appends as many
// pending rollups to out as fit, and returns when it wants to be called
// again: now if rollups are still waiting for room, the current window's
// end if one is open, or zero.
func (a *Aggregate) Flush(now time.Time, out *cabi.Batch) time.Time {
	t := unixNano(now)
	if a.end != 0 && t >= a.end {
		a.close()
	}
	n := 0
	for ; n < len(a.pending); n++ {
		if !a.emit(&a.pending[n], out) {
			break
		}
	}
	if n > 0 {
		rest := copy(a.pending, a.pending[n:])
		a.pending = a.pending[:rest]
	}
	switch {
	case len(a.pending) > 0:
		return now
	case a.end != 0:
		return time.Unix(0, int64(a.end))
	}
	return time.Time{}
}

// emit appends one rollup event to out, reporting false when out is full.
func (a *Aggregate) emit(r *rollup, out *cabi.Batch) bool {
	var stream uint64
	if a.group == fieldStream {
		stream = r.key
	}
	buf := a.buf[:0]
	kind := cabi.KindRaw
	if a.json {
		kind = cabi.KindJSON
		buf = append(buf, `{"start_ns":`...)
		buf = strconv.AppendUint(buf, r.start, 10)
		buf = append(buf, `,"end_ns":`...)
		buf = strconv.AppendUint(buf, r.end, 10)
		buf = append(buf, `,"group_by":"`...)
		buf = append(buf, a.groupBy...)
		buf = append(buf, `","key":`...)
		buf = strconv.AppendUint(buf, r.key, 10)
		buf = append(buf, `,"count":`...)
		buf = strconv.AppendUint(buf, r.count, 10)
		buf = append(buf, `,"sum":`...)
		buf = strconv.AppendUint(buf, r.sum, 10)
		buf = append(buf, '}')
	} else {
		buf = binary.LittleEndian.AppendUint64(buf, r.start)
		buf = binary.LittleEndian.AppendUint64(buf, r.end)
		buf = binary.LittleEndian.AppendUint64(buf, r.key)
		buf = binary.LittleEndian.AppendUint64(buf, r.count)
		buf = binary.LittleEndian.AppendUint64(buf, r.sum)
	}
	a.buf = buf
	return out.Append(r.end, stream, kind, 0, buf)
}

// groupTable maps group keys to indexes in Aggregate.groups: open
// addressing with linear probing, at most half full, emptied in O(1) by
// bumping a generation number. It never allocates after creation.
type groupTable struct {
	keys  []uint64
	vals  []int32
	gens  []uint32 // a slot is in use when its gen equals gen
	gen   uint32
	shift uint
}

func newGroupTable(n int) groupTable {
	size := 2
	for size < 2*n {
		size *= 2
	}
	shift := uint(64)
	for s := size; s > 1; s /= 2 {
		shift--
	}
	return groupTable{keys: make([]uint64, size), vals: make([]int32, size), gens: make([]uint32, size), gen: 1, shift: shift}
}

func (t *groupTable) slot(key uint64) int {
	return int((key * 0x9e3779b97f4a7c15) >> t.shift)
}

func (t *groupTable) get(key uint64) (int32, bool) {
	mask := len(t.keys) - 1
	for i := t.slot(key); ; i = (i + 1) & mask {
		if t.gens[i] != t.gen {
			return 0, false
		}
		if t.keys[i] == key {
			return t.vals[i], true
		}
	}
}

// put adds key, which must not be present; the caller keeps the table at
// most half full.
func (t *groupTable) put(key uint64, v int32) {
	mask := len(t.keys) - 1
	i := t.slot(key)
	for t.gens[i] == t.gen {
		i = (i + 1) & mask
	}
	t.keys[i], t.vals[i], t.gens[i] = key, v, t.gen
}

func (t *groupTable) reset() {
	t.gen++
	if t.gen == 0 { // wrapped: old slots could look current
		clear(t.gens)
		t.gen = 1
	}
}
