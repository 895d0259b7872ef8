//! A minimal weir processor plugin in Rust, to copy and adapt: std only,
//! hand-written FFI (the weir-ffi crate, plugins/rust/weir-ffi) against
//! cabi/include/weir/plugin.h.
//!
//! Connector type "rust_template", a processor that does what the C
//! template (plugins/c/template) does. For every event of a batch that no
//! earlier step dropped, it:
//!   1. drops the event (WEIR_EVENT_DROP) when it is shorter than min_len;
//!   2. otherwise shortens it to max_len bytes when it is longer, and marks
//!      it WEIR_EVENT_TRUNCATED;
//!   3. rewrites ASCII a-z to A-Z in place in what is left.
//!
//! It counts the events it dropped in the host counter
//! template_dropped_total.
//!
//! Config: {} or {"min_len": N, "max_len": M}. min_len defaults to 0 (keep
//! everything); max_len defaults to 0, which means no limit.
//!
//! Build: `cargo build --release` here, or `make plugins` at the top of
//! weir, which writes bin/plugins/libweir_rust_template.so. Check it with
//! `weir plugin inspect`.
//!
//! Rules this file follows, and a plugin of your own must too:
//! - No panic may unwind into the host: every exported function runs its
//!   body inside catch_unwind and turns a panic into WEIR_ERROR with a
//!   message (see `guard`). Keep `panic = "unwind"` in Cargo.toml.
//! - No global state: everything lives in the Instance.
//! - Only Rust 1.63 features (Cargo.toml's rust-version).
//!
//! To start a plugin of your own, copy this crate (and plugins/rust/weir-ffi
//! beside it, or point the weir-ffi path in Cargo.toml at the weir tree),
//! rename the type, and replace `Instance::process`.

weir_ffi::bind_instance!(crate::Instance);

use weir_ffi::config;

use std::ffi::CString;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use ffi::*;

/// One configured connector; the host sees it only as weir_instance*.
pub struct Instance {
    api: *const HostApi,
    host: *mut Host,
    /// Counter id from metric_register, or -1 without metrics.
    dropped_id: i32,
    min_len: u32,
    /// 0: no limit.
    max_len: u32,
    /// last_error's text; valid until the next call, as the ABI requires.
    err: Option<CString>,
}

impl Instance {
    fn new(api: *const HostApi, host: *mut Host) -> Instance {
        Instance {
            api,
            host,
            dropped_id: -1,
            min_len: 0,
            max_len: 0,
            err: None,
        }
    }

    fn configure(&mut self, cfg: &[u8]) -> Result<(), String> {
        for (key, value) in config::parse(cfg)? {
            let n = match value {
                config::Value::Uint(n) if n <= u64::from(u32::MAX) => n as u32,
                _ => {
                    return Err(format!(
                        "parse config: key \"{}\": expected an integer from 0 to {}",
                        key,
                        u32::MAX
                    ))
                }
            };
            match key.as_str() {
                "min_len" => self.min_len = n,
                "max_len" => self.max_len = n,
                other => {
                    return Err(format!(
                        "parse config: unknown key \"{}\", expected min_len or max_len",
                        other
                    ))
                }
            }
        }
        Ok(())
    }

    /// Declares the counter. metric_register is legal in create. Check
    /// struct_size before reading a host API field, so an older host with
    /// a shorter table still works.
    unsafe fn register_metrics(&mut self) {
        let api = match self.api.as_ref() {
            Some(a) => a,
            None => return,
        };
        let need = std::mem::size_of::<u32>() * 2 + std::mem::size_of::<usize>() * 3;
        if (api.struct_size as usize) < need || api.counter_add.is_none() {
            return;
        }
        if let Some(register) = api.metric_register {
            self.dropped_id = register(
                self.host,
                b"template_dropped_total\0".as_ptr() as *const c_char,
                WEIR_METRIC_COUNTER,
                b"Events the template dropped for being shorter than min_len.\0".as_ptr()
                    as *const c_char,
            );
        }
    }

