//! Mirrors of the kernel records in cabi/include/weir/records.h and a
//! reader for packet records, the Rust twin of weir_packet_view() in C and
//! cabi.ReadPacketEvent in Go: the same checks in the same order.

use crate::plugin::{Event, WEIR_EVENT_TRUNCATED, WEIR_KIND_PACKET};
use std::fmt;
use std::mem::size_of;
use std::ptr;
use std::slice;

/// Record types (WEIR_RECORD_*); they equal the event kind that carries
/// the record.
pub const WEIR_RECORD_PACKET: u16 = 1;
/// Reserved for the syscall record.
pub const WEIR_RECORD_SYSCALL: u16 = 2;

/// Clocks a record timestamp can be on (enum weir_record_clock).
pub const WEIR_CLOCK_NONE: u8 = 0;
pub const WEIR_CLOCK_MONOTONIC: u8 = 1;
pub const WEIR_CLOCK_REALTIME: u8 = 2;
pub const WEIR_CLOCK_BOOTTIME: u8 = 3;

/// Packet record layout version this crate reads (WEIR_PKT_RECORD_VERSION).
pub const WEIR_PKT_RECORD_VERSION: u16 = 2;

/// Directions (PacketRecord::direction).
pub const WEIR_DIR_INGRESS: u8 = 1;
pub const WEIR_DIR_EGRESS: u8 = 2;

/// How the sampler chose a packet (PacketRecord::sample_mode): not sampled
/// (sample_rate 1), a random draw per packet, or a hash of its flow.
pub const WEIR_SAMPLE_NONE: u8 = 0;
pub const WEIR_SAMPLE_RANDOM: u8 = 1;
pub const WEIR_SAMPLE_FLOW: u8 = 2;

/// Capture hooks (PacketRecord::hook).
pub const WEIR_HOOK_XDP: u8 = 1;
pub const WEIR_HOOK_TCX: u8 = 2;

/// Parse flags (PacketRecord::parse_flags); records.h says what each means.
pub const WEIR_PARSE_L3: u8 = 1 << 0;
pub const WEIR_PARSE_L4: u8 = 1 << 1;
pub const WEIR_PARSE_FRAGMENT: u8 = 1 << 2;
pub const WEIR_PARSE_TRUNCATED: u8 = 1 << 3;
pub const WEIR_PARSE_EXT_LIMIT: u8 = 1 << 4;

/// An offset the parser did not find (WEIR_OFF_NONE).
pub const WEIR_OFF_NONE: u16 = 0xffff;

/// struct weir_record_hdr: the 32-byte prefix of every kernel record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordHeader {
    pub ts_ns: u64,
    pub seq: u64,
    pub record_type: u16,
    pub version: u16,
    pub size: u32,
    pub cpu: u32,
    pub clock: u8,
    pub reserved: [u8; 3],
}

/// struct weir_pkt_record: the 64-byte header of a packet record; cap_len
/// packet bytes follow it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketRecord {
    pub hdr: RecordHeader,
    pub ifindex: u32,
    pub orig_len: u32,
    pub cap_len: u32,
    pub sample_rate: u32,
    pub direction: u8,
    pub hook: u8,
    pub parse_flags: u8,
    pub vlan_depth: u8,
    pub l3_proto: u16,
    pub l3_off: u16,
    pub l4_off: u16,
    pub l4_proto: u8,
    /// WEIR_SAMPLE_*: how the sampler chose the packet (0 in records from
    /// programs older than sampling modes, when the byte was reserved).
    pub sample_mode: u8,
    pub vlan_tci: u16,
    pub reserved1: u16,
}

/// WEIR_RECORD_HDR_SIZE and WEIR_PKT_RECORD_SIZE.
pub const WEIR_RECORD_HDR_SIZE: usize = 32;
pub const WEIR_PKT_RECORD_SIZE: usize = 64;

const _: () = assert!(size_of::<RecordHeader>() == WEIR_RECORD_HDR_SIZE);
const _: () = assert!(size_of::<PacketRecord>() == WEIR_PKT_RECORD_SIZE);

