package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

// numWords are the words libpcap reads as numbers: offsets and values for
// tcp[tcpflags], icmp[icmptype] and icmp6[icmp6type].
var numWords = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
	"icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
	"icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
	"icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153,
}

// proto is a protocol qualifier.
type proto int

const (
	pDefault proto = iota
	pLink
	pIP
	pIP6
	pARP
	pRARP
	pTCP
	pUDP
	pSCTP
	pICMP
	pICMP6
	pIGMP
	pIGRP
	pPIM
	pVRRP
	pCARP
	pAH
	pESP
	pDECnet
	pLAT
	pSCA
	pMOPRC
	pMOPDL
)

// protoWords are the protocol qualifiers weir supports.
var protoWords = map[string]proto{
	"link": pLink, "ether": pLink, "ip": pIP, "ip6": pIP6, "arp": pARP, "rarp": pRARP,
	"tcp": pTCP, "udp": pUDP, "sctp": pSCTP, "icmp": pICMP, "icmp6": pICMP6, "igmp": pIGMP,
	"igrp": pIGRP, "pim": pPIM, "vrrp": pVRRP, "carp": pCARP, "ah": pAH, "esp": pESP,
	"decnet": pDECnet, "lat": pLAT, "sca": pSCA, "moprc": pMOPRC, "mopdl": pMOPDL,
}

// unsupportedWords are libpcap keywords weir refuses, with the reason.
var unsupportedWords = map[string]string{
	"gateway":    "needs host name lookups, which weir does not do",
	"protochain": "is not supported",
	"atalk":      "(AppleTalk over SNAP) is not supported",
	"aarp":       "(AppleTalk ARP over SNAP) is not supported",
	"iso":        "(OSI over LLC) is not supported", "esis": "is not supported", "clnp": "is not supported",
	"isis": "is not supported", "l1": "is not supported", "l2": "is not supported",
	"iih": "is not supported", "lsp": "is not supported", "snp": "is not supported",
	"csnp": "is not supported", "psnp": "is not supported",
	"stp": "(over LLC) is not supported", "ipx": "(over LLC) is not supported",
	"netbeui": "(over LLC) is not supported", "llc": "is not supported",
	"radio": "applies only to 802.11 captures", "fddi": "applies only to FDDI captures",
	"tr": "applies only to Token Ring captures", "wlan": "applies only to 802.11 captures",
	"ppp": "applies only to PPP captures", "slip": "applies only to SLIP captures",
	"pppoed": "is not supported", "pppoes": "is not supported", "geneve": "is not supported",
	"vxlan": "is not supported", "byte": "is not supported (use ip[N] instead)",
	"lane": "applies only to ATM captures", "vpi": "applies only to ATM captures",
	"vci": "applies only to ATM captures", "type": "applies only to 802.11 captures",
	"subtype": "applies only to 802.11 captures", "dir": "applies only to 802.11 captures",
	"ifname": "applies only to pflog captures", "on": "applies only to pflog captures",
	"rnr": "applies only to pflog captures", "rulenum": "applies only to pflog captures",
	"reason": "applies only to pflog captures", "rset": "applies only to pflog captures",
	"action": "applies only to pflog captures", "srnr": "applies only to pflog captures",
	"batadv": "is not supported",
}

// ipProtoNames are the IP protocol names "proto \NAME" accepts.
var ipProtoNames = map[string]uint32{
	"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "igp": 9, "pup": 12, "udp": 17,
	"ipv6": 41, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "ospf": 89,
	"pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132,
}

// etherProtoNames are the EtherType names "ether proto \NAME" accepts.
var etherProtoNames = map[string]uint32{
	"ip": 0x0800, "ip6": 0x86dd, "arp": 0x0806, "rarp": 0x8035,
	"decnet": 0x6003, "lat": 0x6004, "sca": 0x6007, "moprc": 0x6002, "mopdl": 0x6001,
}

// parseNum parses a number as libpcap does: 0x hex, a leading 0 for octal,
// decimal otherwise, at most 32 bits.
func parseNum(s string) (uint32, bool, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false, false
	}
	base := 10
	t := s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, t = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, t = 8, s[1:]
	}
	v, err := strconv.ParseUint(t, base, 64)
	if err != nil {
		// A word of digits that is not a number (e.g. "09") is not a number
		// token at all.
		if _, err2 := strconv.ParseUint(t, 16, 64); err2 == nil || strings.Trim(t, "0123456789") == "" {
			return 0, true, false
		}
		return 0, false, false
	}
	if v > 0xffffffff {
		return 0, true, false
	}
	return uint32(v), true, true
}

// parseHID parses 1 to 4 dotted decimal parts (libpcap's "HID"), returning
// the address shifted to the top and its length in bits.
func parseHID(s string) (uint32, int, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, 0, false
	}
	var v uint32
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return 0, 0, false
		}
		n, _ := strconv.Atoi(p)
		if n > 255 {
			return 0, 0, false
		}
		v = v<<8 | uint32(n)
	}
	return v, 8 * len(parts), true
}

func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && a.Zone() == ""
}

// parseMAC parses xx:xx:xx:xx:xx:xx (also with '-' or '.', and 1-digit
// parts) and xxxx.xxxx.xxxx.
func parseMAC(s string) ([6]byte, bool) {
	var m [6]byte
	if len(s) == 14 && s[4] == '.' && s[9] == '.' {
		h := s[0:4] + s[5:9] + s[10:14]
		for i := 0; i < 6; i++ {
			v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
			if err != nil {
				return m, false
			}
			m[i] = byte(v)
		}
		return m, true
	}
	sep := byte(0)
	for _, c := range []byte{':', '-', '.'} {
		if strings.IndexByte(s, c) >= 0 {
			sep = c
			break
		}
	}
	if sep == 0 {
		return m, false
	}
	parts := strings.Split(s, string(sep))
	if len(parts) != 6 {
		return m, false
	}
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return m, false
		}
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return m, false
		}
		m[i] = byte(v)
	}
	return m, true
}

func isMAC(s string) bool { _, ok := parseMAC(s); return ok }
