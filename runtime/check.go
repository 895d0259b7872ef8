package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime/diskbuf"
	"github.com/weirproject/weir/runtime/operator"
)

// GraphKind says which part of a Graph a GraphProblem concerns.
type GraphKind int

// The parts of a Graph. GraphProblem.Index and Step locate the part.
const (
	// KindConnector is Graph.Connectors[Index].
	KindConnector GraphKind = iota + 1
	// KindPipeline is Graph.Pipelines[Index].
	KindPipeline
	// KindOp is Graph.Pipelines[Index].Ops[Step].
	KindOp
	// KindEdge is Graph.Connections[Index].
	KindEdge
)

// String returns "connector", "pipeline", "op" or "edge".
func (k GraphKind) String() string {
	switch k {
	case KindConnector:
		return "connector"
	case KindPipeline:
		return "pipeline"
	case KindOp:
		return "op"
	case KindEdge:
		return "edge"
	}
	return fmt.Sprintf("GraphKind(%d)", int(k))
}

// GraphRule names a rule a Graph must keep. CheckGraph checks them all.
type GraphRule string

// The graph rules.
const (
	// RuleName: every connector and pipeline has a name, and no two share
	// one (connectors and pipelines share one namespace).
	RuleName GraphRule = "name"
	// RuleType: a connector's type is a registered source or sink type; a
	// pipeline step's type is a registered processor type or a built-in
	// operator.
	RuleType GraphRule = "type"
	// RuleOp: a step's operator builds from its config, and a routing
	// step is the last of its pipeline, with 1 to 64 outputs.
	RuleOp GraphRule = "op"
	// RuleRef: an edge's ends name a connector or pipeline of the graph.
	RuleRef GraphRule = "ref"
	// RuleRole: edges leave sources and pipelines and enter pipelines
	// and sinks; a connector never feeds itself directly; a connector
	// whose type is both a source and a sink is connected, so that it is
	// clear which it is.
	RuleRole GraphRule = "role"
	// RulePort: an edge from a pipeline that ends in a router names one
	// of the router's outputs, and no other edge names an output.
	RulePort GraphRule = "port"
	// RuleQueue: an edge's capacity is not negative and its policy is
	// Block, DropNewest, DropOldest or "".
	RuleQueue GraphRule = "queue"
	// RuleDuplicate: no two edges join the same output to the same
	// destination.
	RuleDuplicate GraphRule = "duplicate"
	// RuleCycle: no path through pipelines leads back to where it
	// started. (Connectors end paths.)
	RuleCycle GraphRule = "cycle"
	// RuleBuffer: an edge's disk buffer has type disk, a path no other
	// edge uses, a positive max size, a segment size not above it, and an
	// fsync of batch, never or a positive duration; its edge's policy is
	// block or drop_newest.
	RuleBuffer GraphRule = "buffer"
)

// GraphProblem is one way in which a Graph breaks a rule. It is an error
// whose text is the position of the part concerned, when known, and the
// message.
type GraphProblem struct {
	// Kind, Index and Step locate the part of the graph concerned.
	Kind  GraphKind
	Index int
	// Step is the index of the op in its pipeline, for KindOp.
	Step int
	// Name is the connector's or pipeline's name (for an op, its
	// pipeline's), or "FROM -> TO" for an edge (FROM.PORT with a port).
	Name string
	// Field is the field of the definition at fault, when it is one:
	// "name", "type", "from", "to", "capacity", "policy" or, for an
	// edge's disk buffer, "buffer.type", "buffer.path", "buffer.max_size",
	// "buffer.segment_size" or "buffer.fsync"; "" means the definition as
	// a whole.
	Field string
	// Rule is the rule broken.
	Rule GraphRule
	// Pos is the definition's Pos.
	Pos spec.Pos
	// Msg says what is wrong, naming the part concerned.
	Msg string
	// Want, when set, says what would be right; it follows Msg after "; ".
	Want string
	// Value is the unknown name, type, port or policy, when the problem
	// is one, and Options are the values that would have been known, for
	// a caller that suggests the nearest (spec.Suggest).
	Value   string
	Options []string
	// Err is the underlying error, such as the one from an OpFactory.
	Err error
}

// Message returns Msg followed by Want, without the position.
func (p GraphProblem) Message() string {
	if p.Want == "" {
		return p.Msg
	}
	return p.Msg + "; " + p.Want
}

// Error returns the position, when known, and the message.
func (p GraphProblem) Error() string { return at(p.Pos) + p.Message() }

