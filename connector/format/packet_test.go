package format

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// TestPacketEncodings encodes conntest.PacketBatch with each packet
// encoding and compares the output with its golden file.
func TestPacketEncodings(t *testing.T) {
	for _, tt := range []struct{ format, golden string }{
		{Packet, "packet.golden"},
		{PacketJSON, "packet-json.golden"},
	} {
		enc, err := Encoder(tt.format)
		if err != nil {
			t.Fatalf("Encoder(%q) error: %v", tt.format, err)
		}
		var out []byte
		evs := conntest.PacketBatch(t).EventSlice()
		for i := range evs {
			out = enc(out, &evs[i])
		}
		if n := bytes.Count(out, []byte{'\n'}); n != len(evs) {
			t.Errorf("Encoder(%q) wrote %d lines for %d events", tt.format, n, len(evs))
		}
		conntest.Golden(t, tt.golden, out)
	}
}

func TestInterfaceNames(t *testing.T) {
	var names InterfaceNames
	for _, tt := range []struct {
		index uint32
		want  string
	}{
		{conntest.UnknownIfindex, "if999999"},
		{0, "if0"},
		{conntest.UnknownIfindex, "if999999"},
	} {
		if got := names.Name(tt.index); got != tt.want {
			t.Errorf("Name(%d) = %q; want %q", tt.index, got, tt.want)
		}
	}
	if lo, err := net.InterfaceByIndex(1); err == nil {
		if got := names.Name(1); got != lo.Name {
			t.Errorf("Name(1) = %q; want %q", got, lo.Name)
		}
	}
}

// FuzzPacketEncoders feeds any bytes to the packet encoders as a packet
// event: each must write exactly one line, and packet-json a JSON object.
func FuzzPacketEncoders(f *testing.F) {
	for _, e := range conntest.PacketBatch(f).EventSlice() {
		f.Add(e.Bytes())
	}
	f.Add([]byte{})
	text, _ := Encoder(Packet)
	js, _ := Encoder(PacketJSON)
	f.Fuzz(func(t *testing.T, rec []byte) {
		b := conntest.NewBatch(t, 1, len(rec)+1)
		b.Append(1, 0, cabi.KindPacket, 0, rec)
		e := &b.EventSlice()[0]
		line := text(nil, e)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("packet encoding wrote %q; want one line", line)
		}
		line = js(nil, e)
		var v map[string]any
		if err := json.Unmarshal(line, &v); err != nil || !strings.HasSuffix(string(line), "}\n") {
			t.Fatalf("packet-json encoding wrote %q: %v", line, err)
		}
	})
}
