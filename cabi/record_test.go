package cabi_test

import (
	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"

	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

// TestRecordLayout compiles testdata/record_layout.c, which prints sizeof
// and offsetof for the structs in records.h and their constants, and checks
// the Go mirrors against it field by field, in declaration order.
func TestRecordLayout(t *testing.T) {
	out := ctest.Run(t, "include", "testdata/record_layout.c")
	var layout, consts []byte
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if c, ok := bytes.CutPrefix(line, []byte("const ")); ok {
			consts = append(consts, c...)
		} else {
			layout = append(layout, line...)
		}
	}
	mirrors := map[string]reflect.Type{
		"weir_record_hdr": reflect.TypeFor[cabi.RecordHeader](),
		"weir_pkt_record": reflect.TypeFor[cabi.PacketRecord](),
		"weir_sys_record": reflect.TypeFor[cabi.SyscallRecord](),
	}
	ctest.CheckMirrors(t, ctest.ParseLayout(t, layout), mirrors)
	for _, gt := range mirrors {
		if gt.Size()%8 != 0 {
			t.Errorf("%s is %d bytes, not a multiple of 8", gt, gt.Size())
		}
	}

	want := fmt.Sprintln(cabi.RecordPacket, cabi.RecordSyscall, int(cabi.ClockNone), int(cabi.ClockMonotonic), int(cabi.ClockRealtime),
		int(cabi.ClockBoottime), cabi.RecordHeaderSize, cabi.PacketRecordSize, cabi.PacketRecordVersion,
		cabi.DirIngress, cabi.DirEgress, cabi.HookXDP, cabi.HookTCX, cabi.ParsedL3, cabi.ParsedL4,
		cabi.ParseFragment, cabi.ParseTruncated, cabi.ParseExtLimit, cabi.OffNone,
		cabi.SampleNone, cabi.SampleRandom, cabi.SampleFlow)
	want += fmt.Sprintln(cabi.SyscallRecordVersion, cabi.SyscallRecordSize, cabi.SyscallStrMax,
		cabi.DecodeNone, cabi.DecodeSockaddr, cabi.DecodePath, cabi.DecodePath2, cabi.DecodeExec, cabi.DecodeSockFD,
		cabi.SysStr0Truncated, cabi.SysStr1Truncated, cabi.SysStr0Fault, cabi.SysStr1Fault,
		cabi.SysAddr, cabi.SysAddrFault, cabi.SysNoReturn)
	if string(consts) != want {
		t.Errorf("records.h constants = %q; Go constants = %q", consts, want)
	}
	if cabi.KindPacket != cabi.RecordPacket || cabi.KindSyscall != cabi.RecordSyscall {
		t.Errorf("record types (%d, %d) differ from event kinds (%d, %d)", cabi.RecordPacket, cabi.RecordSyscall, cabi.KindPacket, cabi.KindSyscall)
	}
}

// packetRecord returns a packet record: h (with Type, Version and Size
// filled in unless set) followed by data. The buffer is 8-byte aligned.
func packetRecord(h cabi.PacketRecord, data []byte) []byte {
	if h.Type == 0 {
		h.Type = cabi.RecordPacket
	}
	if h.Version == 0 {
		h.Version = cabi.PacketRecordVersion
	}
	if h.Size == 0 {
		h.Size = uint32(cabi.PacketRecordSize + len(data))
	}
	words := make([]uint64, (cabi.PacketRecordSize+len(data)+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:cabi.PacketRecordSize+len(data)]
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), cabi.PacketRecordSize))
	copy(b[cabi.PacketRecordSize:], data)
	return b
}

