package packet

import (
	"bytes"
	"fmt"
	"testing"
)

// parseWant is what the programs should record about a frame.
type parseWant struct {
	l3Proto   uint16
	l3Off     uint16
	l4Off     uint16
	l4Proto   uint8
	flags     uint8
	vlanDepth uint8
	vlanTCI   uint16
}

// parseCase is a crafted frame and its expected parse.
type parseCase struct {
	name  string
	frame []byte
	want  parseWant
	// xdpOnly marks frames the skb test runner refuses (it checks that an
	// IPv4 frame holds an IPv4 header).
	xdpOnly bool
}

func parseCases() []parseCase {
	q := func(tci uint16) vlanTag { return vlanTag{0x8100, tci} }
	ad := func(tci uint16) vlanTag { return vlanTag{0x88a8, tci} }
	l34 := uint8(ParsedL3 | ParsedL4)
	hop := ipv6Ext{proto: 0, size: 8}
	rt := ipv6Ext{proto: 43, size: 24}
	dst := ipv6Ext{proto: 60, size: 16}
	ah := ipv6Ext{proto: 51, size: 16}
	frag0 := ipv6Ext{proto: 44, size: 8, frag: 0x0001}     // offset 0, more fragments
	fragN := ipv6Ext{proto: 44, size: 8, frag: 185<<3 | 1} // offset 1480
	return []parseCase{
		{"ipv4/tcp", frame(nil, 0x0800, ipv4(6, 0, 0, tcp(10))), parseWant{0x0800, 14, 34, 6, l34, 0, 0}, false},
		{"ipv4/udp", frame(nil, 0x0800, ipv4(17, 0, 0, udp(18))), parseWant{0x0800, 14, 34, 17, l34, 0, 0}, false},
		{"ipv4/icmp", frame(nil, 0x0800, ipv4(1, 0, 0, icmp(20))), parseWant{0x0800, 14, 34, 1, l34, 0, 0}, false},
		{"ipv4-options/udp", frame(nil, 0x0800, ipv4(17, 0, 2, udp(4))), parseWant{0x0800, 14, 42, 17, l34, 0, 0}, false},
		{"ipv4-dont-fragment/udp", frame(nil, 0x0800, ipv4(17, 0x4000, 0, udp(4))), parseWant{0x0800, 14, 34, 17, l34, 0, 0}, false},
		{"ipv4-later-fragment", frame(nil, 0x0800, ipv4(17, 185, 0, udp(4))), parseWant{0x0800, 14, OffNone, 0, ParsedL3 | ParseFragment, 0, 0}, false},
		{"ipv4/other-proto", frame(nil, 0x0800, ipv4(47, 0, 0, make([]byte, 8))), parseWant{0x0800, 14, OffNone, 47, ParsedL3, 0, 0}, false},
		{"ipv4/tcp-truncated", frame(nil, 0x0800, ipv4(6, 0, 0, make([]byte, 12))), parseWant{0x0800, 14, OffNone, 6, ParsedL3 | ParseTruncated, 0, 0}, false},
		{"ipv4-truncated", frame(nil, 0x0800, make([]byte, 10)), parseWant{0x0800, 14, OffNone, 0, ParsedL3 | ParseTruncated, 0, 0}, true},
		{"ipv6/tcp", frame(nil, 0x86dd, ipv6(nil, 6, tcp(0))), parseWant{0x86dd, 14, 54, 6, l34, 0, 0}, false},
		{"ipv6/udp", frame(nil, 0x86dd, ipv6(nil, 17, udp(30))), parseWant{0x86dd, 14, 54, 17, l34, 0, 0}, false},
		{"ipv6/icmpv6", frame(nil, 0x86dd, ipv6(nil, 58, icmp(4))), parseWant{0x86dd, 14, 54, 58, l34, 0, 0}, false},
		{"ipv6-hop-rt-dst/udp", frame(nil, 0x86dd, ipv6([]ipv6Ext{hop, rt, dst}, 17, udp(2))), parseWant{0x86dd, 14, 54 + 8 + 24 + 16, 17, l34, 0, 0}, false},
		{"ipv6-ah/tcp", frame(nil, 0x86dd, ipv6([]ipv6Ext{ah}, 6, tcp(0))), parseWant{0x86dd, 14, 54 + 16, 6, l34, 0, 0}, false},
		{"ipv6-first-fragment/udp", frame(nil, 0x86dd, ipv6([]ipv6Ext{frag0}, 17, udp(8))), parseWant{0x86dd, 14, 62, 17, l34, 0, 0}, false},
		{"ipv6-later-fragment", frame(nil, 0x86dd, ipv6([]ipv6Ext{fragN}, 17, udp(8))), parseWant{0x86dd, 14, OffNone, 0, ParsedL3 | ParseFragment, 0, 0}, false},
		{"ipv6-six-ext/udp", frame(nil, 0x86dd, ipv6([]ipv6Ext{hop, dst, rt, dst, dst, dst}, 17, udp(0))), parseWant{0x86dd, 14, 54 + 8 + 16 + 24 + 16*3, 17, l34, 0, 0}, false},
		{"ipv6-seven-ext", frame(nil, 0x86dd, ipv6([]ipv6Ext{hop, dst, rt, dst, dst, dst, dst}, 17, udp(0))), parseWant{0x86dd, 14, OffNone, 0, ParsedL3 | ParseExtLimit, 0, 0}, false},
		{"ipv6-no-next", frame(nil, 0x86dd, ipv6([]ipv6Ext{dst}, 59, nil)), parseWant{0x86dd, 14, OffNone, 0, ParsedL3, 0, 0}, false},
		{"ipv6-ext-truncated", frame(nil, 0x86dd, ipv6([]ipv6Ext{hop}, 17, nil)[:41]), parseWant{0x86dd, 14, OffNone, 0, ParsedL3 | ParseTruncated, 0, 0}, false},
		// An extension header is at least 8 bytes, even when the next
		// header says nothing follows.
		{"ipv6-ext-short/no-next", frame(nil, 0x86dd, ipv6([]ipv6Ext{hop}, 59, nil)[:44]), parseWant{0x86dd, 14, OffNone, 0, ParsedL3 | ParseTruncated, 0, 0}, false},
		// Headers must start within 1024 bytes: an extension header past
		// it (the walk's check), a transport header just within and just
		// past it (the check after the walk).
		{"ipv6-ext-past-parse-limit", frame(nil, 0x86dd, ipv6([]ipv6Ext{{proto: 43, size: 1000}, dst}, 17, udp(0))), parseWant{0x86dd, 14, OffNone, 0, ParsedL3 | ParseTruncated, 0, 0}, false},
		{"ipv6-l4-at-1022/udp", frame(nil, 0x86dd, ipv6([]ipv6Ext{{proto: 43, size: 952}, dst}, 17, udp(0))), parseWant{0x86dd, 14, 1022, 17, l34, 0, 0}, false},
		{"ipv6-l4-at-1030", frame(nil, 0x86dd, ipv6([]ipv6Ext{{proto: 43, size: 976}}, 17, udp(0))), parseWant{0x86dd, 14, OffNone, 0, ParsedL3 | ParseTruncated, 0, 0}, false},
		{"dot1q/ipv4/udp", frame([]vlanTag{q(100)}, 0x0800, ipv4(17, 0, 0, udp(10))), parseWant{0x0800, 18, 38, 17, l34, 1, 100}, false},
		{"qinq/ipv6/tcp", frame([]vlanTag{ad(0x2005), q(7)}, 0x86dd, ipv6(nil, 6, tcp(4))), parseWant{0x86dd, 22, 62, 6, l34, 2, 0x2005}, false},
		{"dot1q-dot1q/ipv4/icmp", frame([]vlanTag{q(1), q(2)}, 0x0800, ipv4(1, 0, 0, icmp(0))), parseWant{0x0800, 22, 42, 1, l34, 2, 1}, false},
		{"three-tags", frame([]vlanTag{ad(1), q(2), q(3)}, 0x0800, ipv4(17, 0, 0, udp(0))), parseWant{0x8100, 22, OffNone, 0, ParsedL3, 2, 1}, false},
		{"dot1q-truncated", frame(nil, 0x8100, []byte{0}), parseWant{0, OffNone, OffNone, 0, ParseTruncated, 0, 0}, false},
		{"arp", frame(nil, 0x0806, make([]byte, 28)), parseWant{0x0806, 14, OffNone, 0, ParsedL3, 0, 0}, false},
	}
}

