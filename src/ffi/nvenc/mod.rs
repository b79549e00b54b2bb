//! NVENC (`libnvidia-encode.so.1`), loaded at run time, in layers as cudarc separates
//! `driver::{sys, result, safe}`:
//!
//! - [`sys`]: opening the library (through [`super::loader`]), the API version check, the
//!   entry points taken from `NvEncodeAPICreateInstance`'s function list, and their
//!   signatures, each returning `NVENCSTATUS` as `u32`.
//! - [`status`]: `NVENCSTATUS` values as integers: their names and the crate's error for one.
//! - [`result`]: thin `Result`-returning `unsafe` wrappers, one per NVENC call, that name the
//!   failing call.
//! - [`bindgen_enums`]: the checks of enum values the driver writes; the blank structs.
//! - [`safe`]: the types that keep an invariant over their lifetime — [`EncodeConfig`],
//!   [`LockedInput`], [`LockedBitstream`] — built on [`result`].
//!
//! Imports point one way: `safe` → `result` → `sys`, `result` → `bindgen_enums`, and
//! `result`, `sys` → `status`.
//!
//! Invariant: the library is opened once per process, its API version is checked against
//! the header this crate was built with, and every entry point used is taken from
//! `NvEncodeAPICreateInstance`'s function list up front, so a missing entry is one clear
//! error at first use. The raw types come from `nvidia-video-codec-sdk`'s `sys` module; its
//! `extern` declarations are never called (they would need build-time linking) and its
//! `safe` module is never used (it panics).
//!
//! Two hazards of the bindgen types are handled here, once, so no other module meets them:
//! - **Enums the driver writes.** A Rust enum holding a value it does not list is undefined
//!   behaviour, and a newer driver may return `NVENCSTATUS` codes, buffer formats or picture
//!   types the 12.1 header lacks. So every entry point is called through a signature that
//!   returns the status as `u32`, input formats are read as `u32`, and structs the driver
//!   writes enum fields into stay in `MaybeUninit` with those fields read as `u32`.
//! - **Enums with no zero value.** bindgen's `Default` zero-fills, which is invalid for
//!   `NV_ENC_PIC_STRUCT` and `NV_ENC_PARAMS_FRAME_FIELD_MODE` (both start at 1); structs
//!   holding them (`NV_ENC_CONFIG`, `NV_ENC_PIC_PARAMS`, `NV_ENC_LOCK_BITSTREAM`, ...) are
//!   built here with those fields set before the value exists.
//!
//! Lifecycle calls (session open/initialize/destroy, buffer create/destroy, resource
//! register/unregister) take a [`WindowToken`](crate::init::WindowToken): they compile only
//! inside an init window. Every function taking an [`EncoderPtr`] needs the session's CUDA
//! context current.

mod bindgen_enums;
mod query;
mod result;
mod safe;
mod status;
mod sys;

pub(crate) use bindgen_enums::EncodeCodec;
pub(crate) use result::{EncodeStatus, EncoderPtr, PictureToEncode};
#[cfg(test)]
pub(crate) use safe::CodecConfig;
pub(crate) use safe::{CodecConfigMut, EncodeConfig, LockedBitstream, LockedInput};
pub(crate) use sys::Nvenc;
