//! Decoded frames: zero-copy views of NVDEC output surfaces, and copies out of them.
//!
//! Invariant: a [`Frame`] borrows its decoder, so it cannot outlive the decoder's mapping
//! and the decoder cannot be fed (or dropped) while a frame is alive; the surface is
//! unmapped when the frame drops (or, for a frame leaked with `mem::forget`, by the decoder
//! before it touches its surfaces again). NVDEC's post-processing into the surface has
//! finished before a frame is handed out, so its pixels can be read on any CUDA stream.
//!
//! Layout of every copy this module makes ("packed"): the luma plane, `width` samples per
//! row and `height` rows, then the interleaved UV plane, `2·⌈width/2⌉` samples per row and
//! `⌈height/2⌉` rows, no padding — byte for byte what ffmpeg's `nv12` / `p010le` raw
//! formats hold, so hashes compare directly.

use std::ffi::c_void;

use super::config::PixelFormat;
use super::core::Core;
use super::geometry::Geometry;
use super::handles::OwnedStream;
use crate::cuda::{Context, DeviceBuffer};
use crate::error::{Error, Result};
use crate::ffi::cuda::{Copy2d, Mem};

/// Size and pixel format of a frame.
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
            width: geometry.width().min(configured.target_width()),
            height: geometry.height().min(configured.target_height()),
            surface_height: configured.target_height(),
            format,
        }
    }

    fn bps(&self) -> usize {
        self.format.bytes_per_sample()
    }

    /// Bytes in one packed luma row.
    pub fn luma_row_bytes(&self) -> usize {
        self.width as usize * self.bps()
    }

    /// Bytes in one packed chroma (UV) row.
    pub fn chroma_row_bytes(&self) -> usize {
        self.width.div_ceil(2) as usize * 2 * self.bps()
    }

    /// Rows in the chroma plane.
    pub fn chroma_rows(&self) -> usize {
        self.height.div_ceil(2) as usize
    }

    /// Bytes of the packed frame.
    pub fn packed_size(&self) -> usize {
        self.luma_row_bytes() * self.height as usize + self.chroma_row_bytes() * self.chroma_rows()
    }

    /// Pitch of packed copies (luma rows).
    pub(crate) fn packed_pitch(&self) -> usize {
        self.luma_row_bytes()
    }
}

fn offset(mem: Mem, bytes: usize) -> Mem {
    match mem {
        Mem::Device(p) => Mem::Device(p + bytes as u64),
        Mem::Host(p) => Mem::Host(p.cast::<u8>().wrapping_add(bytes).cast::<c_void>()),
    }
}

/// Copies both planes from a pitched source (chroma after `src_luma_rows` rows) to a
/// destination with `dst_luma_rows` rows before chroma, then waits for the copy.
///
/// The chroma plane of a packed destination uses `chroma_row_bytes` as its pitch when
/// `dst_pitch` is the packed luma pitch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn copy_planes(
    context: &Context,
    stream: &OwnedStream,
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
    let chroma = Copy2d {
        src: offset(src, src_pitch * src_luma_rows),
        src_pitch,
        dst: offset(dst, dst_pitch * dst_luma_rows),
        dst_pitch: dst_chroma_pitch,
        width_bytes: layout.chroma_row_bytes(),
        height: layout.chroma_rows(),
    };
    let driver = context.driver();
    let _current = context.make_current()?;
    // SAFETY: callers pass a source that holds both planes at the given pitch and a
    // destination of at least `packed_size` (packed) or the same pitched size; both stay
    // alive until the synchronize below returns.
    unsafe {
        driver.memcpy_2d_async(&luma, stream.raw())?;
        driver.memcpy_2d_async(&chroma, stream.raw())?;
    }
    stream.synchronize()
}

enum FrameBacking {
    Mapped { ptr: u64, pitch: u32 },
    Owned(DeviceBuffer),
}

/// One decoded frame in display order.
pub struct Frame<'a> {
    core: &'a Core,
    backing: FrameBacking,
    pts: i64,
    layout: FrameLayout,
    bit_depth: u8,
}

impl<'a> Frame<'a> {
    pub(crate) fn mapped(
        core: &'a Core,
        ptr: u64,
        pitch: u32,
        pts: i64,
        layout: FrameLayout,
        bit_depth: u8,
    ) -> Self {
        Frame {
            core,
            backing: FrameBacking::Mapped { ptr, pitch },
            pts,
            layout,
            bit_depth,
        }
    }

    pub(crate) fn owned(
        core: &'a Core,
        buffer: DeviceBuffer,
        pts: i64,
        layout: FrameLayout,
        bit_depth: u8,
    ) -> Self {
        Frame {
            core,
            backing: FrameBacking::Owned(buffer),
            pts,
            layout,
            bit_depth,
        }
    }

