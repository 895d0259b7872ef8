package runtime

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// A lease is a batch travelling through the graph: the off-heap cabi.Batch
// plus the Go-side bookkeeping the engine needs. Leases come from a pool and
// go back to it when the last holder releases them.
type lease struct {
	b    *cabi.Batch
	pool *pool
	// refs counts the holders: queues and workers. The holder that drops
	// it to zero recycles the lease.
	refs atomic.Int32
	// parent is the lease whose arena holds this batch's bytes (a router
	// output built from descriptors only); nil when the bytes are our own.
	parent *lease
	// track follows the source batch this one came from, for Acker
	// sources; nil otherwise.
	track *tracker
	// free is true while the lease sits in its pool.
	free bool
	// bytes is the sum of the event lengths, measured once by whoever
	// filled or last changed the batch.
	bytes uint64
}

// release drops one reference. ok=false records that this holder did not
// deliver the batch, so the source batch it came from will be failed.
func (l *lease) release(ok bool) {
	if !ok && l.track != nil {
		l.track.failed.Store(true)
	}
	if l.refs.Add(-1) > 0 {
		return
	}
	parent, track := l.parent, l.track
	l.parent, l.track = nil, nil
	l.pool.put(l)
	if parent != nil {
		parent.release(true)
	}
	if track != nil {
		track.done()
	}
}

// adopt makes l part of the source batch followed by t.
func (l *lease) adopt(t *tracker) {
	if t != nil {
		t.pending.Add(1)
		l.track = t
	}
}

// pool hands out leases for one producer (a source or a pipeline). It makes
// batches lazily up to max and then makes the producer wait, which is the
// engine's memory bound. Only the owning producer waits in get; any
// goroutine may put.
type pool struct {
	events, bytes int
	max           int

	mu     sync.Mutex
	free   []*lease
	made   int
	closed bool
	avail  chan struct{} // signalled on put
	// onPut, when set, runs after a lease comes back (a disk buffer's
	// pool wakes its consumer with it).
	onPut func()
}

func newPool(events, bytes, max int) *pool {
	return &pool{events: events, bytes: bytes, max: max, avail: make(chan struct{}, 1), free: make([]*lease, 0, max)}
}

// get returns an empty lease with one reference, waiting while all are in
// use. It returns nil when stop is closed first or the pool cannot make a
// batch (err set).
func (p *pool) get(stop <-chan struct{}) (*lease, error) {
	for {
		l, err := p.tryGet()
		if l != nil || err != nil {
			return l, err
		}
		select {
		case <-p.avail:
		case <-stop:
			return nil, nil
		}
	}
}

// tryGet is get without waiting; it returns nil, nil when none is free.
func (p *pool) tryGet() (*lease, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		l := p.free[n-1]
		p.free = p.free[:n-1]
		l.free = false
		p.mu.Unlock()
		l.b.Reset()
		l.refs.Store(1)
		return l, nil
	}
	if p.made >= p.max {
		p.mu.Unlock()
		return nil, nil
	}
	p.made++
	p.mu.Unlock()
	b, err := cabi.AllocBatch(p.events, p.bytes)
	if err != nil {
		p.mu.Lock()
		p.made--
		p.mu.Unlock()
		return nil, err
	}
	l := &lease{b: b, pool: p}
	l.refs.Store(1)
	return l, nil
}

func (p *pool) put(l *lease) {
	if !p.putBack(l) {
		return
	}
	select {
	case p.avail <- struct{}{}:
	default:
	}
	if p.onPut != nil {
		p.onPut()
	}
}

// putBack returns l to the pool, or frees it once the pool is closed
// (and returns false), without waking anyone: put wakes, and an unused
// lease from tryGet goes back with putBack alone.
func (p *pool) putBack(l *lease) bool {
	p.mu.Lock()
	if p.closed {
		p.made--
		p.mu.Unlock()
		cabi.FreeBatch(l.b)
		return false
	}
	l.free = true
	p.free = append(p.free, l)
	p.mu.Unlock()
	return true
}

