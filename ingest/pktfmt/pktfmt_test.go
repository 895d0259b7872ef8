package pktfmt

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/packet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cases")

// loadCase reads testdata/cases/NAME.hex: hex bytes of the captured frame,
// with a "# len N" line giving the length on the wire.
func loadCase(t *testing.T, path string) ([]byte, int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	orig := -1
	for ln, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "# len "); ok {
			if orig, err = strconv.Atoi(strings.TrimSpace(rest)); err != nil {
				t.Fatalf("%s:%d: bad length %q", path, ln+1, rest)
			}
			continue
		}
		for _, tok := range strings.Fields(line) {
			v, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				t.Fatalf("%s:%d: bad hex byte %q", path, ln+1, tok)
			}
			data = append(data, byte(v))
		}
	}
	if orig < 0 {
		t.Fatalf("%s: no \"# len N\" line", path)
	}
	return data, orig
}

func record(data []byte, orig int) *Record {
	return &Record{
		TsNs:  1_763_776_245_000_000_123, // 2025-11-22 01:50:45.000000123 UTC
		Iface: "veth0",
		Header: packet.Header{
			RecordHeader: cabi.RecordHeader{
				Type: packet.RecordTypePacket, Version: packet.RecordVersion, CPU: 1, Seq: 42,
				Size: uint32(packet.HeaderSize + len(data)), Clock: cabi.ClockMonotonic,
			},
			Ifindex: 7, OrigLen: uint32(orig), CapLen: uint32(len(data)), SampleRate: 1,
			Direction: packet.RecordIngress, Hook: packet.HookXDP,
		},
		Data: data,
	}
}

// TestGolden formats every frame in testdata/cases as text and JSON and
// compares with NAME.golden (text line, then JSON line).
func TestGolden(t *testing.T) {
	Location = time.UTC
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases in testdata/cases (%v)", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hex")
		t.Run(name, func(t *testing.T) {
			data, orig := loadCase(t, f)
			r := record(data, orig)
			text := AppendText(nil, r)
			js := AppendJSON(nil, r)
			if !json.Valid(js) {
				t.Fatalf("AppendJSON produced invalid JSON: %s", js)
			}
			got := string(text) + "\n" + string(js) + "\n"
			golden := strings.TrimSuffix(f, ".hex") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("format(%s) =\n%s\nwant\n%s", name, got, want)
			}
		})
	}
}

// TestTruncationNeverGrows checks that cutting any frame at every length
// gives a summary and never panics, and that a cut in the headers is
// reported as truncated.
func TestTruncationNeverGrows(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "cases", "*.hex"))
	for _, f := range files {
		data, orig := loadCase(t, f)
		for n := 0; n <= len(data); n++ {
			p := Decode(data[:n], orig)
			if p.Captured != n || p.Length < n {
				t.Fatalf("Decode(%s[:%d]): captured %d length %d", f, n, p.Captured, p.Length)
			}
			if n < 14 && p.Truncated != LayerEther {
				t.Errorf("Decode(%s[:%d]).Truncated = %q; want %q", f, n, p.Truncated, LayerEther)
			}
			if len(p.AppendText(nil)) == 0 {
				t.Errorf("Decode(%s[:%d]) has an empty summary", f, n)
			}
		}
	}
}

func TestDecodeFields(t *testing.T) {
	data, orig := loadCase(t, filepath.Join("testdata", "cases", "qinq-tcp4.hex"))
	p := Decode(data, orig)
	if len(p.VLANs) != 2 || p.VLANs[0].ID != 200 || p.VLANs[0].TPID != EtherTypeQinQ || p.VLANs[1].ID != 100 {
		t.Errorf("VLANs = %+v; want 802.1ad 200 then 802.1Q 100", p.VLANs)
	}
	if p.Proto != ProtoTCP || p.SrcPort != 1 || p.DstPort != 2 || p.TCPFlags != 0x11 || p.Truncated != LayerNone {
		t.Errorf("Decode(qinq-tcp4) = %+v", p)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "cases", "*.hex"))
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		var data []byte
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, tok := range strings.Fields(line) {
				v, _ := strconv.ParseUint(tok, 16, 8)
				data = append(data, byte(v))
			}
		}
		f.Add(data, uint16(len(data)))
	}
	f.Fuzz(func(t *testing.T, data []byte, orig uint16) {
		r := record(data, int(orig))
		if text := AppendText(nil, r); bytes.IndexByte(text, '\n') >= 0 {
			t.Fatalf("summary contains a newline: %q", text)
		}
		if js := AppendJSON(nil, r); !json.Valid(js) {
			t.Fatalf("invalid JSON: %s", js)
		}
	})
}

func BenchmarkAppendText(b *testing.B) {
	data := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0,
		0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 1, 0, 2,
		0x9c, 0x40, 0, 9, 0, 26, 0, 0}
	data = append(data, make([]byte, 18)...)
	r := record(data, len(data))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], r)
	}
}

// TestJSONSampling checks the sampling fields of the JSON form: the rate
// always, and how the packet was chosen when it was sampled.
func TestJSONSampling(t *testing.T) {
	for _, tc := range []struct {
		rate uint32
		mode uint8
		want string
	}{
		{1, cabi.SampleNone, `"sample_rate":1,"cpu"`},
		{10, cabi.SampleRandom, `"sample_rate":10,"sample_mode":"random","cpu"`},
		{64, cabi.SampleFlow, `"sample_rate":64,"sample_mode":"flow","cpu"`},
		{2, 7, `"sample_rate":2,"sample_mode":"mode 7","cpu"`},
	} {
		r := record(make([]byte, 60), 60)
		r.Header.SampleRate, r.Header.SampleMode = tc.rate, tc.mode
		if got := string(AppendJSON(nil, r)); !strings.Contains(got, tc.want) {
			t.Errorf("AppendJSON(rate %d, mode %d) = %s; want it to contain %s", tc.rate, tc.mode, got, tc.want)
		}
	}
}
