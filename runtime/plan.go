package runtime

import (
	"github.com/weirproject/weir/connector"

	"bytes"
	"errors"
	"fmt"
	"sort"

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

func graphErr(p spec.Pos, format string, args ...any) error {
	return fmt.Errorf("%s%s: %w", at(p), fmt.Sprintf(format, args...), ErrGraph)
}

// buildPlan checks g against reg and opts and resolves it. Every problem
// found is reported, joined.
func buildPlan(g Graph, reg *connector.Registry, opts *Options) (*plan, error) {
	p := &plan{g: g, connByName: map[string]*connPlan{}, pipeByName: map[string]*pipePlan{}}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	names := map[string]spec.Pos{}
	for _, c := range g.Connectors {
		if c.Name == "" {
			fail(graphErr(c.Pos, "connector has no name"))
			continue
		}
		if prev, dup := names[c.Name]; dup {
			fail(graphErr(c.Pos, "name %q already used at %s", c.Name, prev))
			continue
		}
		names[c.Name] = c.Pos
		t, ok := reg.Lookup(c.Type)
		if !ok {
			fail(graphErr(c.Pos, "connector %q: unknown type %q", c.Name, c.Type))
			continue
		}
		cp := &connPlan{def: c, typ: t}
		p.conns = append(p.conns, cp)
		p.connByName[c.Name] = cp
	}
	for _, pd := range g.Pipelines {
		if pd.Name == "" {
			fail(graphErr(pd.Pos, "pipeline has no name"))
			continue
		}
		if prev, dup := names[pd.Name]; dup {
			fail(graphErr(pd.Pos, "name %q already used at %s", pd.Name, prev))
			continue
		}
		names[pd.Name] = pd.Pos
		pp, err := buildPipe(pd, reg, opts)
		if err != nil {
			fail(err)
			continue
		}
		p.pipes = append(p.pipes, pp)
		p.pipeByName[pd.Name] = pp
	}
	outgoing := map[string]bool{}
	incoming := map[string]bool{}
	seenEdge := map[string]spec.Pos{}
	for _, e := range g.Connections {
		key := e.From + "." + e.FromPort + "->" + e.To
		if prev, dup := seenEdge[key]; dup {
			fail(graphErr(e.Pos, "edge %s -> %s given twice (first at %s)", e.From, e.To, prev))
			continue
		}
		seenEdge[key] = e.Pos
		if e.Capacity == 0 {
			e.Capacity = opts.EdgeCapacity
		}
		if e.Policy == "" {
			e.Policy = Block
		}
		ok := true
		if e.Capacity < 0 {
			fail(graphErr(e.Pos, "edge %s -> %s: capacity %d must be positive", e.From, e.To, e.Capacity))
			ok = false
		}
		switch e.Policy {
		case Block, DropNewest, DropOldest:
		default:
			fail(graphErr(e.Pos, "edge %s -> %s: unknown policy %q (want block, drop_newest or drop_oldest)", e.From, e.To, e.Policy))
			ok = false
		}
		if c, isConn := p.connByName[e.From]; isConn {
			if c.typ.Roles&connector.RoleSource == 0 {
				fail(graphErr(e.Pos, "edge from %q: type %q is not a source", e.From, c.def.Type))
				ok = false
			}
			if e.FromPort != "" {
				fail(graphErr(e.Pos, "edge from %q: a connector has no output %q", e.From, e.FromPort))
				ok = false
			}
		} else if pp, isPipe := p.pipeByName[e.From]; isPipe {
			if indexString(pp.outputs, e.FromPort) < 0 {
				fail(graphErr(e.Pos, "edge from pipeline %q: no output %q (outputs: %q)", e.From, e.FromPort, pp.outputs))
				ok = false
			}
		} else if _, known := names[e.From]; !known {
			fail(graphErr(e.Pos, "edge from %q: no such connector or pipeline", e.From))
			ok = false
		}
		if c, isConn := p.connByName[e.To]; isConn {
			if c.typ.Roles&connector.RoleSink == 0 {
				fail(graphErr(e.Pos, "edge to %q: type %q is not a sink", e.To, c.def.Type))
				ok = false
			}
		} else if _, isPipe := p.pipeByName[e.To]; !isPipe {
			if _, known := names[e.To]; !known {
				fail(graphErr(e.Pos, "edge to %q: no such connector or pipeline", e.To))
			}
			ok = false
		}
		if e.From == e.To {
			fail(graphErr(e.Pos, "edge from %q to itself", e.From))
			ok = false
		}
		if ok {
			p.edges = append(p.edges, e)
			outgoing[e.From] = true
			incoming[e.To] = true
		}
	}
	for _, c := range p.conns {
		src, snk := c.typ.Roles&connector.RoleSource != 0, c.typ.Roles&connector.RoleSink != 0
		c.hasSource = src && (outgoing[c.def.Name] || !snk)
		c.hasSink = snk && (incoming[c.def.Name] || !src)
		if !c.hasSource && !c.hasSink {
			fail(graphErr(c.def.Pos, "connector %q: type %q can be neither a source nor a sink", c.def.Name, c.def.Type))
		}
	}
	if err := p.checkCycles(); err != nil {
		fail(err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func buildPipe(pd PipelineDef, reg *connector.Registry, opts *Options) (*pipePlan, error) {
	pp := &pipePlan{def: pd, outputs: []string{""}}
	var errs []error
	for i, od := range pd.Ops {
		sp := stepPlan{def: od}
		if t, ok := reg.Lookup(od.Type); ok && t.Roles&connector.RoleProcessor != 0 {
			sp.proc = t
		} else if opts.NewOp != nil {
			op, err := opts.NewOp(od.Type, od.Config)
			if err != nil {
				errs = append(errs, graphErr(od.Pos, "pipeline %q step %d: %v", pd.Name, i+1, err))
				continue
			}
			sp.op = op
			if r, ok := op.(operator.Router); ok {
				if i != len(pd.Ops)-1 {
					errs = append(errs, graphErr(od.Pos, "pipeline %q step %d: a %s step routes, so it must be the last step", pd.Name, i+1, od.Type))
					continue
				}
				outs := r.Outputs()
				if len(outs) == 0 || len(outs) > 64 {
					errs = append(errs, graphErr(od.Pos, "pipeline %q step %d: a router needs 1 to 64 outputs, has %d", pd.Name, i+1, len(outs)))
					continue
				}
				pp.router = true
				pp.outputs = outs
			}
		} else {
			errs = append(errs, graphErr(od.Pos, "pipeline %q step %d: unknown operator or processor type %q", pd.Name, i+1, od.Type))
			continue
		}
		pp.steps = append(pp.steps, sp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return pp, nil
}

// checkCycles rejects a loop through pipelines (connectors end a path:
// a connector's source side is independent of its sink side).
func (p *plan) checkCycles() error {
	next := map[string][]string{}
	for _, e := range p.edges {
		if p.pipeByName[e.From] != nil && p.pipeByName[e.To] != nil {
			next[e.From] = append(next[e.From], e.To)
		}
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) bool
	visit = func(n string) bool {
		state[n] = 1
		for _, m := range next[n] {
			if state[m] == 1 || state[m] == 0 && visit(m) {
				return true
			}
		}
		state[n] = 2
		return false
	}
	names := make([]string, 0, len(p.pipes))
	for _, pp := range p.pipes {
		names = append(names, pp.def.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		if state[n] == 0 && visit(n) {
			return graphErr(p.pipeByName[n].def.Pos, "pipeline %q is part of a cycle", n)
		}
	}
	return nil
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
	return a.def.Type == b.def.Type && bytes.Equal(a.def.Config, b.def.Config) &&
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
