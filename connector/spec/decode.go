package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Decode applies s to config, as ApplyJSON does (defaults filled in, sizes
// converted to bytes, bounds and enums checked), and unmarshals the result
// into dst, a pointer to a struct whose json tags name s's fields. It is
// the one way Go connectors and operators read their configs, so a value
// the spec refuses is refused the same way by `weir validate` and at run
// time, and no constructor repeats its spec's defaults.
func Decode(s Spec, config []byte, dst any) error {
	norm, err := ApplyJSON(s, config)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(norm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}

// DurationValue is a time.Duration that decodes from a Duration field as Apply
// leaves it: a string such as "250ms", or integer nanoseconds.
type DurationValue time.Duration

// UnmarshalJSON accepts "1.5s" or 1500000000.
func (d *DurationValue) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = DurationValue(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("parse duration %s: want a string such as \"250ms\" or integer nanoseconds", b)
	}
	*d = DurationValue(n)
	return nil
}

// MarshalJSON writes d as a duration string, which UnmarshalJSON reads back.
func (d DurationValue) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}
