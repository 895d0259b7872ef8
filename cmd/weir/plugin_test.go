package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildC compiles a C plugin from cabi/loader/testdata into dir.
func buildC(t *testing.T, dir, src string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH")
	}
	out := filepath.Join(dir, strings.ReplaceAll(strings.TrimSuffix(src, ".c"), "/", "_")+".so")
	cmd := exec.Command(cc, "-shared", "-fPIC", "-I../../cabi/include", "-o", out, filepath.Join("../../cabi/loader/testdata", src), "-lpthread")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", src, err, msg)
	}
	return out
}

func TestPluginInspect(t *testing.T) {
	dir := t.TempDir()
	good := buildC(t, dir, "good.c")

	var stdout, stderr bytes.Buffer
	if code := runPlugin([]string{"inspect", good}, &stdout, &stderr); code != 0 {
		t.Fatalf("inspect good = exit %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"plugin     good 1.2.3", "abi        1.1 (host 1.1)", "go runtime no", "types      3",
		"  counter\n    description  counts to config.count\n    roles        source\n    flags        wants-acks, unpausable\n    config\n      count              integer",
		"  filter\n    roles        processor\n    flags        none\n    config       any JSON object (no schema)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	if code := runPlugin([]string{"inspect", "--json", good}, &stdout, &stderr); code != 0 {
		t.Fatalf("inspect --json = exit %d", code)
	}
	var rep inspectReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("inspect --json output is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Name != "good" || len(rep.Types) != 3 || rep.Types[0].ID != "counter" || !rep.Types[0].WantsAcks ||
		rep.Types[0].Roles[0] != "source" || !strings.Contains(string(rep.Types[0].ConfigSchema), `"count"`) {
		t.Errorf("inspect --json = %+v", rep)
	}
}

// TestPluginInspectDirectory: a directory stands for its *.so files; a bad
// one is reported on stderr, the good one still on stdout, and the exit is 1.
func TestPluginInspectDirectory(t *testing.T) {
	dir := t.TempDir()
	buildC(t, dir, "good.c")
	buildC(t, dir, "broken/major.c")
	var stdout, stderr bytes.Buffer
	code := runPlugin([]string{"inspect", dir}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), "plugin     good 1.2.3") || !strings.Contains(stderr.String(), "plugin built for ABI 2.0") {
		t.Errorf("inspect DIR = exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1, good on stdout, the major error on stderr", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := runPlugin([]string{"inspect", "--json", filepath.Join(dir, "good.so"), filepath.Join(dir, "good.so")}, &stdout, &stderr); code != 0 {
		t.Fatalf("inspect --json twice = exit %d", code)
	}
	var reps []inspectReport
	if err := json.Unmarshal(stdout.Bytes(), &reps); err != nil || len(reps) != 2 || reps[1].Name != "good" {
		t.Errorf("inspect --json of two files = %v, %+v; want an array of two reports", err, reps)
	}
}

func TestPluginInspectErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"inspect", buildC(t, dir, "broken/major.c")}, 1, "incompatible plugin ABI version: plugin built for ABI 2.0, host implements 1.1"},
		{[]string{"inspect", buildC(t, dir, "broken/noentry.c")}, 1, "no weir_plugin_describe entry point"},
		{[]string{"inspect", buildC(t, dir, "broken/nolasterror.c")}, 1, "required op last_error is NULL"},
		{[]string{"inspect", filepath.Join(dir, "missing.so")}, 1, "No such file or directory"},
		{[]string{"inspect"}, 2, "missing PATH"},
		{[]string{"inspect", t.TempDir()}, 1, "directory holds no *.so files"},
		{[]string{"inspect", "--bogus", "x"}, 2, "unknown flag: --bogus"},
		{[]string{"frobnicate"}, 2, `unknown subcommand "frobnicate"`},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := runPlugin(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) || stdout.Len() != 0 {
			t.Errorf("weir plugin %q = exit %d, stderr %q, stdout %q; want exit %d and %q on stderr only",
				tc.args, code, stderr.String(), stdout.String(), tc.code, tc.msg)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runPlugin([]string{"inspect", "--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--json") || stderr.Len() != 0 {
		t.Errorf("inspect --help = exit %d, stdout %q, stderr %q; want 0 and the flags on stdout", code, stdout.String(), stderr.String())
	}
}

// TestPluginInspectJSONError: with --json, a library that fails to load
// still yields JSON on stdout: an object with its path and the error for
// one file, and such an object in its place in the array for several.
func TestPluginInspectJSONError(t *testing.T) {
	dir := t.TempDir()
	good := buildC(t, dir, "good.c")
	bad := filepath.Join(dir, "nosuch.so")
	var stdout, stderr bytes.Buffer
	if code := runPlugin([]string{"inspect", "--json", bad}, &stdout, &stderr); code != 1 {
		t.Errorf("inspect --json of a missing file = exit %d; want 1", code)
	}
	var one struct{ Path, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &one); err != nil || one.Path != bad || !strings.Contains(one.Error, "nosuch.so") {
		t.Errorf("inspect --json of a missing file printed %q (%v); want an object with its path and error", stdout.String(), err)
	}
	stdout.Reset()
	if code := runPlugin([]string{"inspect", "--json", good, bad}, &stdout, &stderr); code != 1 {
		t.Errorf("inspect --json of a good and a missing file = exit %d; want 1", code)
	}
	var many []struct{ Path, Name, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &many); err != nil || len(many) != 2 || many[0].Name != "good" || many[0].Error != "" || many[1].Path != bad || many[1].Error == "" {
		t.Errorf("inspect --json of two files printed %q (%v); want the report, then the error object", stdout.String(), err)
	}
}

// TestInspectShowsBounds: plugin inspect lists a field's minimum, maximum
// and accepted values, which the host enforces, beside its type and
// default.
func TestInspectShowsBounds(t *testing.T) {
	schema := `{"type":"object","properties":{
		"size":{"type":"integer","minimum":1,"maximum":4096,"default":64,"description":"Bytes per event."},
		"mode":{"type":"string","enum":["fast","safe"],"default":"safe"},
		"ratio":{"type":"number","minimum":0.5}}}`
	var out bytes.Buffer
	printConfigFields(&out, inspectedType{HasSchema: true, ConfigSchema: json.RawMessage(schema)})
	for _, want := range []string{
		"size               non-negative integer, default 64, 1 to 4096: Bytes per event.",
		"mode               enum, default safe, one of fast, safe\n",
		"ratio              number, at least 0.5\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config fields lack %q:\n%s", want, out.String())
		}
	}
}
