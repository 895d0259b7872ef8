package main

import (
	"os"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
	"github.com/weirproject/weir/runtime/config"
	"github.com/weirproject/weir/runtime/operator"
)

const docPath = "../../docs/config.md"

// TestDocsUpToDate fails when docs/config.md differs from what go generate
// would write.
func TestDocsUpToDate(t *testing.T) {
	old, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fill(old, sections(connector.Default))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(old) {
		t.Errorf("%s is out of date; run go generate ./tools/specdoc", docPath)
	}
}

// TestEveryFieldDocumented checks that every field of every spec appears in
// docs/config.md, with its doc sentence.
func TestEveryFieldDocumented(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	var check func(owner, prefix string, s spec.Spec)
	check = func(owner, prefix string, s spec.Spec) {
		for _, f := range s {
			if !strings.Contains(text, "`"+prefix+f.Name+"`") || !strings.Contains(text, escape(f.Doc)) {
				t.Errorf("%s field %s%s is not documented in %s", owner, prefix, f.Name, docPath)
			}
			switch f.Kind {
			case spec.Object:
				check(owner, prefix+f.Name+".", f.Fields)
			case spec.Objects:
				check(owner, prefix+f.Name+"[].", f.Fields)
			}
		}
	}
	for _, id := range connector.Default.IDs() {
		ty, _ := connector.Default.Lookup(id)
		if !strings.Contains(text, "### "+id+"\n") {
			t.Errorf("connector type %s has no section in %s", id, docPath)
		}
		check(id, "", ty.Spec)
	}
	for _, id := range operator.IDs() {
		if !strings.Contains(text, "### "+id+"\n") {
			t.Errorf("operator %s has no section in %s", id, docPath)
		}
		check(id, "", operator.Types[id].Spec)
	}
	check("connections", "", config.ConnectionSpec())
	check("connectors entry", "", config.ConnectorSpec())
	for _, s := range config.Sections() {
		if !strings.Contains(text, "`"+s[0]+"`") {
			t.Errorf("section %s is not described in %s", s[0], docPath)
		}
	}
}

func TestFillErrors(t *testing.T) {
	secs := map[string]string{"a": "A\n"}
	if _, err := fill([]byte("x"), secs); err == nil {
		t.Error("fill without markers = nil error")
	}
	if _, err := fill([]byte("<!-- specdoc:begin a -->\n<!-- specdoc:end b -->"), secs); err == nil {
		t.Error("fill with mismatched markers = nil error")
	}
	got, err := fill([]byte("x\n<!-- specdoc:begin a -->\nold\n<!-- specdoc:end a -->\ny"), secs)
	if err != nil || string(got) != "x\n<!-- specdoc:begin a -->\nA\n<!-- specdoc:end a -->\ny" {
		t.Errorf("fill = %q, %v", got, err)
	}
}
