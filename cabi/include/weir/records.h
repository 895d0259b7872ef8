/*
 * weir/records.h - the layout of the records weir's kernel programs write.
 *
 * SPDX-License-Identifier: MIT
 *
 * Copyright (c) 2026 The weir authors.
 *
 * Permission is hereby granted, free of charge, to any person obtaining a
 * copy of this software and associated documentation files (the "Software"),
 * to deal in the Software without restriction, including without limitation
 * the rights to use, copy, modify, merge, publish, distribute, sublicense,
 * and/or sell copies of the Software, and to permit persons to whom the
 * Software is furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
 * FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 * DEALINGS IN THE SOFTWARE.
 *
 * ---------------------------------------------------------------------------
 *
 * weir's BPF programs (bpf/) write records into BPF ring buffers, and the
 * host hands each one to plugins unchanged as the bytes of one weir_event
 * (see weir/plugin.h): a WEIR_KIND_PACKET event's data starts with a
 * struct weir_pkt_record, a WEIR_KIND_SYSCALL event's with a struct
 * weir_sys_record; weir_packet_view() and weir_syscall_view() read them.
 * This header is the one definition of those records; the BPF programs
 * include it, and the Go mirror in package cabi (cabi/record.go,
 * cabi/syscall.go) is checked against it by a layout test.
 *
 * Conventions:
 *
 *  - Every record starts with a struct weir_record_hdr: the record type,
 *    the version of that type's layout, the record's total size, and a
 *    timestamp together with the clock it was taken on. The type-specific
 *    fields follow it, then the payload.
 *
 *  - All fields are in the byte order of the host that captured the record.
 *    Every record header is a multiple of 8 bytes, so the payload that
 *    follows starts 8-byte aligned when the record does.
 *
 *  - A record's layout never changes without its version changing. A
 *    reader checks type and version before it reads anything else and
 *    refuses versions it does not know.
 *
 *  - Timestamps. The kernel writes bpf_ktime_get_ns(), which is
 *    CLOCK_MONOTONIC, and says so in weir_record_hdr.clock. The host does
 *    not rewrite the record (it may lie in a read-only kernel ring); it
 *    converts the time to Unix nanoseconds (CLOCK_REALTIME) in the event
 *    descriptor's weir_event.ts_ns instead. So a plugin that wants wall
 *    clock time reads weir_event.ts_ns, which weir_packet_view() and
 *    weir_syscall_view() do; the record's own ts_ns is on the clock its
 *    clock field names. A host that stores records after converting their
 *    time sets clock to WEIR_CLOCK_REALTIME.
 *
 *  - Reserved fields must be 0 when written and are ignored when read.
 *
 * The header compiles as C99, C11 and C++. Built for BPF (__bpf__ defined),
 * it expects the uint*_t types from vmlinux.h, included before it, and
 * declares only the layout.
 */
#ifndef WEIR_RECORDS_H
#define WEIR_RECORDS_H

#if !defined(__bpf__)
#include <stdint.h>
#include <string.h>

#include "plugin.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Record types (weir_record_hdr.type). They match the weir_event_kind the
 * host gives the record's event: a packet record travels as a
 * WEIR_KIND_PACKET event, a syscall record as a WEIR_KIND_SYSCALL event.
 */
/* A captured packet: struct weir_pkt_record, then the packet bytes. */
#define WEIR_RECORD_PACKET 1
/* A syscall: struct weir_sys_record, then its strings (see there). */
#define WEIR_RECORD_SYSCALL 2

/*
 * Clocks a record timestamp can be on (weir_record_hdr.clock).
 */
enum weir_record_clock {
	/* No timestamp: ts_ns is 0. */
	WEIR_CLOCK_NONE = 0,
	/* CLOCK_MONOTONIC nanoseconds, as bpf_ktime_get_ns() returns them:
	 * what the kernel programs write. */
	WEIR_CLOCK_MONOTONIC = 1,
	/* Nanoseconds since the Unix epoch (CLOCK_REALTIME): what a host
	 * writes after converting a timestamp, and what weir_event.ts_ns
	 * always is. */
	WEIR_CLOCK_REALTIME = 2,
	/* CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns()). Reserved:
	 * weir does not write it today. */
	WEIR_CLOCK_BOOTTIME = 3
};

/*
 * struct weir_record_hdr - the 32-byte prefix of every kernel record.
 */
