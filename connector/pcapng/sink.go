package pcapng

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/format"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/ingest/packet"
)

// Spec describes the pcapng sink's config fields.
var Spec = spec.Spec{
	{Name: "path", Kind: spec.String, Required: true, Doc: "File to write, created or truncated; - writes to standard output."},
	{Name: "flush_interval", Kind: spec.Duration, Default: "200ms", Min: "0s",
		Doc: "Longest time a written packet waits in the buffer, also when no more packets come; 0 writes at the end of every batch."},
	{Name: "fsync", Kind: spec.Bool, Default: false, Doc: "Sync the file to disk on drain and stop, after writing the buffer."},
	{Name: "snaplen", Kind: spec.Size, Default: packet.SnaplenMax, Min: 1, Doc: "Snap length each interface description states: the most bytes of a packet the capture keeps."},
	{Name: "interfaces", Kind: spec.Strings, Default: []string{}, Doc: "Interfaces to describe at the start of the file, in this order, even if no packet comes from them; others are described when their first packet comes."},
}

// Config is the pcapng sink's decoded config.
type Config struct {
	Path          string             `json:"path"`
	FlushInterval spec.DurationValue `json:"flush_interval"`
	Fsync         bool               `json:"fsync"`
	Snaplen       uint32             `json:"snaplen"`
	Interfaces    []string           `json:"interfaces"`
}

// Stdout is the path that means standard output.
const Stdout = "-"

// Sink is a sink that writes packet events to a pcapng file, as enhanced
// packet blocks, with an interface description block (Ethernet,
// packet.SnaplenMax, named as the host names the interface) the first time
// each interface index appears. Other events, malformed packet records and
// packets too large for a pcapng block (ErrTooLarge) are counted by
// Rejected and skipped.
//
// It opens the file in Connect. Blocks are buffered and written when the
// buffer fills, at most flush_interval after they were buffered (by a
// timer of the sink's, also when no batch follows), and on Pause, Drain,
// Stop and Close; Drain and Stop also fsync when configured. When a write
// fails (a full disk), the file keeps the whole blocks that fit, Written
// counts its packets exactly, and Write, Drain, Stop and Close return the
// error from then on.
//
// Write, Written, Rejected and the timer may run concurrently; the other
// methods follow the connector.Connector lifecycle.
type Sink struct {
	connector.Base
	cfg  Config
	name string
	app  string
	out  io.Writer // for Stdout

	mu       sync.Mutex
	w        *Writer
	closed   bool
	timer    *time.Timer
	armed    bool
	ids      map[uint32]int // interface index → pcapng interface ID
	names    format.InterfaceNames
	rejected uint64
	hdr      packet.Header // a copy of an unaligned record's header
	// The packet comment of sampled packets (see sampleComment), kept for
	// the last rate and mode seen, so a run of them formats it once.
	commentRate uint32
	commentMode uint8
	comment     []byte
}

var (
	_ connector.Sink     = (*Sink)(nil)
	_ connector.Counting = (*Sink)(nil)
)

// New creates a pcapng sink from a JSON config. It checks that the file's
// directory exists but does not open the file.
func New(config []byte, env connector.Env) (*Sink, error) {
	cfg, err := parse(config)
	if err != nil {
		return nil, fmt.Errorf("pcapng %s: %w", env.Name, err)
	}
	return &Sink{cfg: cfg, name: env.Name, app: "weir", out: os.Stdout, ids: map[uint32]int{}}, nil
}

// parse decodes a config and checks that its path can be a file: its
// directory exists, and the path is not a directory itself.
func parse(config []byte) (Config, error) {
	var cfg Config
	if err := spec.Decode(Spec, config, &cfg); err != nil {
		return cfg, err
	}
	if cfg.Path == Stdout {
		return cfg, nil
	}
	if st, err := os.Stat(cfg.Path); err == nil && st.IsDir() {
		return cfg, fmt.Errorf("path %s is a directory", cfg.Path)
	}
	dir := filepath.Dir(cfg.Path)
	if st, err := os.Stat(dir); err != nil {
		return cfg, fmt.Errorf("path %s: %w", cfg.Path, err)
	} else if !st.IsDir() {
		return cfg, fmt.Errorf("path %s: %s is not a directory", cfg.Path, dir)
	}
	return cfg, nil
}

// SetOutput replaces standard output as the destination of path "-", for
// tests and commands. Call it before Connect.
func (s *Sink) SetOutput(w io.Writer) { s.out = w }

