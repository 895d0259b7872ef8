package runtime

import (
	"github.com/weirproject/weir/connector"

	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

// instLog records, per source instance (numbered from 1 in creation
// order), the batch IDs it emitted and the acks and fails it received.
// Safe for concurrent use.
type instLog struct {
	mu                     sync.Mutex
	emitted, acked, failed map[int][]uint64
	created                int
}

func newInstLog() *instLog {
	return &instLog{emitted: map[int][]uint64{}, acked: map[int][]uint64{}, failed: map[int][]uint64{}}
}

func (l *instLog) add(m map[int][]uint64, inst int, id uint64) {
	l.mu.Lock()
	m[inst] = append(m[inst], id)
	l.mu.Unlock()
}

// get returns a sorted copy of m[inst].
func (l *instLog) get(m map[int][]uint64, inst int) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(m[inst])
	slices.Sort(out)
	return out
}

func (l *instLog) instances() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.created
}

// scriptSource is an Acker source whose Poll answers are a script of the
// instance number and the 1-based poll count of that instance. Connect
// fails when refuse is set.
type scriptSource struct {
	connector.Base
	inst   int
	log    *instLog
	polls  int
	refuse bool
	script func(inst, poll int) cabi.Status
}

func (s *scriptSource) Connect(context.Context, int) error {
	if s.refuse {
		return errors.New("scripted refusal")
	}
	return nil
}

func (s *scriptSource) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	s.polls++
	st := s.script(s.inst, s.polls)
	switch st {
	case cabi.OK:
		var data [8]byte // testSink reads a sequence number here
		binary.LittleEndian.PutUint64(data[:], b.ID)
		b.Append(b.ID, 0, cabi.KindRaw, 0, data[:])
		s.log.add(s.log.emitted, s.inst, b.ID)
		return cabi.OK, nil
	case cabi.Error:
		return cabi.Error, errors.New("scripted failure")
	}
	return st, nil
}

func (s *scriptSource) Ack(id uint64)  { s.log.add(s.log.acked, s.inst, id) }
func (s *scriptSource) Fail(id uint64) { s.log.add(s.log.failed, s.inst, id) }

// registerScript registers type "script" in f, making scriptSources that
// share log; instances numbered from refuseFrom on (0: none) never connect.
func registerScript(f *fixture, log *instLog, refuseFrom int, script func(inst, poll int) cabi.Status) {
	f.reg.MustRegister(connector.Type{ID: "script", Roles: connector.RoleSource, New: func([]byte, connector.Env) (connector.Connector, error) {
		log.mu.Lock()
		log.created++
		inst := log.created
		log.mu.Unlock()
		return &scriptSource{inst: inst, log: log, script: script, refuse: refuseFrom > 0 && inst >= refuseFrom}, nil
	}})
}

