package cabi

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// TestRecordLayout compiles testdata/record_layout.c, which prints sizeof
// and offsetof for the structs in records.h and their constants, and checks
// the Go mirrors against it field by field, in declaration order.
func TestRecordLayout(t *testing.T) {
	compiler := cc(t)
	exe := filepath.Join(t.TempDir(), "record_layout")
	if msg, err := exec.Command(compiler, "-std=c11", "-Wall", "-Werror", "-Iinclude", "-o", exe, "testdata/record_layout.c").CombinedOutput(); err != nil {
		t.Fatalf("build record_layout.c: %v\n%s", err, msg)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatalf("run record_layout: %v", err)
	}
	var layout, consts []byte
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if c, ok := bytes.CutPrefix(line, []byte("const ")); ok {
			consts = append(consts, c...)
		} else {
			layout = append(layout, line...)
		}
	}
	c := parseLayout(t, layout)

	mirrors := map[string]reflect.Type{
		"weir_record_hdr": reflect.TypeFor[RecordHeader](),
		"weir_pkt_record": reflect.TypeFor[PacketRecord](),
	}
	if len(c) != len(mirrors) {
		t.Errorf("record_layout.c describes %d structs, the test knows %d mirrors", len(c), len(mirrors))
	}
	for name, st := range c {
		gt, ok := mirrors[name]
		if !ok {
			t.Errorf("struct %s has no Go mirror in the test table", name)
			continue
		}
		if gt.Size() != st.size {
			t.Errorf("sizeof(%s) = %d, unsafe.Sizeof(%s) = %d", name, st.size, gt, gt.Size())
		}
		if gt.Size()%8 != 0 {
			t.Errorf("%s is %d bytes, not a multiple of 8", gt, gt.Size())
		}
		if gt.NumField() != len(st.fields) {
			t.Errorf("%s has %d fields in C, %s has %d", name, len(st.fields), gt, gt.NumField())
			continue
		}
		for i, f := range st.fields {
			gf := gt.Field(i)
			if gf.Offset != f.off || gf.Type.Size() != f.size {
				t.Errorf("%s.%s: C offset %d size %d; Go %s.%s offset %d size %d",
					name, f.name, f.off, f.size, gt, gf.Name, gf.Offset, gf.Type.Size())
			}
		}
	}

	want := fmt.Sprintln(RecordPacket, RecordSyscall, int(ClockNone), int(ClockMonotonic), int(ClockRealtime),
		int(ClockBoottime), RecordHeaderSize, PacketRecordSize, PacketRecordVersion,
		DirIngress, DirEgress, HookXDP, HookTCX, ParsedL3, ParsedL4,
		ParseFragment, ParseTruncated, ParseExtLimit, OffNone)
	if string(consts) != want {
		t.Errorf("records.h constants = %q; Go constants = %q", consts, want)
	}
	if KindPacket != RecordPacket || KindSyscall != RecordSyscall {
		t.Errorf("record types (%d, %d) differ from event kinds (%d, %d)", RecordPacket, RecordSyscall, KindPacket, KindSyscall)
	}
}

// TestRecordsHeaderCompiles compiles records.h and its helper with every
// warning as an error, as C99 and C11 and as C++, like TestHeaderCompiles
// does for plugin.h.
func TestRecordsHeaderCompiles(t *testing.T) {
	strict := []string{"-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-Iinclude"}
	cases := []struct{ compiler, lang, std string }{
		{"gcc", "c", "c99"}, {"gcc", "c", "c11"},
		{"clang-16", "c", "c99"}, {"clang-16", "c", "c11"},
		{"g++", "c++", "c++11"}, {"g++", "c++", "c++17"},
		{"clang++-16", "c++", "c++17"},
	}
	for _, tc := range cases {
		t.Run(tc.compiler+"/"+tc.std, func(t *testing.T) {
			path, err := exec.LookPath(tc.compiler)
			if err != nil {
				t.Skipf("%s not installed", tc.compiler)
			}
			args := append([]string{"-x", tc.lang, "-std=" + tc.std}, strict...)
			args = append(args, "testdata/records_check.c")
			if msg, err := exec.Command(path, args...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", tc.compiler, strings.Join(args, " "), err, msg)
			}
		})
	}
}

