package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func notRunnable([]byte, connector.Env) (connector.Connector, error) {
	return nil, errors.New("test type cannot run")
}

// testRegistry holds fake connector types of every role, so the golden
// files do not change when built-in connectors do.
func testRegistry(t testing.TB) *connector.Registry {
	r := connector.NewRegistry()
	for _, ty := range []connector.Type{
		{ID: "gen", Roles: connector.RoleSource, Spec: spec.Spec{
			{Name: "rate", Kind: spec.Float, Default: 0, Doc: "Events per second."},
			{Name: "size", Kind: spec.Size, Default: 64, Doc: "Bytes per event."},
		}},
		{ID: "ring", Roles: connector.RoleSource, Unpausable: true, Spec: spec.Spec{
			{Name: "iface", Kind: spec.String, Required: true, Doc: "Interface."},
		}},
		{ID: "sink", Roles: connector.RoleSink, Spec: spec.Spec{
			{Name: "path", Kind: spec.String, Default: "", Doc: "Where to write."},
		}},
		{ID: "echo", Roles: connector.RoleSource | connector.RoleSink, Isolatable: true},
		{ID: "upper", Roles: connector.RoleProcessor, Spec: spec.Spec{
			{Name: "mode", Kind: spec.Enum, Enum: []string{"upper", "lower"}, Default: "upper", Doc: "Case."},
		}},
	} {
		ty.New = notRunnable
		if err := r.Register(ty); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// fakeLoader stands in for plugin.Load: a path ending in fake.so
// registers the sink type "plug"; anything else fails.
func fakeLoader(reg *connector.Registry, paths ...string) error {
	for _, p := range paths {
		if filepath.Base(p) != "fake.so" {
			return fmt.Errorf("load plugins: open %s: no such file or directory", p)
		}
		if err := reg.Register(connector.Type{ID: "plug", Roles: connector.RoleSink, New: notRunnable}); err != nil {
			return err
		}
	}
	return nil
}

var testEnv = map[string]string{"RATE": "500", "EMPTY": "", "HOME_DIR": "h1"}

func testOptions(t testing.TB) Options {
	return Options{
		Registry:    testRegistry(t),
		LookupEnv:   func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok },
		LoadPlugins: fakeLoader,
	}
}

// render prints what Load returned in a stable text form.
func render(res *Result, err error) string {
	var b strings.Builder
	var errs spec.List
	if err != nil && !errors.As(err, &errs) {
		fmt.Fprintf(&b, "fatal: %v\n", err)
	}
	for _, e := range errs {
		fmt.Fprintf(&b, "%s\n", e)
	}
	if res == nil {
		return b.String()
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "%s: warning: %s\n", w.Pos, w.Msg)
	}
	for _, p := range res.Plugins {
		fmt.Fprintf(&b, "plugin %s\n", p)
	}
	if g := res.Graph; g != nil {
		for _, c := range g.Connectors {
			fmt.Fprintf(&b, "connector %s type %s at %s: %s\n", c.Name, c.Type, c.Pos, c.Config)
			if c.Isolation != (connector.Isolation{}) {
				fmt.Fprintf(&b, "  isolate %s deadline %v\n", c.Isolation.Mode, c.Isolation.Deadline)
			}
		}
		for _, p := range g.Pipelines {
			fmt.Fprintf(&b, "pipeline %s at %s\n", p.Name, p.Pos)
			for _, op := range p.Ops {
				fmt.Fprintf(&b, "  %s at %s: %s\n", op.Type, op.Pos, op.Config)
			}
		}
		for _, e := range g.Connections {
			fmt.Fprintf(&b, "edge %s port %q -> %s capacity %d policy %s couple %v at %s\n",
				e.From, e.FromPort, e.To, e.Capacity, e.Policy, e.Couple, e.Pos)
			if bf := e.Buffer; bf != nil {
				fmt.Fprintf(&b, "  buffer %s path %s max_size %d fsync %s segment_size %d\n", bf.Type, bf.Path, bf.MaxSize, bf.Fsync, bf.SegmentSize)
			}
		}
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := Load(f, testOptions(t))
			got := render(res, err)
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run with -update to create it)", rerr)
			}
			if got != string(want) {
				t.Errorf("Load(%s) differs from %s (run with -update to accept)\n--- want\n%s--- got\n%s", f, golden, want, got)
			}
			// Files named err_* must fail and ok_*/warn_* must pass.
			if isErr := strings.HasPrefix(filepath.Base(f), "err_"); isErr != (err != nil) {
				t.Errorf("Load(%s) error = %v; want an error: %v", f, err, isErr)
			}
			if err == nil && res.Graph == nil {
				t.Errorf("Load(%s) succeeded without a graph", f)
			}
			if err != nil && res != nil && res.Graph != nil {
				t.Errorf("Load(%s) failed but returned a graph", f)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", testOptions(t))
	var errs spec.List
	if err == nil || errors.As(err, &errs) || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("Load(missing) = %v; want a plain error naming the file", err)
	}
}

