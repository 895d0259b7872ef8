package runtime

import "sync"

// edge is a bounded FIFO of leases between one producer and one consumer.
type edge struct {
	def        EdgeDef
	to         *inbox
	toPipeline bool
	// c survives a reload that keeps an edge with the same ends.
	c *counters
	// dq is the edge's disk buffer, nil for a memory queue; hold is the
	// wiring's hold, after which the consumer reads nothing more from it.
	dq   *diskQueue
	hold <-chan struct{}

	mu      sync.Mutex
	ring    []*lease
	head, n int
	events  int // events queued
	closed  bool
	// sealed is set by the stop's final purge (see seal): no consumer
	// takes from the queue any more.
	sealed bool
	// notify is the producer's wake-up channel, signalled whenever the
	// consumer takes a lease, for a producer waiting under the block
	// policy.
	notify chan struct{}
}

func newEdge(def EdgeDef, to *inbox, toPipeline bool, notify chan struct{}, c *counters) *edge {
	e := &edge{def: def, to: to, toPipeline: toPipeline, ring: make([]*lease, def.Capacity), notify: notify, c: c}
	to.edges = append(to.edges, e)
	return e
}

// offerResult says what offer did with a lease.
type offerResult int

const (
	queued offerResult = iota
	dropped
	full // a block edge is full; the caller decides to wait or shed
)

// offer puts l in the queue. It counts l as offered; on a full queue it
// applies drop_newest or drop_oldest itself, and returns full for block.
func (e *edge) offer(l *lease) offerResult {
	if e.dq != nil {
		return e.offerDisk(l)
	}
	n := uint64(l.b.Len)
	e.mu.Lock()
	e.c.in(n, l.bytes)
	if e.sealed {
		// A producer the stop no longer waited for (killed): nothing
		// would ever take l from here, nor release it.
		e.mu.Unlock()
		e.c.drop(l.shutdownReason(), n)
		l.release(false)
		return dropped
	}
	var evicted *lease
	if e.n == len(e.ring) {
		switch e.def.Policy {
		case DropNewest:
			e.mu.Unlock()
			e.c.drop(rFull, n)
			l.release(false)
			return dropped
		case DropOldest:
			evicted = e.ring[e.head]
			e.ring[e.head] = nil
			e.head = (e.head + 1) % len(e.ring)
			e.n--
			e.events -= int(evicted.b.Len)
			e.c.drop(rOldest, uint64(evicted.b.Len))
		default:
			// Uncount: the caller offers again or sheds it.
			e.uncount(n, l.bytes)
			e.mu.Unlock()
			return full
		}
	}
	e.ring[(e.head+e.n)%len(e.ring)] = l
	e.n++
	e.events += int(n)
	e.mu.Unlock()
	if evicted != nil {
		evicted.release(false)
	}
	e.to.signal()
	return queued
}

// shed drops l, counted as offered and dropped for r.
func (e *edge) shed(l *lease, r reason) {
	n := uint64(l.b.Len)
	e.c.in(n, l.bytes)
	e.c.drop(r, n)
	l.release(false)
}

// take removes the oldest lease, or returns nil.
func (e *edge) take() *lease {
	if e.dq != nil {
		return e.takeDisk()
	}
	e.mu.Lock()
	if e.n == 0 {
		e.mu.Unlock()
		return nil
	}
	l := e.ring[e.head]
	e.ring[e.head] = nil
	e.head = (e.head + 1) % len(e.ring)
	e.n--
	e.events -= int(l.b.Len)
	e.mu.Unlock()
	e.c.evOut.Add(uint64(l.b.Len))
	e.c.batOut.Add(1)
	select {
	case e.notify <- struct{}{}:
	default:
	}
	return l
}

// finished reports whether the producer closed the edge and it is empty.
// A disk buffer counts as empty once the wiring is held: what is left in
// it waits for the next start.
func (e *edge) finished() bool {
	e.mu.Lock()
	closed, n := e.closed, e.n
	e.mu.Unlock()
	if e.dq != nil {
		if !closed {
			return false
		}
		recs, _ := e.dq.buf.Queued()
		return recs == 0 || e.hold != nil && closedOrNil(e.hold)
	}
	return closed && n == 0
}

