package runtime

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime/operator"
)

func checkRegistry() *connector.Registry {
	reg := connector.NewRegistry()
	nop := func([]byte, connector.Env) (connector.Connector, error) { return nil, errors.New("not for running") }
	for _, t := range []connector.Type{
		{ID: "src", Roles: connector.RoleSource},
		{ID: "sink", Roles: connector.RoleSink},
		{ID: "echo", Roles: connector.RoleSource | connector.RoleSink},
		{ID: "upper", Roles: connector.RoleProcessor},
	} {
		t.New = nop
		reg.MustRegister(t)
	}
	return reg
}

// problemLine shows a problem with everything that locates it.
func problemLine(p GraphProblem) string {
	where := fmt.Sprint(p.Index)
	if p.Kind == KindOp {
		where += fmt.Sprintf(".%d", p.Step)
	}
	return fmt.Sprintf("%s %s %s %s: %s", p.Kind, where, p.Field, p.Rule, p.Message())
}

func route(outputs ...string) OpDef {
	var outs []string
	for _, o := range outputs {
		outs = append(outs, fmt.Sprintf(`{"name":%q,"when":"len > 1"}`, o))
	}
	return OpDef{Type: "route", Config: []byte(`{"default":false,"outputs":[` + strings.Join(outs, ",") + `]}`)}
}

func TestCheckGraph(t *testing.T) {
	pipe := func(name string, ops ...OpDef) PipelineDef { return PipelineDef{Name: name, Ops: ops} }
	sample := OpDef{Type: "sample", Config: []byte(`{"n":2}`)}
	tests := []struct {
		name string
		g    Graph
		want []string
	}{
		{"good", graph([]string{"in:src", "out:sink", "e:echo"}, []PipelineDef{pipe("p", sample, OpDef{Type: "upper"}), pipe("r", route("a", "b"))},
			EdgeDef{From: "in", To: "p"}, EdgeDef{From: "p", To: "r"}, EdgeDef{From: "r", FromPort: "a", To: "out"},
			EdgeDef{From: "r", FromPort: "b", To: "e"}, EdgeDef{From: "e", To: "p", Policy: DropOldest, Capacity: 3}), nil},
		{"no name", graph([]string{":src"}, []PipelineDef{pipe("")}), []string{
			`connector 0 name name: connector 1 has no name`,
			`pipeline 0 name name: pipeline 1 has no name`}},
		{"duplicate names", graph([]string{"a:src", "a:sink"}, []PipelineDef{pipe("a")}), []string{
			`connector 1 name name: duplicate name "a": already used by the connector (connectors and pipelines share one namespace)`,
			`pipeline 0 name name: duplicate name "a": already used by the connector (connectors and pipelines share one namespace)`}},
		{"unknown connector type", graph([]string{"a:nope"}, nil), []string{
			`connector 0 type type: connector "a": unknown connector type "nope"; known types: echo, sink, src, upper`}},
		{"processor as connector", graph([]string{"a:upper"}, nil), []string{
			`connector 0 type type: connector "a": type "upper" is a processor; use it as a step in a pipeline`}},
		{"unknown operator", graph(nil, []PipelineDef{pipe("p", OpDef{Type: "smaple"})}), []string{
			`op 0.0 type type: pipeline "p" step 1: unknown operator "smaple"; want one of aggregate, filter, rate_limit, route, sample, truncate, upper`}},
		{"connector as step", graph(nil, []PipelineDef{pipe("p", OpDef{Type: "sink"})}), []string{
			`op 0.0 type type: pipeline "p" step 1: connector type "sink" is not a processor; declare it under connectors and connect it instead`}},
		{"bad operator config", graph(nil, []PipelineDef{pipe("p", OpDef{Type: "sample", Config: []byte(`{"n":"x"}`)})}), []string{
			`op 0.0  op: pipeline "p" step 1: new sample operator: config:1:6: field n: want a non-negative integer, found "x"`}},
		{"router not last", graph(nil, []PipelineDef{pipe("p", route("a"), sample)}), []string{
			`op 0.0  op: pipeline "p": step 1 (route) must be the last step; route sends events to the pipeline's outputs`}},
		{"dangling edges", graph([]string{"in:src"}, nil, EdgeDef{From: "ni", To: "in.x"}, EdgeDef{From: "in", To: "nowhere"}), []string{
			`edge 0 from ref: connection ni -> in.x: from: no connector or pipeline named "ni"`,
			`edge 0 to ref: connection ni -> in.x: to: "in.x" names an output; to takes a pipeline or sink connector name`,
			`edge 1 to ref: connection in -> nowhere: to: no connector or pipeline named "nowhere"`}},
		{"roles", graph([]string{"in:src", "out:sink", "e:echo", "lone:echo"}, nil,
			EdgeDef{From: "out", To: "in"}, EdgeDef{From: "e", To: "e"}), []string{
			`edge 0 from role: connection out -> in: from: connector "out" (type sink) is a sink only; it produces no events to connect from`,
			`edge 0 to role: connection out -> in: to: connector "in" (type src) is a source only; it cannot receive events`,
			`edge 1  role: connection e -> e: connector "e" would feed itself directly; connect it through a pipeline`,
			`connector 3  role: connector "lone" (type echo) is not connected; its type is both a source and a sink, so a connection must say which it is`}},
		{"ports", graph([]string{"in:src", "out:sink"}, []PipelineDef{pipe("p", sample), pipe("r", route("a"))},
			EdgeDef{From: "in", FromPort: "x", To: "p"}, EdgeDef{From: "p", FromPort: "x", To: "r"},
			EdgeDef{From: "r", To: "out"}, EdgeDef{From: "r", FromPort: "b", To: "out"}), []string{
			`edge 0 from port: connection in.x -> p: from: connector "in" has no named outputs; write from: in`,
			`edge 1 from port: connection p.x -> r: from: pipeline "p" has no output "x"; only pipelines ending in route have named outputs`,
			`edge 2 from port: connection r -> out: from: pipeline "r" ends in route, so connect one of its outputs: r.a`,
			`edge 3 from port: connection r.b -> out: from: pipeline "r" has no output "b"; its outputs are r.a`}},
		{"queue", graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out", Capacity: -1, Policy: "maybe"}), []string{
			`edge 0 capacity queue: connection in -> out: capacity -1 is negative; want a queue length in batches, or 0 for the engine's default`,
			`edge 0 policy queue: connection in -> out: unknown policy "maybe"; want block, drop_newest or drop_oldest`}},
		{"duplicate edge", graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}, EdgeDef{From: "in", To: "out", Policy: DropNewest}), []string{
			`edge 1  duplicate: connection in -> out: duplicate connection (first); one edge per output and destination`}},
		{"cycles", graph([]string{"e:echo"}, []PipelineDef{pipe("a"), pipe("b"), pipe("c"), pipe("self")},
			EdgeDef{From: "a", To: "b"}, EdgeDef{From: "b", To: "c"}, EdgeDef{From: "c", To: "a"},
			EdgeDef{From: "self", To: "self"}, EdgeDef{From: "e", To: "a"}, EdgeDef{From: "c", To: "e"}), []string{
			`edge 2  cycle: connection c -> a closes a cycle: a -> b -> c -> a; events would circulate forever, so pipelines must not feed back into themselves`,
			`edge 3  cycle: connection self -> self closes a cycle: self -> self; events would circulate forever, so pipelines must not feed back into themselves`}},
		{"several at once", graph([]string{"a:nope", "a:src", "out:sink"}, []PipelineDef{pipe("p", OpDef{Type: "nope"}), pipe("q")},
			EdgeDef{From: "p", To: "q"}, EdgeDef{From: "q", To: "q"}, EdgeDef{From: "x", To: "out", Policy: "maybe"}, EdgeDef{From: "x", To: "out", Policy: "maybe"}), []string{
			`connector 0 type type: connector "a": unknown connector type "nope"; known types: echo, sink, src, upper`,
			`connector 1 name name: duplicate name "a": already used by the connector (connectors and pipelines share one namespace)`,
			`op 0.0 type type: pipeline "p" step 1: unknown operator "nope"; want one of aggregate, filter, rate_limit, route, sample, truncate, upper`,
			`edge 2 policy queue: connection x -> out: unknown policy "maybe"; want block, drop_newest or drop_oldest`,
			`edge 2 from ref: connection x -> out: from: no connector or pipeline named "x"`,
			`edge 3  duplicate: connection x -> out: duplicate connection (first); one edge per output and destination`,
			`edge 1  cycle: connection q -> q closes a cycle: q -> q; events would circulate forever, so pipelines must not feed back into themselves`}},
	}
	reg := checkRegistry()
	for _, tt := range tests {
		var got []string
		for _, p := range CheckGraph(tt.g, reg, nil) {
			got = append(got, problemLine(p))
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: CheckGraph =\n\t%s\nwant\n\t%s", tt.name, strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
		}
	}
}

