package runtime

import (
	"bytes"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime/operator"
)

// plan is a checked Graph with its types resolved and operators built.
type plan struct {
	g          Graph
	conns      []*connPlan
	connByName map[string]*connPlan
	pipes      []*pipePlan
	pipeByName map[string]*pipePlan
	edges      []EdgeDef
}

type connPlan struct {
	def                ConnectorDef
	typ                *connector.Type
	hasSource, hasSink bool
}

type pipePlan struct {
	def     PipelineDef
	steps   []stepPlan
	outputs []string
	router  bool
}

type stepPlan struct {
	def  OpDef
	op   operator.Op
	proc *connector.Type
}

// at prefixes a message with its position, when known.
func at(p spec.Pos) string {
	if p.File == "" && p.Line == 0 {
		return ""
	}
	return p.String() + ": "
}

// buildPlan checks g against reg with opts.NewOp (see CheckGraph) and
// resolves it, filling in the edges' default capacity and policy.
func buildPlan(g Graph, reg *connector.Registry, opts *Options) (*plan, error) {
	p, probs := check(g, reg, opts.NewOp)
	if len(probs) > 0 {
		return nil, &GraphError{Problems: probs}
	}
	for i := range p.edges {
		e := &p.edges[i]
		if e.Capacity == 0 {
			e.Capacity = opts.EdgeCapacity
		}
		if e.Policy == "" {
			e.Policy = Block
		}
	}
	return p, nil
}

func indexString(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// sameConnector reports whether Reload may keep a's running instance for b.
func sameConnector(a, b *connPlan) bool {
	return a.def.Type == b.def.Type && bytes.Equal(a.def.Config, b.def.Config) && a.def.Isolation == b.def.Isolation &&
		a.hasSource == b.hasSource && a.hasSink == b.hasSink
}

// samePipeline reports whether Reload may keep a's operators for b.
func samePipeline(a, b PipelineDef) bool {
	if len(a.Ops) != len(b.Ops) {
		return false
	}
	for i := range a.Ops {
		if a.Ops[i].Type != b.Ops[i].Type || !bytes.Equal(a.Ops[i].Config, b.Ops[i].Config) {
			return false
		}
	}
	return true
}