struct weir_record_hdr {
	/* Time the record was made, in nanoseconds on the clock named by
	 * clock (WEIR_CLOCK_MONOTONIC as the kernel writes it). */
	uint64_t ts_ns;
	/* Per-CPU sequence number of records of this type: consecutive
	 * records from one CPU differ by 1, so a gap means records lost to a
	 * full ring. */
	uint64_t seq;
	/* WEIR_RECORD_* type; says which struct this prefix begins. */
	uint16_t type;
	/* Version of that type's layout, prefix included (for a packet
	 * record, WEIR_PKT_RECORD_VERSION). */
	uint16_t version;
	/* Size of the record in bytes: the type's header plus its payload.
	 * The ring may pad a record beyond it (size classes); readers ignore
	 * any bytes past size. */
	uint32_t size;
	/* CPU the program ran on (and whose ring holds the record). */
	uint32_t cpu;
	/* enum weir_record_clock: the clock ts_ns is on. */
	uint8_t clock;
	/* Reserved, 0. */
	uint8_t reserved[3];
};

/* sizeof(struct weir_record_hdr). */
#define WEIR_RECORD_HDR_SIZE 32

/* Version of the packet record layout; bumped on any change.
 * 1: 56-byte header without size or clock (before records.h).
 * 2: the 64-byte header below, starting with struct weir_record_hdr. */
#define WEIR_PKT_RECORD_VERSION 2

/* Directions (weir_pkt_record.direction). */
#define WEIR_DIR_INGRESS 1
#define WEIR_DIR_EGRESS 2

/*
 * How a packet was chosen by the sampler (weir_pkt_record.sample_mode).
 * Records written before this field had a meaning hold 0 there.
 */
/* Not sampled: sample_rate is 1 and every packet was kept. */
#define WEIR_SAMPLE_NONE 0
/* Drawn at random, independently of every other packet, with probability
 * 1/sample_rate. */
#define WEIR_SAMPLE_RANDOM 1
/* Chosen by a hash of its flow (addresses, protocol and ports, in either
 * order), so that every packet of the flow in both directions was kept and
 * about 1 flow in sample_rate is kept. */
#define WEIR_SAMPLE_FLOW 2

/* Capture hooks (weir_pkt_record.hook). */
#define WEIR_HOOK_XDP 1
#define WEIR_HOOK_TCX 2

/*
 * Parse flags (weir_pkt_record.parse_flags). The transport header and IPv6
 * extension headers are checked against the packet's length, the link and
 * IP headers against the part read by direct packet access, which under
 * TCX can end before the packet does (a non-linear skb). l4_off can lie
 * beyond cap_len.
 */
/* l3_off and l3_proto are valid. */
#define WEIR_PARSE_L3 (1u << 0)
/* l4_off and l4_proto are valid. */
#define WEIR_PARSE_L4 (1u << 1)
/* An IP fragment that carries no transport header (not the first of
 * several). */
#define WEIR_PARSE_FRAGMENT (1u << 2)
/* A header ran past the packet's end or past the 1024-byte parse limit. */
#define WEIR_PARSE_TRUNCATED (1u << 3)
/* More IPv6 extension headers than the parser's bound. */
#define WEIR_PARSE_EXT_LIMIT (1u << 4)

/* Sentinel for an offset that is not known (l3_off, l4_off). */
#define WEIR_OFF_NONE 0xffff

/*
 * struct weir_pkt_record - the fixed 64-byte header of a packet record
 * (hdr.type WEIR_RECORD_PACKET). cap_len bytes of the packet follow it,
 * starting at its Ethernet header, and hdr.size is
 * WEIR_PKT_RECORD_SIZE + cap_len.
 */
