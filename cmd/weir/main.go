// Command weir captures and processes events. Each subcommand lives in its
// own file and registers itself in commands from an init function; this file
// only dispatches.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/weirproject/weir/cabi/loader"
)

// command is one weir subcommand.
type command struct {
	name    string
	summary string
	// run receives the arguments after the subcommand name and returns the
	// process exit code.
	run func(args []string) int
	// hidden leaves the command out of the usage: weir runs it itself.
	hidden bool
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("weir: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// usage writes weir's usage to w: stdout when asked for, stderr after a
// usage error.
func usage(w io.Writer) {
	fmt.Fprintf(w, "weir captures network and syscall events with eBPF and moves them through pipelines to sinks.\n\nUsage:\n  weir COMMAND [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if strings.HasPrefix(n, "__") || c.hidden {
			continue // internal, such as the gate weir trace starts commands through
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'weir help COMMAND' (or 'weir COMMAND --help') for a command's flags.\n")
	fmt.Fprintf(w, "\nExit status: 0 done, 1 when the command failed at run time, 2 for a usage\nerror (an unknown command, bad flags or arguments), 3 when a plugin crashed\nthe process (SIGSEGV, SIGBUS, SIGILL or SIGFPE in plugin code, or abort() there;\nthe first line on stderr after any assert message names the connector, its type, its library and the call).\n")
}

func main() {
	// Before any plugin is loaded: a crash in plugin code then ends the
	// process with one line naming the culprit and exit status 3, not a
	// Go dump and 2. Without it (it cannot fail on linux/amd64 short of a
	// missing /proc) such a crash still ends the process, only less
	// clearly, so an error is not fatal.
	loader.InstallFaultHandler()
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the command named by args[0] and returns the exit code.
func dispatch(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	name := args[0]
	help := false
	switch name {
	case "-h", "--help":
		usage(os.Stdout)
		return 0
	case "help":
		// "weir help CMD" is "weir CMD --help".
		if len(args) < 2 {
			usage(os.Stdout)
			return 0
		}
		name, args, help = args[1], []string{args[1], "--help"}, true
	case "-V", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "weir: unknown command %q\n\n", name)
		usage(os.Stderr)
		return 2
	}
	if help {
		// Help that was asked for goes to stdout, so "weir help CMD | less"
		// works, even from a command that prints its --help on stderr.
		defer func(stderr *os.File) { os.Stderr = stderr }(os.Stderr)
		os.Stderr = os.Stdout
	}
	return c.run(args[1:])
}
