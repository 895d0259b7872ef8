package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/operator"
)

// Options tune Load and Parse. The zero value uses connector.Default and
// os.LookupEnv, and loads no plugins.
type Options struct {
	// Registry resolves connector types; plugins listed in the config are
	// registered into it. Nil means connector.Default; pass a Clone to keep
	// the original untouched.
	Registry *connector.Registry
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// LoadPlugins loads plugin libraries (files or directories) and
	// registers their types into reg (connector/plugin.Load does); nil
	// makes a config that names plugins an error, so the engine's config
	// package links no plugin loader. Callers that load a config more
	// than once into one registry (a reload) should pass a loader that
	// skips libraries it has already loaded.
	LoadPlugins func(reg *connector.Registry, paths ...string) error
	// MaxSize is the largest config, in bytes, that Load, Read and Parse
	// accept; 0 means DefaultMaxSize.
	MaxSize int64
}

// DefaultMaxSize is the default limit on the size of a config file. Real
// configs are a few KiB; the limit keeps a mistaken path such as
// /dev/zero, or a runaway generator on standard input, from using
// unbounded memory.
const DefaultMaxSize = 4 << 20

// ErrTooLarge is wrapped by the error Load, Read and Parse return for a
// config larger than the limit.
var ErrTooLarge = errors.New("config too large")

func (o Options) maxSize() int64 {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return DefaultMaxSize
}

// Read reads a config from r, which name names in messages, and fails with
// an error wrapping ErrTooLarge once it has read more than opts.MaxSize
// bytes, without reading the rest.
func Read(name string, r io.Reader, opts Options) ([]byte, error) {
	limit := opts.maxSize()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(name, limit)
	}
	return data, nil
}

func tooLarge(name string, limit int64) error {
	return fmt.Errorf("read config %s: larger than the limit of %d bytes: %w", name, limit, ErrTooLarge)
}

// Result is what a config describes.
type Result struct {
	// Graph is the validated graph, nil when there were errors.
	Graph *runtime.Graph
	// Plugins are the plugin paths the config listed, resolved against
	// the config file's directory, in order.
	Plugins []string
	// Warnings are settings that are valid but cannot be fully honoured,
	// or parts of the graph that do nothing.
	Warnings spec.List
}

// Default edge settings, used when a connection does not give them. A
// capacity of 0 leaves the queue length to the engine's
// Options.EdgeCapacity.
const (
	DefaultCapacity = 0
	DefaultPolicy   = runtime.Block
)

// bufferSpec describes a disk buffer, on a connection or a sink.
var bufferSpec = spec.Spec{
	{Name: "type", Kind: spec.Enum, Enum: []string{runtime.BufferDisk}, Required: true, Doc: "The kind of buffer: disk."},
	{Name: "path", Kind: spec.String, Required: true, Doc: "Directory of the buffer, created if missing; relative paths are relative to the config file. No two buffers and no two weir processes may share one."},
	{Name: "max_size", Kind: spec.Size, Default: "1GiB", Min: 1, Doc: "Most bytes the buffer keeps on disk; when full, the connection's policy applies (block or drop_newest)."},
	{Name: "fsync", Kind: spec.String, Default: "100ms", Doc: "When writes are forced to disk, and so when an acknowledging source is acked: batch (each batch), a duration such as 100ms (that often), or never (left to the kernel: survives a crash of weir, not of the machine)."},
	{Name: "segment_size", Kind: spec.Size, Default: 0, Doc: "Size of each segment file; 0 means max_size/8, between 1MiB and 64MiB."},
}

// BufferSpec returns the fields of a buffer, for docs.
func BufferSpec() spec.Spec { return bufferSpec }

// connectionSpec describes one entry of connections.
var connectionSpec = spec.Spec{
	{Name: "from", Kind: spec.String, Required: true, Doc: "Where events come from: a source connector, a pipeline, or PIPELINE.OUTPUT for a route output."},
	{Name: "to", Kind: spec.String, Required: true, Doc: "Where events go: a pipeline or a sink connector."},
	{Name: "capacity", Kind: spec.Uint, Default: DefaultCapacity, Max: 1 << 20, Doc: "Queue length in batches; 0 uses the engine's default (16)."},
	{Name: "policy", Kind: spec.Enum, Enum: []string{runtime.Block, runtime.DropNewest, runtime.DropOldest}, Default: DefaultPolicy,
		Doc: "What a full queue does: block waits (backpressure), drop_newest discards the batch offered, drop_oldest discards the oldest queued batch."},
	{Name: "couple", Kind: spec.Bool, Default: false, Doc: "Let a full queue on this edge stall its sibling edges from the same output; by default siblings proceed independently."},
	{Name: "buffer", Kind: spec.Object, Fields: bufferSpec, Doc: "Keep this edge's queue in a crash-safe disk buffer: {type: disk, path, max_size, fsync, segment_size}."},
}

