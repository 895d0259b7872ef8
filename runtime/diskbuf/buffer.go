package diskbuf

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// Policy says when appended records are forced to disk with fdatasync.
type Policy int

const (
	// SyncBatch syncs after every append, before Append returns.
	SyncBatch Policy = iota
	// SyncInterval syncs every Options.Interval in the background and
	// reports each sync to Options.OnDurable.
	SyncInterval
	// SyncNever leaves writing back to the kernel: a record survives the
	// end of the process (kill -9) once Append returns, but not a crash of
	// the machine or a power cut before the kernel wrote it.
	SyncNever
)

// ParsePolicy reads a config value: "batch", "never", or a duration such
// as "100ms" for SyncInterval.
func ParsePolicy(s string) (Policy, time.Duration, error) {
	switch s {
	case "batch":
		return SyncBatch, 0, nil
	case "never":
		return SyncNever, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("fsync %q: want batch, never, or a positive duration such as 100ms", s)
	}
	return SyncInterval, d, nil
}

// Options configure Open.
type Options struct {
	// Dir holds the segment files, the ack file and the lock file; it is
	// created if missing. One process at a time may use it.
	Dir string
	// MaxSize bounds the bytes of all segment files; Append refuses a
	// record that would pass it with ErrFull. Required.
	MaxSize int64
	// SegmentSize is the size at which a new segment file is started; 0
	// means MaxSize/8, at least 1 MiB and at most 64 MiB.
	SegmentSize int64
	// Policy and Interval say when appends are synced to disk.
	Policy   Policy
	Interval time.Duration
	// OnDurable is called, under SyncInterval, from the background syncer
	// after each sync: every record up to seq is on disk, or err says the
	// sync failed (those records may be lost by a machine crash, though
	// they remain readable now). It must not call back into the Buffer.
	OnDurable func(seq uint64, err error)
	// Log receives recovery and failure reports (slog.Default()).
	Log *slog.Logger
}

// Errors Append and Open return; callers branch on them with errors.Is.
var (
	// ErrFull means the record would take the buffer past MaxSize.
	ErrFull = errors.New("disk buffer full")
	// ErrTooLarge means the record is larger than MaxSize or MaxPayload
	// and could never be stored.
	ErrTooLarge = errors.New("record larger than the disk buffer")
	// ErrLocked means another process (or another Buffer) uses the
	// directory.
	ErrLocked = errors.New("disk buffer directory in use")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("disk buffer closed")
	// ErrNotDurable is wrapped by Append's error when the record was
	// written and will be read, but syncing it to disk failed.
	ErrNotDurable = errors.New("record written but not synced")
)

// Record is one record read back by Next.
type Record struct {
	Seq    uint64
	Events uint32
	// Payload is valid until the next call to Next.
	Payload []byte
	// Damaged is set for a record found damaged when read back: its
	// payload is nil, it is settled already and counted in CorruptBytes,
	// and Events is what its index said it held.
	Damaged bool
}

// Stats are a Buffer's counters. Counts of events come from record
// headers.
type Stats struct {
	Dir              string
	Segments         int
	Bytes, MaxSize   int64
	QueuedRecords    uint64 // written, not yet read
	QueuedEvents     uint64
	UnsettledRecords uint64 // not yet settled: queued or read and in flight
	Appended         uint64 // records appended since Open
	AppendedEvents   uint64
	AppendedBytes    uint64 // record bytes, headers included
	Read, ReadEvents uint64
	// Settled counts records (and events) settled since Open.
	Settled, SettledEvents uint64
	// Replayed counts the records (and events) found at Open that were
	// not yet delivered; they are read first, in order.
	Replayed, ReplayedEvents uint64
	// CorruptBytes counts damaged bytes skipped in segment files at Open
	// and while reading; Corrupt lists the first ranges (at most 16).
	CorruptBytes uint64
	Corrupt      []Region
	// TornBytes counts bytes cut off the end of the last segment at Open:
	// a record the process was writing when it died.
	TornBytes uint64
	// Full counts appends refused with ErrFull or ErrTooLarge.
	Full uint64
	// WriteErrors and SyncErrors count failed writes and syncs.
	WriteErrors, SyncErrors uint64
}

