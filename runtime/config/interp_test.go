package config

import (
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": "", "N": "16"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want string
		errOff   int
		errMsg   string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x${A}y${N}z", want: "xalphay16z"},
		{in: "${UNSET:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${A:-dflt}", want: "alpha"},
		{in: "${UNSET:-}", want: ""},
		{in: "${UNSET:-a:-b}", want: "a:-b"},
		{in: "$${A}", want: "${A}"},
		{in: "$$${A}", want: "$${A}"},
		{in: "cost $5 ${A}$", want: "cost $5 alpha$"},
		{in: "$", want: "$"},
		{in: "ab ${UNSET}", errOff: 3, errMsg: "environment variable UNSET is not set"},
		{in: "${A", errOff: 0, errMsg: "unterminated ${"},
		{in: "x ${}", errOff: 2, errMsg: `bad variable name ""`},
		{in: "${1A}", errOff: 0, errMsg: `bad variable name "1A"`},
		{in: "${A B}", errOff: 0, errMsg: `bad variable name "A B"`},
		{in: "${A}${B}", errOff: 4, errMsg: "environment variable B is not set"},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, lookup)
		switch {
		case tt.errMsg != "":
			if err == nil || err.off != tt.errOff || !strings.Contains(err.msg, tt.errMsg) {
				t.Errorf("expand(%q) = %q, %+v; want error at %d containing %q", tt.in, got, err, tt.errOff, tt.errMsg)
			}
		case err != nil:
			t.Errorf("expand(%q): %s", tt.in, err.msg)
		case got != tt.want:
			t.Errorf("expand(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzExpand checks that expansion never panics, that errors point inside
// the input, that text without ${ is left alone, and that protect and
// restore are exact inverses.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "x${B:-y}z", "$${A}", "${", "${A:-}", "a$b", "{k: ${A}}\n- ${B:-[1]}", "§ ${A}"} {
		f.Add(s)
	}
	lookup := func(k string) (string, bool) {
		if k == "A" {
			return "alpha", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := expand(s, lookup)
		if err != nil {
			if err.off < 0 || err.off >= len(s) {
				t.Fatalf("expand(%q) error offset %d outside the input", s, err.off)
			}
		} else if !strings.Contains(s, "${") && out != s {
			t.Fatalf("expand(%q) = %q; want it unchanged", s, out)
		}
		p, ok := protect([]byte(s))
		if !ok {
			if string(p) != s {
				t.Fatalf("protect(%q) changed the text without reporting it", s)
			}
			return
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: string(p)}
		restore(n)
		if n.Value != s {
			t.Fatalf("restore(protect(%q)) = %q", s, n.Value)
		}
		if utf8.RuneCountInString(string(p)) != utf8.RuneCountInString(s) {
			t.Fatalf("protect(%q) = %q changes the rune count", s, p)
		}
	})
}