// TestAcksDoNotReachANewInstance: a source emits batches 1-3 into a sink
// that holds them, then fails until it is recreated. The ack of batch 1,
// ready before the old instance is destroyed, goes to the old instance;
// those of batches 2 and 3, ready only after, reach no instance and are
// counted as AcksDropped; the new instance hears only of its own batches.
func TestAcksDoNotReachANewInstance(t *testing.T) {
	const wait = 3 * time.Second
	log := newInstLog()
	nodeC := make(chan *connNode, 1)
	release1 := make(chan struct{}) // lets the sink write batch 1
	gate := make(chan struct{})     // lets the sink write the rest
	f := newFixture()
	registerScript(f, log, 0, func(inst, poll int) cabi.Status {
		if inst > 1 {
			if poll <= 2 {
				return cabi.OK
			}
			return cabi.EOF
		}
		switch {
		case poll <= 3:
			return cabi.OK
		case poll < 6:
			return cabi.Error
		case poll == 6:
			// The failure that triggers the restart: first let batch 1
			// be written, and wait until its ack is ready.
			close(release1)
			var n *connNode
			select {
			case n = <-nodeC:
			case <-time.After(wait):
				t.Error("no node handed to the source")
				return cabi.Error
			}
			for deadline := time.Now().Add(wait); !n.acks.pending(); {
				if time.Now().After(deadline) {
					t.Error("ack of batch 1 never became ready")
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		return cabi.Error
	})
	writes := 0
	f.newSink = func(string) *testSink {
		return &testSink{inspect: func(*cabi.Batch) {
			writes++
			if writes == 1 {
				<-release1
			} else {
				<-gate
			}
		}}
	}
	opts := testOpts()
	opts.EdgeCapacity = 8
	e := startEngine(t, graph([]string{"in:script", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	e.eng.nodesMu.RLock()
	nodeC <- e.eng.conns["in"]
	e.eng.nodesMu.RUnlock()
	eventually(t, wait, "the source to be recreated", func() bool { return log.instances() == 2 })
	close(gate)
	select {
	case <-e.Finished():
	case <-time.After(wait):
		t.Fatal("engine did not finish")
	}
	shutdown(t, e)

	if got, want := log.get(log.emitted, 1), []uint64{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("instance 1 emitted %v; want %v", got, want)
	}
	emitted2 := log.get(log.emitted, 2)
	if len(emitted2) != 2 {
		t.Fatalf("instance 2 emitted %v; want 2 batches", emitted2)
	}
	for _, tt := range []struct {
		inst        int
		acked, fail []uint64
	}{
		{1, []uint64{1}, nil},
		{2, emitted2, nil},
	} {
		if got := log.get(log.acked, tt.inst); !slices.Equal(got, tt.acked) {
			t.Errorf("instance %d acked %v; want %v", tt.inst, got, tt.acked)
		}
		if got := log.get(log.failed, tt.inst); !slices.Equal(got, tt.fail) {
			t.Errorf("instance %d failed %v; want %v", tt.inst, got, tt.fail)
		}
	}
	s := e.Stats()
	c, _ := s.Component("in", StatSource)
	if c.Restarts != 1 || c.Acks != 3 || c.Fails != 0 || c.AcksDropped != 2 {
		t.Errorf("source restarts %d, acks %d, fails %d, acks dropped %d; want 1, 3, 0, 2", c.Restarts, c.Acks, c.Fails, c.AcksDropped)
	}
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, s); err != nil {
		t.Fatal(err)
	}
	if want := `weir_component_acks_dropped_total{component="in",role="source",type="script"} 2` + "\n"; !strings.Contains(buf.String(), want) {
		t.Errorf("metrics lack %q:\n%s", want, buf.String())
	}
	checkAccounting(t, s)
}

// TestAcksDroppedWhenNoInstanceRuns: a source emits one batch into a sink
// that holds it, then fails, and its new instance never connects. The
// batch is written after the old instance was destroyed, while none runs:
// no instance hears of it, and it is counted as AcksDropped, not as an
// Ack that was never made.
func TestAcksDroppedWhenNoInstanceRuns(t *testing.T) {
	const wait = 3 * time.Second
	log := newInstLog()
	gate := make(chan struct{})
	f := newFixture()
	registerScript(f, log, 2, func(inst, poll int) cabi.Status {
		if poll == 1 {
			return cabi.OK
		}
		return cabi.Error
	})
	f.newSink = func(string) *testSink {
		return &testSink{inspect: func(*cabi.Batch) { <-gate }}
	}
	e := startEngine(t, graph([]string{"in:script", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, testOpts())
	eventually(t, wait, "the new instance to refuse to connect", func() bool {
		c, _ := e.Stats().Component("in", StatSource)
		return log.instances() == 2 && c.ConnectAttempts >= 3
	})
	close(gate)
	eventually(t, wait, "the sink to write the batch", func() bool { return f.sinkBatches("out") == 1 })
	shutdown(t, e)
	for inst := 1; inst <= 2; inst++ {
		if a, fl := log.get(log.acked, inst), log.get(log.failed, inst); len(a)+len(fl) != 0 {
			t.Errorf("instance %d acked %v, failed %v; want neither", inst, a, fl)
		}
	}
	s := e.Stats()
	c, _ := s.Component("in", StatSource)
	if c.BatchesOut != 1 || c.Acks != 0 || c.Fails != 0 || c.AcksDropped != 1 {
		t.Errorf("source batches out %d, acks %d, fails %d, acks dropped %d; want 1, 0, 0, 1", c.BatchesOut, c.Acks, c.Fails, c.AcksDropped)
	}
	checkAccounting(t, s)
}
