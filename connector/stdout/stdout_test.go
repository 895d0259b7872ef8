package stdout

import (
	"bytes"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

func TestStdout(t *testing.T) {
	for _, tt := range []struct {
		format string
		batch  func(testing.TB) *cabi.Batch
	}{
		{"text", conntest.GoldenBatch},
		{"jsonl", conntest.GoldenBatch},
		{"packet", conntest.PacketBatch},
		{"packet-json", conntest.PacketBatch},
	} {
		s, err := New([]byte(`{"format":"`+tt.format+`"}`), conntest.Env("out"))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s.SetOutput(&out)
		if st, err := s.Write(tt.batch(t)); st != cabi.OK || err != nil {
			t.Fatalf("%s: Write = %v, %v", tt.format, st, err)
		}
		conntest.Golden(t, "stdout."+tt.format+".golden", out.Bytes())
	}
	if _, err := New([]byte(`{"format":"raw"}`), conntest.Env("out")); err == nil {
		t.Error("New accepted format raw")
	}
}
