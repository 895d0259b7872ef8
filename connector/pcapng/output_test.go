package pcapng

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/weirproject/weir/internal/testfs"
)

// TestCreateGolden checks that Create writes the golden file byte for byte.
func TestCreateGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sample.pcapng")
	pw, err := Create(path, "weir test")
	if err != nil {
		t.Fatal(err)
	}
	addSample(t, pw)
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "sample.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Create wrote %d bytes that differ from testdata/sample.pcapng (%d bytes)", len(got), len(want))
	}
}

// TestCreateNoSpace fills a small tmpfs: WritePacket must fail with ENOSPC,
// the file must still read back cleanly to its end, and it must keep every
// whole block that fit, with Packets counting its packets exactly.
func TestCreateNoSpace(t *testing.T) {
	dir := testfs.Tmpfs(t, "3m")
	path := filepath.Join(dir, "full.pcapng")
	pw, err := Create(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.AddInterface(sampleIfaces[0]); err != nil {
		t.Fatal(err)
	}
	// 1515 bytes leave blocks that straddle the buffer's end.
	data := frame(1515, 9)
	written := 0
	for ; written < 100_000; written++ {
		if err = pw.WritePacket(0, uint64(written), data, len(data)); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after %d packets, WritePacket = %v; want ENOSPC", written, err)
	}
	if err := pw.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close after ENOSPC = %v; want the ENOSPC again", err)
	}
	n := countPackets(t, path)
	if uint64(n) != pw.Packets() {
		t.Errorf("read back %d packets; Packets() = %d", n, pw.Packets())
	}
	// Two whole 1 MiB buffers fit in 3 MiB, and part of the third.
	if per := DefaultBufferSize / 1552; n <= 2*per || n > written {
		t.Errorf("read back %d packets; want more than the %d of two whole buffers, and at most the %d written", n, 2*per, written)
	}
}

// countPackets reads the pcapng file at path to its end and returns how
// many packets it holds; any read error fails the test.
func countPackets(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	for n := 0; ; n++ {
		if _, err := r.Next(); err == io.EOF {
			return n
		} else if err != nil {
			t.Fatalf("%s: reading packet %d: %v", path, n, err)
		}
	}
}

// shortWriter takes the first room bytes written to it, then fails.
type shortWriter struct {
	bytes.Buffer
	room int
}

var errFull = errors.New("full")

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(p) <= w.room {
		w.room -= len(p)
		return w.Buffer.Write(p)
	}
	n, _ := w.Buffer.Write(p[:w.room])
	w.room = 0
	return n, errFull
}

// TestShortWrite cuts a stream at every 7th byte of the sample (each cut
// a new buffer, so not at every byte), and one byte before its end:
// Packets must
// count exactly the packets whose blocks arrived whole, and the error must
// stick.
func TestShortWrite(t *testing.T) {
	var full bytes.Buffer
	writeSample(t, &full)
	rooms := []int{full.Len() - 1}
	for room := 0; room < full.Len(); room += 7 {
		rooms = append(rooms, room)
	}
	for _, room := range rooms {
		sw := &shortWriter{room: room}
		pw, err := NewWriter(sw, "weir test")
		if err != nil {
			t.Fatal(err)
		}
		addSample(t, pw)
		if err := pw.Flush(); !errors.Is(err, errFull) {
			t.Fatalf("room %d: Flush = %v; want errFull", room, err)
		}
		if err := pw.WritePacket(0, 1, frame(60, 0), 60); !errors.Is(err, errFull) {
			t.Fatalf("room %d: WritePacket after a failed flush = %v; want errFull again", room, err)
		}
		pw.Close()
		n := 0
		r := NewReader(bytes.NewReader(full.Bytes()[:room]))
		for ; ; n++ {
			if _, err := r.Next(); err != nil {
				break
			}
		}
		if pw.Packets() != uint64(n) {
			t.Errorf("room %d: Packets() = %d; want the %d packets of the whole blocks", room, pw.Packets(), n)
		}
		if !bytes.Equal(sw.Bytes(), full.Bytes()[:room]) {
			t.Errorf("room %d: the writer got %d bytes; want the first %d of the sample", room, sw.Len(), room)
		}
	}
}

// BenchmarkCreate writes 96-byte packets into a file under $TMPDIR (use
// TMPDIR=/dev/shm for tmpfs), as weir capture -w does.
func BenchmarkCreate(b *testing.B) {
	data := frame(96, 7)
	pw, err := Create(filepath.Join(b.TempDir(), "bench.pcapng"), "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pw.AddInterface(Interface{Name: "eth0", LinkType: LinkTypeEthernet, SnapLen: 96}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := pw.WritePacket(0, uint64(i), data, 1500); err != nil {
			b.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		b.Fatal(err)
	}
}
