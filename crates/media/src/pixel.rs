//! Pixel layouts: [`PixelFormat`] (what a decoder hands out) and [`InputFormat`] (what an
//! encoder takes), with the plane arithmetic of each ([`PlaneLayout`]).
//!
//! Invariant: every size computed here saturates at `usize::MAX` or returns `None` rather
//! than overflow, whatever the width, height or pitch: no slice is `usize::MAX` bytes long, so
//! a size check against real memory still fails, and no input can make the arithmetic panic
//! or wrap.
//!
//! Why two enums for the same bytes: NVDEC and NVENC name them differently (NVDEC's P016 is
//! NVENC's P010 when the stream has 10 bits), and each name is what the matching NVIDIA
//! documentation uses; `InputFormat::from(PixelFormat)` maps one onto the other.

/// The layout a decoded frame has (a decoder resolves its configured output format against the
/// stream's bit depth and chroma format).
///
/// The encoder names the same bytes its own way: a decoded frame goes into an encoder
/// configured with `InputFormat::from(frame.pixel_format())` (`P016` → `P010`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelFormat {
    /// 8-bit semi-planar 4:2:0.
    Nv12,
    /// 16-bit semi-planar 4:2:0, sample value in the high bits.
    P016,
    /// 8-bit planar 4:4:4: Y, U and V planes of full size (NVDEC's `YUV444`).
    Yuv444,
    /// 16-bit little-endian planar 4:4:4, sample value in the high bits like P016 (NVDEC's
    /// `YUV444_16Bit`).
    Yuv444P16,
}

impl std::fmt::Display for PixelFormat {
    /// `NV12` or `P016`, as NVIDIA's documentation names them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PixelFormat::Nv12 => "NV12",
            PixelFormat::P016 => "P016",
            PixelFormat::Yuv444 => "YUV444",
            PixelFormat::Yuv444P16 => "YUV444_16Bit",
        })
    }
}

impl PixelFormat {
    /// Bytes per sample: 1 for NV12 and YUV444, 2 for P016 and YUV444_16Bit.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            PixelFormat::Nv12 | PixelFormat::Yuv444 => 1,
            PixelFormat::P016 | PixelFormat::Yuv444P16 => 2,
        }
    }

    /// Whether chroma has luma's resolution (three full planes) rather than half of it
    /// (one interleaved UV plane).
    pub fn is_444(self) -> bool {
        matches!(self, PixelFormat::Yuv444 | PixelFormat::Yuv444P16)
    }
}

/// The layout of the frames an encoder takes (NVENC's `NV_ENC_BUFFER_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum InputFormat {
    /// 8-bit 4:2:0: luma plane, then interleaved UV at half resolution (the default; what
    /// the decoder outputs for 8-bit streams).
    #[default]
    Nv12,
    /// 10-bit 4:2:0 like NV12 with 16-bit little-endian samples, value in the high 10 bits
    /// (the decoder's P016 output). Encodes HEVC Main 10 / AV1 10-bit.
    P010,
    /// 8-bit 4:4:4 planar: Y, U and V planes of full size (H.264 High 4:4:4, HEVC RExt).
    Yuv444,
    /// 10-bit 4:4:4 planar, 16-bit little-endian samples with the value in the high 10 bits
    /// (NVENC's `YUV444_10BIT`; the decoder's `YUV444_16Bit` output of a 10-bit stream).
    /// HEVC RExt only.
    Yuv444P10,
    /// 8-bit packed ARGB, 4 bytes per pixel (B, G, R, A in memory); NVENC converts to
    /// 4:2:0.
    Argb,
}

impl From<PixelFormat> for InputFormat {
    /// The encoder input format that takes a decoded frame as it is: NV12 as NV12, and
    /// NVDEC's P016 (10 bits in the high bits of 16) as P010 — the same bytes under the name
    /// NVENC uses. One pixel vocabulary for a transcoder: `InputFormat::from(frame.pixel_format())`.
    fn from(format: PixelFormat) -> Self {
        match format {
            PixelFormat::Nv12 => InputFormat::Nv12,
            PixelFormat::P016 => InputFormat::P010,
            PixelFormat::Yuv444 => InputFormat::Yuv444,
            PixelFormat::Yuv444P16 => InputFormat::Yuv444P10,
        }
    }
}

