package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
)

// runSource is a source's worker for one topology: it polls batches and
// hands them to the source's edges until EOF, a hold (reload or shutdown)
// or a kill. At a hold, a source marked to drain (topo.setDrain) is drained
// and polled dry first; see pollLoop. sinkDone is closed when the sink
// side of a dual connector has written all its input (see runSink); it is
// nil for a connector that is only a source, and for a dual connector that
// feeds its own sink side (see feedsItself).
func (t *topo) runSource(n *connNode, edges []*edge, snd *sender, sinkDone <-chan struct{}) {
	defer t.wg.Done()
	t.pollLoop(n, edges, snd, sinkDone)
	for _, e := range edges {
		e.close()
	}
	// Stay to hand acks to the instance while its batches are delivered.
	for n.tracked.Load() > 0 {
		n.mu.Lock()
		n.deliverAcksLocked()
		n.mu.Unlock()
		if n.tracked.Load() == 0 {
			break
		}
		select {
		case <-n.wake:
		case <-t.kill:
			return
		}
	}
}

// pollLoop polls n until EOF, a kill, or a hold. At the hold, a source
// that Shutdown or Reload marked to drain gets Drain (at most once per
// instance, see drainLocked) and is then polled dry: polling goes on, with
// no pause, until it answers EOF or Timeout, fails, or the topology is
// killed (Shutdown's or Reload's ctx expired). A source not marked, one
// whose connector Reload keeps, stops polling at the hold without Drain.
// ctx ends at the hold, so from then on a poll error ends polling: it
// waits out no retry and opens no new instance.
//
// A marked dual connector (source and sink) must get no Write after
// Drain, and what its sink side takes in may come out of its source side.
// So at the hold its source side keeps polling as before (no pause, and
// Timeout does not end it) until sinkDone is closed, that is until its
// sink side's upstream has drained and its queues are written; only then
// does it get Drain and is polled dry. A marked dual connector that feeds
// its own sink side (sinkDone nil) cannot wait for that: it stops polling
// at the hold without Drain, finish drains it after its last Write, and
// what it would still have returned is never polled.
func (t *topo) pollLoop(n *connNode, edges []*edge, snd *sender, sinkDone <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.hold:
		case <-t.kill:
		case <-ctx.Done():
		}
		cancel()
	}()
	if !n.ensureOpen(ctx) {
		return
	}
	timeout := t.opts.PollTimeout
	if n.dual && timeout > dualPollTimeout {
		timeout = dualPollTimeout
	}
	// held: the hold was seen and n is marked to drain; draining: Drain
	// was called, so polling ends at the first Timeout.
	held, draining := false, false
	errs := 0
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	lastEmpty := false
	for {
		if n.acks.pending() {
			n.lock()
			n.deliverAcksLocked()
			n.unlock()
		}
		select {
		case <-t.kill:
			return
		default:
		}
		if !held {
			select {
			case <-t.hold:
				if !t.drains(n.def.Name) || n.dual && sinkDone == nil {
					return
				}
				held = true
				n.setPaused(false)
				n.state.Store(stDraining)
			default:
			}
		}
		if held && !draining && closedOrNil(sinkDone) {
			draining = true
			n.lock()
			if err := n.drainLocked(false); err != nil {
				n.srcC.errors.Add(1)
				n.log.Error("source drain failed", "err", err)
			}
			n.unlock()
		}
		if !held && n.pauseReq.Load() > 0 {
			n.setPaused(true)
			select {
			case <-n.wake:
			case <-t.hold:
			case <-t.kill:
			}
			continue
		}
		n.setPaused(false)
		l, err := n.pool.get(t.kill)
		if err != nil {
			n.srcC.errors.Add(1)
			n.log.Error("source batch allocation failed", "err", err)
			if !sleep(t.opts.ConnectBackoff.delay(1), t.kill) {
				return
			}
			continue
		}
		if l == nil {
			return
		}
		n.nextID++
		l.b.ID = n.nextID
		// Time the poll only when the last one came back empty: that is
		// when a source might be returning at once instead of waiting.
		var began time.Time
		measured := lastEmpty
		if measured {
			began = time.Now()
		}
		st, perr := n.poll(l.b, timeout)
		failed := perr != nil || st != cabi.OK && st != cabi.Timeout && st != cabi.EOF
		got := !failed && l.b.Len > 0
		lastEmpty = !got
		if got {
			t.deliverPolled(n, edges, snd, l)
		} else {
			if failed {
				t.discardPolled(n, l)
			}
			l.release(true)
		}
		switch st {
		case cabi.OK:
			errs = 0
		case cabi.Timeout:
			errs = 0
			if draining {
				return // polled dry
			}
			if !got && measured {
				// A source that returned at once with nothing is not
				// waiting for input itself: wait here, until Env.Wakeup
				// or the rest of the timeout, rather than spin.
				if rest := timeout - time.Since(began); rest > timeout/2 {
					hold := t.hold
					if held {
						hold = nil // seen already: wait for sinkDone
					}
					idle.Reset(rest)
					select {
					case <-n.wake:
					case <-idle.C:
					case <-hold:
					case <-sinkDone: // nil until a dual one is held
					case <-t.kill:
					}
					if !idle.Stop() {
						select {
						case <-idle.C:
						default:
						}
					}
				}
			}
		case cabi.EOF:
			return
		default:
			if errors.Is(perr, connector.ErrPermanent) {
				n.giveUp(perr)
				return
			}
			errs++
			n.srcC.errors.Add(1)
			if perr == nil {
				perr = errors.New("poll failed with " + st.String())
			}
			n.log.Warn("source poll failed", "err", perr, "consecutive", errs)
			if errs >= t.opts.MaxPollErrors || errors.Is(perr, connector.ErrLost) {
				errs = 0
				if !n.restart(ctx, perr) {
					return
				}
				continue
			}
			if !sleep(t.opts.RetryBackoff.delay(errs), ctx.Done()) {
				if held {
					return
				}
			}
		}
	}
}

