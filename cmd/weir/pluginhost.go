package main

import "github.com/weirproject/weir/connector/plugin/isolate"

// weir plugin-host is the child process of a plugin connector configured
// with isolate: process or seccomp. Only weir starts it, with the shared
// memory, socket and library on inherited descriptors, so it is left out
// of the usage.
func init() {
	register(command{name: isolate.Subcommand, hidden: true, summary: "serve an isolated plugin instance (started by weir itself)", run: isolate.ChildMain})
}