type segment struct {
	first    uint64
	path     string
	f        *os.File
	size     int64
	recs     []recInfo
	settled  []bool
	lo       int // first unsettled record
	rd       int // next record to read
	open     int // records not settled
	sealed   bool
	dirty    bool // written since the last sync
	syncing  int
	removed  bool
	unusable bool // a write or sync failed: append to a new segment
}

// Buffer is a crash-safe FIFO of records in segment files. Append adds
// records at the end; Next reads them in order; Settle marks one as done
// with, and a segment whose records are all settled is deleted. Open
// replays whatever was not settled before. A Buffer is safe for
// concurrent use, except Next, which one goroutine at a time may call:
// typically one goroutine appends, one reads, and any settles.
type Buffer struct {
	opts Options
	log  *slog.Logger
	lock *os.File
	ack  *os.File

	appendMu sync.Mutex // serializes Append
	syncMu   sync.Mutex // serializes syncs, so OnDurable hears of them in order
	rbuf     []byte     // Next's buffer (one reader at a time)
	wbuf     []byte

	mu        sync.Mutex
	segs      []*segment
	active    *segment
	nextSeq   uint64
	bytes     int64
	unread    uint64
	unreadEv  uint64
	lastSeq   uint64 // last appended
	dirDirty  bool
	ackFloor  uint64 // last floor written to the ack file
	closed    bool
	corrupt   []Region
	syncStop  chan struct{}
	syncDone  chan struct{}
	closeOnce sync.Once

	appended, appendedEv, appendedBytes atomic.Uint64
	read, readEv, settledN, settledEv   atomic.Uint64
	replayed, replayedEv                atomic.Uint64
	corruptBytes, tornBytes, full       atomic.Uint64
	writeErrs, syncErrs                 atomic.Uint64
}

const lockName, ackName = "lock", "ack"

// Open opens or creates the buffer in opts.Dir, takes its lock, and
// recovers what an earlier process left: a damaged tail of the last
// segment is cut off (TornBytes), damaged ranges elsewhere are skipped
// and counted with their place (CorruptBytes, Corrupt), and every good
// record not yet settled is queued again, in order, for Next. Damage never
// makes Open fail; a directory it cannot create or write, or a lock held
// by another process, does.
func Open(opts Options) (*Buffer, error) {
	if opts.MaxSize <= 0 {
		return nil, fmt.Errorf("open disk buffer %s: max size %d: want a positive size", opts.Dir, opts.MaxSize)
	}
	if opts.Policy == SyncInterval && opts.Interval <= 0 {
		return nil, fmt.Errorf("open disk buffer %s: fsync interval %v: want a positive duration", opts.Dir, opts.Interval)
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = min(max(opts.MaxSize/8, 1<<20), 64<<20)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	b := &Buffer{opts: opts, log: opts.Log.With("buffer", opts.Dir)}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open disk buffer: create directory: %w", err)
	}
	if err := b.takeLock(); err != nil {
		return nil, err
	}
	if err := b.recover(); err != nil {
		b.closeFiles()
		return nil, err
	}
	if opts.Policy == SyncInterval {
		b.syncStop, b.syncDone = make(chan struct{}), make(chan struct{})
		go b.syncer()
	}
	return b, nil
}

