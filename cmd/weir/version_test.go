package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestWeirVersion(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/weirproject/weir", Version: "(devel)"}}
		for i := 0; i < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"stamped", "v0.3.0-4-gabcdef1-dirty", vcs("vcs.revision", rev), "v0.3.0-4-gabcdef1-dirty"},
		{"clean tree", "dev", vcs("vcs.revision", rev, "vcs.modified", "false"), "0123456789ab"},
		{"dirty tree", "dev", vcs("vcs.revision", rev, "vcs.modified", "true"), "0123456789ab-dirty"},
		{"pseudo-version and vcs", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101000000-0123456789ab+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, "0123456789ab-dirty"},
		{"go install", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"no vcs", "dev", vcs(), "dev"},
		{"no build info", "dev", nil, "dev"},
	} {
		if got := weirVersion(c.stamped, c.info); got != c.want {
			t.Errorf("%s: weirVersion(%q, ...) = %q; want %q", c.name, c.stamped, got, c.want)
		}
	}
}

// TestVersionBuilt builds weir the way make build does, stamped from git,
// and checks that weir version prints the stamp rather than "dev".
func TestVersionBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	desc, err := exec.Command(git, "describe", "--always", "--dirty").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	want := strings.TrimSpace(string(desc))
	bin := filepath.Join(t.TempDir(), "weir")
	// The Makefile's build target is the reference for this command line.
	out, err := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+filepath.Dir(bin)).CombinedOutput()
	if err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	got, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("weir version: %v", err)
	}
	if !regexp.MustCompile(`^weir ` + regexp.QuoteMeta(want) + ` \(plugin ABI \d+\.\d+\)\n$`).Match(got) {
		t.Errorf("weir version = %q; want weir %s (plugin ABI ...)", got, want)
	}
}
