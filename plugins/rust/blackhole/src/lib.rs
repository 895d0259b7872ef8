//! The weir "blackhole" sink in Rust, built as a cdylib against
//! cabi/include/weir/plugin.h with hand-written FFI and std only. The FFI
//! is the weir-ffi crate's, plugins/rust/weir-ffi (see below).
//!
//! It validates every event descriptor of every batch (stepping with the
//! batch's event_size), counts events, bytes and batches, and publishes the
//! counts as host counters when at least `publish_every` events are pending
//! and on pause, drain and stop. Every extern function runs its body inside
//! std::panic::catch_unwind: a panic becomes WEIR_ERROR and its message is
//! returned by last_error.
//!
//! Config: {"publish_every": N, "panic": "OP"}, both optional. `panic` makes
//! the named operation (create, connect, start, pause, resume, drain, stop
//! or write) panic, to test that panics never cross the boundary.

// The FFI mirror of weir/plugin.h and the config parser live in the
// weir-ffi crate (plugins/rust/weir-ffi), which every Rust plugin in this
// tree shares.
weir_ffi::bind_instance!(crate::Instance);

use weir_ffi::config;

use std::ffi::CString;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use ffi::*;

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    Created,
    Running,
    Paused,
    Drained,
    Stopped,
}

/// One blackhole instance; the host sees it only as weir_instance*.
pub struct Instance {
    api: *const HostApi,
    host: *mut Host,
    metrics: Option<[i32; 3]>,
    state: State,
    publish_every: u64,
    panic_in: String,
    events: u64,
    bytes: u64,
    batches: u64,
    pending: [u64; 3],
    err: Option<CString>,
}

/// An operation's failure: the status to return and the message.
type OpResult = Result<Status, (Status, String)>;

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

fn to_cstring(s: String) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

impl Instance {
    fn new(api: *const HostApi, host: *mut Host) -> Instance {
        Instance {
            api,
            host,
            metrics: None,
            state: State::Created,
            publish_every: 65536,
            panic_in: String::new(),
            events: 0,
            bytes: 0,
            batches: 0,
            pending: [0; 3],
            err: None,
        }
    }

    fn maybe_panic(&self, op: &str) {
        if self.panic_in == op {
            panic!("rust blackhole: {} panicked as the config asked", op);
        }
    }

    fn configure(&mut self, cfg: &[u8]) -> Result<(), String> {
        for (k, v) in config::parse(cfg)? {
            match (k.as_str(), v) {
                ("publish_every", config::Value::Uint(n)) => self.publish_every = n,
                ("panic", config::Value::Str(s)) => self.panic_in = s,
                ("publish_every", _) => {
                    return Err("parse config: key \"publish_every\": expected an integer".into())
                }
                ("panic", _) => return Err("parse config: key \"panic\": expected a string".into()),
                (other, _) => return Err(format!("parse config: unknown key \"{}\"", other)),
            }
        }
        Ok(())
    }

    unsafe fn register_metrics(&mut self) -> Result<(), String> {
        let api = match self.api.as_ref() {
            Some(a) => a,
            None => return Err("create rust blackhole: host API table is NULL".into()),
        };
        let need = std::mem::size_of::<u32>() * 2 + std::mem::size_of::<usize>() * 3;
        if (api.struct_size as usize) < need {
            return Ok(());
        }
        let (reg, _) = match (api.metric_register, api.counter_add) {
            (Some(r), Some(c)) => (r, c),
            _ => return Ok(()),
        };
        let names: [&[u8]; 3] = [
            b"blackhole_events_total\0",
            b"blackhole_bytes_total\0",
            b"blackhole_batches_total\0",
        ];
        let helps: [&[u8]; 3] = [
            b"Events accepted by the blackhole.\0",
            b"Event bytes accepted by the blackhole.\0",
            b"Batches accepted by the blackhole.\0",
        ];
        let mut ids = [0i32; 3];
        for i in 0..3 {
            ids[i] = reg(
                self.host,
                names[i].as_ptr() as *const c_char,
                WEIR_METRIC_COUNTER,
                helps[i].as_ptr() as *const c_char,
            );
            if ids[i] < 0 {
                return Err("create rust blackhole: host refused to register the blackhole counters".into());
            }
        }
        self.metrics = Some(ids);
        Ok(())
    }

    fn publish(&mut self) {
        if let Some(ids) = self.metrics {
            // SAFETY: metrics is set only when api and counter_add are valid;
            // the host keeps them valid until destroy.
            unsafe {
                if let Some(add) = (*self.api).counter_add {
                    for i in 0..3 {
                        if self.pending[i] > 0 {
                            add(self.host, ids[i], self.pending[i]);
                        }
                    }
                }
            }
        }
        self.pending = [0; 3];
    }

    fn start(&mut self) -> OpResult {
        self.maybe_panic("start");
        if self.state != State::Created {
            return Err((WEIR_ERROR, "start rust blackhole: already started".into()));
        }
        self.state = State::Running;
        Ok(WEIR_OK)
    }

