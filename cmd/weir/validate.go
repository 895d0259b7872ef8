package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	flag "github.com/spf13/pflag"

	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin" // built-in connector types
	"github.com/weirproject/weir/connector/plugin"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/config"
	"github.com/weirproject/weir/runtime/diskbuf"
)

func init() {
	register(command{name: "validate", summary: "check a config file without running it", run: func(args []string) int {
		return runValidate(args, os.Stdin, os.Stdout, os.Stderr)
	}})
}

const validateUsage = `weir validate checks a config file without starting anything: the YAML,
${VAR} interpolation, connector types and their fields, pipeline operators and
their predicates, connections (dangling names, sources and sinks used the wrong
way round, route outputs) and cycles between pipelines. Plugins the config
lists are loaded so their connector types can be checked.

Every error is printed as FILE:LINE:COL: message, and every warning (valid but
doubtful settings, such as block on a kernel ring source, or a source that
feeds nothing) as FILE:LINE:COL: warning: message, in file order.

Usage:
  weir validate -c FILE [flags]

Examples:
  # check a config; prints "ok: ..." or every error with its position
  weir validate -c weir.yaml

  # check it with the environment it will run with
  RATE=50000 SINK_DIR=/var/log/weir weir validate -c weir.yaml

  # check a generated config
  ./gen-config | weir validate -c -

  # see every connector and operator config with its defaults filled in
  weir validate -c weir.yaml --print

  # know the connector types of the plugins in bin/plugins as well
  weir validate -c weir.yaml -P bin/plugins

The format is described in docs/config.md.

Security: validating a config runs plugin code. The plugins it lists, and
those given with -P, are loaded so their connector types can be checked,
and loading a library runs its initializers and its weir_plugin_describe
entry point with your privileges. Validate only configs whose plugins you
would run. Libraries that users other than root and you could have changed
are refused; --allow-insecure-plugins loads them anyway, for development.
To check a config you do not trust, use --saved-plugins: each library FILE
is then described by FILE.json, written beforehand (by you, from a library
you trust) with 'weir plugin inspect --json FILE > FILE.json', and no
plugin code runs.

Exit status: 0 when the config is valid (warnings allowed; a summary line
such as "ok: 3 connectors, 1 pipeline, 4 connections" goes to stdout),
1 when it has errors, 2 for bad flags, an unreadable file or a plugin given
with -P that cannot be loaded, 3 when a plugin crashed the process while it
was loaded or described (one line on stderr names it).

Flags:
`

func runValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir validate", flag.ContinueOnError)
	file := fs.StringP("config", "c", "", "config `FILE` to check (required; - reads standard input, with plugin paths relative to the current directory)")
	plugins := pluginFlag(fs)
	insecure := insecurePluginsFlag(fs)
	quiet := fs.BoolP("quiet", "q", false, "print only errors and warnings, no summary line")
	noWarn := fs.Bool("no-warnings", false, "do not print warnings")
	dump := fs.Bool("print", false, "on success, print the effective graph as JSON (every config with its defaults filled in) instead of the summary")
	maxConfig := maxConfigSizeFlag(fs)
	savedPlugins := fs.Bool("saved-plugins", false, "check plugin types against each library's saved description FILE.json instead of loading it (see Security)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), validateUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, "validate", args, stdout, stderr); !ok {
		return code
	}
	if *file == "" || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "weir validate: unexpected argument %q; give the file with -c\n", fs.Arg(0))
		} else {
			fmt.Fprintln(stderr, "weir validate: missing -c FILE")
		}
		fs.Usage()
		return 2
	}
	reg := connector.Default.Clone()
	// Load each library once, so a plugin named by -P and by the config is
	// not a duplicate registration.
	load := newPluginSet(loader.Options{AllowInsecure: *insecure}).load
	if *savedPlugins {
		load = plugin.LoadSaved
	}
	if len(*plugins) > 0 {
		if err := load(reg, *plugins...); err != nil {
			fmt.Fprintf(stderr, "weir validate: %v\n", err)
			return 2
		}
	}
	opts := config.Options{Registry: reg, LoadPlugins: load, MaxSize: *maxConfig}
	var res *config.Result
	var err error
	if *file == "-" {
		*file = "<stdin>"
		data, rerr := config.Read(*file, stdin, opts)
		if rerr != nil {
			fmt.Fprintf(stderr, "weir validate: %s\n", configError(rerr))
			return 2
		}
		res, err = config.Parse(*file, data, opts)
	} else {
		res, err = config.Load(*file, opts)
	}
	var errs spec.List
	if err != nil && !errors.As(err, &errs) {
		fmt.Fprintf(stderr, "weir validate: %s\n", configError(err))
		return 2
	}
	type line struct {
		pos  spec.Pos
		text string
	}
	var out []line
	for _, e := range errs {
		out = append(out, line{e.Pos, e.Error()})
	}
	if res != nil && !*noWarn {
		for _, w := range res.Warnings {
			out = append(out, line{w.Pos, w.Pos.String() + ": warning: " + w.Msg})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].pos, out[j].pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	for _, l := range out {
		fmt.Fprintln(stderr, l.text)
	}
	if len(errs) > 0 {
		fmt.Fprintf(stderr, "%s: %s\n", *file, nounCount(len(errs), "error"))
		return 1
	}
	if *dump {
		if err := printGraph(stdout, res.Graph, reg); err != nil {
			fmt.Fprintf(stderr, "weir validate: %v\n", err)
			return 2
		}
		return 0
	}
	if !*quiet {
		g := res.Graph
		msg := fmt.Sprintf("ok: %s, %s, %s", nounCount(len(g.Connectors), "connector"), nounCount(len(g.Pipelines), "pipeline"), nounCount(len(g.Connections), "connection"))
		if n := len(res.Warnings); n > 0 {
			msg += fmt.Sprintf(" (%s)", nounCount(n, "warning"))
		}
		fmt.Fprintln(stdout, msg)
		checkBuffers(stdout, g)
	}
	return 0
}

