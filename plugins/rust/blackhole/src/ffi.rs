//! Hand-written mirrors of the structs and constants in
//! cabi/include/weir/plugin.h (ABI 1.0). Every struct is #[repr(C)] and
//! laid out exactly as the header lays it out; fields are never reordered.

#![allow(dead_code)]

use std::os::raw::c_char;

pub const WEIR_ABI_MAJOR: u16 = 1;
pub const WEIR_ABI_MINOR: u16 = 0;

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

pub const WEIR_KIND_TICK: u16 = 5;
pub const WEIR_KIND_PLUGIN_MIN: u16 = 0x8000;

/// Weir's flag bits that the header leaves unassigned (bits 2-7).
pub const RESERVED_FLAGS: u16 = 0x00fc;

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

/// struct weir_sink_ops.
#[repr(C)]
pub struct SinkOps {
    pub struct_size: u32,
    pub flags: u32,
    pub write: Option<unsafe extern "C" fn(*mut Instance, *const Batch) -> Status>,
}

/// The plugin's own instance type, opaque to the host (weir_instance).
pub use crate::Instance;

/// struct weir_connector_type. Role tables this plugin does not offer are
/// declared as opaque pointers.
#[repr(C)]
pub struct ConnectorType {
    pub struct_size: u32,
    pub reserved: u32,
    pub id: *const c_char,
    pub description: *const c_char,
    pub config_schema: *const c_char,
    pub create: Option<
        unsafe extern "C" fn(*const u8, usize, *const HostApi, *mut Host, *mut *mut Instance) -> Status,
    >,
    pub destroy: Option<unsafe extern "C" fn(*mut Instance)>,
    pub last_error: Option<unsafe extern "C" fn(*mut Instance) -> *const c_char>,
    pub connect: Option<unsafe extern "C" fn(*mut Instance, u32) -> Status>,
    pub start: Option<unsafe extern "C" fn(*mut Instance) -> Status>,
    pub pause: Option<unsafe extern "C" fn(*mut Instance) -> Status>,
    pub resume: Option<unsafe extern "C" fn(*mut Instance) -> Status>,
    pub drain: Option<unsafe extern "C" fn(*mut Instance) -> Status>,
    pub stop: Option<unsafe extern "C" fn(*mut Instance) -> Status>,
    pub source: *const u8,
    pub sink: *const SinkOps,
    pub processor: *const u8,
}

/// struct weir_plugin.
#[repr(C)]
pub struct Plugin {
    pub abi_major: u16,
    pub abi_minor: u16,
    pub struct_size: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub n_types: u32,
    pub reserved: u32,
    pub types: *const *const ConnectorType,
}

/// Lets the static descriptor tables, which hold raw pointers to other
/// statics and string literals, live in `static`s. They are never written.
#[repr(transparent)]
pub struct Static<T>(pub T);

unsafe impl<T> Sync for Static<T> {}