    fn pause(&mut self) -> OpResult {
        self.maybe_panic("pause");
        if self.state != State::Running && self.state != State::Paused {
            return Err((WEIR_ERROR, "pause rust blackhole: not running".into()));
        }
        self.publish();
        self.state = State::Paused;
        Ok(WEIR_OK)
    }

    fn resume(&mut self) -> OpResult {
        self.maybe_panic("resume");
        if self.state != State::Running && self.state != State::Paused {
            return Err((WEIR_ERROR, "resume rust blackhole: not paused".into()));
        }
        self.state = State::Running;
        Ok(WEIR_OK)
    }

    fn drain(&mut self) -> OpResult {
        self.maybe_panic("drain");
        self.publish();
        self.state = State::Drained;
        Ok(WEIR_OK)
    }

    fn stop(&mut self) -> OpResult {
        self.maybe_panic("stop");
        self.publish();
        self.state = State::Stopped;
        Ok(WEIR_OK)
    }

    /// Validates and counts one batch.
    unsafe fn write(&mut self, batch: *const Batch) -> OpResult {
        self.maybe_panic("write");
        match self.state {
            State::Running => {}
            State::Paused => return Err((WEIR_RETRY, "write rust blackhole: paused".into())),
            _ => {
                return Err((
                    WEIR_ERROR,
                    "write rust blackhole: not running (write before start or after drain)".into(),
                ))
            }
        }
        let b = match batch.as_ref() {
            Some(b) => b,
            None => return Err((WEIR_ERROR, "write rust blackhole: batch is NULL".into())),
        };
        let min_batch = 3 * 8 + 2 * std::mem::size_of::<usize>();
        if (b.struct_size as usize) < min_batch {
            return Err((
                WEIR_ERROR,
                format!(
                    "write rust blackhole: batch struct_size {}, want at least {}",
                    b.struct_size, min_batch
                ),
            ));
        }
        let stride = b.event_size as usize;
        if stride < std::mem::size_of::<Event>() {
            return Err((
                WEIR_ERROR,
                format!(
                    "write rust blackhole: batch event_size {}, want at least {}",
                    stride,
                    std::mem::size_of::<Event>()
                ),
            ));
        }
        if b.len > b.capacity {
            return Err((
                WEIR_ERROR,
                format!("write rust blackhole: batch len {} exceeds capacity {}", b.len, b.capacity),
            ));
        }
        if b.len > 0 && b.events.is_null() {
            return Err((
                WEIR_ERROR,
                format!("write rust blackhole: batch has {} events but events is NULL", b.len),
            ));
        }
        // The loop only finds the first bad event; describing it is left
        // to reject, off the hot path.
        let base = b.events as *const u8;
        let mut bytes: u64 = 0;
        for i in 0..b.len as usize {
            // SAFETY: the host guarantees len slots of event_size bytes.
            let e = &*(base.add(i * stride) as *const Event);
            if (e.len > 0 && e.data.is_null())
                || (e.kind > WEIR_KIND_TICK && e.kind < WEIR_KIND_PLUGIN_MIN)
                || e.flags & RESERVED_FLAGS != 0
            {
                return Err((WEIR_ERROR, reject(i, e)));
            }
            bytes += u64::from(e.len);
        }
        let n = u64::from(b.len);
        self.events += n;
        self.bytes += bytes;
        self.batches += 1;
        self.pending[0] += n;
        self.pending[1] += bytes;
        self.pending[2] += 1;
        if self.pending[0] >= self.publish_every {
            self.publish();
        }
        Ok(WEIR_OK)
    }
}

/// Describes why event i is invalid.
#[cold]
fn reject(i: usize, e: &Event) -> String {
    if e.len > 0 && e.data.is_null() {
        format!("write rust blackhole: event {} has len {} but data is NULL", i, e.len)
    } else if e.kind > WEIR_KIND_TICK && e.kind < WEIR_KIND_PLUGIN_MIN {
        format!("write rust blackhole: event {} has reserved kind {}", i, e.kind)
    } else {
        format!(
            "write rust blackhole: event {} has reserved flag bits 0x{:04x}",
            i,
            e.flags & RESERVED_FLAGS
        )
    }
}

/// Runs f on the instance behind inst, catching panics and recording errors.
unsafe fn guard<F>(inst: *mut Instance, op: &str, f: F) -> Status
where
    F: FnOnce(&mut Instance) -> OpResult,
{
    let me = match inst.as_mut() {
        Some(m) => m,
        None => return WEIR_ERROR,
    };
    me.err = None;
    match catch_unwind(AssertUnwindSafe(|| f(&mut *inst))) {
        Ok(Ok(st)) => st,
        Ok(Err((st, msg))) => {
            (*inst).err = Some(to_cstring(msg));
            st
        }
        Err(p) => {
            let msg = format!("{} rust blackhole: panic: {}", op, panic_message(&*p));
            (*inst).err = Some(to_cstring(msg));
            WEIR_ERROR
        }
    }
}

