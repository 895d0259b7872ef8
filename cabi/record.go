package cabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Record types (WEIR_RECORD_* in include/weir/records.h). They equal the
// Kind of the event that carries the record.
const (
	RecordPacket  = 1 // a PacketRecord and the packet bytes
	RecordSyscall = 2 // reserved for the syscall record
)

// Clock mirrors enum weir_record_clock: the clock a record timestamp is on.
type Clock uint8

// Clocks (WEIR_CLOCK_*).
const (
	ClockNone      Clock = 0 // no timestamp
	ClockMonotonic Clock = 1 // CLOCK_MONOTONIC (bpf_ktime_get_ns), what the kernel writes
	ClockRealtime  Clock = 2 // Unix nanoseconds, what Event.TsNs always is
	ClockBoottime  Clock = 3 // CLOCK_BOOTTIME; reserved, not written today
)

// String returns the clock's name as the header spells it.
func (c Clock) String() string {
	switch c {
	case ClockNone:
		return "WEIR_CLOCK_NONE"
	case ClockMonotonic:
		return "WEIR_CLOCK_MONOTONIC"
	case ClockRealtime:
		return "WEIR_CLOCK_REALTIME"
	case ClockBoottime:
		return "WEIR_CLOCK_BOOTTIME"
	}
	return fmt.Sprintf("weir_record_clock(%d)", uint8(c))
}

// PacketRecordVersion is the packet record layout this package reads
// (WEIR_PKT_RECORD_VERSION).
const PacketRecordVersion = 2

// Packet directions (PacketRecord.Direction, WEIR_DIR_*).
const (
	DirIngress = 1
	DirEgress  = 2
)

// How the sampler chose a packet (PacketRecord.SampleMode, WEIR_SAMPLE_*).
// The byte was reserved (0) before sampling modes, without a version
// change, so records from older programs read SampleNone.
const (
	SampleNone   = 0 // not sampled: SampleRate is 1 and every packet was kept
	SampleRandom = 1 // a random draw per packet, 1 in SampleRate
	SampleFlow   = 2 // a hash of the packet's flow, either direction: about 1 flow in SampleRate, kept whole
)

// Capture hooks (PacketRecord.Hook, WEIR_HOOK_*).
const (
	HookXDP = 1
	HookTCX = 2
)

// Parse flag bits of PacketRecord.ParseFlags (WEIR_PARSE_*).
//
// The transport header and IPv6 extension headers are checked against the
// packet's whole length, the link and IP headers against the part the
// program reads directly, which under TCX ends before the packet does when
// the kernel keeps the packet in pieces (a non-linear socket buffer). An
// L4Off can lie beyond the captured bytes: check it against CapLen before
// reading there.
const (
	ParsedL3       = 1 << 0 // L3Off and L3Proto are valid
	ParsedL4       = 1 << 1 // L4Off and L4Proto are valid: the transport header is within the packet
	ParseFragment  = 1 << 2 // an IP fragment that carries no transport header
	ParseTruncated = 1 << 3 // a header ran past the end of the packet (see above) or starts beyond the parser's 1024 bytes
	ParseExtLimit  = 1 << 4 // more IPv6 extension headers than the parser's bound
)

// OffNone marks an offset the parser did not find (WEIR_OFF_NONE).
const OffNone = 0xffff

// RecordHeader mirrors struct weir_record_hdr, the 32-byte prefix of every
// kernel record. All fields are in host byte order.
type RecordHeader struct {
	TsNs     uint64   // timestamp on Clock
	Seq      uint64   // per-CPU sequence; a gap means ring-full drops
	Type     uint16   // RecordPacket, ...
	Version  uint16   // layout version of Type
	Size     uint32   // the type's header plus its payload, in bytes
	CPU      uint32   // CPU the program ran on
	Clock    Clock    // clock TsNs is on
	Reserved [3]uint8 // 0
}

// PacketRecord mirrors struct weir_pkt_record, the fixed header in front of
// every captured packet. The captured bytes (CapLen of them) follow it.
type PacketRecord struct {
	RecordHeader
	Ifindex    uint32 // interface index
	OrigLen    uint32 // length on the wire
	CapLen     uint32 // bytes captured after the header
	SampleRate uint32 // 1-in-N rate in force (1 = every packet)
	Direction  uint8  // DirIngress or DirEgress
	Hook       uint8  // HookXDP or HookTCX
	ParseFlags uint8  // Parsed* and Parse* bits
	VLANDepth  uint8  // number of VLAN tags, at most 2
	L3Proto    uint16 // EtherType of the network layer, 0 if none
	L3Off      uint16 // offset of the network header
	L4Off      uint16 // offset of the transport header, OffNone if none
	L4Proto    uint8  // IP protocol of the transport layer
	SampleMode uint8  // SampleNone, SampleRandom or SampleFlow: how the sampler chose the packet
	VLANTCI    uint16 // TCI of the outer VLAN tag, 0 if none
	Reserved1  uint16 // 0
}

// Sizes of the record headers (WEIR_RECORD_HDR_SIZE, WEIR_PKT_RECORD_SIZE).
const (
	RecordHeaderSize = int(unsafe.Sizeof(RecordHeader{}))
	PacketRecordSize = int(unsafe.Sizeof(PacketRecord{}))
)

