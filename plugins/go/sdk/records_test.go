//go:build cgo

package weirsdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"
)

// packetRecord writes a packet record byte by byte at the offsets
// weir/records.h documents, as the kernel writes it, followed by frame.
func packetRecord(frame []byte) []byte {
	b := make([]byte, 64, 64+len(frame))
	ne := binary.NativeEndian
	ne.PutUint64(b[0:], 5_000)                  // ts_ns, CLOCK_MONOTONIC
	ne.PutUint64(b[8:], 41)                     // seq
	ne.PutUint16(b[16:], 1)                     // type: WEIR_RECORD_PACKET
	ne.PutUint16(b[18:], 2)                     // version
	ne.PutUint32(b[20:], uint32(64+len(frame))) // size
	ne.PutUint32(b[24:], 3)                     // cpu
	b[28] = 1                                   // clock: WEIR_CLOCK_MONOTONIC
	ne.PutUint32(b[32:], 7)                     // ifindex
	ne.PutUint32(b[36:], 1500)                  // orig_len
	ne.PutUint32(b[40:], uint32(len(frame)))    // cap_len
	ne.PutUint32(b[44:], 8)                     // sample_rate
	b[48] = 1                                   // direction: ingress
	b[49] = 1                                   // hook: XDP
	ne.PutUint16(b[52:], 0x86dd)                // l3_proto
	b[59] = 1                                   // sample_mode: WEIR_SAMPLE_RANDOM
	return append(b, frame...)
}

func TestReadPacket(t *testing.T) {
	frame := []byte{0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd}
	rec := packetRecord(frame)
	ev := Event{TsNs: 1_700_000_000_000_000_001, StreamID: 7, Data: unsafe.Pointer(&rec[0]), Len: uint32(len(rec)), Kind: KindPacket}
	v, err := ReadPacket(&ev)
	if err != nil {
		t.Fatalf("ReadPacket = %v", err)
	}
	if v.TsNs != ev.TsNs || v.Ifindex != 7 || v.Direction != 1 || v.WireLen != 1500 || !bytes.Equal(v.Frame, frame) {
		t.Errorf("ReadPacket = %+v", v)
	}
	if &v.Frame[0] != &rec[64] {
		t.Error("ReadPacket copied the frame; want a slice of the event's bytes")
	}
	if h := v.Header; h.Seq != 41 || h.CPU != 3 || h.L3Proto != 0x86dd || h.Hook != 1 || h.TsNs != 5_000 || h.SampleRate != 8 || h.SampleMode != 1 {
		t.Errorf("ReadPacket header = %+v", h)
	}

	cut := ev
	cut.Len -= 4
	if _, err := ReadPacket(&cut); !errors.Is(err, ErrRecordShort) {
		t.Errorf("ReadPacket(cut) = %v; want %v", err, ErrRecordShort)
	}
	cut.Flags = FlagTruncated
	if v, err := ReadPacket(&cut); err != nil || !bytes.Equal(v.Frame, frame[:len(frame)-4]) {
		t.Errorf("ReadPacket(cut, truncated) = %x, %v; want %x", v.Frame, err, frame[:len(frame)-4])
	}
	raw := ev
	raw.Kind = KindRaw
	if _, err := ReadPacket(&raw); !errors.Is(err, ErrRecordType) {
		t.Errorf("ReadPacket(raw) = %v; want %v", err, ErrRecordType)
	}
	rec[18] = 1
	if _, err := ReadPacket(&ev); !errors.Is(err, ErrRecordVersion) {
		t.Errorf("ReadPacket(version 1) = %v; want %v", err, ErrRecordVersion)
	}
}
