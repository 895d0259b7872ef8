package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
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
	defer sk.exit()
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
			// An open breaker half-opens on a timer, not on the next
			// batch: its sources are paused, so none may come.
			var cool <-chan time.Time
			var timer *time.Timer
			if d, ok := sk.cooling(); ok {
				timer = time.NewTimer(d)
				cool = timer.C
			}
			select {
			case <-in.wake:
			case <-cool:
				sk.halfOpen(true)
			case <-t.kill:
				t.discard(in, &n.snkC, rShutdown)
				return
			}
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		n.snkC.in(uint64(l.b.Len), l.bytes)
		sk.deliver(l)
	}
}

// discard takes and drops every batch from in, counted on c with reason r
// (shutdown once the engine is killed), until the producers are done or
// the engine is killed. It leaves disk buffers alone: what they hold
// waits there for a consumer that works.
func (t *topo) discard(in *inbox, c *counters, r reason) {
	for {
		select {
		case <-t.kill:
			r = rShutdown
		default:
		}
		for l := in.popFrom(false); l != nil; l = in.popFrom(false) {
			c.in(uint64(l.b.Len), l.bytes)
			rr := r
			if r == rShutdown {
				rr = l.shutdownReason()
			}
			c.drop(rr, uint64(l.b.Len))
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
	// paused is true while this breaker holds a pause request on every
	// upstream source (pauseReq).
	paused bool
}

// deliver writes l until the sink takes it, gives up on it, or the engine
// is killed.
func (s *sinkWorker) deliver(l *lease) {
	n := s.n
	events, bytes := uint64(l.b.Len), l.bytes
	for attempt := 1; ; attempt++ {
		if !s.admit() {
			n.snkC.drop(l.shutdownReason(), events)
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
			if panicked || errors.Is(err, connector.ErrLost) {
				n.restart(s.ctx, err)
			}
			return
		}
		if s.n.circuit.Load() == brClosed && !sleep(s.t.opts.RetryBackoff.delay(attempt), s.t.kill) {
			n.snkC.drop(l.shutdownReason(), events)
			l.release(false)
			return
		}
	}
}

// cooling returns how long an open breaker has left to cool down; ok is
// false when it is not open.
func (s *sinkWorker) cooling() (d time.Duration, ok bool) {
	if s.n.circuit.Load() != brOpen {
		return 0, false
	}
	return max(s.t.opts.BreakerCooldown-time.Since(s.openedAt), 0), true
}

// admit waits while the breaker is open, then lets one write through
// (half-open): the batch in hand is the trial. It returns false when the
// engine is killed.
func (s *sinkWorker) admit() bool {
	d, ok := s.cooling()
	if !ok {
		return true
	}
	if !sleep(d, s.t.kill) {
		return false
	}
	s.halfOpen(false)
	return true
}

// halfOpen moves an open breaker to half-open. idle says no batch waits
// for the trial: the sources are resumed so that one comes, and the first
// write then closes the breaker or opens it again (pausing them again).
func (s *sinkWorker) halfOpen(idle bool) {
	s.n.circuit.Store(brHalfOpen)
	s.n.log.Info("circuit breaker half-open", "trial", map[bool]string{true: "resuming sources for one batch", false: "a queued batch"}[idle])
	if idle {
		s.resumeSources()
	}
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
		s.open()
		s.n.log.Warn("circuit breaker re-opened")
	case brClosed:
		if s.fails >= s.t.opts.BreakerFailures {
			s.open()
			s.n.log.Warn("circuit breaker opened; pausing sources", "failures", s.fails)
		}
	}
}

// open opens the breaker and pauses the upstream sources.
func (s *sinkWorker) open() {
	s.n.circuit.Store(brOpen)
	s.openedAt = time.Now()
	if s.paused {
		return
	}
	s.paused = true
	for _, src := range s.upstream {
		src.pauseReq.Add(1)
		src.wakeup()
	}
}

// resumeSources withdraws this breaker's pause requests.
func (s *sinkWorker) resumeSources() {
	if !s.paused {
		return
	}
	s.paused = false
	for _, src := range s.upstream {
		src.pauseReq.Add(-1)
		src.wakeup()
	}
}

// closeBreaker closes an open or half-open breaker after a successful
// write and resumes the sources it paused.
func (s *sinkWorker) closeBreaker() {
	if s.n.circuit.Swap(brClosed) == brClosed {
		return
	}
	s.n.log.Info("circuit breaker closed; resuming sources")
	s.resumeSources()
}

// exit runs as the worker returns: it withdraws the worker's pause
// requests, which must not outlive it (a reload may keep the sources),
// but leaves an open breaker open, as the sink never recovered.
func (s *sinkWorker) exit() {
	if st := s.n.circuit.Load(); st != brClosed {
		s.n.log.Warn("sink worker ends with its circuit breaker " + breakerNames[st] + "; the sink never recovered")
	}
	s.resumeSources()
}