// ConnectionSpec returns the fields of a connections entry, for docs.
func ConnectionSpec() spec.Spec { return connectionSpec }

// DefaultDeadline is the default limit on one call into an isolated
// plugin instance, beyond the timeout a poll is given.
const DefaultDeadline = 10 * time.Second

// isolationSpec describes the keys of a connectors entry beside type and
// config that say where the instance runs.
var isolationSpec = spec.Spec{
	{Name: "isolate", Kind: spec.Enum, Enum: []string{connector.IsolateNone, connector.IsolateProcess, connector.IsolateSeccomp}, Default: connector.IsolateNone,
		Doc: "Where a plugin connector runs: none in the weir process; process in a child process without capabilities (weir plugin-host), so that a crash or a hang there is contained; seccomp as process, and the child may then make only the system calls listed in docs/isolation.md."},
	{Name: "deadline", Kind: spec.Duration, Default: DefaultDeadline.String(), Min: "1ms", Max: "1h",
		Doc: "With isolate, the longest one call into the plugin may take (beyond a poll's own timeout) before weir kills the child, fails the batch and restarts the connector."},
}

// ConnectorSpec returns the keys of a connectors entry, for docs.
func ConnectorSpec() spec.Spec {
	return append(spec.Spec{
		{Name: "type", Kind: spec.String, Required: true, Doc: "The connector type: a built-in type below, or one a listed plugin registers."},
		{Name: "config", Kind: spec.Object, Doc: "A mapping of the type's fields, listed in its section below."},
	}, isolationSpec...)
}

// Sections returns the top-level keys of a config file with one line on
// each, in the order the docs describe them.
func Sections() [][2]string {
	return [][2]string{
		{"plugins", "List of plugin libraries, or directories of *.so files, whose connector types to register; relative paths are relative to the config file."},
		{"connectors", "Mapping of instance name to {type: TYPE, config: {...}}, and for a sink optionally buffer: {type: disk, ...}; isolate and deadline for plugin types."},
		{"pipelines", "Mapping of pipeline name to a list of steps: built-in operators or processor connector types."},
		{"connections", "List of edges {from, to, capacity, policy, couple, buffer}."},
	}
}

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Load reads and validates the config file at path. On errors it returns a
// Result with the warnings found so far and a spec.List holding every
// error, sorted by position.
func Load(path string, opts Options) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := Read(path, f, opts)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts)
}

// Parse is Load for config text; file names it in messages and anchors
// relative plugin paths.
func Parse(file string, data []byte, opts Options) (*Result, error) {
	if limit := opts.maxSize(); int64(len(data)) > limit {
		return nil, tooLarge(file, limit)
	}
	l := &loader{
		file:  file,
		lines: strings.Split(string(data), "\n"),
		reg:   opts.Registry, lookup: opts.LookupEnv, loadPlugins: opts.LoadPlugins,
		names: map[string]*entity{}, badNodes: map[spec.Pos]bool{},
		res: &Result{},
	}
	if l.reg == nil {
		l.reg = connector.Default
	}
	if l.lookup == nil {
		l.lookup = os.LookupEnv
	}
	if l.loadPlugins == nil {
		l.loadPlugins = func(*connector.Registry, ...string) error {
			return errors.New("this program cannot load plugins (config.Options.LoadPlugins is nil)")
		}
	}
	l.parse(data)
	sortList(l.errs)
	sortList(l.warns)
	l.res.Warnings = l.warns
	if len(l.errs) > 0 {
		return l.res, l.errs
	}
	l.res.Graph = &l.graph
	return l.res, nil
}