// SetApplication sets the application recorded in the section header
// (shb_userappl), "weir" unless set. Call it before Connect.
func (s *Sink) SetApplication(app string) { s.app = app }

// Connect creates the file, or starts the stream on standard output, and
// buffers the section header.
func (s *Sink) Connect(context.Context, int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		return nil
	}
	var w *Writer
	var err error
	if s.cfg.Path == Stdout {
		w, err = NewWriter(s.out, s.app)
	} else {
		w, err = Create(s.cfg.Path, s.app)
	}
	switch {
	case errors.Is(err, ErrNoReader):
		return fmt.Errorf("pcapng %s: %w", s.name, err) // a reader may come: retried
	case err != nil:
		// A missing directory, a directory, no permission: retrying
		// cannot help.
		return connector.Permanent(fmt.Errorf("pcapng %s: %w", s.name, err))
	}
	s.w = w
	for _, name := range s.cfg.Interfaces {
		// An interface that does not exist (yet) is described when
		// its first packet comes, like any other.
		if ifc, err := net.InterfaceByName(name); err == nil {
			if _, err := s.iface(uint32(ifc.Index)); err != nil {
				w.Close()
				s.w = nil
				return fmt.Errorf("pcapng %s: describe interface %s: %w", s.name, name, err)
			}
		}
	}
	s.timer = time.AfterFunc(time.Hour, s.tick)
	s.timer.Stop()
	s.arm()
	return nil
}

// Write adds every packet event of b to the buffer.
func (s *Sink) Write(b *cabi.Batch) (cabi.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil || s.closed {
		return cabi.Error, fmt.Errorf("pcapng %s: write before connect or after close", s.name)
	}
	evs := b.EventSlice()
	// Packets come in runs from one interface: look the ID up once per
	// run, not in the map once per packet. lastIndex starts at a value no
	// uint32 index has, so the first packet looks its interface up, also
	// one with index 0xffffffff.
	lastIndex, lastID := uint64(1)<<32, 0
	for i := range evs {
		e := &evs[i]
		if e.Kind != cabi.KindPacket {
			s.rejected++
			continue
		}
		// The aligned case, a ring record's, is packet.View inlined
		// here: a call per packet cost more than the checks.
		var h *packet.Header
		var data []byte
		var ok bool
		if rec := e.Bytes(); uintptr(e.Data)%8 == 0 {
			h, data, ok = packet.View(rec)
		} else {
			h, data, ok = s.viewCopy(rec)
		}
		if !ok {
			s.rejected++
			continue
		}
		var err error
		if uint64(h.Ifindex) != lastIndex {
			if lastID, err = s.iface(h.Ifindex); err != nil {
				return cabi.Error, s.failed(err)
			}
			lastIndex = uint64(h.Ifindex)
		}
		if h.SampleRate <= 1 && len(data) <= maxBlock-64 && !s.w.closed {
			// An unsampled packet, the common case, is
			// WritePacket inlined, to save a call per packet: its
			// interface is added, the block not too large, the
			// Writer open. Without room in the buffer (full, or a
			// write failed) WritePacketComment handles it.
			if b := s.w.out.tryReserve(packetLen(len(data))); b != nil {
				putPacket(b, uint32(lastID), e.TsNs, data, max(h.OrigLen, uint32(len(data))))
				s.w.out.pending++
				continue
			}
		}
		if err = s.w.WritePacketComment(lastID, e.TsNs, data, int(h.OrigLen), s.sampleComment(h)); err != nil {
			if errors.Is(err, ErrTooLarge) {
				// Nothing of it was written, and the file
				// can take the next packets.
				s.rejected++
				continue
			}
			return cabi.Error, s.failed(err)
		}
	}
	if s.cfg.FlushInterval == 0 {
		if err := s.w.Flush(); err != nil {
			return cabi.Error, s.failed(err)
		}
		return cabi.OK, nil
	}
	s.arm()
	return cabi.OK, nil
}

// viewCopy returns the header and captured bytes of a packet record that
// is not 8-byte aligned, as ring records are, from a copy of the header.
func (s *Sink) viewCopy(rec []byte) (*packet.Header, []byte, bool) {
	h, data, err := packet.Decode(rec)
	s.hdr = h
	return &s.hdr, data, err == nil
}

