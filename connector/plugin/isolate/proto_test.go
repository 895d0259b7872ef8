package isolate

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	for _, m := range []struct {
		typ byte
		p   string
	}{{msgLog, "\x02\x00\x00\x00hello"}, {msgWakeup, ""}, {msgReady, `{"pid":1}`}} {
		if err := writeMsg(&buf, m.typ, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(buf.Bytes())
	for _, want := range []string{"hello", "", `{"pid":1}`} {
		_, p, err := readMsg(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(p, []byte(want)) {
			t.Errorf("payload %q; want suffix %q", p, want)
		}
	}
	if _, _, err := readMsg(r, nil); !errors.Is(err, io.EOF) {
		t.Errorf("read past the end = %v; want EOF", err)
	}
	// A length of 0 or over the limit is refused before anything is read.
	for _, hdr := range [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0x7f}} {
		if _, _, err := readMsg(bytes.NewReader(hdr), nil); !errors.Is(err, errBadMessage) {
			t.Errorf("length %x: err = %v; want errBadMessage", hdr, err)
		}
	}
}

// FuzzReadMsg feeds the host's socket reader what a hostile child could
// send: it must return messages within the limit or an error, never
// panic or allocate past maxMessage.
func FuzzReadMsg(f *testing.F) {
	var seed bytes.Buffer
	writeMsg(&seed, msgMetric, []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00abchelp"))
	f.Add(seed.Bytes())
	f.Add([]byte{5, 0, 0, 0, 'C', 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var buf []byte
		for i := 0; i < 100; i++ {
			_, p, err := readMsg(r, buf)
			if err != nil {
				return
			}
			if len(p) >= maxMessage {
				t.Fatalf("payload of %d bytes", len(p))
			}
			buf = p[:0]
		}
	})
}
