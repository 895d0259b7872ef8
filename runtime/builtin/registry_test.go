package builtin

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/spec"
)

// configTypes maps each built-in type to its config struct.
var configTypes = map[string]any{
	"blaster":   BlasterConfig{},
	"blackhole": BlackholeConfig{},
	"stdout":    StdoutConfig{},
	"file":      FileConfig{},
	"metronome": MetronomeConfig{},
}

// TestSpecsDocumentConfig checks that every type is registered, that its
// spec lists exactly the fields its config struct decodes, each with a doc
// sentence, and that the spec's defaults are the ones the constructor uses.
func TestSpecsDocumentConfig(t *testing.T) {
	for id, cfg := range configTypes {
		typ, ok := runtime.Default.Lookup(id)
		if !ok {
			t.Errorf("type %q is not registered in runtime.Default", id)
			continue
		}
		if typ.Description == "" || typ.Spec == nil {
			t.Errorf("type %q lacks a description or spec", id)
		}
		var tags, fields []string
		rt := reflect.TypeOf(cfg)
		for i := 0; i < rt.NumField(); i++ {
			tags = append(tags, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		for _, f := range typ.Spec {
			fields = append(fields, f.Name)
			if f.Doc == "" || !strings.HasSuffix(f.Doc, ".") {
				t.Errorf("%s field %q: doc %q is not a sentence", id, f.Name, f.Doc)
			}
			if f.Kind == spec.Enum && len(f.Enum) == 0 {
				t.Errorf("%s field %q is an enum without values", id, f.Name)
			}
		}
		sort.Strings(tags)
		sort.Strings(fields)
		if !reflect.DeepEqual(tags, fields) {
			t.Errorf("%s: spec fields %v; config struct fields %v", id, fields, tags)
		}
		// The config the runtime hands over, validated and completed by
		// spec.ApplyJSON, must decode to the constructor's own defaults.
		minimal := []byte(`{}`)
		if id == "file" {
			minimal = []byte(`{"path":"x"}`)
		}
		full, err := spec.ApplyJSON(typ.Spec, minimal)
		if err != nil {
			t.Errorf("%s: spec.ApplyJSON(spec, %s): %v", id, minimal, err)
			continue
		}
		a := construct(t, id, full)
		b := construct(t, id, minimal)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: config from spec defaults %+v differs from built-in defaults %+v", id, a, b)
		}
	}
}

// construct builds a connector of type id and returns its decoded config.
func construct(t *testing.T, id string, config []byte) any {
	t.Helper()
	env := testEnv("x")
	var (
		cfg any
		err error
	)
	switch id {
	case "blaster":
		var c *Blaster
		if c, err = NewBlaster(config, env); err == nil {
			cfg = c.cfg
			c.Close()
		}
	case "blackhole":
		var c *Blackhole
		if c, err = NewBlackhole(config, env); err == nil {
			cfg = c.cfg
		}
	case "stdout":
		// The format is the stdout sink's only field; compare encoders.
		var c *Stdout
		if c, err = NewStdout(config, env); err == nil {
			cfg = reflect.ValueOf(c.encode).Pointer()
		}
	case "file":
		var c *File
		if c, err = NewFile(config, env); err == nil {
			cfg = c.cfg
		}
	case "metronome":
		var c *Metronome
		if c, err = NewMetronome(config, env); err == nil {
			cfg = c.cfg
		}
	}
	if err != nil {
		t.Fatalf("New %s(%s): %v", id, config, err)
	}
	return cfg
}