struct weir_pkt_record {
	/* The common prefix. */
	struct weir_record_hdr hdr;
	/* Interface index the packet was seen on. */
	uint32_t ifindex;
	/* Length of the packet on the wire (all fragments for XDP
	 * multi-buffer). */
	uint32_t orig_len;
	/* Number of packet bytes that follow this header, <= orig_len. */
	uint32_t cap_len;
	/* 1-in-N sampling rate in force when the packet was kept (1 = all):
	 * each kept packet stands for sample_rate packets (sample_mode
	 * WEIR_SAMPLE_RANDOM) or its flow for sample_rate flows
	 * (WEIR_SAMPLE_FLOW). */
	uint32_t sample_rate;
	/* WEIR_DIR_INGRESS or WEIR_DIR_EGRESS. */
	uint8_t direction;
	/* WEIR_HOOK_XDP or WEIR_HOOK_TCX. */
	uint8_t hook;
	/* WEIR_PARSE_* bits. */
	uint8_t parse_flags;
	/* Number of VLAN tags (802.1Q/802.1ad) parsed, at most 2. */
	uint8_t vlan_depth;
	/* EtherType of the network layer (0x0800, 0x86dd, ...), 0 if none. */
	uint16_t l3_proto;
	/* Offset of the network header from the start of the packet. */
	uint16_t l3_off;
	/* Offset of the transport header, WEIR_OFF_NONE if not found. */
	uint16_t l4_off;
	/* IP protocol number of the transport layer (6, 17, 1, 58...). */
	uint8_t l4_proto;
	/* WEIR_SAMPLE_*: how the sampler chose this packet. This byte was
	 * reserved (0) before sampling modes; the layout and version did not
	 * change, so a reader of version 2 records reads 0 from older
	 * programs, which sampled 1 in sample_rate by counting. */
	uint8_t sample_mode;
	/* VLAN TCI of the outer tag, 0 when there is none. */
	uint16_t vlan_tci;
	/* Reserved, 0. */
	uint16_t reserved1;
};

/* sizeof(struct weir_pkt_record). */
#define WEIR_PKT_RECORD_SIZE 64

/* Version of the syscall record layout; bumped on any change.
 * 1: the 168-byte header below, then 0 or 2 string slots. */
#define WEIR_SYS_RECORD_VERSION 1

/* Bytes in each of a syscall record's two string slots. A string of
 * WEIR_SYS_STR_MAX bytes or more (not counting its NUL) is cut to
 * WEIR_SYS_STR_MAX - 1 and marked truncated; one of WEIR_SYS_STR_MAX - 1
 * bytes fits whole. */
#define WEIR_SYS_STR_MAX 256

/*
 * What a syscall record decodes (weir_sys_record.decode): which of its
 * fields beyond the raw arguments hold something. The host's table of
 * syscalls picks the kind for each syscall number of the running
 * architecture; the raw arguments always say the rest (fd, count, flags).
 */
/* Nothing beyond the raw arguments. */
#define WEIR_SYS_DEC_NONE 0
/* family, addr and port: a socket address the call passed or received. */
#define WEIR_SYS_DEC_SOCKADDR 1
/* str0: a path. */
#define WEIR_SYS_DEC_PATH 2
/* str0 and str1: two paths (rename: old, new). */
#define WEIR_SYS_DEC_PATH2 3
/* str0: the program's path; str1: its first arguments, each ended by a
 * NUL byte. */
#define WEIR_SYS_DEC_EXEC 4
/* family, addr and port: the local address of the socket args[0] names
 * (listen). */
#define WEIR_SYS_DEC_SOCKFD 5

/*
 * Flags of a syscall record (weir_sys_record.flags).
 */
/* str0 was longer than WEIR_SYS_STR_MAX - 1 bytes and was cut there. */
#define WEIR_SYS_STR0_TRUNCATED (1u << 0)
/* str1 was cut (for WEIR_SYS_DEC_EXEC: or there were more arguments). */
#define WEIR_SYS_STR1_TRUNCATED (1u << 1)
/* Reading str0 from user memory failed: str0_len is 0. */
#define WEIR_SYS_STR0_FAULT (1u << 2)
/* Reading str1 from user memory failed: str1_len is 0. */
#define WEIR_SYS_STR1_FAULT (1u << 3)
/* family, addr and port hold an address. */
#define WEIR_SYS_ADDR (1u << 4)
/* Reading the address failed, or there was none to read (a NULL
 * pointer, a failed call that returns one). */
#define WEIR_SYS_ADDR_FAULT (1u << 5)
/* The call does not return (exit, exit_group): the record was made at
 * entry, and ret and duration_ns are 0. */
#define WEIR_SYS_NO_RETURN (1u << 6)