/// Why a packet record was refused (weir_record_status without OK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than the record header, or than its size says
    /// (WEIR_RECORD_SHORT).
    Short,
    /// Not a packet event or not a packet record (WEIR_RECORD_BAD_TYPE).
    BadType,
    /// A packet record version this crate does not read
    /// (WEIR_RECORD_BAD_VERSION).
    BadVersion,
    /// size is not header + cap_len, or cap_len exceeds orig_len
    /// (WEIR_RECORD_BAD_LENGTH).
    BadLength,
}

impl RecordError {
    /// The matching weir_record_status value.
    pub fn status(self) -> i32 {
        match self {
            RecordError::Short => 1,
            RecordError::BadType => 2,
            RecordError::BadVersion => 3,
            RecordError::BadLength => 4,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordError::Short => "record shorter than its header or size",
            RecordError::BadType => "not a packet record",
            RecordError::BadVersion => "unknown packet record version",
            RecordError::BadLength => "packet record lengths do not add up",
        })
    }
}

/// A packet record read out of an event or a byte slice. `frame` borrows
/// the record's bytes; the rest are copies.
#[derive(Clone, Copy, Debug)]
pub struct PacketView<'a> {
    /// A copy of the record header (read unaligned).
    pub header: PacketRecord,
    /// Capture time in nanoseconds on `clock`: from an event, its Unix
    /// time (WEIR_CLOCK_REALTIME); from bytes, the record's own.
    pub ts_ns: u64,
    /// WEIR_CLOCK_* the time is on.
    pub clock: u8,
    /// Interface index.
    pub ifindex: u32,
    /// WEIR_DIR_INGRESS or WEIR_DIR_EGRESS.
    pub direction: u8,
    /// Length of the packet on the wire.
    pub wire_len: u32,
    /// The captured bytes from the Ethernet header on.
    pub frame: &'a [u8],
}

/// Reads the packet record at the start of `rec`. Bytes past the record's
/// size (ring padding) are ignored; `rec` need not be aligned.
pub fn read_packet(rec: &[u8]) -> Result<PacketView<'_>, RecordError> {
    let mut v = read(rec, false)?;
    v.ts_ns = v.header.hdr.ts_ns;
    v.clock = v.header.hdr.clock;
    Ok(v)
}

/// Reads the packet record an event carries. The event must be
/// WEIR_KIND_PACKET, and may be shorter than the record only when it has
/// WEIR_EVENT_TRUNCATED (a processor cut it); the frame then ends where
/// the event does. The time is the event's (Unix nanoseconds).
///
/// # Safety
/// `ev.data` must point to `ev.len` readable bytes (or be null with len 0)
/// for as long as the returned view lives, as it does for events the host
/// passes into a call, for the duration of that call.
pub unsafe fn packet_view(ev: &Event) -> Result<PacketView<'_>, RecordError> {
    if ev.kind != WEIR_KIND_PACKET {
        return Err(RecordError::BadType);
    }
    let bytes: &[u8] = if ev.data.is_null() || ev.len == 0 {
        &[]
    } else {
        slice::from_raw_parts(ev.data, ev.len as usize)
    };
    let mut v = read(bytes, ev.flags & WEIR_EVENT_TRUNCATED != 0)?;
    v.ts_ns = ev.ts_ns;
    v.clock = WEIR_CLOCK_REALTIME;
    Ok(v)
}