func sortList(l spec.List) {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// entity is a named connector or pipeline.
type entity struct {
	name     string
	pipeline bool
	typ      *connector.Type // connectors
	pos      spec.Pos
	ports    []string // route outputs of a pipeline ending in route
	routePos spec.Pos
	in, out  int
	portUsed map[string]bool
	// unpausable marks a kernel-ring source.
	unpausable bool
	// bad is set when the definition had errors; warnings about its
	// connections would be noise.
	bad bool
	// buffer is a sink's buffer: mapping, applied to each connection into
	// it (see sinkBuffers); bufferDef is it decoded, nil when absent or bad.
	buffer    *yaml.Node
	bufferDef *runtime.BufferDef
}

// nodeRef is where a connector's or step's type is named, and whether
// the definition's own problems are reported already.
type nodeRef struct {
	pos      spec.Pos
	reported bool
}

// edgeNodes are the fields of a connections entry, for positions.
type edgeNodes struct {
	from, to, capacity, policy, buffer *yaml.Node
}

// edge is a connection that CheckGraph found good, with its ends.
type edge struct {
	def      runtime.EdgeDef
	from, to *entity
	policy   *yaml.Node
}

type loader struct {
	file        string
	lines       []string
	reg         *connector.Registry
	lookup      func(string) (string, bool)
	loadPlugins func(reg *connector.Registry, paths ...string) error

	errs, warns spec.List
	// badNodes are the positions of scalars whose interpolation failed;
	// further errors there would only repeat the first.
	badNodes map[spec.Pos]bool
	// connFailed is set when a connection could not be resolved, which
	// makes "not connected" warnings unreliable.
	connFailed bool
	// pluginFailed is set when a listed plugin did not load.
	pluginFailed bool
	names        map[string]*entity
	order        []*entity
	edges        []*edge
	// pendingConns are the connections entries, resolved after every
	// connector and pipeline is declared.
	pendingConns []*yaml.Node
	// graph holds every definition, good or not, for CheckGraph; the
	// slices below run parallel to its Connectors, Pipelines (and their
	// Ops) and Connections.
	graph     runtime.Graph
	connTypes []nodeRef
	stepTypes [][]nodeRef
	edgeNodes []edgeNodes
	res       *Result
}

func (l *loader) pos(n *yaml.Node) spec.Pos {
	if n == nil {
		return spec.Pos{File: l.file, Line: 1, Col: 1}
	}
	return spec.Pos{File: l.file, Line: n.Line, Col: n.Column}
}

func (l *loader) errAt(line, col int, format string, args ...any) *spec.Error {
	return &spec.Error{Pos: spec.Pos{File: l.file, Line: line, Col: col}, Msg: fmt.Sprintf(format, args...)}
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	if l.badNodes[l.pos(n)] {
		return
	}
	l.errs = append(l.errs, &spec.Error{Pos: l.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(pos spec.Pos, format string, args ...any) {
	l.warns = append(l.warns, &spec.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// addErrs appends spec errors with prefix before each message.
func (l *loader) addErrs(prefix string, errs spec.List) {
	for _, e := range errs {
		if l.badNodes[e.Pos] {
			continue
		}
		l.errs = append(l.errs, &spec.Error{Pos: e.Pos, Msg: prefix + e.Msg})
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) parse(data []byte) {
	data, protected := protect(data)
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil {
		var next yaml.Node
		switch err2 := dec.Decode(&next); {
		case err2 == nil:
			l.errorf(&next, "a second YAML document; a config is one document, so remove the --- or split the file")
		case !errors.Is(err2, io.EOF):
			l.errs = append(l.errs, l.errAt(1, 1, "a second YAML document, and it does not parse (%v); a config is one document", err2))
		}
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			msg = m[2]
		}
		line := problemLine(data, msg)
		l.errs = append(l.errs, l.errAt(line, 1, "bad YAML: %s", msg))
		return
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		l.errs = append(l.errs, l.errAt(1, 1, "empty config; want a mapping with connectors, pipelines and connections"))
		return
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "want a mapping with plugins, connectors, pipelines and connections at the top, found %s", describe(root))
		return
	}
	if protected {
		restore(root)
	}
	l.interpolate(root)
	sections := map[string]*yaml.Node{}
	var known []string
	for _, s := range Sections() {
		known = append(known, s[0])
	}
	values := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case !contains(known, k.Value):
			l.errorf(k, "unknown section %q%s; want %s", k.Value, didYouMean(k.Value, known), strings.Join(known, ", "))
		case sections[k.Value] != nil:
			l.errorf(k, "section %q is given twice (first at line %d)", k.Value, sections[k.Value].Line)
		default:
			sections[k.Value], values[k.Value] = k, deref(v)
		}
	}
	// Plugins first, wherever they are in the file, so their types are
	// known when the connectors are checked.
	for _, name := range known {
		if k := sections[name]; k != nil {
			l.section(name, k, values[name])
		}
	}
	if sections["connectors"] == nil && sections["pipelines"] == nil {
		l.errs = append(l.errs, l.errAt(root.Line, root.Column, "no connectors and no pipelines; want a connectors section at least"))
	}
	l.checkGraph()
}

// problemLine finds the line of a YAML syntax error. yaml.v3 names the
// line where the enclosing block starts, or no line at all, so this looks
// for the shortest prefix of whole lines that fails with the same message.
func problemLine(data []byte, msg string) int {
	lines := strings.SplitAfter(string(data), "\n")
	fails := func(k int) bool {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n)
		return err != nil && strings.HasSuffix(err.Error(), msg)
	}
	lo, hi := 1, len(lines)
	if !fails(hi) {
		return 1
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func (l *loader) section(name string, key, v *yaml.Node) {
	if isNull(v) {
		return
	}
	switch name {
	case "plugins":
		l.plugins(v)
	case "connectors":
		if v.Kind != yaml.MappingNode {
			l.errorf(v, "connectors: want a mapping of name to {type, config}, found %s", describe(v))
			return
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			l.connector(v.Content[i], deref(v.Content[i+1]))
		}
	case "pipelines":
		if v.Kind != yaml.MappingNode {
			l.errorf(v, "pipelines: want a mapping of name to a list of steps, found %s", describe(v))
			return
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			l.pipeline(v.Content[i], deref(v.Content[i+1]))
		}
	case "connections":
		if v.Kind != yaml.SequenceNode {
			l.errorf(v, "connections: want a list of {from, to}, found %s", describe(v))
			return
		}
		// Connections refer to names that may be defined later in the
		// file; resolve them once every section is read.
		l.pendingConns = append(l.pendingConns, v.Content...)
	}
}

func (l *loader) plugins(v *yaml.Node) {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	dir := filepath.Dir(l.file)
	for _, it := range items {
		it = deref(it)
		if it.Kind != yaml.ScalarNode || it.Value == "" {
			l.errorf(it, "plugins: want a library path or a directory, found %s", describe(it))
			continue
		}
		p := it.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		l.res.Plugins = append(l.res.Plugins, p)
		if err := l.loadPlugins(l.reg, p); err != nil {
			l.errorf(it, "plugin %s: %v", it.Value, err)
			l.pluginFailed = true
		}
	}
}

// declare records a connector or pipeline name and reports one that
// the config syntax cannot refer to. The graph rules, such as unique
// names, are runtime.CheckGraph's: a name used again is left to it, and
// the entity stays the first definition's.
func (l *loader) declare(k *yaml.Node, e *entity) {
	e.name, e.pos = k.Value, l.pos(k)
	what := "connector"
	if e.pipeline {
		what = "pipeline"
	}
	if !validName.MatchString(k.Value) {
		l.errorf(k, "%s name %q: want letters, digits, _ and -, not starting with a digit", what, k.Value)
		return
	}
	if _, dup := l.names[k.Value]; dup {
		return
	}
	l.names[k.Value] = e
	l.order = append(l.order, e)
}

func (l *loader) connector(k, v *yaml.Node) {
	e := &entity{}
	l.declare(k, e)
	// Every definition goes into the graph, so that CheckGraph sees every
	// name; its type and config are filled in as far as they are good.
	ci := len(l.graph.Connectors)
	l.graph.Connectors = append(l.graph.Connectors, runtime.ConnectorDef{Name: k.Value, Pos: e.pos})
	l.connTypes = append(l.connTypes, nodeRef{reported: true})
	if v.Kind != yaml.MappingNode {
		hint := ""
		if v.Kind == yaml.ScalarNode && !isNull(v) {
			hint = fmt.Sprintf("; write %s: {type: %s}", k.Value, v.Value)
		}
		l.errorf(v, "connector %q: want a mapping {type: TYPE, config: {...}}, found %s%s", k.Value, describe(v), hint)
		return
	}
	var typeNode, cfgNode *yaml.Node
	isoNode := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column}
	pairs := spec.MappingPairs(v)
	seen := map[string]bool{}
	for i := 0; i+1 < len(pairs); i += 2 {
		kk, vv := pairs[i], deref(pairs[i+1])
		if seen[kk.Value] {
			l.errorf(kk, "connector %q: key %q is given twice", k.Value, kk.Value)
			continue
		}
		seen[kk.Value] = true
		switch kk.Value {
		case "type":
			typeNode = vv
		case "config":
			cfgNode = vv
		case "buffer":
			e.buffer = vv
			e.bufferDef = l.bufferDef(fmt.Sprintf("connector %q: buffer: ", k.Value), vv)
		case "isolate", "deadline":
			isoNode.Content = append(isoNode.Content, kk, vv)
		default:
			l.errorf(kk, "connector %q: unknown key %q; want type, config, isolate, deadline and, for a sink, buffer (the type's fields go under config)", k.Value, kk.Value)
		}
	}
	if typeNode == nil || isNull(typeNode) {
		l.errorf(v, "connector %q: missing type; want one of %s", k.Value, strings.Join(l.reg.IDs(), ", "))
		return
	}
	if t, ok := l.reg.Lookup(typeNode.Value); ok && e.buffer != nil && t.Roles&connector.RoleSink == 0 {
		l.errorf(e.buffer, "connector %q: buffer: type %s is not a sink; a buffer holds what a sink has not written yet, so put it on a sink or a connection", k.Value, t.ID)
		e.bufferDef = nil
	}
	if typeNode.Kind != yaml.ScalarNode {
		l.errorf(typeNode, "connector %q: type: want a type name, found %s", k.Value, describe(typeNode))
		return
	}
	l.graph.Connectors[ci].Type = typeNode.Value
	l.connTypes[ci] = nodeRef{pos: l.pos(typeNode)}
	t, ok := l.reg.Lookup(typeNode.Value)
	if !ok || t.Roles&(connector.RoleSource|connector.RoleSink) == 0 {
		return // CheckGraph reports the type
	}
	e.typ = t
	e.unpausable = t.Unpausable && t.Roles&connector.RoleSource != 0
	if !l.isolation(k.Value, t, isoNode, &l.graph.Connectors[ci]) {
		return
	}
	cfg, errs := spec.Apply(t.Spec, l.file, cfgNode)
	if len(errs) > 0 {
		where := cfgNode
		if where == nil {
			where = v
		}
		for _, se := range errs {
			if cfgNode == nil {
				se.Pos = l.pos(where)
			}
		}
		l.addErrs(fmt.Sprintf("connector %q (type %s): ", k.Value, t.ID), errs)
		return
	}
	if t.Check != nil {
		if err := t.Check(cfg); err != nil {
			where := cfgNode
			if where == nil {
				where = v
			}
			var ve *spec.ValueError
			if errors.As(err, &ve) {
				if n := lookupPath(cfgNode, ve.Field); n != nil && isScalar(n) {
					line, col := l.offsetPos(n, max(ve.Offset, 0))
					l.errs = append(l.errs, l.errAt(line, col, "connector %q (type %s): field %s: %s", k.Value, t.ID, ve.Field, ve.Msg))
					return
				}
			}
			l.errorf(where, "connector %q (type %s): %v", k.Value, t.ID, err)
			return
		}
	}
	l.graph.Connectors[ci].Config = cfg
}

// isolation reads the isolate and deadline keys of connector name, of type
// t, from iso into def; it reports false after an error.
func (l *loader) isolation(name string, t *connector.Type, iso *yaml.Node, def *runtime.ConnectorDef) bool {
	if len(iso.Content) == 0 {
		return true
	}
	cfg, errs := spec.Apply(isolationSpec, l.file, iso)
	if len(errs) > 0 {
		l.addErrs(fmt.Sprintf("connector %q: ", name), errs)
		return false
	}
	var v struct {
		Isolate  string             `json:"isolate"`
		Deadline spec.DurationValue `json:"deadline"`
	}
	if err := spec.Decode(isolationSpec, cfg, &v); err != nil {
		l.errorf(iso, "connector %q: %v", name, err)
		return false
	}
	if v.Isolate == connector.IsolateNone {
		if hasKey(iso, "deadline") {
			l.warnf(l.pos(valueOf(iso, "deadline")), "connector %q: deadline applies only with isolate: process or seccomp; it is ignored", name)
		}
		return true
	}
	if !t.Isolatable {
		l.errorf(valueOf(iso, "isolate"), "connector %q: type %s cannot run isolated; isolate applies only to plugin connector types", name, t.ID)
		return false
	}
	def.Isolation = connector.Isolation{Mode: v.Isolate, Deadline: time.Duration(v.Deadline)}
	return true
}

func (l *loader) pluginHint() string {
	if l.pluginFailed {
		return " (a listed plugin failed to load)"
	}
	if len(l.res.Plugins) == 0 {
		return " (types from plugins need a plugins section)"
	}
	return ""
}

func (l *loader) pipeline(k, v *yaml.Node) {
	e := &entity{pipeline: true}
	l.declare(k, e)
	pi := len(l.graph.Pipelines)
	l.graph.Pipelines = append(l.graph.Pipelines, runtime.PipelineDef{Name: k.Value, Pos: e.pos})
	l.stepTypes = append(l.stepTypes, nil)
	var steps []*yaml.Node
	switch {
	case isNull(v):
	case v.Kind == yaml.SequenceNode:
		steps = v.Content
	default:
		l.errorf(v, "pipeline %q: want a list of steps such as - filter: {expr: \"len > 64\"}, found %s", k.Value, describe(v))
		return
	}
	def := &l.graph.Pipelines[pi]
	for i, st := range steps {
		// A step in error still takes its place, so that CheckGraph
		// numbers the steps as the file does; its problems there are
		// not reported again.
		op, router, typ, good := l.step(k.Value, i, st)
		if !good {
			e.bad = true
		}
		if router != nil {
			e.ports = router.Outputs()
			e.routePos = l.pos(st)
		}
		def.Ops = append(def.Ops, op)
		l.stepTypes[pi] = append(l.stepTypes[pi], nodeRef{pos: typ, reported: !good})
	}
}

// step resolves one pipeline step to an OpDef and checks its fields;
// router is set for a route, and typ is where its type is named. A type
// that is neither a built-in operator nor a registered processor is left
// to CheckGraph.
func (l *loader) step(pipe string, i int, st *yaml.Node) (def runtime.OpDef, router operator.Router, typ spec.Pos, good bool) {
	where := fmt.Sprintf("pipeline %q step %d", pipe, i+1)
	def.Pos = l.pos(st) // an alias's own position, not its anchor's
	typ = def.Pos
	st = deref(st)
	var typeNode, fields *yaml.Node
	switch {
	case st.Kind == yaml.ScalarNode && !isNull(st):
		typeNode = st
	case st.Kind == yaml.MappingNode && hasKey(st, "type"):
		fields = &yaml.Node{Kind: yaml.MappingNode, Line: st.Line, Column: st.Column, Tag: "!!map"}
		pairs := spec.MappingPairs(st)
		for j := 0; j+1 < len(pairs); j += 2 {
			if pairs[j].Value == "type" {
				typeNode = deref(pairs[j+1])
			} else {
				fields.Content = append(fields.Content, pairs[j], pairs[j+1])
			}
		}
	case st.Kind == yaml.MappingNode && len(st.Content) == 2:
		typeNode, fields = st.Content[0], deref(st.Content[1])
		if !isNull(fields) && fields.Kind == yaml.ScalarNode {
			// Shorthand: NAME: VALUE sets the operator's one required
			// field, as in - filter: "len > 64" or - sample: 10.
			main := mainField(typeNode.Value)
			if main == "" {
				if _, isOp := operator.Types[typeNode.Value]; !isOp && l.isProcessor(typeNode.Value) {
					l.errorf(fields, "%s (%s): want a mapping of fields, found %s; %s is a processor connector, and the NAME: VALUE shorthand is only for built-in operators with one required field: give its config as a mapping, as in - %s: {FIELD: %s}",
						where, typeNode.Value, describe(fields), typeNode.Value, typeNode.Value, describe(fields))
				} else {
					l.errorf(fields, "%s (%s): want a mapping of fields, found %s; only operators with one required field take a single value", where, typeNode.Value, describe(fields))
				}
				return def, nil, typ, false
			}
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: main, Line: fields.Line, Column: fields.Column}
			fields = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: fields.Line, Column: fields.Column, Content: []*yaml.Node{key, fields}}
		}
		if !isNull(fields) && fields.Kind != yaml.MappingNode {
			l.errorf(fields, "%s (%s): want a mapping of fields, found %s", where, typeNode.Value, describe(fields))
			return def, nil, typ, false
		}
	default:
		l.errorf(st, "%s: want an operator as - NAME: {fields}, - {type: NAME, fields...} or - NAME, found %s", where, describe(st))
		return def, nil, typ, false
	}
	if typeNode.Kind != yaml.ScalarNode {
		l.errorf(typeNode, "%s: type: want an operator name, found %s", where, describe(typeNode))
		return def, nil, typ, false
	}
	name := typeNode.Value
	def.Type, typ = name, l.pos(typeNode)
	if ot, ok := operator.Types[name]; ok {
		if t, dup := l.reg.Lookup(name); dup && t.Roles&connector.RoleProcessor != 0 {
			l.warnf(l.pos(typeNode), "%s: %q is both a built-in operator and a registered processor type; the built-in operator is used", where, name)
		}
		cfg, errs := spec.Apply(ot.Spec, l.file, fields)
		if len(errs) > 0 {
			l.fixPos(errs, fields, typeNode)
			l.addErrs(fmt.Sprintf("%s (%s): ", where, name), errs)
			// The predicates can still be checked on their own.
			for _, path := range ot.Exprs {
				for _, f := range exprNodes(fields, path) {
					if err := operator.CheckExpr(f.path, f.node.Value); err != nil {
						l.opError(where, name, fields, typeNode, err)
					}
				}
			}
			return def, nil, typ, false
		}
		op, err := operator.New(name, cfg)
		if err != nil {
			l.opError(where, name, fields, typeNode, err)
			return def, nil, typ, false
		}
		def.Config = cfg
		r, _ := op.(operator.Router)
		return def, r, typ, true
	}
	t, ok := l.reg.Lookup(name)
	if !ok || t.Roles&connector.RoleProcessor == 0 {
		return def, nil, typ, true // CheckGraph reports the type
	}
	cfg, errs := spec.Apply(t.Spec, l.file, fields)
	if len(errs) > 0 {
		l.fixPos(errs, fields, typeNode)
		l.addErrs(fmt.Sprintf("%s (%s): ", where, name), errs)
		return def, nil, typ, false
	}
	def.Config = cfg
	return def, nil, typ, true
}

// mainField is the one required field of a built-in operator, or "" when
// it has none or several, or when the field is a list.
// isProcessor reports whether typ is a registered connector type with the
// processor role (a plugin processor, say).
func (l *loader) isProcessor(typ string) bool {
	if l.reg == nil {
		return false
	}
	t, ok := l.reg.Lookup(typ)
	return ok && t.Roles&connector.RoleProcessor != 0
}

func mainField(typ string) string {
	ot, ok := operator.Types[typ]
	if !ok {
		return ""
	}
	main := ""
	for _, f := range ot.Spec {
		if f.Required {
			if main != "" || f.Kind == spec.Objects || f.Kind == spec.Object {
				return ""
			}
			main = f.Name
		}
	}
	return main
}

// fixPos points errors about an absent fields mapping at the type name.
func (l *loader) fixPos(errs spec.List, fields, typeNode *yaml.Node) {
	if fields != nil && !isNull(fields) {
		return
	}
	for _, e := range errs {
		e.Pos = l.pos(typeNode)
	}
}

// opError reports an operator constructor error at the field it names;
// a joined error is reported part by part.
func (l *loader) opError(where, typ string, fields, typeNode *yaml.Node, err error) {
	for _, e := range leaves(err) {
		var ee *operator.ExprError
		var fe *operator.FieldError
		switch {
		case errors.As(e, &ee):
			if n := lookupPath(fields, ee.Field); n != nil {
				line, col := l.offsetPos(n, ee.Offset)
				l.errs = append(l.errs, l.errAt(line, col, "%s (%s): field %s: %s", where, typ, ee.Field, ee.Msg))
				continue
			}
		case errors.As(e, &fe):
			if n := lookupPath(fields, fe.Field); n != nil {
				l.errorf(n, "%s (%s): field %s: %s", where, typ, fe.Field, fe.Msg)
				continue
			}
		}
		l.errorf(typeNode, "%s (%s): %v", where, typ, e)
	}
}

// leaves flattens the errors joined anywhere in err's chain; an error
// without a join inside is its own only leaf.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if u := errors.Unwrap(err); u != nil {
		if inner := leaves(u); len(inner) > 1 {
			return inner
		}
	}
	return []error{err}
}

