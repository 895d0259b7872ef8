package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// connectors are the concrete connector packages: everything below
// connector/ except the contract and its config specs.
var connectors = in("connector/...").but("connector", "connector/spec")

// rules is weir's layering, with package paths relative to the module.
// Only imports of weir packages are checked; the standard library and
// third-party modules are not. docs/ARCHITECTURE.md states the same rules.
var rules = []rule{
	only("cabi imports no other weir package", in("cabi"), in()),
	only("cabi/loader imports only cabi", in("cabi/loader"), in("cabi", "cabi/internal/...", "cabi/loader/internal/...")),
	only("ingest imports only cabi and ingest", in("ingest/..."), in("cabi", "ingest/...")),
	only("the connector contract imports only cabi and connector/spec", in("connector", "connector/spec"), in("cabi", "connector/spec")),
	never("connectors never import the runtime", connectors, in("runtime/...")),
	never("the runtime never imports a concrete connector (only runtime/bench may)", in("runtime/...").but("runtime/bench"), connectors),
	never("nothing outside cmd imports cmd", in("...").but("cmd/..."), in("cmd/...")),
	only("the Go plugin SDK imports only cabi", in("plugins/go/sdk"), in("cabi")),
}

// A set is a set of package paths given by patterns: a path, or a path
// followed by "/..." for it and everything below it, or "..." for every
// package.
type set struct{ include, exclude []string }

// in returns the set of packages matching any of patterns.
func in(patterns ...string) set { return set{include: patterns} }

// but returns s without the packages matching any of patterns.
func (s set) but(patterns ...string) set {
	return set{include: s.include, exclude: append(slices.Clip(s.exclude), patterns...)}
}

func (s set) has(pkg string) bool {
	return slices.ContainsFunc(s.include, func(p string) bool { return match(p, pkg) }) &&
		!slices.ContainsFunc(s.exclude, func(p string) bool { return match(p, pkg) })
}

func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == dir || strings.HasPrefix(pkg, dir+"/")
	}
	return pkg == pattern
}

// A rule constrains the weir imports of the packages in pkgs: with
// allowOnly, every import must be in allowed; otherwise no import may be
// in denied.
type rule struct {
	text      string
	pkgs      set
	allowOnly bool
	allowed   set
	denied    set
}

// only makes a rule that pkgs import no weir packages outside allowed.
func only(text string, pkgs, allowed set) rule {
	return rule{text: text, pkgs: pkgs, allowOnly: true, allowed: allowed}
}

// never makes a rule that pkgs import no package in denied.
func never(text string, pkgs, denied set) rule {
	return rule{text: text, pkgs: pkgs, denied: denied}
}

func (r rule) forbids(imp string) bool {
	if r.allowOnly {
		return !r.allowed.has(imp)
	}
	return r.denied.has(imp)
}

// check returns every violation of rules in imports, which maps each
// package to the weir packages it imports (paths relative to the module),
// as "PKG imports IMP: RULE", sorted.
func check(imports map[string][]string, rules []rule) []string {
	var out []string
	for pkg, imps := range imports {
		for _, r := range rules {
			if !r.pkgs.has(pkg) {
				continue
			}
			for _, imp := range imps {
				if r.forbids(imp) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", pkg, imp, r.text))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// listed is what the go command reports for one package.
type listed struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

// moduleImports lists every package in the module with `go list -json
// ./...` and returns, for each, its non-test imports of packages in the
// module, with paths relative to the module.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	gomod := strings.TrimSpace(string(goCmd(t, "", "env", "GOMOD")))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("go env GOMOD: not inside a module")
	}
	root := filepath.Dir(gomod)
	modPath := strings.TrimSpace(string(goCmd(t, root, "list", "-m")))

	out := goCmd(t, root, "list", "-e", "-json", "./...")
	rel := func(p string) (string, bool) {
		if p == modPath {
			return ".", true
		}
		r, ok := strings.CutPrefix(p, modPath+"/")
		return r, ok
	}
	imports := make(map[string][]string)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("cannot check %s, go list says: %s", p.ImportPath, p.Error.Err)
		}
		pkg, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		imps := []string{}
		for _, imp := range p.Imports {
			if r, ok := rel(imp); ok {
				imps = append(imps, r)
			}
		}
		imports[pkg] = imps
	}
	if len(imports) == 0 {
		t.Fatal("go list ./... found no packages")
	}
	return imports
}