func TestReadPacket(t *testing.T) {
	frame := []byte{1, 2, 3, 4}
	ok := cabi.PacketRecord{
		RecordHeader: cabi.RecordHeader{TsNs: 1234, Seq: 9, CPU: 2, Clock: cabi.ClockMonotonic},
		Ifindex:      3, OrigLen: 100, CapLen: 4, SampleRate: 16, Direction: cabi.DirEgress, Hook: cabi.HookTCX,
		SampleMode: cabi.SampleFlow,
	}
	good := packetRecord(ok, frame)
	v, err := cabi.ReadPacket(good)
	if err != nil {
		t.Fatalf("ReadPacket(good) = %v", err)
	}
	if v.TsNs != 1234 || v.Clock != cabi.ClockMonotonic || v.Ifindex != 3 || v.Direction != cabi.DirEgress || v.WireLen != 100 || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacket(good) = %+v", v)
	}
	if &v.Frame[0] != &good[cabi.PacketRecordSize] {
		t.Errorf("ReadPacket copied the frame; want a slice of the record")
	}
	if v.Header.Seq != 9 || v.Header.CPU != 2 || v.Header.Hook != cabi.HookTCX || !v.Header.Truncated() ||
		v.Header.SampleRate != 16 || v.Header.SampleMode != cabi.SampleFlow {
		t.Errorf("ReadPacket header = %+v", v.Header)
	}
	// Padding past Size (ring size classes) is ignored.
	padded := append(packetRecord(ok, frame), make([]byte, 60)...)
	if v, err := cabi.ReadPacket(padded); err != nil || len(v.Frame) != 4 {
		t.Errorf("ReadPacket(padded) = %d frame bytes, %v; want 4, nil", len(v.Frame), err)
	}
	// Unaligned records are fine.
	odd := append([]byte{0}, good...)[1:]
	if v, err := cabi.ReadPacket(odd); err != nil || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacket(unaligned) = %+v, %v", v, err)
	}

	bad := func(f func(h *cabi.PacketRecord)) cabi.PacketRecord { h := ok; f(&h); return h }
	cases := []struct {
		name string
		rec  []byte
		want error
	}{
		{"empty", nil, cabi.ErrRecordShort},
		{"prefix cut", good[:cabi.RecordHeaderSize-1], cabi.ErrRecordShort},
		{"header cut", good[:cabi.PacketRecordSize-1], cabi.ErrRecordShort},
		{"frame cut", good[:len(good)-1], cabi.ErrRecordShort},
		{"syscall", packetRecord(bad(func(h *cabi.PacketRecord) { h.Type = cabi.RecordSyscall }), frame), cabi.ErrRecordType},
		{"version 1", packetRecord(bad(func(h *cabi.PacketRecord) { h.Version = 1 }), frame), cabi.ErrRecordVersion},
		{"cap over orig", packetRecord(bad(func(h *cabi.PacketRecord) { h.OrigLen = 3 }), frame), cabi.ErrRecordLength},
		{"size too big", packetRecord(bad(func(h *cabi.PacketRecord) { h.Size = uint32(cabi.PacketRecordSize + 5) }), frame), cabi.ErrRecordLength},
		{"size too small", packetRecord(bad(func(h *cabi.PacketRecord) { h.Size = 8 }), frame), cabi.ErrRecordLength},
	}
	for _, tc := range cases {
		if _, err := cabi.ReadPacket(tc.rec); !errors.Is(err, tc.want) {
			t.Errorf("ReadPacket(%s) = %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestReadPacketEvent(t *testing.T) {
	frame := []byte{0xde, 0xad, 0xbe, 0xef, 5, 6}
	rec := packetRecord(cabi.PacketRecord{
		RecordHeader: cabi.RecordHeader{TsNs: 5, Clock: cabi.ClockMonotonic},
		Ifindex:      7, OrigLen: 1500, CapLen: uint32(len(frame)), Direction: cabi.DirIngress,
	}, frame)
	ev := cabi.Event{TsNs: 1_700_000_000_000_000_000, Kind: cabi.KindPacket, Data: unsafe.Pointer(&rec[0]), Len: uint32(len(rec))}
	v, err := cabi.ReadPacketEvent(&ev)
	if err != nil {
		t.Fatalf("ReadPacketEvent = %v", err)
	}
	if v.TsNs != ev.TsNs || v.Clock != cabi.ClockRealtime || v.Ifindex != 7 || v.WireLen != 1500 || v.Direction != cabi.DirIngress || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacketEvent = %+v", v)
	}

	// A processor cut the event: allowed with FlagTruncated, not without.
	cut := ev
	cut.Len -= 2
	if _, err := cabi.ReadPacketEvent(&cut); !errors.Is(err, cabi.ErrRecordShort) {
		t.Errorf("ReadPacketEvent(cut, no flag) = %v; want %v", err, cabi.ErrRecordShort)
	}
	cut.Flags |= cabi.FlagTruncated
	if v, err := cabi.ReadPacketEvent(&cut); err != nil || !bytes.Equal(v.Frame, frame[:4]) {
		t.Errorf("ReadPacketEvent(cut, flagged) = %x, %v; want %x", v.Frame, err, frame[:4])
	}
	cut.Len = uint32(cabi.PacketRecordSize - 1)
	if _, err := cabi.ReadPacketEvent(&cut); !errors.Is(err, cabi.ErrRecordShort) {
		t.Errorf("ReadPacketEvent(header cut, flagged) = %v; want %v", err, cabi.ErrRecordShort)
	}

	raw := ev
	raw.Kind = cabi.KindRaw
	if _, err := cabi.ReadPacketEvent(&raw); !errors.Is(err, cabi.ErrRecordType) {
		t.Errorf("ReadPacketEvent(raw kind) = %v; want %v", err, cabi.ErrRecordType)
	}
	empty := cabi.Event{Kind: cabi.KindPacket}
	if _, err := cabi.ReadPacketEvent(&empty); !errors.Is(err, cabi.ErrRecordShort) {
		t.Errorf("ReadPacketEvent(empty) = %v; want %v", err, cabi.ErrRecordShort)
	}
}

// FuzzReadPacket checks that ReadPacket never reads out of bounds, that
// what it accepts is consistent, and that the event reader agrees with it.
func FuzzReadPacket(f *testing.F) {
	f.Add(packetRecord(cabi.PacketRecord{OrigLen: 60, CapLen: 3}, []byte{1, 2, 3}))
	f.Add(packetRecord(cabi.PacketRecord{OrigLen: 2, CapLen: 2}, []byte{1}))
	f.Add(packetRecord(cabi.PacketRecord{OrigLen: 9, CapLen: 0}, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		v, err := cabi.ReadPacket(rec)
		ev := cabi.Event{Kind: cabi.KindPacket, Len: uint32(len(rec))}
		if len(rec) > 0 {
			ev.Data = unsafe.Pointer(&rec[0])
		}
		ve, everr := cabi.ReadPacketEvent(&ev)
		if (err == nil) != (everr == nil) {
			t.Fatalf("ReadPacket error %v but ReadPacketEvent error %v", err, everr)
		}
		if err != nil {
			if !errors.Is(err, cabi.ErrRecordShort) && !errors.Is(err, cabi.ErrRecordType) && !errors.Is(err, cabi.ErrRecordVersion) && !errors.Is(err, cabi.ErrRecordLength) {
				t.Fatalf("ReadPacket error %v wraps no sentinel", err)
			}
			return
		}
		h := v.Header
		if h.Type != cabi.RecordPacket || h.Version != cabi.PacketRecordVersion || h.CapLen > h.OrigLen ||
			int(h.Size) != cabi.PacketRecordSize+int(h.CapLen) || int(h.Size) > len(rec) || len(v.Frame) != int(h.CapLen) ||
			v.WireLen != h.OrigLen || v.Ifindex != h.Ifindex || v.TsNs != h.TsNs {
			t.Fatalf("ReadPacket accepted an inconsistent record: %+v", v)
		}
		if !bytes.Equal(v.Frame, ve.Frame) || ve.Header != h {
			t.Fatalf("ReadPacket = %+v; ReadPacketEvent = %+v", v, ve)
		}
	})
}