func (b *Buffer) takeLock() error {
	path := filepath.Join(b.opts.Dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open disk buffer: lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			who := strings.TrimSpace(string(owner))
			if who == "" {
				who = "unknown"
			}
			return fmt.Errorf("open disk buffer %s: %w (held by pid %s); give each weir process, and each buffer, its own directory", b.opts.Dir, ErrLocked, who)
		}
		return fmt.Errorf("open disk buffer %s: lock: %w", b.opts.Dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	b.lock = f
	return nil
}

// recover reads the ack file and the segments, and starts a new segment.
func (b *Buffer) recover() error {
	ackPath := filepath.Join(b.opts.Dir, ackName)
	af, err := os.OpenFile(ackPath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open disk buffer %s: ack file: %w", b.opts.Dir, err)
	}
	b.ack = af
	raw := make([]byte, 16)
	n, _ := af.ReadAt(raw, 0)
	floor, ok := parseAck(raw[:n])
	if !ok && n > 0 {
		b.log.Warn("disk buffer ack file damaged; replaying every record left, which may repeat some already delivered", "file", ackPath)
	}
	entries, err := os.ReadDir(b.opts.Dir)
	if err != nil {
		return fmt.Errorf("open disk buffer %s: list: %w", b.opts.Dir, err)
	}
	type named struct {
		first uint64
		name  string
	}
	var files []named
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			b.log.Warn("disk buffer: ignoring a file that is not a segment", "file", name)
			continue
		}
		files = append(files, named{first, name})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].first < files[j].first })
	var maxSeq uint64
	for i, nf := range files {
		path := filepath.Join(b.opts.Dir, nf.name)
		last := i == len(files)-1
		s, err := b.loadSegment(path, nf.first, last, &maxSeq, floor)
		if err != nil {
			// An unreadable file stops nothing: it is reported and left
			// alone, outside the buffer's size.
			b.log.Error("disk buffer: cannot read a segment; skipping it", "file", path, "err", err)
			if fi, serr := os.Stat(path); serr == nil {
				b.noteCorrupt(Region{File: path, Start: 0, End: fi.Size()})
			}
			continue
		}
		if s.open == 0 {
			b.removeFile(s)
			continue
		}
		b.segs = append(b.segs, s)
		b.bytes += s.size
	}
	b.nextSeq = max(maxSeq+1, floor, 1)
	if st := b.Stats(); st.Replayed > 0 || st.CorruptBytes > 0 || st.TornBytes > 0 {
		b.log.Info("disk buffer recovered", "replaying_records", st.Replayed, "replaying_events", st.ReplayedEvents,
			"segments", len(b.segs), "corrupt_bytes", st.CorruptBytes, "torn_bytes", st.TornBytes)
	}
	b.appendMu.Lock()
	defer b.appendMu.Unlock()
	if err := b.rotate(); err != nil {
		return err
	}
	b.writeAck()
	return nil
}

// loadSegment opens and scans one segment file; records below floor, or
// not above the highest sequence number seen so far, count as settled.
func (b *Buffer) loadSegment(path string, first uint64, last bool, maxSeq *uint64, floor uint64) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sc := scanner{r: f, size: fi.Size()}
	recs, bad := sc.scan()
	s := &segment{first: first, path: path, f: f, size: fi.Size(), sealed: true}
	for _, r := range bad {
		if last && r[1] == s.size {
			// The end of the newest segment: a record cut short when the
			// process died. Cut it off so that the file is whole again.
			if err := f.Truncate(r[0]); err != nil {
				b.log.Error("disk buffer: cannot cut off a torn tail; skipping it", "file", path, "from", r[0], "err", err)
				b.noteCorrupt(Region{File: path, Start: r[0], End: r[1]})
				continue
			}
			s.size = r[0]
			b.tornBytes.Add(uint64(r[1] - r[0]))
			b.log.Warn("disk buffer: cut off a torn record at the end of the last segment", "file", path, "from", r[0], "bytes", r[1]-r[0])
			continue
		}
		b.noteCorrupt(Region{File: path, Start: r[0], End: r[1]})
		b.log.Error("disk buffer: skipping damaged bytes; the records around them are kept", "file", path, "from", r[0], "to", r[1])
	}
	s.recs = recs
	s.settled = make([]bool, len(recs))
	for i, r := range recs {
		if r.seq < floor || r.seq <= *maxSeq {
			s.settled[i] = true
			continue
		}
		s.open++
		b.unread++
		b.unreadEv += uint64(r.events)
		b.replayed.Add(1)
		b.replayedEv.Add(uint64(r.events))
	}
	for _, r := range recs {
		*maxSeq = max(*maxSeq, r.seq)
	}
	s.advance()
	s.rd = s.lo
	return s, nil
}