// Truncated reports whether fewer bytes were captured than were on the wire.
func (r *PacketRecord) Truncated() bool { return r.CapLen < r.OrigLen }

// Errors ReadPacket and ReadPacketEvent wrap; they match the
// weir_record_status values of weir_packet_view in records.h.
var (
	ErrRecordShort   = errors.New("record shorter than its header or size") // WEIR_RECORD_SHORT
	ErrRecordType    = errors.New("not a packet record")                    // WEIR_RECORD_BAD_TYPE
	ErrRecordVersion = errors.New("unknown packet record version")          // WEIR_RECORD_BAD_VERSION
	ErrRecordLength  = errors.New("packet record lengths do not add up")    // WEIR_RECORD_BAD_LENGTH
)

// PacketView is what ReadPacket and ReadPacketEvent read out of a packet
// record. Frame aliases the record's bytes and is valid as long as they
// are; the rest are copies.
type PacketView struct {
	Header    PacketRecord // a copy of the record header
	TsNs      uint64       // capture time in nanoseconds on Clock
	Clock     Clock        // ClockRealtime from ReadPacketEvent; the record's clock from ReadPacket
	Ifindex   uint32       // interface index
	Direction uint8        // DirIngress or DirEgress
	WireLen   uint32       // length of the packet on the wire
	Frame     []byte       // the captured bytes from the Ethernet header on; aliases the record
}

// ReadPacket reads the packet record at the start of rec: a PacketRecord of
// version PacketRecordVersion followed by at least CapLen bytes. Bytes past
// Header.Size (ring padding) are ignored. rec need not be aligned. The
// view's TsNs and Clock are the record's own (ClockMonotonic as the kernel
// writes it; the ring reader converts to Unix time only in the Event).
// Errors wrap ErrRecordShort, ErrRecordType, ErrRecordVersion or
// ErrRecordLength. It never reads past len(rec) and does not allocate.
func ReadPacket(rec []byte) (PacketView, error) {
	v, err := readPacket(rec, false)
	if err != nil {
		return PacketView{}, err
	}
	v.TsNs = v.Header.TsNs
	v.Clock = v.Header.Clock
	return v, nil
}

// ReadPacketEvent reads the packet record an event carries, as the C
// helper weir_packet_view does: the event must be KindPacket, and may be
// shorter than the record only when it has FlagTruncated (a processor cut
// it), in which case Frame ends where the event does. TsNs is the event's
// timestamp, Unix nanoseconds (ClockRealtime). Frame aliases the event's
// bytes.
func ReadPacketEvent(ev *Event) (PacketView, error) {
	if ev.Kind != KindPacket {
		return PacketView{}, fmt.Errorf("read packet event: kind %d, want %d: %w", ev.Kind, KindPacket, ErrRecordType)
	}
	v, err := readPacket(ev.Bytes(), ev.Flags&FlagTruncated != 0)
	if err != nil {
		return PacketView{}, err
	}
	v.TsNs = ev.TsNs
	v.Clock = ClockRealtime
	return v, nil
}

func readPacket(rec []byte, cut bool) (PacketView, error) {
	var v PacketView
	if len(rec) < RecordHeaderSize {
		return v, fmt.Errorf("read packet record: %d bytes, record header needs %d: %w", len(rec), RecordHeaderSize, ErrRecordShort)
	}
	if t := binary.NativeEndian.Uint16(rec[16:]); t != RecordPacket {
		return v, fmt.Errorf("read packet record: type %d, want %d: %w", t, RecordPacket, ErrRecordType)
	}
	if ver := binary.NativeEndian.Uint16(rec[18:]); ver != PacketRecordVersion {
		return v, fmt.Errorf("read packet record: version %d, want %d: %w", ver, PacketRecordVersion, ErrRecordVersion)
	}
	if len(rec) < PacketRecordSize {
		return v, fmt.Errorf("read packet record: %d bytes, header needs %d: %w", len(rec), PacketRecordSize, ErrRecordShort)
	}
	h := &v.Header
	copy(unsafe.Slice((*byte)(unsafe.Pointer(h)), PacketRecordSize), rec)
	if h.CapLen > h.OrigLen {
		return PacketView{}, fmt.Errorf("read packet record: captured length %d exceeds original length %d: %w", h.CapLen, h.OrigLen, ErrRecordLength)
	}
	if uint64(h.Size) != uint64(PacketRecordSize)+uint64(h.CapLen) {
		return PacketView{}, fmt.Errorf("read packet record: size %d, want header %d + captured length %d: %w", h.Size, PacketRecordSize, h.CapLen, ErrRecordLength)
	}
	n := h.CapLen
	follow := len(rec) - PacketRecordSize
	if uint64(follow) < uint64(n) {
		if !cut {
			return PacketView{}, fmt.Errorf("read packet record: captured length %d but only %d bytes follow the header: %w", n, follow, ErrRecordShort)
		}
		n = uint32(follow)
	}
	v.Ifindex = h.Ifindex
	v.Direction = h.Direction
	v.WireLen = h.OrigLen
	if n > 0 {
		v.Frame = rec[PacketRecordSize : PacketRecordSize+int(n) : PacketRecordSize+int(n)]
	}
	return v, nil
}
