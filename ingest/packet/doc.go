// Package packet captures packets with eBPF: it loads the XDP and TCX
// programs built from bpf/packet.c, attaches them to interfaces, and gives
// access to the per-CPU ring buffers they write records into.
//
// Each record is a Header (cabi.PacketRecord, the Go mirror of struct
// weir_pkt_record in cabi/include/weir/records.h) followed by the captured bytes of the packet,
// starting at its Ethernet header. Open returns a Capture whose Reader hands
// out batches of cabi.Event descriptors that point at those records in ring
// memory (Kind cabi.KindPacket, StreamID the ifindex, Len HeaderSize plus
// the captured length, TsNs in Unix nanoseconds); Decode splits a record
// into its header and bytes.
//
// In the kernel each packet is counted as seen, parsed, passed to the filter
// hook, sampled 1 in Config.SampleRate (by a random draw per packet, or by
// a hash of its flow: Config.SampleMode), truncated to Config.Snaplen and
// written to the ring of the CPU it was seen on; every record carries the
// rate and how its packet was chosen. Counters reports what
// happened to every packet: seen = filtered + sampled out + emitted + ring
// full, exactly.
//
// The filter hook is a placeholder that keeps every packet; Config.Filter
// replaces its body before load (see weir_filter in bpf/packet.c for the
// contract). Source wraps a Capture as the runtime's "packet" source
// connector, registered from init.
//
// The programs never alter traffic. The BPF objects are generated with
// bpf2go and committed (packet_bpfel.go, packet_bpfel.o); `make generate`
// rebuilds them.
package packet
