package main

import (
	"fmt"
	"os"

	"github.com/weirproject/weir/cabi"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register(command{name: "version", summary: "print weir's version and plugin ABI version", run: func(args []string) int {
		if len(args) > 0 {
			if args[0] == "-h" || args[0] == "--help" {
				fmt.Fprintf(os.Stdout, "Usage: weir version\n\nPrints weir's version and the plugin ABI version it implements\n(plugins built for the same major and an equal or lower minor load).\n")
				return 0
			}
			fmt.Fprintf(os.Stderr, "weir version: takes no arguments, got %q\n", args[0])
			return 2
		}
		fmt.Printf("weir %s (plugin ABI %d.%d)\n", version, cabi.ABIMajor, cabi.ABIMinor)
		return 0
	}})
}
