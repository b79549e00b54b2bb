#![doc = include_str!("../README.md")]
//!
//! ## Public interface
//!
//! Every public item, by module; each name is a link, so `cargo doc` fails if one is
//! renamed or removed without this list following. Enums and structs that will grow are
//! `#[non_exhaustive]`.
//!
//! | Module | What you use | Also there |
//! |---|---|---|
//! | [`init`] | [`CudaInitGuard`](init::CudaInitGuard) (the lock's RAII guard), [`init_lock_stats`](init::init_lock_stats), [`wait_for_teardowns`](init::wait_for_teardowns) | [`InitLockStats`](init::InitLockStats), [`WindowTiming`](init::WindowTiming), [`held_by_current_thread`](init::held_by_current_thread), [`pending_teardowns`](init::pending_teardowns), [`MAX_TEARDOWN_DELAY`](init::MAX_TEARDOWN_DELAY), [`MAX_YIELDING_TEARDOWNS`](init::MAX_YIELDING_TEARDOWNS) |
//! | [`phase`] | [`Builder`](phase::Builder): [`new`](phase::Builder::new) → [`build`](phase::Builder::build), or step by step [`create_context`](phase::Builder::create_context)`(guard)` → [`open_session`](phase::Builder::open_session) → [`finish`](phase::Builder::finish) | the phases [`Uninit`](phase::Uninit), [`ContextReady`](phase::ContextReady), [`SessionOpen`](phase::SessionOpen); the sealed [`Phase`](phase::Phase), [`Backend`](phase::Backend), [`BuildSteps`](phase::BuildSteps), [`InitWindow`](phase::InitWindow), [`ContextSpec`](phase::ContextSpec) |
//! | [`decode`] | [`DecoderBuilder`](decode::DecoderBuilder), [`DecoderConfig`](decode::DecoderConfig), [`Decoder`](decode::Decoder) (`decode`, `flush`, `decode_stream`, `frames_at`, `frame_at_time`), [`Frame`](decode::Frame), [`DeviceFramePool`](decode::DeviceFramePool) / [`OwnedFrame`](decode::OwnedFrame), [`frames_at_parallel`](decode::frames_at_parallel) | [`DecodedFrames`](decode::DecodedFrames), [`DecoderSession`](decode::DecoderSession), [`StreamInfo`](decode::StreamInfo), [`DecoderStats`](decode::DecoderStats), [`DecodeCaps`](decode::DecodeCaps), [`OutputFormat`](decode::OutputFormat), [`PixelFormat`](decode::PixelFormat), [`FrameLayout`](decode::FrameLayout), [`CropRect`](decode::CropRect), [`OutputGeometry`](decode::OutputGeometry), [`FrameStream`](decode::FrameStream), [`DisplayOrder`](decode::DisplayOrder), [`frames_at_parallel_with`](decode::frames_at_parallel_with), [`RandomAccessSource`](decode::RandomAccessSource), [`MAX_QUEUED_FRAMES`](decode::MAX_QUEUED_FRAMES); SEI: [`SeiMessage`](decode::SeiMessage), [`MasteringDisplay`](decode::MasteringDisplay), [`ContentLightLevel`](decode::ContentLightLevel), [`MAX_SEI_BYTES`](decode::MAX_SEI_BYTES), [`MAX_SEI_MESSAGES`](decode::MAX_SEI_MESSAGES), [`SEI_MASTERING_DISPLAY`](decode::SEI_MASTERING_DISPLAY), [`SEI_CONTENT_LIGHT_LEVEL`](decode::SEI_CONTENT_LIGHT_LEVEL), [`SEI_USER_DATA_REGISTERED`](decode::SEI_USER_DATA_REGISTERED), [`SEI_USER_DATA_UNREGISTERED`](decode::SEI_USER_DATA_UNREGISTERED) |
//! | [`decode`], pooled | [`DecoderPool`](decode::DecoderPool) (one GPU), [`MultiGpuDecoderPool`](decode::MultiGpuDecoderPool) (one pool per GPU, checkout on the least loaded), [`DecoderSpec`](decode::DecoderSpec), [`PoolConfig`](decode::PoolConfig) | [`PooledDecoder`](decode::PooledDecoder) (derefs to its [`Decoder`](decode::Decoder); returned on drop), [`PoolStats`](decode::PoolStats) |
//! | [`convert`] | [`Converter`](convert::Converter), [`ConvertSpec`](convert::ConvertSpec), [`RgbLayout`](convert::RgbLayout), [`SampleType`](convert::SampleType), [`RgbFramePool`](convert::RgbFramePool) / [`RgbFrame`](convert::RgbFrame), [`RgbBatch`](convert::RgbBatch) | [`ChromaSiting`](convert::ChromaSiting), [`Coefficients`](convert::Coefficients), [`luma_weights`](convert::luma_weights), [`default_matrix`](convert::default_matrix), [`HD_ROWS`](convert::HD_ROWS), and the colour description re-exported from [`media`]: [`ColourDescription`](convert::ColourDescription), [`ColourPrimaries`](convert::ColourPrimaries), [`TransferCharacteristics`](convert::TransferCharacteristics), [`MatrixCoefficients`](convert::MatrixCoefficients), [`ColourRange`](convert::ColourRange) |
//! | [`encode`] | [`EncoderBuilder`](encode::EncoderBuilder), [`EncoderConfig`](encode::EncoderConfig), [`Encoder`](encode::Encoder), [`InputFrame`](encode::InputFrame), [`EncodedPacket`](encode::EncodedPacket) | [`EncoderSession`](encode::EncoderSession), [`RateControl`](encode::RateControl), [`Preset`](encode::Preset), [`Tuning`](encode::Tuning), [`PictureType`](encode::PictureType), [`InputFormat`](encode::InputFormat), [`HostPlane`](encode::HostPlane), [`Plane`](encode::Plane), [`PlaneLayout`](encode::PlaneLayout), [`INFINITE_GOP`](encode::INFINITE_GOP), [`MAX_B_FRAMES`](encode::MAX_B_FRAMES), [`MAX_DIMENSION`](encode::MAX_DIMENSION) |
//! | [`cuda`] | [`Context`](cuda::Context), [`DeviceBuffer`](cuda::DeviceBuffer), [`driver_available`](cuda::driver_available) | [`ContextMode`](cuda::ContextMode), [`CurrentContext`](cuda::CurrentContext) |
//! | [`error`], root | [`Error`], [`Result`], [`DriverError`] | [`Status`](error::Status), [`Library`](error::Library), [`BitstreamError`](error::BitstreamError), [`FrameError`](error::FrameError), [`SessionKind`](error::SessionKind) |
//! | [`input`] (the `nvcodec-input` crate) | [`ElementaryStream`](input::ElementaryStream), [`Packet`](input::Packet), [`LiveStream`](input::LiveStream), [`InputError`](input::InputError) | see its crate docs |
//! | [`media`] (the `nvcodec-media` crate), root | [`Codec`] | [`Rational`](media::Rational) and the vocabulary re-exported above |
//!
//! Nothing else is public: `ffi` (the raw driver bindings and their loader) is private, and
//! no public function takes or lends a window token (see [`phase`], "What is sealed").
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(clippy::missing_errors_doc)]

pub mod convert;
pub mod cuda;
pub mod decode;
mod driver;
pub mod encode;
pub mod error;
mod ffi;
pub mod init;
pub mod phase;
mod unwind;

pub use error::{DriverError, Error, Result};
pub use nvcodec_input as input;
pub use nvcodec_media as media;
pub use nvcodec_media::Codec;
