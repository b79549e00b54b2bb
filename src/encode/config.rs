//! [`EncoderConfig`]: what to encode and how (down to the profile it needs), checked before
//! any NVENC call.

use crate::Codec;
use crate::cuda::ContextMode;
use crate::error::{Error, Result};
use crate::phase::ContextSpec;
use nvcodec_media::{InputFormat, Rational};

/// `gop_length` meaning "no automatic IDR frames" (`NVENC_INFINITE_GOPLENGTH`).
pub const INFINITE_GOP: u32 = u32::MAX;

/// The most B-frames between reference frames this crate accepts (NVENC's own limit,
/// `NV_ENC_CAPS_NUM_MAX_BFRAMES`, is checked at open and is 4 or less on every GPU so far).
pub const MAX_B_FRAMES: u32 = 4;

/// Largest width or height accepted before asking the GPU (no NVENC generation exceeds
/// 8192; the real limit, `NV_ENC_CAPS_WIDTH_MAX`/`HEIGHT_MAX`, is checked at open).
pub const MAX_DIMENSION: u32 = 16_384;

/// The encoding profiles a config can need (NVENC API 12.1 names each by a GUID; see
/// [`EncoderConfig::profile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// H.264 High.
    H264High,
    /// H.264 High 4:4:4 (4:4:4 input, and lossless).
    H264High444,
    /// HEVC Main.
    HevcMain,
    /// HEVC Main 10.
    HevcMain10,
    /// HEVC RExt (4:4:4).
    HevcRext,
    /// AV1 Main.
    Av1Main,
}

/// How the bitrate is controlled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateControl {
    /// Constant QP per picture type (`NV_ENC_PARAMS_RC_CONSTQP`). QPs are 0–51 for H.264 and
    /// HEVC, 0–255 for AV1; 0 everywhere with [`Tuning::Lossless`] is lossless.
    Cqp {
        /// QP of I/IDR pictures.
        qp_i: u8,
        /// QP of P pictures.
        qp_p: u8,
        /// QP of B pictures.
        qp_b: u8,
    },
    /// Variable bitrate (`NV_ENC_PARAMS_RC_VBR`), bits per second.
    Vbr {
        /// Target average bitrate.
        bitrate: u32,
        /// Peak bitrate (at least `bitrate`).
        max_bitrate: u32,
    },
    /// Constant bitrate (`NV_ENC_PARAMS_RC_CBR`), bits per second.
    Cbr {
        /// The bitrate.
        bitrate: u32,
    },
}

impl RateControl {
    /// CQP 0/0/0: with [`Tuning::Lossless`], a lossless encode.
    pub const LOSSLESS: RateControl = RateControl::Cqp {
        qp_i: 0,
        qp_p: 0,
        qp_b: 0,
    };
}

impl Default for RateControl {
    /// CQP 23/25/27: consistent quality at any resolution, no bitrate to guess.
    fn default() -> Self {
        RateControl::Cqp {
            qp_i: 23,
            qp_p: 25,
            qp_b: 27,
        }
    }
}

/// NVENC's speed/quality presets, P1 (fastest) to P7 (best quality).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Preset {
    /// Fastest.
    P1,
    /// Faster.
    P2,
    /// Fast.
    P3,
    /// Balanced (the default).
    #[default]
    P4,
    /// Slow, better quality.
    P5,
    /// Slower.
    P6,
    /// Slowest, best quality.
    P7,
}

/// What the preset is tuned for (`NV_ENC_TUNING_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Tuning {
    /// Offline / VOD quality (the default).
    #[default]
    HighQuality,
    /// Streaming, low latency.
    LowLatency,
    /// Cloud gaming / video calls: lowest latency.
    UltraLowLatency,
    /// Lossless (H.264 and HEVC; needs [`RateControl::LOSSLESS`]).
    Lossless,
}

/// How to build an NVENC encoder.
///
/// Defaults (from [`EncoderConfig::new`]): 30/1 fps, [`RateControl::default`] (CQP
/// 23/25/27), preset P4, high-quality tuning, a GOP of 60 frames (2 s at 30 fps) with an
/// IDR at each start, no B-frames, NV12 input, device 0, shared primary context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncoderConfig {
    /// H.264, HEVC or AV1.
    pub codec: Codec,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Frames per second (rate control uses it to budget bits per frame); both terms must
    /// be non-zero and fit in 32 bits, as NVENC takes them.
    pub frame_rate: Rational,
    /// Rate control.
    pub rate_control: RateControl,
    /// Speed/quality preset.
    pub preset: Preset,
    /// What the preset is tuned for.
    pub tuning: Tuning,
    /// Frames from one IDR to the next; 1 is intra-only; [`INFINITE_GOP`] never inserts
    /// IDRs by itself (ask for them with [`InputFrame::force_idr`](super::InputFrame::force_idr)).
    pub gop_length: u32,
    /// Consecutive B-frames (0–4). They delay output by that many frames.
    pub b_frames: u32,
    /// Layout of the input frames.
    pub input_format: InputFormat,
    /// CUDA device ordinal.
    pub device: u32,
    /// Shared primary (default) or dedicated context.
    pub context_mode: ContextMode,
}