// close marks that the producer will offer nothing more. A disk buffer
// syncs, so that the acks waiting for a sync are not held up.
func (e *edge) close() {
	if e.dq != nil {
		e.dq.buf.Sync()
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.to.signal()
}

// seal purges the queue with reason r for good, at the end of a stop: a
// producer still running (a stop that gave up on its workers does not wait
// for them) has what it offers later dropped at once instead of queued
// where no consumer takes it. Left queued, such a batch would never be
// released, and a source that lent it out of its own memory would wait
// for it for good (see waitLent) and never be stopped or closed.
func (e *edge) seal(r reason) {
	e.mu.Lock()
	e.sealed = true
	e.mu.Unlock()
	e.purge(r)
}

// purge drops everything queued with reason r.
func (e *edge) purge(r reason) {
	for {
		e.mu.Lock()
		if e.n == 0 {
			e.mu.Unlock()
			return
		}
		l := e.ring[e.head]
		e.ring[e.head] = nil
		e.head = (e.head + 1) % len(e.ring)
		e.n--
		e.events -= int(l.b.Len)
		e.mu.Unlock()
		rr := r
		if r == rShutdown {
			rr = l.shutdownReason()
		}
		e.c.drop(rr, uint64(l.b.Len))
		l.release(false)
	}
}

func (e *edge) depth() (batches, events int) {
	if e.dq != nil {
		recs, evs := e.dq.buf.Queued()
		return int(recs), int(evs)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n, e.events
}

func (e *edge) stats() EdgeStats {
	s := EdgeStats{
		From: e.def.From, FromPort: e.def.FromPort, To: e.def.To,
		Policy: e.def.Policy, Couple: e.def.Couple, Capacity: e.def.Capacity,
	}
	s.EventsIn, s.EventsOut = e.c.evIn.Load(), e.c.evOut.Load()
	s.BatchesIn, s.BatchesOut = e.c.batIn.Load(), e.c.batOut.Load()
	s.BytesIn = e.c.bytesIn.Load()
	s.Dropped, s.DroppedBatches = e.c.dropMaps()
	s.QueuedBatches, s.QueuedEvents = e.depth()
	if e.dq != nil {
		s.Buffer = e.dq.stats()
	}
	return s
}

// inbox is the set of edges one consumer reads, taken round-robin.
type inbox struct {
	edges []*edge
	next  int
	wake  chan struct{}
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{}, 1)} }

func (in *inbox) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// pop takes a lease from the next non-empty edge, or returns nil.
func (in *inbox) pop() *lease { return in.popFrom(true) }

// popFrom is pop, leaving disk buffers alone unless disk is set.
func (in *inbox) popFrom(disk bool) *lease {
	n := len(in.edges)
	for i := 0; i < n; i++ {
		e := in.edges[(in.next+i)%n]
		if e.dq != nil && !disk {
			continue
		}
		if l := e.take(); l != nil {
			in.next = (in.next + i + 1) % n
			return l
		}
	}
	return nil
}

// done reports whether every input edge is closed and empty.
func (in *inbox) done() bool {
	for _, e := range in.edges {
		if !e.finished() {
			return false
		}
	}
	return true
}

// port is one output of a producer: the edges fed from it.
type port struct {
	name  string
	edges []*edge
}

// sender delivers leases to ports, applying copy-on-fanout and the edge
// policies. Each producer goroutine owns one; its scratch space makes the
// steady state allocation-free.
type sender struct {
	pool   *pool
	kill   <-chan struct{}
	notify chan struct{} // signalled by the consumers of the producer's edges
	// wake and onWake let a waiting source react to its circuit breakers
	// (pause) while it waits; both nil for pipelines.
	wake    <-chan struct{}
	onWake  func()
	scratch []*lease
	wait    []int
}

func newSender(p *pool, kill <-chan struct{}, notify chan struct{}, width int) *sender {
	return &sender{pool: p, kill: kill, notify: notify, scratch: make([]*lease, 0, width), wait: make([]int, 0, width)}
}

// send hands l (one reference, owned by the caller) to edges. It returns
// false, without consuming l, when there are no edges.
//
// Copy-on-fanout: edges into sinks share l (sinks only read); an edge into
// a pipeline, which may rewrite bytes in place, gets its own deep copy
// whenever l is shared with any other edge or borrows its bytes from
// another batch.
//
// A full edge with policy block makes the producer wait. In a fan-out, an
// edge that is not coupled makes it wait only while every sibling still
// has batches queued (so waiting costs the siblings nothing); once a
// sibling runs dry, the batch is shed on the full edge with reason
// decoupled, so one slow sink never stalls the others. A coupled edge
// makes the producer wait regardless.
func (s *sender) send(edges []*edge, l *lease) bool {
	n := len(edges)
	if n == 0 {
		return false
	}
	if n > 1 && lends(l) {
		s.sendCopies(edges, l)
		return true
	}
	s.sendOne(edges, l)
	return true
}

