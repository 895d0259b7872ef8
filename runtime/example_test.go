package runtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/runtime"
)

// numbers is a source of count 8-byte events, 100 per batch.
type numbers struct {
	connector.Base
	count, next int
}

func (n *numbers) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	var buf [8]byte
	for i := 0; i < 100 && n.next < n.count; i++ {
		n.next++
		b.Append(uint64(n.next), 0, cabi.KindRaw, 0, buf[:])
	}
	if n.next == n.count {
		return cabi.EOF, nil
	}
	return cabi.OK, nil
}

// tally is a sink that counts events.
type tally struct {
	connector.Base
	events int
}

func (t *tally) Write(b *cabi.Batch) (cabi.Status, error) {
	t.events += int(b.Len)
	return cabi.OK, nil
}

// Example runs a graph built in Go: a source, a pipeline with the built-in
// sample operator keeping every 10th event, and a sink.
func Example() {
	sink := &tally{}
	reg := connector.NewRegistry()
	reg.MustRegister(connector.Type{ID: "numbers", Roles: connector.RoleSource,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return &numbers{count: 10000}, nil
		}})
	reg.MustRegister(connector.Type{ID: "tally", Roles: connector.RoleSink,
		New: func(config []byte, env connector.Env) (connector.Connector, error) { return sink, nil }})

	g := runtime.Graph{
		Connectors: []runtime.ConnectorDef{{Name: "in", Type: "numbers"}, {Name: "out", Type: "tally"}},
		Pipelines:  []runtime.PipelineDef{{Name: "thin", Ops: []runtime.OpDef{{Type: "sample", Config: []byte(`{"n": 10, "mode": "every"}`)}}}},
		Connections: []runtime.EdgeDef{
			{From: "in", To: "thin"},
			{From: "thin", To: "out"},
		},
	}
	eng, err := runtime.New(g, reg, runtime.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Run returns once the source has ended and everything is delivered.
	if err := eng.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	s := eng.Stats()
	p, _ := s.Component("thin", runtime.StatPipeline)
	fmt.Println("delivered:", sink.events)
	fmt.Println("sampled out:", p.Dropped[runtime.ReasonOperator])
	fmt.Println("balanced:", s.Balanced())
	// Output:
	// delivered: 1000
	// sampled out: 9000
	// balanced: true
}