// TestParse runs every program on crafted frames and checks the parse
// results, direction, hook and bytes of the record it writes.
func TestParse(t *testing.T) {
	c := newTestCapture(t, 1<<16, 1, 0)
	for _, tc := range parseCases() {
		for _, p := range testProgs(c) {
			if tc.xdpOnly && p.hook != HookXDP {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", tc.name, p.name), func(t *testing.T) {
				runProg(t, p, tc.frame, 1)
				recs := drain(t, c)
				if len(recs) != 1 {
					t.Fatalf("got %d records; want 1", len(recs))
				}
				h := recs[0].hdr
				got := parseWant{h.L3Proto, h.L3Off, h.L4Off, h.L4Proto, h.ParseFlags, h.VLANDepth, h.VLANTCI}
				if got != tc.want {
					t.Errorf("parse = %+v; want %+v", got, tc.want)
				}
				if h.Direction != p.dir || h.Hook != p.hook || h.Ifindex != loIfindex {
					t.Errorf("direction %d hook %d ifindex %d; want %d, %d, %d", h.Direction, h.Hook, h.Ifindex, p.dir, p.hook, loIfindex)
				}
				if h.OrigLen != uint32(len(tc.frame)) || h.SampleRate != 1 {
					t.Errorf("orig len %d rate %d; want %d, 1", h.OrigLen, h.SampleRate, len(tc.frame))
				}
				if !bytes.Equal(recs[0].data, tc.frame) {
					t.Errorf("captured bytes differ from the frame:\n got %x\nwant %x", recs[0].data, tc.frame)
				}
			})
		}
	}
	checkInvariant(t, c)
}
