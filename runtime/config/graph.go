package config

import (
	"strings"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/runtime"
)

// checkGraph resolves the connections, then reports cycles among pipelines
// and warns about parts of the graph that do nothing or cannot keep their
// promises.
func (l *loader) checkGraph() {
	for _, n := range l.pendingConns {
		l.connection(n)
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
		l.graph.Connections = append(l.graph.Connections, ed.def)
	}
	l.cycles()
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
			if e.in == 0 && e.out == 0 {
				l.warnf(e.pos, "connector %q (type %s) is not connected", e.name, e.typ.ID)
			}
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

// cycles reports every cycle among pipelines once, at the edge that closes
// it. Connectors end paths: a connector that is both source and sink (an
// echo server, say) may feed itself through a pipeline, because what it
// receives leaves the process before anything comes back.
func (l *loader) cycles() {
	out := map[*entity][]*edge{}
	for _, ed := range l.edges {
		if ed.from.pipeline && ed.to.pipeline {
			out[ed.from] = append(out[ed.from], ed)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[*entity]int{}
	var stack []*entity
	var visit func(e *entity)
	visit = func(e *entity) {
		color[e] = grey
		stack = append(stack, e)
		for _, ed := range out[e] {
			switch color[ed.to] {
			case white:
				visit(ed.to)
			case grey:
				var names []string
				for i := len(stack) - 1; i >= 0; i-- {
					names = append(names, stack[i].name)
					if stack[i] == ed.to {
						break
					}
				}
				for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
					names[i], names[j] = names[j], names[i]
				}
				names = append(names, ed.to.name)
				l.errs = append(l.errs, l.errAt(ed.def.Pos.Line, ed.def.Pos.Col,
					"connection %s -> %s closes a cycle: %s; events would circulate forever, so pipelines must not feed back into themselves",
					edgeFrom(ed.def), ed.def.To, strings.Join(names, " -> ")))
			}
		}
		stack = stack[:len(stack)-1]
		color[e] = black
	}
	for _, e := range l.order {
		if e.pipeline && color[e] == white {
			visit(e)
		}
	}
}
