//! The FFI layer: the raw bindings, and thin functions over them that return
//! [`crate::Result`] and name the failing call.
//!
//! Layering follows cudarc (`sys` → `result` → `safe`): the RAII owners of raw handles are
//! built on these functions, in [`crate::cuda`] (contexts, device memory) and `crate::driver`
//! (NVDEC, NVENC and kernel-module handles, the parser callbacks); `decode`, `encode` and
//! `convert` deny `unsafe_code` and use only those owners. Libraries are opened at run time (`libloading`)
//! through one shared [`loader`] (once per process, by soname, kept loaded), so the crate
//! builds and its CPU tests run on machines with no NVIDIA driver at all.

pub(crate) mod cuda;
mod loader;
pub(crate) mod nvcuvid;
pub(crate) mod nvenc;
