package cabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// SyscallRecordVersion is the syscall record layout this package reads
// (WEIR_SYS_RECORD_VERSION).
const SyscallRecordVersion = 1

// SyscallStrMax is the size of each of a syscall record's two string slots
// (WEIR_SYS_STR_MAX).
const SyscallStrMax = 256

// What a syscall record decodes (SyscallRecord.Decode, WEIR_SYS_DEC_*).
const (
	DecodeNone     = 0 // only the raw arguments
	DecodeSockaddr = 1 // Family, Addr and Port: an address passed or received
	DecodePath     = 2 // Str0: a path
	DecodePath2    = 3 // Str0 and Str1: two paths
	DecodeExec     = 4 // Str0: the program; Str1: its first arguments, each ended by NUL
	DecodeSockFD   = 5 // Family, Addr and Port: the local address of the socket in args[0]
)

// Flags of a syscall record (SyscallRecord.Flags, WEIR_SYS_*).
const (
	SysStr0Truncated = 1 << 0 // Str0 was cut at SyscallStrMax-1 bytes
	SysStr1Truncated = 1 << 1 // Str1 was cut (exec: or there were more arguments)
	SysStr0Fault     = 1 << 2 // reading Str0 from user memory failed
	SysStr1Fault     = 1 << 3 // reading Str1 from user memory failed
	SysAddr          = 1 << 4 // Family, Addr and Port hold an address
	SysAddrFault     = 1 << 5 // no address could be read
	SysNoReturn      = 1 << 6 // exit, exit_group: made at entry, Ret and DurationNs are 0
)

// SyscallRecord mirrors struct weir_sys_record, the fixed header of a
// syscall record: one call, written when it returned. Header.TsNs is the
// time of the return. When Decode is DecodePath, DecodePath2 or DecodeExec,
// two string slots of SyscallStrMax bytes follow it.
type SyscallRecord struct {
	RecordHeader
	DurationNs uint64    // how long the call took
	Ret        int64     // return value; -errno for a failed call
	Args       [6]uint64 // the argument registers at entry
	CgroupID   uint64    // cgroup v2 id of the task
	Pid        uint32    // tgid, in the initial pid namespace
	Tid        uint32    // thread id
	Nr         uint32    // syscall number on the writer's architecture
	SampleRate uint32    // 1-in-N rate in force (1 = every call)
	Decode     uint16    // Decode*
	Flags      uint16    // Sys* flags
	Str0Len    uint16    // valid bytes of the first string slot
	Str1Len    uint16    // valid bytes of the second string slot
	Family     uint16    // address family, 0 if none
	Port       uint16    // port, host byte order
	Reserved0  uint32    // 0
	Addr       [16]byte  // 4 (AF_INET) or 16 (AF_INET6) bytes, network order; AF_UNIX: path start
	Comm       [16]byte  // task name, NUL-padded
}

// SyscallRecordSize is sizeof(struct weir_sys_record)
// (WEIR_SYS_RECORD_SIZE).
const SyscallRecordSize = int(unsafe.Sizeof(SyscallRecord{}))

// HasStrings reports whether a record of this decode kind carries the two
// string slots.
func (r *SyscallRecord) HasStrings() bool {
	return r.Decode == DecodePath || r.Decode == DecodePath2 || r.Decode == DecodeExec
}

// Failed reports whether the call returned an error (-4095 <= Ret < 0).
func (r *SyscallRecord) Failed() bool { return r.Ret < 0 && r.Ret >= -4095 }

// ErrSyscallRecord is wrapped by ReadSyscall's errors for a record that is
// not a well-formed syscall record of this version.
var ErrSyscallRecord = errors.New("not a well-formed syscall record")

// SyscallView is what ReadSyscall reads out of a syscall record. Str0 and
// Str1 alias the record's bytes.
type SyscallView struct {
	Header SyscallRecord // a copy of the fixed header
	Str0   []byte        // first string (a path, the exec'd program), nil if none
	Str1   []byte        // second string (rename's new path, exec arguments), nil if none
}

// ReadSyscall reads the syscall record at the start of rec, which need not
// be aligned. It checks the type, the version, the size against the decode
// kind and the string lengths against their slots; errors wrap
// ErrRecordShort, ErrRecordVersion or ErrSyscallRecord. It never reads past
// len(rec) and does not allocate.
func ReadSyscall(rec []byte) (SyscallView, error) {
	var v SyscallView
	if len(rec) < RecordHeaderSize {
		return v, fmt.Errorf("read syscall record: %d bytes, record header needs %d: %w", len(rec), RecordHeaderSize, ErrRecordShort)
	}
	if t := binary.NativeEndian.Uint16(rec[16:]); t != RecordSyscall {
		return v, fmt.Errorf("read syscall record: type %d, want %d: %w", t, RecordSyscall, ErrSyscallRecord)
	}
	if ver := binary.NativeEndian.Uint16(rec[18:]); ver != SyscallRecordVersion {
		return v, fmt.Errorf("read syscall record: version %d, want %d: %w", ver, SyscallRecordVersion, ErrRecordVersion)
	}
	if len(rec) < SyscallRecordSize {
		return v, fmt.Errorf("read syscall record: %d bytes, header needs %d: %w", len(rec), SyscallRecordSize, ErrRecordShort)
	}
	h := &v.Header
	copy(unsafe.Slice((*byte)(unsafe.Pointer(h)), SyscallRecordSize), rec)
	want := SyscallRecordSize
	if h.HasStrings() {
		want += 2 * SyscallStrMax
	} else if h.Str0Len != 0 || h.Str1Len != 0 {
		return SyscallView{}, fmt.Errorf("read syscall record: decode kind %d has no strings but lengths %d, %d: %w", h.Decode, h.Str0Len, h.Str1Len, ErrSyscallRecord)
	}
	if int(h.Size) != want {
		return SyscallView{}, fmt.Errorf("read syscall record: size %d, want %d for decode kind %d: %w", h.Size, want, h.Decode, ErrSyscallRecord)
	}
	if len(rec) < want {
		return SyscallView{}, fmt.Errorf("read syscall record: %d bytes, size says %d: %w", len(rec), want, ErrRecordShort)
	}
	if h.Str0Len >= SyscallStrMax || h.Str1Len > SyscallStrMax {
		return SyscallView{}, fmt.Errorf("read syscall record: string lengths %d, %d exceed their %d-byte slots: %w", h.Str0Len, h.Str1Len, SyscallStrMax, ErrSyscallRecord)
	}
	if h.HasStrings() {
		s := rec[SyscallRecordSize:want:want]
		v.Str0 = s[:h.Str0Len:h.Str0Len]
		if h.Decode != DecodePath {
			v.Str1 = s[SyscallStrMax : SyscallStrMax+int(h.Str1Len) : SyscallStrMax+int(h.Str1Len)]
		}
	}
	return v, nil
}
