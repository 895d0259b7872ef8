//! Hand-written Rust FFI for weir plugins, std only: the mirror of
//! cabi/include/weir/plugin.h (module `plugin`, re-exported at the top),
//! the packet record reader for cabi/include/weir/records.h (module
//! `records`), and the flat JSON config parser the weir plugins share
//! (module `config`).
//!
//! Plugins depend on it by path (`weir-ffi = { path = "../weir-ffi" }`),
//! so they still build offline with no crates from a registry.

#![allow(dead_code)]

pub mod config;
mod plugin;
pub mod records;

pub use plugin::*;
