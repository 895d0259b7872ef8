// Package pcapng writes and reads packet captures in the pcapng format
// (IETF draft-ietf-opsawg-pcapng), the format tshark and Wireshark read
// natively, and provides the "pcapng" sink connector, which writes packet
// events (cabi.KindPacket) to a file or standard output with a Writer.
//
// A Writer streams one section: a section header block, then one interface
// description block per interface added with AddInterface (link type, snap
// length, name, and if_tsresol=9 so that timestamps carry nanoseconds), then
// one enhanced packet block per packet. The sink gives a packet the kernel
// sampled (a record with a sample rate above 1) a packet comment saying how,
// such as "weir: sampled 1 in 10 at random", which Wireshark shows and
// tshark prints as frame.comment; unsampled packets get none. Output is
// buffered; Flush pushes it
// to the underlying writer and Close flushes and, for files opened with
// Create, closes the file. A write that stops part way keeps the whole
// blocks it wrote: a regular file made by Create is cut back to the last of
// them, and Packets counts exactly the packets that arrived. The error
// sticks. A Writer is not safe for concurrent use.
//
// The Reader is deliberately minimal: it reads the blocks a Writer produces
// (and any other well-formed section in either byte order), skipping block
// types it does not know, and rejects malformed input with an error rather
// than panicking. Tests use it to check what a Writer wrote.
package pcapng