impl InputFormat {
    /// Whether the encoded picture is 4:2:0 (so width and height must be even).
    pub fn is_420(self) -> bool {
        !matches!(self, InputFormat::Yuv444 | InputFormat::Yuv444P10)
    }

    /// Bits per sample of the encoded stream (10 for P010, else 8).
    pub fn bit_depth(self) -> u8 {
        match self {
            InputFormat::P010 | InputFormat::Yuv444P10 => 10,
            _ => 8,
        }
    }
}

/// One plane of a frame: how many rows, and how many bytes of each row are picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    /// Bytes of picture per row (the smallest valid pitch).
    pub row_bytes: usize,
    /// Rows.
    pub rows: usize,
}

/// The planes of one frame of a format and size, in memory order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneLayout {
    planes: [Plane; 3],
    count: usize,
}

impl PlaneLayout {
    /// The planes (1 for ARGB, 2 for NV12/P010, 3 for YUV444).
    pub fn planes(&self) -> &[Plane] {
        self.planes.get(..self.count).unwrap_or(&[])
    }

    /// Bytes of a tightly packed frame (every pitch = row bytes), saturating at
    /// `usize::MAX`: no slice is that long, so a size check against real data still fails.
    pub fn packed_size(&self) -> usize {
        self.planes().iter().fold(0usize, |sum, p| {
            sum.saturating_add(p.row_bytes.saturating_mul(p.rows))
        })
    }

    /// Rows of a pitched surface holding every plane at one pitch (saturating).
    pub fn surface_rows(&self) -> usize {
        self.planes()
            .iter()
            .fold(0usize, |sum, p| sum.saturating_add(p.rows))
    }

    /// Bytes a pitched surface at `pitch` must span: every row at `pitch`, except that the
    /// last row needs only its picture bytes. `None` if `pitch` is smaller than a plane's
    /// row or the size overflows.
    pub fn surface_size(&self, pitch: usize) -> Option<usize> {
        if self.planes().iter().any(|p| pitch < p.row_bytes) {
            return None;
        }
        let rows = self.surface_rows();
        let last = self.planes().last()?;
        pitch
            .checked_mul(rows.checked_sub(1)?)?
            .checked_add(last.row_bytes)
    }

    /// Byte offset of plane `index` in a pitched surface at `pitch`; `None` for a plane
    /// that does not exist or an offset that overflows.
    pub fn plane_offset(&self, index: usize, pitch: usize) -> Option<usize> {
        let rows = self
            .planes()
            .get(..index)?
            .iter()
            .try_fold(0usize, |sum, p| sum.checked_add(p.rows))?;
        pitch.checked_mul(rows)
    }
}

impl InputFormat {
    /// Bytes per sample of the luma plane (2 for P010, 4 for ARGB's packed pixels, else 1).
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            InputFormat::Nv12 | InputFormat::Yuv444 => 1,
            InputFormat::P010 | InputFormat::Yuv444P10 => 2,
            InputFormat::Argb => 4,
        }
    }

    /// The planes of a `width`×`height` frame. For the 4:2:0 formats the size must be even
    /// (an encoder's configuration check ensures it); odd sizes
    /// round the chroma plane up. Any size is accepted: byte counts saturate at
    /// `usize::MAX` rather than overflow (see [`PlaneLayout::packed_size`]).
    pub fn layout(self, width: u32, height: u32) -> PlaneLayout {
        let usize_of = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        let (w, h) = (usize_of(width), usize_of(height));
        let none = Plane {
            row_bytes: 0,
            rows: 0,
        };
        let luma = Plane {
            row_bytes: w.saturating_mul(self.bytes_per_pixel()),
            rows: h,
        };
        match self {
            InputFormat::Nv12 | InputFormat::P010 => PlaneLayout {
                planes: [
                    luma,
                    Plane {
                        // Interleaved U and V at half width: as many bytes as a luma row.
                        row_bytes: w
                            .div_ceil(2)
                            .saturating_mul(2)
                            .saturating_mul(self.bytes_per_pixel()),
                        rows: h.div_ceil(2),
                    },
                    none,
                ],
                count: 2,
            },
            InputFormat::Yuv444 | InputFormat::Yuv444P10 => PlaneLayout {
                planes: [luma, luma, luma],
                count: 3,
            },
            InputFormat::Argb => PlaneLayout {
                planes: [luma, none, none],
                count: 1,
            },
        }
    }
}
