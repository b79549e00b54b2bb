//! [`ConvertSpec`]: what a conversion produces (layout, sample type, normalisation) and which
//! colour interpretation overrides the stream's.

use nvcodec_media::{ColourRange, MatrixCoefficients};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How the channels of an output picture are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RgbLayout {
    /// Interleaved R, G, B (HWC).
    Rgb,
    /// Interleaved B, G, R (HWC).
    Bgr,
    /// Interleaved R, G, B, alpha (opaque).
    Rgba,
    /// Interleaved B, G, R, alpha (opaque).
    Bgra,
    /// Three planes R, then G, then B (CHW), as tensors for models want them.
    PlanarRgb,
}

impl RgbLayout {
    /// Values per pixel: 3 or 4.
    pub fn channels(self) -> usize {
        match self {
            RgbLayout::Rgb | RgbLayout::Bgr | RgbLayout::PlanarRgb => 3,
            RgbLayout::Rgba | RgbLayout::Bgra => 4,
        }
    }

    /// Whether each channel is a plane of its own.
    pub fn is_planar(self) -> bool {
        self == RgbLayout::PlanarRgb
    }

    /// The position of R, G, B and alpha (−1: none) among the channels.
    pub(crate) fn channel_indices(self) -> [i32; 4] {
        match self {
            RgbLayout::Rgb | RgbLayout::PlanarRgb => [0, 1, 2, -1],
            RgbLayout::Bgr => [2, 1, 0, -1],
            RgbLayout::Rgba => [0, 1, 2, 3],
            RgbLayout::Bgra => [2, 1, 0, 3],
        }
    }
}

impl fmt::Display for RgbLayout {
    /// `rgb`, `bgr`, `rgba`, `bgra` or `planar` (what [`FromStr`] accepts).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RgbLayout::Rgb => "rgb",
            RgbLayout::Bgr => "bgr",
            RgbLayout::Rgba => "rgba",
            RgbLayout::Bgra => "bgra",
            RgbLayout::PlanarRgb => "planar",
        })
    }
}

impl FromStr for RgbLayout {
    type Err = Error;

    /// Parses the names [`Display`](fmt::Display) writes.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "rgb" => RgbLayout::Rgb,
            "bgr" => RgbLayout::Bgr,
            "rgba" => RgbLayout::Rgba,
            "bgra" => RgbLayout::Bgra,
            "planar" => RgbLayout::PlanarRgb,
            other => {
                return Err(Error::InvalidConfig {
                    parameter: "layout",
                    reason: format!(
                        "RGB layout {other:?} (expected rgb, bgr, rgba, bgra or planar)"
                    ),
                });
            }
        })
    }
}

/// The type of each output value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SampleType {
    /// 0–255, rounded to nearest; normalisation does not apply.
    U8,
    /// IEEE half precision, 0–1 (or normalised), rounded to nearest even.
    F16,
    /// IEEE single precision, 0–1 (or normalised).
    F32,
}

impl SampleType {
    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            SampleType::U8 => 1,
            SampleType::F16 => 2,
            SampleType::F32 => 4,
        }
    }
}

impl fmt::Display for SampleType {
    /// `u8`, `f16` or `f32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SampleType::U8 => "u8",
            SampleType::F16 => "f16",
            SampleType::F32 => "f32",
        })
    }
}

impl FromStr for SampleType {
    type Err = Error;

    /// Parses `u8`, `f16` or `f32`.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "u8" => SampleType::U8,
            "f16" => SampleType::F16,
            "f32" => SampleType::F32,
            other => {
                return Err(Error::InvalidConfig {
                    parameter: "sample type",
                    reason: format!("sample type {other:?} (expected u8, f16 or f32)"),
                });
            }
        })
    }
}

/// Where 4:2:0 chroma samples sit relative to luma.
///
/// Vertically both put chroma halfway between two luma rows; they differ horizontally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ChromaSiting {
    /// Co-sited with the even luma columns (MPEG-2 / H.264 / HEVC `chroma_sample_loc_type`
    /// 0, the default of those standards and of nearly every stream).
    #[default]
    Left,
    /// Halfway between two luma columns (MPEG-1 / JPEG / VP8 style).
    Center,
}

impl ChromaSiting {
    /// Horizontal and vertical offset, in chroma samples, of the chroma position of luma
    /// sample (0, 0): chroma is read at `(x/2 + dx, y/2 + dy)`.
    pub fn offsets_420(self) -> (f64, f64) {
        match self {
            ChromaSiting::Left => (0.0, -0.25),
            ChromaSiting::Center => (-0.25, -0.25),
        }
    }
}

/// What a conversion writes: layout, value type, optional per-channel normalisation, and
/// overrides of the stream's colour description.
///
/// Defaults (from [`ConvertSpec::new`]): no normalisation (mean 0, std 1), the stream's matrix
/// and range (see [`ColourDescription::conversion_matrix`](super::ColourDescription::conversion_matrix)
/// for unspecified ones), left chroma siting.
///
/// # Examples
/// ```
/// use nvcodec_guard::convert::{ConvertSpec, RgbLayout, SampleType};
/// // ImageNet-normalised planar f32.
/// let spec = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32)
///     .with_normalization([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
/// assert_eq!(spec.packed_size(224, 224)?, 3 * 224 * 224 * 4);
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ConvertSpec {
    /// Channel arrangement.
    pub layout: RgbLayout,
    /// Value type.
    pub sample: SampleType,
    /// Per-channel mean (R, G, B) subtracted from the 0–1 value (float outputs only).
    pub mean: [f32; 3],
    /// Per-channel standard deviation (R, G, B) the value is divided by (float outputs only).
    pub std: [f32; 3],
    /// The matrix to use instead of the stream's.
    pub matrix: Option<MatrixCoefficients>,
    /// The range to use instead of the stream's.
    pub range: Option<ColourRange>,
    /// Chroma siting of 4:2:0 sources.
    pub siting: ChromaSiting,
}

