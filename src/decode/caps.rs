//! What the GPU's NVDEC can decode (`cuvidGetDecoderCaps`), cached per device.
//!
//! Caching matters for cold start: the query runs inside the init window, and 32 pipelines
//! starting at once would otherwise each pay it while the others wait.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use nvidia_video_codec_sdk::sys::cuviddec::{
    cudaVideoChromaFormat, cudaVideoCodec, cudaVideoSurfaceFormat,
};

use crate::Codec;
use crate::cuda::Context;
use crate::error::{Error, Result};
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::WindowToken;
use nvcodec_media::PixelFormat;

/// The driver's codec id for `codec`.
///
/// # Errors
/// [`Error::Unsupported`] for a codec NVDEC has no id for.
pub(crate) fn cuvid_codec(codec: Codec) -> Result<cudaVideoCodec> {
    Ok(match codec {
        Codec::H264 => cudaVideoCodec::cudaVideoCodec_H264,
        Codec::Hevc => cudaVideoCodec::cudaVideoCodec_HEVC,
        Codec::Vp8 => cudaVideoCodec::cudaVideoCodec_VP8,
        Codec::Vp9 => cudaVideoCodec::cudaVideoCodec_VP9,
        Codec::Av1 => cudaVideoCodec::cudaVideoCodec_AV1,
        Codec::Mpeg2 => cudaVideoCodec::cudaVideoCodec_MPEG2,
        Codec::Jpeg => cudaVideoCodec::cudaVideoCodec_JPEG,
        other => {
            return Err(Error::Unsupported {
                what: format!("decoding {other}"),
                supported: "h264, hevc, vp8, vp9, av1, mpeg2, jpeg".into(),
            });
        }
    })
}

/// The `cudaVideoCodec` value for `codec`, as the integer drivers read and write.
pub(crate) fn cuvid_codec_value(codec: Codec) -> Result<u32> {
    Ok(cuvid_codec(codec)? as u32)
}

/// The codec of a `cudaVideoCodec` value a driver reported; `None` for a value this crate
/// does not decode (or its header does not list).
pub(crate) fn codec_of_cuvid(value: u32) -> Option<Codec> {
    [
        Codec::H264,
        Codec::Hevc,
        Codec::Vp8,
        Codec::Vp9,
        Codec::Av1,
        Codec::Mpeg2,
        Codec::Jpeg,
    ]
    .into_iter()
    .find(|&c| cuvid_codec_value(c).is_ok_and(|v| v == value))
}

/// `cudaVideoChromaFormat_420`.
pub(crate) const CHROMA_420: u32 = cudaVideoChromaFormat::cudaVideoChromaFormat_420 as u32;

/// `cudaVideoChromaFormat_444`.
pub(crate) const CHROMA_444: u32 = cudaVideoChromaFormat::cudaVideoChromaFormat_444 as u32;

/// The subset of `CUVIDDECODECAPS` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeCaps {
    /// Whether this codec / chroma / bit depth decodes at all.
    pub supported: bool,
    /// Number of NVDEC engines.
    pub engines: u8,
    /// Largest coded width.
    pub max_width: u32,
    /// Largest coded height.
    pub max_height: u32,
    /// Smallest coded width.
    pub min_width: u32,
    /// Smallest coded height.
    pub min_height: u32,
    /// Whether NV12 output is possible.
    pub nv12_output: bool,
    /// Whether P016 output is possible.
    pub p016_output: bool,
    /// Whether 8-bit planar 4:4:4 (`YUV444`) output is possible (4:4:4 queries only).
    pub yuv444_output: bool,
    /// Whether 16-bit planar 4:4:4 (`YUV444_16Bit`) output is possible (4:4:4 queries only).
    pub yuv444_16_output: bool,
}

impl DecodeCaps {
    /// Whether frames can be output as `format`.
    pub fn outputs(&self, format: PixelFormat) -> bool {
        use PixelFormat as F;
        match format {
            F::Nv12 => self.nv12_output,
            F::P016 => self.p016_output,
            F::Yuv444 => self.yuv444_output,
            F::Yuv444P16 => self.yuv444_16_output,
            // A layout this crate does not know yet is one this decoder cannot give.
            _ => false,
        }
    }
}

