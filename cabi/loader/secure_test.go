package loader

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesInsecureFiles is issue 11: plugin libraries that another
// user could have changed loaded silently, and ran as root. Each case
// places a real library with real modes and owners.
func TestLoadRefusesInsecureFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown files to another user")
	}
	good := loadGood(t).Path
	lib, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// place makes dir (mode dirMode) in a fresh temporary directory and
	// writes the library into it as lib.so (mode fileMode).
	place := func(t *testing.T, dirMode, fileMode os.FileMode) (dir, file string) {
		dir = filepath.Join(t.TempDir(), "plugins")
		file = filepath.Join(dir, "lib.so")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, lib, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, fileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		return dir, file
	}
	for _, c := range []struct {
		name string
		// setup returns the path to load and what the error must say
		// ("" when it loads).
		setup func(t *testing.T) (path, want string)
	}{
		{"safe", func(t *testing.T) (string, string) {
			_, f := place(t, 0o755, 0o755)
			return f, ""
		}},
		{"world-writable file", func(t *testing.T) (string, string) {
			_, f := place(t, 0o755, 0o757)
			return f, "fix with: chmod go-w " + f
		}},
		{"group-writable file", func(t *testing.T) (string, string) {
			_, f := place(t, 0o755, 0o775)
			return f, "fix with: chmod go-w " + f
		}},
		{"world-writable directory", func(t *testing.T) (string, string) {
			d, f := place(t, 0o777, 0o755)
			return f, "fix with: chmod go-w " + d
		}},
		{"sticky world-writable directory", func(t *testing.T) (string, string) {
			d, f := place(t, 0o777|os.ModeSticky, 0o755)
			return f, "fix with: chmod go-w " + d
		}},
		{"file of another user", func(t *testing.T) (string, string) {
			_, f := place(t, 0o755, 0o755)
			if err := os.Chown(f, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			return f, "owned by uid 1000"
		}},
		{"directory of another user", func(t *testing.T) (string, string) {
			d, f := place(t, 0o755, 0o755)
			if err := os.Chown(d, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			return f, "directory " + d + " is owned by uid 1000"
		}},
		{"world-writable ancestor", func(t *testing.T) (string, string) {
			d, f := place(t, 0o755, 0o755)
			up := filepath.Dir(d)
			if err := os.Chmod(up, 0o777); err != nil {
				t.Fatal(err)
			}
			return f, "fix with: chmod go-w " + up
		}},
		{"sticky ancestor", func(t *testing.T) (string, string) {
			d, f := place(t, 0o755, 0o755)
			if err := os.Chmod(filepath.Dir(d), 0o777|os.ModeSticky); err != nil {
				t.Fatal(err)
			}
			return f, ""
		}},
		{"link in a world-writable directory", func(t *testing.T) (string, string) {
			_, f := place(t, 0o755, 0o755)
			open := filepath.Join(t.TempDir(), "open")
			os.Mkdir(open, 0o755)
			link := filepath.Join(open, "lib.so")
			if err := os.Symlink(f, link); err != nil {
				t.Fatal(err)
			}
			os.Chmod(open, 0o777)
			return link, "fix with: chmod go-w " + open
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, want := c.setup(t)
			l, err := Load(path)
			if want == "" {
				if err != nil {
					t.Fatalf("Load(%q) = %v; want it loaded", path, err)
				}
				l.Close()
				return
			}
			if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Load(%q) = %v; want ErrInsecure saying %q", path, err, want)
			}
			l, err = Options{AllowInsecure: true}.Load(path)
			if err != nil {
				t.Fatalf("Options{AllowInsecure: true}.Load(%q) = %v; want it loaded", path, err)
			}
			l.Close()
		})
	}
}