// closedOrNil reports whether ch is nil or closed.
func closedOrNil(ch <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// discardPolled accounts what a failed poll left in l: a batch the source
// answered an error for, or that failed the host's checks (a length past
// the capacity, a pointer out of bounds), is never delivered, because its
// descriptors cannot be trusted. Its events, as many as the capacity
// allows, count as polled and dropped with ReasonPollFailed; its bytes are
// not read. Nothing is copied or scanned. The caller still logs the
// failure and counts the error.
func (t *topo) discardPolled(n *connNode, l *lease) {
	events := l.b.Len
	if events > l.b.Capacity {
		events = l.b.Capacity
	}
	if events == 0 {
		return
	}
	n.srcC.in(uint64(events), 0)
	n.srcC.drop(rPollFailed, uint64(events))
	n.log.Warn("discarded the events of a failed poll", "events", events)
}

// deliverPolled accounts a polled batch and sends it on.
func (t *topo) deliverPolled(n *connNode, edges []*edge, snd *sender, l *lease) {
	bytes, inArena := scan(l.b)
	l.bytes = bytes
	events := uint64(l.b.Len)
	n.srcC.in(events, bytes)
	if n.polledAcker {
		l.track = n.acks.newTracker(n, l.b.ID, n.polledGen)
		n.tracked.Add(1)
	}
	external := !inArena
	if external {
		// Recorded before any holder has it: a kill may come as soon
		// as send hands it on.
		n.lend(l)
	}
	if !snd.send(edges, l) {
		n.srcC.drop(rUnconnected, events)
		l.release(false)
		if external {
			n.unlend(l)
		}
		return
	}
	n.srcC.out(events, bytes)
	if external {
		// The bytes live in the source's memory until its next Poll:
		// wait for every holder to be done with the batch. Killed, the
		// worker stops waiting and leaves the batch recorded, and finish
		// waits instead (waitLent).
		for !n.pool.isFree(l) {
			select {
			case <-n.pool.avail:
			case <-t.kill:
				return
			}
		}
		n.unlend(l)
	}
}
