package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin" // built-in connector types
	"github.com/weirproject/weir/connector/plugin"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/internal/privs"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/config"
)

func init() {
	register(command{name: "run", summary: "run a config until interrupted; SIGHUP reloads it", run: func(args []string) int {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		return runRun(args, os.Stdout, os.Stderr, sigs)
	}})
}

const runUsage = `weir run starts the connectors, pipelines and connections of a config file
and moves events until SIGINT or SIGTERM, or until every source has ended.
It then drains: sources stop taking input, in-flight batches are delivered
within --drain-timeout, every connector is stopped, and an accounting summary
(in + emitted = out + dropped + in flight, per component and edge) goes to stdout.
A connector call that has not returned by the drain timeout plus a kill
grace (5s) is abandoned: the connector is never called again nor closed, and
it is named on stderr and marked "stuck" in the summary with the events in
flight in it. A second SIGINT or SIGTERM during the drain gives up on it at
once, abandoning any connector still in a call.

SIGHUP reloads the config: connectors whose type and config did not change
keep running, changed and removed ones are drained and stopped, new ones
start. A config with errors is reported and the running one kept, and so is
the running one while a connector call has been stuck for longer than the
drain timeout.

Metrics in the Prometheus text format are served on /metrics, and health on
/healthz, at --metrics (loopback by default; "off" disables).

Usage:
  weir run -c FILE [flags]

Privileges: a config with kernel sources (packet) needs root to load and
attach them. With --user, weir runs as that user with no capability once
every connector has started; what runs on needs none. A reload that adds
or changes a kernel source then fails to attach it (the error says so),
and unchanged connectors keep running. Without --user, weir keeps root and
its capabilities for the whole run, so that a reload can attach kernel
sources and open any file: it cannot shed capabilities and stay root,
because Linux keeps them per thread and the Go runtime refuses to change
every thread's once a C runtime (purego's, for plugins) is linked. It logs
a notice saying so at start.

Plugin libraries that users other than root and you could have changed
(writable by group or others, in a directory they can write, sticky or not,
or owned by another user) are refused with the fix to apply;
--allow-insecure-plugins loads them anyway, for development.

Exit status:
  0  every source ended or a signal came, and the drain was complete
  1  a runtime failure: the config is invalid, a connector could not be
     created, connected or started (each is named on stderr with its error),
     a connector call was stuck and the connector abandoned (named on
     stderr), a connector's final drain, stop or close failed (a sink
     could not write out what it buffered: named on stderr), the drain
     timed out or was given up, the engine failed, or
     events were dropped because something failed: a sink's writes
     (sink_error), a disk buffer (buffer_error, corrupt), a source's poll
     (poll_failed) or a processor (processor); each component or edge that
     dropped them is named on stderr, as in
       weir run: sink out dropped 100 events: the sink's writes failed (100 sink_error)
     Connectors, pipelines and connections a reload removed count too:
     the summary lists their final figures, marked "(removed)", and a
     failure of theirs is named on stderr as removed by a reload.
     Drops the config chose (drop_newest or drop_oldest edges, filters,
     routers, sampling) and losses a source counted before weir read the
     events (a kernel ring full) leave the status 0; the summary shows them.
  2  bad flags or arguments, sizes out of range, or a plugin given with -P
     that cannot be loaded
  3  a plugin crashed the process (SIGSEGV, SIGBUS, SIGILL or SIGFPE in
     plugin code, or abort() there: a failed assert; the C library prints
     its assert line first): the first line on stderr that is not a log
     line names the connector, its type, its library and the call, as in
       weir: plugin fault: connector "out" (type x, library /p/x.so)
       crashed in its write (SIGSEGV)

Flags:
`