// Unwrap returns ErrGraph and Err, so that errors.Is(p, ErrGraph) holds.
func (p GraphProblem) Unwrap() []error {
	if p.Err != nil {
		return []error{ErrGraph, p.Err}
	}
	return []error{ErrGraph}
}

// GraphError is the error New and Reload return for an invalid graph. It
// wraps ErrGraph and each of its problems.
type GraphError struct {
	// Problems are what CheckGraph found, at least one.
	Problems []GraphProblem
}

// Error lists the problems, one a line after the first.
func (e *GraphError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid graph: " + e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid graph: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns ErrGraph and every problem.
func (e *GraphError) Unwrap() []error {
	out := []error{ErrGraph}
	for _, p := range e.Problems {
		out = append(out, p)
	}
	return out
}

// CheckGraph checks g against the graph rules (see GraphRule), resolving
// connector and processor types in reg (nil means connector.Default) and
// building the other pipeline steps with newOp (nil means operator.New) as
// the engine does. It returns every problem it finds, in the order of the
// graph's parts, or nil. A step type that is not a registered processor
// is an unknown operator when newOp's error wraps operator.ErrUnknownType.
func CheckGraph(g Graph, reg *connector.Registry, newOp OpFactory) []GraphProblem {
	_, probs := check(g, reg, newOp)
	return probs
}

// named is the first definition of a name.
type named struct {
	pipeline bool
	index    int
	pos      spec.Pos
}

type checker struct {
	g     Graph
	reg   *connector.Registry
	newOp OpFactory
	p     *plan
	names map[string]named
	// failed marks the pipelines with step problems: their outputs are
	// unknown.
	failed map[string]bool
	probs  []GraphProblem
}

// check is CheckGraph, and when there are no problems the plan for g,
// with edge defaults not yet applied.
func check(g Graph, reg *connector.Registry, newOp OpFactory) (*plan, []GraphProblem) {
	if reg == nil {
		reg = connector.Default
	}
	if newOp == nil {
		newOp = operator.New
	}
	c := &checker{g: g, reg: reg, newOp: newOp, names: map[string]named{}, failed: map[string]bool{},
		p: &plan{g: g, connByName: map[string]*connPlan{}, pipeByName: map[string]*pipePlan{}}}
	for i, cd := range g.Connectors {
		c.connector(i, cd)
	}
	for i, pd := range g.Pipelines {
		c.pipeline(i, pd)
	}
	for i, e := range g.Connections {
		c.edge(i, e)
	}
	c.roles()
	c.cycles()
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	return c.p, nil
}

func (c *checker) add(p GraphProblem, format string, args ...any) {
	p.Msg = fmt.Sprintf(format, args...)
	c.probs = append(c.probs, p)
}

// name registers a connector's or pipeline's name and reports whether it
// is the first definition of a good name.
func (c *checker) name(kind GraphKind, i int, name string, pos spec.Pos) bool {
	what := kind.String()
	p := GraphProblem{Kind: kind, Index: i, Name: name, Field: "name", Rule: RuleName, Pos: pos}
	if name == "" {
		c.add(p, "%s %d has no name", what, i+1)
		return false
	}
	if prev, dup := c.names[name]; dup {
		prevWhat := "connector"
		if prev.pipeline {
			prevWhat = "pipeline"
		}
		c.add(p, "duplicate name %q: already used by the %s%s (connectors and pipelines share one namespace)", name, prevWhat, atPlace(prev.pos, pos))
		return false
	}
	c.names[name] = named{pipeline: kind == KindPipeline, index: i, pos: pos}
	return true
}

// atPlace says where prev is, as seen from cur: " at line N" in the same
// file, " at FILE:LINE:COL" in another, "" when unknown.
func atPlace(prev, cur spec.Pos) string {
	switch {
	case prev.Line == 0:
		return ""
	case prev.File == cur.File:
		return fmt.Sprintf(" at line %d", prev.Line)
	}
	return " at " + prev.String()
}

func (c *checker) connector(i int, cd ConnectorDef) {
	first := c.name(KindConnector, i, cd.Name, cd.Pos)
	p := GraphProblem{Kind: KindConnector, Index: i, Name: cd.Name, Field: "type", Pos: cd.Pos}
	t, ok := c.reg.Lookup(cd.Type)
	switch {
	case !ok:
		p.Rule, p.Value, p.Options = RuleType, cd.Type, c.reg.IDs()
		p.Want = "known types: " + strings.Join(p.Options, ", ")
		c.add(p, "connector %q: unknown connector type %q", cd.Name, cd.Type)
		return
	case t.Roles&(connector.RoleSource|connector.RoleSink) == 0:
		p.Rule = RuleType
		if t.Roles&connector.RoleProcessor != 0 {
			c.add(p, "connector %q: type %q is a processor; use it as a step in a pipeline", cd.Name, t.ID)
		} else {
			c.add(p, "connector %q: type %q is neither a source nor a sink", cd.Name, t.ID)
		}
		return
	}
	switch iso := cd.Isolation; {
	case iso.Mode != "" && iso.Mode != connector.IsolateNone && !iso.Isolated():
		p.Rule, p.Field, p.Value = RuleType, "isolate", iso.Mode
		c.add(p, "connector %q: unknown isolation %q; want %s, %s or %s", cd.Name, iso.Mode, connector.IsolateNone, connector.IsolateProcess, connector.IsolateSeccomp)
		return
	case iso.Isolated() && !t.Isolatable:
		p.Rule, p.Field, p.Value = RuleType, "isolate", iso.Mode
		c.add(p, "connector %q: type %q cannot run isolated; only plugin types can", cd.Name, t.ID)
		return
	}
	if first {
		cp := &connPlan{def: cd, typ: t}
		c.p.conns = append(c.p.conns, cp)
		c.p.connByName[cd.Name] = cp
	}
}

func (c *checker) pipeline(i int, pd PipelineDef) {
	first := c.name(KindPipeline, i, pd.Name, pd.Pos)
	pp := &pipePlan{def: pd, outputs: []string{""}}
	ok := true
	for j, od := range pd.Ops {
		p := GraphProblem{Kind: KindOp, Index: i, Step: j, Name: pd.Name, Field: "type", Pos: od.Pos}
		where := fmt.Sprintf("pipeline %q step %d", pd.Name, j+1)
		sp := stepPlan{def: od}
		t, registered := c.reg.Lookup(od.Type)
		if registered && t.Roles&connector.RoleProcessor != 0 {
			sp.proc = t
			pp.steps = append(pp.steps, sp)
			continue
		}
		op, err := c.newOp(od.Type, od.Config)
		switch {
		case err != nil && errors.Is(err, operator.ErrUnknownType) && registered:
			p.Rule = RuleType
			c.add(p, "%s: connector type %q is not a processor; declare it under connectors and connect it instead", where, od.Type)
		case err != nil && errors.Is(err, operator.ErrUnknownType):
			p.Rule, p.Value, p.Options = RuleType, od.Type, append(operator.IDs(), c.processorIDs()...)
			p.Want = "want one of " + strings.Join(p.Options, ", ")
			c.add(p, "%s: unknown operator %q", where, od.Type)
		case err != nil:
			p.Rule, p.Field, p.Err = RuleOp, "", err
			c.add(p, "%s: %v", where, err)
		}
		if err != nil {
			ok = false
			continue
		}
		sp.op = op
		if r, isRouter := op.(operator.Router); isRouter {
			p.Rule, p.Field = RuleOp, ""
			outs := r.Outputs()
			switch {
			case j != len(pd.Ops)-1:
				c.add(p, "pipeline %q: step %d (%s) must be the last step; %s sends events to the pipeline's outputs", pd.Name, j+1, od.Type, od.Type)
				ok = false
				continue
			case len(outs) == 0 || len(outs) > 64:
				c.add(p, "%s (%s): a router needs 1 to 64 outputs, has %d", where, od.Type, len(outs))
				ok = false
				continue
			}
			pp.router = true
			pp.outputs = outs
		}
		pp.steps = append(pp.steps, sp)
	}
	switch {
	case !ok:
		c.failed[pd.Name] = true
	case first:
		c.p.pipes = append(c.p.pipes, pp)
		c.p.pipeByName[pd.Name] = pp
	}
}

func (c *checker) processorIDs() []string {
	var ids []string
	for _, id := range c.reg.IDs() {
		if t, _ := c.reg.Lookup(id); t != nil && t.Roles&connector.RoleProcessor != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

func edgeLabel(e EdgeDef) string {
	if e.FromPort != "" {
		return e.From + "." + e.FromPort + " -> " + e.To
	}
	return e.From + " -> " + e.To
}

func (c *checker) allNames() []string {
	var out []string
	for i, cd := range c.g.Connectors {
		if n, ok := c.names[cd.Name]; ok && !n.pipeline && n.index == i {
			out = append(out, cd.Name)
		}
	}
	for i, pd := range c.g.Pipelines {
		if n, ok := c.names[pd.Name]; ok && n.pipeline && n.index == i {
			out = append(out, pd.Name)
		}
	}
	return out
}

func prefixed(name string, ports []string) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = name + "." + p
	}
	return strings.Join(out, ", ")
}

func (c *checker) edge(i int, e EdgeDef) {
	label := "connection " + edgeLabel(e)
	problem := func(field string, rule GraphRule) GraphProblem {
		return GraphProblem{Kind: KindEdge, Index: i, Name: edgeLabel(e), Field: field, Rule: rule, Pos: e.Pos}
	}
	for _, o := range c.g.Connections[:i] {
		if o.From == e.From && o.FromPort == e.FromPort && o.To == e.To {
			c.add(problem("", RuleDuplicate), "%s: duplicate connection (first%s); one edge per output and destination", label, atPlace(o.Pos, e.Pos))
			return
		}
	}
	ok := true
	fail := func(p GraphProblem, format string, args ...any) {
		c.add(p, format, args...)
		ok = false
	}
	if e.Capacity < 0 {
		fail(problem("capacity", RuleQueue), "%s: capacity %d is negative; want a queue length in batches, or 0 for the engine's default", label, e.Capacity)
	}
	switch e.Policy {
	case "", Block, DropNewest, DropOldest:
	default:
		p := problem("policy", RuleQueue)
		p.Value, p.Options = e.Policy, []string{Block, DropNewest, DropOldest}
		p.Want = "want block, drop_newest or drop_oldest"
		fail(p, "%s: unknown policy %q", label, e.Policy)
	}
	if e.Buffer != nil && !c.buffer(i, e, label, problem) {
		ok = false
	}

	from, found := c.names[e.From]
	cp, pp := c.p.connByName[e.From], c.p.pipeByName[e.From]
	switch {
	case !found:
		p := problem("from", RuleRef)
		p.Value, p.Options = e.From, c.allNames()
		fail(p, "%s: from: no connector or pipeline named %q", label, e.From)
	case !from.pipeline && e.FromPort != "":
		fail(problem("from", RulePort), "%s: from: connector %q has no named outputs; write from: %s", label, e.From, e.From)
	case cp != nil && cp.typ.Roles&connector.RoleSource == 0:
		fail(problem("from", RuleRole), "%s: from: connector %q (type %s) is a sink only; it produces no events to connect from", label, e.From, cp.typ.ID)
	case pp != nil && pp.router && e.FromPort == "":
		last := pp.def.Ops[len(pp.def.Ops)-1].Type
		fail(problem("from", RulePort), "%s: from: pipeline %q ends in %s, so connect one of its outputs: %s", label, e.From, last, prefixed(e.From, pp.outputs))
	case pp != nil && !pp.router && e.FromPort != "":
		fail(problem("from", RulePort), "%s: from: pipeline %q has no output %q; only pipelines ending in route have named outputs", label, e.From, e.FromPort)
	case pp != nil && indexString(pp.outputs, e.FromPort) < 0:
		p := problem("from", RulePort)
		p.Value, p.Options = e.FromPort, pp.outputs
		p.Want = "its outputs are " + prefixed(e.From, pp.outputs)
		fail(p, "%s: from: pipeline %q has no output %q", label, e.From, e.FromPort)
	}

	to, found := c.names[e.To]
	switch {
	case !found && strings.Contains(e.To, "."):
		fail(problem("to", RuleRef), "%s: to: %q names an output; to takes a pipeline or sink connector name", label, e.To)
	case !found:
		p := problem("to", RuleRef)
		p.Value, p.Options = e.To, c.allNames()
		fail(p, "%s: to: no connector or pipeline named %q", label, e.To)
	case c.p.connByName[e.To] != nil && c.p.connByName[e.To].typ.Roles&connector.RoleSink == 0:
		fail(problem("to", RuleRole), "%s: to: connector %q (type %s) is a source only; it cannot receive events", label, e.To, c.p.connByName[e.To].typ.ID)
	case !to.pipeline && e.From == e.To:
		fail(problem("", RuleRole), "%s: connector %q would feed itself directly; connect it through a pipeline", label, e.To)
	}
	if ok && !c.failed[e.From] && !c.failed[e.To] {
		c.p.edges = append(c.p.edges, e)
	}
}

// roles decides which sides of each connector run, and reports a
// connector that can be both and is connected to nothing.
func (c *checker) roles() {
	outgoing, incoming := map[string]bool{}, map[string]bool{}
	for _, e := range c.g.Connections {
		outgoing[e.From] = true
		incoming[e.To] = true
	}
	for _, cp := range c.p.conns {
		src, snk := cp.typ.Roles&connector.RoleSource != 0, cp.typ.Roles&connector.RoleSink != 0
		cp.hasSource = src && (outgoing[cp.def.Name] || !snk)
		cp.hasSink = snk && (incoming[cp.def.Name] || !src)
		if !cp.hasSource && !cp.hasSink {
			n := c.names[cp.def.Name]
			c.add(GraphProblem{Kind: KindConnector, Index: n.index, Name: cp.def.Name, Rule: RuleRole, Pos: cp.def.Pos},
				"connector %q (type %s) is not connected; its type is both a source and a sink, so a connection must say which it is", cp.def.Name, cp.typ.ID)
		}
	}
}

// cycles reports every cycle among pipelines once, at the edge that
// closes it. Connectors end paths: a connector that is both source and
// sink (an echo server, say) may feed itself through a pipeline, because
// what it receives leaves the process before anything comes back.
func (c *checker) cycles() {
	index := map[string]int{} // edge in g.Connections
	for i, e := range c.g.Connections {
		if _, seen := index[edgeLabel(e)]; !seen {
			index[edgeLabel(e)] = i
		}
	}
	out := map[string][]EdgeDef{}
	for _, e := range c.p.edges {
		if c.p.pipeByName[e.From] != nil && c.p.pipeByName[e.To] != nil {
			out[e.From] = append(out[e.From], e)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, e := range out[n] {
			switch color[e.To] {
			case white:
				visit(e.To)
			case grey:
				start := len(stack) - 1
				for stack[start] != e.To {
					start--
				}
				path := append(append([]string(nil), stack[start:]...), e.To)
				i := index[edgeLabel(e)]
				c.add(GraphProblem{Kind: KindEdge, Index: i, Name: edgeLabel(e), Rule: RuleCycle, Pos: e.Pos},
					"connection %s closes a cycle: %s; events would circulate forever, so pipelines must not feed back into themselves",
					edgeLabel(e), strings.Join(path, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, pp := range c.p.pipes {
		if color[pp.def.Name] == white {
			visit(pp.def.Name)
		}
	}
}

// buffer checks an edge's disk buffer (RuleBuffer) and reports whether it
// is good.
func (c *checker) buffer(i int, e EdgeDef, label string, problem func(string, GraphRule) GraphProblem) bool {
	b := e.Buffer
	ok := true
	fail := func(field, format string, args ...any) {
		c.add(problem(field, RuleBuffer), format, args...)
		ok = false
	}
	if b.Type != BufferDisk {
		p := problem("buffer.type", RuleBuffer)
		p.Value, p.Options, p.Want = b.Type, []string{BufferDisk}, "want disk"
		c.add(p, "%s: buffer: unknown type %q", label, b.Type)
		ok = false
	}
	if b.Path == "" {
		fail("buffer.path", "%s: buffer: path is empty; want the directory to keep the buffer in", label)
	} else {
		for _, o := range c.g.Connections[:i] {
			if o.Buffer != nil && bufferKey(o.Buffer.Path) == bufferKey(b.Path) {
				fail("buffer.path", "%s: buffer: path %s is the buffer of connection %s too%s; give each buffer its own directory", label, b.Path, edgeLabel(o), atPlace(o.Pos, e.Pos))
				break
			}
		}
	}
	if b.MaxSize <= 0 {
		fail("buffer.max_size", "%s: buffer: max_size %d: want a positive size such as 1GiB", label, b.MaxSize)
	}
	if b.SegmentSize < 0 || b.MaxSize > 0 && b.SegmentSize > b.MaxSize {
		fail("buffer.segment_size", "%s: buffer: segment_size %d: want 0 (the default) or a size up to max_size (%d)", label, b.SegmentSize, b.MaxSize)
	}
	if _, _, err := diskbuf.ParsePolicy(b.Fsync); err != nil {
		fail("buffer.fsync", "%s: buffer: %v", label, err)
	}
	if e.Policy == DropOldest {
		fail("policy", "%s: policy drop_oldest cannot apply to a disk buffer, which only removes what its consumer is done with; want block or drop_newest", label)
	}
	return ok
}