// advance moves lo past settled records.
func (s *segment) advance() {
	for s.lo < len(s.recs) && s.settled[s.lo] {
		s.lo++
	}
}

func (b *Buffer) noteCorrupt(r Region) {
	b.corruptBytes.Add(uint64(r.End - r.Start))
	b.mu.Lock()
	if len(b.corrupt) < 16 {
		b.corrupt = append(b.corrupt, r)
	}
	b.mu.Unlock()
}

// rotate seals the active segment and starts a new one at nextSeq. The
// caller holds appendMu.
func (b *Buffer) rotate() error {
	b.mu.Lock()
	if old := b.active; old != nil {
		old.sealed = true
		if old.open == 0 {
			b.dropSegmentLocked(old)
		}
		b.active = nil
	}
	first := b.nextSeq
	b.mu.Unlock()
	path := filepath.Join(b.opts.Dir, fmt.Sprintf("%020d%s", first, segSuffix))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		b.writeErrs.Add(1)
		return fmt.Errorf("disk buffer %s: create segment: %w", b.opts.Dir, err)
	}
	s := &segment{first: first, path: path, f: f}
	if b.opts.Policy == SyncBatch {
		if err := syncDir(b.opts.Dir); err != nil {
			b.syncErrs.Add(1)
			b.log.Error("disk buffer: sync directory failed", "err", err)
		}
	}
	b.mu.Lock()
	b.segs = append(b.segs, s)
	b.active = s
	if b.opts.Policy == SyncInterval {
		b.dirDirty = true
	}
	b.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AppendBatch appends the events of batch as one record; see Append.
func (b *Buffer) AppendBatch(batch *cabi.Batch) (uint64, error) {
	b.appendMu.Lock()
	defer b.appendMu.Unlock()
	b.wbuf = append(b.wbuf[:0], make([]byte, headerSize)...)
	b.wbuf = Encode(b.wbuf, batch)
	return b.appendLocked(b.wbuf, batch.Len)
}

// Append appends one record of events events with payload p and returns
// its sequence number. Under SyncBatch it is on disk when Append returns
// nil; otherwise see Policy. It fails with ErrFull when the record would
// take the buffer past MaxSize (nothing is written; settling records
// makes room), ErrTooLarge when it never fits, and with the write's error
// (ENOSPC, EIO, EROFS...) when the write fails: the record is then not
// stored, and the next append starts a new segment. An error wrapping
// ErrNotDurable means the record was stored and will be read, but the
// sync after it failed.
func (b *Buffer) Append(p []byte, events uint32) (uint64, error) {
	b.appendMu.Lock()
	defer b.appendMu.Unlock()
	b.wbuf = append(append(b.wbuf[:0], make([]byte, headerSize)...), p...)
	return b.appendLocked(b.wbuf, events)
}