type exprNode struct {
	path string
	node *yaml.Node
}

// exprNodes finds the string scalars at a path such as "expr" or
// "outputs[].when", naming each with its concrete path ("outputs[2].when").
func exprNodes(fields *yaml.Node, path string) []exprNode {
	var out []exprNode
	list, rest, isList := strings.Cut(path, "[].")
	if !isList {
		if n := valueOf(fields, path); isScalar(n) {
			out = append(out, exprNode{path, n})
		}
		return out
	}
	seq := valueOf(fields, list)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	for i, el := range seq.Content {
		if n := valueOf(deref(el), rest); isScalar(n) {
			out = append(out, exprNode{fmt.Sprintf("%s[%d].%s", list, i, rest), n})
		}
	}
	return out
}

// lookupPath finds the node at a field path such as "outputs[1].when".
func lookupPath(n *yaml.Node, path string) *yaml.Node {
	for _, part := range strings.Split(path, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		pairs := spec.MappingPairs(n)
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i].Value == name {
				next = deref(pairs[i+1])
			}
		}
		n = next
		if hasIdx {
			k, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if n == nil || n.Kind != yaml.SequenceNode || err != nil || k < 0 || k >= len(n.Content) {
				return nil
			}
			n = deref(n.Content[k])
		}
	}
	return n
}

