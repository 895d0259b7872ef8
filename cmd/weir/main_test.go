package main

import "testing"

func TestDispatch(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"--help"}, 0},
		{[]string{"help"}, 0},
		{[]string{"help", "version"}, 0},
		{[]string{"help", "nosuch"}, 2},
		{[]string{"nosuch"}, 2},
		{[]string{"--version"}, 0},
		{[]string{"version"}, 0},
		{[]string{"version", "--help"}, 0},
		{[]string{"version", "extra"}, 2},
		{[]string{"validate", "--help"}, 0},
	} {
		if got := dispatch(c.args); got != c.want {
			t.Errorf("dispatch(%q) = %d; want %d", c.args, got, c.want)
		}
	}
}
