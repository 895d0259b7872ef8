package stdout

import (
	"bytes"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func TestStdout(t *testing.T) {
	for _, format := range []string{"text", "jsonl"} {
		s, err := New([]byte(`{"format":"`+format+`"}`), conntest.Env("out"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s.SetOutput(&out)
		if st, err := s.Write(conntest.GoldenBatch(t)); st != cabi.OK || err != nil {
			t.Fatalf("Write = %v, %v", st, err)
		}
		conntest.Golden(t, "stdout."+format+".golden", out.Bytes())
	}
	if _, err := New([]byte(`{"format":"raw"}`), conntest.Env("out")); err == nil {
		t.Error("New accepted format raw")
	}
}
