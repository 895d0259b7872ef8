package cabi

import (
	"errors"
	"fmt"
)

// CheckID reports whether id is a valid connector type ID:
// [a-z][a-z0-9_.-]*.
func CheckID(id string) error {
	if id == "" {
		return errors.New("id is empty")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'):
		default:
			return fmt.Errorf("id %q: byte %d (%q) is not allowed; ids match [a-z][a-z0-9_.-]*", id, i, c)
		}
	}
	return nil
}
