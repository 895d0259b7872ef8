package cabi

import (
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "blackhole", "gen.v2", "my-sink_1"} {
		if err := CheckID(id); err != nil {
			t.Errorf("CheckID(%q) = %v; want nil", id, err)
		}
	}
	for _, id := range []string{"", "1abc", "Abc", "a b", "-x", "a/b", "ä"} {
		if err := CheckID(id); err == nil {
			t.Errorf("CheckID(%q) = nil; want an error", id)
		}
	}
}

func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"a", "gen.v2", "", "A", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := CheckID(id)
		ok := id != "" && id[0] >= 'a' && id[0] <= 'z' && strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == ""
		if (err == nil) != ok {
			t.Errorf("CheckID(%q) = %v; want ok=%v", id, err, ok)
		}
	})
}
