package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime"
	"github.com/weirproject/weir/runtime/config"
)

// parseFlags parses args into fs for the command cmd (such as "run" or
// "plugin inspect"), the same way for every command. -h or --help prints
// fs.Usage to stdout and gives exit status 0. A flag error (an unknown flag,
// a missing or malformed value) prints "weir CMD: " and the error, which
// names the flag and the problem, then the command's usage line and a
// pointer to --help (helpHint), on stderr, and gives exit status 2. ok is
// true when the command should go on, and code is the exit status when it
// should not.
//
// fs.Usage must write to fs.Output(), which parseFlags sets to stderr
// after parsing, so later usage errors go there.
func parseFlags(fs *pflag.FlagSet, cmd string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	usage := fs.Usage
	// pflag calls Usage itself on --help and, with ContinueOnError, prints
	// nothing on other errors; both are handled below instead.
	fs.Usage = func() {}
	fs.SetOutput(stderr)
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, pflag.ErrHelp):
		fs.SetOutput(stdout)
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(stdout, "Usage of weir %s:\n%s", cmd, fs.FlagUsages())
		}
		fs.SetOutput(stderr)
		return 0, false
	default:
		fmt.Fprintf(stderr, "weir %s: %v\n%s", cmd, err, helpHint(cmd))
		return 2, false
	}
}

// synopses holds each command's usage line, as its help gives it.
var synopses = map[string]string{
	"bench":          "weir bench [flags]",
	"buffer":         "weir buffer DIR...",
	"capture":        "weir capture -i IFACE [-i IFACE ...] [flags] [filter expression]",
	"plugin inspect": "weir plugin inspect PATH... [--json]",
	"run":            "weir run -c FILE [flags]",
	"trace":          "weir trace [flags] [-- COMMAND [ARGS...]]",
	"validate":       "weir validate -c FILE [flags]",
}

// helpHint is what follows a usage error of the command cmd: its usage
// line and a pointer to its help.
func helpHint(cmd string) string {
	usage := ""
	if s, ok := synopses[cmd]; ok {
		usage = "Usage: " + s + "\n"
	}
	return fmt.Sprintf("%sRun 'weir %s --help' for details.\n", usage, cmd)
}

// sizeFlag is a pflag.Value holding a byte size given as 4MiB, 64KiB or a
// plain number of bytes (spec.ParseSize).
type sizeFlag struct {
	text string
	n    int64
}

func (f *sizeFlag) String() string { return f.text }
func (f *sizeFlag) Type() string   { return "SIZE" }

func (f *sizeFlag) Set(s string) error {
	n, err := spec.ParseSize(s)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("want a size above 0")
	}
	f.text, f.n = s, int64(n)
	return nil
}

// maxConfigSizeFlag defines --max-config-size on fs, the same for run and
// validate, and returns a pointer to the limit in bytes.
func maxConfigSizeFlag(fs *pflag.FlagSet) *int64 {
	f := &sizeFlag{text: "4MiB", n: config.DefaultMaxSize}
	fs.Var(f, "max-config-size", "refuse a config file larger than `SIZE`, such as 4MiB or 64KiB")
	return &f.n
}

// configError is the text of err, from reading or loading a config, naming
// the flag that raises the size limit when that limit refused the config.
func configError(err error) string {
	if errors.Is(err, config.ErrTooLarge) {
		return err.Error() + " (--max-config-size raises the limit)"
	}
	return err.Error()
}

// insecurePluginsFlag defines --allow-insecure-plugins on fs, the same for
// every command that loads plugins.
func insecurePluginsFlag(fs *pflag.FlagSet) *bool {
	return fs.Bool("allow-insecure-plugins", false, "load plugin libraries that users other than root and you could have changed (writable by group or others, in such a directory, or owned by another user); for development only")
}

// optionsUsage reports err, from runtime.Options.Check, as a usage error of
// the command cmd: one line per field out of range, naming the flag that
// sets it (flags maps runtime.Options field names to flag names) and the
// range allowed. It returns false when err is nil, and the exit status 2
// otherwise.
func optionsUsage(stderr io.Writer, cmd string, err error, flags map[string]string) (code int, bad bool) {
	if err == nil {
		return 0, false
	}
	var oe *runtime.OptionsError
	if !errors.As(err, &oe) {
		fmt.Fprintf(stderr, "weir %s: %v\n%s", cmd, err, helpHint(cmd))
		return 2, true
	}
	for _, f := range oe.Fields {
		name, ok := flags[f.Field]
		if !ok {
			name = "engine option " + f.Field
		}
		fmt.Fprintf(stderr, "weir %s: %s %d: out of range %d..%d", cmd, name, f.Value, f.Min, f.Max)
		if f.Note != "" {
			fmt.Fprintf(stderr, " %s", f.Note)
		}
		fmt.Fprintln(stderr)
	}
	fmt.Fprint(stderr, helpHint(cmd))
	return 2, true
}
