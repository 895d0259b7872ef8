package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stdinText is what validate's standard input holds.
var stdinText = "connectors:\n  g: {type: blaster}\n  o: {type: blackhole}\nconnections: [{from: g, to: o}]\n"

func validate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runValidate(args, strings.NewReader(stdinText), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateOK(t *testing.T) {
	t.Setenv("SIZE", "128")
	code, out, errs := validate(t, "-c", "testdata/validate/ok.yaml")
	if code != 0 || out != "ok: 2 connectors, 1 pipeline, 2 connections\n" || errs != "" {
		t.Errorf("validate ok.yaml = %d, stdout %q, stderr %q; want 0 and the summary alone", code, out, errs)
	}
	if code, out, _ := validate(t, "-q", "-c", "testdata/validate/ok.yaml"); code != 0 || out != "" {
		t.Errorf("validate -q = %d, %q; want 0 and no output", code, out)
	}
}

func TestValidatePrint(t *testing.T) {
	code, out, errs := validate(t, "--print", "-c", "testdata/validate/ok.yaml")
	if code != 0 || errs != "" {
		t.Fatalf("validate --print = %d, %q", code, errs)
	}
	var g struct {
		Connectors []struct {
			Name   string
			Config map[string]any
		}
		Pipelines []struct {
			Ops []struct {
				Type   string
				Config map[string]any
			}
		}
		Connections []struct {
			From, To, Policy string
			Capacity         int
		}
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("--print output is not JSON: %v\n%s", err, out)
	}
	if len(g.Connectors) != 2 || g.Connectors[0].Config["size"] != 64.0 || g.Connectors[0].Config["loops"] != 1.0 {
		t.Errorf("connectors %+v; want gen with size 64 and the default loops 1", g.Connectors)
	}
	if len(g.Pipelines) != 1 || len(g.Pipelines[0].Ops) != 2 || g.Pipelines[0].Ops[0].Config["drop"] != false {
		t.Errorf("pipelines %+v; want 2 ops, filter with drop: false filled in", g.Pipelines)
	}
	if len(g.Connections) != 2 || g.Connections[1].Policy != "drop_oldest" || g.Connections[1].Capacity != 8 || g.Connections[0].Policy != "block" {
		t.Errorf("connections %+v", g.Connections)
	}
}

func TestValidateStdin(t *testing.T) {
	if code, out, errs := validate(t, "-c", "-"); code != 0 || out != "ok: 2 connectors, 0 pipelines, 1 connection\n" {
		t.Errorf("validate -c - = %d, %q, %q; want 0 and the summary", code, out, errs)
	}
	saved := stdinText
	defer func() { stdinText = saved }()
	stdinText = "connectors:\n  g: {type: blastr}\n"
	if code, _, errs := validate(t, "-c", "-"); code != 1 || !strings.HasPrefix(errs, "<stdin>:2:13: ") {
		t.Errorf("validate -c - with an error = %d, %q; want 1 and <stdin>:2:13", code, errs)
	}
}

func TestValidateWarnings(t *testing.T) {
	code, out, errs := validate(t, "--config", "testdata/validate/warn.yaml")
	if code != 0 || out != "ok: 3 connectors, 0 pipelines, 1 connection (1 warning)\n" {
		t.Errorf("validate warn.yaml = %d, %q; want 0 and a summary with 1 warning", code, out)
	}
	want := `testdata/validate/warn.yaml:4:3: warning: sink "spare" (type stdout) receives nothing: no connection has to: spare` + "\n"
	if errs != want {
		t.Errorf("stderr = %q; want %q", errs, want)
	}
	if _, _, errs := validate(t, "--no-warnings", "-c", "testdata/validate/warn.yaml"); errs != "" {
		t.Errorf("--no-warnings printed %q", errs)
	}
}

// TestValidateKernelRing checks the warning for the block policy on the
// packet capture source, whose kernel rings cannot be paused.
func TestValidateKernelRing(t *testing.T) {
	code, out, errs := validate(t, "-c", "testdata/validate/ring.yaml")
	if code != 0 || out != "ok: 2 connectors, 1 pipeline, 2 connections (1 warning)\n" {
		t.Errorf("validate ring.yaml = %d, %q; want 0 and 1 warning", code, out)
	}
	want := `testdata/validate/ring.yaml:13:5: warning: connection cap -> keep: policy block cannot hold back connector "cap" (type packet): it reads a kernel ring that cannot be paused`
	if !strings.HasPrefix(errs, want) {
		t.Errorf("stderr = %q; want it to start with %q", errs, want)
	}
}

func TestValidateErrors(t *testing.T) {
	code, out, errs := validate(t, "-c", "testdata/validate/bad.yaml")
	if code != 1 || out != "" {
		t.Errorf("validate bad.yaml = %d, stdout %q; want 1 and no stdout", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	want := []string{
		`testdata/validate/bad.yaml:4:20: connector "gen" (type blaster): field rate: want a finite number, found "lots"`,
		`testdata/validate/bad.yaml:4:26: connector "gen" (type blaster): unknown field "sise" (did you mean "size"?)`,
		`testdata/validate/bad.yaml:6:11: connector "out": unknown connector type "blackhol" (did you mean "blackhole"?)`,
		`testdata/validate/bad.yaml:9:28: pipeline "main" step 1 (filter): field expr: want a value to compare with len, found ">"`,
		`testdata/validate/bad.yaml:12:22: connection main -> gen: to: connector "gen" (type blaster) is a source only; it cannot receive events`,
		`testdata/validate/bad.yaml:13:22: connection main -> nowhere: to: no connector or pipeline named "nowhere"`,
		`testdata/validate/bad.yaml:13:39: connection: field policy: "sometimes" is not one of block, drop_newest, drop_oldest`,
		`testdata/validate/bad.yaml: 7 errors`,
	}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines; want %d:\n%s", len(lines), len(want), errs)
	}
	pos := regexp.MustCompile(`^testdata/validate/bad\.yaml:\d+:\d+: `)
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q; want it to start with %q", i+1, lines[i], w)
		}
		if i < len(want)-1 && !pos.MatchString(lines[i]) {
			t.Errorf("line %d = %q; want FILE:LINE:COL: message", i+1, lines[i])
		}
	}
}

func TestValidateUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "missing -c FILE"},
		{[]string{"ok.yaml"}, 2, `unexpected argument "ok.yaml"`},
		{[]string{"-c", "testdata/validate/nope.yaml"}, 2, "nope.yaml"},
		{[]string{"--bogus"}, 2, "unknown flag"},
		{[]string{"--help"}, 0, "FILE:LINE:COL: message"},
		{[]string{"-c", "testdata/validate/ok.yaml", "-P", "testdata/validate/none.so"}, 2, "none.so"},
	}
	for _, tt := range tests {
		code, out, errs := validate(t, tt.args...)
		if tt.code == 0 {
			// Help that was asked for goes to stdout.
			errs = out
		}
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("validate %q = %d, %q; want %d and %q", tt.args, code, errs, tt.code, tt.want)
		}
	}
}

// TestValidatePluginTypes builds the C generator plugin into a temporary
// directory and checks that a config listing it is validated against the
// plugin's own config schema.
func TestValidatePluginTypes(t *testing.T) {
	dir := t.TempDir()
	lib := buildGenerator(t, dir)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "plugins: [libgen.so]\nconnectors:\n  g: {type: generator, config: {rate: 10}}\n  out: {type: blackhole}\nconnections:\n  - {from: g, to: out}\n")
	if code, out, errs := validate(t, "-c", good); code != 0 || out != "ok: 2 connectors, 0 pipelines, 1 connection\n" {
		t.Errorf("validate with plugin = %d, %q, %q; want 0 and the summary", code, out, errs)
	}
	// The same library also named with -P is loaded once.
	if code, _, errs := validate(t, "-P", lib, "-c", good); code != 0 {
		t.Errorf("validate -P LIB with LIB in the config = %d, %q; want 0", code, errs)
	}
	bad := write("bad.yaml", "plugins: [libgen.so]\nconnectors:\n  g: {type: generator, config: {rate: fast}}\n  out: {type: blackhole}\nconnections:\n  - {from: g, to: out}\n")
	want := bad + `:3:39: connector "g" (type generator): field rate: want a non-negative integer, found "fast"`
	if code, _, errs := validate(t, "-c", bad); code != 1 || !strings.HasPrefix(errs, want) {
		t.Errorf("validate bad plugin config = %d, %q; want 1 and %q", code, errs, want)
	}
	missing := write("missing.yaml", "plugins: [nope.so]\nconnectors:\n  g: {type: generator}\n")
	if code, _, errs := validate(t, "-c", missing); code != 1 || !strings.Contains(errs, missing+":1:11: plugin nope.so: ") {
		t.Errorf("validate with a missing plugin = %d, %q; want 1 and an error at the path", code, errs)
	}
}

