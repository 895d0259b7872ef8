package frame

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// sample returns a batch of varied events: empty, binary, flags, big IDs.
func sample(t testing.TB) *cabi.Batch {
	b := conntest.NewBatch(t, 8, 4096)
	add := func(ts, stream uint64, k cabi.Kind, flags uint16, data []byte) {
		if !b.Append(ts, stream, k, flags, data) {
			t.Fatal("batch full")
		}
	}
	add(1, 0, cabi.KindText, 0, []byte("hello"))
	add(0, 1<<63+5, cabi.KindRaw, cabi.FlagTruncated, nil)
	add(1<<64-1, 7, cabi.KindPacket, 0, []byte{0, 1, 2, 0xff, 0xfe})
	add(42, 42, cabi.Kind(0x8001), 0xffff, bytes.Repeat([]byte("x"), 300))
	return b
}

func decodeAll(t *testing.T, f []byte) []Record {
	t.Helper()
	var out []Record
	n, err := Decode(f, func(r Record) { out = append(out, r) })
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if n != len(out) {
		t.Fatalf("Decode returned %d, called back %d times", n, len(out))
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	b := sample(t)
	evs := b.EventSlice()
	f := Append([]byte("prefix"), evs)[len("prefix"):]
	if len(f) != Size(evs) {
		t.Fatalf("len = %d; Size says %d", len(f), Size(evs))
	}
	got := decodeAll(t, f)
	if len(got) != len(evs) {
		t.Fatalf("got %d records; want %d", len(got), len(evs))
	}
	for i, r := range got {
		e := &evs[i]
		if r.TsNs != e.TsNs || r.StreamID != e.StreamID || r.Kind != e.Kind || r.Flags != e.Flags || !bytes.Equal(r.Data, e.Bytes()) {
			t.Errorf("record %d = %+v; want %+v %q", i, r, MetaOf(e), e.Bytes())
		}
	}
	// An empty frame is valid and holds nothing.
	if n, err := Count(Append(nil, nil)); n != 0 || err != nil {
		t.Errorf("Count(empty frame) = %d, %v; want 0, nil", n, err)
	}
}

// TestLayout pins the byte layout docs/FRAMING.md documents, against a
// frame written out by hand.
func TestLayout(t *testing.T) {
	b := conntest.NewBatch(t, 1, 64)
	b.Append(0x0102030405060708, 9, cabi.KindText, 2, []byte("ab"))
	got := Append(nil, b.EventSlice())
	want, _ := hex.DecodeString("" +
		"57454246" + "01000000" + "01000000" + "1a000000" + "00000000" + // header, CRC zeroed
		"0807060504030201" + "0900000000000000" + "0400" + "0200" + "02000000" + "6162")
	binary.LittleEndian.PutUint32(want[16:], checksum(want))
	if !bytes.Equal(got, want) {
		t.Fatalf("frame =\n%x\nwant\n%x", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Append(nil, sample(t).EventSlice())
	mod := func(fn func(f []byte) []byte) []byte { return fn(bytes.Clone(good)) }
	// refresh recomputes the CRC, so the check after it is reached.
	refresh := func(f []byte) []byte {
		binary.LittleEndian.PutUint32(f[crcOffset:], checksum(f))
		return f
	}
	tests := []struct {
		name string
		f    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", good[:HeaderSize-1], ErrShort},
		{"truncated body", good[:len(good)-1], ErrShort},
		{"bad magic", mod(func(f []byte) []byte { f[0] = 'X'; return f }), ErrMagic},
		{"version 2", mod(func(f []byte) []byte { f[4] = 2; return f }), ErrVersion},
		{"reserved", mod(func(f []byte) []byte { f[6] = 1; return refresh(f) }), ErrCorrupt},
		{"trailing byte", mod(func(f []byte) []byte { return append(f, 0) }), ErrCorrupt},
		{"flipped bit in body", mod(func(f []byte) []byte { f[len(f)-3] ^= 0x10; return f }), ErrChecksum},
		{"flipped bit in count", mod(func(f []byte) []byte { f[8] ^= 1; return f }), ErrChecksum},
		{"count too big", mod(func(f []byte) []byte { binary.LittleEndian.PutUint32(f[8:], 1<<30); return refresh(f) }), ErrCorrupt},
		{"count too small", mod(func(f []byte) []byte { binary.LittleEndian.PutUint32(f[8:], 3); return refresh(f) }), ErrCorrupt},
		{"record length past end", mod(func(f []byte) []byte {
			binary.LittleEndian.PutUint32(f[HeaderSize+20:], 1<<31)
			return refresh(f)
		}), ErrCorrupt},
	}
	for _, tt := range tests {
		called := false
		_, err := Decode(tt.f, func(Record) { called = true })
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Decode = %v; want %v", tt.name, err, tt.want)
		}
		if called {
			t.Errorf("%s: Decode passed records of an invalid frame", tt.name)
		}
	}
}

func TestFit(t *testing.T) {
	b := sample(t)
	evs := b.EventSlice()
	total := Size(evs)
	tests := []struct {
		max, n int
	}{
		{total, 4},
		{total - 1, 3},
		{1, 1}, // one event always goes, however small max is
		{HeaderSize + RecordHeaderSize + 5, 1},
		{HeaderSize + 2*RecordHeaderSize + 5, 2},
	}
	for _, tt := range tests {
		n, size := Fit(evs, tt.max)
		if n != tt.n || size != Size(evs[:n]) {
			t.Errorf("Fit(max %d) = %d, %d; want %d, %d", tt.max, n, size, tt.n, Size(evs[:tt.n]))
		}
	}
}

func TestParseMeta(t *testing.T) {
	h := map[string]string{HeaderTs: "18446744073709551615", HeaderStream: "3", HeaderKind: "1", HeaderFlags: "2"}
	m, err := ParseMeta(func(k string) string { return h[k] })
	if err != nil || m != (Meta{TsNs: 1<<64 - 1, StreamID: 3, Kind: cabi.KindPacket, Flags: 2}) {
		t.Errorf("ParseMeta = %+v, %v", m, err)
	}
	m, err = ParseMeta(func(string) string { return "" })
	if err != nil || m != (Meta{}) {
		t.Errorf("ParseMeta(no headers) = %+v, %v; want zero", m, err)
	}
	for _, bad := range []map[string]string{{HeaderKind: "65536"}, {HeaderTs: "-1"}, {HeaderFlags: "x"}} {
		if _, err := ParseMeta(func(k string) string { return bad[k] }); err == nil || !strings.Contains(err.Error(), "Weir-") {
			t.Errorf("ParseMeta(%v) = %v; want an error naming the header", bad, err)
		}
	}
}

func TestMsgID(t *testing.T) {
	b := sample(t)
	d1, d2 := DigestOf("s", b.EventSlice()), DigestOf("s", b.EventSlice())
	if d1 != d2 {
		t.Fatal("DigestOf differs for the same batch")
	}
	if DigestOf("t", b.EventSlice()) == d1 || DigestOf("", b.EventSlice()) == d1 {
		t.Error("DigestOf is the same in another scope")
	}
	if ScopeOf("", "out") == ScopeOf("", "out2") || ScopeOf("fleet", "out") != "fleet" {
		t.Errorf("ScopeOf: %q %q %q", ScopeOf("", "out"), ScopeOf("", "out2"), ScopeOf("fleet", "out"))
	}
	if id := string(d1.MsgID(nil, 'b', 3)); len(id) != 35 || !strings.HasSuffix(id, "-b3") {
		t.Errorf("MsgID = %q; want 32 hex digits and -b3", id)
	}
	evs := b.EventSlice()
	evs[0].TsNs++
	if DigestOf("s", evs) == d1 {
		t.Error("DigestOf did not change with a timestamp")
	}
	evs[0].TsNs--
	evs[2].Bytes()[0] ^= 1
	if DigestOf("s", evs) == d1 {
		t.Error("DigestOf did not change with a byte")
	}
}

// TestIndependentReader decodes frames with a C reader written from the
// docs alone, and compares what it prints with the events encoded.
func TestIndependentReader(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH: tools/deps.sh installs gcc")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "readframe")
	if out, err := exec.Command(cc, "-std=c99", "-Wall", "-Werror", "-O1", "-o", bin, "testdata/readframe.c").CombinedOutput(); err != nil {
		t.Fatalf("compile readframe.c: %v\n%s", err, out)
	}
	run := func(f []byte) (string, error) {
		p := filepath.Join(dir, "frame")
		if err := os.WriteFile(p, f, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, p).Output()
		return string(out), err
	}
	evs := sample(t).EventSlice()
	var want strings.Builder
	for i := range evs {
		e := &evs[i]
		fmt.Fprintf(&want, "%d %d %d %d %d %x\n", e.TsNs, e.StreamID, e.Kind, e.Flags, e.Len, e.Bytes())
	}
	f := Append(nil, evs)
	got, err := run(f)
	if err != nil {
		t.Fatalf("readframe: %v\n%s", err, got)
	}
	if got != want.String() {
		t.Errorf("readframe printed\n%s\nwant\n%s", got, want.String())
	}
	// It agrees with Decode on what is broken, too.
	f[len(f)-1] ^= 0x80
	if got, err := run(f); err == nil || !strings.Contains(got, "checksum") {
		t.Errorf("readframe on a flipped bit = %q, %v; want a checksum error", got, err)
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic,
// must agree between Count and Decode, and a frame it accepts must
// re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	b, err := cabi.AllocBatch(8, 4096)
	if err != nil {
		f.Fatal(err)
	}
	defer cabi.FreeBatch(b)
	b.Append(1, 2, cabi.KindText, 0, []byte("hi"))
	b.Append(3, 4, cabi.KindRaw, 1, nil)
	f.Add(Append(nil, b.EventSlice()))
	f.Add(Append(nil, nil))
	f.Add([]byte("WEBF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, cerr := Count(data)
		var recs []Record
		m, err := Decode(data, func(r Record) { recs = append(recs, r) })
		if (cerr == nil) != (err == nil) || n != m {
			t.Fatalf("Count = %d, %v; Decode = %d, %v", n, cerr, m, err)
		}
		if err != nil {
			if len(recs) != 0 {
				t.Fatal("records passed from an invalid frame")
			}
			return
		}
		if len(recs) != n {
			t.Fatalf("Decode said %d, passed %d", n, len(recs))
		}
		// Re-encode: the frame is canonical, so the bytes must match.
		var out []byte
		out = append(out, Magic...)
		out = append(out, Version, 0, 0, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(n))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(data)-HeaderSize))
		out = binary.LittleEndian.AppendUint32(out, 0)
		for _, r := range recs {
			out = binary.LittleEndian.AppendUint64(out, r.TsNs)
			out = binary.LittleEndian.AppendUint64(out, r.StreamID)
			out = binary.LittleEndian.AppendUint16(out, uint16(r.Kind))
			out = binary.LittleEndian.AppendUint16(out, r.Flags)
			out = binary.LittleEndian.AppendUint32(out, uint32(len(r.Data)))
			out = append(out, r.Data...)
		}
		binary.LittleEndian.PutUint32(out[crcOffset:], checksum(out))
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoded frame differs:\n%x\n%x", out, data)
		}
	})
}
