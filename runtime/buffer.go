package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirproject/weir/runtime/diskbuf"
)

// BufferDisk is the one BufferDef.Type there is.
const BufferDisk = "disk"

// BufferDef puts a disk buffer (package diskbuf) between an edge's
// producer and its consumer: every batch offered to the edge is appended
// to segment files in Path, and the consumer reads them back from there,
// in order, also after a restart.
//
// An event is removed from the buffer only once its consumer is done
// with it: written by the sink (cabi.OK), or dropped there and counted
// (sink_error, or a drop further down a pipeline). A source that
// implements connector.Acker is acked for a batch only once the batch is
// in the buffer as durably as Fsync promises (see Fsync). What is still
// in the buffer at shutdown stays there, and the next start replays it
// before anything new.
type BufferDef struct {
	// Type is BufferDisk.
	Type string
	// Path is the buffer's directory, created if missing. No two edges,
	// and no two processes, may share one.
	Path string
	// MaxSize bounds the bytes on disk. A full buffer applies the edge's
	// policy: Block makes the producer wait until the consumer frees a
	// segment, DropNewest drops the batch (reason full).
	MaxSize int64
	// Fsync says when appends are forced to disk, and so when an Acker
	// source is acked: "batch" syncs each batch before acking it; a
	// duration such as "100ms" syncs that often and acks the batches of
	// each sync after it; "never" acks once the batch is written to the
	// kernel, which keeps it through a crash of weir (kill -9) but not
	// through a crash of the machine or a power cut.
	Fsync string
	// SegmentSize is the size of each segment file; 0 means MaxSize/8,
	// at least 1 MiB and at most 64 MiB.
	SegmentSize int64
}

// BufferStats are the counters of an edge's disk buffer, in EdgeStats.
// Event counts come from the buffer's record headers.
type BufferStats struct {
	Path  string
	Fsync string
	// Bytes and Segments are what is on disk now; MaxSize the bound.
	Bytes, MaxSize int64
	Segments       int
	// Buffered counts events written to the buffer since start, and
	// BytesWritten the bytes written for them (records with their
	// framing: 24 bytes a batch and 24 an event).
	Buffered, BytesWritten uint64
	// Replayed counts events found in the buffer at start, not yet
	// delivered by an earlier run; they are delivered first.
	Replayed uint64
	// Acked counts events removed from the buffer because their consumer
	// was done with them (written, or dropped and counted).
	Acked uint64
	// Unacked counts events still in the buffer: queued, or read and in
	// flight; after a stop, those the next start replays.
	Unacked uint64
	// CorruptBytes counts damaged bytes skipped (at start, or found
	// damaged when read); Corrupt names the first ranges as FILE[a,b).
	CorruptBytes uint64
	Corrupt      []string
	// TornBytes counts the bytes of a record cut short by a crash,
	// found at the end of the buffer at start and cut off.
	TornBytes uint64
	// WriteErrors and SyncErrors count failed writes and syncs (ENOSPC,
	// EIO, EROFS...); the batches of failed writes are dropped with
	// reason buffer_error, except that a full disk makes a block edge
	// wait while the buffer holds records whose delivery frees space.
	WriteErrors, SyncErrors uint64
}

// diskQueue is an open disk buffer with what the engine keeps for it
// across reloads: the acks waiting for a sync, the consumer's batches.
type diskQueue struct {
	def    BufferDef
	buf    *diskbuf.Buffer
	policy diskbuf.Policy
	log    *slog.Logger
	pool   *pool

	// mu makes an append and its entry in pending one step, so that a
	// sync cannot report the record durable in between.
	mu      sync.Mutex
	pending []pendingAck
	spare   spareTrackers

	// edge is the edge that uses the buffer in the current wiring, for
	// wake-ups; kill is that wiring's kill channel.
	edge atomic.Pointer[edge]
	kill atomic.Pointer[chan struct{}]
	// counted is set once the replayed events are added to the edge's
	// counters.
	counted bool
	// events kept unacked at a stop; lastLog rate-limits error reports.
	lastLog atomic.Int64
}

type pendingAck struct {
	seq uint64
	t   *tracker
}

// bufferKey identifies a buffer by its cleaned absolute path.
func bufferKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

func openQueue(def BufferDef, opts *Options) (*diskQueue, error) {
	policy, every, err := diskbuf.ParsePolicy(def.Fsync)
	if err != nil {
		return nil, err
	}
	q := &diskQueue{def: def, policy: policy, log: opts.Log.With("buffer", def.Path)}
	q.buf, err = diskbuf.Open(diskbuf.Options{
		Dir: def.Path, MaxSize: def.MaxSize, SegmentSize: def.SegmentSize,
		Policy: policy, Interval: every, OnDurable: q.durable, Log: opts.Log,
	})
	if err != nil {
		return nil, err
	}
	q.pool = newPool(opts.BatchEvents, opts.BatchBytes, opts.PoolBatches)
	q.pool.onPut = q.wakeConsumer
	return q, nil
}

