package blaster

import (
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/format"
	"github.com/weirproject/weir/connector/spec"
)

// Spec describes the blaster's config fields.
var Spec = spec.Spec{
	{Name: "file", Kind: spec.String, Default: "", Doc: "Event file to replay; empty synthesises events of size bytes instead."},
	{Name: "format", Kind: spec.Enum, Enum: []string{format.JSONL, format.Raw}, Default: format.JSONL, Doc: "Format of file: jsonl (one JSON object per line) or raw (little-endian uint32 length, then the bytes)."},
	{Name: "rate", Kind: spec.Float, Default: 0.0, Min: 0.0, Doc: "Events per second to emit; 0 emits flat out."},
	{Name: "loops", Kind: spec.Uint, Default: 1, Doc: "Times to replay the file, or to emit count synthetic events; 0 repeats forever."},
	{Name: "count", Kind: spec.Uint, Default: 0, Doc: "Synthetic events per loop when no file is given; 0 is unbounded."},
	{Name: "size", Kind: spec.Size, Default: 64, Max: format.MaxEventLen, Doc: "Bytes per synthetic event."},
	{Name: "kind", Kind: spec.Enum, Enum: format.KindNames[:], Default: "raw", Doc: "Kind of synthetic events and of raw-format records."},
	{Name: "stream_id", Kind: spec.Uint, Default: 0, Doc: "Stream ID of synthetic events and of raw-format records."},
	{Name: "copy", Kind: spec.Bool, Default: false, Doc: "Copy each event's bytes into the batch arena instead of pointing into the preloaded buffer; needed when a processor rewrites bytes in place, which would otherwise change what later loops replay."},
}

// Config is the blaster's decoded config.
type Config struct {
	File     string  `json:"file"`
	Format   string  `json:"format"`
	Rate     float64 `json:"rate"`
	Loops    uint64  `json:"loops"`
	Count    uint64  `json:"count"`
	Size     int64   `json:"size"`
	Kind     string  `json:"kind"`
	StreamID uint64  `json:"stream_id"`
	Copy     bool    `json:"copy"`
}

// synthPattern is how many distinct synthetic events the blaster cycles
// through; each points at a different offset of one pattern buffer.
const synthPattern = 256

// Source is a source that replays preloaded events, or synthesises them,
// at a set rate or flat out. It loads its file once, outside the Go heap,
// and the events it emits point into that buffer, so no event bytes are
// copied per event (unless configured to copy them into the batch arena).
// Every event of one Poll carries the same TsNs: the time of that Poll,
// read once.
type Source struct {
	connector.Base
	cfg  Config
	name string

	buf   offHeap
	tmpl  []cabi.Event // the events of one pass over the template, in order
	limit uint64       // events to emit in all; 0 is unbounded

	pos     int    // next template index
	emitted uint64 // events emitted so far
	// Pacing: events emitted since paceStart, for rate > 0.
	paceStart time.Time
	paced     uint64
	paused    bool
	drained   bool

	stat atomic.Uint64 // emitted, readable from other goroutines
}

var (
	_ connector.Source = (*Source)(nil)
)

// New creates a blaster from a JSON config. It reads and parses the
// event file, if any, so errors in it surface here, naming file and line.
func New(config []byte, env connector.Env) (*Source, error) {
	var cfg Config
	if err := spec.Decode(Spec, config, &cfg); err != nil {
		return nil, fmt.Errorf("blaster %s: %w", env.Name, err)
	}
	b := &Source{cfg: cfg, name: env.Name}
	if err := b.load(); err != nil {
		b.buf.free()
		return nil, fmt.Errorf("blaster %s: %w", env.Name, err)
	}
	return b, nil
}

