// Command specdoc writes the field tables of docs/config.md from the specs
// of the built-in connectors, the pipeline operators and connections, so
// the docs and `weir validate` read the same source. It replaces the text
// between each pair of markers
//
//	<!-- specdoc:begin NAME -->
//	<!-- specdoc:end NAME -->
//
// where NAME is connectors, operators or connections, and leaves the rest
// of the file alone. Run it with go generate ./tools/specdoc.
package main

//go:generate go run . -o ../../docs/config.md

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/weirproject/weir/connector"
	_ "github.com/weirproject/weir/connector/builtin" // built-in connector types
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime/config"
	"github.com/weirproject/weir/runtime/operator"
)

func main() {
	out := flag.String("o", "docs/config.md", "markdown `FILE` to update in place")
	check := flag.Bool("check", false, "only report whether FILE is up to date (exit 1 if not)")
	flag.Parse()
	old, err := os.ReadFile(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "specdoc: %v\n", err)
		os.Exit(1)
	}
	updated, err := fill(old, sections(connector.Default))
	if err != nil {
		fmt.Fprintf(os.Stderr, "specdoc: %s: %v\n", *out, err)
		os.Exit(1)
	}
	if *check {
		if !bytes.Equal(old, updated) {
			fmt.Fprintf(os.Stderr, "specdoc: %s is out of date; run go generate ./tools/specdoc\n", *out)
			os.Exit(1)
		}
		return
	}
	if err := os.WriteFile(*out, updated, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "specdoc: %v\n", err)
		os.Exit(1)
	}
}

var marker = regexp.MustCompile(`(?s)(<!-- specdoc:begin ([a-z]+) -->\n).*?(<!-- specdoc:end ([a-z]+) -->)`)

// fill replaces the text between each begin/end marker pair with the
// section of that name.
func fill(doc []byte, secs map[string]string) ([]byte, error) {
	var err error
	seen := map[string]bool{}
	out := marker.ReplaceAllFunc(doc, func(m []byte) []byte {
		sub := marker.FindSubmatch(m)
		name := string(sub[2])
		if name != string(sub[4]) {
			err = fmt.Errorf("marker specdoc:begin %s is closed by specdoc:end %s", name, sub[4])
			return m
		}
		text, ok := secs[name]
		if !ok {
			err = fmt.Errorf("unknown section %q in a specdoc marker", name)
			return m
		}
		seen[name] = true
		return []byte(string(sub[1]) + text + string(sub[3]))
	})
	if err != nil {
		return nil, err
	}
	for name := range secs {
		if !seen[name] {
			return nil, fmt.Errorf("no specdoc:begin %s marker", name)
		}
	}
	return out, nil
}

// sections renders every generated section.
func sections(reg *connector.Registry) map[string]string {
	var conns strings.Builder
	for _, id := range reg.IDs() {
		t, _ := reg.Lookup(id)
		fmt.Fprintf(&conns, "### %s\n\n%s\n\nRoles: %s.", id, t.Description, roles(t))
		if t.Unpausable {
			conns.WriteString(" Cannot be paused (a kernel ring): `block` on its edges means the kernel drops.")
		}
		conns.WriteString("\n\n")
		table(&conns, t.Spec)
	}
	var ops strings.Builder
	for _, id := range operator.IDs() {
		t := operator.Types[id]
		fmt.Fprintf(&ops, "### %s\n\n%s\n\n", id, t.Description)
		table(&ops, t.Spec)
	}
	var edges strings.Builder
	table(&edges, config.ConnectionSpec())
	var keys strings.Builder
	table(&keys, config.ConnectorSpec())
	return map[string]string{"connectors": conns.String(), "operators": ops.String(), "connections": edges.String(), "entry": keys.String()}
}

func roles(t *connector.Type) string {
	var r []string
	if t.Roles&connector.RoleSource != 0 {
		r = append(r, "source")
	}
	if t.Roles&connector.RoleSink != 0 {
		r = append(r, "sink")
	}
	if t.Roles&connector.RoleProcessor != 0 {
		r = append(r, "processor")
	}
	return strings.Join(r, ", ")
}

// table writes a markdown table of s's fields, nested fields as a.b or
// a[].b.
func table(b *strings.Builder, s spec.Spec) {
	if len(s) == 0 {
		b.WriteString("No fields.\n\n")
		return
	}
	b.WriteString("| Field | Type | Default | Description |\n|---|---|---|---|\n")
	rows(b, "", s)
	b.WriteString("\n")
}

func rows(b *strings.Builder, prefix string, s spec.Spec) {
	for i := range s {
		f := &s[i]
		typ := f.TypeString()
		if r := f.RangeString(); r != "" {
			typ += ", " + r
		}
		def := "—"
		switch {
		case f.Required:
			def = "required"
		case f.Default != nil:
			if j, err := f.DefaultJSON(); err == nil {
				def = "`" + string(j) + "`"
			}
		}
		fmt.Fprintf(b, "| `%s%s` | %s | %s | %s |\n", prefix, f.Name, escape(typ), def, escape(f.Doc))
		switch f.Kind {
		case spec.Object:
			rows(b, prefix+f.Name+".", f.Fields)
		case spec.Objects:
			rows(b, prefix+f.Name+"[].", f.Fields)
		}
	}
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
