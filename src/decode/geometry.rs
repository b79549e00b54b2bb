//! Sizes: what a decoder handle was allocated for ([`Shape`]) and what the current stream
//! looks like ([`Geometry`]).

use super::config::OutputGeometry;
use crate::Codec;
use nvcodec_media::PixelFormat;

/// What a decoder handle was created for; changing any of it needs a new handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) codec: Codec,
    pub(crate) bit_depth: u8,
    pub(crate) format: PixelFormat,
    pub(crate) max_width: u32,
    pub(crate) max_height: u32,
    pub(crate) surfaces: u32,
}

impl Shape {
    /// Whether a stream of `needs` fits this handle (so `cuvidReconfigureDecoder` suffices).
    pub(crate) fn fits(&self, needs: &Shape) -> bool {
        self.codec == needs.codec
            && self.bit_depth == needs.bit_depth
            && self.format == needs.format
            && needs.max_width <= self.max_width
            && needs.max_height <= self.max_height
            && needs.surfaces <= self.surfaces
    }

    /// The smallest shape that holds both `self` and `needs` (for re-creation).
    pub(crate) fn grown_to(&self, needs: &Shape) -> Shape {
        Shape {
            codec: needs.codec,
            bit_depth: needs.bit_depth,
            format: needs.format,
            max_width: self.max_width.max(needs.max_width),
            max_height: self.max_height.max(needs.max_height),
            surfaces: self.surfaces.max(needs.surfaces),
        }
    }
}

/// The coded size of the current stream, the rectangle of it that frames show (the display
/// area, or a crop of it), and the size frames are scaled to, if any.
///
/// Invariant: `0 <= left < right <= coded_width` and `0 <= top < bottom <= coded_height`;
/// `output` sizes are even and non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) coded_width: u32,
    pub(crate) coded_height: u32,
    pub(crate) left: u32,
    pub(crate) top: u32,
    pub(crate) right: u32,
    pub(crate) bottom: u32,
    /// The output surface size when cropped or scaled (`None`: the rectangle's own size).
    pub(crate) output: Option<(u32, u32)>,
}

impl Geometry {
    /// The whole coded area visible.
    pub(crate) fn full(width: u32, height: u32) -> Geometry {
        Geometry {
            coded_width: width,
            coded_height: height,
            left: 0,
            top: 0,
            right: width,
            bottom: height,
            output: None,
        }
    }

    /// From a parser's sequence header, clamping a display area that lies outside the coded
    /// picture (malformed streams do that) to the coded picture.
    pub(crate) fn from_stream(
        coded_width: u32,
        coded_height: u32,
        area: (i32, i32, i32, i32),
    ) -> Geometry {
        let clamp = |v: i32, max: u32| u32::try_from(v).unwrap_or(0).min(max);
        let (mut left, mut top) = (clamp(area.0, coded_width), clamp(area.1, coded_height));
        let (mut right, mut bottom) = (clamp(area.2, coded_width), clamp(area.3, coded_height));
        if right <= left {
            (left, right) = (0, coded_width);
        }
        if bottom <= top {
            (top, bottom) = (0, coded_height);
        }
        Geometry {
            coded_width,
            coded_height,
            left,
            top,
            right,
            bottom,
            output: None,
        }
    }

    /// This display area cropped and scaled as `output` says. The crop is clamped to the
    /// display area (at least 2×2 pixels, even offsets and sizes), so no stream can make it
    /// reach outside the picture.
    pub(crate) fn with_output(self, output: OutputGeometry) -> Geometry {
        if !output.is_set() {
            return self;
        }
        let mut g = self;
        if let Some(crop) = output.crop {
            let even_down = |v: u32| v & !1;
            let clamp_axis = |start: u32, end: u32, offset: u32, length: u32| {
                let span = end - start;
                let offset = even_down(offset.min(span.saturating_sub(2)));
                let length = even_down(length.min(span - offset))
                    .max(2)
                    .min(span - offset);
                (start + offset, start + offset + length)
            };
            (g.left, g.right) = clamp_axis(self.left, self.right, crop.x, crop.width);
            (g.top, g.bottom) = clamp_axis(self.top, self.bottom, crop.y, crop.height);
        }
        g.output = Some(
            output
                .size
                .unwrap_or((g.width().div_ceil(2) * 2, g.height().div_ceil(2) * 2)),
        );
        g
    }

    /// Whether frames are cropped or scaled by the decoder.
    pub(crate) fn is_scaled(&self) -> bool {
        self.output.is_some()
    }

    /// Width of the frames handed out.
    pub(crate) fn frame_width(&self) -> u32 {
        self.output.map_or(self.width(), |o| o.0)
    }

    /// Height of the frames handed out.
    pub(crate) fn frame_height(&self) -> u32 {
        self.output.map_or(self.height(), |o| o.1)
    }

    /// Visible width.
    pub(crate) fn width(&self) -> u32 {
        self.right - self.left
    }

