package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector/plugin"
)

func init() {
	register(command{name: "plugin", summary: "inspect plugin libraries", run: func(args []string) int {
		return runPlugin(args, os.Stdout, os.Stderr)
	}})
}

const pluginUsage = `Usage:
  weir plugin inspect PATH... [--json]

Subcommands:
  inspect   load a plugin library, check it against this host's ABI and
            print what it offers

Run 'weir plugin inspect --help' for its flags.

Exit status: 0 done, 1 when a library fails to load, 2 for bad flags or an
unknown subcommand, 3 when a plugin crashed the process while it was loaded
or described (one line on stderr names it).
`

// runPlugin runs "weir plugin ARGS" and returns the exit code.
func runPlugin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, pluginUsage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, pluginUsage)
		return 0
	case "inspect":
		return runInspect(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "weir plugin: unknown subcommand %q\n\n%s", args[0], pluginUsage)
	return 2
}

// inspectError is the --json output for a library that failed to load:
// its path and the error, where its report would have been.
type inspectError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// inspectReport is what inspect prints, as text or as JSON.
type inspectReport struct {
	Path      string          `json:"path"`
	Name      string          `json:"name"`
	Version   string          `json:"version"`
	ABI       string          `json:"abi"`
	HostABI   string          `json:"host_abi"`
	GoRuntime bool            `json:"go_runtime"`
	Types     []inspectedType `json:"types"`
}

