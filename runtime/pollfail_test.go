package runtime

import (
	"testing"
	"time"
)

// TestFailedPollDeliversNothing: a source that appends events and then
// fails the poll has none of them delivered; they are counted as polled
// and dropped with ReasonPollFailed, so the ledger still balances, and the
// good polls around them are delivered whole.
func TestFailedPollDeliversNothing(t *testing.T) {
	f := newFixture()
	f.newSrc = func(string) *testSource {
		return &testSource{eventsPer: 4, size: 8, limit: 20, badEvery: 2}
	}
	opts := testOpts()
	opts.MaxPollErrors = 1 << 20 // never restart: keep one instance
	g := graph([]string{"gen:src", "out:sink"}, nil, EdgeDef{From: "gen", To: "out"})
	e := startEngine(t, g, f, opts)
	select {
	case <-e.Finished():
	case <-time.After(10 * time.Second):
		t.Fatal("engine not finished 10s after its source reached EOF")
	}
	shutdown(t, e)
	src := f.src("gen")
	bad := src.badPolls.Load()
	if bad == 0 {
		t.Fatal("the source never failed a poll: the test proves nothing")
	}
	if got, want := f.sink("out").events.Load(), int64(20*4); got != want {
		t.Errorf("sink got %d events; want %d (only the good polls' events)", got, want)
	}
	s := e.Stats()
	c, _ := s.Component("gen", StatSource)
	if got, want := c.Dropped[ReasonPollFailed], uint64(bad*4); got != want {
		t.Errorf("source dropped %d events with reason %s; want %d (%d failed polls of 4)", got, ReasonPollFailed, want, bad)
	}
	if c.Errors < uint64(bad) {
		t.Errorf("source errors = %d; want at least %d", c.Errors, bad)
	}
	checkAccounting(t, s)
}
