package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/weirproject/weir/cabi"
)

// runSink is a sink's worker for one topology: it writes every batch from
// its edges until they are all closed and empty, or the engine is killed.
// It closes done (when not nil) as it returns: a dual connector's source
// worker waits for that before it drains the instance (see pollLoop).
func (t *topo) runSink(n *connNode, in *inbox, upstream []*connNode, done chan<- struct{}) {
	defer t.wg.Done()
	if done != nil {
		defer close(done)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.kill:
		case <-ctx.Done():
		}
		cancel()
	}()
	sk := &sinkWorker{t: t, n: n, ctx: ctx, upstream: upstream}
	defer sk.closeBreaker()
	if !n.ensureOpen(ctx) {
		// Killed while connecting, or the instance cannot be made at all:
		// keep taking batches so producers never wait on a dead edge.
		t.discard(in, &n.snkC, rSinkError)
		return
	}
	for {
		l := in.pop()
		if l == nil {
			if in.done() {
				return
			}
			select {
			case <-in.wake:
			case <-t.kill:
				t.discard(in, &n.snkC, rShutdown)
				return
			}
			continue
		}
		n.snkC.in(uint64(l.b.Len), l.bytes)
		sk.deliver(l)
	}
}

// discard takes and drops every batch from in, counted on c with reason r
// (shutdown once the engine is killed), until the producers are done or
// the engine is killed.
func (t *topo) discard(in *inbox, c *counters, r reason) {
	for {
		select {
		case <-t.kill:
			r = rShutdown
		default:
		}
		for l := in.pop(); l != nil; l = in.pop() {
			c.in(uint64(l.b.Len), l.bytes)
			c.drop(r, uint64(l.b.Len))
			l.release(false)
		}
		if in.done() {
			return
		}
		select {
		case <-in.wake:
		case <-t.kill:
			for _, e := range in.edges {
				e.purge(rShutdown)
			}
			return
		}
	}
}

type sinkWorker struct {
	t        *topo
	n        *connNode
	ctx      context.Context
	upstream []*connNode
	fails    int // consecutive failures
	openedAt time.Time
}

// deliver writes l until the sink takes it, gives up on it, or the engine
// is killed.
func (s *sinkWorker) deliver(l *lease) {
	n := s.n
	events, bytes := uint64(l.b.Len), l.bytes
	for attempt := 1; ; attempt++ {
		if !s.admit() {
			n.snkC.drop(rShutdown, events)
			l.release(false)
			return
		}
		st, err, panicked := n.write(l.b)
		switch {
		case st == cabi.OK && !panicked:
			n.snkC.out(events, bytes)
			s.success()
			l.release(true)
			return
		case st == cabi.Retry && !panicked:
			n.snkC.retries.Add(1)
			s.failure()
		default:
			if err == nil {
				err = errors.New("write failed with " + st.String())
			}
			n.snkC.errors.Add(1)
			n.log.Warn("sink write failed; batch dropped", "err", err)
			n.snkC.drop(rSinkError, events)
			l.release(false)
			s.failure()
			if panicked {
				n.restart(s.ctx, err)
			}
			return
		}
		if s.n.circuit.Load() == brClosed && !sleep(s.t.opts.RetryBackoff.delay(attempt), s.t.kill) {
			n.snkC.drop(rShutdown, events)
			l.release(false)
			return
		}
	}
}

// admit waits while the breaker is open, then lets one write through
// (half-open). It returns false when the engine is killed.
func (s *sinkWorker) admit() bool {
	if s.n.circuit.Load() != brOpen {
		return true
	}
	wait := s.t.opts.BreakerCooldown - time.Since(s.openedAt)
	if !sleep(wait, s.t.kill) {
		return false
	}
	s.n.circuit.Store(brHalfOpen)
	s.n.log.Info("circuit breaker half-open")
	return true
}

func (s *sinkWorker) success() {
	s.fails = 0
	if s.n.circuit.Load() != brClosed {
		s.closeBreaker()
	}
}

func (s *sinkWorker) failure() {
	s.fails++
	switch s.n.circuit.Load() {
	case brHalfOpen:
		s.n.circuit.Store(brOpen)
		s.openedAt = time.Now()
		s.n.log.Warn("circuit breaker re-opened")
	case brClosed:
		if s.fails >= s.t.opts.BreakerFailures {
			s.n.circuit.Store(brOpen)
			s.openedAt = time.Now()
			s.n.log.Warn("circuit breaker opened; pausing sources", "failures", s.fails)
			for _, src := range s.upstream {
				src.pauseReq.Add(1)
				src.wakeup()
			}
		}
	}
}

// closeBreaker closes an open or half-open breaker and resumes the sources
// it paused.
func (s *sinkWorker) closeBreaker() {
	if s.n.circuit.Swap(brClosed) == brClosed {
		return
	}
	s.n.log.Info("circuit breaker closed; resuming sources")
	for _, src := range s.upstream {
		src.pauseReq.Add(-1)
		src.wakeup()
	}
}