type inspectedType struct {
	ID           string          `json:"id"`
	Description  string          `json:"description,omitempty"`
	Roles        []string        `json:"roles"`
	WantsAcks    bool            `json:"wants_acks"`
	Unpausable   bool            `json:"unpausable"`
	HasSchema    bool            `json:"has_schema"`
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("weir plugin inspect", pflag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	insecure := insecurePluginsFlag(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage:
  weir plugin inspect PATH... [--json]

Loads each plugin library the way weir run does (dlopen with RTLD_NOW, ABI
version check, descriptor validation) and prints its name, version, ABI
version, whether it embeds a Go runtime, and each connector type with its ID
(the "type" to use in a config), description, roles, flags and config
fields. A directory PATH stands for every *.so file in it, in name order.
A library that fails to load gets exactly what is wrong on stderr (with
--json also on stdout, as {"path": ..., "error": ...} in its report's
place), the others are still reported, and the exit status is 1.

Loading runs the library's initializers, so inspect only files you trust.
A library that users other than root and you could have changed (writable
by group or others, in a directory they can write, sticky or not, or owned
by another user) is refused with the fix to apply, as sshd refuses loose
key files; --allow-insecure-plugins loads it anyway, for development.

Exit status: 0 when every library loaded, 1 when one failed to load, 2 for
bad flags or no PATH, 3 when a library crashed the process while it was
loaded or described (one line on stderr names it).

Flags:
%s`, fs.FlagUsages())
	}
	if code, ok := parseFlags(fs, "plugin inspect", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "weir plugin inspect: missing PATH\n")
		fs.Usage()
		return 2
	}
	var paths []string
	for _, arg := range fs.Args() {
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			sos, _ := filepath.Glob(filepath.Join(arg, "*.so"))
			if len(sos) == 0 {
				fmt.Fprintf(stderr, "weir plugin inspect: %s: directory holds no *.so files\n", arg)
				return 1
			}
			paths = append(paths, sos...) // Glob sorts
			continue
		}
		paths = append(paths, arg)
	}
	code := 0
	var reps []inspectReport
	var all []any // reports and load errors, in order, for --json
	for _, path := range paths {
		lib, err := loader.Options{AllowInsecure: *insecure}.Load(path)
		if err != nil {
			fmt.Fprintf(stderr, "weir plugin inspect: %v\n", err)
			all = append(all, inspectError{Path: path, Error: err.Error()})
			code = 1
			continue
		}
		rep := report(lib)
		reps = append(reps, rep)
		all = append(all, rep)
		lib.Close()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		var v any = all
		if fs.NArg() == 1 && len(paths) == 1 {
			v = all[0] // one file: one object, as before
		}
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(stderr, "weir plugin inspect: write json: %v\n", err)
			return 1
		}
		return code
	}
	for i, rep := range reps {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printReport(stdout, rep)
	}
	return code
}

func report(lib *loader.Library) inspectReport {
	rep := inspectReport{
		Path:      lib.Path,
		Name:      lib.Name,
		Version:   lib.Version,
		ABI:       fmt.Sprintf("%d.%d", lib.ABIMajor, lib.ABIMinor),
		HostABI:   fmt.Sprintf("%d.%d", cabi.ABIMajor, cabi.ABIMinor),
		GoRuntime: lib.GoRuntime,
	}
	for _, t := range lib.Types {
		it := inspectedType{
			ID:          t.ID,
			Description: t.Description,
			Roles:       strings.Split(t.Roles.String(), "|"),
			WantsAcks:   t.WantsAcks,
			Unpausable:  t.Unpausable,
			HasSchema:   t.ConfigSchema != "",
		}
		if it.HasSchema {
			if json.Valid([]byte(t.ConfigSchema)) {
				it.ConfigSchema = json.RawMessage(t.ConfigSchema)
			} else {
				// Keep the report valid JSON: carry a broken schema as a string.
				s, _ := json.Marshal(t.ConfigSchema)
				it.ConfigSchema = s
			}
		}
		rep.Types = append(rep.Types, it)
	}
	return rep
}

func printReport(w io.Writer, rep inspectReport) {
	runtime := "no"
	if rep.GoRuntime {
		runtime = "yes (never unloaded)"
	}
	fmt.Fprintf(w, "plugin     %s %s\nfile       %s\nabi        %s (host %s)\ngo runtime %s\ntypes      %d\n",
		rep.Name, rep.Version, rep.Path, rep.ABI, rep.HostABI, runtime, len(rep.Types))
	for _, t := range rep.Types {
		fmt.Fprintf(w, "\n  %s\n", t.ID)
		if t.Description != "" {
			fmt.Fprintf(w, "    description  %s\n", t.Description)
		}
		fmt.Fprintf(w, "    roles        %s\n", strings.Join(t.Roles, ", "))
		var flags []string
		if t.WantsAcks {
			flags = append(flags, "wants-acks")
		}
		if t.Unpausable {
			flags = append(flags, "unpausable")
		}
		if len(flags) == 0 {
			flags = []string{"none"}
		}
		fmt.Fprintf(w, "    flags        %s\n", strings.Join(flags, ", "))
		printConfigFields(w, t)
	}
}

// printConfigFields lists the config fields a type's JSON schema declares,
// one per line, or says why it cannot.
func printConfigFields(w io.Writer, t inspectedType) {
	if !t.HasSchema {
		fmt.Fprintf(w, "    config       any JSON object (no schema)\n")
		return
	}
	s, err := plugin.SpecFromSchema(string(t.ConfigSchema))
	if err != nil {
		fmt.Fprintf(w, "    config       schema not understood (%v); see --json\n", err)
		return
	}
	if len(s) == 0 {
		fmt.Fprintf(w, "    config       no fields\n")
		return
	}
	fmt.Fprintf(w, "    config\n")
	for _, f := range s {
		line := fmt.Sprintf("      %-18s %s", f.Name, f.Kind)
		if f.Required {
			line += ", required"
		} else if f.Default != nil {
			line += fmt.Sprintf(", default %v", f.Default)
		}
		switch {
		case f.Min != nil && f.Max != nil:
			line += fmt.Sprintf(", %v to %v", f.Min, f.Max)
		case f.Min != nil:
			line += fmt.Sprintf(", at least %v", f.Min)
		case f.Max != nil:
			line += fmt.Sprintf(", at most %v", f.Max)
		}
		if len(f.Enum) > 0 {
			line += ", one of " + strings.Join(f.Enum, ", ")
		}
		if f.Doc != "" {
			line += ": " + f.Doc
		}
		fmt.Fprintln(w, line)
	}
}