impl ConvertSpec {
    /// `layout` of `sample` values, everything else default.
    pub fn new(layout: RgbLayout, sample: SampleType) -> Self {
        ConvertSpec {
            layout,
            sample,
            mean: [0.0; 3],
            std: [1.0; 3],
            matrix: None,
            range: None,
            siting: ChromaSiting::Left,
        }
    }

    /// Outputs `(value − mean) / std` per channel (R, G, B) for float outputs.
    pub fn with_normalization(mut self, mean: [f32; 3], std: [f32; 3]) -> Self {
        self.mean = mean;
        self.std = std;
        self
    }

    /// Uses `matrix` whatever the stream says.
    pub fn with_matrix(mut self, matrix: MatrixCoefficients) -> Self {
        self.matrix = Some(matrix);
        self
    }

    /// Uses `range` whatever the stream says.
    pub fn with_range(mut self, range: ColourRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Sets the chroma siting of 4:2:0 sources.
    pub fn with_siting(mut self, siting: ChromaSiting) -> Self {
        self.siting = siting;
        self
    }

    /// Bytes of one packed output row (interleaved: all channels; planar: one channel).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (parameter `"picture size"`) if the size does not fit a
    /// `usize`.
    pub fn row_bytes(&self, width: u32) -> Result<usize> {
        let per_pixel = if self.layout.is_planar() {
            1
        } else {
            self.layout.channels()
        };
        usize::try_from(width)
            .ok()
            .and_then(|w| w.checked_mul(per_pixel))
            .and_then(|b| b.checked_mul(self.sample.bytes()))
            .ok_or_else(|| self.too_large(width, 1))
    }

    /// Bytes of one packed output picture (no padding between rows or planes).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (parameter `"picture size"`) if the size does not fit a
    /// `usize` (e.g. `u32::MAX × u32::MAX` pictures).
    pub fn packed_size(&self, width: u32, height: u32) -> Result<usize> {
        let (w, h) = (usize::try_from(width).ok(), usize::try_from(height).ok());
        w.zip(h)
            .and_then(|(w, h)| w.checked_mul(h))
            .and_then(|n| n.checked_mul(self.layout.channels()))
            .and_then(|n| n.checked_mul(self.sample.bytes()))
            .ok_or_else(|| self.too_large(width, height))
    }

    fn too_large(&self, width: u32, height: u32) -> Error {
        Error::InvalidConfig {
            parameter: "picture size",
            reason: format!(
                "a {width}x{height} picture of {} {} has more bytes than a usize holds",
                self.layout, self.sample
            ),
        }
    }

    /// Rejects a normalisation that is not finite or divides by zero.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the channel.
    pub fn validate(&self) -> Result<()> {
        for (channel, (mean, std)) in ["R", "G", "B"].iter().zip(self.mean.iter().zip(self.std)) {
            if !mean.is_finite() || !std.is_finite() || std == 0.0 {
                return Err(Error::InvalidConfig {
                    parameter: "normalisation",
                    reason: format!(
                        "normalisation of channel {channel}: mean {mean}, std {std} (need finite values, std ≠ 0)"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_usize_are_typed_errors_not_overflows() {
        for layout in [RgbLayout::Rgb, RgbLayout::Bgra, RgbLayout::PlanarRgb] {
            for sample in [SampleType::U8, SampleType::F16, SampleType::F32] {
                let spec = ConvertSpec::new(layout, sample);
                let err = spec.packed_size(u32::MAX, u32::MAX).unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::InvalidConfig {
                            parameter: "picture size",
                            ..
                        }
                    ),
                    "{err}"
                );
                assert!(err.to_string().contains("4294967295x4294967295"), "{err}");
                // The largest row still fits a 64-bit usize.
                assert_eq!(
                    spec.row_bytes(u32::MAX).unwrap(),
                    u32::MAX as usize * (spec.row_bytes(1).unwrap())
                );
            }
        }
    }

    #[test]
    fn layouts_and_types_parse_what_they_print() {
        for l in [
            RgbLayout::Rgb,
            RgbLayout::Bgr,
            RgbLayout::Rgba,
            RgbLayout::Bgra,
            RgbLayout::PlanarRgb,
        ] {
            assert_eq!(l.to_string().parse::<RgbLayout>().unwrap(), l);
        }
        for t in [SampleType::U8, SampleType::F16, SampleType::F32] {
            assert_eq!(t.to_string().parse::<SampleType>().unwrap(), t);
        }
        assert!("yuv".parse::<RgbLayout>().is_err());
    }

    #[test]
    fn sizes_follow_layout_and_type() {
        let rgba = ConvertSpec::new(RgbLayout::Rgba, SampleType::U8);
        assert_eq!(rgba.row_bytes(640).unwrap(), 2560);
        let planar = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F16);
        assert_eq!(planar.row_bytes(640).unwrap(), 1280);
        assert_eq!(planar.packed_size(640, 360).unwrap(), 640 * 360 * 3 * 2);
    }

    #[test]
    fn a_zero_or_nan_std_is_refused() {
        let spec = ConvertSpec::new(RgbLayout::Rgb, SampleType::F32);
        assert!(spec.validate().is_ok());
        assert!(
            spec.with_normalization([0.0; 3], [1.0, 0.0, 1.0])
                .validate()
                .is_err()
        );
        assert!(
            spec.with_normalization([f32::NAN, 0.0, 0.0], [1.0; 3])
                .validate()
                .is_err()
        );
    }
}
