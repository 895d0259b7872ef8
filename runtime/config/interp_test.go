package config

import (
	"strings"
	"testing"
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