    /// The stream's luma bit depth (8, 10 or 12): P016 frames of a 10-bit stream hold
    /// their samples in the high 10 bits.
    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }

    /// The CUDA context the frame's memory belongs to (make it current before your own
    /// CUDA work on [`device_ptr`](Self::device_ptr)).
    pub fn context(&self) -> &Context {
        &self.core.context
    }

    /// The timestamp passed with the packet this frame came from.
    pub fn pts(&self) -> i64 {
        self.pts
    }

    /// Visible width in pixels (the display area, not the coded size).
    pub fn width(&self) -> u32 {
        self.layout.width
    }

    /// Visible height in pixels (1080 for a 1088-coded 1080p stream).
    pub fn height(&self) -> u32 {
        self.layout.height
    }

    /// Sample layout.
    pub fn pixel_format(&self) -> PixelFormat {
        self.layout.format
    }

    /// Size and format.
    pub fn layout(&self) -> FrameLayout {
        self.layout
    }

    /// Whether this frame is the decoder's output surface itself (no copy was made).
    pub fn is_zero_copy(&self) -> bool {
        matches!(self.backing, FrameBacking::Mapped { .. })
    }

    /// Device address of the luma plane. The pixels are complete: NVDEC's work on this
    /// surface finished before the frame was handed out, so any stream may read them while
    /// the frame is alive.
    pub fn device_ptr(&self) -> u64 {
        match &self.backing {
            FrameBacking::Mapped { ptr, .. } => *ptr,
            FrameBacking::Owned(buffer) => buffer.device_ptr(),
        }
    }

    /// Bytes between the starts of two luma rows.
    pub fn pitch(&self) -> usize {
        match &self.backing {
            FrameBacking::Mapped { pitch, .. } => *pitch as usize,
            FrameBacking::Owned(_) => self.layout.packed_pitch(),
        }
    }

    /// Bytes from [`device_ptr`](Self::device_ptr) to the UV plane.
    pub fn chroma_offset(&self) -> usize {
        match &self.backing {
            FrameBacking::Mapped { pitch, .. } => {
                *pitch as usize * self.layout.surface_height as usize
            }
            FrameBacking::Owned(_) => self.layout.packed_pitch() * self.layout.height as usize,
        }
    }

    /// Bytes between the starts of two UV rows.
    pub fn chroma_pitch(&self) -> usize {
        match &self.backing {
            FrameBacking::Mapped { pitch, .. } => *pitch as usize,
            FrameBacking::Owned(_) => self.layout.chroma_row_bytes(),
        }
    }

    fn source(&self) -> (Mem, usize, usize) {
        match &self.backing {
            FrameBacking::Mapped { ptr, pitch } => (
                Mem::Device(*ptr),
                *pitch as usize,
                self.layout.surface_height as usize,
            ),
            FrameBacking::Owned(buffer) => (
                Mem::Device(buffer.device_ptr()),
                self.layout.packed_pitch(),
                self.layout.height as usize,
            ),
        }
    }

    /// Copies the frame into `dst` in the packed layout (see the module docs). `dst` must be
    /// exactly [`FrameLayout::packed_size`] bytes.
    pub fn copy_to_host(&self, dst: &mut [u8]) -> Result<()> {
        let size = self.layout.packed_size();
        if dst.len() != size {
            return Err(Error::InvalidConfig(format!(
                "host buffer is {} bytes, the frame needs {size}",
                dst.len()
            )));
        }
        self.copy_packed_to(Mem::Host(dst.as_mut_ptr().cast()))
    }

    /// Copies the frame into a new `Vec` in the packed layout.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.layout.packed_size()];
        self.copy_to_host(&mut out)?;
        Ok(out)
    }

    /// Copies the frame into new device memory of its own, in the packed layout, which
    /// outlives the decoder's surface.
    pub fn copy_to_device(&self) -> Result<DeviceBuffer> {
        let buffer = DeviceBuffer::alloc(&self.core.context, self.layout.packed_size())?;
        self.copy_packed_to(Mem::Device(buffer.device_ptr()))?;
        Ok(buffer)
    }

    /// Copies the frame into `dst` (device memory of the frame's context) in the packed
    /// layout and waits for the copy. `dst` must be exactly [`FrameLayout::packed_size`] bytes.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a buffer of another size or context; [`Error::Cuda`] if
    /// the copy fails.
    pub fn copy_to_buffer(&self, dst: &mut DeviceBuffer) -> Result<()> {
        let size = self.layout.packed_size();
        if dst.len() != size {
            return Err(Error::InvalidConfig(format!(
                "device buffer is {} bytes, the frame needs {size}",
                dst.len()
            )));
        }
        if dst.context().raw() != self.core.context.raw() {
            return Err(Error::InvalidConfig(
                "the device buffer belongs to another CUDA context than the frame".into(),
            ));
        }
        self.copy_packed_to(Mem::Device(dst.device_ptr()))
    }

    /// Copies both planes to `dst` in the packed layout and waits for the copy. `dst` must
    /// hold [`FrameLayout::packed_size`] bytes (the callers allocate or check it).
    fn copy_packed_to(&self, dst: Mem) -> Result<()> {
        let (src, pitch, rows) = self.source();
        copy_planes(
            &self.core.context,
            &self.core.stream,
            &self.layout,
            src,
            pitch,
            rows,
            dst,
            self.layout.packed_pitch(),
            self.layout.height as usize,
        )
    }
}

impl std::fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("pts", &self.pts)
            .field("layout", &self.layout)
            .field("zero_copy", &self.is_zero_copy())
            .finish()
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        if let FrameBacking::Mapped { ptr, .. } = self.backing {
            let unmapped = self
                .core
                .context
                .make_current()
                .and_then(|_current| self.core.unmap(ptr));
            if let Err(error) = unmapped {
                tracing::error!(%error, "unmapping a decoded frame failed");
            }
        }
    }
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
}