func runRun(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	fs := flag.NewFlagSet("weir run", flag.ContinueOnError)
	file := fs.StringP("config", "c", "", "config `FILE` to run (required)")
	plugins := pluginFlag(fs)
	insecure := insecurePluginsFlag(fs)
	// Older spellings, kept so scripts do not break: --plugin-dir took only
	// directories, which -P now takes too.
	pluginDirs := fs.StringArray("plugin-dir", nil, "load every *.so in `DIR`; repeatable")
	fs.MarkDeprecated("plugin-dir", "use -P/--plugin DIR")
	pluginsAlias := fs.StringArray("plugins", nil, "same as --plugin")
	fs.MarkDeprecated("plugins", "use -P/--plugin PATH")
	metrics := fs.String("metrics", "127.0.0.1:9464", "serve /metrics and /healthz on `ADDR`; \"off\" disables")
	drain := fs.Duration("drain-timeout", 10*time.Second, "how long to wait for in-flight batches at stop and reload")
	runAs := fs.String("user", "", "once every connector has started, run as this `USER` with no capability (see Privileges)")
	batchEvents := fs.Int("batch-events", 1024, fmt.Sprintf("events per batch, 1 to %d", runtime.MaxBatchEvents))
	batchBytes := fs.Int("batch-bytes", 1<<20, fmt.Sprintf("arena bytes per batch, 1 to %d", runtime.MaxBatchBytes))
	pool := fs.Int("pool", 64, fmt.Sprintf("batches each source and pipeline may have in flight, 1 to %d, and at most %d GiB of batches", runtime.MaxPoolBatches, runtime.MaxPoolBytes>>30))
	capacity := fs.Int("edge-capacity", 16, fmt.Sprintf("queue length in batches of edges that do not set capacity, 1 to %d", runtime.MaxEdgeCapacity))
	logLevel := fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error")
	maxConfig := maxConfigSizeFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, "run", args, stdout, stderr); !ok {
		return code
	}
	if *file == "" || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "weir run: unexpected argument %q; give the file with -c\n", fs.Arg(0))
		} else {
			fmt.Fprintln(stderr, "weir run: missing -c FILE")
		}
		fs.Usage()
		return 2
	}
	if *drain <= 0 {
		fmt.Fprintf(stderr, "weir run: --drain-timeout %v: want a positive duration\n%s", *drain, helpHint("run"))
		return 2
	}
	if fs.Changed("user") && *runAs == "" {
		fmt.Fprintf(stderr, "weir run: --user: give a user name\n%s", helpHint("run"))
		return 2
	}
	if *runAs != "" {
		if _, err := user.Lookup(*runAs); err != nil {
			fmt.Fprintf(stderr, "weir run: --user: %v\n%s", err, helpHint("run"))
			return 2
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "weir run: --log-level %q: want debug, info, warn or error\n%s", *logLevel, helpHint("run"))
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := runtime.Options{
		BatchEvents: *batchEvents, BatchBytes: *batchBytes, PoolBatches: *pool,
		EdgeCapacity: *capacity, DrainTimeout: *drain, Log: log,
	}
	// The engine reads 0 as "the default"; on the command line, where
	// every flag shows its default, 0 is a mistake.
	for name, v := range map[string]int{"--batch-events": *batchEvents, "--batch-bytes": *batchBytes, "--pool": *pool, "--edge-capacity": *capacity} {
		if v == 0 {
			fmt.Fprintf(stderr, "weir run: %s 0: must be at least 1\n%s", name, helpHint("run"))
			return 2
		}
	}
	if code, bad := optionsUsage(stderr, "run", opts.Check(), map[string]string{
		"BatchEvents": "--batch-events", "BatchBytes": "--batch-bytes", "PoolBatches": "--pool", "EdgeCapacity": "--edge-capacity",
	}); bad {
		return code
	}

	// One registry for the life of the process: plugins load into it once,
	// and a reload that names a new plugin adds its types.
	reg := connector.Default.Clone()
	pl := newPluginSet(loader.Options{AllowInsecure: *insecure})
	cli := append(append(append([]string(nil), *plugins...), *pluginsAlias...), *pluginDirs...)
	if err := pl.load(reg, cli...); err != nil {
		fmt.Fprintf(stderr, "weir run: %v\n", err)
		return 2
	}
	load := func() (*runtime.Graph, bool) {
		res, err := config.Load(*file, config.Options{Registry: reg, LoadPlugins: pl.load, MaxSize: *maxConfig})
		if res != nil {
			for _, w := range res.Warnings {
				fmt.Fprintf(stderr, "%s: warning: %s\n", w.Pos, w.Msg)
			}
		}
		if err != nil {
			var errs spec.List
			if errors.As(err, &errs) {
				for _, e := range errs {
					fmt.Fprintf(stderr, "%s: %s\n", e.Pos, e.Msg)
				}
			} else {
				fmt.Fprintf(stderr, "weir run: %s\n", configError(err))
			}
			return nil, false
		}
		return res.Graph, true
	}
	g, ok := load()
	if !ok {
		return 1
	}
	if *metrics != "off" && *metrics != "" {
		opts.MetricsAddr = *metrics
	}
	eng, err := runtime.New(*g, reg, opts)
	if err != nil {
		fmt.Fprintf(stderr, "weir run: %v\n", err)
		return 1
	}
	if err := eng.Start(context.Background()); err != nil {
		fmt.Fprintf(stderr, "weir run: %v\n", err)
		return 1
	}
	attrs := []any{"config", *file, "connectors", len(g.Connectors), "pipelines", len(g.Pipelines), "connections", len(g.Connections)}
	if a := eng.MetricsAddr(); a != "" {
		attrs = append(attrs, "metrics", "http://"+a+"/metrics")
	}
	log.Info("running", attrs...)
	if *runAs == "" && os.Geteuid() == 0 {
		log.Info("running as root with every capability for the whole run; --user USER gives them up once every connector has started")
	}
	if *runAs != "" {
		// Give up root once the kernel programs are attached and the
		// outputs open, as weir capture does.
		for !started(eng.Stats()) {
			time.Sleep(5 * time.Millisecond)
		}
		if err := privs.Drop(*runAs); err != nil {
			log.Error("could not give up privileges; going on as before", "err", err)
		} else {
			log.Info("running without privileges", "user", *runAs)
		}
	}

	// A reload drains what it replaces, which can take up to the drain
	// timeout and a grace: it runs beside this loop, so that a signal
	// to stop is still heard meanwhile, and one reload at a time.
	reloaded := make(chan error, 1)
	reloading := false
	why := ""
	for why == "" {
		// While a reload runs, the topology it replaces ends: that is
		// not every source ending.
		finished := eng.Finished()
		if reloading {
			finished = nil
		}
		select {
		case <-finished:
			why = "every source ended"
		case err := <-reloaded:
			reloading = false
			if err != nil {
				log.Error("reload failed; keeping the running config", "err", err)
			}
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				why = "got " + sig.String()
				break
			}
			if reloading {
				log.Warn("reload: the last one has not finished; SIGHUP ignored")
				continue
			}
			g, ok := load()
			if !ok {
				log.Error("reload: config has errors; keeping the running one", "config", *file)
				continue
			}
			reloading = true
			go func() { reloaded <- eng.Reload(*g) }()
		}
	}
	log.Info("draining", "reason", why, "timeout", *drain)
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			log.Warn("second signal: giving up on the drain")
			cancel()
			eng.Kill()
		case <-ctx.Done():
		}
	}()
	code := 0
	if err := eng.Shutdown(ctx); err != nil {
		log.Error("drain incomplete; in-flight batches were dropped", "err", err)
		code = 1
	}
	s := eng.Stats()
	fmt.Fprintln(stdout, "accounting summary:")
	s.WriteSummary(stdout)
	verdict, balanced := s.Verdict()
	fmt.Fprintln(stdout, verdict)
	if !balanced {
		code = 1
	}
	for _, l := range s.FailureDrops() {
		fmt.Fprintf(stderr, "weir run: %s\n", l)
		code = 1
	}
	for _, c := range failedConnectors(s) {
		fmt.Fprintf(stderr, "weir run: connector %s (type %s) failed: %s\n", c.Name, c.Type, c.Failure)
		code = 1
	}
	// What a reload removed counts as the live components do: its
	// failures happened in this run.
	all := slices.Concat(s.Components, s.Removed.Components)
	removed := func(i int) string {
		if i >= len(s.Components) {
			return ", removed by a reload"
		}
		return ""
	}
	for i, c := range all {
		if c.StopFailure != "" {
			typ := c.Type
			switch {
			case removed(i) != "":
				typ = cmp.Or(c.StopFailureType, c.Type) + removed(i)
			case c.StopFailureType != "":
				typ = c.StopFailureType + ", replaced by a reload with type " + c.Type
			}
			fmt.Fprintf(stderr, "weir run: connector %s (type %s) failed to stop cleanly, so what it still held may be lost: %s\n", c.Name, typ, c.StopFailure)
			code = 1
		}
	}
	for i, c := range all {
		if c.Abandoned > 0 {
			lib := ""
			if t, ok := reg.Lookup(c.Type); ok && t.Library != "" {
				lib = ", library " + t.Library
			}
			call := "a call into it"
			if c.StuckCall != "" {
				call = "its " + c.StuckCall + " call"
			}
			fmt.Fprintf(stderr, "weir run: connector %s (type %s%s, %s%s) was abandoned: %s did not return; %d events in flight\n", c.Name, c.Type, lib, c.Role, removed(i), call, c.InFlight)
			code = 1
		}
	}
	return code
}

