package diskbuf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, dir string, o Options) *Buffer {
	t.Helper()
	o.Dir = dir
	if o.MaxSize == 0 {
		o.MaxSize = 64 << 20
	}
	if o.Policy == 0 && o.Interval == 0 {
		o.Policy = SyncNever
	}
	o.Log = quiet
	b, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	return b
}

// payload makes a distinct payload for record i, of a size that varies.
func payload(i int) []byte {
	p := make([]byte, 8+i%37)
	binary.LittleEndian.PutUint64(p, uint64(i))
	for j := 8; j < len(p); j++ {
		p[j] = byte(i + j)
	}
	return p
}

func appendN(t *testing.T, b *Buffer, from, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < from+n; i++ {
		seq, err := b.Append(payload(i), uint32(i%5))
		if err != nil {
			t.Fatalf("Append(%d) = %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// drain reads every record, checks payload(i) for consecutive i from
// first, and returns the records' sequence numbers.
func drain(t *testing.T, b *Buffer, first int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := first; ; i++ {
		r, ok, err := b.Next()
		if err != nil {
			t.Fatalf("Next = %v", err)
		}
		if !ok {
			return seqs
		}
		if r.Damaged {
			t.Fatalf("record %d damaged", r.Seq)
		}
		if want := payload(i); !bytes.Equal(r.Payload, want) || r.Events != uint32(i%5) {
			t.Fatalf("record %d (seq %d) = %x (%d events); want %x (%d events)", i, r.Seq, r.Payload, r.Events, want, i%5)
		}
		seqs = append(seqs, r.Seq)
	}
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	sort.Strings(m)
	return m
}

func TestReplayInOrder(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{SegmentSize: 512})
	appendN(t, b, 0, 100)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, dir, Options{SegmentSize: 512})
	st := b.Stats()
	if st.Replayed != 100 || st.QueuedRecords != 100 {
		t.Fatalf("after reopen: replayed %d, queued %d; want 100, 100", st.Replayed, st.QueuedRecords)
	}
	seqs := drain(t, b, 0)
	if len(seqs) != 100 {
		t.Fatalf("read %d records; want 100", len(seqs))
	}
	// Settle the first 40 and records 50 and 51; the floor stops at 40,
	// so a restart replays from record 40 on, 50 and 51 included.
	for _, s := range seqs[:40] {
		b.Settle(s)
	}
	b.Settle(seqs[50])
	b.Settle(seqs[51])
	// New records go after the replayed ones.
	appendN(t, b, 100, 10)
	b.Close()
	b = open(t, dir, Options{SegmentSize: 512})
	defer b.Close()
	if got := drain(t, b, 40); len(got) != 70 {
		t.Fatalf("after settling 40: read %d records; want 70", len(got))
	}
}

func TestSettleRemovesSegments(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{SegmentSize: 256})
	defer b.Close()
	appendN(t, b, 0, 200)
	if n := len(segFiles(t, dir)); n < 10 {
		t.Fatalf("%d segment files; want many with 256-byte segments", n)
	}
	seqs := drain(t, b, 0)
	for i := len(seqs) - 1; i >= 0; i-- { // out of order
		b.Settle(seqs[i])
	}
	st := b.Stats()
	if files := segFiles(t, dir); len(files) != 1 || st.Segments != 1 || st.UnsettledRecords != 0 {
		t.Fatalf("after settling all: files %v, segments %d, unsettled %d; want only the active one", files, st.Segments, st.UnsettledRecords)
	}
	fi, _ := os.Stat(segFiles(t, dir)[0])
	if st.Bytes != fi.Size() || st.SettledEvents != st.AppendedEvents {
		t.Fatalf("bytes %d, settled events %d, appended %d; want %d (the active segment) and equal", st.Bytes, st.SettledEvents, st.AppendedEvents, fi.Size())
	}
	b.Close()
	b = open(t, dir, Options{})
	if st := b.Stats(); st.Replayed != 0 {
		t.Fatalf("after settling all and reopening: replayed %d; want 0", st.Replayed)
	}
	b.Close()
}

// TestTornTail cuts the last segment at every byte offset inside its last
// record (as a crash mid-write leaves it) and checks that Open keeps every
// earlier record, cuts the torn bytes off and counts them, and that the
// buffer works on.
func TestTornTail(t *testing.T) {
	src := t.TempDir()
	b := open(t, src, Options{})
	appendN(t, b, 0, 3)
	b.Close()
	files := segFiles(t, src)
	last := files[len(files)-1]
	whole, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	recLen := headerSize + len(payload(2))
	start := len(whole) - recLen
	for cut := start; cut < len(whole); cut++ {
		for _, garbage := range []bool{false, true} {
			dir := t.TempDir()
			data := append([]byte(nil), whole[:cut]...)
			if garbage {
				// A crash can also leave zeros or stale bytes after the
				// cut, up to a page.
				data = append(data, bytes.Repeat([]byte{0}, 100)...)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(last)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			b := open(t, dir, Options{})
			st := b.Stats()
			if want := uint64(len(data) - start); st.TornBytes != want || st.CorruptBytes != 0 {
				t.Fatalf("cut at %d (garbage %v): torn %d, corrupt %d; want %d, 0", cut, garbage, st.TornBytes, st.CorruptBytes, want)
			}
			if fi, _ := os.Stat(filepath.Join(dir, filepath.Base(last))); fi.Size() != int64(start) {
				t.Fatalf("cut at %d: file is %d bytes after Open; want %d", cut, fi.Size(), start)
			}
			appendN(t, b, 2, 1)
			if got := drain(t, b, 0); len(got) != 3 {
				t.Fatalf("cut at %d: read %d records; want 2 kept and 1 new", cut, len(got))
			}
			b.Close()
		}
	}
}

// TestCorruptMiddle flips bytes in a segment that is not the last and
// checks that only the damaged record is skipped, counted with its byte
// range, and that the good records after it in the same file are kept.
func TestCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{SegmentSize: 600})
	appendN(t, b, 0, 60)
	b.Close()
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("%d segments; want at least 3", len(files))
	}
	mid := files[1]
	data, _ := os.ReadFile(mid)
	sc := scanner{r: bytes.NewReader(data), size: int64(len(data))}
	recs, _ := sc.scan()
	if len(recs) < 3 {
		t.Fatalf("middle segment holds %d records; want 3 or more", len(recs))
	}
	victim := recs[1]
	data[victim.off+headerSize+3] ^= 0x10 // one bit of the payload
	os.WriteFile(mid, data, 0o644)

	b = open(t, dir, Options{SegmentSize: 600})
	defer b.Close()
	st := b.Stats()
	want := Region{File: mid, Start: victim.off, End: victim.end()}
	if st.CorruptBytes != uint64(victim.end()-victim.off) || len(st.Corrupt) != 1 || st.Corrupt[0] != want || st.TornBytes != 0 {
		t.Fatalf("corrupt %d bytes %v, torn %d; want %d bytes at %v", st.CorruptBytes, st.Corrupt, st.TornBytes, victim.end()-victim.off, want)
	}
	if st.Replayed != 59 {
		t.Fatalf("replayed %d records; want 59 of 60", st.Replayed)
	}
	n := 0
	for {
		r, ok, err := b.Next()
		if err != nil || !ok {
			break
		}
		if r.Seq == victim.seq {
			t.Fatalf("the damaged record %d was read", r.Seq)
		}
		n++
	}
	if n != 59 {
		t.Fatalf("read %d records; want 59", n)
	}
}

