//! The owners: RAII types holding raw NVENC, NVDEC and CUDA-module handles, built on the
//! `Result`-returning functions of [`crate::ffi`] and the CUDA types of [`crate::cuda`].
//!
//! Layering, as cudarc's `driver::{sys, result, safe}`: raw bindings and functions that
//! return [`crate::Result`] live in `ffi`; contexts and device memory in `cuda`; the owners of
//! every other driver handle here. Together they are the only code of the crate that holds
//! `unsafe`: `decode`, `encode` and `convert` deny `unsafe_code` and reach the driver only
//! through the safe functions of these types. Each owner states its invariant, and every
//! `unsafe` block in it says which part of that invariant (or which check just above)
//! makes the call sound.
//!
//! Trade-off: an owner knows no decoding, encoding or conversion policy (geometry, formats,
//! rate control). What it cannot check itself arrives as a proof type (a borrowed
//! [`DeviceBuffer`](crate::cuda::DeviceBuffer), a surface whose validity a public `unsafe fn`
//! promised) rather than as a raw pointer, so a safe caller above cannot break it.

pub(crate) mod kernels;
pub(crate) mod nvenc_session;
