package runtime

import (
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
)

// Graph describes what the engine runs: connector instances, pipelines, and
// the edges between them. The config package builds it from YAML; library
// users may build it in Go.
type Graph struct {
	Connectors  []ConnectorDef
	Pipelines   []PipelineDef
	Connections []EdgeDef
}

// ConnectorDef is one connector instance.
type ConnectorDef struct {
	// Name is unique among connectors and pipelines.
	Name string
	// Type is a registered connector type ID.
	Type string
	// Config is the instance's configuration as a JSON object, already
	// validated against the type's spec, with defaults filled in.
	Config []byte
	// Isolation says where the instance runs (connector.Env.Isolation).
	Isolation connector.Isolation
	// Pos is where the definition starts in its source file, for messages.
	Pos spec.Pos
}

// PipelineDef is an ordered chain of operators.
type PipelineDef struct {
	Name string
	Ops  []OpDef
	Pos  spec.Pos
}

// OpDef is one pipeline step: a built-in operator type from the operator
// package, or a registered processor connector type.
type OpDef struct {
	Type   string
	Config []byte
	Pos    spec.Pos
}

// Overflow policies for an edge whose queue is full.
const (
	// Block makes the producer wait (a kernel ring source then drops in
	// the kernel, where it is counted).
	Block = "block"
	// DropNewest discards the batch being offered.
	DropNewest = "drop_newest"
	// DropOldest discards the oldest queued batch to make room.
	DropOldest = "drop_oldest"
)

// EdgeDef connects an output of a connector or pipeline to the input of a
// pipeline or connector.
type EdgeDef struct {
	// From names a source connector or a pipeline; FromPort names a route
	// output of that pipeline ("" is the pipeline's main output).
	From, FromPort string
	// To names a pipeline or a sink connector.
	To string
	// Capacity is the queue length in batches (> 0).
	Capacity int
	// Policy is Block, DropNewest or DropOldest.
	Policy string
	// Couple makes a full queue on this edge stall its sibling edges from
	// the same output too. By default siblings proceed independently.
	Couple bool
	// Buffer, when set, keeps the edge's queue in a disk buffer instead
	// of memory (see BufferDef); Capacity is then unused, and Policy
	// applies when the buffer is full (drop_oldest is refused).
	Buffer *BufferDef
	Pos    spec.Pos
}