// TestCorruptHeader damages the length field of a record: the checksum
// covers it, so the record is refused, and the scan finds the next one by
// its magic.
func TestCorruptHeader(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	appendN(t, b, 0, 5)
	b.Close()
	f := segFiles(t, dir)[0]
	data, _ := os.ReadFile(f)
	sc := scanner{r: bytes.NewReader(data), size: int64(len(data))}
	recs, _ := sc.scan()
	binary.LittleEndian.PutUint32(data[recs[2].off+8:], 3) // a shorter length
	os.WriteFile(f, data, 0o644)
	b = open(t, dir, Options{})
	defer b.Close()
	if st := b.Stats(); st.Replayed != 4 || st.CorruptBytes != uint64(recs[2].end()-recs[2].off) {
		t.Fatalf("replayed %d, corrupt %d; want 4 and the one record's bytes", st.Replayed, st.CorruptBytes)
	}
}

func TestDamagedAfterOpen(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	defer b.Close()
	appendN(t, b, 0, 3)
	f := segFiles(t, dir)[0]
	data, _ := os.ReadFile(f)
	data[headerSize+1] ^= 1 // first record's payload
	os.WriteFile(f, data, 0o644)
	r, ok, err := b.Next()
	if err != nil || !ok || !r.Damaged {
		t.Fatalf("Next = %+v, %v, %v; want the damaged record", r, ok, err)
	}
	if got := drain(t, b, 1); len(got) != 2 {
		t.Fatalf("read %d good records after the damaged one; want 2", len(got))
	}
	if st := b.Stats(); st.CorruptBytes == 0 || st.UnsettledRecords != 2 {
		t.Fatalf("corrupt %d, unsettled %d; want > 0 and 2", st.CorruptBytes, st.UnsettledRecords)
	}
}

