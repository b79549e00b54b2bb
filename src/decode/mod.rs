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
//!   The first sequence header then *reconfigures* it to the real size
//!   (`cuvidReconfigureDecoder`, no lock needed). A stream larger than the maximum, of
//!   another bit depth, or needing more surfaces makes the decoder re-create itself in an
//!   init window taken at run time — create the new one, then destroy the old — so a
//!   failure leaves the old one in place and the error reported.
//! - **Crop in hardware.** Output surfaces are set to the display area (1080 rows of a
//!   1088-coded stream), so mapped frames are already cropped and copies need no offsets.
//! - **Zero-copy frames, borrowed.** A [`Frame`] is the mapped output surface; it borrows
//!   the decoder, so it cannot outlive the mapping. Frames queued but not yet taken are
//!   copied out only if their decode surface is about to be reused (see `core`).
//! - **Progressive output.** Interlaced streams are woven (no deinterlacing), which is what
//!   ffmpeg's software decoder outputs too.
//! - JPEG is not offered: NVDEC's JPEG path goes through nvJPEG in practice, and the
//!   parser-based pipeline here is for video streams.

mod callback_target;
mod callbacks;
mod caps;
mod config;
mod core;
mod decoder;
mod frame;
mod frame_pool;
mod geometry;
mod handles;
mod pool;

pub use caps::DecodeCaps;
pub use config::{DecoderConfig, OutputFormat, PixelFormat};
pub use core::{DecoderStats, StreamInfo};
pub use decoder::{DecodedFrames, Decoder, DecoderSession, MAX_QUEUED_FRAMES};
pub use frame::{Frame, FrameLayout};
pub use frame_pool::{DeviceFramePool, OwnedFrame};
pub use pool::{DecoderPool, DecoderPools, DecoderSpec, PoolConfig, PoolStats, PooledDecoder};

use crate::cuda::Context;
use crate::error::Result;
use crate::init::{CudaInitGuard, WindowTiming};
use crate::phase::{Backend, Builder, ContextSpec, SealedBackend, Uninit};

/// The NVDEC backend of [`Builder`].
#[derive(Debug)]
pub struct Nvdec {
    _sealed: (),
}

impl SealedBackend for Nvdec {}

impl Backend for Nvdec {
    type Config = DecoderConfig;
    type Session = DecoderSession;
    type Product = Decoder;
    const NAME: &'static str = "nvdec";

    fn context_spec(config: &DecoderConfig) -> ContextSpec {
        config.context_spec()
    }

    fn validate(config: &DecoderConfig) -> Result<()> {
        config.validate()
    }

    fn open(
        config: &DecoderConfig,
        context: &Context,
        guard: &CudaInitGuard,
    ) -> Result<DecoderSession> {
        decoder::open(config, context, guard)
    }

    fn finish(
        _config: DecoderConfig,
        _context: Context,
        session: DecoderSession,
        window: WindowTiming,
    ) -> Decoder {
        Decoder::from_session(session, window)
    }
}

/// The decoder builder: `DecoderBuilder::new(config)` starts in [`Uninit`].
pub type DecoderBuilder<P = Uninit> = Builder<Nvdec, P>;

impl Decoder {
    /// A builder for `config` (same as [`DecoderBuilder::new`]).
    pub fn builder(config: DecoderConfig) -> DecoderBuilder {
        DecoderBuilder::new(config)
    }
}
