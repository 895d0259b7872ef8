package runtime

import (
	"sync"
	"time"
)

// callGate admits the calls into a connector instance and knows which are
// in flight, so that an instance whose call has not returned is never
// called again nor closed: it is abandoned instead (see connNode.abandon).
// Destroying an instance under a running call would turn a hang into
// memory corruption. Safe for concurrent use.
type callGate struct {
	mu     sync.Mutex
	active int       // calls in flight
	op     string    // the call that entered last
	since  time.Time // when it entered
	// final is set once finish owns the instance: only its own calls
	// enter then, and a worker still running makes none.
	final     bool
	abandoned bool
}

// enter admits a call named op, unless the instance is abandoned, or
// finish owns it and the call is not finish's (final). Each admitted call
// must leave.
func (g *callGate) enter(op string, final bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abandoned || g.final && !final {
		return false
	}
	g.active++
	g.op, g.since = op, time.Now()
	return true
}

// leave ends a call that enter admitted.
func (g *callGate) leave() {
	g.mu.Lock()
	g.active--
	g.mu.Unlock()
}

// isFinal reports whether finish owns the instance.
func (g *callGate) isFinal() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.final
}

// inFlight returns the call in flight and how long it has been, if there
// is one.
func (g *callGate) inFlight() (op string, d time.Duration, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active == 0 || g.abandoned {
		return "", 0, false
	}
	return g.op, time.Since(g.since), true
}

// claim hands the instance to finish: from now on only finish calls it.
// When a call is still in flight (a worker that a kill did not stop), the
// instance is abandoned instead and claim returns false.
func (n *connNode) claim() bool {
	g := &n.gate
	g.mu.Lock()
	busy := g.active > 0 && !g.abandoned
	if !busy && !g.abandoned {
		g.final = true
	}
	abandoned := g.abandoned
	g.mu.Unlock()
	if busy {
		n.abandon(true)
		return false
	}
	return !abandoned
}

// abandon gives up on the instance for good when a call into it is in
// flight, or always with force (finish did not end in time): it is never
// called again, never stopped or closed, and its state is "stuck". It
// reports whether it abandoned the instance now. The log line names the
// connector, its type and the call.
func (n *connNode) abandon(force bool) bool {
	g := &n.gate
	g.mu.Lock()
	if g.abandoned || g.active == 0 && !force {
		g.mu.Unlock()
		return false
	}
	g.abandoned = true
	op, d := g.op, time.Since(g.since)
	if g.active == 0 {
		op, d = "finish", 0
	}
	g.mu.Unlock()
	n.stuck.Store(true)
	n.stuckCall.Store(&op)
	n.state.Store(stStuck)
	n.log.Error("connector call is stuck; the instance is abandoned: it will not be called again or closed",
		"call", op, "for", d.Round(time.Millisecond))
	return true
}
