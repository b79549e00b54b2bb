//! [`DecoderConfig`]: what to decode and how big the decoder is made up front.

use std::time::Duration;

use crate::Codec;
use crate::cuda::ContextMode;
use crate::error::{Error, Result};
use crate::phase::ContextSpec;
use nvcodec_media::PixelFormat;

/// The pixel layout of decoded frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OutputFormat {
    /// NV12 for 8-bit streams, P016 for 10/12-bit (the default).
    #[default]
    Auto,
    /// 8-bit luma plane, then interleaved 8-bit UV at half resolution.
    Nv12,
    /// Like NV12 with 16-bit little-endian samples, the value in the high bits (P010/P016).
    P016,
}

impl OutputFormat {
    /// The layout for a stream of `bit_depth` bits and chroma format (4:4:4 or 4:2:0).
    /// 4:4:4 streams always come out as [`PixelFormat::Yuv444`] (8-bit) or
    /// [`PixelFormat::Yuv444P16`] (deeper): NVDEC has no 4:2:0 output for them, so `Nv12`
    /// and `P016` apply to 4:2:0 streams only.
    pub fn resolve_for(self, bit_depth: u8, chroma_444: bool) -> PixelFormat {
        match (chroma_444, bit_depth > 8) {
            (true, false) => PixelFormat::Yuv444,
            (true, true) => PixelFormat::Yuv444P16,
            (false, _) => self.resolve(bit_depth),
        }
    }
}

impl OutputFormat {
    /// The layout for a stream of `bit_depth` bits.
    pub fn resolve(self, bit_depth: u8) -> PixelFormat {
        match self {
            OutputFormat::Nv12 => PixelFormat::Nv12,
            OutputFormat::P016 => PixelFormat::P016,
            OutputFormat::Auto if bit_depth > 8 => PixelFormat::P016,
            OutputFormat::Auto => PixelFormat::Nv12,
        }
    }
}

/// A rectangle of the displayed picture, in pixels from its top-left corner. Every value must
/// be even (4:2:0 chroma covers pixel pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CropRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl CropRect {
    /// The rectangle `width × height` at `(x, y)`.
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        CropRect {
            x,
            y,
            width,
            height,
        }
    }
}

/// What NVDEC's post-processing hands out, for free, during the map: a crop of the display
/// area, scaled to a size. Both `None` (the default): the display area at its own size.
///
/// The crop is relative to the displayed picture and clamped to it (a stream smaller than
/// the crop gets its whole picture cropped from `(x, y)`, never a read outside it); the output
/// size defaults to the crop's. NVDEC scales with its own filter (NVIDIA documents none; it
/// is compared against software filters in `gpu_decode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct OutputGeometry {
    /// The part of the displayed picture to keep.
    pub crop: Option<CropRect>,
    /// The size frames are scaled to, `(width, height)`, both even.
    pub size: Option<(u32, u32)>,
}

impl OutputGeometry {
    /// The display area at its own size.
    pub fn new() -> Self {
        OutputGeometry::default()
    }

    /// Keeps only `crop` of the displayed picture.
    pub fn with_crop(mut self, crop: CropRect) -> Self {
        self.crop = Some(crop);
        self
    }

    /// Scales frames to `width × height`.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }

    /// Whether frames are cropped or scaled.
    pub fn is_set(&self) -> bool {
        self.crop.is_some() || self.size.is_some()
    }