// lends reports whether some event of l has its bytes in memory a source
// lent (its own, valid until its next Poll, or a kernel ring): neither in
// l's arena nor in its parent's. The lender waits until every holder of
// its batch has let go before it polls again.
func lends(l *lease) bool {
	_, inArena := scan(l.b)
	if inArena {
		return false
	}
	if l.parent == nil {
		return true
	}
	own, parent := l.b, l.parent.b
	for _, e := range l.b.EventSlice() {
		if e.Len != 0 && !own.InArena(&e) && !parent.InArena(&e) {
			return true
		}
	}
	return false
}

// sendCopies sends, in l's place, deep copies of l in leases of the
// sender's pool (as many as its events need, in order; one event larger
// than a pooled arena gets a batch of its own), and releases l at once.
// A fan-out whose batch borrows a lender's memory must not keep it: one
// slow or stuck consumer would hold the lender, and with it every
// sibling and, for a kernel ring, the ring. With its own copies each edge
// keeps, sheds or drops by its own policy. If the engine is killed before
// every copy is made, the rest of l is sent as it is.
func (s *sender) sendCopies(edges []*edge, l *lease) {
	evs := l.b.EventSlice()
	for len(evs) > 0 {
		c, err := s.pool.get(s.kill)
		if c == nil || err != nil {
			// Killed or out of memory: send what is left as it is.
			rest := copy(l.b.Slots(), evs)
			l.b.Len = uint32(rest)
			l.bytes = batchBytes(l.b)
			s.sendOne(edges, l)
			return
		}
		m := appendCopies(c.b, evs)
		if m == 0 {
			c.release(true)
			if c, err = oneOff(int(evs[0].Len)); err != nil || c == nil {
				rest := copy(l.b.Slots(), evs)
				l.b.Len = uint32(rest)
				l.bytes = batchBytes(l.b)
				s.sendOne(edges, l)
				return
			}
			m = appendCopies(c.b, evs[:1])
		}
		c.b.ID = l.b.ID
		c.bytes = batchBytes(c.b)
		c.adopt(l.track)
		evs = evs[m:]
		s.sendOne(edges, c)
	}
	l.release(true)
}

// sendOne is send for a lease that may be shared as it is.
func (s *sender) sendOne(edges []*edge, l *lease) {
	n := len(edges)
	s.scratch = s.scratch[:0]
	shared := 0
	owner := -1 // a pipeline edge that may take l itself
	if l.parent == nil {
		sinks := 0
		for _, e := range edges {
			if !e.toPipeline {
				sinks++
			}
		}
		if sinks == 0 {
			owner = n - 1
		}
	}
	for i, e := range edges {
		if e.toPipeline && (n > 1 && i != owner || l.parent != nil) {
			if c := s.copyOf(l); c != nil {
				s.scratch = append(s.scratch, c)
				continue
			}
		}
		s.scratch = append(s.scratch, l)
		shared++
	}
	if shared == 0 {
		l.release(true)
	} else {
		l.refs.Add(int32(shared - 1))
	}
	s.wait = s.wait[:0]
	for i, e := range edges {
		if e.offer(s.scratch[i]) == full {
			s.wait = append(s.wait, i)
		}
	}
	// Coupled edges first: the producer waits for them anyway, so an
	// uncoupled edge is shed only if waiting would idle a sibling after
	// that.
	for _, i := range s.wait {
		if edges[i].def.Couple {
			s.waitFor(edges, i)
		}
	}
	for _, i := range s.wait {
		if !edges[i].def.Couple {
			s.waitFor(edges, i)
		}
	}
}

// waitFor offers edges[i] its lease until it fits, the edge is shed in
// favour of an idle sibling, or the engine is killed.
func (s *sender) waitFor(edges []*edge, i int) {
	e, li := edges[i], s.scratch[i]
	for e.offer(li) == full {
		if !e.def.Couple && siblingIdle(edges, i) {
			e.shed(li, rDecoupled)
			return
		}
		select {
		case <-s.notify:
		case <-s.wake:
			s.onWake()
		case <-s.kill:
			e.shed(li, li.shutdownReason())
			return
		}
	}
}

// siblingIdle reports whether an edge other than edges[i] has nothing
// queued.
func siblingIdle(edges []*edge, i int) bool {
	for j, e := range edges {
		if j != i {
			if b, _ := e.depth(); b == 0 {
				return true
			}
		}
	}
	return false
}

// copyOf returns a deep copy of l from the sender's pool, part of the same
// source batch, or nil when none can be had (then l is shared).
func (s *sender) copyOf(l *lease) *lease {
	c, err := s.pool.get(s.kill)
	if c == nil || err != nil {
		return nil
	}
	if !copyBatch(c.b, l.b) {
		c.release(true)
		return nil
	}
	c.bytes = l.bytes
	c.adopt(l.track)
	return c
}