func hasKey(m *yaml.Node, key string) bool {
	pairs := spec.MappingPairs(m)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].Value == key {
			return true
		}
	}
	return false
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	pairs := spec.MappingPairs(m)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].Value == key {
			return deref(pairs[i+1])
		}
	}
	return nil
}

func (l *loader) connection(n *yaml.Node) {
	n = deref(n)
	var c struct {
		From     string          `json:"from"`
		To       string          `json:"to"`
		Capacity int             `json:"capacity"`
		Policy   string          `json:"policy"`
		Couple   bool            `json:"couple"`
		Buffer   json.RawMessage `json:"buffer"`
	}
	fromNode, toNode := valueOf(n, "from"), valueOf(n, "to")
	cfg, errs := spec.Apply(connectionSpec, l.file, n)
	if len(errs) > 0 {
		l.addErrs("connection: ", errs)
		l.connFailed = true
		// Still check the names, when both are there, so that one run
		// reports those mistakes too.
		if !isScalar(fromNode) || !isScalar(toNode) {
			return
		}
		c.From, c.To = fromNode.Value, toNode.Value
	} else if err := json.Unmarshal(cfg, &c); err != nil {
		l.errorf(n, "connection: %v", err)
		return
	}
	name, port, _ := strings.Cut(c.From, ".")
	var buf *runtime.BufferDef
	if len(c.Buffer) > 0 {
		buf = l.decodeBuffer(c.Buffer)
	}
	l.graph.Connections = append(l.graph.Connections, runtime.EdgeDef{From: name, FromPort: port, To: c.To,
		Capacity: c.Capacity, Policy: c.Policy, Couple: c.Couple, Buffer: buf, Pos: l.pos(n)})
	l.edgeNodes = append(l.edgeNodes, edgeNodes{from: fromNode, to: toNode, capacity: valueOf(n, "capacity"), policy: valueOf(n, "policy"), buffer: valueOf(n, "buffer")})
}

