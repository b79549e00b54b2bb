//! Frames ready to use: the stream's colour description, and colour conversion of decoded
//! frames (NV12, P016, YUV444, YUV444_16Bit) to RGB on the GPU.
//!
//! Invariants:
//! - The colour description is what the bitstream states ([`ColourDescription`]); the
//!   default for what it leaves unspecified (BT.601 below 720 rows, BT.709 at and above) is
//!   applied only when converting.
//! - The conversion math lives in one place, [`Coefficients`]; the GPU kernel
//!   (`kernels/convert.cu`, committed as PTX) only samples, multiplies, clamps and stores.
//! - Every launch writes only inside a destination whose extent and alignment were checked
//!   (see [`Converter`]).
//!
//! Pieces: [`ConvertSpec`] says what to produce ([`RgbLayout`] × [`SampleType`], optional
//! mean/std, matrix/range overrides, [`ChromaSiting`]); a [`Converter`] (kernels loaded once
//! per context) writes into your [`DeviceBuffer`](crate::cuda::DeviceBuffer) at any pitch,
//! into an [`RgbFramePool`] (no allocation per frame once warm) or into one slot of an
//! [`RgbBatch`] (N×C×H×W).
//!
//! Trade-offs: the kernels are PTX made by nvcc 13.0 (`.version 9.0`, `.target sm_75`),
//! so they need a driver that can JIT PTX ISA 9.0 — version 580 (CUDA 13.0) or newer — while
//! the rest of the crate runs on 535 and newer; on an older driver [`Converter::new`] fails with
//! `CUDA_ERROR_UNSUPPORTED_PTX_VERSION` and nothing else is affected. sm_75 (Turing) is the
//! oldest target nvcc 13 accepts; NVDEC GPUs older than Turing cannot run these kernels.
//!
//! `unsafe`: the module denies it, except for three functions of [`Converter`] that carry
//! one proof each into the kernel launch of the owner below (`driver::kernels`):
//! `convert_into` (a destination checked against a borrowed buffer),
//! [`Converter::convert_into_raw`] (a destination its caller promises) and the launch itself,
//! whose sources are a [`Frame`](crate::decode::Frame)'s mapped planes, valid while the frame
//! borrows its decoder — a proof made in `decode`, which the owner cannot check.

#![deny(unsafe_code)]

mod converter;
mod matrix;
mod output;
mod spec;

pub use converter::Converter;
pub use matrix::{Coefficients, luma_weights};
pub use nvcodec_media::{
    ColourDescription, ColourPrimaries, ColourRange, HD_ROWS, MatrixCoefficients,
    TransferCharacteristics, default_matrix,
};
pub use output::{RgbBatch, RgbFrame, RgbFramePool};
pub use spec::{ChromaSiting, ConvertSpec, RgbLayout, SampleType};