    /// The hot path, once per batch. Steps through events with
    /// batch.event_size, not size_of::<Event>(): a newer host may use a
    /// larger descriptor. The bytes are writable (the runtime copies lent
    /// or shared bytes into the batch's own arena before a processor runs),
    /// but an event may never grow, move or leave the batch.
    unsafe fn process(&mut self, batch: *mut Batch) -> Result<(), String> {
        let b = match batch.as_mut() {
            Some(b) => b,
            None => return Err("process rust_template: batch is NULL".into()),
        };
        let stride = b.event_size as usize;
        if stride < std::mem::size_of::<Event>() {
            return Err(format!(
                "process rust_template: batch event_size {}, want at least {}",
                stride,
                std::mem::size_of::<Event>()
            ));
        }
        let base = b.events as *mut u8;
        let mut dropped: u64 = 0;
        for i in 0..b.len as usize {
            // SAFETY: the host provides len slots of event_size bytes.
            let e = &mut *(base.add(i * stride) as *mut Event);
            if e.flags & WEIR_EVENT_DROP != 0 {
                continue; // an earlier step dropped it; never clear the bit
            }
            if e.len < self.min_len {
                e.flags |= WEIR_EVENT_DROP;
                dropped += 1;
                continue;
            }
            if self.max_len > 0 && e.len > self.max_len {
                e.len = self.max_len;
                e.flags |= WEIR_EVENT_TRUNCATED;
            }
            if e.len > 0 {
                // SAFETY: data points to len writable bytes while len > 0.
                std::slice::from_raw_parts_mut(e.data, e.len as usize).make_ascii_uppercase();
            }
        }
        // One host call per batch at most, never one per event.
        if dropped > 0 && self.dropped_id >= 0 {
            if let Some(add) = (*self.api).counter_add {
                add(self.host, self.dropped_id, dropped);
            }
        }
        Ok(())
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Makes a C string of msg; an interior NUL would end it early, so it is
/// spelled out.
fn to_cstring(msg: String) -> CString {
    CString::new(msg.replace('\0', "\\0")).unwrap_or_default()
}

/// Runs op on the instance behind inst with panics caught: Ok becomes
/// WEIR_OK; an error or a panic becomes WEIR_ERROR with the message kept
/// for last_error.
unsafe fn guard<F>(inst: *mut Instance, op: &str, f: F) -> Status
where
    F: FnOnce(&mut Instance) -> Result<(), String>,
{
    if inst.is_null() {
        return WEIR_ERROR;
    }
    (*inst).err = None;
    let msg = match catch_unwind(AssertUnwindSafe(|| f(&mut *inst))) {
        Ok(Ok(())) => return WEIR_OK,
        Ok(Err(msg)) => msg,
        Err(p) => format!("{} rust_template: panic: {}", op, panic_message(&*p)),
    };
    (*inst).err = Some(to_cstring(msg));
    WEIR_ERROR
}

/// create: parses the config and declares the counter; no sockets, no
/// threads. On failure the instance is still returned, so the host can
/// read last_error before it calls destroy.
unsafe extern "C" fn tpl_create(
    config: *const u8,
    config_len: usize,
    api: *const HostApi,
    host: *mut Host,
    out: *mut *mut Instance,
) -> Status {
    if out.is_null() {
        return WEIR_ERROR;
    }
    let inst = Box::into_raw(Box::new(Instance::new(api, host)));
    *out = inst;
    guard(inst, "create", |me| {
        let cfg: &[u8] = if config.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(config, config_len)
        };
        me.configure(cfg)?;
        me.register_metrics();
        Ok(())
    })
}

/// destroy: frees the instance. The host calls it once per instance, never
/// with NULL, also after a failed create.
unsafe extern "C" fn tpl_destroy(inst: *mut Instance) {
    if inst.is_null() {
        return;
    }
    // Nothing may unwind out of here, not even from a Drop.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(inst))));
}

/// last_error: the last failure's message, or NULL.
unsafe extern "C" fn tpl_last_error(inst: *mut Instance) -> *const c_char {
    match inst.as_ref().and_then(|i| i.err.as_ref()) {
        Some(e) => e.as_ptr(),
        None => ptr::null(),
    }
}

/// process: see Instance::process.
unsafe extern "C" fn tpl_process(inst: *mut Instance, batch: *mut Batch) -> Status {
    guard(inst, "process", |me| me.process(batch))
}

// The descriptor tables: statics, so they outlive every call. Fields the
// plugin does not use (flags, reserved, the other roles and the optional
// lifecycle operations) are 0 or NULL.

static PROCESSOR: Static<ProcessorOps> = Static(ProcessorOps {
    struct_size: std::mem::size_of::<ProcessorOps>() as u32,
    flags: 0,
    process: Some(tpl_process),
});

static TYPE: Static<ConnectorType> = Static(ConnectorType {
    struct_size: std::mem::size_of::<ConnectorType>() as u32,
    reserved: 0,
    id: b"rust_template\0".as_ptr() as *const c_char,
    description: b"Drops events shorter than min_len, truncates to max_len, uppercases ASCII (Rust template).\0"
        .as_ptr() as *const c_char,
    config_schema: b"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"min_len\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},\"max_len\":{\"type\":\"integer\",\"minimum\":0,\"default\":0}}}\0"
        .as_ptr() as *const c_char,
    create: Some(tpl_create),
    destroy: Some(tpl_destroy),
    last_error: Some(tpl_last_error),
    connect: None,
    start: None,
    pause: None,
    resume: None,
    drain: None,
    stop: None,
    source: ptr::null(),
    sink: ptr::null(),
    processor: &PROCESSOR.0 as *const ProcessorOps,
});

static TYPES: Static<[*const ConnectorType; 1]> = Static([&TYPE.0 as *const ConnectorType]);

static PLUGIN: Static<Plugin> = Static(Plugin {
    abi_major: WEIR_ABI_MAJOR,
    abi_minor: WEIR_ABI_MINOR,
    struct_size: std::mem::size_of::<Plugin>() as u32,
    name: b"weir-rust-template\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    n_types: 1,
    reserved: 0,
    types: &TYPES.0 as *const [*const ConnectorType; 1] as *const *const ConnectorType,
});

/// The plugin's one exported symbol: returns the static descriptor.
#[no_mangle]
pub extern "C" fn weir_plugin_describe() -> *const Plugin {
    &PLUGIN.0
}
