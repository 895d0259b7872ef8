package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/format"
	"github.com/weirproject/weir/connector/spec"
)

// Spec describes the file sink's config fields.
var Spec = spec.Spec{
	{Name: "path", Kind: spec.String, Required: true, Doc: "File to write; created if missing."},
	{Name: "format", Kind: spec.Enum, Enum: []string{format.JSONL, format.Raw, format.Text, format.Packet, format.PacketJSON}, Default: format.JSONL,
		Doc: "jsonl (one JSON object per event, readable by the blaster), raw (little-endian uint32 length, then the bytes), text (the bytes and a newline), packet (a tcpdump-like line per packet event) or packet-json (a JSON object per packet event); the packet formats write a marker line for other events."},
	{Name: "append", Kind: spec.Bool, Default: false, Doc: "Append to an existing file instead of truncating it."},
	{Name: "buffer", Kind: spec.Size, Default: "256KiB", Max: "1GiB", Doc: "Bytes to buffer before writing to the file."},
	{Name: "flush_interval", Kind: spec.Duration, Default: "1s", Doc: "Write buffered bytes when a batch arrives this long after the last write; 0 writes every batch."},
	{Name: "fsync", Kind: spec.Bool, Default: false, Doc: "Sync the file to disk on drain and stop, after writing the buffer."},
}

// Config is the file sink's decoded config.
type Config struct {
	Path          string             `json:"path"`
	Format        string             `json:"format"`
	Append        bool               `json:"append"`
	Buffer        int64              `json:"buffer"`
	FlushInterval spec.DurationValue `json:"flush_interval"`
	Fsync         bool               `json:"fsync"`
}

// Sink is a sink that writes events to a file, buffered. It opens the file
// in Connect, writes the buffer when it fills or flush_interval has passed
// at the next batch, and on Pause, Drain, Stop and Close; Drain and Stop
// also fsync when configured.
type Sink struct {
	connector.Base
	cfg    Config
	name   string
	encode func([]byte, *cabi.Event) []byte
	f      *os.File
	buf    []byte
	// ends holds the end offset in buf of each event whose bytes are
	// (partly) still in buf, in order.
	ends []int
	// tail is how many bytes at the start of buf finish an event of a
	// failed batch whose first bytes are in the file; it is in no ends.
	// torn is set while the file ends inside a record.
	tail      int
	torn      bool
	lastFlush time.Time
	written   uint64
	// Events whose bytes all reached the file, events of accepted
	// batches still in buf, and events of accepted batches left in buf
	// when Close could not write them.
	writtenEvents atomic.Uint64
	unwritten     atomic.Uint64
	lost          atomic.Uint64
	// Events of failed batches (counted dropped by the engine) whose
	// bytes all reached the file anyway.
	droppedWritten atomic.Uint64
}

var (
	_ connector.Sink     = (*Sink)(nil)
	_ connector.Counting = (*Sink)(nil)
)

// New creates a file sink from a JSON config. It does not open the file.
func New(config []byte, env connector.Env) (*Sink, error) {
	var cfg Config
	if err := spec.Decode(Spec, config, &cfg); err != nil {
		return nil, fmt.Errorf("file %s: %w", env.Name, err)
	}
	enc, err := format.Encoder(cfg.Format)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", env.Name, err)
	}
	return &Sink{cfg: cfg, name: env.Name, encode: enc, buf: make([]byte, 0, int(cfg.Buffer))}, nil
}