    /// Visible height.
    pub(crate) fn height(&self) -> u32 {
        self.bottom - self.top
    }

    /// Output surface width: the output size, or the visible width, even (4:2:0 chroma
    /// needs pairs). A driver-reported width of `u32::MAX` saturates at the largest even `u32`.
    pub(crate) fn target_width(&self) -> u32 {
        self.output.map_or(even(self.width()), |o| o.0)
    }

    /// Output surface height: the output size, or the visible height, even (saturating as
    /// the width).
    pub(crate) fn target_height(&self) -> u32 {
        self.output.map_or(even(self.height()), |o| o.1)
    }

    /// The display rectangle as the driver's `short`s. Sizes are validated ≤ 32768 by caps.
    pub(crate) fn display_area_i16(&self) -> (i16, i16, i16, i16) {
        let s = |v: u32| i16::try_from(v).unwrap_or(i16::MAX);
        (s(self.left), s(self.top), s(self.right), s(self.bottom))
    }
}

/// `value` rounded up to even, saturating at `u32::MAX - 1`.
fn even(value: u32) -> u32 {
    value.checked_next_multiple_of(2).unwrap_or(u32::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_1080p_stream_is_coded_1088_and_displayed_1080() {
        let g = Geometry::from_stream(1920, 1088, (0, 0, 1920, 1080));
        assert_eq!((g.width(), g.height()), (1920, 1080));
        assert_eq!((g.target_width(), g.target_height()), (1920, 1080));
    }

    #[test]
    fn a_display_area_outside_the_picture_is_clamped() {
        let g = Geometry::from_stream(640, 368, (-5, 400, 9000, 10));
        assert_eq!((g.left, g.right), (0, 640));
        assert_eq!((g.top, g.bottom), (0, 368));
    }

    #[test]
    fn odd_visible_sizes_get_even_surfaces() {
        let g = Geometry::from_stream(656, 368, (0, 0, 641, 361));
        assert_eq!((g.target_width(), g.target_height()), (642, 362));
    }

    #[test]
    fn a_driver_reported_size_of_u32_max_does_not_overflow() {
        let g = Geometry::full(u32::MAX, u32::MAX);
        assert_eq!(
            (g.target_width(), g.target_height()),
            (u32::MAX - 1, u32::MAX - 1)
        );
        let g = Geometry::from_stream(u32::MAX, u32::MAX, (0, 0, i32::MAX, -1));
        assert_eq!((g.width(), g.height()), (i32::MAX as u32, u32::MAX));
        assert_eq!(
            (g.target_width(), g.target_height()),
            (1 << 31, u32::MAX - 1)
        );
    }

    #[test]
    fn a_crop_is_relative_to_the_display_area_and_clamped_to_it() {
        use super::super::config::CropRect;
        let stream = Geometry::from_stream(1920, 1088, (0, 0, 1920, 1080));
        let g =
            stream.with_output(OutputGeometry::new().with_crop(CropRect::new(100, 60, 640, 360)));
        assert_eq!((g.left, g.top, g.right, g.bottom), (100, 60, 740, 420));
        assert_eq!((g.target_width(), g.target_height()), (640, 360));
        assert_eq!((g.frame_width(), g.frame_height()), (640, 360));
        let scaled = stream.with_output(
            OutputGeometry::new()
                .with_crop(CropRect::new(420, 0, 1080, 1080))
                .with_size(224, 224),
        );
        assert_eq!((scaled.left, scaled.right), (420, 1500));
        assert_eq!((scaled.target_width(), scaled.target_height()), (224, 224));
        // A crop beyond a small stream stays inside it.
        let small = Geometry::from_stream(320, 240, (0, 0, 320, 240));
        let g =
            small.with_output(OutputGeometry::new().with_crop(CropRect::new(400, 100, 640, 360)));
        assert!(g.left < g.right && g.right <= 320 && g.top < g.bottom && g.bottom <= 240);
        assert_eq!((g.left, g.right, g.top, g.bottom), (318, 320, 100, 240));
        // Nothing set: the geometry is untouched.
        assert_eq!(small.with_output(OutputGeometry::new()), small);
    }

    #[test]
    fn a_shape_fits_smaller_streams_of_the_same_format_only() {
        let big = Shape {
            codec: Codec::H264,
            bit_depth: 8,
            format: PixelFormat::Nv12,
            max_width: 1920,
            max_height: 1088,
            surfaces: 8,
        };
        let small = Shape {
            max_width: 640,
            max_height: 368,
            ..big
        };
        assert!(big.fits(&small));
        assert!(!small.fits(&big));
        let ten_bit = Shape {
            bit_depth: 10,
            format: PixelFormat::P016,
            ..small
        };
        assert!(!big.fits(&ten_bit));
        let grown = small.grown_to(&Shape {
            surfaces: 12,
            ..big
        });
        assert_eq!((grown.max_width, grown.surfaces), (1920, 12));
    }
}
