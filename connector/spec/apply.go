package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Apply validates n, a YAML mapping node (nil or a null node is an empty
// config), against s, fills in the defaults of absent fields, and returns
// the config as a JSON object with the fields in spec order: the bytes a
// connector or operator receives. Numbers and sizes become JSON numbers
// (sizes in bytes), durations stay strings such as "250ms".
//
// Every problem is reported, each at the position of the offending node in
// file: an unknown field, a missing required field, a value of the wrong
// kind, out of range, not in the enum, or a bad duration or size. A nil
// Spec accepts any mapping and converts it as it is.
func Apply(s Spec, file string, n *yaml.Node) ([]byte, List) {
	a := applier{file: file}
	var buf bytes.Buffer
	if s == nil {
		n = deref(n)
		if isNull(n) {
			return []byte("{}"), nil
		}
		if n.Kind != yaml.MappingNode {
			a.errorf(n, "want a mapping of config fields, found %s", describe(n))
			return nil, a.errs
		}
		a.generic(n, &buf)
	} else {
		a.object(s, "", n, &buf)
	}
	if len(a.errs) > 0 {
		return nil, a.errs
	}
	return buf.Bytes(), nil
}

// ApplyJSON is Apply for a config given as JSON (or YAML) text, for Go
// callers that build configs by hand. Empty text is an empty config. The
// returned error is a List whose positions count lines and columns in
// config.
func ApplyJSON(s Spec, config []byte) ([]byte, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(config)) > 0 {
		if err := yaml.Unmarshal(config, &doc); err != nil {
			return nil, fmt.Errorf("parse config: %w", err)
		}
	}
	var n *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		n = doc.Content[0]
	}
	out, errs := Apply(s, "config", n)
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// Check reports mistakes in the spec itself: duplicate or empty names,
// defaults that do not fit their field, enums without values, objects
// without fields. Tests of every component call it on their specs.
func (s Spec) Check() error {
	var errs []string
	s.check("", &errs)
	if len(errs) > 0 {
		return fmt.Errorf("check spec: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (s Spec) check(prefix string, errs *[]string) {
	seen := map[string]bool{}
	for i := range s {
		f := &s[i]
		name := prefix + f.Name
		if f.Name == "" {
			*errs = append(*errs, fmt.Sprintf("field %d under %q has no name", i, prefix))
		}
		if seen[f.Name] {
			*errs = append(*errs, fmt.Sprintf("field %s is listed twice", name))
		}
		seen[f.Name] = true
		if f.Doc == "" {
			*errs = append(*errs, fmt.Sprintf("field %s has no doc", name))
		}
		switch f.Kind {
		case Enum:
			if len(f.Enum) == 0 {
				*errs = append(*errs, fmt.Sprintf("enum field %s lists no values", name))
			}
		case Object, Objects:
			if len(f.Fields) == 0 {
				*errs = append(*errs, fmt.Sprintf("field %s of kind %s has no fields", name, f.Kind))
			}
			f.Fields.check(name+".", errs)
		}
		if f.Default != nil {
			if _, err := defaultJSON(f); err != nil {
				*errs = append(*errs, fmt.Sprintf("field %s: %v", name, err))
			}
		}
		for _, b := range []any{f.Min, f.Max} {
			if b == nil {
				continue
			}
			if _, err := bound(f.Kind, b); err != nil {
				*errs = append(*errs, fmt.Sprintf("field %s: bound: %v", name, err))
			}
		}
	}
}

type applier struct {
	file string
	errs List
	// nodes counts the nodes generic has converted, to stop alias
	// expansion from blowing up.
	nodes int
}

// maxNodes bounds the nodes a schemaless config may expand to through
// aliases.
const maxNodes = 1 << 20

func (a *applier) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: a.file, Line: 1, Col: 1}
	}
	return Pos{File: a.file, Line: n.Line, Col: n.Column}
}