// bufferDef validates a sink's buffer mapping against bufferSpec, each
// error prefixed, and decodes it; nil on errors.
func (l *loader) bufferDef(prefix string, n *yaml.Node) *runtime.BufferDef {
	cfg, errs := spec.Apply(bufferSpec, l.file, n)
	if len(errs) > 0 {
		l.addErrs(prefix, errs)
		return nil
	}
	return l.decodeBuffer(cfg)
}

// decodeBuffer reads a buffer as spec.Apply left it, resolving a relative
// path against the config file's directory.
func (l *loader) decodeBuffer(cfg []byte) *runtime.BufferDef {
	var b struct {
		Type        string `json:"type"`
		Path        string `json:"path"`
		MaxSize     int64  `json:"max_size"`
		Fsync       string `json:"fsync"`
		SegmentSize int64  `json:"segment_size"`
	}
	if err := json.Unmarshal(cfg, &b); err != nil {
		return nil
	}
	if b.Path != "" && !filepath.IsAbs(b.Path) {
		b.Path = filepath.Join(filepath.Dir(l.file), b.Path)
	}
	return &runtime.BufferDef{Type: b.Type, Path: b.Path, MaxSize: b.MaxSize, Fsync: b.Fsync, SegmentSize: b.SegmentSize}
}

func didYouMean(s string, candidates []string) string {
	if near := spec.Suggest(s, candidates); len(near) > 0 && near[0] != s {
		return fmt.Sprintf(" (did you mean %q?)", near[0])
	}
	return ""
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isScalar(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && !isNull(n)
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func describe(n *yaml.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null"
	}
	return strconv.Quote(n.Value)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
