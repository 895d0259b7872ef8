package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
)

// TestPluginSetSymlink loads a directory and a symlink to the library in
// it: the library is loaded once, not registered twice.
func TestPluginSetSymlink(t *testing.T) {
	dir := t.TempDir()
	lib := buildGenerator(t, dir)
	link := filepath.Join(t.TempDir(), "alias.so")
	if err := os.Symlink(lib, link); err != nil {
		t.Fatal(err)
	}
	reg := connector.NewRegistry()
	ps := newPluginSet(loader.Options{})
	if err := ps.load(reg, dir, link); err != nil {
		t.Fatalf("load %s and a symlink to its library: %v", dir, err)
	}
	if err := ps.load(reg, link); err != nil {
		t.Fatalf("load the symlink again: %v", err)
	}
	if len(ps.loaded) != 1 {
		t.Fatalf("loaded %v; want the one library", ps.loaded)
	}
}