// shutdownReason is the reason a stop counts l's events under when it
// drops them: ReasonKept for a batch read from a disk buffer, whose
// record stays there for the next start, else ReasonShutdown.
func (l *lease) shutdownReason() reason {
	if l.track != nil && l.track.dq != nil {
		l.track.kept.Store(true)
		return rKept
	}
	return rShutdown
}

// isFree reports whether l is back in the pool.
func (p *pool) isFree(l *lease) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return l.free
}

// inUse returns how many leases are out of the pool.
func (p *pool) inUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made - len(p.free)
}

// close frees the idle batches now and every other one when it comes back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	free := p.free
	p.free = nil
	p.made -= len(free)
	p.mu.Unlock()
	for _, l := range free {
		cabi.FreeBatch(l.b)
	}
}

// tracker follows one batch of an Acker source through every lease made
// from it (fan-out copies, router outputs). When the last one is recycled,
// the source gets Ack, or Fail if any holder failed to deliver.
type tracker struct {
	id  uint64
	src *connNode
	// dq is set instead of src for a batch read from a disk buffer: id is
	// its record, settled when the tracker finishes (see diskQueue.settle).
	dq *diskQueue
	// kept marks a disk buffer's batch that a stop dropped: its record
	// stays in the buffer for the next start.
	kept atomic.Bool
	// gen is the number of the source instance that produced the batch
	// (connNode.gen when it was polled); only that instance hears of it.
	gen     uint64
	pending atomic.Int32
	failed  atomic.Bool
}

func (t *tracker) done() {
	if t.pending.Add(-1) > 0 {
		return
	}
	if t.dq != nil {
		t.dq.settle(t)
		return
	}
	if !t.src.acks.push(t) {
		t.src.dropAck()
	}
}

// ackQueue is the acknowledgement mechanism. It hands finished trackers to
// the goroutine that owns the source instance, which calls Ack or Fail
// (deliverAcksLocked; the engine never calls one instance from two
// goroutines).
//
// Ack and Fail go only to the instance that produced the batch: batch IDs
// mean nothing to another instance. An instance ends when it dies and is
// recreated (restart) or when the connector is finished; just before
// either, every tracker already finished is delivered to it. A tracker
// that finishes after its instance ended is not delivered but counted in
// counters.ackDrops (ComponentStats.AcksDropped), so that once the engine
// stops Acks + Fails + AcksDropped equals the batches produced. After the
// connector is finished the queue is closed and push refuses trackers,
// whose drops the caller counts at once, since no goroutine will take them.
type ackQueue struct {
	mu     sync.Mutex
	ready  []*tracker
	spare  spareTrackers
	closed bool
	wake   chan struct{}
}

// spareTrackers keeps finished trackers for reuse. It is safe for
// concurrent use.
type spareTrackers struct {
	mu   sync.Mutex
	list []*tracker
}

// get returns a spare tracker, or a new one, with its counts reset.
func (s *spareTrackers) get() *tracker {
	s.mu.Lock()
	var t *tracker
	if n := len(s.list); n > 0 {
		t = s.list[n-1]
		s.list = s.list[:n-1]
	}
	s.mu.Unlock()
	if t == nil {
		t = &tracker{}
	}
	t.failed.Store(false)
	t.kept.Store(false)
	t.pending.Store(1)
	return t
}

func (s *spareTrackers) put(ts ...*tracker) {
	s.mu.Lock()
	s.list = append(s.list, ts...)
	s.mu.Unlock()
}