/// create: parses config and registers the counters; no other side effect.
/// On failure the instance is still returned so the host can read the error.
unsafe extern "C" fn bh_create(
    config: *const u8,
    config_len: usize,
    api: *const HostApi,
    host: *mut Host,
    out: *mut *mut Instance,
) -> Status {
    if out.is_null() {
        return WEIR_ERROR;
    }
    *out = ptr::null_mut();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut inst = Box::new(Instance::new(api, host));
        let cfg: &[u8] = if config.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(config, config_len)
        };
        let res = inst.configure(cfg);
        inst.maybe_panic("create");
        let res = res.and_then(|_| inst.register_metrics());
        (inst, res)
    }));
    let (inst, res) = match r {
        Ok(v) => v,
        Err(p) => {
            let mut inst = Box::new(Instance::new(api, host));
            let msg = format!("create rust blackhole: panic: {}", panic_message(&*p));
            inst.err = Some(to_cstring(msg));
            *out = Box::into_raw(inst);
            return WEIR_ERROR;
        }
    };
    let raw = Box::into_raw(inst);
    *out = raw;
    match res {
        Ok(()) => WEIR_OK,
        Err(msg) => {
            (*raw).err = Some(to_cstring(msg));
            WEIR_ERROR
        }
    }
}

/// destroy: frees the instance; safe after any failure and on NULL.
unsafe extern "C" fn bh_destroy(inst: *mut Instance) {
    if inst.is_null() {
        return;
    }
    // Dropping the instance cannot panic (plain data and a CString), but
    // nothing may unwind out of here either way.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(inst))));
}

/// last_error: the last failure's message, valid until the next call.
unsafe extern "C" fn bh_last_error(inst: *mut Instance) -> *const c_char {
    match inst.as_ref().and_then(|i| i.err.as_ref()) {
        Some(e) => e.as_ptr(),
        None => ptr::null(),
    }
}

/// connect: nothing to connect to.
unsafe extern "C" fn bh_connect(inst: *mut Instance, _attempt: u32) -> Status {
    guard(inst, "connect", |i| {
        i.maybe_panic("connect");
        Ok(WEIR_OK)
    })
}

/// start: accept writes from now on.
unsafe extern "C" fn bh_start(inst: *mut Instance) -> Status {
    guard(inst, "start", |i| i.start())
}

/// pause: publish counts; writes answer WEIR_RETRY until resume.
unsafe extern "C" fn bh_pause(inst: *mut Instance) -> Status {
    guard(inst, "pause", |i| i.pause())
}

/// resume: accept writes again.
unsafe extern "C" fn bh_resume(inst: *mut Instance) -> Status {
    guard(inst, "resume", |i| i.resume())
}

/// drain: nothing is buffered; publish the counts.
unsafe extern "C" fn bh_drain(inst: *mut Instance) -> Status {
    guard(inst, "drain", |i| i.drain())
}

/// stop: publish the counts; there are no threads to join.
unsafe extern "C" fn bh_stop(inst: *mut Instance) -> Status {
    guard(inst, "stop", |i| i.stop())
}

/// write: validate every descriptor, then count the batch. Nothing is kept.
unsafe extern "C" fn bh_write(inst: *mut Instance, batch: *const Batch) -> Status {
    guard(inst, "write", |i| i.write(batch))
}

static SINK: Static<SinkOps> = Static(SinkOps {
    struct_size: std::mem::size_of::<SinkOps>() as u32,
    flags: 0,
    write: Some(bh_write),
});

static TYPE: Static<ConnectorType> = Static(ConnectorType {
    struct_size: std::mem::size_of::<ConnectorType>() as u32,
    reserved: 0,
    id: b"rust_blackhole\0".as_ptr() as *const c_char,
    description: b"Counts and checks every event, then discards it (Rust).\0".as_ptr()
        as *const c_char,
    config_schema: b"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"publish_every\":{\"type\":\"integer\",\"minimum\":0,\"default\":65536},\"panic\":{\"type\":\"string\"}}}\0".as_ptr() as *const c_char,
    create: Some(bh_create),
    destroy: Some(bh_destroy),
    last_error: Some(bh_last_error),
    connect: Some(bh_connect),
    start: Some(bh_start),
    pause: Some(bh_pause),
    resume: Some(bh_resume),
    drain: Some(bh_drain),
    stop: Some(bh_stop),
    source: ptr::null(),
    sink: &SINK.0 as *const SinkOps,
    processor: ptr::null(),
});

static TYPES: Static<[*const ConnectorType; 1]> = Static([&TYPE.0 as *const ConnectorType]);

static PLUGIN: Static<Plugin> = Static(Plugin {
    abi_major: WEIR_ABI_MAJOR,
    abi_minor: WEIR_ABI_MINOR,
    struct_size: std::mem::size_of::<Plugin>() as u32,
    name: b"weir-rust-blackhole\0".as_ptr() as *const c_char,
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
