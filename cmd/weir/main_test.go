package main

import (
	"os"
	"testing"

	"github.com/weirproject/weir/connector/plugin/isolate"
)

// TestMain lets a test run weir itself in a child process, for what only a
// process shows (signals, exit status): with WEIR_TEST_MAIN=1 the test
// binary runs main with its arguments instead of the tests.
func TestMain(m *testing.M) {
	// Isolated plugin connectors start this executable as their host.
	isolate.RunChildIfAsked()
	if os.Getenv("WEIR_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

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
