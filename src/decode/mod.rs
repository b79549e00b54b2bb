//! NVDEC decoding through the typed builder.
//!
//! Construction happens inside the init window, in [`SessionOpen`](crate::phase::SessionOpen)
//! order: `cuvidGetDecoderCaps` (cached per device), then the context lock, the decoder
//! itself (`cuvidCreateDecoder`, sized to the configured maximum) and the parser. After
//! `finish()` the lock is free and [`Decoder::decode`] runs fully concurrently with other
//! pipelines.
//!
//! Design choices:
//! - **Create before seeing the stream.** The decoder exists when the builder reaches
//!   `SessionOpen`, so it is sized from [`DecoderConfig`] (max size, bit depth, surfaces).
//!   A stream that fits is handled by `cuvidReconfigureDecoder` inside an init window taken
//!   at run time — or by nothing at all when its coded size is the decoder's and its picture
//!   starts at the top-left corner (a 1080p stream in a decoder made for 1080p). A stream
//!   larger than the maximum, of another bit depth, or needing more surfaces makes the decoder
//!   re-create itself in such a window — create the new one, then destroy the old — so a
//!   failure leaves the old one in place and the error reported.
//! - **Crop in hardware, or in place.** Output surfaces are set to the display area, or keep
//!   the coded size when the display area is its top-left part; either way a frame presents
//!   exactly the display area ([`Frame::chroma_offset`] accounts for surface rows).
//! - **Zero-copy frames, borrowed, and ready.** A [`Frame`] is the mapped output surface,
//!   waited for before it is handed out; it borrows the decoder, so it cannot outlive the
//!   mapping. Frames that must outlive it are copied into a reusable [`DeviceFramePool`].
//!   Frames queued but not yet taken are copied out only if their decode surface is about to
//!   be reused (see `state`), and at most [`MAX_QUEUED_FRAMES`] wait.
//! - **Pools for servers.** [`DecoderPool`] keeps decoders built ahead of demand; a checkout
//!   that hits costs no driver call.
//! - **Progressive output.** Interlaced streams are woven (no deinterlacing), which is what
//!   ffmpeg's software decoder outputs too.
//! - JPEG is not offered: NVDEC's JPEG path goes through nvJPEG in practice, and the
//!   parser-based pipeline here is for video streams.
//! - **No `unsafe` here, with one listed exception.** The parser, its callbacks and every
//!   NVDEC handle are owned by `driver::{nvdec, nvdec_parser}`, whose functions are safe;
//!   this module answers the callbacks through `ParserEvents`, and a `PooledDecoder` hands its
//!   decoder back to the pool through `driver::drop_with`. Still allowed:
//!   `planes::copy_planes`, whose plane copies rest on memory its callers describe as raw
//!   addresses (a mapped surface, a buffer, a host slice) until those arrive as typed memory.

#![deny(unsafe_code)]

mod caps;
mod config;
mod decoder;
mod frame;
mod frame_pool;
mod geometry;
mod nvdec_objects;
mod parser_events;
mod planes;
mod pool;
mod pool_config;
mod seek;
mod sei;
#[cfg(any(test, fuzzing))]
mod sei_fuzz;
mod signal;
mod state;

pub use crate::input::{DisplayRanks, RandomAccessSource};
pub use caps::DecodeCaps;
pub use config::MAX_QUEUED_FRAMES;
pub use config::{CropRect, DecoderConfig, FrameStream, OutputFormat, OutputGeometry};
pub use decoder::{DecodedFrames, Decoder, DecoderSession};
pub use frame::Frame;
pub use frame_pool::{DeviceFramePool, OwnedFrame};
pub use nvcodec_media::PixelFormat;
pub use planes::FrameLayout;
pub use pool::{
    DecoderPool, DecoderSpec, MultiGpuDecoderPool, PoolConfig, PoolStats, PooledDecoder,
};
/// The random-access plan checked against a model decoder (only in builds with
/// `--cfg fuzzing`, as `cargo fuzz` makes): see `fuzz/fuzz_targets/seek_plan.rs`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub use seek::model::fuzz_plan;
pub use seek::{DisplayOrder, frames_at_parallel, frames_at_parallel_with};
pub use sei::{
    ContentLightLevel, MAX_SEI_BYTES, MAX_SEI_MESSAGES, MasteringDisplay, SEI_CONTENT_LIGHT_LEVEL,
    SEI_MASTERING_DISPLAY, SEI_USER_DATA_REGISTERED, SEI_USER_DATA_UNREGISTERED, SeiMessage,
};
pub use state::{DecoderStats, StreamInfo};

/// The SEI collection and accessors over arbitrary bytes (only in builds with `--cfg
/// fuzzing`, as `cargo fuzz` makes): see `fuzz/fuzz_targets/sei.rs`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub use sei_fuzz::fuzz_sei;

use crate::cuda::Context;
use crate::init::WindowTiming;
use crate::phase::{Backend, BuildSteps, Builder, SealedBackend, Uninit};

impl SealedBackend for Decoder {}

/// NVDEC through the typed [`Builder`]: `Builder<Decoder, _>` is [`DecoderBuilder`].
impl Backend for Decoder {
    type Config = DecoderConfig;
    type Session = DecoderSession;
    const NAME: &'static str = "nvdec";
    const STEPS: BuildSteps<Decoder> = BuildSteps {
        context_spec: DecoderConfig::context_spec,
        validate: DecoderConfig::validate,
        open: decoder::open,
        finish: |_config: DecoderConfig,
                 _context: Context,
                 session: DecoderSession,
                 window: WindowTiming| { Decoder::from_session(session, window) },
    };
}

/// The builder of a [`Decoder`], named by what it builds; its methods are those of
/// [`Builder`], which decoders and encoders share.
///
/// How the states fit together (each transition consumes the builder; a method that does not
/// belong to a state does not exist on it, so a wrong order does not compile):
///
/// | state | holds | methods | next |
/// |---|---|---|---|
/// | `DecoderBuilder<Uninit>` | the [`DecoderConfig`] | [`new`](Builder::new), [`build`](Builder::build) / [`build_timeout`](Builder::build_timeout) (all steps at once), [`create_context`](Builder::create_context)`(guard)` | `ContextReady` |
/// | `DecoderBuilder<ContextReady>` | the [`CudaInitGuard`](crate::init::CudaInitGuard) and the CUDA context | [`cuda_context`](Builder::cuda_context), [`guard`](Builder::guard), [`open_session`](Builder::open_session) | `SessionOpen` |
/// | `DecoderBuilder<SessionOpen>` | the guard, the context and the [`DecoderSession`] (`cuvidCreateDecoder` done) | [`session`](Builder::session), [`finish`](Builder::finish) | a [`Decoder`], lock released |
///
/// `build()` returns `Result<Decoder>`.
/// Dropping a builder in any state, or any error, destroys what it made inside its window and
/// releases the lock.
///
/// ```no_run
/// use nvcodec_guard::decode::{Decoder, DecoderBuilder, DecoderConfig};
/// use nvcodec_guard::Codec;
/// let decoder: Decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
/// # drop(decoder);
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
pub type DecoderBuilder<P = Uninit> = Builder<Decoder, P>;

impl Decoder {
    /// A builder for `config` (same as [`DecoderBuilder::new`]).
    pub fn builder(config: DecoderConfig) -> DecoderBuilder {
        DecoderBuilder::new(config)
    }
}