// failedConnectors returns one entry per connector (or pipeline processor)
// that ended failed because its create, connect or start failed.
func failedConnectors(s runtime.Snapshot) []runtime.ComponentStats {
	var out []runtime.ComponentStats
	seen := map[string]bool{}
	for _, c := range s.Components {
		if c.State == "failed" && c.Failure != "" && !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	return out
}

// pluginFlag defines -P/--plugin on fs, the same for run and validate.
func pluginFlag(fs *flag.FlagSet) *[]string {
	return fs.StringArrayP("plugin", "P", nil, "load plugin `PATH` (a library or a directory of *.so) before the config's own; repeatable")
}

// pluginSet loads each plugin library into a registry once, so a library
// named on the command line and by the config (by its own path or its
// directory), or by a config reloaded later, does not register its types
// twice.
type pluginSet struct {
	opts   loader.Options
	loaded map[string]bool // absolute library paths
}

// newPluginSet returns an empty set that opens libraries with opts.
func newPluginSet(opts loader.Options) *pluginSet {
	return &pluginSet{opts: opts, loaded: map[string]bool{}}
}

// load loads the libraries paths stand for (see plugin.Files) that are not
// loaded yet. It has the signature of config.Options.LoadPlugins.
func (p *pluginSet) load(reg *connector.Registry, paths ...string) error {
	if len(paths) == 0 {
		return nil
	}
	files, err := plugin.Files(paths...)
	if err != nil {
		return err
	}
	var fresh []string
	for _, f := range files {
		// The same library reached through a symlink is the same
		// library: loading it twice would register its types twice.
		abs, err := filepath.EvalSymlinks(f)
		if err == nil {
			abs, err = filepath.Abs(abs)
		}
		if err != nil {
			return fmt.Errorf("load plugin %s: %w", f, err)
		}
		if !p.loaded[abs] && !slices.Contains(fresh, abs) {
			fresh = append(fresh, abs)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := plugin.LoadWith(reg, p.opts, fresh...); err != nil {
		return err
	}
	for _, f := range fresh {
		p.loaded[f] = true
	}
	return nil
}
