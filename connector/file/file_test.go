package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/blaster"
	"github.com/weirproject/weir/connector/format"
	"github.com/weirproject/weir/connector/internal/conntest"
	"github.com/weirproject/weir/internal/testfs"
)

// TestFileReplay writes events with the file sink in each blaster format
// and replays the file with the blaster.
func TestFileReplay(t *testing.T) {
	for _, format := range []string{"jsonl", "raw"} {
		path := filepath.Join(t.TempDir(), "out."+format)
		s, err := New([]byte(`{"path":"`+path+`","format":"`+format+`","fsync":true,"buffer":16}`), conntest.Env("f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		in := conntest.GoldenBatch(t)
		for range 3 {
			if st, err := s.Write(in); st != cabi.OK || err != nil {
				t.Fatalf("Write = %v, %v", st, err)
			}
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
		if format == "jsonl" {
			got, _ := os.ReadFile(path)
			conntest.Golden(t, "file.jsonl.golden", got[:len(got)/3])
		}
		bl, err := blaster.New([]byte(`{"file":"`+path+`","format":"`+format+`"}`), conntest.Env("b"))
		if err != nil {
			t.Fatalf("replay %s: %v", format, err)
		}
		_, evs := conntest.PollAll(t, bl, conntest.NewBatch(t, 64, 0), 10)
		if len(evs) != 3*int(in.Len) {
			t.Fatalf("%s replay has %d events; want %d", format, len(evs), 3*in.Len)
		}
		for i, e := range evs {
			w := in.EventSlice()[i%int(in.Len)]
			if string(e.Bytes()) != string(w.Bytes()) || (format == "jsonl" && (e.Kind != w.Kind || e.StreamID != w.StreamID)) {
				t.Errorf("%s replay event %d = %q kind %d stream %d; want %q kind %d stream %d",
					format, i, e.Bytes(), e.Kind, e.StreamID, w.Bytes(), w.Kind, w.StreamID)
			}
		}
		bl.Close()
	}
}

func TestFileAppendAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	for range 2 {
		s, err := New([]byte(`{"path":"`+path+`","format":"text","append":true}`), conntest.Env("f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		b := conntest.NewBatch(t, 4, 64)
		conntest.Fill(t, b, 1, "a", "b")
		s.Write(b)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nb\na\nb\n" {
		t.Errorf("appended file = %q; want two copies of a, b", got)
	}
	s, err := New([]byte(`{"path":"/nonexistent-dir/x"}`), conntest.Env("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(t.Context(), 1); err == nil || !strings.Contains(err.Error(), "file f: open: open /nonexistent-dir/x") {
		t.Errorf("Connect error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after failed Connect = %v; want nil", err)
	}
	for _, cfg := range []string{`{}`, `{"path":"x","format":"csv"}`, `{"path":"x","buffer":"2GiB"}`} {
		if _, err := New([]byte(cfg), conntest.Env("f")); err == nil {
			t.Errorf("New(%s) succeeded; want an error", cfg)
		}
	}
}

// TestFilePacketFormats checks that the file sink takes the packet
// encodings and writes what the encoder writes (the golden files of
// connector/format show what that is).
func TestFilePacketFormats(t *testing.T) {
	for _, name := range []string{format.Packet, format.PacketJSON} {
		path := filepath.Join(t.TempDir(), "out."+name)
		s, err := New([]byte(`{"path":"`+path+`","format":"`+name+`"}`), conntest.Env("f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		in := conntest.PacketBatch(t)
		if st, err := s.Write(in); st != cabi.OK || err != nil {
			t.Fatalf("%s: Write = %v, %v", name, st, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		enc, err := format.Encoder(name)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for _, e := range in.EventSlice() {
			want = enc(want, &e)
		}
		if got, _ := os.ReadFile(path); string(got) != string(want) {
			t.Errorf("%s: file holds\n%s\nwant\n%s", name, got, want)
		}
	}
}

// TestFileCounts: the sink counts the events that reached the file whole
// and those of accepted batches still in its buffer; after a failed write
// (a full disk, here /dev/full) the failed batch's events leave the
// buffer, and those of accepted batches stay counted as unwritten.
func TestFileCounts(t *testing.T) {
	counts := func(s *Sink) (written, unwritten uint64) {
		for _, c := range s.Counters() {
			switch c.Name {
			case "written":
				written = c.Value
			case "unwritten":
				unwritten = c.Value
			}
		}
		return
	}
	write := func(t *testing.T, s *Sink, payloads ...string) cabi.Status {
		b := conntest.NewBatch(t, 4, 64)
		conntest.Fill(t, b, 1, payloads...)
		st, _ := s.Write(b)
		return st
	}
	open := func(t *testing.T, path string) *Sink {
		s, err := New([]byte(`{"path":"`+path+`","format":"text","buffer":16,"flush_interval":"1h"}`), conntest.Env("f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("written", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "out.txt")
		s := open(t, path)
		if st := write(t, s, "a", "b"); st != cabi.OK {
			t.Fatalf("write = %v", st)
		}
		if w, u := counts(s); w != 0 || u != 2 {
			t.Errorf("buffered: written %d, unwritten %d; want 0, 2", w, u)
		}
		if st := write(t, s, "0123456789abc", "c"); st != cabi.OK {
			t.Fatalf("write = %v", st)
		}
		if w, u := counts(s); w != 3 || u != 1 {
			t.Errorf("after a full buffer: written %d, unwritten %d; want 3, 1", w, u)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if w, u := counts(s); w != 4 || u != 0 {
			t.Errorf("stopped: written %d, unwritten %d; want 4, 0", w, u)
		}
		if got, _ := os.ReadFile(path); string(got) != "a\nb\n0123456789abc\nc\n" {
			t.Errorf("file = %q", got)
		}
	})
	t.Run("full", func(t *testing.T) {
		s := open(t, "/dev/full")
		if st := write(t, s, "a", "b"); st != cabi.OK {
			t.Fatalf("write = %v", st)
		}
		if st := write(t, s, "0123456789abcdef"); st != cabi.Error {
			t.Fatalf("write to a full disk = %v; want an error", st)
		}
		if w, u := counts(s); w != 0 || u != 2 {
			t.Errorf("after the failed batch: written %d, unwritten %d; want 0, 2 (the failed batch out of the buffer)", w, u)
		}
		if string(s.buf) != "a\nb\n" {
			t.Errorf("buffer %q; want the accepted batch's bytes only", s.buf)
		}
		if err := s.Stop(); err == nil {
			t.Error("stop on a full disk: no error")
		}
		if w, u := counts(s); w != 0 || u != 2 {
			t.Errorf("stopped: written %d, unwritten %d; want 0, 2", w, u)
		}
	})
}

// TestFileSpaceFreed fills a small tmpfs until writes fail, pauses, frees
// space and writes on, with a write per batch and without: the file must
// hold whole records only, every event of every accepted batch, and as
// many as the written count says.
func TestFileSpaceFreed(t *testing.T) {
	dir := testfs.Tmpfs(t, "64k")
	for _, interval := range []string{"1h", "0s"} {
		for _, pad := range []int{91, 50, 133, 201, 300, 77} {
			t.Run(fmt.Sprint(interval, "/", pad), func(t *testing.T) { spaceFreed(t, dir, interval, pad) })
		}
	}
}

func spaceFreed(t *testing.T, dir, interval string, pad int) {
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.txt")
	s, err := New([]byte(`{"path":"`+path+`","format":"text","buffer":1000,"flush_interval":"`+interval+`"}`), conntest.Env("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	defer s.Close()
	b := conntest.NewBatch(t, 4, 4096)
	record := func(id int) string { return fmt.Sprintf("%05d", id) + strings.Repeat("x", pad) }
	id, failed := 0, 0
	var accepted []string
	write := func() cabi.Status {
		var ps []string
		for range 4 {
			ps = append(ps, record(id))
			id++
		}
		conntest.Fill(t, b, 1, ps...)
		st, _ := s.Write(b)
		if st == cabi.OK {
			accepted = append(accepted, ps...)
		} else {
			failed += len(ps)
		}
		return st
	}
	for i := 0; i < 1000 && failed < 40; i++ {
		write()
	}
	if failed == 0 {
		t.Fatal("no write failed")
	}
	s.Pause() // fails again while the disk is full, or has nothing to write
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if st := write(); st != cabi.OK {
			t.Fatalf("write after freeing space = %v", st)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	in := map[string]bool{}
	for i, l := range lines {
		if len(l) != 5+pad || !strings.HasSuffix(l, strings.Repeat("x", pad)) {
			t.Fatalf("line %d of %d is no whole record: %q", i, len(lines), l)
		}
		in[l] = true
	}
	for _, p := range accepted {
		if !in[p] {
			t.Errorf("accepted event %.5s missing from the file", p)
		}
	}
	counts := map[string]uint64{}
	for _, c := range s.Counters() {
		counts[c.Name] = c.Value
	}
	if counts["written"] != uint64(len(lines)) || counts["unwritten"] != 0 || counts["lost"] != 0 {
		t.Errorf("%v; the file holds %d records", counts, len(lines))
	}
	// The engine counts the accepted batches' events out and the failed
	// ones' dropped: written less dropped_written must be the former.
	if out := counts["written"] - counts["dropped_written"]; out != uint64(len(accepted)) {
		t.Errorf("written %d less dropped written %d = %d; %d events accepted", counts["written"], counts["dropped_written"], out, len(accepted))
	}
	t.Logf("%d events accepted, %d failed; %d in the file", len(accepted), failed, len(lines))
}

// TestFileLostAtClose: events of accepted batches still buffered when
// Close's write fails move from the unwritten gauge to the lost counter,
// since the engine keeps only the last instance's gauge across restarts
// and would forget them once the sink is recreated.
func TestFileLostAtClose(t *testing.T) {
	s, err := New([]byte(`{"path":"/dev/full","format":"text","buffer":16,"flush_interval":"1h"}`), conntest.Env("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	b := conntest.NewBatch(t, 4, 64)
	conntest.Fill(t, b, 1, "a", "b")
	if st, err := s.Write(b); st != cabi.OK {
		t.Fatalf("write = %v, %v", st, err)
	}
	if err := s.Close(); err == nil {
		t.Error("close on a full disk: no error")
	}
	got := map[string]uint64{}
	for _, c := range s.Counters() {
		got[c.Name] = c.Value
	}
	if got["written"] != 0 || got["unwritten"] != 0 || got["lost"] != 2 {
		t.Errorf("after close: %v; want written 0, unwritten 0, lost 2", got)
	}
	if len(s.buf) != 0 || len(s.ends) != 0 {
		t.Errorf("after close the buffer holds %q", s.buf)
	}
}

// TestFileEmptyEncoding: events an encoder writes no bytes for are whole
// in the file at once; they must not stay counted as unwritten, nor as
// lost at Close, because the buffer has no bytes to write.
func TestFileEmptyEncoding(t *testing.T) {
	for _, interval := range []string{"1h", "0s"} {
		path := filepath.Join(t.TempDir(), "out.txt")
		s, err := New([]byte(`{"path":"`+path+`","format":"text","buffer":16,"flush_interval":"`+interval+`"}`), conntest.Env("f"))
		if err != nil {
			t.Fatal(err)
		}
		s.encode = func(dst []byte, _ *cabi.Event) []byte { return dst }
		if err := s.Connect(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		b := conntest.NewBatch(t, 4, 64)
		conntest.Fill(t, b, 1, "a", "b")
		if st, err := s.Write(b); st != cabi.OK {
			t.Fatalf("write = %v, %v", st, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, c := range s.Counters() {
			got[c.Name] = c.Value
		}
		if got["written"] != 2 || got["unwritten"] != 0 || got["lost"] != 0 {
			t.Errorf("interval %s: %v; want written 2, unwritten 0, lost 0", interval, got)
		}
	}
}

// TestFileFsyncNotAFile: with fsync on, a path that is no regular file (a
// device such as /dev/null, a pipe, /dev/stdout) has nothing to sync; the
// drain and stop succeed instead of failing on fsync's EINVAL.
func TestFileFsyncNotAFile(t *testing.T) {
	s, err := New([]byte(`{"path":"/dev/null","fsync":true}`), conntest.Env("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Write(conntest.GoldenBatch(t)); st != cabi.OK || err != nil {
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