    /// Rejects odd or zero values and an output larger than the decoder's maximum size.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the value.
    pub fn validate(&self, max_width: u32, max_height: u32) -> Result<()> {
        if let Some((w, h)) = self.size {
            if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 {
                return Err(Error::InvalidConfig {
                    parameter: "output size",
                    reason: format!("output size {w}x{h} (both must be even and non-zero)"),
                });
            }
            if u64::from(w) > u64::from(max_width).div_ceil(16) * 16
                || u64::from(h) > u64::from(max_height).div_ceil(16) * 16
            {
                return Err(Error::InvalidConfig {
                    parameter: "output size",
                    reason: format!(
                        "output size {w}x{h} exceeds the decoder's maximum {max_width}x{max_height}"
                    ),
                });
            }
        }
        if let Some(c) = self.crop {
            let odd = [c.x, c.y, c.width, c.height].iter().any(|v| v % 2 != 0);
            if odd || c.width == 0 || c.height == 0 || c.x > MAX_DIMENSION || c.y > MAX_DIMENSION {
                return Err(Error::InvalidConfig {
                    parameter: "crop",
                    reason: format!(
                        "crop {}x{} at ({}, {}) (all values even, size non-zero)",
                        c.width, c.height, c.x, c.y
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How to build an NVDEC decoder.
///
/// The decoder is created *before* the stream is seen (inside the init window), so the
/// config says how large to make it. A stream that turns out smaller is handled by
/// `cuvidReconfigureDecoder` with no new window; one that is larger, or of another bit depth
/// or chroma format, makes the decoder re-create itself in a new init window at run time.
///
/// Defaults: 1920×1080 maximum, 8-bit, [`OutputFormat::Auto`], decode surfaces by codec
/// (see [`DecoderConfig::effective_decode_surfaces`]), 2 output surfaces, display delay 1,
/// device 0, shared primary context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderConfig {
    /// The codec of the stream.
    pub codec: Codec,
    /// Largest coded width the decoder is allocated for.
    pub max_width: u32,
    /// Largest coded height the decoder is allocated for (rounded up to a multiple of 16).
    pub max_height: u32,
    /// Expected luma bit depth (8, 10 or 12).
    pub bit_depth: u8,
    /// Output pixel layout.
    pub output_format: OutputFormat,
    /// Decode surfaces (reference frames + in flight) the decoder is created with. `None`: a
    /// per-codec default (see [`effective_decode_surfaces`](Self::effective_decode_surfaces)).
    /// A stream that needs more re-creates the decoder with its count (one run-time window);
    /// the count never shrinks, since `cuvidReconfigureDecoder` to fewer surfaces frees no
    /// device memory (measured): size it for the streams expected.
    pub decode_surfaces: Option<u32>,
    /// Output surfaces: how many frames can be mapped at the same time.
    pub output_surfaces: u32,
    /// Frames the parser holds back before display; more overlaps decoding with your
    /// processing, 0 is lowest latency.
    pub display_delay: u32,
    /// CUDA device ordinal.
    pub device: u32,
    /// Shared primary (default) or dedicated context.
    pub context_mode: ContextMode,
    /// How long a stream change (reconfiguration or re-creation) or a parser renewal after
    /// `flush` waits for the init lock at run time before failing with
    /// [`Error::InitLockTimeout`].
    pub runtime_lock_timeout: Duration,
    /// The stream frames are ordered on instead of waited for (see [`FrameStream`]);
    /// `None` (the default): frames are complete when handed out.
    pub frame_stream: Option<FrameStream>,
    /// Low-latency decoding (see [`with_low_latency`](Self::with_low_latency)); off by
    /// default.
    pub low_latency: bool,
    /// Crop and scale applied by NVDEC when frames are mapped (default: none).
    pub output: OutputGeometry,
    /// Deliver SEI messages with their frames ([`Frame::sei`](super::Frame::sei)); off by
    /// default (no callback, no copies).
    pub sei: bool,
}

pub use crate::driver::nvdec::FrameStream;

/// Frames a decoder queues for the caller at most: `decode` refuses more input while this
/// many wait, and a packet that carries more pictures than fit has the excess dropped with an
/// error. Frames not taken are eventually copied out of their surfaces, each into device
/// memory of its own, so this also bounds that memory.
pub const MAX_QUEUED_FRAMES: usize = 32;

/// Hard limits checked before any driver call.
pub(crate) const MAX_DIMENSION: u32 = 32_768;
pub(crate) const MAX_SURFACES: u32 = 64;
const MAX_DISPLAY_DELAY: u32 = 16;

impl DecoderConfig {
    /// The defaults for `codec`.
    pub fn new(codec: Codec) -> Self {
        DecoderConfig {
            codec,
            max_width: 1920,
            max_height: 1080,
            bit_depth: 8,
            output_format: OutputFormat::Auto,
            decode_surfaces: None,
            output_surfaces: 2,
            display_delay: 1,
            device: 0,
            context_mode: ContextMode::SharedPrimary,
            runtime_lock_timeout: Duration::from_secs(30),
            frame_stream: None,
            low_latency: false,
            output: OutputGeometry::new(),
            sei: false,
        }
    }

    /// Sets the largest coded size.
    pub fn with_max_size(mut self, width: u32, height: u32) -> Self {
        self.max_width = width;
        self.max_height = height;
        self
    }

    /// Sets how long a stream change or parser renewal waits for the init lock
    /// ([`runtime_lock_timeout`](Self::runtime_lock_timeout)).
    pub fn with_runtime_lock_timeout(mut self, timeout: Duration) -> Self {
        self.runtime_lock_timeout = timeout;
        self
    }

    /// Sets the expected bit depth.
    pub fn with_bit_depth(mut self, bit_depth: u8) -> Self {
        self.bit_depth = bit_depth;
        self
    }

    /// Sets the CUDA device.
    pub fn with_device(mut self, device: u32) -> Self {
        self.device = device;
        self
    }

    /// Sets the context mode.
    pub fn with_context_mode(mut self, mode: ContextMode) -> Self {
        self.context_mode = mode;
        self
    }

    /// Low-latency decoding: every packet is marked as a complete picture
    /// (`CUVID_PKT_ENDOFPICTURE`), so the parser decodes it at once instead of waiting for
    /// the next packet's start, and the display delay is 0, so a stream without frame
    /// reordering gives one frame out for every packet in, from the same
    /// [`decode`](super::Decoder::decode) call (NVIDIA's low-latency sample does the same).
    /// Each packet must then hold exactly one whole picture, which every reader of
    /// [`input`](crate::input) guarantees. Streams with B-frames still hold frames back for
    /// reordering; that is the stream's own delay.
    ///
    /// A live session is also sized small: unless [`decode_surfaces`](Self::decode_surfaces)
    /// is set, the decoder is created with the live default of
    /// [`effective_decode_surfaces`](Self::effective_decode_surfaces), and turning it on sets
    /// one output surface, so hold one frame at a time (call
    /// [`with_output_surfaces`](Self::with_output_surfaces) after this for more). A 1080p
    /// H.264 session then holds about 27 MiB of device memory instead of 47.
    pub fn with_low_latency(mut self, on: bool) -> Self {
        self.low_latency = on;
        if on {
            self.output_surfaces = 1;
        }
        self
    }

    /// The display delay the parser is created with: 0 in low-latency mode.
    pub(crate) fn effective_display_delay(&self) -> u32 {
        if self.low_latency {
            0
        } else {
            self.display_delay
        }
    }

    /// Sets the display delay.
    pub fn with_display_delay(mut self, frames: u32) -> Self {
        self.display_delay = frames;
        self
    }

    /// Sets the number of decode surfaces.
    pub fn with_decode_surfaces(mut self, surfaces: u32) -> Self {
        self.decode_surfaces = Some(surfaces);
        self
    }

    /// Sets the number of output surfaces.
    pub fn with_output_surfaces(mut self, surfaces: u32) -> Self {
        self.output_surfaces = surfaces;
        self
    }

    /// Sets the output format.
    pub fn with_output_format(mut self, format: OutputFormat) -> Self {
        self.output_format = format;
        self
    }

    /// Scales frames to `width × height` (both even) in NVDEC's post-processing.
    pub fn with_output_size(mut self, width: u32, height: u32) -> Self {
        self.output.size = Some((width, height));
        self
    }

    /// Delivers SEI messages (HDR metadata, user data, captions) with the frame they belong
    /// to, in display order.
    pub fn with_sei(mut self, enabled: bool) -> Self {
        self.sei = enabled;
        self
    }

    /// Keeps only `crop` of the displayed picture (NVDEC's post-processing).
    pub fn with_crop(mut self, crop: CropRect) -> Self {
        self.output.crop = Some(crop);
        self
    }

    /// Orders frames on `stream` instead of waiting for them (see [`FrameStream`]).
    pub fn with_frame_stream(mut self, stream: FrameStream) -> Self {
        self.frame_stream = Some(stream);
        self
    }

    /// The decode surfaces the decoder is created with: the configured number, or a default
    /// by codec: for files, sized for common reference structures with B-frames (8 for
    /// H.264/HEVC, 10 for VP9/AV1, 6 otherwise); in [low-latency](Self::with_low_latency)
    /// mode, sized for live streams without B-frames: 4 for H.264 (x264's zero-latency
    /// tuning needs 2, a camera's IPPP stream with a few references up to 4), 6 for HEVC
    /// (x265's needs 6). The parser asks for more when a stream needs it, and the decoder is
    /// then re-created with that count.
    pub fn effective_decode_surfaces(&self) -> u32 {
        let base = self
            .decode_surfaces
            .unwrap_or(match (self.codec, self.low_latency) {
                (Codec::H264, true) => 4,
                (Codec::Hevc, true) => 6,
                (Codec::H264 | Codec::Hevc, false) => 8,
                (Codec::Vp9 | Codec::Av1, _) => 10,
                _ => 6,
            });
        base.clamp(1, MAX_SURFACES)
    }

    /// The maximum coded height actually allocated (a multiple of 16).
    ///
    /// A height too large to round up in a `u32` (which [`validate`](Self::validate)
    /// rejects anyway) saturates at the largest multiple of 16 a `u32` holds.
    pub fn aligned_max_height(&self) -> u32 {
        align16(self.max_height)
    }

    /// The maximum coded width actually allocated (a multiple of 16).
    ///
    /// A width too large to round up in a `u32` (which [`validate`](Self::validate)
    /// rejects anyway) saturates at the largest multiple of 16 a `u32` holds.
    pub fn aligned_max_width(&self) -> u32 {
        align16(self.max_width)
    }

    /// Rejects values no GPU can accept, before any driver call.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the parameter and why it cannot be accepted.
    pub fn validate(&self) -> Result<()> {
        if self.max_width == 0 || self.max_height == 0 {
            return Err(Error::InvalidConfig {
                parameter: "max_size",
                reason: format!(
                    "maximum size {}x{} has a zero dimension",
                    self.max_width, self.max_height
                ),
            });
        }
        if self.max_width > MAX_DIMENSION || self.max_height > MAX_DIMENSION {
            return Err(Error::InvalidConfig {
                parameter: "max_size",
                reason: format!(
                    "maximum size {}x{} exceeds {MAX_DIMENSION}",
                    self.max_width, self.max_height
                ),
            });
        }
        if ![8, 10, 12].contains(&self.bit_depth) {
            return Err(Error::InvalidConfig {
                parameter: "bit_depth",
                reason: format!("bit depth {} (expected 8, 10 or 12)", self.bit_depth),
            });
        }
        if let Some(n) = self.decode_surfaces {
            if n == 0 || n > MAX_SURFACES {
                return Err(Error::InvalidConfig {
                    parameter: "decode_surfaces",
                    reason: format!("{n} decode surfaces (expected 1..={MAX_SURFACES})"),
                });
            }
        }
        if self.output_surfaces == 0 || self.output_surfaces > MAX_SURFACES {
            return Err(Error::InvalidConfig {
                parameter: "output_surfaces",
                reason: format!(
                    "{} output surfaces (expected 1..={MAX_SURFACES})",
                    self.output_surfaces
                ),
            });
        }
        self.output.validate(self.max_width, self.max_height)?;
        if self.display_delay > MAX_DISPLAY_DELAY {
            return Err(Error::InvalidConfig {
                parameter: "display_delay",
                reason: format!(
                    "display delay {} (expected 0..={MAX_DISPLAY_DELAY})",
                    self.display_delay
                ),
            });
        }
        Ok(())
    }

    /// The device and context mode this config asks for.
    pub fn context_spec(&self) -> ContextSpec {
        ContextSpec {
            device: self.device,
            mode: self.context_mode,
        }
    }
}

/// `value` rounded up to a multiple of 16, saturating at `u32::MAX - 15`.
fn align16(value: u32) -> u32 {
    value.checked_next_multiple_of(16).unwrap_or(u32::MAX - 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_1080p_aligns_to_1088() {
        let c = DecoderConfig::new(Codec::H264);
        c.validate().unwrap();
        assert_eq!(
            (c.aligned_max_width(), c.aligned_max_height()),
            (1920, 1088)
        );
        assert_eq!(c.output_format.resolve(8), PixelFormat::Nv12);
        assert_eq!(c.output_format.resolve(10), PixelFormat::P016);
    }

    #[test]
    fn out_of_range_values_are_rejected_before_any_driver_call() {
        let bad = [
            DecoderConfig::new(Codec::H264).with_max_size(0, 1080),
            DecoderConfig::new(Codec::H264).with_max_size(40_000, 1080),
            DecoderConfig::new(Codec::H264).with_bit_depth(9),
            DecoderConfig::new(Codec::H264).with_decode_surfaces(0),
            DecoderConfig::new(Codec::H264).with_decode_surfaces(65),
            DecoderConfig::new(Codec::H264).with_output_surfaces(0),
            DecoderConfig::new(Codec::H264).with_display_delay(17),
            DecoderConfig::new(Codec::H264).with_output_size(641, 360),
            DecoderConfig::new(Codec::H264).with_output_size(3840, 2160),
            DecoderConfig::new(Codec::H264).with_crop(CropRect::new(1, 0, 640, 360)),
            DecoderConfig::new(Codec::H264).with_crop(CropRect::new(0, 0, 0, 360)),
        ];
        for config in bad {
            assert!(
                matches!(config.validate(), Err(Error::InvalidConfig { .. })),
                "{config:?} was accepted"
            );
        }
    }

    #[test]
    fn sizes_too_large_to_align_saturate_and_are_rejected() {
        let config = DecoderConfig::new(Codec::H264).with_max_size(u32::MAX, u32::MAX - 14);
        assert_eq!(config.aligned_max_width(), u32::MAX - 15);
        assert_eq!(config.aligned_max_height(), u32::MAX - 15);
        assert_eq!(config.aligned_max_width() % 16, 0);
        let config = DecoderConfig::new(Codec::H264).with_max_size(u32::MAX - 15, 1);
        assert_eq!(
            (config.aligned_max_width(), config.aligned_max_height()),
            (u32::MAX - 15, 16)
        );
        assert!(matches!(
            DecoderConfig::new(Codec::H264)
                .with_max_size(u32::MAX, u32::MAX)
                .validate(),
            Err(Error::InvalidConfig {
                parameter: "max_size",
                ..
            })
        ));
    }
}
