package plugin

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin" // the built-in types register from init
	"github.com/weirproject/weir/connector/plugin/isolate"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/internal/leakcheck"
	"github.com/weirproject/weir/runtime"
)

// repoRoot is the repository root, two levels up from this package.
const repoRoot = "../.."

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// cPlugin builds the C plugin NAME (plugins/c/NAME.c) with the system
// compiler into a temporary directory shared by the tests of this run, and
// returns the library's path.
func cPlugin(t *testing.T, name string) string {
	t.Helper()
	return cBuild(t, "libweir_"+name+".so",
		filepath.Join(repoRoot, "plugins/c", name+".c"), filepath.Join(repoRoot, "plugins/c/config.c"))
}

// cBuild compiles sources into the shared library out (a file name) with
// the system compiler, once per test binary, and returns its path.
func cBuild(t *testing.T, out string, sources ...string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "weir-plugin-test-")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	out = filepath.Join(buildDir, out)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("no C compiler to build %s: %v", out, err)
	}
	args := []string{"-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-pthread", "-fvisibility=hidden",
		"-I", filepath.Join(repoRoot, "cabi/include"), "-o", out}
	cmd := exec.Command(cc, append(args, sources...)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", out, err, msg)
	}
	return out
}

// TestMain removes the built plugins and fails the run when the tests
// leave goroutines behind (an engine or plugin instance not shut down).
func TestMain(m *testing.M) {
	// Isolated connectors start this executable as their plugin host.
	isolate.RunChildIfAsked()
	leakcheck.Main(m, leakcheck.Options{Goroutines: true, Cleanup: func() {
		if buildDir != "" {
			os.RemoveAll(buildDir)
		}
	}})
}

// registryWith returns a registry holding the given built-in types only.
func registryWith(t *testing.T, ids ...string) *connector.Registry {
	t.Helper()
	reg := connector.NewRegistry()
	for _, id := range ids {
		typ, ok := connector.Default.Lookup(id)
		if !ok {
			t.Fatalf("built-in type %q not registered", id)
		}
		reg.MustRegister(*typ)
	}
	return reg
}

// captured wraps the type id in reg so that the test can reach the
// instances it creates.
func captured(t *testing.T, reg *connector.Registry, id string) (*connector.Registry, func() []connector.Connector) {
	t.Helper()
	typ, ok := reg.Lookup(id)
	if !ok {
		t.Fatalf("type %q not registered", id)
	}
	var mu sync.Mutex
	var made []connector.Connector
	out := connector.NewRegistry()
	for _, other := range reg.IDs() {
		o, _ := reg.Lookup(other)
		if other != id {
			out.MustRegister(*o)
		}
	}
	wrapped := *typ
	wrapped.New = func(config []byte, env connector.Env) (connector.Connector, error) {
		c, err := typ.New(config, env)
		if err == nil {
			mu.Lock()
			made = append(made, c)
			mu.Unlock()
		}
		return c, err
	}
	out.MustRegister(wrapped)
	return out, func() []connector.Connector {
		mu.Lock()
		defer mu.Unlock()
		return append([]connector.Connector(nil), made...)
	}
}

func TestLoadRegistersTypes(t *testing.T) {
	bh, gen := cPlugin(t, "blackhole"), cPlugin(t, "generator")
	reg := connector.NewRegistry()
	loaded, err := Load(reg, bh, gen)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(loaded) != 2 || loaded[0].Library.Name != "weir-c-blackhole" || strings.Join(loaded[0].Types, ",") != "c_blackhole" ||
		strings.Join(loaded[1].Types, ",") != "generator" {
		t.Fatalf("Load = %+v; want the blackhole and generator libraries", loaded)
	}
	b, ok := reg.Lookup("c_blackhole")
	if !ok || b.Roles != connector.RoleSink || !strings.Contains(b.Description, "(C)") {
		t.Fatalf("blackhole type = %+v, %v; want a sink with the plugin's description", b, ok)
	}
	want := spec.Spec{{Name: "publish_every", Kind: spec.Uint, Default: uint64(65536)}}
	if len(b.Spec) != 1 || b.Spec[0].Name != want[0].Name || b.Spec[0].Kind != want[0].Kind || b.Spec[0].Default != want[0].Default {
		t.Errorf("blackhole spec = %+v; want %+v", b.Spec, want)
	}
	if g, ok := reg.Lookup("generator"); !ok || g.Roles != connector.RoleSource {
		t.Errorf("generator type = %+v; want a source", g)
	}
}

// The C plugins load next to every built-in type, as `weir run -P` does.
func TestLoadBesideBuiltins(t *testing.T) {
	reg := connector.Default.Clone()
	if _, err := Load(reg, cPlugin(t, "blackhole"), cPlugin(t, "generator")); err != nil {
		t.Fatalf("Load into a registry with the built-ins: %v", err)
	}
	for _, id := range []string{"blackhole", "c_blackhole", "generator", "blaster"} {
		if _, ok := reg.Lookup(id); !ok {
			t.Errorf("type %q missing after Load", id)
		}
	}
}

