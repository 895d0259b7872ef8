package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseSize parses a byte size: a non-negative integer with an optional
// unit, one of B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or KB, MB,
// GB, TB (powers of 1000), as in "64", "4KiB" or "1 MB".
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > (1<<63-1)/mult {
		return 0, fmt.Errorf("parse size %q: want a non-negative integer with an optional unit such as KiB or MB", s)
	}
	return n * mult, nil
}

// ParseDuration parses a Go duration such as "250ms" or "1m30s". A bare
// number is accepted only for zero.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: want a number with a unit such as 250ms, 10s or 1m", s)
	}
	return d, nil
}
