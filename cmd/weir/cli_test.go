package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// weir runs this test binary as weir (see TestMain) with args and returns
// its stdout, stderr and exit status.
func weir(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WEIR_TEST_MAIN=1")
	cmd.Stdin = strings.NewReader("")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run weir %q: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestFlagErrors checks that every command reports a bad flag on stderr,
// naming the command, the flag and what is wrong with it, then gives its
// usage line and points at --help, with exit status 2 and nothing on
// stdout (issue 11: "every flag error prints the flag, the problem and the
// usage line").
func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string // substrings of stderr
	}{
		{[]string{"run", "-c", "x.yaml", "--frob"}, []string{"weir run: unknown flag: --frob"}},
		{[]string{"run", "--drain-timeout", "abc"}, []string{"weir run: ", `"abc"`, "--drain-timeout"}},
		{[]string{"run", "-c"}, []string{"weir run: flag needs an argument: 'c' in -c"}},
		{[]string{"validate", "-c"}, []string{"weir validate: flag needs an argument: 'c' in -c"}},
		{[]string{"validate", "--frob"}, []string{"weir validate: unknown flag: --frob"}},
		{[]string{"bench", "--frob"}, []string{"weir bench: unknown flag: --frob"}},
		{[]string{"bench", "--rate", "x"}, []string{"weir bench: ", `"x"`, "--rate"}},
		{[]string{"bench", "--size", "0"}, []string{"weir bench: --size: want a size from 1 byte"}},
		{[]string{"bench", "--timeout", "-1s"}, []string{"weir bench: --timeout -1s: want a positive duration"}},
		{[]string{"bench", "--procs", "-1"}, []string{"weir bench: --procs -1: want 0"}},
		{[]string{"bench", "--sample", "0"}, []string{"weir bench: --sample 0: want 1 or more"}},
		{[]string{"plugin", "inspect", "--frob"}, []string{"weir plugin inspect: unknown flag: --frob"}},
		{[]string{"capture", "--frob"}, []string{"weir capture: unknown flag: --frob"}},
		{[]string{"capture", "-i"}, []string{"weir capture: flag needs an argument: 'i' in -i"}},
		{[]string{"trace", "--frob"}, []string{"weir trace: unknown flag: --frob"}},
		{[]string{"trace", "-c", "x"}, []string{"weir trace: ", `"x"`, "--count"}},
		{[]string{"buffer", "--frob"}, []string{"weir buffer: unknown flag: --frob"}},
	} {
		stdout, stderr, code := weir(t, c.args...)
		if code != 2 {
			t.Errorf("weir %q: exit %d; want 2", c.args, code)
		}
		if stdout != "" {
			t.Errorf("weir %q: stdout %q; want nothing", c.args, stdout)
		}
		name := c.args[0]
		if name == "plugin" {
			name = "plugin inspect"
		}
		want := append(c.want, "\nUsage: "+synopses[name]+"\n", "Run 'weir "+name+" --help' for details.")
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("weir %q: stderr %q; want it to contain %q", c.args, stderr, w)
			}
		}
	}
}

// TestSynopses checks that the usage line a usage error prints is the one
// in the command's help.
func TestSynopses(t *testing.T) {
	for name, synopsis := range synopses {
		stdout, _, code := weir(t, append(strings.Fields(name), "--help")...)
		if code != 0 || !strings.Contains(stdout, synopsis) {
			t.Errorf("weir %s --help: exit %d, help lacks the usage line %q:\n%s", name, code, synopsis, stdout)
		}
	}
}

// TestHelpOutput checks that asked-for help goes to stdout with exit 0 (so
// it can be paged), and that usage errors go to stderr with exit 2.
func TestHelpOutput(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stdout string // substring of stdout; "" wants stdout empty
		stderr string // substring of stderr; "" wants stderr empty
	}{
		{[]string{"--help"}, 0, "Usage:\n  weir COMMAND", ""},
		{[]string{"-h"}, 0, "Usage:\n  weir COMMAND", ""},
		{[]string{"help"}, 0, "Usage:\n  weir COMMAND", ""},
		{[]string{"help", "run"}, 0, "weir run -c FILE", ""},
		{[]string{"help", "validate"}, 0, "weir validate -c FILE", ""},
		{[]string{"help", "bench"}, 0, "weir bench [flags]", ""},
		{[]string{"help", "capture"}, 0, "Usage:", ""},
		{[]string{"help", "plugin"}, 0, "weir plugin inspect PATH", ""},
		{[]string{"help", "version"}, 0, "Usage: weir version", ""},
		{[]string{"run", "--help"}, 0, "weir run -c FILE", ""},
		{[]string{"validate", "-h"}, 0, "weir validate -c FILE", ""},
		{[]string{"bench", "--help"}, 0, "weir bench [flags]", ""},
		{[]string{"plugin", "inspect", "--help"}, 0, "weir plugin inspect PATH", ""},
		{[]string{}, 2, "", "Usage:\n  weir COMMAND"},
		{[]string{"help", "nosuch"}, 2, "", `unknown command "nosuch"`},
		{[]string{"nosuch"}, 2, "", `unknown command "nosuch"`},
		{[]string{"run"}, 2, "", "weir run: missing -c FILE"},
	} {
		stdout, stderr, code := weir(t, c.args...)
		if code != c.code {
			t.Errorf("weir %q: exit %d; want %d", c.args, code, c.code)
		}
		for _, s := range []struct{ name, got, want string }{{"stdout", stdout, c.stdout}, {"stderr", stderr, c.stderr}} {
			if s.want == "" && s.got != "" {
				t.Errorf("weir %q: %s %q; want nothing", c.args, s.name, s.got)
			}
			if !strings.Contains(s.got, s.want) {
				t.Errorf("weir %q: %s %q; want it to contain %q", c.args, s.name, s.got, s.want)
			}
		}
	}
}

// TestHelpExitStatus: every command's help documents its exit statuses,
// 0, 1 and 2 (issue 11).
func TestHelpExitStatus(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"run", "--help"}, {"validate", "--help"}, {"bench", "--help"}, {"capture", "--help"},
		{"plugin", "--help"}, {"plugin", "inspect", "--help"}, {"version", "--help"}, {"buffer", "--help"},
		{"trace", "--help"},
	} {
		stdout, _, code := weir(t, args...)
		i := strings.Index(stdout, "Exit status:")
		ok := code == 0 && i >= 0
		for _, n := range []string{`\b0\b`, `\b1\b`, `\b2\b`} {
			ok = ok && regexp.MustCompile(n).MatchString(stdout[i+1:])
		}
		if !ok {
			t.Errorf("weir %q: exit %d; want 0 and help with \"Exit status:\" giving 0, 1 and 2:\n%s", args, code, stdout)
		}
	}
	// Commands that load plugins document the flag that allows insecure ones.
	for _, args := range [][]string{{"run", "--help"}, {"validate", "--help"}, {"bench", "--help"}, {"plugin", "inspect", "--help"}} {
		if stdout, _, _ := weir(t, args...); !strings.Contains(stdout, "--allow-insecure-plugins") {
			t.Errorf("weir %q: help lacks --allow-insecure-plugins", args)
		}
	}
	if stdout, _, _ := weir(t, "validate", "--help"); !strings.Contains(stdout, "Security: validating a config runs plugin code") {
		t.Errorf("weir validate --help lacks its security note")
	}
}