// push queues a finished tracker for delivery. It returns false, leaving
// t to the caller, when the queue is closed.
func (q *ackQueue) push(t *tracker) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.ready = append(q.ready, t)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// close makes push refuse trackers from now on. Trackers queued already
// stay for one last take.
func (q *ackQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// newTracker returns a tracker for batch id of source instance gen, with
// one pending lease.
func (q *ackQueue) newTracker(src *connNode, id, gen uint64) *tracker {
	t := q.spare.get()
	t.id, t.src, t.gen, t.dq = id, src, gen, nil
	return t
}

// take moves the finished trackers into buf (reusing its storage) and
// returns it; the caller hands them back with recycle.
func (q *ackQueue) take(buf []*tracker) []*tracker {
	q.mu.Lock()
	buf = append(buf[:0], q.ready...)
	q.ready = q.ready[:0]
	q.mu.Unlock()
	return buf
}

func (q *ackQueue) recycle(ts []*tracker) { q.spare.put(ts...) }

// pending reports whether finished trackers wait for delivery.
func (q *ackQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready) > 0
}

// scan returns the sum of b's event lengths and whether every event points
// into b's own arena (or has no bytes), so the batch stays valid after the
// source polls again.
func scan(b *cabi.Batch) (bytes uint64, inArena bool) {
	lo := uintptr(b.Arena)
	hi := lo + uintptr(b.ArenaLen)
	evs := b.EventSlice()
	for i := range evs {
		e := &evs[i]
		bytes += uint64(e.Len)
		if p := uintptr(e.Data); e.Len != 0 && (p < lo || p+uintptr(e.Len) > hi) {
			// One event outside settles it, as the first of a
			// packet source's batch does: the rest only add up.
			for j := i + 1; j < len(evs); j++ {
				bytes += uint64(evs[j].Len)
			}
			return bytes, false
		}
	}
	return bytes, true
}

// copyBatch deep-copies src's events and bytes into dst (empty), rebasing
// every Data pointer into dst's arena. It returns false when dst lacks room.
func copyBatch(dst, src *cabi.Batch) bool {
	evs := src.EventSlice()
	if appendCopies(dst, evs) != len(evs) {
		return false
	}
	dst.ID = src.ID
	return true
}

// appendCopies appends copies of the leading events of evs to dst, bytes
// included, for as long as dst has a free slot and arena room for the next
// whole event. It returns how many it copied.
func appendCopies(dst *cabi.Batch, evs []cabi.Event) int {
	out := dst.Slots()
	arena := dst.ArenaBytes()
	off := dst.ArenaLen
	n := 0
	for ; n < len(evs) && int(dst.Len)+n < len(out); n++ {
		e := evs[n]
		if uint64(e.Len) > dst.ArenaCap-off {
			break
		}
		if e.Len > 0 {
			copy(arena[off:off+uint64(e.Len)], e.Bytes())
			e.Data = unsafe.Pointer(&arena[off])
			off += uint64(e.Len)
		}
		out[int(dst.Len)+n] = e
	}
	dst.Len += uint32(n)
	dst.ArenaLen = off
	return n
}

// writable reports whether l's event bytes may be rewritten in place: l
// has no other holder and every byte lives in its own arena (not in a
// parent batch's, nor in memory a source lent).
func (l *lease) writable() bool {
	if l.parent != nil || l.refs.Load() != 1 {
		return false
	}
	_, inArena := scan(l.b)
	return inArena
}

// oneOff returns a lease for a single event of size bytes, for an event
// larger than a pooled batch's arena. Its batch is freed when it is
// released.
func oneOff(size int) (*lease, error) {
	p := newPool(1, size, 1)
	l, err := p.tryGet()
	p.close()
	return l, err
}

// batchBytes sums the event lengths of b.
func batchBytes(b *cabi.Batch) uint64 {
	var n uint64
	evs := b.EventSlice()
	for i := range evs {
		n += uint64(evs[i].Len)
	}
	return n
}

// compact removes events flagged cabi.FlagDrop, keeping order, and returns
// how many it removed and the bytes of those it kept.
func compact(b *cabi.Batch) (dropped, kept uint64) {
	evs := b.EventSlice()
	w := 0
	for i := range evs {
		if evs[i].Flags&cabi.FlagDrop != 0 {
			dropped++
			continue
		}
		kept += uint64(evs[i].Len)
		if w != i {
			evs[w] = evs[i]
		}
		w++
	}
	b.Len = uint32(w)
	return dropped, kept
}
