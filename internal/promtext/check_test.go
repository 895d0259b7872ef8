package promtext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck runs the cases in testdata/*.txt: a file whose name starts
// with "ok" must pass, any other must fail with an error containing the
// text of its first line after "# want: ".
func TestCheck(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		name := filepath.Base(f)
		err = Check(text)
		if strings.HasPrefix(name, "ok") {
			if err != nil {
				t.Errorf("Check(%s) = %v; want nil", name, err)
			}
			continue
		}
		first, _, _ := strings.Cut(text, "\n")
		want := strings.TrimPrefix(first, "# want: ")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%s) = %v; want an error containing %q", name, err, want)
		}
	}
}

// FuzzCheck: Check never panics, whatever the text.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) { Check(s) })
}