type CapsKey = (u32, Codec, u8, bool);
static CACHE: Mutex<Option<HashMap<CapsKey, DecodeCaps>>> = Mutex::new(None);

/// Queries (or recalls) the caps for `codec` at `bit_depth`, 4:2:0 or 4:4:4, on device
/// `ordinal`.
/// Needs the device's context current and an init window (`cuvidGetDecoderCaps` is a
/// lifecycle call).
pub(crate) fn query(
    window: WindowToken<'_>,
    api: &Nvcuvid,
    ordinal: u32,
    codec: Codec,
    bit_depth: u8,
    chroma_444: bool,
) -> Result<DecodeCaps> {
    let key = (ordinal, codec, bit_depth, chroma_444);
    if let Some(caps) = CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|m| m.get(&key))
    {
        return Ok(*caps);
    }
    let raw = api.decoder_caps(
        window,
        cuvid_codec_value(codec)?,
        if chroma_444 { CHROMA_444 } else { CHROMA_420 },
        u32::from(bit_depth.saturating_sub(8)),
    )?;
    let mask = raw.output_format_mask;
    let caps = DecodeCaps {
        supported: raw.supported,
        engines: raw.engines,
        max_width: raw.max_width,
        max_height: raw.max_height,
        min_width: u32::from(raw.min_width),
        min_height: u32::from(raw.min_height),
        nv12_output: mask & (1 << cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_NV12 as u32) != 0,
        p016_output: mask & (1 << cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_P016 as u32) != 0,
        yuv444_output: mask & (1 << cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_YUV444 as u32)
            != 0,
        yuv444_16_output: mask
            & (1 << cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_YUV444_16Bit as u32)
            != 0,
    };
    CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(key, caps);
    Ok(caps)
}

/// A human-readable list of what the device decodes, for `Unsupported` errors.
pub(crate) fn describe_supported(window: WindowToken<'_>, api: &Nvcuvid, ordinal: u32) -> String {
    let candidates = [
        (Codec::H264, 8),
        (Codec::Hevc, 8),
        (Codec::Hevc, 10),
        (Codec::Hevc, 12),
        (Codec::Vp8, 8),
        (Codec::Vp9, 8),
        (Codec::Vp9, 10),
        (Codec::Av1, 8),
        (Codec::Av1, 10),
        (Codec::Mpeg2, 8),
        (Codec::Jpeg, 8),
    ];
    let list: Vec<String> = candidates
        .iter()
        .filter_map(
            |&(codec, depth)| match query(window, api, ordinal, codec, depth, false) {
                Ok(c) if c.supported => Some(format!(
                    "{codec} {depth}-bit up to {}x{}",
                    c.max_width, c.max_height
                )),
                _ => None,
            },
        )
        .collect();
    if list.is_empty() {
        "nothing (no NVDEC engine reported)".to_owned()
    } else {
        format!("4:2:0 {}", list.join(", "))
    }
}

/// Checks that `codec` at `bit_depth` (4:2:0, or 4:4:4 when `chroma_444`) and
/// `width`×`height` decodes on this device.
#[allow(clippy::too_many_arguments)]
pub(crate) fn require(
    window: WindowToken<'_>,
    api: &Nvcuvid,
    context: &Context,
    codec: Codec,
    bit_depth: u8,
    chroma_444: bool,
    width: u32,
    height: u32,
) -> Result<DecodeCaps> {
    let (ordinal, device_name) = (context.ordinal(), context.device_name());
    let caps = query(window, api, ordinal, codec, bit_depth, chroma_444)?;
    if !caps.supported {
        let chroma = if chroma_444 { "4:4:4" } else { "4:2:0" };
        return Err(Error::Unsupported {
            what: format!("{codec} {chroma} {bit_depth}-bit decode on {device_name}"),
            supported: describe_supported(window, api, ordinal),
        });
    }
    if width > caps.max_width || height > caps.max_height {
        return Err(Error::Unsupported {
            what: format!("{codec} {width}x{height} decode on {device_name}"),
            supported: format!("up to {}x{}", caps.max_width, caps.max_height),
        });
    }
    Ok(caps)
}