// checkBuffers prints the state of each disk buffer of g that exists: what
// the next start replays, and any damage it will skip (see weir buffer).
func checkBuffers(w io.Writer, g *runtime.Graph) {
	for _, e := range g.Connections {
		if e.Buffer == nil {
			continue
		}
		if _, err := os.Stat(e.Buffer.Path); err != nil {
			continue // created at the first start
		}
		from := e.From
		if e.FromPort != "" {
			from += "." + e.FromPort
		}
		r, err := diskbuf.Inspect(e.Buffer.Path)
		if err != nil {
			fmt.Fprintf(w, "buffer %s -> %s: %v\n", from, e.To, err)
			continue
		}
		state := "no damage"
		if r.Damaged() {
			state = fmt.Sprintf("%d corrupt and %d torn bytes, skipped at the next start (weir buffer %s lists them)", r.CorruptBytes, r.TornBytes, r.Dir)
		}
		fmt.Fprintf(w, "buffer %s -> %s (%s): %d events to replay in %d segments; %s\n", from, e.To, r.Dir, r.PendingEvents, len(r.Segments), state)
	}
}

func nounCount(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// printGraph writes g as indented JSON, with each component's config as
// the JSON object it receives, less the values of secret fields (a
// password taken from ${VAR} must not reach a terminal or a CI log).
func printGraph(w io.Writer, g *runtime.Graph, reg *connector.Registry) error {
	type op struct {
		Type   string          `json:"type"`
		Config json.RawMessage `json:"config"`
		Pos    string          `json:"pos"`
	}
	type pipe struct {
		Name string `json:"name"`
		Ops  []op   `json:"ops"`
		Pos  string `json:"pos"`
	}
	type conn struct {
		Name   string          `json:"name"`
		Type   string          `json:"type"`
		Config json.RawMessage `json:"config"`
		Pos    string          `json:"pos"`
	}
	type buffer struct {
		Type        string `json:"type"`
		Path        string `json:"path"`
		MaxSize     int64  `json:"max_size"`
		Fsync       string `json:"fsync"`
		SegmentSize int64  `json:"segment_size"`
	}
	type edge struct {
		From     string  `json:"from"`
		Port     string  `json:"port,omitempty"`
		To       string  `json:"to"`
		Capacity int     `json:"capacity"`
		Policy   string  `json:"policy"`
		Couple   bool    `json:"couple"`
		Buffer   *buffer `json:"buffer,omitempty"`
		Pos      string  `json:"pos"`
	}
	out := struct {
		Connectors  []conn `json:"connectors"`
		Pipelines   []pipe `json:"pipelines"`
		Connections []edge `json:"connections"`
	}{Connectors: []conn{}, Pipelines: []pipe{}, Connections: []edge{}}
	for _, c := range g.Connectors {
		cfg := c.Config
		if t, ok := reg.Lookup(c.Type); ok {
			cfg = spec.Redact(t.Spec, cfg)
		}
		out.Connectors = append(out.Connectors, conn{c.Name, c.Type, cfg, c.Pos.String()})
	}
	for _, p := range g.Pipelines {
		pp := pipe{Name: p.Name, Ops: []op{}, Pos: p.Pos.String()}
		for _, o := range p.Ops {
			pp.Ops = append(pp.Ops, op{o.Type, o.Config, o.Pos.String()})
		}
		out.Pipelines = append(out.Pipelines, pp)
	}
	for _, e := range g.Connections {
		ed := edge{From: e.From, Port: e.FromPort, To: e.To, Capacity: e.Capacity, Policy: e.Policy, Couple: e.Couple, Pos: e.Pos.String()}
		if b := e.Buffer; b != nil {
			ed.Buffer = &buffer{b.Type, b.Path, b.MaxSize, b.Fsync, b.SegmentSize}
		}
		out.Connections = append(out.Connections, ed)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("print graph: %w", err)
	}
	return nil
}
