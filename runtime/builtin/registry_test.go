package builtin

import (
	"encoding/json"
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
		defaults := map[string]any{}
		for _, f := range typ.Spec {
			fields = append(fields, f.Name)
			if f.Doc == "" || !strings.HasSuffix(f.Doc, ".") {
				t.Errorf("%s field %q: doc %q is not a sentence", id, f.Name, f.Doc)
			}
			if f.Kind == spec.Enum && len(f.Enum) == 0 {
				t.Errorf("%s field %q is an enum without values", id, f.Name)
			}
			if f.Default != nil {
				defaults[f.Name] = f.Default
			}
		}
		sort.Strings(tags)
		sort.Strings(fields)
		if !reflect.DeepEqual(tags, fields) {
			t.Errorf("%s: spec fields %v; config struct fields %v", id, fields, tags)
		}
		// Decoding the spec's defaults must give what decoding {} gives,
		// plus the required fields.
		if id == "file" {
			defaults["path"] = "x"
		}
		withDefaults, _ := json.Marshal(defaults)
		a := construct(t, id, withDefaults)
		minimal := []byte(`{}`)
		if id == "file" {
			minimal = []byte(`{"path":"x"}`)
		}
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

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64", 64, true}, {"64B", 64, true}, {"4KiB", 4096, true}, {"1 MB", 1000000, true},
		{"2G", 2 << 30, true}, {"-1", 0, false}, {"KiB", 0, false}, {"1.5KiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64", "4KiB", "1 MB", "-3", "9999999999999999999G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d; want non-negative", s, n)
		}
	})
}