// TestCheckGraphProblem checks what a problem carries besides its text:
// the position, the unknown value and its options, and the error chain.
func TestCheckGraphProblem(t *testing.T) {
	pos := func(line int) spec.Pos { return spec.Pos{File: "g.yaml", Line: line, Col: 3} }
	g := Graph{
		Connectors:  []ConnectorDef{{Name: "in", Type: "src", Pos: pos(1)}, {Name: "in", Type: "sink", Pos: pos(2)}},
		Pipelines:   []PipelineDef{{Name: "p", Pos: pos(3), Ops: []OpDef{{Type: "filter", Config: []byte(`{"expr":"len >"}`), Pos: pos(4)}}}},
		Connections: []EdgeDef{{From: "inn", To: "p", Pos: pos(5)}},
	}
	probs := CheckGraph(g, checkRegistry(), nil)
	if len(probs) != 3 {
		t.Fatalf("CheckGraph = %v; want 3 problems", probs)
	}
	if got, want := probs[0].Error(), `g.yaml:2:3: duplicate name "in": already used by the connector at line 1 (connectors and pipelines share one namespace)`; got != want {
		t.Errorf("duplicate: Error() = %q; want %q", got, want)
	}
	var ee *operator.ExprError
	if !errors.As(probs[1], &ee) || !errors.Is(probs[1], ErrGraph) || probs[1].Pos != pos(4) {
		t.Errorf("bad step: %#v; want at %v, wrapping ErrGraph and an *operator.ExprError", probs[1], pos(4))
	}
	if p := probs[2]; p.Value != "inn" || strings.Join(p.Options, ",") != "in,p" || p.Field != "from" {
		t.Errorf("unknown from: Value %q Options %q Field %q; want inn, [in p], from", p.Value, p.Options, p.Field)
	}

	_, err := New(g, checkRegistry(), Options{})
	var ge *GraphError
	if !errors.As(err, &ge) || len(ge.Problems) != 3 || !errors.Is(err, ErrGraph) {
		t.Fatalf("New = %v; want a *GraphError with 3 problems, wrapping ErrGraph", err)
	}
	if want := "invalid graph: 3 problems:\n\tg.yaml:2:3: duplicate name"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("New error = %q; want it to start %q", err, want)
	}
}