func (b *Buffer) appendLocked(rec []byte, events uint32) (uint64, error) {
	size := int64(len(rec))
	if size-headerSize > MaxPayload || size > b.opts.MaxSize {
		b.full.Add(1)
		return 0, fmt.Errorf("disk buffer %s: record of %d bytes, max size %d: %w", b.opts.Dir, size, b.opts.MaxSize, ErrTooLarge)
	}
	retried := false
again:
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, ErrClosed
	}
	s := b.active
	if b.bytes+size > b.opts.MaxSize {
		if s != nil && s.open == 0 && s.size > 0 && !retried {
			// Full, but the active segment holds only settled records
			// (it is deleted only once sealed, and it can hold all of
			// MaxSize): sealing it frees its space.
			b.mu.Unlock()
			if err := b.rotate(); err != nil {
				return 0, err
			}
			retried = true
			goto again
		}
		b.mu.Unlock()
		b.full.Add(1)
		return 0, ErrFull
	}
	rot := s == nil || s.unusable || (s.size > 0 && s.size+size > b.opts.SegmentSize)
	b.mu.Unlock()
	if rot {
		if err := b.rotate(); err != nil {
			return 0, err
		}
		s = b.active
	}
	seq := b.nextSeq
	putHeader(rec, events, seq)
	if _, err := s.f.WriteAt(rec, s.size); err != nil {
		b.writeErrs.Add(1)
		// Leave no partial record behind; should that fail too, its torn
		// end is cut off at the next Open. Either way the segment is
		// sealed at the next append, so that it is deleted once its
		// records are settled: on a full disk, an active segment, never
		// deleted, would hold its space for good.
		s.f.Truncate(s.size)
		b.mu.Lock()
		s.unusable = true
		// A full disk and a segment holding only settled records:
		// sealing it deletes it, so try once more in a new one.
		retry := IsDiskFull(err) && s.open == 0 && s.size > 0 && !retried
		b.mu.Unlock()
		if retry {
			retried = true
			goto again
		}
		return 0, fmt.Errorf("disk buffer %s: write %s: %w", b.opts.Dir, filepath.Base(s.path), err)
	}
	var syncErr error
	if b.opts.Policy == SyncBatch {
		if err := unix.Fdatasync(int(s.f.Fd())); err != nil {
			b.syncErrs.Add(1)
			b.mu.Lock()
			s.unusable = true
			b.mu.Unlock()
			syncErr = fmt.Errorf("disk buffer %s: sync %s: %w: %w", b.opts.Dir, filepath.Base(s.path), err, ErrNotDurable)
		}
	}
	b.mu.Lock()
	s.recs = append(s.recs, recInfo{off: s.size, length: uint32(size - headerSize), events: events, seq: seq})
	s.settled = append(s.settled, false)
	s.open++
	s.size += size
	s.dirty = b.opts.Policy == SyncInterval
	b.bytes += size
	b.nextSeq++
	b.lastSeq = seq
	b.unread++
	b.unreadEv += uint64(events)
	b.mu.Unlock()
	b.appended.Add(1)
	b.appendedEv.Add(uint64(events))
	b.appendedBytes.Add(uint64(size))
	return seq, syncErr
}

// Next reads the oldest record not read yet and returns it, or ok false when every record has been read. A record
// damaged since it was written comes back with Damaged set, settled
// already and counted in CorruptBytes. Reading does not settle: call Settle once the record is
// delivered or given up, or it is read again after the next Open.
func (b *Buffer) Next() (r Record, ok bool, err error) {
	{
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return r, false, ErrClosed
		}
		var s *segment
		for _, x := range b.segs {
			if x.rd < len(x.recs) {
				s = x
				break
			}
		}
		if s == nil {
			b.mu.Unlock()
			return r, false, nil
		}
		ri := s.recs[s.rd]
		s.rd++
		for s.rd < len(s.recs) && s.settled[s.rd] {
			s.rd++
		}
		b.unread--
		b.unreadEv -= uint64(ri.events)
		f := s.f
		b.mu.Unlock()
		n := headerSize + int(ri.length)
		if cap(b.rbuf) < n {
			b.rbuf = make([]byte, n)
		}
		buf := b.rbuf[:n]
		_, rerr := f.ReadAt(buf, ri.off)
		hd, good := parseHeader(buf)
		if rerr == nil && good && hd.seq == ri.seq && hd.length == ri.length && verify(buf, hd) {
			b.read.Add(1)
			b.readEv.Add(uint64(ri.events))
			return Record{Seq: ri.seq, Events: ri.events, Payload: buf[headerSize:]}, true, nil
		}
		b.noteCorrupt(Region{File: s.path, Start: ri.off, End: ri.end()})
		b.log.Error("disk buffer: a record was damaged after it was written; skipping it", "file", s.path, "from", ri.off, "to", ri.end(), "seq", ri.seq, "events", ri.events, "read_err", rerr)
		b.Settle(ri.seq)
		return Record{Seq: ri.seq, Events: ri.events, Damaged: true}, true, nil
	}
}

