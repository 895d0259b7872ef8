package packet

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// record builds a packet record from h and data.
func record(h Header, data []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(data))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), HeaderSize))
	return append(b, data...)
}

func TestDecode(t *testing.T) {
	ok := Header{RecordHeader: cabi.RecordHeader{Type: RecordTypePacket, Version: RecordVersion, Size: uint32(HeaderSize) + 4}, Ifindex: 3, OrigLen: 100, CapLen: 4, SampleRate: 1}
	for _, tc := range []struct {
		name    string
		rec     []byte
		wantErr bool
		short   bool
	}{
		{"valid", record(ok, []byte{1, 2, 3, 4}), false, false},
		{"class padding after the bytes", record(ok, []byte{1, 2, 3, 4, 0, 0, 0, 0}), false, false},
		{"empty", nil, true, true},
		{"header cut", record(ok, nil)[:HeaderSize-1], true, true},
		{"bytes cut", record(ok, []byte{1, 2, 3}), true, true},
		{"wrong type", record(Header{RecordHeader: cabi.RecordHeader{Type: 9, Version: RecordVersion}}, nil), true, false},
		{"wrong version", record(Header{RecordHeader: cabi.RecordHeader{Type: RecordTypePacket, Version: 1}}, nil), true, false},
		{"cap over orig", record(Header{RecordHeader: cabi.RecordHeader{Type: RecordTypePacket, Version: RecordVersion, Size: uint32(HeaderSize) + 2}, OrigLen: 1, CapLen: 2}, []byte{1, 2}), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vh, vdata, vok := View(tc.rec)
			if vok == tc.wantErr || vok && (*vh != ok || !bytes.Equal(vdata, []byte{1, 2, 3, 4})) {
				t.Errorf("View(%x) = %+v, %x, %v; want ok %v", tc.rec, vh, vdata, vok, !tc.wantErr)
			}
			h, data, err := Decode(tc.rec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Decode(%x) error = %v; want error %v", tc.rec, err, tc.wantErr)
			}
			if errors.Is(err, ErrShortRecord) != tc.short {
				t.Errorf("Decode(%x) = %v; want ErrShortRecord %v", tc.rec, err, tc.short)
			}
			if err == nil && (h != ok || !bytes.Equal(data, []byte{1, 2, 3, 4})) {
				t.Errorf("Decode = %+v, %x; want %+v, 01020304", h, data, ok)
			}
		})
	}
}

// FuzzDecode checks that Decode never reads out of bounds, that what it
// accepts is consistent, and that View and Describe accept exactly the same
// records, View with the same header and bytes.
func FuzzDecode(f *testing.F) {
	f.Add(record(Header{RecordHeader: cabi.RecordHeader{Type: RecordTypePacket, Version: RecordVersion, Size: uint32(HeaderSize) + 3}, OrigLen: 60, CapLen: 3}, []byte{1, 2, 3}))
	f.Add(record(Header{RecordHeader: cabi.RecordHeader{Type: RecordTypePacket, Version: RecordVersion, Size: uint32(HeaderSize) + 2}, OrigLen: 2, CapLen: 2}, []byte{1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		h, data, err := Decode(rec)
		// Copy so that Describe's in-place view is aligned as in a ring.
		aligned := make([]byte, len(rec))
		copy(aligned, rec)
		var ev cabi.Event
		if ok := Describe(aligned, &ev); ok != (err == nil) {
			t.Fatalf("Describe = %v but Decode error = %v", ok, err)
		}
		vh, vdata, vok := View(aligned)
		if vok != (err == nil) {
			t.Fatalf("View = %v but Decode error = %v", vok, err)
		}
		if err != nil {
			return
		}
		if *vh != h || !bytes.Equal(vdata, data) {
			t.Fatalf("View = %+v, %x; Decode = %+v, %x", *vh, vdata, h, data)
		}
		if h.CapLen > h.OrigLen || len(data) != int(h.CapLen) || HeaderSize+len(data) > len(rec) {
			t.Fatalf("Decode accepted %+v with %d data bytes from %d", h, len(data), len(rec))
		}
		if ev.Len != uint32(HeaderSize)+h.CapLen || ev.StreamID != uint64(h.Ifindex) || ev.Kind != cabi.KindPacket {
			t.Fatalf("Describe = %+v for %+v", ev, h)
		}
	})
}
