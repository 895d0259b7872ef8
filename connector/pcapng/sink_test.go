package pcapng

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/internal/conntest"
	"github.com/weirproject/weir/ingest/packet"
	"github.com/weirproject/weir/internal/testfs"
)

// newSink creates and connects a sink, closed when the test ends.
func newSink(t *testing.T, config string) *Sink {
	t.Helper()
	s, err := New([]byte(config), conntest.Env("cap"))
	if err != nil {
		t.Fatalf("New(%s) error: %v", config, err)
	}
	if err := s.Connect(t.Context(), 1); err != nil {
		t.Fatalf("Connect error: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSink writes the packet batch and reads the file back: the packets in
// order, one interface per index with its name, the other events rejected.
func TestSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.pcapng")
	s := newSink(t, `{"path":"`+path+`","fsync":true}`)
	in := conntest.PacketBatch(t)
	if st, err := s.Write(in); st != cabi.OK || err != nil {
		t.Fatalf("Write = %v, %v", st, err)
	}
	if err := s.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Written() != 3 || s.Rejected() != 2 {
		t.Errorf("Written, Rejected = %d, %d; want 3, 2", s.Written(), s.Rejected())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	evs := in.EventSlice()
	for i, want := range evs[:3] {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		h, data, _ := packet.Decode(want.Bytes())
		if got.TsNs != want.TsNs || got.OrigLen != int(h.OrigLen) || !bytes.Equal(got.Data, data) {
			t.Errorf("packet %d = ts %d orig %d len %d; want ts %d orig %d len %d",
				i, got.TsNs, got.OrigLen, len(got.Data), want.TsNs, h.OrigLen, len(data))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next() after the packets = %v; want io.EOF", err)
	}
	ifs := r.Interfaces()
	want := []Interface{
		{Name: "lo", LinkType: LinkTypeEthernet, SnapLen: packet.SnaplenMax},
		{Name: "if" + strconv.Itoa(conntest.UnknownIfindex), LinkType: LinkTypeEthernet, SnapLen: packet.SnaplenMax},
	}
	if len(ifs) != len(want) {
		t.Fatalf("file describes %d interfaces; want %d", len(ifs), len(want))
	}
	for i := range want {
		if ifs[i].Interface != want[i] {
			t.Errorf("interface %d = %+v; want %+v", i, ifs[i].Interface, want[i])
		}
	}
}

// packetBatch returns a batch of n packet events of size-byte frames on
// the loopback interface.
func packetBatch(t *testing.T, n, size int) *cabi.Batch {
	rec := conntest.PacketRecord(1, conntest.Frame(size, 7), size)
	b := conntest.NewBatch(t, n, n*len(rec))
	for i := range n {
		b.Append(uint64(i), 0, cabi.KindPacket, 0, rec)
	}
	return b
}

// TestSinkNoSpace fills a 256 KiB tmpfs, both with one large write of the
// buffer (a flush interval longer than the test) and with a write per
// batch: Write must fail with ENOSPC naming the path, and the file must
// hold exactly Written() whole packets for this package's reader and for
// tshark.
func TestSinkNoSpace(t *testing.T) {
	dir := testfs.Tmpfs(t, "256k")
	for _, interval := range []string{"1h", "0s"} {
		path := filepath.Join(dir, "full-"+interval+".pcapng")
		s := newSink(t, `{"path":"`+path+`","flush_interval":"`+interval+`"}`)
		b := packetBatch(t, 32, 1000)
		var err error
		var st cabi.Status
		for i := 0; i < 1000 && err == nil; i++ {
			st, err = s.Write(b)
		}
		if st != cabi.Error || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
			t.Fatalf("interval %s: Write = %v, %v; want cabi.Error, ENOSPC naming %s", interval, st, err, path)
		}
		if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("interval %s: Close = %v; want the ENOSPC again", interval, err)
		}
		n := s.Written()
		t.Logf("interval %s: %d packets written before: %v", interval, n, err)
		if got := countPackets(t, path); uint64(got) != n {
			t.Errorf("interval %s: the file holds %d packets; Written() = %d", interval, got, n)
		}
		// A 1000-byte frame takes a 1032-byte block: most of 256 KiB.
		if n < 200 {
			t.Errorf("interval %s: Written() = %d; want the ~250 that fit", interval, n)
		}
		tsharkCount(t, path, n)
		os.Remove(path)
	}
}

// tsharkCount checks that tshark reads want packets from path, when
// tshark is installed.
func tsharkCount(t *testing.T, path string, want uint64) {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("not checking with tshark: not installed (CI installs it with tools/deps.sh)")
		return
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.number")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", path, err, stderr.Bytes())
	}
	if got := strings.Count(string(out), "\n"); uint64(got) != want {
		t.Errorf("tshark -r %s read %d packets; want %d\n%s", path, got, want, stderr.Bytes())
	}
}