func (b *Source) load() error {
	c := &b.cfg
	kind, ok := format.KindByName(c.Kind)
	if !ok {
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	var recs []format.Record
	if c.File == "" {
		if c.Size > format.MaxEventLen {
			return fmt.Errorf("size %d is larger than the limit of %d", c.Size, format.MaxEventLen)
		}
		n := int(c.Size)
		// The pattern is written straight into the off-heap buffer.
		var err error
		if b.buf, err = allocOffHeap(n + synthPattern - 1); err != nil {
			return err
		}
		for i := range b.buf.mem {
			b.buf.mem[i] = 'a' + byte(i%26)
		}
		recs = make([]format.Record, synthPattern)
		for i := range recs {
			recs[i] = format.Record{Off: i, N: n, Kind: kind, Stream: c.StreamID}
		}
		b.limit = limit(c.Count, c.Loops)
	} else {
		src, err := os.ReadFile(c.File)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		var data []byte
		switch c.Format {
		case format.JSONL:
			data, recs, err = format.ParseJSONL(c.File, src)
		case format.Raw:
			data = src
			recs, err = format.ParseRaw(c.File, src, kind, c.StreamID)
		default:
			return fmt.Errorf("unknown format %q; want jsonl or raw", c.Format)
		}
		if err != nil {
			return fmt.Errorf("parse events: %w", err)
		}
		if len(recs) == 0 {
			return fmt.Errorf("parse events: %s holds no events", c.File)
		}
		b.limit = limit(uint64(len(recs)), c.Loops)
		if b.buf, err = newOffHeap(data); err != nil {
			return err
		}
	}
	b.tmpl = make([]cabi.Event, len(recs))
	for i, r := range recs {
		e := cabi.Event{StreamID: r.Stream, Len: uint32(r.N), Kind: r.Kind}
		if r.N > 0 {
			e.Data = unsafe.Pointer(&b.buf.mem[r.Off])
		}
		b.tmpl[i] = e
	}
	return nil
}

// limit is the number of events to emit in all, 0 for unbounded: perLoop
// times loops, saturating instead of overflowing.
func limit(perLoop, loops uint64) uint64 {
	switch {
	case perLoop == 0 || loops == 0:
		return 0
	case loops > math.MaxUint64/perLoop:
		return math.MaxUint64
	}
	return perLoop * loops
}

// Emitted returns how many events the blaster has emitted. Safe for
// concurrent use.
func (b *Source) Emitted() uint64 { return b.stat.Load() }

// Events returns how many events one loop emits: the events in the file,
// or count for synthetic events (0 when unbounded).
func (b *Source) Events() uint64 {
	if b.cfg.File == "" {
		return b.cfg.Count
	}
	return uint64(len(b.tmpl))
}

// Start begins the rate clock.
func (b *Source) Start() error {
	b.restartPacing()
	return nil
}

// Pause stops emission until Resume.
func (b *Source) Pause() error {
	b.paused = true
	return nil
}

// Resume continues emission; the rate clock restarts, so a pause does not
// turn into a burst.
func (b *Source) Resume() error {
	b.paused = false
	b.restartPacing()
	return nil
}

// Drain makes the next Poll return EOF.
func (b *Source) Drain() error {
	b.drained = true
	return nil
}

// Close frees the preloaded events. Poll must not run afterwards.
func (b *Source) Close() error {
	b.tmpl = nil
	return b.buf.free()
}

func (b *Source) restartPacing() {
	b.paceStart = time.Now()
	b.paced = 0
}

// Poll appends up to the batch's free slots of events, as the rate allows.
func (b *Source) Poll(batch *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if b.drained || (b.limit != 0 && b.emitted >= b.limit) {
		return cabi.EOF, nil
	}
	if b.paused {
		time.Sleep(timeout)
		return cabi.Timeout, nil
	}
	if batch.Len >= batch.Capacity {
		return cabi.OK, nil
	}
	want := uint64(batch.Capacity - batch.Len)
	if b.limit != 0 {
		want = min(want, b.limit-b.emitted)
	}
	now := time.Now()
	if b.cfg.Rate > 0 {
		if b.paceStart.IsZero() {
			b.restartPacing()
			now = b.paceStart
		}
		allowed := b.allowed(now)
		if allowed == 0 {
			// Sleep until the next event is due, or the timeout.
			due := b.paceStart.Add(time.Duration(float64(b.paced+1) / b.cfg.Rate * float64(time.Second)))
			wait := due.Sub(now)
			if wait > timeout {
				time.Sleep(timeout)
				return cabi.Timeout, nil
			}
			time.Sleep(wait)
			now = time.Now()
			allowed = max(b.allowed(now), 1)
		}
		want = min(want, allowed)
	}
	ts := uint64(now.UnixNano())
	slots := unsafe.Slice((*cabi.Event)(unsafe.Add(batch.Events, uintptr(batch.Len)*uintptr(cabi.EventSize))), want)
	tmpl, pos := b.tmpl, b.pos
	if b.cfg.Copy {
		n, err := b.copyInto(batch, slots, ts)
		if err != nil {
			return cabi.Error, err
		}
		want = n
	} else {
		for i := range slots {
			e := tmpl[pos]
			e.TsNs = ts
			slots[i] = e
			if pos++; pos == len(tmpl) {
				pos = 0
			}
		}
		b.pos = pos
	}
	batch.Len += uint32(want)
	b.emitted += want
	b.paced += want
	b.stat.Store(b.emitted)
	if b.limit != 0 && b.emitted >= b.limit {
		return cabi.EOF, nil
	}
	return cabi.OK, nil
}

// copyInto fills slots with the next events, their bytes copied into the
// batch arena, until the slots or the arena run out. It returns how many it
// appended, and an error if the next event cannot fit even an empty arena.
func (b *Source) copyInto(batch *cabi.Batch, slots []cabi.Event, ts uint64) (uint64, error) {
	arena := batch.ArenaBytes()
	used := batch.ArenaLen
	pos := b.pos
	var n int
	for n < len(slots) {
		e := b.tmpl[pos]
		if uint64(e.Len) > uint64(len(arena))-used {
			if n == 0 && used == 0 {
				return 0, fmt.Errorf("blaster %s: event of %d bytes does not fit the batch arena of %d bytes", b.name, e.Len, len(arena))
			}
			break
		}
		if e.Len > 0 {
			dst := arena[used : used+uint64(e.Len)]
			copy(dst, e.Bytes())
			e.Data = unsafe.Pointer(&dst[0])
			used += uint64(e.Len)
		}
		e.TsNs = ts
		slots[n] = e
		n++
		if pos++; pos == len(b.tmpl) {
			pos = 0
		}
	}
	batch.ArenaLen = used
	b.pos = pos
	return uint64(n), nil
}

// allowed returns how many events the rate lets out at now.
func (b *Source) allowed(now time.Time) uint64 {
	due := uint64(now.Sub(b.paceStart).Seconds() * b.cfg.Rate)
	if due <= b.paced {
		return 0
	}
	return due - b.paced
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "blaster",
		Description: "Replays a file of events, or synthesises events, at a set rate or flat out.",
		Roles:       connector.RoleSource,
		Spec:        Spec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
