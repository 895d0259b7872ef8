package frame

import (
	"bytes"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// tcpFrame builds an Ethernet/IPv4/TCP frame from src:sport to dst:dport.
func tcpFrame(src, dst [4]byte, sport, dport uint16) []byte {
	f := make([]byte, 14+20+20)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0] = 0x45
	ip[3] = 40
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	tcp := ip[20:]
	tcp[0], tcp[1] = byte(sport>>8), byte(sport)
	tcp[2], tcp[3] = byte(dport>>8), byte(dport)
	tcp[12] = 5 << 4
	return f
}

func TestFlowKey(t *testing.T) {
	b := conntest.NewBatch(t, 4, 4096)
	a, c := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	for _, f := range [][]byte{tcpFrame(a, c, 1000, 80), tcpFrame(c, a, 80, 1000), tcpFrame(a, c, 1001, 80)} {
		b.Append(1, 7, cabi.KindPacket, 0, conntest.PacketRecord(1, f, len(f)))
	}
	b.Append(1, 7, cabi.KindText, 0, []byte("not a packet"))
	evs := b.EventSlice()
	h0, ok0 := FlowHash(&evs[0])
	h1, ok1 := FlowHash(&evs[1])
	h2, _ := FlowHash(&evs[2])
	if !ok0 || !ok1 || h0 != h1 {
		t.Errorf("the two directions of a flow hash to %x (%v) and %x (%v); want equal", h0, ok0, h1, ok1)
	}
	if h2 == h0 {
		t.Error("another source port hashes like the first flow")
	}
	if _, ok := FlowHash(&evs[3]); ok {
		t.Error("FlowHash accepted a text event")
	}
	if k := Key(nil, KeyFlow, &evs[3]); !bytes.Equal(k, Key(nil, KeyStream, &evs[3])) {
		t.Errorf("flow key of a text event = %x; want the stream key", k)
	}
	if k := Key(nil, KeyNone, &evs[0]); len(k) != 0 {
		t.Errorf("Key(none) = %x; want empty", k)
	}
}
