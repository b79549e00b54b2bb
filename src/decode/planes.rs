//! [`FrameLayout`] and the plane copies every frame copy goes through.
//!
//! Layout of every copy the crate makes ("packed"): the luma plane, `width` samples per row
//! and `height` rows, then the interleaved UV plane, `2·⌈width/2⌉` samples per row and
//! `⌈height/2⌉` rows, no padding — byte for byte what ffmpeg's `nv12` / `p010le` raw formats
//! hold, so hashes compare directly. 4:4:4 frames: three full planes Y, U, V (ffmpeg's
//! `yuv444p`; the 16-bit format holds its samples in the high bits, so `yuv444p10le` is the
//! same bytes shifted right by 6).

use nvcodec_media::PixelFormat;
use std::ffi::c_void;

use super::geometry::Geometry;
use super::nvdec_objects::WorkStream;
use crate::cuda::{Context, EnqueuedWork};
use crate::error::Result;
use crate::ffi::cuda::{Copy2d, Mem};

/// Size and pixel format of a frame, and its **packed layout**: what every copy the crate
/// makes of a frame holds (`Frame::to_vec`, `copy_to_host`, `copy_to_device`,
/// `copy_to_pool`).
///
/// Packed means: the luma plane, [`width`](Self::width) samples per row and
/// [`height`](Self::height) rows, then the interleaved UV plane, `2·⌈width/2⌉` samples per row
/// and `⌈height/2⌉` rows, no padding ([`packed_size`](Self::packed_size) bytes in all) — byte
/// for byte what ffmpeg's `nv12` (8-bit) and `p010le` (P016) raw formats hold, so hashes
/// compare directly. A mapped [`Frame`](super::Frame) itself is pitched instead: see its
/// `pitch`, `chroma_offset` and `chroma_pitch`.
///
/// The sizes saturate at `usize::MAX` rather than overflow (a layout built by hand with
/// `u32::MAX` sides): no buffer can be that large, so a size check against a real buffer
/// still fails, and nothing panics or wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Visible width in pixels.
    pub width: u32,
    /// Visible height in pixels.
    pub height: u32,
    /// Rows of luma in the mapped output surface before the chroma plane starts.
    pub surface_height: u32,
    /// Sample layout.
    pub format: PixelFormat,
}

impl FrameLayout {
    /// The layout of frames of a stream of `geometry` decoded into output surfaces
    /// configured for `configured` (the same geometry, or the whole coded picture when the
    /// display rectangle starts at its top-left corner).
    pub(crate) fn new(geometry: Geometry, configured: Geometry, format: PixelFormat) -> Self {
        FrameLayout {
            width: geometry.frame_width().min(configured.target_width()),
            height: geometry.frame_height().min(configured.target_height()),
            surface_height: configured.target_height(),
            format,
        }
    }

    fn bps(&self) -> usize {
        self.format.bytes_per_sample()
    }

    /// Bytes in one packed luma row (saturating).
    pub fn luma_row_bytes(&self) -> usize {
        usize_of(self.width).saturating_mul(self.bps())
    }

    /// Bytes in one packed chroma row: interleaved UV (4:2:0), or one of U and V (4:4:4)
    /// (saturating).
    pub fn chroma_row_bytes(&self) -> usize {
        if self.format.is_444() {
            self.luma_row_bytes()
        } else {
            usize_of(self.width.div_ceil(2))
                .saturating_mul(2)
                .saturating_mul(self.bps())
        }
    }

    /// Rows in a chroma plane.
    pub fn chroma_rows(&self) -> usize {
        if self.format.is_444() {
            usize_of(self.height)
        } else {
            usize_of(self.height.div_ceil(2))
        }
    }

    /// Chroma planes: 1 (interleaved UV) or 2 (U, then V).
    pub fn chroma_planes(&self) -> usize {
        if self.format.is_444() { 2 } else { 1 }
    }

    /// Bytes of the packed frame (saturating at `usize::MAX`).
    pub fn packed_size(&self) -> usize {
        self.luma_row_bytes()
            .saturating_mul(usize_of(self.height))
            .saturating_add(
                self.chroma_row_bytes()
                    .saturating_mul(self.chroma_rows())
                    .saturating_mul(self.chroma_planes()),
            )
    }

    /// Pitch of packed copies (luma rows).
    pub(crate) fn packed_pitch(&self) -> usize {
        self.luma_row_bytes()
    }
}