impl EncoderConfig {
    /// The defaults for `codec` at `width`×`height`.
    pub fn new(codec: Codec, width: u32, height: u32) -> Self {
        EncoderConfig {
            codec,
            width,
            height,
            frame_rate: Rational { num: 30, den: 1 },
            rate_control: RateControl::default(),
            preset: Preset::default(),
            tuning: Tuning::default(),
            gop_length: 60,
            b_frames: 0,
            input_format: InputFormat::default(),
            device: 0,
            context_mode: ContextMode::SharedPrimary,
        }
    }

    /// Sets the frame size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets the frame rate as a fraction.
    pub fn with_frame_rate(mut self, num: u32, den: u32) -> Self {
        self.frame_rate = Rational {
            num: num.into(),
            den: den.into(),
        };
        self
    }

    /// Sets the rate control.
    pub fn with_rate_control(mut self, rate_control: RateControl) -> Self {
        self.rate_control = rate_control;
        self
    }

    /// Sets the preset.
    pub fn with_preset(mut self, preset: Preset) -> Self {
        self.preset = preset;
        self
    }

    /// Sets the tuning.
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Sets the GOP length (see [`EncoderConfig::gop_length`]).
    pub fn with_gop_length(mut self, frames: u32) -> Self {
        self.gop_length = frames;
        self
    }

    /// Sets the number of consecutive B-frames.
    pub fn with_b_frames(mut self, frames: u32) -> Self {
        self.b_frames = frames;
        self
    }

    /// Sets the input layout.
    pub fn with_input_format(mut self, format: InputFormat) -> Self {
        self.input_format = format;
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

    /// Rejects values no GPU can accept, before any NVENC call. The builder runs it first
    /// thing in the session phase; call it yourself to check a config without a GPU.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for impossible values; [`Error::Unsupported`] for
    /// combinations NVENC's API (12.1) has no profile for (10-bit H.264, 4:4:4 AV1).
    pub fn validate(&self) -> Result<()> {
        let invalid = |parameter: &'static str, reason: String| {
            Err(Error::InvalidConfig { parameter, reason })
        };
        if !matches!(self.codec, Codec::H264 | Codec::Hevc | Codec::Av1) {
            return invalid(
                "codec",
                format!(
                    "NVENC encodes H.264, HEVC and AV1; {} is decode-only",
                    self.codec
                ),
            );
        }
        if self.width == 0 || self.height == 0 {
            return invalid(
                "size",
                format!("size {}x{} has a zero dimension", self.width, self.height),
            );
        }
        if self.width > MAX_DIMENSION || self.height > MAX_DIMENSION {
            return invalid(
                "size",
                format!(
                    "size {}x{} exceeds {MAX_DIMENSION}",
                    self.width, self.height
                ),
            );
        }
        if super::nvenc_params::buffer_format(self.input_format)
            == nvidia_video_codec_sdk::sys::nvEncodeAPI::NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_UNDEFINED
        {
            return Err(Error::Unsupported {
                what: format!("{:?} encoder input", self.input_format),
                supported: "Nv12, P010, Yuv444, Yuv444P10, Argb".into(),
            });
        }
        if self.input_format.is_420() && (self.width % 2 != 0 || self.height % 2 != 0) {
            return invalid(
                "size",
                format!(
                    "size {}x{} is odd, but {:?} input is encoded as 4:2:0, which needs even sizes",
                    self.width, self.height, self.input_format
                ),
            );
        }
        let rate = self.frame_rate;
        if rate.num == 0 || rate.den == 0 || rate.to_u32_pair().is_none() {
            return invalid(
                "frame_rate",
                format!("frame rate {rate} has a zero term or a term over 32 bits"),
            );
        }
        self.validate_rate_control()?;
        self.validate_gop()?;
        if self.profile().is_none() {
            return Err(Error::Unsupported {
                what: format!(
                    "{} encoding of {:?} input",
                    self.codec, self.input_format
                ),
                supported: "H.264: NV12, YUV444, ARGB; HEVC: all formats; AV1: NV12, P010, ARGB (NVENC API 12.1)".into(),
            });
        }
        Ok(())
    }