// TestConfigSizeLimit checks that validate and run refuse a config larger
// than --max-config-size (4MiB by default) before parsing it, and that
// reading /dev/zero stops at the limit.
func TestConfigSizeLimit(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer zero.Close()
	var out, errb bytes.Buffer
	code := runValidate([]string{"-c", "-"}, zero, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "<stdin>") || !strings.Contains(errb.String(), "4194304 bytes") || !strings.Contains(errb.String(), "(--max-config-size raises the limit)") {
		t.Errorf("validate -c - </dev/zero = %d, %q; want 2 and an error naming <stdin>, the limit and the flag that raises it", code, errb.String())
	}

	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(stdinText+strings.Repeat("# padding\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := validate(t, "-c", big, "--max-config-size", "1KiB"); code != 2 || !strings.Contains(errs, big) || !strings.Contains(errs, "1024 bytes") || !strings.Contains(errs, "--max-config-size raises") {
		t.Errorf("validate --max-config-size 1KiB BIG = %d, %q; want 2 and an error naming the file and the limit", code, errs)
	}
	if code, _, errs := validate(t, "-c", big, "--max-config-size", "4KiB"); code != 0 {
		t.Errorf("validate --max-config-size 4KiB BIG = %d, %q; want 0", code, errs)
	}
	if code, _, errs := validate(t, "-c", big, "--max-config-size", "lots"); code != 2 || !strings.Contains(errs, "--max-config-size") {
		t.Errorf("validate --max-config-size lots = %d, %q; want 2 naming the flag", code, errs)
	}
	var runOut, runErr bytes.Buffer
	if code := runRun([]string{"-c", big, "--max-config-size", "1KiB", "--metrics", "off"}, &runOut, &runErr, nil); code != 1 || !strings.Contains(runErr.String(), big) || !strings.Contains(runErr.String(), "1024 bytes") || !strings.Contains(runErr.String(), "--max-config-size raises") {
		t.Errorf("run --max-config-size 1KiB BIG = %d, %q; want 1 and an error naming the file and the limit", code, runErr.String())
	}
}

// TestValidateBounds checks that values the constructors refuse at run
// time are refused by validate too, each with its position.
func TestValidateBounds(t *testing.T) {
	code, _, errs := validate(t, "-c", "testdata/validate/bounds.yaml")
	for _, want := range []string{
		`testdata/validate/bounds.yaml:4:41: connector "gen" (type blaster): field rate: -5 is out of range >= 0`,
		`testdata/validate/bounds.yaml:5:47: connector "tick" (type metronome): field interval: 0s is out of range >= 1µs`,
		`testdata/validate/bounds.yaml:6:50: connector "hole" (type blackhole): field max_latency: 0s is out of range >= 1µs`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if code != 1 {
		t.Errorf("validate bounds.yaml = %d; want 1", code)
	}
}

// TestValidatePacketChecks checks that validate runs the connectors' own
// checks beyond their specs, as run would.
func TestValidatePacketChecks(t *testing.T) {
	code, _, errs := validate(t, "-c", "testdata/validate/packet.yaml")
	for _, want := range []string{
		`testdata/validate/packet.yaml:7:13: connector "cap" (type packet): open capture: direction out with xdp mode`,
		`testdata/validate/packet.yaml:10:13: connector "file" (type pcapng): path / is a directory`,
		`testdata/validate/packet.yaml:13:54: connector "seeded" (type packet): field flow_seed: 7 seeds the flow hash of sample_mode flow, but sample_mode is random`,
		`testdata/validate/packet.yaml:16:56: connector "badmode" (type packet): field sample_mode: "flows" is not one of random, flow (did you mean "flow"?)`,
		`testdata/validate/packet.yaml:19:73: connector "bigseed" (type packet): field flow_seed: 4294967296 is out of range`,
		"packet.yaml: 5 errors",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if code != 1 {
		t.Errorf("validate packet.yaml = %d; want 1", code)
	}
}

// TestValidateSavedPlugins checks a config against a plugin's saved
// description without loading the library: the library here is not even
// an ELF file, so loading it would fail.
func TestValidateSavedPlugins(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libjunk.so")
	if err := os.WriteFile(lib, []byte("never loaded"), 0o644); err != nil {
		t.Fatal(err)
	}
	desc := `{"types":[{"id":"junk_sink","roles":["sink"],"config_schema":{"type":"object","additionalProperties":false,"properties":{"n":{"type":"integer","minimum":1}}}}]}`
	if err := os.WriteFile(lib+".json", []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("plugins: [libjunk.so]\nconnectors:\n  gen: {type: blaster}\n  out: {type: junk_sink, config: {n: 0}}\nconnections:\n  - {from: gen, to: out}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := validate(t, "--saved-plugins", "-c", cfg)
	if code != 1 || !strings.Contains(errs, `connector "out" (type junk_sink): field n: 0 is out of range`) {
		t.Errorf("validate --saved-plugins = %d:\n%s\nwant 1 and the schema's error", code, errs)
	}
	if code, _, errs := validate(t, "-c", cfg); code != 1 || !strings.Contains(errs, "libjunk.so") {
		t.Errorf("validate without --saved-plugins = %d, %s; want the load to fail", code, errs)
	}
}

// TestValidatePrintHidesSecrets: a password taken from ${VAR} is checked
// but never printed.
func TestValidatePrintHidesSecrets(t *testing.T) {
	t.Setenv("NATS_PASSWORD", "hunter2-from-env")
	code, out, errs := validate(t, "--print", "-c", "testdata/validate/secret.yaml")
	if code != 0 || errs != "" {
		t.Fatalf("validate --print = %d, %q", code, errs)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("validate --print shows the password:\n%s", out)
	}
	if !strings.Contains(out, `"password": "REDACTED"`) || !strings.Contains(out, `"token": ""`) || !strings.Contains(out, `"user": "agent"`) {
		t.Errorf("validate --print does not show the redacted config as expected:\n%s", out)
	}
}

// TestValidateFilterError: a bad packet filter is reported at the line and
// column of the fault inside the filter string.
func TestValidateFilterError(t *testing.T) {
	code, out, errs := validate(t, "-c", "testdata/validate/badfilter.yaml")
	want := `testdata/validate/badfilter.yaml:6:36: connector "cap" (type packet): field filter: expected an IP address, found "foo" (host names are not supported`
	if code != 1 || out != "" || !strings.HasPrefix(errs, want) {
		t.Errorf("validate badfilter.yaml = %d, stdout %q, stderr %q; want 1 and %q", code, out, errs, want)
	}
}
