//! Hand-written mirrors of the structs and constants in
//! cabi/include/weir/plugin.h (ABI 1.1). Every struct is #[repr(C)] with
//! the header's fields in the header's order; never reorder or insert
//! fields, only append what a newer header appends.
//!
//! The const asserts below fail the build when a struct's size or alignment
//! differs from the header's (on 64-bit targets, the only ones weir
//! supports). Field offsets cannot be computed in a const on Rust 1.63
//! (offset_of! needs 1.77), so `cargo test` checks them instead, and
//! plugins/template_test.go runs every event field through the plugin.
//!
//! The structs that hold or take a plugin instance are generic over the
//! instance type `I`, the plugin's own struct (weir_instance is opaque to
//! the host). A plugin names them with aliases, e.g.
//! `type ConnectorType = weir_ffi::ConnectorType<Instance>;`.

use std::os::raw::c_char;

pub const WEIR_ABI_MAJOR: u16 = 1;
pub const WEIR_ABI_MINOR: u16 = 1;

/// weir_status: a C enum, 32 bits wide.
pub type Status = i32;
pub const WEIR_OK: Status = 0;
pub const WEIR_TIMEOUT: Status = 1;
pub const WEIR_EOF: Status = 2;
pub const WEIR_RETRY: Status = 3;
pub const WEIR_ERROR: Status = -1;

pub const WEIR_LOG_DEBUG: i32 = 0;
pub const WEIR_LOG_INFO: i32 = 1;
pub const WEIR_LOG_WARN: i32 = 2;
pub const WEIR_LOG_ERROR: i32 = 3;

pub const WEIR_METRIC_COUNTER: i32 = 0;
pub const WEIR_METRIC_GAUGE: i32 = 1;

/// Event kinds (weir_event_kind); kinds from WEIR_KIND_PLUGIN_MIN up
/// belong to plugins.
pub const WEIR_KIND_RAW: u16 = 0;
pub const WEIR_KIND_PACKET: u16 = 1;
pub const WEIR_KIND_SYSCALL: u16 = 2;
pub const WEIR_KIND_JSON: u16 = 3;
pub const WEIR_KIND_TEXT: u16 = 4;
pub const WEIR_KIND_TICK: u16 = 5;
pub const WEIR_KIND_PLUGIN_MIN: u16 = 0x8000;

/// Bits of Event::flags. Bits 2-7 (RESERVED_FLAGS) are weir's and must be
/// 0; bits 8-15 (PLUGIN_FLAGS) belong to plugins.
pub const WEIR_EVENT_DROP: u16 = 1 << 0;
pub const WEIR_EVENT_TRUNCATED: u16 = 1 << 1;
pub const RESERVED_FLAGS: u16 = 0x00fc;
pub const PLUGIN_FLAGS: u16 = 0xff00;

/// Bits of SourceOps::flags.
pub const WEIR_SOURCE_WANTS_ACKS: u32 = 1 << 0;
pub const WEIR_SOURCE_UNPAUSABLE: u32 = 1 << 1;

/// Opaque host handle (weir_host).
#[repr(C)]
pub struct Host {
    _private: [u8; 0],
}

/// struct weir_event.
#[repr(C)]
pub struct Event {
    pub ts_ns: u64,
    pub stream_id: u64,
    pub data: *mut u8,
    pub len: u32,
    pub kind: u16,
    pub flags: u16,
}

/// struct weir_batch.
#[repr(C)]
pub struct Batch {
    pub struct_size: u32,
    pub event_size: u32,
    pub capacity: u32,
    pub len: u32,
    pub events: *mut Event,
    pub arena: *mut u8,
    pub arena_cap: u64,
    pub arena_len: u64,
    pub id: u64,
}

/// struct weir_host_api.
#[repr(C)]
pub struct HostApi {
    pub struct_size: u32,
    pub reserved: u32,
    pub log: Option<unsafe extern "C" fn(*mut Host, i32, *const c_char)>,
    pub metric_register:
        Option<unsafe extern "C" fn(*mut Host, *const c_char, i32, *const c_char) -> i32>,
    pub counter_add: Option<unsafe extern "C" fn(*mut Host, i32, u64)>,
    pub gauge_set: Option<unsafe extern "C" fn(*mut Host, i32, i64)>,
    pub wakeup: Option<unsafe extern "C" fn(*mut Host)>,
}

/// struct weir_source_ops.
#[repr(C)]
pub struct SourceOps<I> {
    pub struct_size: u32,
    pub flags: u32,
    pub poll: Option<unsafe extern "C" fn(*mut I, *mut Batch, i64) -> Status>,
    pub ack: Option<unsafe extern "C" fn(*mut I, u64) -> Status>,
    pub fail: Option<unsafe extern "C" fn(*mut I, u64) -> Status>,
}

/// struct weir_sink_ops.
#[repr(C)]
pub struct SinkOps<I> {
    pub struct_size: u32,
    pub flags: u32,
    pub write: Option<unsafe extern "C" fn(*mut I, *const Batch) -> Status>,
}

/// struct weir_processor_ops.
#[repr(C)]
pub struct ProcessorOps<I> {
    pub struct_size: u32,
    pub flags: u32,
    pub process: Option<unsafe extern "C" fn(*mut I, *mut Batch) -> Status>,
}

