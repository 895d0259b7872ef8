package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirproject/weir/connector/spec"
)

// FuzzLoad checks that Parse never panics, that every error and warning
// has a real position in the named file, and that a graph comes back
// exactly when there are no errors.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse("fuzz.yaml", data, testOptions(t))
		var errs spec.List
		if err != nil && !errors.As(err, &errs) {
			t.Fatalf("Parse returned a non-list error: %v", err)
		}
		if res == nil {
			t.Fatal("Parse returned no result")
		}
		if (err == nil) != (res.Graph != nil) {
			t.Fatalf("error %v with graph %v", err, res.Graph != nil)
		}
		for _, e := range append(errs, res.Warnings...) {
			if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("bad diagnostic %q at %+v", e.Msg, e.Pos)
			}
		}
	})
}
