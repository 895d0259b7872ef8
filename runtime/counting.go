package runtime

import (
	"sync"

	"github.com/weirproject/weir/connector"
)

// instCounters adds up the connector.Counters of every instance one
// connector had, so the totals it reports grow across restarts. It is safe
// for concurrent use.
type instCounters struct {
	mu   sync.Mutex
	cur  connector.Connector // the live instance, when it counts
	base []connector.Counter // final values of the instances that ended
}

// open starts counting inst, when it implements connector.Counting.
func (c *instCounters) open(inst connector.Connector) {
	if _, ok := inst.(connector.Counting); !ok {
		return
	}
	c.mu.Lock()
	c.cur = inst
	c.mu.Unlock()
}

// close folds inst's final values into the totals, after inst.Close.
func (c *instCounters) close(inst connector.Connector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != inst || inst == nil {
		return
	}
	c.base = addCounters(c.base, inst.(connector.Counting).Counters())
	c.cur = nil
}

// snapshot returns the totals: the ended instances' plus the live one's.
// It returns nil for a connector that keeps no counters.
func (c *instCounters) snapshot() []connector.Counter {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]connector.Counter(nil), c.base...)
	if c.cur != nil {
		out = addCounters(out, c.cur.(connector.Counting).Counters())
	}
	return out
}

// addCounters adds more into sum by name, appending names sum lacks. A
// gauge is not added: the later value replaces the earlier.
func addCounters(sum, more []connector.Counter) []connector.Counter {
next:
	for _, m := range more {
		for i := range sum {
			if sum[i].Name == m.Name {
				if m.Gauge {
					sum[i].Value = m.Value
				} else {
					sum[i].Value += m.Value
				}
				continue next
			}
		}
		sum = append(sum, m)
	}
	return sum
}