/*
 * struct weir_sys_record - the fixed 168-byte header of a syscall record
 * (hdr.type WEIR_RECORD_SYSCALL). The kernel writes one when the call
 * returns, pairing it with its entry on the same thread, so it carries the
 * arguments, the return value and the duration. hdr.ts_ns is the time of
 * the return; the call started duration_ns before it.
 *
 * When decode is WEIR_SYS_DEC_PATH, WEIR_SYS_DEC_PATH2 or
 * WEIR_SYS_DEC_EXEC, two slots of WEIR_SYS_STR_MAX bytes follow the
 * header, str0 in the first and str1 in the second, and hdr.size is
 * WEIR_SYS_RECORD_SIZE + 2 * WEIR_SYS_STR_MAX; otherwise nothing follows
 * and hdr.size is WEIR_SYS_RECORD_SIZE. Strings are what user memory held
 * when the program read it (paths at return, exec arguments at entry); a
 * second thread can change them around the call.
 */
struct weir_sys_record {
	/* The common prefix. */
	struct weir_record_hdr hdr;
	/* How long the call took, in nanoseconds. */
	uint64_t duration_ns;
	/* The return value: a negative errno for a failed call. */
	int64_t ret;
	/* The six argument registers at entry. */
	uint64_t args[6];
	/* cgroup v2 id of the calling task. */
	uint64_t cgroup_id;
	/* Process id (the kernel's tgid) and thread id, in the initial pid
	 * namespace. */
	uint32_t pid;
	uint32_t tid;
	/* Syscall number, of the architecture that wrote the record. */
	uint32_t nr;
	/* 1-in-N sampling rate in force when the call was kept (1 = all). */
	uint32_t sample_rate;
	/* WEIR_SYS_DEC_*: which fields below are decoded. */
	uint16_t decode;
	/* WEIR_SYS_* flags. */
	uint16_t flags;
	/* Valid bytes of str0 and str1, without a terminating NUL. */
	uint16_t str0_len;
	uint16_t str1_len;
	/* Address family (AF_INET, AF_INET6, AF_UNIX...), 0 if none. */
	uint16_t family;
	/* Port, in host byte order (AF_INET, AF_INET6). */
	uint16_t port;
	/* Reserved, 0. */
	uint32_t reserved0;
	/* The address: 4 bytes for AF_INET, 16 for AF_INET6, in network
	 * byte order; for AF_UNIX the first 16 bytes of the path. */
	uint8_t addr[16];
	/* The task's name (comm) when the call returned, NUL-padded. */
	char comm[16];
};

/* sizeof(struct weir_sys_record). */
#define WEIR_SYS_RECORD_SIZE 168

#if !defined(__bpf__)

/*
 * Results of weir_packet_view() and weir_syscall_view(). The Go
 * (cabi.ReadPacket, cabi.ReadSyscall) and Rust (weir_ffi::records) readers
 * make the same checks in the same order.
 */
typedef enum weir_record_status {
	/* The record is well formed; the view is filled in. */
	WEIR_RECORD_OK = 0,
	/* Fewer bytes than the record header, or than hdr.size says. */
	WEIR_RECORD_SHORT = 1,
	/* Not a record of the type asked for: the event is not
	 * WEIR_KIND_PACKET (WEIR_KIND_SYSCALL), or hdr.type is not
	 * WEIR_RECORD_PACKET (WEIR_RECORD_SYSCALL). */
	WEIR_RECORD_BAD_TYPE = 2,
	/* A record of a version this header does not describe. */
	WEIR_RECORD_BAD_VERSION = 3,
	/* The lengths disagree. Packet: hdr.size is not WEIR_PKT_RECORD_SIZE
	 * + cap_len, or cap_len exceeds orig_len. Syscall: hdr.size is not
	 * what decode implies, a string length is set where decode has no
	 * strings, or str0_len or str1_len does not fit its slot. */
	WEIR_RECORD_BAD_LENGTH = 4
} weir_record_status;

/*
 * struct weir_packet_view - what weir_packet_view() reads out of a packet
 * event. It borrows the event's bytes: frame is valid exactly as long as
 * the event's data is (for a sink or processor, the duration of the call).
 */
