package spec

import "fmt"

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
)

// Field describes one config field.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	// Default is used when the field is absent; nil means no default.
	Default any
	// Enum lists the accepted values of an Enum field.
	Enum []string
	// Fields describes the members of an Object field.
	Fields Spec
	// Doc is one sentence for docs and errors.
	Doc string
}

// Spec is the list of fields a connector or operator accepts. Fields not
// listed are an error.
type Spec []Field
