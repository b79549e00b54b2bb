//! NVENC encoding through the typed builder.
//!
//! Construction happens inside the init window, in
//! [`SessionOpen`](crate::phase::SessionOpen) order: the config is validated (no driver
//! call), `libnvidia-encode.so.1` is loaded and its API version checked,
//! `NvEncOpenEncodeSessionEx` opens a session on the builder's CUDA context, the GPU's
//! codecs, presets, input formats and caps are checked against the config,
//! `NvEncGetEncodePresetConfigEx` gives the preset's configuration for the tuning, the
//! config's overrides are applied, `NvEncInitializeEncoder` runs and a small pool of input
//! and bitstream buffers is allocated. After `finish()` the lock is free and
//! [`Encoder::encode`] runs concurrently with other pipelines.
//!
//! ```no_run
//! use nvcodec_guard::encode::{EncoderBuilder, EncoderConfig, InputFrame};
//! use nvcodec_guard::init::CudaInitGuard;
//! use nvcodec_guard::Codec;
//!
//! let guard = CudaInitGuard::acquire()?;
//! let builder = EncoderBuilder::new(EncoderConfig::new(Codec::Hevc, 1280, 720))
//!     .create_context(guard)?;          // the CUDA context, under the lock
//! let builder = builder.open_session()?; // NvEncOpenEncodeSessionEx ... NvEncInitializeEncoder
//! let mut encoder = builder.finish();    // lock released
//! let frame = vec![0u8; 1280 * 720 * 3 / 2]; // one NV12 frame
//! for packet in encoder.encode(InputFrame::packed(&frame), 0)? {
//!     // write packet.data ...
//! #   let _ = packet;
//! }
//! let rest = encoder.flush()?;
//! # let _ = rest;
//! # Ok::<(), nvcodec_guard::Error>(())
//! ```
//!
//! # GPUs without NVENC, and what verifies the encoder
//! On a GPU without an NVENC engine `NvEncOpenEncodeSessionEx` answers
//! `NV_ENC_ERR_NO_ENCODE_DEVICE` or `NV_ENC_ERR_UNSUPPORTED_DEVICE`; both map to
//! [`Error::NoEncodeDevice`](crate::Error::NoEncodeDevice) naming the GPU, the lock is
//! released and nothing leaks (`tests/gpu_encoder_errors.rs`). Everything after session open
//! — caps checks, preset configuration, initialization, buffers, `encode`, `flush`,
//! `sequence_headers` — follows NVIDIA's API documentation and reference encoder, is covered
//! by CPU tests of its pure logic and by the stand-in driver's model of the API, and is
//! verified on an NVENC GPU by `tests/gpu_nvenc.rs` (round trip through the crate's NVDEC
//! decoder, PSNR ≥ 40 dB). Which of these have run on which hardware: README, "What is
//! verified on hardware".
//!
//! # Design choices
//! - **Preset first, then overrides.** The driver's preset configuration for the chosen
//!   tuning is the base; only what [`EncoderConfig`] names is overridden (rate control, GOP
//!   and B-frames, IDR period, profile, chroma format, bit depth). Stream headers are
//!   repeated before every IDR, so every IDR is a place a decoder can start.
//! - **Refuse early and clearly.** [`EncoderConfig::validate`] rejects impossible values
//!   without a driver call; what the GPU cannot do fails at open with
//!   [`Error::Unsupported`](crate::Error::Unsupported) saying what it can, never later as a
//!   bare `NV_ENC_ERR_INVALID_PARAM`. Driver failures carry the call, the `NVENCSTATUS`
//!   name and `NvEncGetLastErrorString`.
//! - **Synchronous mode, packets in decode order.** Linux NVENC is synchronous: a frame
//!   NVENC holds back for B-frames returns `NV_ENC_ERR_NEED_MORE_INPUT`, and the next
//!   success makes every held output ready. `encode` returns what became ready; decode
//!   timestamps are derived the way ffmpeg does (input pts shifted by the B-frame count).
//! - **Host frames are copied, device frames are copied on the GPU.** Host planes go into
//!   NVENC input buffers (lock, copy, unlock). Device frames are copied device-to-device
//!   into encoder-owned surfaces registered with NVENC once (as NVIDIA's `NvEncoderCuda`
//!   does), so a frame borrowed for one `encode` call may be freed after it even while NVENC
//!   holds the picture for B-frames.
//! - **One owner for teardown.** The session and everything made on it belong to one RAII
//!   value, destroyed in reverse order in one init window, also when construction fails
//!   half-way. A handle returned by a failed `NvEncOpenEncodeSessionEx` is destroyed too, as
//!   the API requires.
//! - **Driver-written enums are never trusted as Rust enums.** Statuses, picture types and
//!   input formats are read as integers, and the preset configuration's enum fields are
//!   checked against the header before use (see `ffi::nvenc`).
//! - **No `unsafe` here.** Every driver call goes through the session's owner
//!   (`driver::nvenc_session`), whose functions are safe; the one exception is
//!   [`InputFrame::device_ptr`], the public `unsafe fn` where a caller's promise about a raw
//!   device address enters, handed unchanged to the type that carries it to the copy.

#![deny(unsafe_code)]

mod caps;
mod config;
mod encoder;
mod frame;
mod layout;
mod nvenc_params;
mod packet;
mod session;

pub use config::{
    EncoderConfig, INFINITE_GOP, MAX_B_FRAMES, MAX_DIMENSION, Preset, RateControl, Tuning,
};
pub use encoder::Encoder;
pub use frame::InputFrame;
pub use layout::HostPlane;
pub use nvcodec_media::{InputFormat, Plane, PlaneLayout};
pub use packet::{EncodedPacket, PictureType};
pub use session::EncoderSession;

use crate::cuda::Context;
use crate::init::WindowTiming;
use crate::phase::{Backend, BuildSteps, Builder, SealedBackend, Uninit};

impl SealedBackend for Encoder {}

/// NVENC through the typed [`Builder`]: `Builder<Encoder, _>` is [`EncoderBuilder`].
impl Backend for Encoder {
    type Config = EncoderConfig;
    type Session = EncoderSession;
    const NAME: &'static str = "nvenc";
    const STEPS: BuildSteps<Encoder> = BuildSteps {
        context_spec: EncoderConfig::context_spec,
        validate: EncoderConfig::validate,
        open: session::open,
        finish: |config: EncoderConfig,
                 _context: Context,
                 session: EncoderSession,
                 window: WindowTiming| {
            Encoder::from_session(config, session, window)
        },
    };
}

/// The builder of an [`Encoder`], named by what it builds; its methods are those of
/// [`Builder`], which decoders and encoders share, and its states fit together as
/// [`DecoderBuilder`](crate::decode::DecoderBuilder)'s do: `Uninit` (config) →
/// [`create_context`](Builder::create_context)`(guard)` → `ContextReady` (guard, CUDA context) →
/// [`open_session`](Builder::open_session) → `SessionOpen` (the [`EncoderSession`]:
/// `NvEncOpenEncodeSessionEx` … `NvEncInitializeEncoder` and buffers done) →
/// [`finish`](Builder::finish) → an [`Encoder`], lock released. `build()` returns
/// `Result<Encoder>` here.
pub type EncoderBuilder<P = Uninit> = Builder<Encoder, P>;

impl Encoder {
    /// A builder for `config` (same as [`EncoderBuilder::new`]).
    pub fn builder(config: EncoderConfig) -> EncoderBuilder {
        EncoderBuilder::new(config)
    }
}