func (q *diskQueue) close() error {
	err := q.buf.Close()
	q.pool.close()
	return err
}

func (q *diskQueue) wakeConsumer() {
	if e := q.edge.Load(); e != nil {
		e.to.signal()
	}
}

func (q *diskQueue) wakeProducer() {
	if e := q.edge.Load(); e != nil {
		select {
		case e.notify <- struct{}{}:
		default:
		}
	}
}

// killing reports whether the current wiring is being killed.
func (q *diskQueue) killing() bool {
	k := q.kill.Load()
	if k == nil {
		return false
	}
	select {
	case <-*k:
		return true
	default:
		return false
	}
}

// durable finishes the acks of the records a sync made durable (or failed
// to: those acks become Fails, and an Acker source sends them again).
func (q *diskQueue) durable(upTo uint64, err error) {
	q.mu.Lock()
	n := 0
	for n < len(q.pending) && q.pending[n].seq <= upTo {
		n++
	}
	done := append([]pendingAck(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	q.mu.Unlock()
	for _, p := range done {
		if err != nil {
			p.t.failed.Store(true)
		}
		p.t.done()
	}
}

// logError reports a failed append, at most once a second.
func (q *diskQueue) logError(err error, events uint64) {
	now := time.Now().UnixNano()
	if last := q.lastLog.Load(); now-last < int64(time.Second) || !q.lastLog.CompareAndSwap(last, now) {
		return
	}
	q.log.Error("disk buffer write failed; batch dropped (reason buffer_error)", "err", err, "events", events)
}

// newTracker returns a tracker that settles record seq when the last
// lease made from it is released.
func (q *diskQueue) newTracker(seq uint64) *tracker {
	t := q.spare.get()
	t.id, t.src, t.dq, t.gen = seq, nil, q, 0
	return t
}

// settle ends a record's trip: it leaves the buffer unless the engine
// stopped before delivering it, in which case it stays for the next
// start.
func (q *diskQueue) settle(t *tracker) {
	if !(t.failed.Load() && (t.kept.Load() || q.killing())) {
		q.buf.Settle(t.id)
	}
	q.spare.put(t)
	q.wakeProducer()
}

// offerDisk appends l to the edge's buffer. It counts l as offered; a
// full buffer applies drop_newest itself and returns full for block.
func (e *edge) offerDisk(l *lease) offerResult {
	q := e.dq
	n := uint64(l.b.Len)
	e.c.in(n, l.bytes)
	if n == 0 {
		e.c.out(0, 0) // nothing to store
		l.release(true)
		return queued
	}
	q.mu.Lock()
	seq, err := q.buf.AppendBatch(l.b)
	// waitDisk: the file system is full, but the buffer holds records
	// whose delivery frees space (each settle wakes the producer), so a
	// block edge waits, as for a full buffer, rather than drop. With
	// nothing to deliver no wake-up would come: the last record may have
	// been settled, its segment deleted, since the write failed, so it
	// tries once more, and drops the batch (buffer_error) if that fails
	// too. Only settles change the count of unsettled records without
	// q.mu, and only down, so a count of 0 seen here stays 0.
	waitDisk := false
	if diskbuf.IsDiskFull(err) && e.def.Policy != DropNewest {
		if q.buf.Stats().UnsettledRecords > 0 {
			waitDisk = true
		} else {
			seq, err = q.buf.AppendBatch(l.b)
		}
	}
	if err == nil || errors.Is(err, diskbuf.ErrNotDurable) {
		durable := err == nil
		if durable && q.policy == diskbuf.SyncInterval && l.track != nil {
			// Ack the source only after the sync that covers seq.
			l.track.pending.Add(1)
			q.pending = append(q.pending, pendingAck{seq, l.track})
		}
		q.mu.Unlock()
		if !durable {
			q.logError(err, 0)
		}
		l.release(durable)
		e.to.signal()
		return queued
	}
	q.mu.Unlock()
	if waitDisk {
		q.logError(err, 0)
		e.uncount(n, l.bytes)
		return full
	}
	if errors.Is(err, diskbuf.ErrFull) {
		if e.def.Policy == DropNewest {
			e.c.drop(rFull, n)
			l.release(false)
			return dropped
		}
		e.uncount(n, l.bytes)
		return full
	}
	q.logError(err, n)
	e.c.drop(rBufferError, n)
	l.release(false)
	return dropped
}

// takeDisk reads the next batch from the edge's buffer, or returns nil:
// when it is empty, when the consumer holds all of the buffer's batches,
// or once the wiring is held (a stop or reload leaves the rest on disk).
func (e *edge) takeDisk() *lease {
	q := e.dq
	for {
		if e.hold != nil && closedOrNil(e.hold) {
			return nil
		}
		if recs, _ := q.buf.Queued(); recs == 0 {
			return nil
		}
		l, err := q.pool.tryGet()
		if l == nil {
			if err != nil {
				q.logError(fmt.Errorf("allocate a batch to read into: %w", err), 0)
			}
			return nil
		}
		rec, ok, err := q.buf.Next()
		if err != nil || !ok {
			q.pool.putBack(l)
			return nil
		}
		events := uint64(rec.Events)
		if events == 0 {
			q.pool.putBack(l)
			q.buf.Settle(rec.Seq)
			continue
		}
		if rec.Damaged {
			q.pool.putBack(l)
			e.c.drop(rCorrupt, events)
			continue
		}
		size, err := diskbuf.Measure(rec.Payload, rec.Events)
		if err != nil {
			q.pool.putBack(l)
			q.log.Error("disk buffer record does not decode; dropped", "seq", rec.Seq, "err", err)
			q.buf.Settle(rec.Seq)
			e.c.drop(rCorrupt, events)
			continue
		}
		if events > uint64(l.b.Capacity) || uint64(size) > l.b.ArenaCap {
			// Written with larger batches than this run uses.
			q.pool.putBack(l)
			big := newPool(max(int(events), 1), size, 1)
			l, err = big.tryGet()
			big.close()
			if l == nil {
				q.log.Error("disk buffer record too large to read back; dropped", "seq", rec.Seq, "events", events, "bytes", size, "err", err)
				q.buf.Settle(rec.Seq)
				e.c.drop(rCorrupt, events)
				continue
			}
		}
		diskbuf.Decode(l.b, rec.Payload)
		l.b.ID = rec.Seq
		l.bytes = uint64(size)
		l.track = q.newTracker(rec.Seq)
		e.c.evOut.Add(events)
		e.c.batOut.Add(1)
		return l
	}
}

// uncount takes back the counts of an offer the producer will repeat.
func (e *edge) uncount(n, bytes uint64) {
	e.c.evIn.Add(^(n - 1))
	e.c.bytesIn.Add(-bytes)
	e.c.batIn.Add(^uint64(0))
}

// stats returns the buffer's counters for EdgeStats.
func (q *diskQueue) stats() *BufferStats {
	st := q.buf.Stats()
	bs := &BufferStats{
		Path: q.def.Path, Fsync: q.def.Fsync, Bytes: st.Bytes, MaxSize: st.MaxSize, Segments: st.Segments,
		Buffered: st.AppendedEvents, BytesWritten: st.AppendedBytes, Replayed: st.ReplayedEvents, Acked: st.SettledEvents,
		CorruptBytes: st.CorruptBytes, TornBytes: st.TornBytes, WriteErrors: st.WriteErrors, SyncErrors: st.SyncErrors,
	}
	bs.Unacked = st.ReplayedEvents + st.AppendedEvents - st.SettledEvents
	for _, r := range st.Corrupt {
		bs.Corrupt = append(bs.Corrupt, fmt.Sprintf("%s[%d,%d)", r.File, r.Start, r.End))
	}
	return bs
}

// openQueues opens the disk buffer of every edge of p that has none open
// yet, and checks that an open one is asked for with the same settings.
// On error it closes what it opened and returns the first error.
func (e *engine) openQueues(p *plan) error {
	var opened []string
	fail := func(err error) error {
		for _, k := range opened {
			e.queues[k].close()
			delete(e.queues, k)
		}
		return err
	}
	for _, d := range p.edges {
		if d.Buffer == nil {
			continue
		}
		k := bufferKey(d.Buffer.Path)
		if q, ok := e.queues[k]; ok {
			if q.def != *d.Buffer {
				return fail(fmt.Errorf("%sconnection %s: the disk buffer in %s is open with other settings; changing them needs a restart", at(d.Pos), edgeLabel(d), d.Buffer.Path))
			}
			continue
		}
		q, err := openQueue(*d.Buffer, &e.opts)
		if err != nil {
			return fail(fmt.Errorf("%sconnection %s: %w", at(d.Pos), edgeLabel(d), err))
		}
		e.queues[k] = q
		opened = append(opened, k)
	}
	return nil
}

// closeQueues closes the open buffers that p does not use (all, for a
// nil p, at Shutdown). In a reload, what a closed buffer still holds
// leaves its edge's ledger, which a kept edge carries on: it is counted
// as dropped with ReasonKept (it stays in the directory, for a config
// that uses it again).
func (e *engine) closeQueues(p *plan) {
	keep := map[string]bool{}
	if p != nil {
		for _, d := range p.edges {
			if d.Buffer != nil {
				keep[bufferKey(d.Buffer.Path)] = true
			}
		}
	}
	for k, q := range e.queues {
		if keep[k] {
			continue
		}
		if ed := q.edge.Load(); ed != nil && p != nil {
			if recs, evs := q.buf.Queued(); evs > 0 || recs > 0 {
				ed.c.drops[rKept].Add(evs)
				ed.c.dropBatches[rKept].Add(recs)
			}
		}
		q.edge.Store(nil)
		if err := q.close(); err != nil {
			e.opts.Log.Error("close disk buffer", "path", q.def.Path, "err", err)
		}
		delete(e.queues, k)
	}
}
