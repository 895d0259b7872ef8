package pcapng

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weirproject/weir/connector/internal/conntest"
)

type testPacket struct {
	iface   int
	tsNs    uint64
	data    []byte
	origLen int
}

// frame is conntest.Frame: an Ethernet/IPv4/UDP frame of n bytes whose
// payload bytes are seed.
var frame = conntest.Frame

var samplePackets = []testPacket{
	{0, 1_700_000_000_123_456_789, frame(60, 1), 60},
	{1, 1_700_000_000_223_456_781, frame(61, 2)[:43], 61}, // truncated, odd length
	{0, 1_700_000_001_000_000_001, frame(1514, 3), 1514},
	{1, 1_700_000_002_999_999_999, frame(42, 4), 42},
}

var sampleIfaces = []Interface{
	{Name: "veth0", LinkType: LinkTypeEthernet, SnapLen: 262144},
	{Name: "wb-peer", LinkType: LinkTypeEthernet, SnapLen: 96},
}

// writeSample writes the sample interfaces and packets to w and closes
// the Writer.
func writeSample(t testing.TB, w io.Writer) {
	t.Helper()
	pw, err := NewWriter(w, "weir test")
	if err != nil {
		t.Fatal(err)
	}
	addSample(t, pw)
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
}

// addSample adds the sample interfaces and packets to pw.
func addSample(t testing.TB, pw *Writer) {
	t.Helper()
	for i, ifc := range sampleIfaces {
		id, err := pw.AddInterface(ifc)
		if err != nil || id != i {
			t.Fatalf("AddInterface(%+v) = %d, %v; want %d, nil", ifc, id, err, i)
		}
	}
	for _, p := range samplePackets {
		if err := pw.WritePacket(p.iface, p.tsNs, p.data, p.origLen); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	writeSample(t, &buf)
	golden := filepath.Join("testdata", "sample.pcapng")
	if conntest.Updating() {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("writer output (%d bytes) differs from %s (%d bytes); rerun with -update if the change is intended", buf.Len(), golden, len(want))
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	writeSample(t, &buf)
	if buf.Len()%4 != 0 {
		t.Fatalf("output length %d not a multiple of 4", buf.Len())
	}
	r := NewReader(&buf)
	for i, want := range samplePackets {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		if got.Interface != want.iface || got.TsNs != want.tsNs || got.OrigLen != want.origLen || !bytes.Equal(got.Data, want.data) {
			t.Errorf("Next() #%d = iface %d ts %d orig %d len %d; want iface %d ts %d orig %d len %d",
				i, got.Interface, got.TsNs, got.OrigLen, len(got.Data), want.iface, want.tsNs, want.origLen, len(want.data))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() after last packet: %v; want io.EOF", err)
	}
	ifs := r.Interfaces()
	if len(ifs) != len(sampleIfaces) {
		t.Fatalf("read %d interfaces; want %d", len(ifs), len(sampleIfaces))
	}
	for i, ifc := range ifs {
		if ifc.Interface != sampleIfaces[i] || ifc.TsResolution != 1e9 {
			t.Errorf("interface %d = %+v; want %+v at 1e9", i, ifc, sampleIfaces[i])
		}
	}
}

func TestWriterErrors(t *testing.T) {
	pw, err := NewWriter(io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.WritePacket(0, 1, frame(60, 0), 60); err == nil {
		t.Error("WritePacket on an interface not added succeeded")
	}
	if _, err := pw.AddInterface(Interface{LinkType: LinkTypeEthernet}); err != nil {
		t.Fatal(err)
	}
	headers := pw.Buffered()
	if err := pw.WritePacketComment(0, 1, frame(60, 0), 60, make([]byte, 1<<16)); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "comment of 65536 bytes") {
		t.Errorf("WritePacketComment with a 64 KiB comment = %v; want ErrTooLarge naming the comment", err)
	}
	if err := pw.WritePacketComment(0, 1, frame(60, 0), 60, make([]byte, maxBlock-64-59)); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "comment of") {
		t.Errorf("WritePacketComment with a comment that makes the block too large = %v; want ErrTooLarge naming the comment", err)
	}
	if err := pw.WritePacket(0, 1, make([]byte, maxBlock-63), maxBlock); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bytes is too large") {
		t.Errorf("WritePacket of %d bytes = %v; want ErrTooLarge", maxBlock-63, err)
	}
	if err := pw.WritePacket(-1, 1, frame(60, 0), 60); err == nil || !strings.Contains(err.Error(), "interface -1 not added") {
		t.Errorf("WritePacket on interface -1 = %v; want an error naming it", err)
	}
	if pw.out.pending != 0 || pw.Buffered() != headers {
		t.Errorf("after failed writes: %d packets, %d bytes buffered; want none, %d (the headers)", pw.out.pending, pw.Buffered(), headers)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.AddInterface(Interface{}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddInterface after Close = %v; want ErrClosed", err)
	}
	if err := pw.WritePacket(0, 1, nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("WritePacket after Close = %v; want ErrClosed", err)
	}
}

// TestReaderRejects runs the reader over the malformed inputs in
// testdata/bad, each of which must produce an ErrFormat error.
func TestReaderRejects(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/bad/*.hex files (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in := readHex(t, f)
			r := NewReader(bytes.NewReader(in))
			var err error
			for range 100 {
				if _, err = r.Next(); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("reading %s: %v; want an ErrFormat error", f, err)
			}
		})
	}
}

// readHex reads a file of hex bytes, ignoring whitespace and # comments.
func readHex(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for ln, line := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, tok := range strings.Fields(line) {
			v, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				t.Fatalf("%s:%d: bad hex byte %q", path, ln+1, tok)
			}
			out = append(out, byte(v))
		}
	}
	return out
}

// TestTshark checks that tshark reads the writer's output with the
// interface names, lengths and nanosecond timestamps intact.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("skipping: tshark not installed (CI installs it with tools/deps.sh)")
	}
	path := filepath.Join(t.TempDir(), "sample.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, f)
	f.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=,",
		"-e", "frame.interface_name", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.time_epoch", "-e", "udp.dstport")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", path, err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(samplePackets) {
		t.Fatalf("tshark printed %d lines; want %d:\n%s", len(lines), len(samplePackets), out)
	}
	for i, p := range samplePackets {
		want := fmt.Sprintf("%s,%d,%d,%d.%09d,9", sampleIfaces[p.iface].Name, p.origLen, len(p.data), p.tsNs/1e9, p.tsNs%1e9)
		if lines[i] != want {
			t.Errorf("tshark line %d = %q; want %q", i, lines[i], want)
		}
	}
}

func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	writeSample(f, &buf)
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		for range 1000 {
			p, err := r.Next()
			if err != nil {
				return
			}
			if p.Interface < 0 || p.Interface >= len(r.Interfaces()) {
				t.Fatalf("packet on interface %d of %d", p.Interface, len(r.Interfaces()))
			}
		}
	})
}

func BenchmarkWritePacket(b *testing.B) {
	pw, err := NewWriter(io.Discard, "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pw.AddInterface(Interface{Name: "eth0", LinkType: LinkTypeEthernet, SnapLen: 96}); err != nil {
		b.Fatal(err)
	}
	data := frame(96, 7)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := pw.WritePacket(0, uint64(i), data, 1500); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritePacketComment is BenchmarkWritePacket with the comment the
// sink gives a sampled packet.
func BenchmarkWritePacketComment(b *testing.B) {
	pw, err := NewWriter(io.Discard, "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pw.AddInterface(Interface{Name: "eth0", LinkType: LinkTypeEthernet, SnapLen: 96}); err != nil {
		b.Fatal(err)
	}
	data := frame(96, 7)
	comment := []byte("weir: sampled 1 in 10 at random")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := pw.WritePacketComment(0, uint64(i), data, 1500, comment); err != nil {
			b.Fatal(err)
		}
	}
}
