package plugins

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
)

// packetEvent is one event for TestCPacketView: a packet record built from
// hdr and frame (with the record's type, version and size filled in), cut
// to cut bytes when cut > 0, and the line packetview.c must log for it.
type packetEvent struct {
	name  string
	kind  cabi.Kind
	flags uint16
	hdr   cabi.PacketRecord
	frame []byte
	cut   int
	want  string
}

// fillPacketBatch appends the events to b, each record in b's arena.
func fillPacketBatch(tb testing.TB, b *cabi.Batch, evs []packetEvent) {
	tb.Helper()
	arena := b.ArenaBytes()
	slots := b.Slots()
	for _, pe := range evs {
		h := pe.hdr
		if h.Type == 0 {
			h.Type = cabi.RecordPacket
		}
		if h.Version == 0 {
			h.Version = cabi.PacketRecordVersion
		}
		if h.Size == 0 {
			h.Size = uint32(cabi.PacketRecordSize + len(pe.frame))
		}
		off := (int(b.ArenaLen) + 7) &^ 7
		n := cabi.PacketRecordSize + len(pe.frame)
		if off+n > len(arena) {
			tb.Fatalf("arena too small for %s", pe.name)
		}
		copy(arena[off:], unsafe.Slice((*byte)(unsafe.Pointer(&h)), cabi.PacketRecordSize))
		copy(arena[off+cabi.PacketRecordSize:], pe.frame)
		if pe.cut > 0 {
			n = pe.cut
		}
		slots[b.Len] = cabi.Event{
			TsNs: 1_700_000_000_123_456_789, StreamID: uint64(h.Ifindex),
			Data: unsafe.Pointer(&arena[off]), Len: uint32(n), Kind: pe.kind, Flags: pe.flags,
		}
		b.Len++
		b.ArenaLen = uint64(off + cabi.PacketRecordSize + len(pe.frame))
	}
}

// packetEvents are the records the kit tests read, good and bad.
func packetEvents() []packetEvent {
	frame := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0}
	good := cabi.PacketRecord{
		RecordHeader: cabi.RecordHeader{TsNs: 5_000, Seq: 41, CPU: 2, Clock: cabi.ClockMonotonic},
		Ifindex:      7, OrigLen: 1500, CapLen: uint32(len(frame)), SampleRate: 4,
		Direction: cabi.DirEgress, Hook: cabi.HookTCX, SampleMode: cabi.SampleFlow,
	}
	badVersion := good
	badVersion.Version = 1
	badSize := good
	badSize.Size = 8
	all := fmt.Sprintf("%x", frame)
	return []packetEvent{
		{"good", cabi.KindPacket, 0, good, frame, 0,
			"view 0 ts=1700000000123456789 ifindex=7 dir=2 wire=1500 seq=41 rate=4 mode=2 frame=" + all},
		{"cut by a processor", cabi.KindPacket, cabi.FlagTruncated, good, frame, cabi.PacketRecordSize + 6, "view 0 ts=1700000000123456789 ifindex=7 dir=2 wire=1500 seq=41 rate=4 mode=2 frame=" + all[:12]},
		{"cut without the flag", cabi.KindPacket, 0, good, frame, cabi.PacketRecordSize + 6, "view 1"},
		{"header cut", cabi.KindPacket, cabi.FlagTruncated, good, frame, cabi.PacketRecordSize - 1, "view 1"},
		{"raw kind", cabi.KindRaw, 0, good, frame, 0, "view 2"},
		{"version 1", cabi.KindPacket, 0, badVersion, frame, 0, "view 3"},
		{"size mismatch", cabi.KindPacket, 0, badSize, frame, 0, "view 4"},
	}
}

// TestCPacketView builds plugins/c/testdata/packetview.c, a sink that reads
// each event with weir_packet_view() from weir/records.h and logs the
// fields, and feeds it packet records: the C helper must read what the Go
// mirror wrote, and refuse the bad ones with the right status.
func TestCPacketView(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skipf("cc not found: %v", err)
	}
	lib := filepath.Join(t.TempDir(), "libweir_packetview.so")
	if err := run(exec.Command("cc", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden",
		"-I", "../cabi/include", "-o", lib, "c/testdata/packetview.c")); err != nil {
		t.Fatal(err)
	}
	l, err := loader.Load(lib)
	if err != nil {
		t.Fatalf("loader.Load(%s): %v", lib, err)
	}
	typ := l.Type("packetview")
	if typ == nil {
		t.Fatalf("%s offers no packetview type", lib)
	}
	var log bytes.Buffer
	host := loader.NewBasicHost("", &log)
	in, err := typ.Create([]byte("{}"), host)
	if err != nil {
		t.Fatalf("create packetview: %v", err)
	}
	t.Cleanup(in.Destroy)
	mustOK(t, "start", in.Start())

	evs := packetEvents()
	b := allocBatch(t, len(evs), 4096)
	fillPacketBatch(t, b, evs)
	if st, err := in.Write(b); err != nil || st != cabi.OK {
		t.Fatalf("write = %v, %v", st, err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != len(evs) {
		t.Fatalf("packetview logged %d lines for %d events:\n%s", len(lines), len(evs), log.String())
	}
	for i, pe := range evs {
		if got := strings.TrimPrefix(lines[i], "info: "); got != pe.want {
			t.Errorf("%s: packetview logged %q; want %q", pe.name, got, pe.want)
		}
	}
	// The Go reader agrees with the C helper on every event.
	for i, ev := range b.EventSlice() {
		v, err := cabi.ReadPacketEvent(&ev)
		if ok := strings.HasPrefix(evs[i].want, "view 0 "); ok != (err == nil) {
			t.Errorf("%s: cabi.ReadPacketEvent = %v; C said %q", evs[i].name, err, evs[i].want)
		} else if ok && !strings.HasSuffix(evs[i].want, fmt.Sprintf("frame=%x", v.Frame)) {
			t.Errorf("%s: cabi.ReadPacketEvent frame %x; C said %q", evs[i].name, v.Frame, evs[i].want)
		}
	}
	mustOK(t, "stop", in.Stop())
}
