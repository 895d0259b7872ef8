package pcapng

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCreateGolden checks that Create writes the golden file byte for byte.
func TestCreateGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sample.pcapng")
	pw, err := Create(path, "weir test")
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range sampleIfaces {
		if _, err := pw.AddInterface(ifc); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range samplePackets {
		if err := pw.WritePacket(p.iface, p.tsNs, p.data, p.origLen); err != nil {
			t.Fatal(err)
		}
	}
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
// and the file must still read back cleanly to its end, holding whole
// packets only.
func TestCreateNoSpace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "weir-test", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
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
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	n := 0
	for ; ; n++ {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading packet %d back: %v", n, err)
		}
	}
	// 3 MiB holds two whole 1 MiB buffers, with their packets.
	if per := DefaultBufferSize / 1552; n < 2*per-1 || n > written {
		t.Fatalf("read back %d packets; want the %d to %d of two whole buffers, and at most the %d written", n, 2*per-1, written, written)
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