    fn validate_rate_control(&self) -> Result<()> {
        let invalid = |parameter: &'static str, reason: String| {
            Err(Error::InvalidConfig { parameter, reason })
        };
        match self.rate_control {
            RateControl::Cqp { qp_i, qp_p, qp_b } => {
                let max = if self.codec == Codec::Av1 { 255 } else { 51 };
                if [qp_i, qp_p, qp_b].iter().any(|&qp| u32::from(qp) > max) {
                    return invalid(
                        "rate_control",
                        format!(
                            "QPs {qp_i}/{qp_p}/{qp_b} exceed {max}, the largest {} QP",
                            self.codec
                        ),
                    );
                }
            }
            RateControl::Vbr {
                bitrate,
                max_bitrate,
            } => {
                if bitrate == 0 {
                    return invalid("rate_control", "VBR bitrate of 0".into());
                }
                if max_bitrate < bitrate {
                    return invalid(
                        "rate_control",
                        format!("VBR peak bitrate {max_bitrate} is below the average {bitrate}"),
                    );
                }
            }
            RateControl::Cbr { bitrate } => {
                if bitrate == 0 {
                    return invalid("rate_control", "CBR bitrate of 0".into());
                }
            }
        }
        if self.tuning == Tuning::Lossless && self.rate_control != RateControl::LOSSLESS {
            return invalid(
                "tuning",
                format!(
                    "lossless tuning needs constant QP 0 (RateControl::LOSSLESS), not {:?}",
                    self.rate_control
                ),
            );
        }
        Ok(())
    }

    fn validate_gop(&self) -> Result<()> {
        let invalid = |parameter: &'static str, reason: String| {
            Err(Error::InvalidConfig { parameter, reason })
        };
        if self.b_frames > MAX_B_FRAMES {
            return invalid(
                "b_frames",
                format!("{} B-frames (at most {MAX_B_FRAMES})", self.b_frames),
            );
        }
        if self.gop_length == 0 {
            return invalid("gop_length", "GOP length 0 (1 is intra-only)".into());
        }
        if self.b_frames > 0 {
            if self.gop_length == INFINITE_GOP {
                return invalid("gop_length", 
                    "B-frames need a finite GOP (NVENC requires frameIntervalP = 1 with an infinite GOP)".into(),
                );
            }
            if self.b_frames >= self.gop_length {
                return invalid(
                    "b_frames",
                    format!(
                        "{} B-frames do not fit a GOP of {} frames",
                        self.b_frames, self.gop_length
                    ),
                );
            }
        }
        Ok(())
    }

    /// The profile this config encodes with: the one its bit depth, chroma format and tuning
    /// need. `None` where NVENC API 12.1 has no such profile (10-bit H.264, 4:4:4 AV1) or
    /// for decode-only codecs.
    pub(crate) fn profile(&self) -> Option<Profile> {
        let format = self.input_format;
        match (self.codec, format) {
            (Codec::H264, InputFormat::P010 | InputFormat::Yuv444P10) => None,
            // H.264 lossless (qpprime_y_zero_transform_bypass) exists only in High 4:4:4.
            (Codec::H264, InputFormat::Yuv444) => Some(Profile::H264High444),
            (Codec::H264, _) if self.tuning == Tuning::Lossless => Some(Profile::H264High444),
            (Codec::H264, _) => Some(Profile::H264High),
            (Codec::Hevc, InputFormat::P010) => Some(Profile::HevcMain10),
            (Codec::Hevc, InputFormat::Yuv444 | InputFormat::Yuv444P10) => Some(Profile::HevcRext),
            (Codec::Hevc, _) => Some(Profile::HevcMain),
            (Codec::Av1, InputFormat::Yuv444 | InputFormat::Yuv444P10) => None,
            (Codec::Av1, _) => Some(Profile::Av1Main),
            _ => None,
        }
    }

    /// The device and context mode this config asks for.
    pub fn context_spec(&self) -> ContextSpec {
        ContextSpec {
            device: self.device,
            mode: self.context_mode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_every_encodable_codec() {
        for codec in [Codec::H264, Codec::Hevc, Codec::Av1] {
            let c = EncoderConfig::new(codec, 1920, 1080);
            c.validate().unwrap();
            assert_eq!(c.context_spec(), ContextSpec::default());
        }
    }

    #[test]
    fn decode_only_codecs_are_rejected() {
        for codec in [Codec::Vp8, Codec::Vp9, Codec::Mpeg2, Codec::Jpeg] {
            let err = EncoderConfig::new(codec, 640, 360).validate().unwrap_err();
            assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
        }
    }
}
