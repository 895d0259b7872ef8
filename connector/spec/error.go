package spec

import (
	"fmt"
	"strings"
)

// Error is a config error or warning at a position in a file.
type Error struct {
	Pos Pos
	// Msg says what was found and what was expected.
	Msg string
}

// Error formats e as FILE:LINE:COL: message.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errorf returns an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// List is a list of errors that is itself an error, one per line.
type List []*Error

// Error joins the errors, one per line.
func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil when l is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// ValueError is a problem at byte Offset of the string value of Field, such
// as a syntax error in a filter expression, or (Offset < 0) with the value
// of Field as a whole, which a connector's Check or constructor returns
// (wrapped or not) so that the config loader can report it at the
// FILE:LINE:COL of the value or inside the string.
type ValueError struct {
	Field  string
	Offset int
	Msg    string
}

// Error formats e as "field FIELD, offset N: message", or "field FIELD:
// message" when it concerns the whole value.
func (e *ValueError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("field %s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("field %s, offset %d: %s", e.Field, e.Offset, e.Msg)
}