// packetRecord returns a packet record: h (with Type, Version and Size
// filled in unless set) followed by data. The buffer is 8-byte aligned.
func packetRecord(h PacketRecord, data []byte) []byte {
	if h.Type == 0 {
		h.Type = RecordPacket
	}
	if h.Version == 0 {
		h.Version = PacketRecordVersion
	}
	if h.Size == 0 {
		h.Size = uint32(PacketRecordSize + len(data))
	}
	words := make([]uint64, (PacketRecordSize+len(data)+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:PacketRecordSize+len(data)]
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), PacketRecordSize))
	copy(b[PacketRecordSize:], data)
	return b
}

func TestReadPacket(t *testing.T) {
	frame := []byte{1, 2, 3, 4}
	ok := PacketRecord{
		RecordHeader: RecordHeader{TsNs: 1234, Seq: 9, CPU: 2, Clock: ClockMonotonic},
		Ifindex:      3, OrigLen: 100, CapLen: 4, SampleRate: 1, Direction: DirEgress, Hook: HookTCX,
	}
	good := packetRecord(ok, frame)
	v, err := ReadPacket(good)
	if err != nil {
		t.Fatalf("ReadPacket(good) = %v", err)
	}
	if v.TsNs != 1234 || v.Clock != ClockMonotonic || v.Ifindex != 3 || v.Direction != DirEgress || v.WireLen != 100 || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacket(good) = %+v", v)
	}
	if &v.Frame[0] != &good[PacketRecordSize] {
		t.Errorf("ReadPacket copied the frame; want a slice of the record")
	}
	if v.Header.Seq != 9 || v.Header.CPU != 2 || v.Header.Hook != HookTCX || !v.Header.Truncated() {
		t.Errorf("ReadPacket header = %+v", v.Header)
	}
	// Padding past Size (ring size classes) is ignored.
	padded := append(packetRecord(ok, frame), make([]byte, 60)...)
	if v, err := ReadPacket(padded); err != nil || len(v.Frame) != 4 {
		t.Errorf("ReadPacket(padded) = %d frame bytes, %v; want 4, nil", len(v.Frame), err)
	}
	// Unaligned records are fine.
	odd := append([]byte{0}, good...)[1:]
	if v, err := ReadPacket(odd); err != nil || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacket(unaligned) = %+v, %v", v, err)
	}

	bad := func(f func(h *PacketRecord)) PacketRecord { h := ok; f(&h); return h }
	cases := []struct {
		name string
		rec  []byte
		want error
	}{
		{"empty", nil, ErrRecordShort},
		{"prefix cut", good[:RecordHeaderSize-1], ErrRecordShort},
		{"header cut", good[:PacketRecordSize-1], ErrRecordShort},
		{"frame cut", good[:len(good)-1], ErrRecordShort},
		{"syscall", packetRecord(bad(func(h *PacketRecord) { h.Type = RecordSyscall }), frame), ErrRecordType},
		{"version 1", packetRecord(bad(func(h *PacketRecord) { h.Version = 1 }), frame), ErrRecordVersion},
		{"cap over orig", packetRecord(bad(func(h *PacketRecord) { h.OrigLen = 3 }), frame), ErrRecordLength},
		{"size too big", packetRecord(bad(func(h *PacketRecord) { h.Size = uint32(PacketRecordSize + 5) }), frame), ErrRecordLength},
		{"size too small", packetRecord(bad(func(h *PacketRecord) { h.Size = 8 }), frame), ErrRecordLength},
	}
	for _, tc := range cases {
		if _, err := ReadPacket(tc.rec); !errors.Is(err, tc.want) {
			t.Errorf("ReadPacket(%s) = %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestReadPacketEvent(t *testing.T) {
	frame := []byte{0xde, 0xad, 0xbe, 0xef, 5, 6}
	rec := packetRecord(PacketRecord{
		RecordHeader: RecordHeader{TsNs: 5, Clock: ClockMonotonic},
		Ifindex:      7, OrigLen: 1500, CapLen: uint32(len(frame)), Direction: DirIngress,
	}, frame)
	ev := Event{TsNs: 1_700_000_000_000_000_000, Kind: KindPacket, Data: unsafe.Pointer(&rec[0]), Len: uint32(len(rec))}
	v, err := ReadPacketEvent(&ev)
	if err != nil {
		t.Fatalf("ReadPacketEvent = %v", err)
	}
	if v.TsNs != ev.TsNs || v.Clock != ClockRealtime || v.Ifindex != 7 || v.WireLen != 1500 || v.Direction != DirIngress || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacketEvent = %+v", v)
	}

	// A processor cut the event: allowed with FlagTruncated, not without.
	cut := ev
	cut.Len -= 2
	if _, err := ReadPacketEvent(&cut); !errors.Is(err, ErrRecordShort) {
		t.Errorf("ReadPacketEvent(cut, no flag) = %v; want %v", err, ErrRecordShort)
	}
	cut.Flags |= FlagTruncated
	if v, err := ReadPacketEvent(&cut); err != nil || !bytes.Equal(v.Frame, frame[:4]) {
		t.Errorf("ReadPacketEvent(cut, flagged) = %x, %v; want %x", v.Frame, err, frame[:4])
	}
	cut.Len = uint32(PacketRecordSize - 1)
	if _, err := ReadPacketEvent(&cut); !errors.Is(err, ErrRecordShort) {
		t.Errorf("ReadPacketEvent(header cut, flagged) = %v; want %v", err, ErrRecordShort)
	}

	raw := ev
	raw.Kind = KindRaw
	if _, err := ReadPacketEvent(&raw); !errors.Is(err, ErrRecordType) {
		t.Errorf("ReadPacketEvent(raw kind) = %v; want %v", err, ErrRecordType)
	}
	empty := Event{Kind: KindPacket}
	if _, err := ReadPacketEvent(&empty); !errors.Is(err, ErrRecordShort) {
		t.Errorf("ReadPacketEvent(empty) = %v; want %v", err, ErrRecordShort)
	}
}

// FuzzReadPacket checks that ReadPacket never reads out of bounds, that
// what it accepts is consistent, and that the event reader agrees with it.
func FuzzReadPacket(f *testing.F) {
	f.Add(packetRecord(PacketRecord{OrigLen: 60, CapLen: 3}, []byte{1, 2, 3}))
	f.Add(packetRecord(PacketRecord{OrigLen: 2, CapLen: 2}, []byte{1}))
	f.Add(packetRecord(PacketRecord{OrigLen: 9, CapLen: 0}, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		v, err := ReadPacket(rec)
		ev := Event{Kind: KindPacket, Len: uint32(len(rec))}
		if len(rec) > 0 {
			ev.Data = unsafe.Pointer(&rec[0])
		}
		ve, everr := ReadPacketEvent(&ev)
		if (err == nil) != (everr == nil) {
			t.Fatalf("ReadPacket error %v but ReadPacketEvent error %v", err, everr)
		}
		if err != nil {
			if !errors.Is(err, ErrRecordShort) && !errors.Is(err, ErrRecordType) && !errors.Is(err, ErrRecordVersion) && !errors.Is(err, ErrRecordLength) {
				t.Fatalf("ReadPacket error %v wraps no sentinel", err)
			}
			return
		}
		h := v.Header
		if h.Type != RecordPacket || h.Version != PacketRecordVersion || h.CapLen > h.OrigLen ||
			int(h.Size) != PacketRecordSize+int(h.CapLen) || int(h.Size) > len(rec) || len(v.Frame) != int(h.CapLen) ||
			v.WireLen != h.OrigLen || v.Ifindex != h.Ifindex || v.TsNs != h.TsNs {
			t.Fatalf("ReadPacket accepted an inconsistent record: %+v", v)
		}
		if !bytes.Equal(v.Frame, ve.Frame) || ve.Header != h {
			t.Fatalf("ReadPacket = %+v; ReadPacketEvent = %+v", v, ve)
		}
	})
}