struct weir_packet_view {
	/* A copy of the record header (read with memcpy, so the event's bytes
	 * need no particular alignment). */
	struct weir_pkt_record header;
	/* Capture time in Unix nanoseconds: the event's ts_ns, which the host
	 * converted from the record's CLOCK_MONOTONIC time. */
	uint64_t ts_ns;
	/* The captured packet, starting at its Ethernet header; points into the
	 * event's bytes. NULL when frame_len is 0. */
	const uint8_t *frame;
	/* Number of bytes at frame: header.cap_len, or fewer when a processor
	 * shortened the event (it then carries WEIR_EVENT_TRUNCATED). */
	uint32_t frame_len;
	/* Length of the packet on the wire (header.orig_len). */
	uint32_t wire_len;
	/* Interface index (header.ifindex). */
	uint32_t ifindex;
	/* WEIR_DIR_INGRESS or WEIR_DIR_EGRESS (header.direction). */
	uint8_t direction;
	/* Reserved, 0. */
	uint8_t reserved[3];
};

/*
 * weir_packet_view - reads the packet record in ev into *view.
 *
 * ev must be a WEIR_KIND_PACKET event whose bytes start with a struct
 * weir_pkt_record of version WEIR_PKT_RECORD_VERSION. The event may be
 * shorter than hdr.size only when it carries WEIR_EVENT_TRUNCATED (a
 * processor cut it); the frame then ends where the event does. The bytes
 * are not copied, apart from the header, and need not be aligned.
 *
 * Returns WEIR_RECORD_OK and fills *view, or another weir_record_status
 * and leaves *view zeroed. Never reads past ev->len bytes. Safe to call
 * concurrently on different views.
 */
static inline weir_record_status weir_packet_view(const weir_event *ev,
						  struct weir_packet_view *view)
{
	struct weir_pkt_record h;
	uint32_t avail;

	memset(view, 0, sizeof(*view));
	if (ev->kind != WEIR_KIND_PACKET)
		return WEIR_RECORD_BAD_TYPE;
	if (ev->data == NULL || ev->len < WEIR_RECORD_HDR_SIZE)
		return WEIR_RECORD_SHORT;
	memcpy(&h.hdr, ev->data, WEIR_RECORD_HDR_SIZE);
	if (h.hdr.type != WEIR_RECORD_PACKET)
		return WEIR_RECORD_BAD_TYPE;
	if (h.hdr.version != WEIR_PKT_RECORD_VERSION)
		return WEIR_RECORD_BAD_VERSION;
	if (ev->len < WEIR_PKT_RECORD_SIZE)
		return WEIR_RECORD_SHORT;
	memcpy(&h, ev->data, WEIR_PKT_RECORD_SIZE);
	if (h.cap_len > h.orig_len || h.hdr.size < WEIR_PKT_RECORD_SIZE ||
	    h.hdr.size - WEIR_PKT_RECORD_SIZE != h.cap_len)
		return WEIR_RECORD_BAD_LENGTH;
	avail = ev->len - WEIR_PKT_RECORD_SIZE;
	if (avail < h.cap_len && (ev->flags & WEIR_EVENT_TRUNCATED) == 0)
		return WEIR_RECORD_SHORT;
	view->header = h;
	view->ts_ns = ev->ts_ns;
	view->frame_len = avail < h.cap_len ? avail : h.cap_len;
	view->frame = view->frame_len > 0 ? ev->data + WEIR_PKT_RECORD_SIZE : NULL;
	view->wire_len = h.orig_len;
	view->ifindex = h.ifindex;
	view->direction = h.direction;
	return WEIR_RECORD_OK;
}

/*
 * struct weir_syscall_view - what weir_syscall_view() reads out of a
 * syscall event. It borrows the event's bytes: str0 and str1 are valid
 * exactly as long as the event's data is (for a sink or processor, the
 * duration of the call).
 */
struct weir_syscall_view {
	/* A copy of the record header (read with memcpy, so the event's bytes
	 * need no particular alignment): pid, tid, nr, ret, duration_ns,
	 * args, decode, flags, the address and comm are all here. */
	struct weir_sys_record header;
	/* Time the call returned, in Unix nanoseconds: the event's ts_ns,
	 * which the host converted from the record's CLOCK_MONOTONIC time. */
	uint64_t ts_ns;
	/* The first string (a path, the exec'd program), str0_len bytes in
	 * the event's first string slot. Not NUL-terminated as far as the
	 * view promises: use str0_len. NULL when the record has no string
	 * slots (decode other than WEIR_SYS_DEC_PATH, WEIR_SYS_DEC_PATH2 or
	 * WEIR_SYS_DEC_EXEC); an empty string (str0_len 0, str0 not NULL) when
	 * it has them but the kernel read nothing (see WEIR_SYS_STR0_FAULT). */
	const char *str0;
	/* The second string (rename's new path; exec's arguments, each ended
	 * by a NUL byte), str1_len bytes in the second slot. NULL unless
	 * decode is WEIR_SYS_DEC_PATH2 or WEIR_SYS_DEC_EXEC. */
	const char *str1;
	/* Valid bytes at str0 (< WEIR_SYS_STR_MAX) and str1
	 * (<= WEIR_SYS_STR_MAX); 0 when the pointer is NULL. */
	uint16_t str0_len;
	uint16_t str1_len;
	/* Reserved, 0. */
	uint8_t reserved[4];
};

