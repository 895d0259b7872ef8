package builtin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weirproject/weir/runtime/spec"
)

// decodeConfig unmarshals a JSON object config into dst, which holds the
// defaults on entry. Unknown fields are an error. An empty config is "{}".
func decodeConfig(typ string, config []byte, dst any) error {
	if len(bytes.TrimSpace(config)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("decode %s config: %w", typ, err)
	}
	return nil
}

// duration is a config duration: a string that spec.ParseDuration accepts,
// such as "250ms", or a number of nanoseconds.
type duration time.Duration

// UnmarshalJSON accepts "1.5s" or 1500000000.
func (d *duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := spec.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("parse duration %s: want a string such as \"250ms\" or integer nanoseconds", b)
	}
	*d = duration(n)
	return nil
}

// size is a config byte size: an integer, or a string that spec.ParseSize
// accepts, such as "4KiB".
type size int64

// UnmarshalJSON accepts 4096 or "4KiB".
func (z *size) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n, err := spec.ParseSize(s)
		if err != nil {
			return err
		}
		if n > 1<<62 {
			return fmt.Errorf("parse size %q: larger than 2^62 bytes", s)
		}
		*z = size(n)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil || n < 0 {
		return fmt.Errorf("parse size %s: want a non-negative integer or a string such as \"4KiB\"", b)
	}
	*z = size(n)
	return nil
}