// Connect opens the file.
func (s *Sink) Connect(context.Context, int) error {
	if s.f != nil {
		return nil
	}
	flags := os.O_WRONLY | os.O_CREATE
	if s.cfg.Append {
		flags |= os.O_APPEND
	} else {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(s.cfg.Path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("file %s: open: %w", s.name, err)
	}
	s.f = f
	s.lastFlush = time.Now()
	return nil
}

// Write encodes the batch into the buffer and writes the buffer out when it
// is full or stale.
func (s *Sink) Write(b *cabi.Batch) (cabi.Status, error) {
	if s.f == nil {
		return cabi.Error, fmt.Errorf("file %s: write before connect", s.name)
	}
	evs := b.EventSlice()
	accepted := len(s.ends) // events of earlier batches, before this one's
	mine := 0               // this batch's events written whole
	// flush writes the buffer out, telling the events of earlier batches
	// from this one's; when the write fails, this batch fails, its events
	// that reached the file count as dropped_written, and its other
	// events leave the buffer.
	flush := func() error {
		k, err := s.flushCount()
		mine += k - min(k, accepted)
		accepted -= min(k, accepted)
		if err != nil {
			s.droppedWritten.Add(uint64(mine))
			s.forget(accepted)
		}
		return err
	}
	for i := range evs {
		s.buf = s.encode(s.buf, &evs[i])
		s.ends = append(s.ends, len(s.buf))
		if len(s.buf) >= int(s.cfg.Buffer) {
			if err := flush(); err != nil {
				return cabi.Error, err
			}
		}
	}
	if (len(s.buf) > 0 || len(s.ends) > 0) && time.Since(s.lastFlush) >= time.Duration(s.cfg.FlushInterval) {
		if err := flush(); err != nil {
			return cabi.Error, err
		}
	}
	s.unwritten.Store(uint64(len(s.ends)))
	return cabi.OK, nil
}

// forget drops from the buffer the bytes of every event after the first
// accepted ones, after a write failed: their batch fails, so they must not
// reach the file later. The rest of one of them already partly written
// stays as the tail, so the next write completes its record and the
// records after it are not glued to a torn one.
func (s *Sink) forget(accepted int) {
	cut := 0
	switch {
	case accepted > 0:
		cut = s.ends[accepted-1]
	case s.tail > 0:
		cut = s.tail
	case s.torn && len(s.ends) > 0:
		cut = s.ends[0]
		s.tail = cut
	}
	s.buf, s.ends = s.buf[:cut], s.ends[:accepted]
	s.unwritten.Store(uint64(accepted))
}

// Counters reports how many events reached the file whole, how many of
// the batches the sink accepted are still in its buffer (waiting for the
// next write; after a stop whose write failed, they wait for Close), and
// how many of those Close could not write. Lost is a counter, not part of
// the gauge, so the engine still reports them after it recreates the sink.
func (s *Sink) Counters() []connector.Counter {
	return []connector.Counter{
		{Name: "written", Help: "Events whose bytes all reached the file.", Value: s.writtenEvents.Load()},
		{Name: "unwritten", Help: "Events of accepted batches still in the buffer.", Value: s.unwritten.Load(), Gauge: true},
		{Name: "lost", Help: "Events of accepted batches left in the buffer when the sink closed with the write failing.", Value: s.lost.Load()},
		{Name: "dropped_written", Help: "Events of failed batches, counted dropped, whose bytes all reached the file anyway; also counted written.", Value: s.droppedWritten.Load()},
	}
}

// flush writes the buffer to the file.
func (s *Sink) flush() error {
	_, err := s.flushCount()
	s.unwritten.Store(uint64(len(s.ends)))
	return err
}

// flushCount writes the buffer to the file and returns how many events
// it wrote whole.
func (s *Sink) flushCount() (int, error) {
	s.lastFlush = time.Now()
	if s.f == nil {
		return 0, nil
	}
	if len(s.buf) == 0 {
		// Events encoded as no bytes are whole in the file already.
		k := len(s.ends)
		s.writtenEvents.Add(uint64(k))
		s.ends = s.ends[:0]
		return k, nil
	}
	n, err := s.f.Write(s.buf)
	s.written += uint64(n)
	k := 0
	for k < len(s.ends) && s.ends[k] <= n {
		k++
	}
	whole := k
	if s.tail > 0 && n >= s.tail {
		whole++ // the failed batch's event is whole in the file now
		s.droppedWritten.Add(1)
	}
	s.writtenEvents.Add(uint64(whole))
	if n > 0 {
		s.torn = !(s.tail > 0 && n == s.tail || k > 0 && s.ends[k-1] == n)
	}
	s.tail = max(s.tail-n, 0)
	// Keep what was not written, so a later flush can try again.
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	rest := s.ends[:copy(s.ends, s.ends[k:])]
	for i := range rest {
		rest[i] -= n
	}
	s.ends = rest
	if err != nil {
		// os.File's errors name the operation and the path.
		return k, fmt.Errorf("file %s: %w", s.name, err)
	}
	return k, nil
}

// sync flushes and, if configured, fsyncs.
func (s *Sink) sync() error {
	if err := s.flush(); err != nil {
		return err
	}
	if s.cfg.Fsync && s.f != nil {
		// A pipe, socket or device such as /dev/stdout has nothing to
		// sync: fsync says EINVAL.
		if err := s.f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("file %s: fsync %s: %w", s.name, s.cfg.Path, err)
		}
	}
	return nil
}

// Written returns how many bytes have reached the file.
func (s *Sink) Written() uint64 { return s.written }

// Pause writes the buffer out.
func (s *Sink) Pause() error { return s.flush() }

// Drain writes the buffer out and syncs if configured.
func (s *Sink) Drain() error { return s.sync() }

// Stop writes the buffer out and syncs if configured.
func (s *Sink) Stop() error { return s.sync() }

// Close writes what is left and closes the file. It is safe after a failed
// Connect.
func (s *Sink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.flush()
	if cerr := s.f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("file %s: close %s: %w", s.name, s.cfg.Path, cerr))
	}
	s.f = nil
	// What is still buffered can never reach the file.
	s.lost.Add(uint64(len(s.ends)))
	s.buf, s.ends, s.tail, s.torn = s.buf[:0], s.ends[:0], 0, false
	s.unwritten.Store(0)
	return err
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "file",
		Description: "Writes events to a file as JSON lines, length-prefixed raw records or text lines, or packets as tcpdump-like or JSON lines.",
		Roles:       connector.RoleSink,
		Spec:        Spec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