/// weir_connector_type.create.
pub type CreateFn<I> =
    unsafe extern "C" fn(*const u8, usize, *const HostApi, *mut Host, *mut *mut I) -> Status;
/// An operation that takes only the instance (start, pause, resume, drain,
/// stop).
pub type OpFn<I> = unsafe extern "C" fn(*mut I) -> Status;

/// struct weir_connector_type.
#[repr(C)]
pub struct ConnectorType<I> {
    pub struct_size: u32,
    pub reserved: u32,
    pub id: *const c_char,
    pub description: *const c_char,
    pub config_schema: *const c_char,
    pub create: Option<CreateFn<I>>,
    pub destroy: Option<unsafe extern "C" fn(*mut I)>,
    pub last_error: Option<unsafe extern "C" fn(*mut I) -> *const c_char>,
    pub connect: Option<unsafe extern "C" fn(*mut I, u32) -> Status>,
    pub start: Option<OpFn<I>>,
    pub pause: Option<OpFn<I>>,
    pub resume: Option<OpFn<I>>,
    pub drain: Option<OpFn<I>>,
    pub stop: Option<OpFn<I>>,
    pub source: *const SourceOps<I>,
    pub sink: *const SinkOps<I>,
    pub processor: *const ProcessorOps<I>,
}

/// struct weir_plugin.
#[repr(C)]
pub struct Plugin<I> {
    pub abi_major: u16,
    pub abi_minor: u16,
    pub struct_size: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub n_types: u32,
    pub reserved: u32,
    pub types: *const *const ConnectorType<I>,
}

/// Lets the static descriptor tables, which hold raw pointers to other
/// statics and string literals, live in `static`s. They are never written.
#[repr(transparent)]
pub struct Static<T>(pub T);

unsafe impl<T> Sync for Static<T> {}

// Sizes and alignments as the C compiler lays the header out on 64-bit
// targets (cabi/layout_test.go checks the same numbers for the Go mirrors).
// The instance type does not change them (only pointers to it are held);
// u8 stands in for it.
#[cfg(target_pointer_width = "64")]
mod layout {
    use super::*;
    use std::mem::{align_of, size_of};

    const _: () = assert!(size_of::<Event>() == 32 && align_of::<Event>() == 8);
    const _: () = assert!(size_of::<Batch>() == 56 && align_of::<Batch>() == 8);
    const _: () = assert!(size_of::<HostApi>() == 48 && align_of::<HostApi>() == 8);
    const _: () = assert!(size_of::<SourceOps<u8>>() == 32 && align_of::<SourceOps<u8>>() == 8);
    const _: () = assert!(size_of::<SinkOps<u8>>() == 16 && align_of::<SinkOps<u8>>() == 8);
    const _: () = assert!(size_of::<ProcessorOps<u8>>() == 16 && align_of::<ProcessorOps<u8>>() == 8);
    const _: () = assert!(size_of::<ConnectorType<u8>>() == 128 && align_of::<ConnectorType<u8>>() == 8);
    const _: () = assert!(size_of::<Plugin<u8>>() == 40 && align_of::<Plugin<u8>>() == 8);
    // Status crosses the boundary as a C enum: 32 bits.
    const _: () = assert!(size_of::<Status>() == 4);
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    #[test]
    fn offsets_match_the_header() {
        let e = MaybeUninit::<Event>::uninit();
        assert_eq!(
            [
                off!(e, ts_ns),
                off!(e, stream_id),
                off!(e, data),
                off!(e, len),
                off!(e, kind),
                off!(e, flags)
            ],
            [0, 8, 16, 24, 28, 30]
        );
        let b = MaybeUninit::<Batch>::uninit();
        assert_eq!(
            [
                off!(b, struct_size),
                off!(b, event_size),
                off!(b, capacity),
                off!(b, len),
                off!(b, events),
                off!(b, arena),
                off!(b, arena_cap),
                off!(b, arena_len),
                off!(b, id)
            ],
            [0, 4, 8, 12, 16, 24, 32, 40, 48]
        );
        let h = MaybeUninit::<HostApi>::uninit();
        assert_eq!(
            [
                off!(h, log),
                off!(h, metric_register),
                off!(h, counter_add),
                off!(h, gauge_set),
                off!(h, wakeup)
            ],
            [8, 16, 24, 32, 40]
        );
        let p = MaybeUninit::<ProcessorOps<u8>>::uninit();
        assert_eq!([off!(p, flags), off!(p, process)], [4, 8]);
        let c = MaybeUninit::<ConnectorType<u8>>::uninit();
        assert_eq!(
            [
                off!(c, id),
                off!(c, create),
                off!(c, destroy),
                off!(c, last_error),
                off!(c, connect),
                off!(c, stop),
                off!(c, source),
                off!(c, sink),
                off!(c, processor)
            ],
            [8, 32, 40, 48, 56, 96, 104, 112, 120]
        );
        let d = MaybeUninit::<Plugin<u8>>::uninit();
        assert_eq!(
            [
                off!(d, abi_minor),
                off!(d, struct_size),
                off!(d, name),
                off!(d, version),
                off!(d, n_types),
                off!(d, types)
            ],
            [2, 4, 8, 16, 24, 32]
        );
    }
}