func TestDefaultsFromSpec(t *testing.T) {
	res, err := Parse("inline.yaml", []byte("connectors:\n  g: {type: gen}\n  s: {type: sink}\nconnections:\n  - {from: g, to: s}\n"), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	e := res.Graph.Connections[0]
	if e.Capacity != DefaultCapacity || e.Policy != DefaultPolicy || e.Couple {
		t.Errorf("edge defaults = capacity %d policy %s couple %v; want %d %s false", e.Capacity, e.Policy, e.Couple, DefaultCapacity, DefaultPolicy)
	}
	if got := string(res.Graph.Connectors[0].Config); got != `{"rate":0,"size":64}` {
		t.Errorf("connector config = %s; want defaults filled in", got)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %v; want none", res.Warnings)
	}
}

func TestOperatorShadowsProcessor(t *testing.T) {
	opts := testOptions(t)
	opts.Registry.MustRegister(connector.Type{ID: "sample", Roles: connector.RoleProcessor, New: notRunnable})
	res, err := Parse("x.yaml", []byte("pipelines:\n  p:\n    - sample: {n: 2}\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, w := range res.Warnings {
		if strings.Contains(w.Error(), "x.yaml:3:7: ") && strings.Contains(w.Msg, "built-in operator is used") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings %v; want one about sample at 3:7", res.Warnings)
	}
}

func TestPluginsRegisterIntoRegistry(t *testing.T) {
	opts := testOptions(t)
	reg := opts.Registry
	if _, err := Parse("x.yaml", []byte("plugins: [fake.so]\nconnectors:\n  p: {type: plug}\n"), opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Lookup("plug"); !ok {
		t.Error("plugin type not registered into Options.Registry")
	}
}

// endless is an io.Reader of zero bytes without end that counts what it
// hands out.
type endless struct{ n int64 }

func (r *endless) Read(p []byte) (int, error) {
	clear(p)
	r.n += int64(len(p))
	return len(p), nil
}

func TestSizeLimit(t *testing.T) {
	const limit = 1 << 10
	opts := testOptions(t)
	opts.MaxSize = limit
	dir := t.TempDir()
	// A file of exactly the limit is read and parsed (and found to be
	// bad YAML); one byte more is refused before parsing.
	at := filepath.Join(dir, "at.yaml")
	over := filepath.Join(dir, "over.yaml")
	if err := os.WriteFile(at, bytes.Repeat([]byte("#"), limit), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(over, bytes.Repeat([]byte("#"), limit+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(at, opts); errors.Is(err, ErrTooLarge) {
		t.Errorf("Load(%d bytes) = %v; want it parsed", limit, err)
	}
	for _, path := range []string{over, "/dev/zero"} {
		_, err := Load(path, opts)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "1024 bytes") {
			t.Errorf("Load(%s) = %v; want ErrTooLarge naming the file and the limit", path, err)
		}
	}
	// Read stops at one byte past the limit.
	r := &endless{}
	if _, err := Read("<stdin>", r, opts); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "<stdin>") {
		t.Errorf("Read(endless) = %v; want ErrTooLarge naming <stdin>", err)
	}
	if r.n > limit+1 {
		t.Errorf("Read(endless) read %d bytes; want at most %d", r.n, limit+1)
	}
	if _, err := Parse("big.yaml", make([]byte, limit+1), opts); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(%d bytes) = %v; want ErrTooLarge", limit+1, err)
	}
	// The default applies when MaxSize is 0.
	opts.MaxSize = 0
	if _, err := Parse("big.yaml", make([]byte, DefaultMaxSize+1), opts); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(DefaultMaxSize+1 bytes) = %v; want ErrTooLarge", err)
	}
}
