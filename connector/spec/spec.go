package spec

import (
	"fmt"
	"strings"
)

// Pos is a position in a config file.
type Pos struct {
	File      string
	Line, Col int
}

// String formats p as FILE:LINE:COL.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Kind is the type of a config field's value.
type Kind int

// Field kinds.
const (
	String   Kind = iota // a string
	Int                  // a signed integer
	Uint                 // a non-negative integer
	Float                // a number
	Bool                 // true or false
	Duration             // a Go duration string such as "250ms"
	Size                 // a byte size: an integer or a string such as "64KiB"
	Strings              // a list of strings
	Enum                 // one string from Field.Enum
	Object               // a nested object, validated by Field.Fields
	Objects              // a list of objects, each validated by Field.Fields
)

var kindNames = [...]string{
	String:   "string",
	Int:      "integer",
	Uint:     "non-negative integer",
	Float:    "number",
	Bool:     "boolean",
	Duration: "duration",
	Size:     "size",
	Strings:  "list of strings",
	Enum:     "enum",
	Object:   "object",
	Objects:  "list of objects",
}

// String names the kind as messages and docs spell it.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Field describes one config field.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	// Default is used when the field is absent; nil means no default.
	// Numbers may be any Go integer or float type, durations a string or a
	// time.Duration, sizes an integer or a string such as "1MiB".
	Default any
	// Enum lists the accepted values of an Enum field.
	Enum []string
	// Fields describes the members of an Object field, or of each element
	// of an Objects field.
	Fields Spec
	// Min and Max bound a number, duration or size, inclusive; nil is
	// unbounded. They take the same Go types as Default.
	Min, Max any
	// Doc is one sentence for docs and errors.
	Doc string
	// Secret marks a credential, such as a password: Redact replaces its
	// value, so `weir validate --print` and logs never show it.
	Secret bool
}

// Spec is the list of fields a connector or operator accepts. Fields not
// listed are an error.
type Spec []Field

// Field returns the field called name.
func (s Spec) Field(name string) (*Field, bool) {
	for i := range s {
		if s[i].Name == name {
			return &s[i], true
		}
	}
	return nil, false
}

// Names returns the field names in spec order.
func (s Spec) Names() []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].Name
	}
	return out
}

// TypeString describes the accepted values of f for docs and messages, for
// example "duration" or "one of text, jsonl".
func (f *Field) TypeString() string {
	if f.Kind == Enum {
		return "one of " + strings.Join(f.Enum, ", ")
	}
	return f.Kind.String()
}
