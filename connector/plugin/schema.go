package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/weirproject/weir/connector/spec"
)

// schema is the subset of JSON Schema that SpecFromSchema understands.
type schema struct {
	Type                 json.RawMessage    `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Enum                 []json.RawMessage  `json:"enum"`
	Default              json.RawMessage    `json:"default"`
	Description          string             `json:"description"`
	Title                string             `json:"title"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	Items                *schema            `json:"items"`
	Format               string             `json:"format"`
}

// SpecFromSchema converts a plugin's config_schema, a JSON Schema for an
// object, into a spec.Spec. It understands an object with "properties"
// whose members have a single "type" of string, integer, number, boolean,
// object (recursively), or array of strings or of objects, with optional
// "enum", "default", "description" (or "title"), "minimum", "maximum" and
// "required". Integers with "minimum" >= 0 become spec.Uint; strings with
// "format": "duration" become spec.Duration. The property list is taken as closed, as weir specs are,
// unless "additionalProperties" is true or a schema.
//
// It returns a nil Spec, which accepts any JSON object, for an empty
// schema, and (nil, error) for a schema it cannot express; callers should
// then fall back to a nil Spec and may report the reason.
func SpecFromSchema(text string) (spec.Spec, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var s schema
	dec := json.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse config schema: %w", err)
	}
	return objectSpec("", &s)
}

// objectSpec converts an object schema at path (for messages).
func objectSpec(path string, s *schema) (spec.Spec, error) {
	if t, err := typeOf(s); err != nil {
		return nil, fmt.Errorf("config schema%s: %w", at(path), err)
	} else if t != "object" && t != "" {
		return nil, fmt.Errorf("config schema%s: type %q is not object", at(path), t)
	}
	if open, err := openObject(s); err != nil {
		return nil, fmt.Errorf("config schema%s: %w", at(path), err)
	} else if open {
		return nil, fmt.Errorf("config schema%s: additionalProperties allows fields a weir spec cannot list", at(path))
	}
	if len(s.Properties) == 0 {
		return nil, fmt.Errorf("config schema%s: no properties", at(path))
	}
	required := map[string]bool{}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			return nil, fmt.Errorf("config schema%s: required field %q is not a property", at(path), r)
		}
		required[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(spec.Spec, 0, len(names))
	for _, n := range names {
		if n == "" {
			return nil, fmt.Errorf("config schema%s: property with an empty name", at(path))
		}
		f, err := fieldSpec(join(path, n), n, s.Properties[n])
		if err != nil {
			return nil, err
		}
		f.Required = required[n]
		out = append(out, f)
	}
	return out, nil
}

func fieldSpec(path, name string, p *schema) (spec.Field, error) {
	if p == nil {
		return spec.Field{}, fmt.Errorf("config schema%s: null property schema", at(path))
	}
	f := spec.Field{Name: name, Doc: p.Description}
	if f.Doc == "" {
		f.Doc = p.Title
	}
	t, err := typeOf(p)
	if err != nil {
		return f, fmt.Errorf("config schema%s: %w", at(path), err)
	}
	switch t {
	case "string":
		switch {
		case len(p.Enum) > 0:
			f.Kind = spec.Enum
			for _, e := range p.Enum {
				var v string
				if err := json.Unmarshal(e, &v); err != nil {
					return f, fmt.Errorf("config schema%s: enum value %s is not a string", at(path), e)
				}
				f.Enum = append(f.Enum, v)
			}
		case p.Format == "duration":
			f.Kind = spec.Duration
		default:
			f.Kind = spec.String
		}
	case "integer":
		f.Kind = spec.Int
		if p.Minimum != nil && *p.Minimum >= 0 {
			f.Kind = spec.Uint
		}
	case "number":
		f.Kind = spec.Float
	case "boolean":
		f.Kind = spec.Bool
	case "array":
		switch it, _ := typeOf(p.itemsOrEmpty()); it {
		case "string":
			f.Kind = spec.Strings
		case "object":
			sub, err := objectSpec(path+"[]", p.Items)
			if err != nil {
				return f, err
			}
			f.Kind, f.Fields = spec.Objects, sub
		default:
			return f, fmt.Errorf("config schema%s: only arrays of strings or of objects are supported", at(path))
		}
	case "object":
		sub, err := objectSpec(path, p)
		if err != nil {
			return f, err
		}
		f.Kind, f.Fields = spec.Object, sub
	default:
		return f, fmt.Errorf("config schema%s: property needs one type of string, integer, number, boolean, array or object", at(path))
	}
	if f.Kind == spec.Int || f.Kind == spec.Uint || f.Kind == spec.Float {
		if p.Minimum != nil {
			f.Min = bound(f.Kind, *p.Minimum)
		}
		if p.Maximum != nil {
			f.Max = bound(f.Kind, *p.Maximum)
		}
	}
	if len(p.Enum) > 0 && f.Kind != spec.Enum {
		return f, fmt.Errorf("config schema%s: enum is supported only for strings", at(path))
	}
	if len(p.Default) > 0 {
		var v any
		dec := json.NewDecoder(bytes.NewReader(p.Default))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return f, fmt.Errorf("config schema%s: default: %w", at(path), err)
		}
		f.Default = defaultValue(f.Kind, v)
	}
	return f, nil
}

// defaultValue converts a decoded JSON default to the Go type weir's own
// specs use for kind: int64, uint64 or float64 for numbers.
func defaultValue(kind spec.Kind, v any) any {
	n, ok := v.(json.Number)
	if !ok {
		if list, ok := v.([]any); ok && kind == spec.Strings {
			out := make([]string, 0, len(list))
			for _, x := range list {
				s, _ := x.(string)
				out = append(out, s)
			}
			return out
		}
		return v
	}
	switch kind {
	case spec.Int:
		if i, err := n.Int64(); err == nil {
			return i
		}
	case spec.Uint, spec.Size:
		if i, err := n.Int64(); err == nil && i >= 0 {
			return uint64(i)
		}
	}
	f, _ := n.Float64()
	return f
}

// bound converts a schema minimum or maximum to the Go type weir's specs
// use for kind. Integer bounds that are not whole keep their float value.
func bound(kind spec.Kind, v float64) any {
	switch {
	case kind == spec.Uint && v >= 0 && v == float64(uint64(v)):
		return uint64(v)
	case kind == spec.Int && v == float64(int64(v)):
		return int64(v)
	}
	return v
}

func (s *schema) itemsOrEmpty() *schema {
	if s.Items == nil {
		return &schema{}
	}
	return s.Items
}

// typeOf returns the single type a schema names, "" for none.
func typeOf(s *schema) (string, error) {
	if len(s.Type) == 0 {
		return "", nil
	}
	var t string
	if err := json.Unmarshal(s.Type, &t); err != nil {
		return "", fmt.Errorf("type %s is not a single type name", s.Type)
	}
	return t, nil
}

// openObject reports whether additionalProperties lets in unlisted fields.
func openObject(s *schema) (bool, error) {
	a := bytes.TrimSpace(s.AdditionalProperties)
	switch {
	case len(a) == 0, string(a) == "false":
		return false, nil
	case string(a) == "true", a[0] == '{':
		return true, nil
	}
	return false, fmt.Errorf("additionalProperties %s is not a boolean or schema", a)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " at " + path
}
