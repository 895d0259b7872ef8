//! Hand-written Rust FFI for weir plugins, std only: the mirror of
//! cabi/include/weir/plugin.h (module `plugin`, re-exported at the top),
//! the packet record reader for cabi/include/weir/records.h (module
//! `records`), and the flat JSON config parser the weir plugins share
//! (module `config`).
//!
//! Plugins depend on it by path (`weir-ffi = { path = "../weir-ffi" }`),
//! so they still build offline with no crates from a registry.

#![allow(dead_code)]

/// Offset of field `$f` of a `MaybeUninit<T>` named `$u`, computed at run
/// time with addr_of!, for the layout tests of the header mirrors.
#[cfg(test)]
macro_rules! off {
    ($u:ident, $f:ident) => {
        unsafe { std::ptr::addr_of!((*$u.as_ptr()).$f) as usize - $u.as_ptr() as usize }
    };
}

/// Declares `mod ffi` in a plugin crate: all of weir-ffi, with the types
/// that hold or take an instance bound to the crate's instance type, as in
/// `weir_ffi::bind_instance!(crate::Instance);`.
#[macro_export]
macro_rules! bind_instance {
    ($inst:ty) => {
        mod ffi {
            //! weir-ffi's mirror of weir/plugin.h, with the types that hold
            //! or take an instance bound to this crate's instance type.
            #![allow(dead_code)]
            pub use weir_ffi::*;
            pub type SourceOps = weir_ffi::SourceOps<$inst>;
            pub type SinkOps = weir_ffi::SinkOps<$inst>;
            pub type ProcessorOps = weir_ffi::ProcessorOps<$inst>;
            pub type CreateFn = weir_ffi::CreateFn<$inst>;
            pub type OpFn = weir_ffi::OpFn<$inst>;
            pub type ConnectorType = weir_ffi::ConnectorType<$inst>;
            pub type Plugin = weir_ffi::Plugin<$inst>;
        }
    };
}

pub mod config;
mod plugin;
pub mod records;

pub use plugin::*;
