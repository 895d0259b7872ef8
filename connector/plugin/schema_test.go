package plugin

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector/spec"
)

func TestSpecFromSchemaFull(t *testing.T) {
	text, err := os.ReadFile("testdata/schema_full.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := SpecFromSchema(string(text))
	if err != nil {
		t.Fatalf("SpecFromSchema(schema_full.json) error: %v", err)
	}
	want := spec.Spec{
		{Name: "host", Kind: spec.String, Required: true, Doc: "Host to connect to."},
		{Name: "mode", Kind: spec.Enum, Enum: []string{"fast", "safe"}, Default: "safe"},
		{Name: "offset", Kind: spec.Int, Default: int64(-3)},
		{Name: "port", Kind: spec.Uint, Default: uint64(9000), Min: uint64(1), Max: uint64(65535), Doc: "TCP port."},
		{Name: "ratio", Kind: spec.Float, Default: 0.5, Max: 1.0},
		{Name: "routes", Kind: spec.Objects, Fields: spec.Spec{{Name: "to", Kind: spec.String, Required: true}}},
		{Name: "tags", Kind: spec.Strings, Default: []string{"a"}},
		{Name: "timeout", Kind: spec.Duration, Default: "1s"},
		{Name: "tls", Kind: spec.Object, Doc: "TLS settings.", Fields: spec.Spec{{Name: "ca", Kind: spec.String}}},
		{Name: "verbose", Kind: spec.Bool, Default: false},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w spec.Field
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("field %d = %#v; want %#v", i, g, w)
			}
		}
	}
}

func TestSpecFromSchemaUnsupported(t *testing.T) {
	tests := []struct {
		schema, want string
	}{
		{`{"type":"object","additionalProperties":true,"properties":{"a":{"type":"string"}}}`, "additionalProperties allows fields"},
		{`{"type":"object"}`, "no properties"},
		{`{"type":"array"}`, `type "array" is not object`},
		{`{"properties":{"a":{"type":["string","null"]}}}`, "at a: type"},
		{`{"properties":{"a":{"oneOf":[]}}}`, "at a: property needs one type"},
		{`{"properties":{"a":{"type":"array","items":{"type":"integer"}}}}`, "only arrays of strings or of objects"},
		{`{"properties":{"a":{"type":"array","items":{"type":"object"}}}}`, "at a[]: no properties"},
		{`{"properties":{"a":{"type":"integer","enum":[1,2]}}}`, "enum is supported only for strings"},
		{`{"properties":{"a":{"type":"string"}},"required":["b"]}`, `required field "b" is not a property`},
		{`{"properties":{"o":{"type":"object","properties":{"x":{"type":"null"}}}}}`, "at o.x:"},
		{`{not json`, "parse config schema"},
		{`{"properties":{"":{"type":"string"}}}`, "property with an empty name"},
	}
	for _, tt := range tests {
		got, err := SpecFromSchema(tt.schema)
		if err == nil || !strings.Contains(err.Error(), tt.want) || got != nil {
			t.Errorf("SpecFromSchema(%s) = %v, %v; want nil and an error containing %q", tt.schema, got, err, tt.want)
		}
	}
	if got, err := SpecFromSchema("  "); got != nil || err != nil {
		t.Errorf("SpecFromSchema(blank) = %v, %v; want nil, nil", got, err)
	}
}

func FuzzSpecFromSchema(f *testing.F) {
	text, _ := os.ReadFile("testdata/schema_full.json")
	f.Add(string(text))
	f.Add(`{"properties":{"a":{"type":"object","properties":{"b":{"type":"integer","default":1e400}}}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := SpecFromSchema(s)
		if err != nil && sp != nil {
			t.Fatalf("SpecFromSchema returned a spec and an error %v", err)
		}
		var check func(spec.Spec)
		check = func(sp spec.Spec) {
			for _, fld := range sp {
				if fld.Name == "" {
					t.Fatalf("empty field name from %q", s)
				}
				if fld.Kind == spec.Enum && len(fld.Enum) == 0 {
					t.Fatalf("enum field %q without values from %q", fld.Name, s)
				}
				if (fld.Kind == spec.Object || fld.Kind == spec.Objects) && len(fld.Fields) == 0 {
					t.Fatalf("object field %q without fields from %q", fld.Name, s)
				}
				check(fld.Fields)
			}
		}
		check(sp)
		if sp != nil {
			// The spec must be usable by the validator; an error about
			// the config (say, a required field) is fine, a panic is not.
			spec.ApplyJSON(sp, []byte("{}"))
		}
	})
}