func (a *applier) errorf(n *yaml.Node, format string, args ...any) {
	a.errs = append(a.errs, &Error{Pos: a.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return deref(n.Content[0])
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "found ..." messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null"
	}
	return strconv.Quote(n.Value)
}

// object validates mapping n against s and writes the JSON object to buf.
func (a *applier) object(s Spec, path string, n *yaml.Node, buf *bytes.Buffer) {
	n = deref(n)
	var pairs []*yaml.Node
	if !isNull(n) {
		if n.Kind != yaml.MappingNode {
			a.errorf(n, "%swant a mapping of fields (%s), found %s", at(path), strings.Join(s.Names(), ", "), describe(n))
			return
		}
		pairs = MappingPairs(n)
	}
	given := make(map[string]*yaml.Node, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, v := pairs[i], pairs[i+1]
		if _, ok := s.Field(k.Value); !ok {
			msg := fmt.Sprintf("%sunknown field %q", at(path), k.Value)
			if near := Suggest(k.Value, s.Names()); len(near) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", near[0])
			}
			a.errorf(k, "%s; want one of: %s", msg, strings.Join(s.Names(), ", "))
			continue
		}
		if _, dup := given[k.Value]; dup {
			a.errorf(k, "%sfield %q is given twice", at(path), k.Value)
			continue
		}
		given[k.Value] = v
	}
	buf.WriteByte('{')
	first := true
	for i := range s {
		f := &s[i]
		v := given[f.Name]
		var val []byte
		switch {
		case v != nil && !isNull(v):
			val = a.value(f, join(path, f.Name), v)
		case f.Required:
			where := n
			if v != nil {
				where = v
			}
			a.errorf(where, "%smissing required field %q (%s): %s", at(path), f.Name, f.TypeString(), f.Doc)
			continue
		case f.Default != nil:
			d, err := defaultJSON(f)
			if err != nil {
				a.errorf(n, "%sfield %q: bad default in spec: %v", at(path), f.Name, err)
				continue
			}
			val = d
		}
		if val == nil {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeString(buf, f.Name)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// value validates one present, non-null field value and returns its JSON,
// or nil after recording an error.
func (a *applier) value(f *Field, path string, n *yaml.Node) []byte {
	n = deref(n)
	switch f.Kind {
	case Object:
		var buf bytes.Buffer
		before := len(a.errs)
		a.object(f.Fields, path, n, &buf)
		if len(a.errs) > before {
			return nil
		}
		return buf.Bytes()
	case Objects:
		if n.Kind != yaml.SequenceNode {
			a.errorf(n, "field %s: want a list of mappings, found %s", path, describe(n))
			return nil
		}
		var buf bytes.Buffer
		before := len(a.errs)
		buf.WriteByte('[')
		for i, el := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			a.object(f.Fields, fmt.Sprintf("%s[%d]", path, i), el, &buf)
		}
		buf.WriteByte(']')
		if len(a.errs) > before {
			return nil
		}
		return buf.Bytes()
	case Strings:
		var items []*yaml.Node
		switch n.Kind {
		case yaml.SequenceNode:
			items = n.Content
		case yaml.ScalarNode:
			items = []*yaml.Node{n}
		default:
			a.errorf(n, "field %s: want a list of strings, found %s", path, describe(n))
			return nil
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, it := range items {
			it = deref(it)
			if it.Kind != yaml.ScalarNode {
				a.errorf(it, "field %s[%d]: want a string, found %s", path, i, describe(it))
				return nil
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(&buf, it.Value)
		}
		buf.WriteByte(']')
		return buf.Bytes()
	}
	if n.Kind != yaml.ScalarNode {
		a.errorf(n, "field %s: want a %s, found %s", path, f.TypeString(), describe(n))
		return nil
	}
	out, num, err := scalar(f, n.Value)
	if err != nil {
		a.errorf(n, "field %s: %v", path, err)
		return nil
	}
	if err := inRange(f, num); err != nil {
		a.errorf(n, "field %s: %v", path, err)
		return nil
	}
	return out
}

// scalar parses text as a value of f and returns its JSON and, for numeric
// kinds, its value as a float64 for range checks.
func scalar(f *Field, text string) ([]byte, float64, error) {
	t := strings.TrimSpace(text)
	switch f.Kind {
	case String:
		var buf bytes.Buffer
		writeString(&buf, text)
		return buf.Bytes(), 0, nil
	case Enum:
		for _, e := range f.Enum {
			if t == e {
				var buf bytes.Buffer
				writeString(&buf, e)
				return buf.Bytes(), 0, nil
			}
		}
		msg := fmt.Sprintf("%q is not one of %s", text, strings.Join(f.Enum, ", "))
		if near := Suggest(t, f.Enum); len(near) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", near[0])
		}
		return nil, 0, fmt.Errorf("%s", msg)
	case Int:
		v, err := strconv.ParseInt(t, 0, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("want an integer, found %q", text)
		}
		return strconv.AppendInt(nil, v, 10), float64(v), nil
	case Uint:
		v, err := strconv.ParseUint(t, 0, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("want a non-negative integer, found %q", text)
		}
		return strconv.AppendUint(nil, v, 10), float64(v), nil
	case Float:
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("want a finite number, found %q", text)
		}
		return strconv.AppendFloat(nil, v, 'g', -1, 64), v, nil
	case Bool:
		switch t {
		case "true", "True", "TRUE":
			return []byte("true"), 0, nil
		case "false", "False", "FALSE":
			return []byte("false"), 0, nil
		}
		return nil, 0, fmt.Errorf("want true or false, found %q", text)
	case Duration:
		d, err := ParseDuration(t)
		if err != nil {
			return nil, 0, err
		}
		var buf bytes.Buffer
		writeString(&buf, t)
		return buf.Bytes(), float64(d), nil
	case Size:
		v, err := ParseSize(t)
		if err != nil {
			return nil, 0, err
		}
		return strconv.AppendUint(nil, v, 10), float64(v), nil
	}
	return nil, 0, fmt.Errorf("field kind %s cannot be a single value", f.Kind)
}

// inRange checks num against f's bounds.
func inRange(f *Field, num float64) error {
	for i, b := range []any{f.Min, f.Max} {
		if b == nil {
			continue
		}
		lim, err := bound(f.Kind, b)
		if err != nil {
			return fmt.Errorf("bad bound in spec: %w", err)
		}
		if (i == 0 && num < lim) || (i == 1 && num > lim) {
			return fmt.Errorf("%s is out of range %s", fmtNum(f.Kind, num), rangeString(f))
		}
	}
	return nil
}

// DefaultJSON returns the field's default as the JSON a component
// receives, or nil when the field has no default.
func (f *Field) DefaultJSON() ([]byte, error) {
	if f.Default == nil {
		return nil, nil
	}
	return defaultJSON(f)
}

// RangeString describes the field's bounds, such as "[1, 100]" or
// ">= 1ms", or returns "" when it has none.
func (f *Field) RangeString() string {
	if f.Min == nil && f.Max == nil {
		return ""
	}
	return rangeString(f)
}

func rangeString(f *Field) string {
	lo, hi := "", ""
	if f.Min != nil {
		v, _ := bound(f.Kind, f.Min)
		lo = fmtNum(f.Kind, v)
	}
	if f.Max != nil {
		v, _ := bound(f.Kind, f.Max)
		hi = fmtNum(f.Kind, v)
	}
	switch {
	case lo != "" && hi != "":
		return "[" + lo + ", " + hi + "]"
	case lo != "":
		return ">= " + lo
	}
	return "<= " + hi
}

func fmtNum(k Kind, v float64) string {
	switch {
	case k == Duration:
		return time.Duration(v).String()
	case v == math.Trunc(v) && math.Abs(v) < 1e18:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// bound converts a Min or Max to a float64 in the field's unit.
func bound(k Kind, b any) (float64, error) {
	switch k {
	case Duration:
		switch v := b.(type) {
		case time.Duration:
			return float64(v), nil
		case string:
			d, err := ParseDuration(v)
			return float64(d), err
		}
	case Size:
		if s, ok := b.(string); ok {
			v, err := ParseSize(s)
			return float64(v), err
		}
	case Int, Uint, Float:
	default:
		return 0, fmt.Errorf("kind %s takes no bounds", k)
	}
	if v, ok := number(b); ok {
		return v, nil
	}
	return 0, fmt.Errorf("bound %v (%T) does not fit kind %s", b, b, k)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// defaultJSON converts f.Default to JSON, checking it against f.
func defaultJSON(f *Field) ([]byte, error) {
	d := f.Default
	var text string
	switch v := d.(type) {
	case string:
		text = v
	case bool:
		if f.Kind != Bool {
			return nil, fmt.Errorf("default %v does not fit kind %s", v, f.Kind)
		}
		return strconv.AppendBool(nil, v), nil
	case time.Duration:
		if f.Kind != Duration {
			return nil, fmt.Errorf("default %v does not fit kind %s", v, f.Kind)
		}
		text = v.String()
	case []string:
		if f.Kind != Strings {
			return nil, fmt.Errorf("default %v does not fit kind %s", v, f.Kind)
		}
		return json.Marshal(v)
	default:
		num, ok := number(d)
		if !ok {
			if f.Kind == Object || f.Kind == Objects {
				return json.Marshal(d)
			}
			return nil, fmt.Errorf("default %v (%T) does not fit kind %s", d, d, f.Kind)
		}
		switch f.Kind {
		case Int, Uint, Size:
			if num != math.Trunc(num) {
				return nil, fmt.Errorf("default %v is not an integer", d)
			}
			text = strconv.FormatFloat(num, 'f', 0, 64)
			if i, ok := d.(uint64); ok {
				text = strconv.FormatUint(i, 10)
			}
		case Float:
			text = strconv.FormatFloat(num, 'g', -1, 64)
		case Duration:
			text = time.Duration(num).String()
		default:
			return nil, fmt.Errorf("default %v (%T) does not fit kind %s", d, d, f.Kind)
		}
	}
	switch f.Kind {
	case String:
		var buf bytes.Buffer
		writeString(&buf, text)
		return buf.Bytes(), nil
	case Strings:
		return json.Marshal([]string{text})
	case Object, Objects:
		return nil, fmt.Errorf("default for kind %s must be a Go value, not a string", f.Kind)
	}
	out, _, err := scalar(f, text)
	if err != nil {
		return nil, fmt.Errorf("default: %w", err)
	}
	return out, nil
}

// generic converts any YAML node to JSON as it is, for nil specs.
func (a *applier) generic(n *yaml.Node, buf *bytes.Buffer) {
	n = deref(n)
	if a.nodes++; a.nodes > maxNodes {
		if a.nodes == maxNodes+1 {
			a.errorf(n, "config expands to more than %d values through aliases", maxNodes)
		}
		buf.WriteString("null")
		return
	}
	switch {
	case n == nil:
		buf.WriteString("null")
	case n.Kind == yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		pairs := MappingPairs(n)
		for i := 0; i+1 < len(pairs); i += 2 {
			k := pairs[i]
			if seen[k.Value] {
				a.errorf(k, "field %q is given twice", k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			a.generic(pairs[i+1], buf)
		}
		buf.WriteByte('}')
	case n.Kind == yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			a.generic(c, buf)
		}
		buf.WriteByte(']')
	default:
		switch n.ShortTag() {
		case "!!null":
			buf.WriteString("null")
		case "!!bool":
			if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
				buf.WriteString(strconv.FormatBool(b))
				return
			}
			writeString(buf, n.Value)
		case "!!int":
			if v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				buf.WriteString(strconv.FormatInt(v, 10))
				return
			}
			if v, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				buf.WriteString(strconv.FormatUint(v, 10))
				return
			}
			writeString(buf, n.Value)
		case "!!float":
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				buf.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
				return
			}
			writeString(buf, n.Value)
		default:
			writeString(buf, n.Value)
		}
	}
}

// writeString writes s as a JSON string, without escaping <, > and &.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	buf.Truncate(buf.Len() - 1) // Encode's newline
}