// TestFull fills a buffer to MaxSize, then settles everything: appends
// work again, also when one segment holds it all (segment size 0: 1 MiB,
// larger than MaxSize), which is never sealed by growing.
func TestFull(t *testing.T) {
	for _, segSize := range []int64{500, 0} {
		t.Run(fmt.Sprint(segSize), func(t *testing.T) { testFull(t, segSize) })
	}
}

func testFull(t *testing.T, segSize int64) {
	dir := t.TempDir()
	b := open(t, dir, Options{MaxSize: 2000, SegmentSize: segSize})
	defer b.Close()
	n := 0
	var err error
	for ; n < 1000; n++ {
		if _, err = b.Append(payload(n), 1); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("after %d appends: %v; want ErrFull", n, err)
	}
	if st := b.Stats(); st.Bytes > 2000 || st.Full != 1 {
		t.Fatalf("bytes %d, full %d; want <= 2000 and 1", st.Bytes, st.Full)
	}
	if _, err := b.Append(make([]byte, 3000), 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record larger than the buffer: %v; want ErrTooLarge", err)
	}
	for {
		r, ok, _ := b.Next()
		if !ok {
			break
		}
		b.Settle(r.Seq)
	}
	if _, err := b.Append(payload(0), 1); err != nil {
		t.Fatalf("append after settling everything: %v", err)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	_, err := Open(Options{Dir: dir, MaxSize: 1 << 20, Policy: SyncNever, Log: quiet})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second Open = %v; want ErrLocked naming pid %d", err, os.Getpid())
	}
	b.Close()
	b = open(t, dir, Options{})
	b.Close()
}