// TestSinkPipe writes one batch to a pipe and no more: the reader must see
// the packets, which only the flush timer writes.
func TestSinkPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	s, err := New([]byte(`{"path":"-","flush_interval":"50ms"}`), conntest.Env("cap"))
	if err != nil {
		t.Fatal(err)
	}
	s.SetOutput(pw)
	if err := s.Connect(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := s.Write(packetBatch(t, 2, 60)); st != cabi.OK || err != nil {
		t.Fatalf("Write = %v, %v", st, err)
	}
	got := make(chan error, 1)
	go func() {
		r := NewReader(pr)
		for range 2 {
			if _, err := r.Next(); err != nil {
				got <- err
				return
			}
		}
		got <- nil
	}()
	// The property is that the packets come without another write; the
	// timeout is generous, not a speed.
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("reading the pipe: %v", err)
		}
	case <-time.After(30 * time.Second):
		pw.Close()
		<-got
		t.Fatal("the packets did not reach the pipe within 30s of the write, with a 50ms flush interval")
	}
	if n := s.Written(); n != 2 {
		t.Errorf("Written() = %d; want 2", n)
	}
}

func TestSinkErrors(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []string{
		`{}`,
		`{"path":"` + dir + `/no-such-dir/x.pcapng"}`,
		`{"path":"x","flush_interval":"soon"}`,
		`{"path":"x","format":"jsonl"}`,
		`{"path":"` + dir + `"}`,
	} {
		if _, err := New([]byte(cfg), conntest.Env("cap")); err == nil {
			t.Errorf("New(%s) succeeded; want an error", cfg)
		}
	}
	late := filepath.Join(dir, "late")
	s, err := New([]byte(`{"path":"`+late+`"}`), conntest.Env("cap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(late, 0o755); err != nil { // a directory by the time it connects
		t.Fatal(err)
	}
	if st, err := s.Write(packetBatch(t, 1, 60)); st != cabi.Error || err == nil {
		t.Errorf("Write before Connect = %v, %v; want cabi.Error", st, err)
	}
	if err := s.Connect(t.Context(), 1); err == nil || !strings.Contains(err.Error(), late) {
		t.Errorf("Connect to a directory = %v; want an error naming it", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after a failed Connect = %v; want nil", err)
	}
}

// TestSinkConnectFailures checks that Connect neither hangs on a FIFO
// nobody reads (it answers ErrNoReader, to be retried, and succeeds once a
// reader comes) nor retries what cannot change: a directory, or a path in
// a directory that does not exist.
func TestSinkConnectFailures(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New([]byte(`{"path":"`+fifo+`"}`), conntest.Env("p"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Connect(context.Background(), 1); !errors.Is(err, ErrNoReader) || errors.Is(err, connector.ErrPermanent) {
		t.Fatalf("Connect to a FIFO without a reader = %v; want ErrNoReader, not permanent", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := s.Connect(context.Background(), 2); err != nil {
		t.Fatalf("Connect once the FIFO has a reader = %v", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(sub, "x.pcapng"), sub} {
		s, err := New([]byte(`{"path":"`+path+`"}`), conntest.Env("p"))
		if err != nil {
			t.Fatal(err)
		}
		// Between New and Connect the directory goes, or the path
		// becomes one.
		if path == sub {
			os.Mkdir(sub, 0o755)
		} else {
			os.Remove(sub)
		}
		if err := s.Connect(context.Background(), 1); !errors.Is(err, connector.ErrPermanent) {
			t.Errorf("Connect(%s) = %v; want a permanent error", path, err)
		}
		s.Close()
	}
}

// TestSinkSampleComment writes packets sampled at random, by flow and not
// at all: the sampled ones carry a comment saying how they were sampled,
// read back by this package's reader and by tshark (frame.comment); the
// others carry none.
func TestSinkSampleComment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sampled.pcapng")
	s := newSink(t, `{"path":"`+path+`"}`)
	cases := []struct {
		rate uint32
		mode uint8
		want string
	}{
		{1, cabi.SampleNone, ""},
		{10, cabi.SampleRandom, "weir: sampled 1 in 10 at random"},
		{10, cabi.SampleRandom, "weir: sampled 1 in 10 at random"},
		{64, cabi.SampleFlow, "weir: sampled 1 flow in 64 by flow hash"},
		{3, 9, "weir: sampled 1 in 3"},
		{1, cabi.SampleNone, ""},
	}
	b := conntest.NewBatch(t, len(cases), len(cases)*256)
	for i, tc := range cases {
		rec := conntest.PacketRecord(1, conntest.Frame(61+i, 7), 61+i)
		h := (*packet.Header)(unsafe.Pointer(&rec[0]))
		h.SampleRate, h.SampleMode = tc.rate, tc.mode
		b.Append(uint64(i+1)*1e9, 0, cabi.KindPacket, 0, rec)
	}
	if st, err := s.Write(b); st != cabi.OK || err != nil {
		t.Fatalf("Write = %v, %v", st, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	for i, tc := range cases {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		if string(p.Comment) != tc.want || len(p.Data) != 61+i {
			t.Errorf("packet %d: comment %q, %d bytes; want %q, %d", i, p.Comment, len(p.Data), tc.want, 61+i)
		}
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("skipping the tshark check: tshark not installed (tools/deps.sh installs it)")
	}
	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.len", "-e", "frame.comment").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("tshark printed %d lines; want %d:\n%s", len(lines), len(cases), out)
	}
	for i, tc := range cases {
		if want := strconv.Itoa(61+i) + "\t" + tc.want; lines[i] != want {
			t.Errorf("tshark line %d = %q; want %q", i, lines[i], want)
		}
	}
}

// TestSinkMalformed writes, at 8-byte aligned addresses (as ring records
// are) and at unaligned ones, a well-formed packet record and records that
// are not: each malformed one is rejected and the well-formed one is
// written with its bytes and wire length.
func TestSinkMalformed(t *testing.T) {
	frame := conntest.Frame(60, 5)
	mutate := func(f func(h *packet.Header)) []byte {
		rec := conntest.PacketRecord(1, frame, 100)
		f((*packet.Header)(unsafe.Pointer(&rec[0])))
		return rec
	}
	good := conntest.PacketRecord(1, frame, 100)
	bad := [][]byte{
		mutate(func(h *packet.Header) { h.Type = cabi.RecordPacket + 1 }),
		mutate(func(h *packet.Header) { h.Version = cabi.PacketRecordVersion + 1 }),
		mutate(func(h *packet.Header) { h.OrigLen = h.CapLen - 1 }), // captured more than the wire had
		mutate(func(h *packet.Header) { h.Size++ }),
		good[:len(good)-1],         // fewer bytes than CapLen says
		good[:packet.HeaderSize-1], // shorter than the header
		nil,
	}
	for _, pad := range []uintptr{0, 3} {
		var out bytes.Buffer
		s, err := New([]byte(`{"path":"-"}`), conntest.Env("cap"))
		if err != nil {
			t.Fatal(err)
		}
		s.SetOutput(&out)
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		b := conntest.NewBatch(t, 16, 4096)
		add := func(ts uint64, rec []byte) {
			// Put the record at an address that is pad mod 8.
			for (uintptr(b.Arena)+uintptr(b.ArenaLen))%8 != pad {
				b.ArenaLen++
			}
			b.Append(ts, 0, cabi.KindPacket, 0, rec)
		}
		for _, rec := range bad {
			add(1, rec)
		}
		add(7e9, good)
		if st, err := s.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("pad %d: Write = %v, %v", pad, st, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s.Written() != 1 || s.Rejected() != uint64(len(bad)) {
			t.Errorf("pad %d: Written, Rejected = %d, %d; want 1, %d", pad, s.Written(), s.Rejected(), len(bad))
		}
		p, err := NewReader(&out).Next()
		if err != nil {
			t.Fatalf("pad %d: Next: %v", pad, err)
		}
		if p.TsNs != 7e9 || p.OrigLen != 100 || !bytes.Equal(p.Data, frame) {
			t.Errorf("pad %d: packet ts %d orig %d data %x; want ts 7e9 orig 100 data %x", pad, p.TsNs, p.OrigLen, p.Data, frame)
		}
	}
}

// TestSinkIfindexMax writes packet records on interface index 0xffffffff,
// which no kernel gives but a replayed file or a plugin can: the first in a
// batch, before any interface is described, and after lo was. Each must go
// to an interface of its own, described before it, so that the file reads
// back (tshark called it corrupt when the first packet of a batch took
// interface 0 before any was described).
func TestSinkIfindexMax(t *testing.T) {
	if lo, err := net.InterfaceByIndex(1); err != nil || lo.Name != "lo" {
		t.Skipf("skipping: interface 1 is not lo (%v)", err)
	}
	const maxIndex = ^uint32(0)
	path := filepath.Join(t.TempDir(), "ifindex.pcapng")
	s := newSink(t, `{"path":"`+path+`"}`)
	order := []uint32{maxIndex, 1, maxIndex, 1}
	for i, ifx := range order {
		// One packet per batch: each is the first of its batch.
		b := conntest.NewBatch(t, 1, 256)
		b.Append(uint64(i+1), 0, cabi.KindPacket, 0, conntest.PacketRecord(ifx, conntest.Frame(60, byte(i)), 60))
		if st, err := s.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("Write of packet %d (ifindex %d) = %v, %v", i, ifx, st, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	for i, ifx := range order {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		want := "lo"
		if ifx == maxIndex {
			want = "if" + strconv.FormatUint(uint64(maxIndex), 10)
		}
		if got := r.Interfaces()[p.Interface].Name; got != want {
			t.Errorf("packet %d is on interface %q; want %q", i, got, want)
		}
	}
	tsharkCount(t, path, uint64(len(order)))
}

// TestSinkTooLarge writes a batch whose middle packet record is well formed
// but has more bytes than a pcapng block may hold (a replayed file or a
// plugin can make one; the kernel's are at most packet.SnaplenMax): it is
// rejected and skipped, and the packets before and after it are written,
// as for a malformed record. The sink used to fail the whole batch, which
// the engine counts as dropped, with the packets before it in the file.
func TestSinkTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "large.pcapng")
	s := newSink(t, `{"path":"`+path+`"}`)
	big := conntest.PacketRecord(1, make([]byte, maxBlock-63), maxBlock)
	b := conntest.NewBatch(t, 3, len(big)+1024)
	b.Append(1, 0, cabi.KindPacket, 0, conntest.PacketRecord(1, conntest.Frame(60, 1), 60))
	b.Append(2, 0, cabi.KindPacket, 0, big)
	b.Append(3, 0, cabi.KindPacket, 0, conntest.PacketRecord(1, conntest.Frame(61, 2), 61))
	if st, err := s.Write(b); st != cabi.OK || err != nil {
		t.Fatalf("Write = %v, %v; want OK, the large packet rejected", st, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Written() != 2 || s.Rejected() != 1 {
		t.Errorf("Written, Rejected = %d, %d; want 2, 1", s.Written(), s.Rejected())
	}
	if n := countPackets(t, path); n != 2 {
		t.Errorf("the file holds %d packets; want 2", n)
	}
}

// TestSinkMixedBatch writes two batches that each fill the buffer part
// way through, of packets with every captured length mod 4 (0 to 7 bytes
// and up to 1514), sampled ones (with a comment) among unsampled ones, at
// 8-byte aligned and unaligned addresses, on two interfaces, with events
// of another kind between them: the fast path for unsampled packets and
// WritePacketComment take turns, also when the buffer is full. Every
// packet must read back as written, and every pad byte of the data and of
// the comment must be zero, though the buffer reused after the first
// flush still holds earlier blocks.
func TestSinkMixedBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mixed.pcapng")
	s := newSink(t, `{"path":"`+path+`","flush_interval":"1h"}`)
	type sent struct {
		ts      uint64
		data    []byte
		orig    int
		sampled bool
	}
	var want []sent
	const n = 1400
	for round := range 2 {
		b := conntest.NewBatch(t, n+n/97+1, n*(packet.HeaderSize+1514+8))
		for i := range n {
			size := (i*37 + round*11) % 1515
			if i%50 == 0 {
				size = i / 50 % 8
			}
			ifindex := uint32(1)
			if i%7 == 0 {
				ifindex = conntest.UnknownIfindex
			}
			frame := conntest.Frame(size, byte(i))
			rec := conntest.PacketRecord(ifindex, frame, size+i%3)
			sampled := i%5 == 2
			if sampled {
				h := (*packet.Header)(unsafe.Pointer(&rec[0]))
				h.SampleRate, h.SampleMode = uint32(2+i%9), cabi.SampleRandom
			}
			// Aligned for i%3 == 0, 1 or 2 mod 8 otherwise.
			for (uintptr(b.Arena)+uintptr(b.ArenaLen))%8 != uintptr(i%3) {
				b.ArenaLen++
			}
			ts := uint64(round)*1e9 + uint64(i) + 1
			b.Append(ts, 0, cabi.KindPacket, 0, rec)
			if i%97 == 0 {
				b.Append(ts, 0, cabi.KindText, 0, []byte("not a packet"))
			}
			want = append(want, sent{ts, frame, size + i%3, sampled})
		}
		if st, err := s.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("Write of batch %d = %v, %v", round, st, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Written() != uint64(len(want)) {
		t.Errorf("Written() = %d; want %d", s.Written(), len(want))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= DefaultBufferSize {
		t.Fatalf("the file has %d bytes; the test needs more than a buffer", len(raw))
	}
	for off, k := 0, 0; off < len(raw); {
		total := int(binary.LittleEndian.Uint32(raw[off+4:]))
		if binary.LittleEndian.Uint32(raw[off:]) == blockEPB {
			blk := raw[off : off+total]
			capLen := int(binary.LittleEndian.Uint32(blk[20:]))
			padded := 28 + capLen + -capLen&3
			if !allZero(blk[28+capLen : padded]) {
				t.Fatalf("packet %d: pad % x; want zeros", k, blk[28+capLen:padded])
			}
			if opts := blk[padded : total-4]; len(opts) > 0 {
				l := int(binary.LittleEndian.Uint16(opts[2:]))
				if len(opts) != 4+(l+3)&^3+4 || !allZero(opts[4+l:]) {
					t.Fatalf("packet %d: options % x; want a comment of %d bytes, zero pad, end of options", k, opts, l)
				}
			}
			k++
		}
		off += total
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	for i, w := range want {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		if p.TsNs != w.ts || !bytes.Equal(p.Data, w.data) || p.OrigLen != w.orig || (len(p.Comment) > 0) != w.sampled {
			t.Fatalf("packet %d: ts %d, %d bytes, orig %d, comment %q; want ts %d, %d bytes, orig %d, sampled %v",
				i, p.TsNs, len(p.Data), p.OrigLen, p.Comment, w.ts, len(w.data), w.orig, w.sampled)
		}
	}
	tsharkCount(t, path, uint64(len(want)))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestSinkFsyncNotAFile: with fsync on, a path that is no regular file (a
// device such as /dev/null, a pipe, /dev/stdout) has nothing to sync; the
// drain and stop succeed instead of failing on fsync's EINVAL.
func TestSinkFsyncNotAFile(t *testing.T) {
	s, err := New([]byte(`{"path":"/dev/null","fsync":true}`), conntest.Env("cap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Write(packetBatch(t, 2, 60)); st != cabi.OK || err != nil {
		t.Fatalf("Write = %v, %v", st, err)
	}
	for _, c := range []struct {
		name string
		call func() error
	}{{"Drain", s.Drain}, {"Stop", s.Stop}, {"Close", s.Close}} {
		if err := c.call(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
