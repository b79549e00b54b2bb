//! Sizes: what a decoder handle was allocated for ([`Shape`]) and what the current stream
//! looks like ([`Geometry`]).

use super::config::PixelFormat;
use crate::codec::Codec;

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

/// The coded size of the current stream and the visible (display) rectangle inside it.
///
/// Invariant: `0 <= left < right <= coded_width` and `0 <= top < bottom <= coded_height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) coded_width: u32,
    pub(crate) coded_height: u32,
    pub(crate) left: u32,
    pub(crate) top: u32,
    pub(crate) right: u32,
    pub(crate) bottom: u32,
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
        }
    }

    /// Visible width.
    pub(crate) fn width(&self) -> u32 {
        self.right - self.left
    }

    /// Visible height.
    pub(crate) fn height(&self) -> u32 {
        self.bottom - self.top
    }

    /// Output surface width: the visible width, even (4:2:0 chroma needs pairs). A
    /// driver-reported width of `u32::MAX` saturates at the largest even `u32`.
    pub(crate) fn target_width(&self) -> u32 {
        even(self.width())
    }

    /// Output surface height: the visible height, even (saturating as the width).
    pub(crate) fn target_height(&self) -> u32 {
        even(self.height())
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