// Settle marks the record seq as done with: delivered, or given up and
// counted by the caller. It is never read again, even after a restart
// (once the ack file is written, at the latest by the next Settle or
// Close). A segment whose records are all settled is deleted. Settling a
// record twice, or one not read, is harmless.
func (b *Buffer) Settle(seq uint64) {
	b.mu.Lock()
	i := sort.Search(len(b.segs), func(i int) bool { return b.segs[i].first > seq }) - 1
	if i < 0 {
		b.mu.Unlock()
		return
	}
	s := b.segs[i]
	j := sort.Search(len(s.recs), func(j int) bool { return s.recs[j].seq >= seq })
	if j == len(s.recs) || s.recs[j].seq != seq || s.settled[j] {
		b.mu.Unlock()
		return
	}
	s.settled[j] = true
	s.open--
	b.settledEv.Add(uint64(s.recs[j].events))
	if j >= s.rd {
		// Settled before it was read (a damaged record): not queued now.
		b.unread--
		b.unreadEv -= uint64(s.recs[j].events)
		if j == s.rd {
			for s.rd < len(s.recs) && s.settled[s.rd] {
				s.rd++
			}
		}
	}
	s.advance()
	if s.open == 0 && s.sealed {
		b.dropSegmentLocked(s)
	}
	b.mu.Unlock()
	b.settledN.Add(1)
	b.writeAck()
}

// dropSegmentLocked removes a settled, sealed segment from the buffer and
// deletes its file. Deleting before the ack file moves past it is safe:
// Open only reads the segments it finds.
func (b *Buffer) dropSegmentLocked(s *segment) {
	for i, x := range b.segs {
		if x == s {
			b.segs = append(b.segs[:i], b.segs[i+1:]...)
			break
		}
	}
	b.bytes -= s.size
	b.removeFile(s)
}

func (b *Buffer) removeFile(s *segment) {
	s.removed = true
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Error("disk buffer: cannot delete a delivered segment", "file", s.path, "err", err)
	}
	if s.syncing == 0 && s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// floorLocked is the lowest sequence number not settled.
func (b *Buffer) floorLocked() uint64 {
	for _, s := range b.segs {
		if s.lo < len(s.recs) {
			return s.recs[s.lo].seq
		}
	}
	return b.nextSeq
}

// writeAck records the floor in the ack file when it moved. A crash that
// loses the write only makes the next Open replay records already
// delivered.
func (b *Buffer) writeAck() {
	b.mu.Lock()
	floor := b.floorLocked()
	if floor == b.ackFloor || b.ack == nil {
		b.mu.Unlock()
		return
	}
	b.ackFloor = floor
	// Written under mu, so that floors reach the file in order.
	_, err := b.ack.WriteAt(ackRecord(floor), 0)
	b.mu.Unlock()
	if err != nil {
		b.writeErrs.Add(1)
		b.log.Warn("disk buffer: cannot write the ack file; a restart may repeat delivered records", "err", err)
	}
}

// syncer syncs dirty segments every Interval (SyncInterval).
func (b *Buffer) syncer() {
	defer close(b.syncDone)
	t := time.NewTicker(b.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-b.syncStop:
			return
		case <-t.C:
			b.syncNow()
		}
	}
}

// Sync syncs what was appended so far, as the background syncer does
// (SyncInterval, reported to OnDurable); under the other policies it does
// nothing.
func (b *Buffer) Sync() {
	if b.opts.Policy == SyncInterval {
		b.syncNow()
	}
}