// goCmd runs the go command in dir and returns its standard output.
//
// It sets CGO_ENABLED=1 whatever the test runs with: go list only reads
// files, and with cgo off it leaves out the cgo files (and with them the
// imports) of packages such as plugins/go/sdk.
func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestLayering checks the real module against rules.
func TestLayering(t *testing.T) {
	imports := moduleImports(t)
	for _, v := range check(imports, rules) {
		t.Error(v)
	}
	// A rule that matches no package has gone stale, say after a rename,
	// and would pass forever.
	for _, r := range rules {
		found := false
		for pkg := range imports {
			if r.pkgs.has(pkg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("rule %q applies to no package in the module", r.text)
		}
	}
}

// TestRulesCanFail shows, for each rule, an import graph that breaks it
// and one that keeps it, so that no rule passes vacuously.
func TestRulesCanFail(t *testing.T) {
	tests := []struct {
		rule    string
		imports map[string][]string
		want    []string // violations of the rule in imports
	}{
		{
			rule:    "cabi imports no other weir package",
			imports: map[string][]string{"cabi": {"cabi/loader", "cabi/internal/ctest"}},
			want: []string{
				"cabi imports cabi/internal/ctest: cabi imports no other weir package",
				"cabi imports cabi/loader: cabi imports no other weir package",
			},
		},
		{
			rule:    "cabi/loader imports only cabi",
			imports: map[string][]string{"cabi/loader": {"cabi", "cabi/internal/x", "connector"}},
			want:    []string{"cabi/loader imports connector: cabi/loader imports only cabi"},
		},
		{
			rule: "ingest imports only cabi and ingest",
			imports: map[string][]string{
				"ingest/packet": {"cabi", "ingest/ring", "connector"},
				"ingest/ring":   {"runtime", "cmd/weir", "internal/netns"},
			},
			want: []string{
				"ingest/packet imports connector: ingest imports only cabi and ingest",
				"ingest/ring imports cmd/weir: ingest imports only cabi and ingest",
				"ingest/ring imports internal/netns: ingest imports only cabi and ingest",
				"ingest/ring imports runtime: ingest imports only cabi and ingest",
			},
		},
		{
			rule: "the connector contract imports only cabi and connector/spec",
			imports: map[string][]string{
				"connector":      {"cabi", "connector/spec", "connector/blackhole"},
				"connector/spec": {"ingest/ring"},
			},
			want: []string{
				"connector imports connector/blackhole: the connector contract imports only cabi and connector/spec",
				"connector/spec imports ingest/ring: the connector contract imports only cabi and connector/spec",
			},
		},
		{
			rule: "connectors never import the runtime",
			imports: map[string][]string{
				"connector/blackhole": {"cabi", "connector", "runtime/operator"},
				"connector/builtin":   {"connector/blackhole", "runtime"},
				"connector/packet":    {"ingest/packet"},
			},
			want: []string{
				"connector/blackhole imports runtime/operator: connectors never import the runtime",
				"connector/builtin imports runtime: connectors never import the runtime",
			},
		},
		{
			rule: "the runtime never imports a concrete connector (only runtime/bench may)",
			imports: map[string][]string{
				"runtime":        {"connector", "connector/spec", "connector/builtin"},
				"runtime/config": {"connector/plugin"},
				"runtime/bench":  {"connector/blaster", "connector/blackhole"},
			},
			want: []string{
				"runtime imports connector/builtin: the runtime never imports a concrete connector (only runtime/bench may)",
				"runtime/config imports connector/plugin: the runtime never imports a concrete connector (only runtime/bench may)",
			},
		},
		{
			rule: "nothing outside cmd imports cmd",
			imports: map[string][]string{
				"runtime/bench":     {"cmd/weir"},
				"tools/specdoc":     {"cmd/weir/internal/help"},
				"cmd/weir":          {"cmd/weir/internal/help"},
				"connector/builtin": {"connector/blackhole"},
			},
			want: []string{
				"runtime/bench imports cmd/weir: nothing outside cmd imports cmd",
				"tools/specdoc imports cmd/weir/internal/help: nothing outside cmd imports cmd",
			},
		},
		{
			rule:    "the Go plugin SDK imports only cabi",
			imports: map[string][]string{"plugins/go/sdk": {"cabi", "cabi/loader"}},
			want:    []string{"plugins/go/sdk imports cabi/loader: the Go plugin SDK imports only cabi"},
		},
	}
	tested := make(map[string]bool)
	for _, tt := range tests {
		i := slices.IndexFunc(rules, func(r rule) bool { return r.text == tt.rule })
		if i < 0 {
			t.Errorf("no rule %q", tt.rule)
			continue
		}
		tested[tt.rule] = true
		r := rules[i : i+1]
		if got := check(tt.imports, r); !slices.Equal(got, tt.want) {
			t.Errorf("check(%v, %q) =\n\t%s\nwant\n\t%s", tt.imports, tt.rule,
				strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
		}
		// The same graph without the offending imports keeps the rule.
		clean := make(map[string][]string)
		for pkg, imps := range tt.imports {
			clean[pkg] = slices.DeleteFunc(slices.Clone(imps), func(imp string) bool {
				return slices.Contains(tt.want, fmt.Sprintf("%s imports %s: %s", pkg, imp, tt.rule))
			})
		}
		if got := check(clean, r); len(got) != 0 {
			t.Errorf("check(%v, %q) = %q; want none", clean, tt.rule, got)
		}
	}
	for _, r := range rules {
		if !tested[r.text] {
			t.Errorf("rule %q has no case in TestRulesCanFail", r.text)
		}
	}
}

// TestMatch checks the package patterns rules are written in.
func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, pkg string
		want         bool
	}{
		{"cabi", "cabi", true},
		{"cabi", "cabi/loader", false},
		{"cabi/...", "cabi", true},
		{"cabi/...", "cabi/loader", true},
		{"cabi/...", "cabix", false},
		{"...", "anything/at/all", true},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.pkg); got != tt.want {
			t.Errorf("match(%q, %q) = %v; want %v", tt.pattern, tt.pkg, got, tt.want)
		}
	}
	if s := in("connector/...").but("connector", "connector/spec"); s.has("connector") || s.has("connector/spec") || !s.has("connector/plugin") {
		t.Errorf("connector/... but connector, connector/spec: wrong membership")
	}
}