/*
 * weir_syscall_view - reads the syscall record in ev into *view.
 *
 * ev must be a WEIR_KIND_SYSCALL event whose bytes start with a struct
 * weir_sys_record of version WEIR_SYS_RECORD_VERSION, followed by its two
 * string slots when decode says it has strings. hdr.size must be what
 * decode implies (WEIR_SYS_RECORD_SIZE, or that plus 2 * WEIR_SYS_STR_MAX),
 * and the event must hold all of it: unlike weir_packet_view(), a cut
 * event is refused (WEIR_RECORD_SHORT) whatever its flags, because weir's
 * syscall source sets WEIR_EVENT_TRUNCATED on whole records whose strings
 * the kernel cut (WEIR_SYS_STR*_TRUNCATED), so the flag does not say the
 * bytes were shortened. Bytes past hdr.size are ignored. The checks are
 * those of cabi.ReadSyscall in Go, in the same order. The bytes are not
 * copied, apart from the header, and need not be aligned.
 *
 * Returns WEIR_RECORD_OK and fills *view, or another weir_record_status
 * and leaves *view zeroed. Never reads past ev->len bytes. Safe to call
 * concurrently on different views.
 */
static inline weir_record_status weir_syscall_view(const weir_event *ev,
						   struct weir_syscall_view *view)
{
	struct weir_sys_record h;
	uint32_t want;
	int strs;

	memset(view, 0, sizeof(*view));
	if (ev->kind != WEIR_KIND_SYSCALL)
		return WEIR_RECORD_BAD_TYPE;
	if (ev->data == NULL || ev->len < WEIR_RECORD_HDR_SIZE)
		return WEIR_RECORD_SHORT;
	memcpy(&h.hdr, ev->data, WEIR_RECORD_HDR_SIZE);
	if (h.hdr.type != WEIR_RECORD_SYSCALL)
		return WEIR_RECORD_BAD_TYPE;
	if (h.hdr.version != WEIR_SYS_RECORD_VERSION)
		return WEIR_RECORD_BAD_VERSION;
	if (ev->len < WEIR_SYS_RECORD_SIZE)
		return WEIR_RECORD_SHORT;
	memcpy(&h, ev->data, WEIR_SYS_RECORD_SIZE);
	strs = h.decode == WEIR_SYS_DEC_PATH || h.decode == WEIR_SYS_DEC_PATH2 ||
	       h.decode == WEIR_SYS_DEC_EXEC;
	want = WEIR_SYS_RECORD_SIZE;
	if (strs)
		want += 2 * WEIR_SYS_STR_MAX;
	else if (h.str0_len != 0 || h.str1_len != 0)
		return WEIR_RECORD_BAD_LENGTH;
	if (h.hdr.size != want)
		return WEIR_RECORD_BAD_LENGTH;
	if (ev->len < want)
		return WEIR_RECORD_SHORT;
	if (h.str0_len >= WEIR_SYS_STR_MAX || h.str1_len > WEIR_SYS_STR_MAX)
		return WEIR_RECORD_BAD_LENGTH;
	view->header = h;
	view->ts_ns = ev->ts_ns;
	if (strs) {
		view->str0 = (const char *)ev->data + WEIR_SYS_RECORD_SIZE;
		view->str0_len = h.str0_len;
		if (h.decode != WEIR_SYS_DEC_PATH) {
			view->str1 = view->str0 + WEIR_SYS_STR_MAX;
			view->str1_len = h.str1_len;
		}
	}
	return WEIR_RECORD_OK;
}

#endif /* !__bpf__ */

#ifdef __cplusplus
}
#endif

#endif /* WEIR_RECORDS_H */
