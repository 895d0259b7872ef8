package cabi_test

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// syscallRecord returns h (Type, Version and Size filled in unless set)
// followed, when h decodes strings, by the two slots holding s0 and s1.
func syscallRecord(h cabi.SyscallRecord, s0, s1 string) []byte {
	if h.Type == 0 {
		h.Type = cabi.RecordSyscall
	}
	if h.Version == 0 {
		h.Version = cabi.SyscallRecordVersion
	}
	n := cabi.SyscallRecordSize
	if h.HasStrings() {
		n += 2 * cabi.SyscallStrMax
		if h.Str0Len == 0 {
			h.Str0Len = uint16(len(s0))
		}
		if h.Str1Len == 0 {
			h.Str1Len = uint16(len(s1))
		}
	}
	if h.Size == 0 {
		h.Size = uint32(n)
	}
	b := make([]byte, n)
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), cabi.SyscallRecordSize))
	if h.HasStrings() {
		copy(b[cabi.SyscallRecordSize:], s0)
		copy(b[cabi.SyscallRecordSize+cabi.SyscallStrMax:], s1)
	}
	return b
}

func TestReadSyscall(t *testing.T) {
	good := syscallRecord(cabi.SyscallRecord{Decode: cabi.DecodePath2, Nr: 316, Ret: -2}, "/a", "/bb")
	v, err := cabi.ReadSyscall(good[1:][:0:0]) // nothing
	if !errors.Is(err, cabi.ErrRecordShort) {
		t.Errorf("ReadSyscall(empty) = %v; want ErrRecordShort", err)
	}
	// Unaligned input reads the same.
	un := append([]byte{0}, good...)[1:]
	if v, err = cabi.ReadSyscall(un); err != nil || string(v.Str0) != "/a" || string(v.Str1) != "/bb" || v.Header.Nr != 316 || !v.Header.Failed() {
		t.Fatalf("ReadSyscall(good) = %+v, %v", v, err)
	}
	plain := syscallRecord(cabi.SyscallRecord{Decode: cabi.DecodeNone}, "", "")
	if v, err = cabi.ReadSyscall(plain); err != nil || v.Str0 != nil || v.Str1 != nil {
		t.Errorf("ReadSyscall(no strings) = %+v, %v", v, err)
	}
	path := syscallRecord(cabi.SyscallRecord{Decode: cabi.DecodePath}, "/etc", "")
	if v, err = cabi.ReadSyscall(path); err != nil || string(v.Str0) != "/etc" || v.Str1 != nil {
		t.Errorf("ReadSyscall(path) = %+v, %v", v, err)
	}
	for _, tc := range []struct {
		name string
		rec  []byte
		want error
	}{
		{"short header", good[:20], cabi.ErrRecordShort},
		{"short record", good[:cabi.SyscallRecordSize+10], cabi.ErrRecordShort},
		{"packet type", syscallRecord(cabi.SyscallRecord{RecordHeader: cabi.RecordHeader{Type: cabi.RecordPacket}}, "", ""), cabi.ErrSyscallRecord},
		{"version", syscallRecord(cabi.SyscallRecord{RecordHeader: cabi.RecordHeader{Version: 9}}, "", ""), cabi.ErrRecordVersion},
		{"size", syscallRecord(cabi.SyscallRecord{RecordHeader: cabi.RecordHeader{Size: 300}}, "", ""), cabi.ErrSyscallRecord},
		{"strings without slots", syscallRecord(cabi.SyscallRecord{Str0Len: 3}, "", ""), cabi.ErrSyscallRecord},
		{"string past its slot", syscallRecord(cabi.SyscallRecord{Decode: cabi.DecodePath, Str0Len: 256}, "", ""), cabi.ErrSyscallRecord},
	} {
		if _, err := cabi.ReadSyscall(tc.rec); !errors.Is(err, tc.want) {
			t.Errorf("ReadSyscall(%s) = %v; want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzReadSyscall: any bytes either fail cleanly or give strings inside
// the record.
func FuzzReadSyscall(f *testing.F) {
	f.Add(syscallRecord(cabi.SyscallRecord{Decode: cabi.DecodeExec}, "/bin/true", "true\x00"))
	f.Add(syscallRecord(cabi.SyscallRecord{}, "", ""))
	f.Fuzz(func(t *testing.T, rec []byte) {
		v, err := cabi.ReadSyscall(rec)
		if err != nil {
			return
		}
		if int(v.Header.Size) > len(rec) || len(v.Str0) >= cabi.SyscallStrMax || len(v.Str1) > cabi.SyscallStrMax {
			t.Fatalf("ReadSyscall accepted size %d of %d bytes, strings %d, %d", v.Header.Size, len(rec), len(v.Str0), len(v.Str1))
		}
	})
}
