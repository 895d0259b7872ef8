package filter

import (
	"encoding/binary"
	"net/netip"
)

// The packet corpus of the tcpdump comparison: frames built here, one per
// case, covering what the expressions test and the corners where a filter
// can go wrong (short frames, odd header lengths, fragments, headers past
// the 128 bytes the hook copies).

type testFrame struct {
	name string
	data []byte
}

var (
	macA  = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB  = []byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
	macBC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macMC = []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
)

type tag struct {
	tpid uint16
	tci  uint16
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func eth(dst, src []byte, tags []tag, etype uint16, payload []byte) []byte {
	b := cat(dst, src)
	for _, t := range tags {
		b = append(b, be16(t.tpid)...)
		b = append(b, be16(t.tci)...)
	}
	return cat(b, be16(etype), payload)
}

func a4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
func a6(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }

// ip4 builds an IPv4 header with optWords 32-bit words of options (IHL =
// 5 + optWords, or ihl if it is not 0) and fragment field frag.
func ip4(src, dst string, proto uint8, frag uint16, optWords int, ihl int, payload []byte) []byte {
	h := make([]byte, 20+4*optWords)
	if ihl == 0 {
		ihl = 5 + optWords
	}
	h[0] = 0x40 | byte(ihl&0xf)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = proto
	copy(h[12:], a4(src))
	copy(h[16:], a4(dst))
	for i := 20; i < len(h); i++ {
		h[i] = 1 // NOP options
	}
	return cat(h, payload)
}

// ext is an IPv6 extension header: its kind and its bytes after the
// next-header field.
type ext struct {
	kind uint8
	body []byte
}

func ip6(src, dst string, exts []ext, proto uint8, payload []byte) []byte {
	next := proto
	var chain []byte
	for i := len(exts) - 1; i >= 0; i-- {
		chain = cat([]byte{next}, exts[i].body, chain)
		next = exts[i].kind
	}
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(chain)+len(payload)))
	h[6] = next
	h[7] = 64
	copy(h[8:], a6(src))
	copy(h[24:], a6(dst))
	return cat(h, chain, payload)
}

// hopopts is a hop-by-hop or destination options header of 8 bytes.
func hopopts() []byte { return []byte{0, 1, 4, 0, 0, 0, 0} }

// fragHdr is an IPv6 fragment header with offset off (8-byte units) and M.
func fragHdr(off uint16, more bool) []byte {
	v := off << 3
	if more {
		v |= 1
	}
	return cat([]byte{0}, be16(v), []byte{0, 0, 0, 7})
}

func tcpSeg(sport, dport uint16, flags uint8, doff int, payload []byte) []byte {
	h := make([]byte, 4*doff)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 1000)
	h[12] = byte(doff << 4)
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 512)
	for i := 20; i < len(h); i++ {
		h[i] = 1
	}
	return cat(h, payload)
}

func udpDgram(sport, dport uint16, payload []byte) []byte {
	return cat(be16(sport), be16(dport), be16(uint16(8+len(payload))), be16(0), payload)
}

func icmpMsg(typ, code uint8, n int) []byte {
	return cat([]byte{typ, code, 0, 0, 0, 1, 0, 1}, make([]byte, n))
}

func sctpPkt(sport, dport uint16) []byte {
	return cat(be16(sport), be16(dport), []byte{0, 0, 0, 1, 0, 0, 0, 0}, []byte{1, 0, 0, 16}, make([]byte, 12))
}

// arpPkt is an Ethernet/IPv4 ARP or RARP message.
func arpPkt(op uint16, sha []byte, spa string, tha []byte, tpa string) []byte {
	return cat(be16(1), be16(0x0800), []byte{6, 4}, be16(op), sha, a4(spa), tha, a4(tpa))
}

func mplsHdr(label uint32, bos bool) []byte {
	v := label << 12
	if bos {
		v |= 1 << 8
	}
	v |= 64
	return binary.BigEndian.AppendUint32(nil, v)
}

