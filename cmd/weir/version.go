package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/weirproject/weir/cabi"
)

// version is set at link time with -ldflags "-X main.version=...", as
// make build does with git describe. Left as "dev", weirVersion falls
// back to what the Go toolchain recorded in the binary.
var version = "dev"

func init() {
	register(command{name: "version", summary: "print weir's version and plugin ABI version", run: func(args []string) int {
		if len(args) > 0 {
			if args[0] == "-h" || args[0] == "--help" {
				fmt.Fprintf(os.Stdout, "Usage: weir version\n\nPrints weir's version and the plugin ABI version it implements\n(plugins built for the same major and an equal or lower minor load).\n\nExit status: 0 done, 2 when given an argument; it never exits 1, as\nnothing in it can fail at run time, nor 3 (a plugin fault): it loads no plugin.\n")
				return 0
			}
			fmt.Fprintf(os.Stderr, "weir version: takes no arguments, got %q\n", args[0])
			return 2
		}
		info, _ := debug.ReadBuildInfo()
		fmt.Printf("weir %s (plugin ABI %d.%d)\n", weirVersion(version, info), cabi.ABIMajor, cabi.ABIMinor)
		return 0
	}})
}

// weirVersion returns the version to print: stamped when the build set it
// (anything but "dev"), else the VCS revision go build recorded (12 hex
// digits, with "-dirty" when the tree had changes), else the module
// version of a "go install module@version" build, else "dev". info may be
// nil.
func weirVersion(stamped string, info *debug.BuildInfo) string {
	if stamped != "dev" && stamped != "" {
		return stamped
	}
	if info == nil {
		return "dev"
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
