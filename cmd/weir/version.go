package main

import (
	"fmt"

	"github.com/weirproject/weir/cabi"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register(command{name: "version", summary: "print weir's version and plugin ABI version", run: func([]string) int {
		fmt.Printf("weir %s (plugin ABI %d.%d)\n", version, cabi.ABIMajor, cabi.ABIMinor)
		return 0
	}})
}
