//! The FFI layer: every `unsafe` call into an NVIDIA library lives in this module.
//!
//! Layering follows cudarc: these thin functions return [`crate::Result`] and name the
//! failing call; the safe RAII types in [`crate::cuda`], [`crate::decode`] and
//! [`crate::encode`] are built on them. Libraries are opened at run time (`libloading`)
//! through one shared [`loader`] (once per process, by soname, kept loaded), so the crate
//! builds and its CPU tests run on machines with no NVIDIA driver at all.

pub(crate) mod cuda;
mod loader;
pub(crate) mod nvcuvid;
pub(crate) mod nvenc;