// syncNow syncs every segment written since the last sync, and the
// directory when a segment was created, then reports to OnDurable.
func (b *Buffer) syncNow() {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	var dirty []*segment
	for _, s := range b.segs {
		if s.dirty && s.f != nil {
			s.dirty = false
			s.syncing++
			dirty = append(dirty, s)
		}
	}
	dir := b.dirDirty
	b.dirDirty = false
	upTo := b.lastSeq
	b.mu.Unlock()
	if len(dirty) == 0 && !dir {
		return
	}
	var errs []error
	for _, s := range dirty {
		if err := unix.Fdatasync(int(s.f.Fd())); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", filepath.Base(s.path), err))
		}
	}
	if dir {
		if err := syncDir(b.opts.Dir); err != nil {
			errs = append(errs, fmt.Errorf("sync directory: %w", err))
		}
	}
	b.mu.Lock()
	for _, s := range dirty {
		s.syncing--
		if s.removed && s.syncing == 0 && s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
	if len(errs) > 0 && b.active != nil {
		b.active.unusable = true
	}
	b.mu.Unlock()
	var err error
	if len(errs) > 0 {
		b.syncErrs.Add(1)
		err = fmt.Errorf("disk buffer %s: %w: %w", b.opts.Dir, errors.Join(errs...), ErrNotDurable)
		b.log.Error("disk buffer: sync failed; the records since the last sync may not survive a machine crash", "err", err)
	}
	if b.opts.OnDurable != nil {
		b.opts.OnDurable(upTo, err)
	}
}

// Close syncs (unless the policy is SyncNever), writes the ack file and
// closes every file and the lock. Records not settled stay for the next
// Open. It is safe to call more than once.
func (b *Buffer) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.syncStop != nil {
			close(b.syncStop)
			<-b.syncDone
			b.syncNow()
		}
		b.appendMu.Lock()
		defer b.appendMu.Unlock()
		b.writeAck()
		if b.opts.Policy != SyncNever && b.ack != nil {
			if serr := b.ack.Sync(); serr != nil {
				err = fmt.Errorf("disk buffer %s: sync ack file: %w", b.opts.Dir, serr)
			}
		}
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.closeFiles()
	})
	return err
}

func (b *Buffer) closeFiles() {
	for _, s := range b.segs {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
	if b.ack != nil {
		b.ack.Close()
		b.ack = nil
	}
	if b.lock != nil {
		b.lock.Close() // releases the flock
		b.lock = nil
	}
}

// Queued returns how many records, and events in them, are waiting to be
// read.
func (b *Buffer) Queued() (records, events uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unread, b.unreadEv
}

// Dir returns the buffer's directory.
func (b *Buffer) Dir() string { return b.opts.Dir }

// Policy returns the buffer's sync policy.
func (b *Buffer) Policy() Policy { return b.opts.Policy }

// Stats returns the buffer's counters now.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	st := Stats{Dir: b.opts.Dir, Segments: len(b.segs), Bytes: b.bytes, MaxSize: b.opts.MaxSize,
		QueuedRecords: b.unread, QueuedEvents: b.unreadEv, Corrupt: append([]Region(nil), b.corrupt...)}
	for _, s := range b.segs {
		st.UnsettledRecords += uint64(s.open)
	}
	b.mu.Unlock()
	st.Appended, st.AppendedEvents, st.AppendedBytes = b.appended.Load(), b.appendedEv.Load(), b.appendedBytes.Load()
	st.Read, st.ReadEvents, st.Settled, st.SettledEvents = b.read.Load(), b.readEv.Load(), b.settledN.Load(), b.settledEv.Load()
	st.Replayed, st.ReplayedEvents = b.replayed.Load(), b.replayedEv.Load()
	st.CorruptBytes, st.TornBytes, st.Full = b.corruptBytes.Load(), b.tornBytes.Load(), b.full.Load()
	st.WriteErrors, st.SyncErrors = b.writeErrs.Load(), b.syncErrs.Load()
	return st
}

// IsDiskFull reports whether err is a write that failed for lack of space
// (ENOSPC or EDQUOT).
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
