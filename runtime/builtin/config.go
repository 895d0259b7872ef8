package builtin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
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

// duration is a config duration: a Go duration string such as "250ms", or a
// number of nanoseconds.
type duration time.Duration

// UnmarshalJSON accepts "1.5s" or 1500000000.
func (d *duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("parse duration %q: %w", s, err)
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

// size is a config byte size: an integer, or a string with an optional unit
// suffix (B, KB, KiB, MB, MiB, GB, GiB).
type size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"B", 1},
}

// parseSize parses "64", "64B", "4KiB", "1MB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("parse size %q: want a non-negative integer with an optional unit such as KiB or MB", s)
	}
	return n * mult, nil
}

// UnmarshalJSON accepts 4096 or "4KiB".
func (z *size) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n, err := parseSize(s)
		if err != nil {
			return err
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