func TestLoadDirectoryAndDuplicates(t *testing.T) {
	bh := cPlugin(t, "blackhole")
	dir := t.TempDir()
	src, err := os.ReadFile(bh)
	if err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.so"), filepath.Join(dir, "b.so")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, src, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a plugin"), 0o644)

	// Both copies offer "c_blackhole": the error names both files and nothing
	// is registered.
	reg := connector.NewRegistry()
	_, err = Load(reg, dir)
	if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Fatalf("Load(dir with two blackholes) error = %v; want one naming %s and %s", err, a, b)
	}
	if ids := reg.IDs(); len(ids) != 0 {
		t.Errorf("failed Load registered %v; want nothing", ids)
	}

	// Across calls, the second names the first's file.
	if _, err := Load(reg, a); err != nil {
		t.Fatal(err)
	}
	_, err = Load(reg, b)
	if err == nil || !errors.Is(err, connector.ErrDuplicate) || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Errorf("second Load error = %v; want ErrDuplicate naming %s and %s", err, a, b)
	}

	// Against a built-in type of the same ID.
	native := connector.NewRegistry()
	native.MustRegister(connector.Type{ID: "c_blackhole", Roles: connector.RoleSink,
		New: func([]byte, connector.Env) (connector.Connector, error) { return nil, errors.New("unused") }})
	_, err = Load(native, a)
	if err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("Load over a built-in type error = %v; want one naming the built-in", err)
	}

	for _, p := range []string{filepath.Join(dir, "missing.so"), filepath.Join(dir, "README"), t.TempDir()} {
		if _, err := Load(connector.NewRegistry(), p); err == nil {
			t.Errorf("Load(%s) succeeded; want an error", p)
		}
	}
}

// TestEngineBlasterToCBlackhole runs blaster -> C blackhole plugin in the
// engine and checks that the plugin saw every event, through the counters
// it publishes with the host API, and that the engine's accounting agrees.
func TestEngineBlasterToCBlackhole(t *testing.T) {
	const events = 200_000
	reg := registryWith(t, "blaster")
	if _, err := Load(reg, cPlugin(t, "blackhole")); err != nil {
		t.Fatal(err)
	}
	reg, made := captured(t, reg, "c_blackhole")
	g := runtime.Graph{
		Connectors: []runtime.ConnectorDef{
			{Name: "gen", Type: "blaster", Config: []byte(`{"count":200000,"size":64}`)},
			{Name: "sink", Type: "c_blackhole", Config: []byte(`{"publish_every":1000}`)},
		},
		Connections: []runtime.EdgeDef{{From: "gen", To: "sink", Capacity: 8, Policy: runtime.Block}},
	}
	eng := runEngine(t, g, reg, runtime.Options{BatchEvents: 256, DrainTimeout: 10 * time.Second})
	st := eng.Stats()
	src, _ := st.Component("gen", runtime.StatSource)
	snk, _ := st.Component("sink", runtime.StatSink)
	if src.EventsOut != events || snk.EventsIn != events || snk.EventsOut != events || snk.DroppedTotal() != 0 || snk.Errors != 0 {
		t.Errorf("accounting: source out %d, sink in %d out %d dropped %d errors %d; want %d delivered, none lost",
			src.EventsOut, snk.EventsIn, snk.EventsOut, snk.DroppedTotal(), snk.Errors, events)
	}
	if snk.BytesOut != events*64 {
		t.Errorf("sink bytes out = %d; want %d", snk.BytesOut, events*64)
	}
	insts := made()
	if len(insts) != 1 {
		t.Fatalf("C blackhole instances created = %d; want 1", len(insts))
	}
	c, ok := insts[0].(*Connector)
	if !ok {
		t.Fatalf("plugin instance is %T; want *plugin.Connector", insts[0])
	}
	m := c.Metrics()
	if m["blackhole_events_total"] != events || m["blackhole_bytes_total"] != events*64 || m["blackhole_batches_total"] != int64(snk.BatchesOut) {
		t.Errorf("C blackhole counters = %v; want %d events, %d bytes, %d batches", m, events, events*64, snk.BatchesOut)
	}
}

// TestConnectorRoles drives a plugin instance through the adapter outside
// the engine: lifecycle order, a role it lacks, and errors that carry the
// plugin's last_error.
func TestConnectorRoles(t *testing.T) {
	reg := connector.NewRegistry()
	if _, err := Load(reg, cPlugin(t, "blackhole"), cPlugin(t, "generator")); err != nil {
		t.Fatal(err)
	}
	typ, _ := reg.Lookup("c_blackhole")
	conn, err := typ.New([]byte(`{"publish_every":1}`), connector.Env{Name: "bh"})
	if err != nil {
		t.Fatal(err)
	}
	c := conn.(*Connector)
	defer c.Close()
	b, err := cabi.AllocBatch(4, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	b.Append(1, 0, cabi.KindRaw, 0, []byte("abc"))
	// Write before start: the plugin refuses with a message.
	if st, err := c.Write(b); st != cabi.Error || err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Write before Start = %v, %v; want Error with the plugin's message", st, err)
	}
	if err := c.Connect(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Write(b); st != cabi.OK || err != nil {
		t.Errorf("Write = %v, %v; want OK", st, err)
	}
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Write(b); st != cabi.Retry || err != nil {
		t.Errorf("Write while paused = %v, %v; want Retry", st, err)
	}
	c.Resume()
	if st, _ := c.Poll(b, 0); st != cabi.Error {
		t.Errorf("Poll on a sink = %v; want Error", st)
	}
	if err := c.Process(b); err == nil {
		t.Error("Process on a sink succeeded; want an error")
	}
	if err := c.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := c.Metrics()["blackhole_events_total"]; got != 1 {
		t.Errorf("events counted = %d; want 1", got)
	}
	if _, err := typ.New([]byte(`{"publish_every":"x"}`), connector.Env{Name: "bad"}); err == nil || !strings.Contains(err.Error(), "create bad") {
		t.Errorf("New with a bad config error = %v; want one naming the instance", err)
	}
}
