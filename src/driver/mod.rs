//! The owners: RAII types holding raw NVDEC, NVENC and CUDA-module handles, built on the
//! `Result`-returning functions of [`crate::ffi`] and the CUDA types of [`crate::cuda`].
//!
//! Layering, as cudarc's `driver::{sys, result, safe}`: raw bindings and functions that
//! return [`crate::Result`] live in `ffi`; contexts and device memory in `cuda`; the owners of
//! every other driver handle here, with the `extern "C"` callbacks of NVDEC's parser. Together
//! they hold the crate's `unsafe`: `decode`, `encode` and `convert` deny `unsafe_code` and
//! reach the driver through the safe functions of these types (each module's docs list its
//! few remaining exceptions). Each owner states its invariant, and every `unsafe` block in
//! it says which part of that invariant (or which check just above) makes the call sound.
//!
//! Trade-off: an owner knows no decoding, encoding or conversion policy (geometry, formats,
//! rate control); the layer above builds the driver's parameter structs and hands them down.
//! What an owner cannot check itself arrives as a proof type — a borrowed
//! [`DeviceBuffer`](crate::cuda::DeviceBuffer), a surface whose validity a public
//! `unsafe fn` promised, the parser's picture inside its callback — rather than as a raw
//! pointer, so a safe caller above cannot break it.

pub(crate) mod callback_target;
mod device_surface;
pub(crate) mod drop_with;
pub(crate) mod kernels;
pub(crate) mod nvdec;
pub(crate) mod nvdec_parser;
pub(crate) mod nvenc_session;