func payload(n int, s string) []byte {
	b := make([]byte, n)
	copy(b, s)
	for i := len(s); i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

// corpus returns the test frames.
func corpus() []testFrame {
	var fs []testFrame
	add := func(name string, b []byte) { fs = append(fs, testFrame{name, b}) }
	get := []byte("GET / HTTP/1.1\r\n")
	tcp4 := func(src, dst string, sp, dp uint16, flags uint8) []byte {
		return eth(macB, macA, nil, 0x0800, ip4(src, dst, 6, 0, 0, 0, tcpSeg(sp, dp, flags, 5, nil)))
	}
	add("tcp4 syn 10.0.0.1:40000>10.0.0.2:80", tcp4("10.0.0.1", "10.0.0.2", 40000, 80, 0x02))
	add("tcp4 synack 10.0.0.2:80>10.0.0.1:40000", tcp4("10.0.0.2", "10.0.0.1", 80, 40000, 0x12))
	add("tcp4 ack 192.168.1.1:443>1.2.3.4:5000", tcp4("192.168.1.1", "1.2.3.4", 443, 5000, 0x10))
	add("tcp4 rst 1.2.3.4:22>192.168.1.1:22", tcp4("1.2.3.4", "192.168.1.1", 22, 22, 0x04))
	add("tcp4 fin|psh|ack 10.1.2.3:8080", tcp4("10.1.2.3", "10.9.9.9", 8080, 1024, 0x19))
	add("tcp4 GET 10.0.0.1>10.0.0.2:80", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0x4000, 0, 0, tcpSeg(40001, 80, 0x18, 5, get))))
	add("tcp4 options GET past 128 bytes", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 10, 0, tcpSeg(40002, 80, 0x18, 15, get))))
	add("tcp4 ihl 6 port 443", eth(macB, macA, nil, 0x0800, ip4("10.0.0.3", "10.0.0.4", 6, 0, 1, 0, tcpSeg(443, 50000, 0x10, 5, payload(20, "")))))
	add("udp4 dns 10.0.0.1:5353>10.0.0.53:53", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.53", 17, 0, 0, 0, udpDgram(5353, 53, payload(30, "")))))
	add("udp4 reply 10.0.0.53:53>10.0.0.1", eth(macA, macB, nil, 0x0800, ip4("10.0.0.53", "10.0.0.1", 17, 0, 0, 0, udpDgram(53, 5353, payload(60, "")))))
	add("udp4 1000 bytes 172.16.0.1:5000>172.16.0.2:6000", eth(macB, macA, nil, 0x0800, ip4("172.16.0.1", "172.16.0.2", 17, 0, 0, 0, udpDgram(5000, 6000, payload(1000, "weir")))))
	add("udp4 multicast 224.0.0.251:5353", eth(macMC, macA, nil, 0x0800, ip4("10.0.0.7", "224.0.0.251", 17, 0, 0, 0, udpDgram(5353, 5353, payload(10, "")))))
	add("udp4 broadcast 255.255.255.255:67", eth(macBC, macA, nil, 0x0800, ip4("0.0.0.0", "255.255.255.255", 17, 0, 0, 0, udpDgram(68, 67, payload(40, "")))))
	add("icmp4 echo 10.0.0.1>10.0.0.2", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 1, 0, 0, 0, icmpMsg(8, 0, 32))))
	add("icmp4 echoreply 10.0.0.2>10.0.0.1", eth(macA, macB, nil, 0x0800, ip4("10.0.0.2", "10.0.0.1", 1, 0, 0, 0, icmpMsg(0, 0, 32))))
	add("icmp4 unreach code 3", eth(macA, macB, nil, 0x0800, ip4("10.0.0.254", "10.0.0.1", 1, 0, 0, 0, icmpMsg(3, 3, 28))))
	add("icmp4 timxceed with options", eth(macA, macB, nil, 0x0800, ip4("10.0.0.254", "10.0.0.1", 1, 0, 2, 0, icmpMsg(11, 0, 28))))
	add("igmp4", eth(macMC, macA, nil, 0x0800, ip4("10.0.0.1", "224.0.0.1", 2, 0, 1, 0, []byte{0x11, 0, 0, 0, 0, 0, 0, 0})))
	add("sctp4 10.0.0.1:3868>10.0.0.2:2905", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 132, 0, 0, 0, sctpPkt(3868, 2905))))
	add("gre4", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 47, 0, 0, 0, payload(24, ""))))
	add("tcp4 first fragment MF port 80", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0x2000, 0, 0, tcpSeg(40003, 80, 0x18, 5, payload(40, "")))))
	add("tcp4 later fragment offset 185", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 185, 0, 0, payload(40, "\x9c\x43\x00\x50"))))
	add("udp4 later fragment", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.53", 17, 0x2000|100, 0, 0, payload(30, "\x14\xe9\x00\x35"))))
	add("ipv4 ihl 4 (invalid)", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 0, 4, tcpSeg(40004, 80, 2, 5, nil))))
	add("ipv4 ihl 0 (invalid)", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 17, 0, 0, 0xf0, udpDgram(53, 53, nil))))
	add("ipv4 ihl 15 claims more than present", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 0, 15, tcpSeg(40005, 80, 2, 5, nil)))[:14+24])
	add("tcp4 truncated after ports", tcp4("10.0.0.1", "10.0.0.2", 40006, 80, 2)[:14+20+4])
	add("ipv4 truncated header", tcp4("10.0.0.1", "10.0.0.2", 40007, 80, 2)[:14+12])
	add("tcp4 doff 15 but short", eth(macB, macA, nil, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 0, 0, tcpSeg(40008, 80, 0x18, 5, nil)[:20])))
	add("ethernet header only ip", eth(macB, macA, nil, 0x0800, nil))
	// BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, so
	// the shortest frames here are 14 bytes.
	add("ethernet header only arp", eth(macBC, macA, nil, 0x0806, nil))

	tcp6 := func(src, dst string, exts []ext, sp, dp uint16, flags uint8) []byte {
		return eth(macB, macA, nil, 0x86dd, ip6(src, dst, exts, 6, tcpSeg(sp, dp, flags, 5, nil)))
	}
	add("tcp6 2001:db8::1:40000>2001:db8::2:443", tcp6("2001:db8::1", "2001:db8::2", nil, 40000, 443, 0x02))
	add("tcp6 reply 2001:db8::2:443", tcp6("2001:db8::2", "2001:db8::1", nil, 443, 40000, 0x12))
	add("tcp6 hop-by-hop then tcp :80", tcp6("2001:db8::1", "2001:db8::2", []ext{{0, hopopts()}}, 40001, 80, 0x02))
	add("tcp6 dstopts+routing then tcp :22", tcp6("fe80::1", "fe80::2", []ext{{60, hopopts()}, {43, hopopts()}}, 40002, 22, 0x10))
	add("udp6 2001:db8:1::5:53", eth(macB, macA, nil, 0x86dd, ip6("2001:db8:1::5", "2001:db8::53", nil, 17, udpDgram(5353, 53, payload(20, "")))))
	add("udp6 fragment header first fragment", eth(macB, macA, nil, 0x86dd, ip6("2001:db8::1", "2001:db8::2", []ext{{44, fragHdr(0, true)}}, 17, udpDgram(5000, 53, payload(20, "")))))
	add("udp6 fragment header later fragment", eth(macB, macA, nil, 0x86dd, ip6("2001:db8::1", "2001:db8::2", []ext{{44, fragHdr(100, false)}}, 17, payload(20, ""))))
	add("icmp6 echo to ff02::1", eth(macMC, macA, nil, 0x86dd, ip6("fe80::1", "ff02::1", nil, 58, icmpMsg(128, 0, 16))))
	add("icmp6 neighbor solicit", eth(macMC, macA, nil, 0x86dd, ip6("fe80::1", "ff02::1:ff00:2", nil, 58, icmpMsg(135, 0, 16))))
	add("icmp6 echoreply ::1", eth(macA, macB, nil, 0x86dd, ip6("::1", "::1", nil, 58, icmpMsg(129, 0, 16))))
	add("icmp6 after hop-by-hop (MLD)", eth(macMC, macA, nil, 0x86dd, ip6("fe80::1", "ff02::16", []ext{{0, hopopts()}}, 58, icmpMsg(143, 0, 16))))
	add("sctp6", eth(macB, macA, nil, 0x86dd, ip6("2001:db8::1", "2001:db8::2", nil, 132, sctpPkt(3868, 3868))))
	add("ipv6 truncated header", tcp6("2001:db8::1", "2001:db8::2", nil, 1, 2, 2)[:14+30])
	add("ipv6 no next header", eth(macB, macA, nil, 0x86dd, ip6("2001:db8::1", "2001:db8::2", nil, 59, nil)))
	add("tcp6 1200 bytes", eth(macB, macA, nil, 0x86dd, ip6("2001:db8::1", "2001:db8::2", nil, 6, tcpSeg(40010, 8080, 0x18, 5, payload(1100, "weir")))))

	v10 := []tag{{0x8100, 10}}
	add("vlan 10 tcp4 :80", eth(macB, macA, v10, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 0, 0, tcpSeg(40020, 80, 2, 5, nil))))
	add("vlan 20 prio 5 udp4 :53", eth(macB, macA, []tag{{0x8100, 5<<13 | 20}}, 0x0800, ip4("10.0.0.1", "10.0.0.53", 17, 0, 0, 0, udpDgram(5353, 53, payload(12, "")))))
	add("vlan 10 udp6", eth(macB, macA, v10, 0x86dd, ip6("2001:db8::1", "2001:db8::2", nil, 17, udpDgram(5000, 53, payload(10, "")))))
	add("vlan 10 arp", eth(macBC, macA, v10, 0x0806, arpPkt(1, macA, "10.0.0.1", make([]byte, 6), "10.0.0.2")))
	add("qinq 88a8 100 / 8100 200 tcp4 :443", eth(macB, macA, []tag{{0x88a8, 100}, {0x8100, 200}}, 0x0800, ip4("10.0.0.1", "10.0.0.2", 6, 0, 0, 0, tcpSeg(40021, 443, 0x10, 5, nil))))
	add("qinq 8100 300 / 8100 10 udp4", eth(macB, macA, []tag{{0x8100, 300}, {0x8100, 10}}, 0x0800, ip4("10.0.0.1", "10.0.0.2", 17, 0, 0, 0, udpDgram(1, 53, nil))))
	add("9100 tag 7 icmp4", eth(macB, macA, []tag{{0x9100, 7}}, 0x0800, ip4("10.0.0.1", "10.0.0.2", 1, 0, 0, 0, icmpMsg(8, 0, 8))))
	add("vlan 10 truncated tag", eth(macB, macA, v10, 0x0800, nil)[:15])
	add("three tags 1/2/3 tcp6", eth(macB, macA, []tag{{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}}, 0x86dd, ip6("2001:db8::1", "2001:db8::2", nil, 6, tcpSeg(1, 80, 2, 5, nil))))

	add("arp request 10.0.0.1 who-has 10.0.0.2", eth(macBC, macA, nil, 0x0806, arpPkt(1, macA, "10.0.0.1", make([]byte, 6), "10.0.0.2")))
	add("arp reply 10.0.0.2", eth(macA, macB, nil, 0x0806, arpPkt(2, macB, "10.0.0.2", macA, "10.0.0.1")))
	add("rarp 1.2.3.4", eth(macBC, macA, nil, 0x8035, arpPkt(3, macA, "1.2.3.4", macA, "1.2.3.4")))
	add("mpls 3 ipv4 udp", eth(macB, macA, nil, 0x8847, cat(mplsHdr(3, true), ip4("10.0.0.1", "10.0.0.2", 17, 0, 0, 0, udpDgram(1, 53, nil)))))
	add("mpls 100/200 ipv6 tcp", eth(macB, macA, nil, 0x8847, cat(mplsHdr(100, false), mplsHdr(200, true), ip6("2001:db8::1", "2001:db8::2", nil, 6, tcpSeg(1, 80, 2, 5, nil)))))
	add("llc 802.3 dsap 0x42 (stp)", eth(macMC, macA, nil, 38, cat([]byte{0x42, 0x42, 0x03}, make([]byte, 35))))
	add("ethertype 0x88cc lldp", eth(macMC, macA, nil, 0x88cc, payload(40, "")))
	add("decnet 0x6003", eth(macB, macA, nil, 0x6003, payload(40, "")))
	return fs
}