fn read(rec: &[u8], cut: bool) -> Result<PacketView<'_>, RecordError> {
    if rec.len() < WEIR_RECORD_HDR_SIZE {
        return Err(RecordError::Short);
    }
    // SAFETY: rec holds at least a RecordHeader's bytes, every bit pattern
    // is a valid RecordHeader, and read_unaligned needs no alignment.
    let hdr: RecordHeader = unsafe { ptr::read_unaligned(rec.as_ptr() as *const RecordHeader) };
    if hdr.record_type != WEIR_RECORD_PACKET {
        return Err(RecordError::BadType);
    }
    if hdr.version != WEIR_PKT_RECORD_VERSION {
        return Err(RecordError::BadVersion);
    }
    if rec.len() < WEIR_PKT_RECORD_SIZE {
        return Err(RecordError::Short);
    }
    // SAFETY: as above, for the packet record header.
    let h: PacketRecord = unsafe { ptr::read_unaligned(rec.as_ptr() as *const PacketRecord) };
    if h.cap_len > h.orig_len
        || u64::from(h.hdr.size) != WEIR_PKT_RECORD_SIZE as u64 + u64::from(h.cap_len)
    {
        return Err(RecordError::BadLength);
    }
    let follow = rec.len() - WEIR_PKT_RECORD_SIZE;
    let mut n = h.cap_len as usize;
    if follow < n {
        if !cut {
            return Err(RecordError::Short);
        }
        n = follow;
    }
    Ok(PacketView {
        header: h,
        ts_ns: 0,
        clock: WEIR_CLOCK_NONE,
        ifindex: h.ifindex,
        direction: h.direction,
        wire_len: h.orig_len,
        frame: &rec[WEIR_PKT_RECORD_SIZE..WEIR_PKT_RECORD_SIZE + n],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    #[test]
    fn offsets_match_the_header() {
        let h = MaybeUninit::<RecordHeader>::uninit();
        assert_eq!(
            [
                off!(h, ts_ns),
                off!(h, seq),
                off!(h, record_type),
                off!(h, version),
                off!(h, size),
                off!(h, cpu),
                off!(h, clock),
                off!(h, reserved)
            ],
            [0, 8, 16, 18, 20, 24, 28, 29]
        );
        let p = MaybeUninit::<PacketRecord>::uninit();
        assert_eq!(
            [
                off!(p, hdr),
                off!(p, ifindex),
                off!(p, orig_len),
                off!(p, cap_len),
                off!(p, sample_rate),
                off!(p, direction),
                off!(p, hook),
                off!(p, parse_flags),
                off!(p, vlan_depth),
                off!(p, l3_proto),
                off!(p, l3_off),
                off!(p, l4_off),
                off!(p, l4_proto),
                off!(p, sample_mode),
                off!(p, vlan_tci),
                off!(p, reserved1)
            ],
            [0, 32, 36, 40, 44, 48, 49, 50, 51, 52, 54, 56, 58, 59, 60, 62]
        );
    }

    /// A packet record written byte by byte at the offsets records.h
    /// documents, as the kernel writes it, followed by `frame`, starting at
    /// offset `at` of the returned buffer (to test unaligned records).
    fn record(at: usize, orig_len: u32, frame: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; at + WEIR_PKT_RECORD_SIZE];
        let r = &mut b[at..];
        r[0..8].copy_from_slice(&1_000_000u64.to_ne_bytes()); // ts_ns
        r[8..16].copy_from_slice(&41u64.to_ne_bytes()); // seq
        r[16..18].copy_from_slice(&WEIR_RECORD_PACKET.to_ne_bytes());
        r[18..20].copy_from_slice(&WEIR_PKT_RECORD_VERSION.to_ne_bytes());
        r[20..24].copy_from_slice(&((WEIR_PKT_RECORD_SIZE + frame.len()) as u32).to_ne_bytes());
        r[24..28].copy_from_slice(&3u32.to_ne_bytes()); // cpu
        r[28] = WEIR_CLOCK_MONOTONIC;
        r[32..36].copy_from_slice(&7u32.to_ne_bytes()); // ifindex
        r[36..40].copy_from_slice(&orig_len.to_ne_bytes());
        r[40..44].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        r[44..48].copy_from_slice(&4u32.to_ne_bytes()); // sample_rate
        r[48] = WEIR_DIR_EGRESS;
        r[49] = WEIR_HOOK_TCX;
        r[52..54].copy_from_slice(&0x0800u16.to_ne_bytes());
        r[56..58].copy_from_slice(&WEIR_OFF_NONE.to_ne_bytes());
        r[59] = WEIR_SAMPLE_FLOW;
        b.extend_from_slice(frame);
        b
    }

    fn event(rec: &mut [u8], ts_ns: u64, flags: u16) -> Event {
        Event {
            ts_ns,
            stream_id: 7,
            data: rec.as_mut_ptr(),
            len: rec.len() as u32,
            kind: WEIR_KIND_PACKET,
            flags,
        }
    }

    #[test]
    fn reads_a_packet_record() {
        let frame = [
            0xffu8, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x00,
        ];
        for &at in &[0usize, 1, 8] {
            let mut b = record(at, 1500, &frame);
            let v = read_packet(&b[at..]).unwrap();
            assert_eq!(
                (v.ts_ns, v.clock, v.ifindex, v.direction, v.wire_len),
                (1_000_000, WEIR_CLOCK_MONOTONIC, 7, WEIR_DIR_EGRESS, 1500)
            );
            assert_eq!(v.frame, &frame[..]);
            assert_eq!(
                v.frame.as_ptr(),
                b[at + WEIR_PKT_RECORD_SIZE..].as_ptr(),
                "frame must borrow, not copy"
            );
            assert_eq!(
                (
                    v.header.hdr.seq,
                    v.header.hdr.cpu,
                    v.header.hook,
                    v.header.l3_proto,
                    v.header.l4_off,
                    v.header.sample_rate,
                    v.header.sample_mode
                ),
                (
                    41,
                    3,
                    WEIR_HOOK_TCX,
                    0x0800,
                    WEIR_OFF_NONE,
                    4,
                    WEIR_SAMPLE_FLOW
                )
            );

            let ev = event(&mut b[at..], 1_700_000_000_000_000_000, 0);
            let v = unsafe { packet_view(&ev) }.unwrap();
            assert_eq!(
                (v.ts_ns, v.clock, v.ifindex, v.wire_len),
                (1_700_000_000_000_000_000, WEIR_CLOCK_REALTIME, 7, 1500)
            );
            assert_eq!(v.frame, &frame[..]);
        }
    }

    #[test]
    fn refuses_bad_records() {
        let frame = [1u8, 2, 3, 4];
        let good = record(0, 100, &frame);
        assert_eq!(read_packet(&[]).unwrap_err(), RecordError::Short);
        assert_eq!(read_packet(&good[..31]).unwrap_err(), RecordError::Short);
        assert_eq!(read_packet(&good[..63]).unwrap_err(), RecordError::Short);
        assert_eq!(read_packet(&good[..67]).unwrap_err(), RecordError::Short);
        let mut b = good.clone();
        b[16] = WEIR_RECORD_SYSCALL as u8;
        assert_eq!(read_packet(&b).unwrap_err(), RecordError::BadType);
        let mut b = good.clone();
        b[18] = 1;
        assert_eq!(read_packet(&b).unwrap_err(), RecordError::BadVersion);
        let mut b = good.clone();
        b[36..40].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(read_packet(&b).unwrap_err(), RecordError::BadLength);
        let mut b = good.clone();
        b[20..24].copy_from_slice(&65u32.to_ne_bytes());
        assert_eq!(read_packet(&b).unwrap_err(), RecordError::BadLength);
        // Ring padding past size is fine.
        let mut b = good.clone();
        b.extend_from_slice(&[0; 12]);
        assert_eq!(read_packet(&b).unwrap().frame, &frame[..]);

        // An event cut by a processor: only with WEIR_EVENT_TRUNCATED.
        let mut b = good.clone();
        let mut ev = event(&mut b, 5, 0);
        ev.len -= 1;
        assert_eq!(unsafe { packet_view(&ev) }.unwrap_err(), RecordError::Short);
        ev.flags = WEIR_EVENT_TRUNCATED;
        assert_eq!(unsafe { packet_view(&ev) }.unwrap().frame, &frame[..3]);
        ev.kind = 0;
        assert_eq!(
            unsafe { packet_view(&ev) }.unwrap_err(),
            RecordError::BadType
        );
        let empty = Event {
            ts_ns: 0,
            stream_id: 0,
            data: std::ptr::null_mut(),
            len: 0,
            kind: WEIR_KIND_PACKET,
            flags: 0,
        };
        assert_eq!(
            unsafe { packet_view(&empty) }.unwrap_err(),
            RecordError::Short
        );
    }
}
