package builtin

// The built-in connector types. Each package registers its type into
// connector.Default from init; this list is the one place that says which
// types a weir binary has, and every command (run, validate, bench,
// capture) gets them by importing this package.
import (
	_ "github.com/weirproject/weir/connector/blackhole"
	_ "github.com/weirproject/weir/connector/blaster"
	_ "github.com/weirproject/weir/connector/file"
	_ "github.com/weirproject/weir/connector/kafka"
	_ "github.com/weirproject/weir/connector/metronome"
	_ "github.com/weirproject/weir/connector/nats"
	_ "github.com/weirproject/weir/connector/packet"
	_ "github.com/weirproject/weir/connector/pcapng"
	_ "github.com/weirproject/weir/connector/stdout"
	_ "github.com/weirproject/weir/connector/syscall"
)