/// A `u32` as `usize`, saturating on targets where `usize` is narrower.
fn usize_of(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

fn offset(mem: Mem, bytes: usize) -> Mem {
    match mem {
        // Wrapping: a device address is the driver's to check, never dereferenced here.
        Mem::Device(p) => Mem::Device(p.wrapping_add(bytes as u64)),
        Mem::Host(p) => Mem::Host(p.cast::<u8>().wrapping_add(bytes).cast::<c_void>()),
    }
}

/// Copies both planes from a pitched source (chroma after `src_luma_rows` rows) to a
/// destination with `dst_luma_rows` rows before chroma, then waits for the copy — also when
/// the second plane's copy fails to enqueue (see [`EnqueuedWork`]).
///
/// The chroma plane of a packed destination uses `chroma_row_bytes` as its pitch when
/// `dst_pitch` is the packed luma pitch.
// The copies' memory is described by the callers (see the module docs of `decode`).
#[allow(clippy::too_many_arguments, unsafe_code)]
pub(crate) fn copy_planes(
    context: &Context,
    stream: &WorkStream,
    layout: &FrameLayout,
    src: Mem,
    src_pitch: usize,
    src_luma_rows: usize,
    dst: Mem,
    dst_pitch: usize,
    dst_luma_rows: usize,
) -> Result<()> {
    let packed = dst_pitch == layout.packed_pitch();
    let dst_chroma_pitch = if packed {
        layout.chroma_row_bytes()
    } else {
        dst_pitch
    };
    let luma = Copy2d {
        src,
        src_pitch,
        dst,
        dst_pitch,
        width_bytes: layout.luma_row_bytes(),
        height: layout.height as usize,
    };
    // Chroma plane `i` (0: UV or U, 1: V) starts `src_luma_rows` (`dst_luma_rows`) rows after
    // the previous plane on each side; packed, a destination chroma plane is
    // `chroma_rows` rows of its own pitch.
    // Saturating: a size that large fails the driver's own range checks instead of wrapping.
    let dst_chroma_plane = if packed {
        dst_chroma_pitch.saturating_mul(layout.chroma_rows())
    } else {
        dst_pitch.saturating_mul(dst_luma_rows)
    };
    let chroma = |i: usize| Copy2d {
        src: offset(
            src,
            src_pitch
                .saturating_mul(src_luma_rows)
                .saturating_mul(i.saturating_add(1)),
        ),
        src_pitch,
        dst: offset(
            dst,
            dst_pitch
                .saturating_mul(dst_luma_rows)
                .saturating_add(dst_chroma_plane.saturating_mul(i)),
        ),
        dst_pitch: dst_chroma_pitch,
        width_bytes: layout.chroma_row_bytes(),
        height: layout.chroma_rows(),
    };
    let _current = context.make_current()?;
    // SAFETY: the decoder's work stream lives as long as `stream` is borrowed.
    let mut work = unsafe { EnqueuedWork::on(context, stream.raw()) };
    // SAFETY: callers pass a source that holds every plane at the given pitch (4:4:4: three
    // planes of `src_luma_rows` rows) and a destination of at least `packed_size` (packed) or
    // the same pitched size; both outlive `work`, which waits for the copies on every return
    // (early ones by its `Drop`).
    unsafe {
        work.copy_2d(&luma)?;
        for i in 0..layout.chroma_planes() {
            work.copy_2d(&chroma(i))?;
        }
    }
    work.wait()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_nv12_matches_ffmpeg_sizes() {
        let l = FrameLayout {
            width: 640,
            height: 360,
            surface_height: 360,
            format: PixelFormat::Nv12,
        };
        assert_eq!(l.packed_size(), 640 * 360 * 3 / 2);
        let odd = FrameLayout {
            width: 641,
            height: 361,
            surface_height: 362,
            format: PixelFormat::Nv12,
        };
        assert_eq!(odd.packed_size(), 641 * 361 + 642 * 181);
    }

    #[test]
    fn packed_444_is_three_full_planes_like_ffmpeg_yuv444p() {
        let l = FrameLayout {
            width: 321,
            height: 241,
            surface_height: 242,
            format: PixelFormat::Yuv444,
        };
        assert_eq!(l.packed_size(), 321 * 241 * 3);
        assert_eq!(
            (l.chroma_row_bytes(), l.chroma_rows(), l.chroma_planes()),
            (321, 241, 2)
        );
        let deep = FrameLayout {
            format: PixelFormat::Yuv444P16,
            ..l
        };
        assert_eq!(deep.packed_size(), 321 * 241 * 3 * 2);
    }

    #[test]
    fn packed_p016_has_two_bytes_per_sample() {
        let l = FrameLayout {
            width: 640,
            height: 360,
            surface_height: 360,
            format: PixelFormat::P016,
        };
        assert_eq!(l.packed_size(), 640 * 360 * 3);
        assert_eq!(l.chroma_row_bytes(), 1280);
    }

    #[test]
    fn a_layout_of_u32_max_sides_saturates_instead_of_overflowing() {
        for format in [PixelFormat::Nv12, PixelFormat::P016] {
            let huge = FrameLayout {
                width: u32::MAX,
                height: u32::MAX,
                surface_height: u32::MAX,
                format,
            };
            assert_eq!(huge.packed_size(), usize::MAX);
            assert_eq!(huge.chroma_rows(), 1 << 31);
            assert_eq!(
                huge.luma_row_bytes(),
                u32::MAX as usize * format.bytes_per_sample()
            );
            // No buffer is `usize::MAX` bytes, so a size check against one still fails.
            assert!(Vec::<u8>::new().len() != huge.packed_size());
        }
    }
}
