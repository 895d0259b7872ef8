package plugin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
)

// TestLoadSaved registers a type from a saved description and checks its
// roles and spec, that its constructor runs no code, and that a library
// without a description is an error that says how to write one.
func TestLoadSaved(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libx.so")
	if err := os.WriteFile(lib, []byte("not even ELF: never opened"), 0o644); err != nil {
		t.Fatal(err)
	}
	desc := `{"types":[{"id":"x_sink","roles":["sink"],"config_schema":{"type":"object","additionalProperties":false,"properties":{"every":{"type":"integer","minimum":1,"default":5}}}}]}`
	if err := os.WriteFile(lib+".json", []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := connector.NewRegistry()
	if err := LoadSaved(reg, lib); err != nil {
		t.Fatal(err)
	}
	typ, ok := reg.Lookup("x_sink")
	if !ok || typ.Roles != connector.RoleSink {
		t.Fatalf("x_sink = %+v, %v; want a registered sink", typ, ok)
	}
	if _, err := spec.ApplyJSON(typ.Spec, []byte(`{"every": 0}`)); err == nil || !strings.Contains(err.Error(), "every") {
		t.Errorf("the saved schema accepted every: 0 (%v); want its minimum", err)
	}
	if _, err := typ.New([]byte(`{}`), connector.Env{Name: "s"}); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("New = %v; want ErrNotLoaded", err)
	}
	os.Remove(lib + ".json")
	if err := os.Symlink("/dev/zero", lib+".json"); err != nil {
		t.Fatal(err)
	}
	if err := LoadSaved(connector.NewRegistry(), lib); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadSaved with /dev/zero as its description = %v; want it refused", err)
	}
	os.Remove(lib + ".json")
	if err := LoadSaved(connector.NewRegistry(), lib); err == nil || !strings.Contains(err.Error(), "weir plugin inspect --json "+lib) {
		t.Errorf("LoadSaved without a description = %v; want one saying how to write it", err)
	}
}