// sampleComment returns the packet comment of a sampled packet, such as
// "weir: sampled 1 in 10 at random" or "weir: sampled 1 flow in 10 by flow
// hash", so that whoever reads the file knows what each packet stands for;
// nil for an unsampled one (rate 1), which gets no comment. It costs a
// sampled packet 40 to 48 bytes of file.
func (s *Sink) sampleComment(h *packet.Header) []byte {
	if h.SampleRate <= 1 {
		return nil
	}
	return s.sampledComment(h)
}

// sampledComment is sampleComment for a sampled packet, kept apart so that
// the check for an unsampled one is inlined.
func (s *Sink) sampledComment(h *packet.Header) []byte {
	if h.SampleRate != s.commentRate || h.SampleMode != s.commentMode || s.comment == nil {
		s.commentRate, s.commentMode = h.SampleRate, h.SampleMode
		switch h.SampleMode {
		case cabi.SampleFlow:
			s.comment = fmt.Appendf(s.comment[:0], "weir: sampled 1 flow in %d by flow hash", h.SampleRate)
		case cabi.SampleRandom:
			s.comment = fmt.Appendf(s.comment[:0], "weir: sampled 1 in %d at random", h.SampleRate)
		default:
			s.comment = fmt.Appendf(s.comment[:0], "weir: sampled 1 in %d", h.SampleRate)
		}
	}
	return s.comment
}

// iface returns the pcapng interface ID of an interface index, describing
// the interface first if it is new.
func (s *Sink) iface(index uint32) (int, error) {
	if id, ok := s.ids[index]; ok {
		return id, nil
	}
	id, err := s.w.AddInterface(Interface{Name: s.names.Name(index), LinkType: LinkTypeEthernet, SnapLen: s.cfg.Snaplen})
	if err != nil {
		return 0, err
	}
	s.ids[index] = id
	return id, nil
}

// failed wraps a write error, which names the file, with the sink's name
// and how many packets the file kept.
func (s *Sink) failed(err error) error {
	return fmt.Errorf("pcapng %s: %w (%d packets written before it)", s.name, err, s.w.Packets())
}

// arm starts the flush timer if blocks wait in the buffer and it is not
// running.
func (s *Sink) arm() {
	if !s.armed && s.cfg.FlushInterval > 0 && s.w.Buffered() > 0 {
		s.armed = true
		s.timer.Reset(time.Duration(s.cfg.FlushInterval))
	}
}

// tick writes the buffer out when the flush timer fires. An error sticks in
// the Writer, so the next Write returns it.
func (s *Sink) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	if s.w != nil && !s.closed {
		s.w.Flush()
	}
}

// flush writes the buffer out and, when sync is set and fsync configured,
// syncs the file.
func (s *Sink) flush(sync bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil || s.closed {
		return nil
	}
	var err error
	if sync && s.cfg.Fsync {
		err = s.w.Sync()
	} else {
		err = s.w.Flush()
	}
	if err != nil {
		return s.failed(err)
	}
	return nil
}

// Written returns how many packets have reached the file (or standard
// output) whole. After Close it is the number of packets the file holds.
func (s *Sink) Written() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return 0
	}
	return s.w.Packets()
}

// Rejected returns how many events were skipped: events of another kind
// than cabi.KindPacket, malformed packet records, and packets too large for
// a pcapng block.
func (s *Sink) Rejected() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Counters reports the packets in the file and the events skipped, for the
// engine's summary and /metrics.
func (s *Sink) Counters() []connector.Counter {
	return []connector.Counter{
		{Name: "written", Help: "Packets written to the file (buffered ones count once written).", Value: s.Written()},
		{Name: "rejected", Help: "Events skipped: not packets, malformed packet records, or packets too large for a pcapng block.", Value: s.Rejected()},
	}
}

// Pause writes the buffer out.
func (s *Sink) Pause() error { return s.flush(false) }

// Drain writes the buffer out and syncs if configured.
func (s *Sink) Drain() error { return s.flush(true) }

// Stop writes the buffer out and syncs if configured.
func (s *Sink) Stop() error { return s.flush(true) }

// Close writes what is left and closes the file. It is safe after a failed
// Connect, and a second call does nothing.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil || s.closed {
		return nil
	}
	s.closed = true
	s.timer.Stop()
	if err := s.w.Close(); err != nil && !errors.Is(err, ErrClosed) {
		return s.failed(err)
	}
	return nil
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "pcapng",
		Description: "Writes packet events to a pcapng file that tshark and Wireshark read.",
		Roles:       connector.RoleSink,
		Spec:        Spec,
		Check:       func(config []byte) error { _, err := parse(config); return err },
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}
