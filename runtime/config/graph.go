package config

import (
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/operator"
)

// checkGraph resolves the connections, has runtime.CheckGraph check the
// graph rules and reports its problems at their place in the file, then
// warns about parts of the graph that do nothing or cannot keep their
// promises.
func (l *loader) checkGraph() {
	for _, n := range l.pendingConns {
		l.connection(n)
	}
	l.sinkBuffers()
	unresolved := map[int]bool{}
	for _, p := range runtime.CheckGraph(l.graph, l.reg, operator.New) {
		l.report(p)
		if p.Kind == runtime.KindEdge {
			switch p.Rule {
			case runtime.RuleRef, runtime.RuleRole, runtime.RulePort, runtime.RuleDuplicate:
				unresolved[p.Index] = true
			}
		}
	}
	for i, d := range l.graph.Connections {
		from, to := l.names[d.From], l.names[d.To]
		if unresolved[i] || from == nil || to == nil {
			l.connFailed = true
			continue
		}
		l.edges = append(l.edges, &edge{def: d, from: from, to: to, policy: l.edgeNodes[i].policy})
	}
	for _, ed := range l.edges {
		ed.from.out++
		ed.to.in++
		if ed.def.FromPort != "" {
			if ed.from.portUsed == nil {
				ed.from.portUsed = map[string]bool{}
			}
			ed.from.portUsed[ed.def.FromPort] = true
		}
	}
	for _, ed := range l.edges {
		if ed.from.unpausable && ed.def.Policy == runtime.Block {
			pos := ed.def.Pos
			if ed.policy != nil {
				pos = l.pos(ed.policy)
			}
			l.warnf(pos, "connection %s -> %s: policy block cannot hold back connector %q (type %s): it reads a kernel ring that cannot be paused, so when this queue (or a block queue after it) is full the kernel drops events, counted there and not on this edge; use drop_newest or drop_oldest to drop and count in weir, or raise capacity",
				edgeFrom(ed.def), ed.def.To, ed.from.name, ed.from.typ.ID)
		}
	}
	for _, e := range l.order {
		switch {
		case e.bad, l.connFailed:
		case e.pipeline:
			if e.in == 0 {
				l.warnf(e.pos, "pipeline %q has no input: no connection has to: %s", e.name, e.name)
			}
			if len(e.ports) > 0 {
				for _, p := range e.ports {
					if !e.portUsed[p] {
						l.warnf(e.routePos, "pipeline %q: events routed to output %q are dropped: no connection has from: %s.%s", e.name, p, e.name, p)
					}
				}
			} else if e.out == 0 {
				l.warnf(e.pos, "pipeline %q has no output: its events are dropped; connect from: %s to a sink or pipeline", e.name, e.name)
			}
		case e.typ == nil:
		case e.typ.Roles&connector.RoleSource != 0 && e.typ.Roles&connector.RoleSink != 0:
			// Unconnected, it is a CheckGraph problem.
		case e.typ.Roles&connector.RoleSource != 0 && e.out == 0:
			l.warnf(e.pos, "source %q (type %s) feeds nothing: its events are discarded; connect from: %s", e.name, e.typ.ID, e.name)
		case e.typ.Roles&connector.RoleSink != 0 && e.in == 0:
			l.warnf(e.pos, "sink %q (type %s) receives nothing: no connection has to: %s", e.name, e.typ.ID, e.name)
		}
	}
}

func edgeFrom(d runtime.EdgeDef) string {
	if d.FromPort != "" {
		return d.From + "." + d.FromPort
	}
	return d.From
}

// report adds a CheckGraph problem to the errors, at the place in the
// file of the part it concerns, with a did-you-mean hint for an unknown
// name. A problem with a definition that already has its own errors is
// left out: it would only repeat them.
func (l *loader) report(p runtime.GraphProblem) {
	pos := p.Pos
	switch p.Kind {
	case runtime.KindConnector:
		if p.Field == "type" {
			ref := l.connTypes[p.Index]
			if ref.reported {
				return
			}
			pos = ref.pos
		}
	case runtime.KindOp:
		ref := l.stepTypes[p.Index][p.Step]
		if ref.reported {
			return
		}
		if p.Field == "type" {
			pos = ref.pos
		}
	case runtime.KindEdge:
		nodes := l.edgeNodes[p.Index]
		n := map[string]*yaml.Node{"from": nodes.from, "to": nodes.to, "capacity": nodes.capacity, "policy": nodes.policy}[p.Field]
		if sub, ok := strings.CutPrefix(p.Field, "buffer."); ok && nodes.buffer != nil {
			n = nodes.buffer
			if v := valueOf(nodes.buffer, sub); v != nil {
				n = v
			}
		}
		if n != nil {
			pos = l.pos(n)
		}
	}
	if l.badNodes[pos] {
		return
	}
	msg := p.Msg
	if len(p.Options) > 0 {
		msg += didYouMean(p.Value, p.Options)
	}
	if p.Want != "" {
		msg += "; " + p.Want
	}
	if p.Rule == runtime.RuleType && len(p.Options) > 0 {
		msg += l.pluginHint()
	}
	l.errs = append(l.errs, &spec.Error{Pos: pos, Msg: msg})
}

// sinkBuffers gives each connection into a sink that has a buffer, and
// none of its own, that buffer in a subdirectory named after where the
// connection comes from (FROM, or FROM.OUTPUT).
func (l *loader) sinkBuffers() {
	for i := range l.graph.Connections {
		d := &l.graph.Connections[i]
		to := l.names[d.To]
		if d.Buffer != nil || to == nil || to.buffer == nil {
			continue
		}
		l.edgeNodes[i].buffer = to.buffer
		if to.bufferDef == nil {
			continue // its errors are reported
		}
		b := *to.bufferDef
		b.Path = filepath.Join(b.Path, edgeFrom(*d))
		d.Buffer = &b
	}
}