func TestSyncInterval(t *testing.T) {
	var durable atomic.Uint64
	b := open(t, t.TempDir(), Options{Policy: SyncInterval, Interval: 5 * time.Millisecond,
		OnDurable: func(seq uint64, err error) {
			if err == nil {
				durable.Store(seq)
			}
		}})
	seqs := appendN(t, b, 0, 10)
	deadline := time.Now().Add(20 * time.Second) // a bound for a hang; the loop ends when all are durable
	for durable.Load() != seqs[9] && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := durable.Load(); got != seqs[9] {
		t.Fatalf("durable up to %d; want %d", got, seqs[9])
	}
	b.Close()
}

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		p    Policy
		d    time.Duration
		fail bool
	}{{"batch", SyncBatch, 0, false}, {"never", SyncNever, 0, false}, {"100ms", SyncInterval, 100 * time.Millisecond, false},
		{"0s", 0, 0, true}, {"-1s", 0, 0, true}, {"always", 0, 0, true}, {"", 0, 0, true}} {
		p, d, err := ParsePolicy(tc.in)
		if (err != nil) != tc.fail || !tc.fail && (p != tc.p || d != tc.d) {
			t.Errorf("ParsePolicy(%q) = %v, %v, %v; want %v, %v, fail %v", tc.in, p, d, err, tc.p, tc.d, tc.fail)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, removed at
// the end of the test. It skips when the test cannot mount (not root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull fills a small tmpfs: Append fails with ENOSPC, stores no
// partial record, and works again once settling frees a segment, also
// when the disk filled up before the first segment was full (segment
// size 0: 8 MiB, more than the tmpfs), whose space is freed only because
// the failed write sealed it.
func TestDiskFull(t *testing.T) {
	for _, segSize := range []int64{32 << 10, 0} {
		t.Run(fmt.Sprint(segSize), func(t *testing.T) { testDiskFull(t, segSize) })
	}
}

func testDiskFull(t *testing.T, segSize int64) {
	mnt := mountTmpfs(t, "256k")
	b := open(t, filepath.Join(mnt, "buf"), Options{MaxSize: 64 << 20, SegmentSize: segSize, Policy: SyncBatch})
	defer b.Close()
	big := bytes.Repeat([]byte{7}, 3000)
	var err error
	n := 0
	for ; n < 1000; n++ {
		if _, err = b.Append(big, 1); err != nil {
			break
		}
	}
	if !IsDiskFull(err) || !strings.Contains(err.Error(), mnt) {
		t.Fatalf("after %d appends: %v; want ENOSPC naming the directory", n, err)
	}
	st := b.Stats()
	if st.WriteErrors == 0 || st.Appended != uint64(n) || st.QueuedRecords != uint64(n) {
		t.Fatalf("write errors %d, appended %d, queued %d; want > 0, %d, %d", st.WriteErrors, st.Appended, st.QueuedRecords, n, n)
	}
	for {
		r, ok, err := b.Next()
		if err != nil || !ok {
			break
		}
		if !bytes.Equal(r.Payload, big) {
			t.Fatalf("record %d changed", r.Seq)
		}
		b.Settle(r.Seq)
	}
	if _, err := b.Append(big, 1); err != nil {
		t.Fatalf("append after freeing space: %v", err)
	}
	b.Close()
	// Nothing torn or corrupt was left behind by the failed writes.
	b = open(t, filepath.Join(mnt, "buf"), Options{MaxSize: 64 << 20})
	if st := b.Stats(); st.Replayed != 1 || st.TornBytes != 0 || st.CorruptBytes != 0 {
		t.Fatalf("reopen: replayed %d, torn %d, corrupt %d; want 1, 0, 0", st.Replayed, st.TornBytes, st.CorruptBytes)
	}
	b.Close()
}

// TestReadOnly: Open on a read-only file system fails with a clear error
// naming what it could not open.
func TestReadOnly(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	dir := filepath.Join(mnt, "buf")
	b := open(t, dir, Options{})
	appendN(t, b, 0, 3)
	b.Close()
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v: %s", err, out)
	}
	_, err := Open(Options{Dir: dir, MaxSize: 1 << 20, Log: quiet})
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "lock file") {
		t.Fatalf("Open on a read-only file system = %v; want EROFS at the lock file", err)
	}
	_, err = Open(Options{Dir: filepath.Join(mnt, "new"), MaxSize: 1 << 20, Log: quiet})
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "create directory") {
		t.Fatalf("Open of a new directory on a read-only file system = %v; want EROFS creating it", err)
	}
}
