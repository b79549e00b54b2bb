//! Decoded frames: zero-copy views of NVDEC output surfaces, and copies out of them.
//!
//! Invariant: a [`Frame`] borrows its decoder, so it cannot outlive the decoder's mapping
//! and the decoder cannot be fed (or dropped) while a frame is alive; the surface is
//! unmapped when the frame drops (or, for a frame leaked with `mem::forget`, by the decoder
//! before it touches its surfaces again). NVDEC's post-processing into the surface has
//! finished before a frame is handed out, so its pixels can be read on any CUDA stream.
//!
//! Copies are in the packed layout of [`FrameLayout`] (see `planes`).

use super::planes::{FrameLayout, copy_planes};
use super::sei::SeiMessage;
use super::state::DecoderState;
use nvcodec_media::{ColourDescription, PixelFormat};

use crate::cuda::{Context, DeviceBuffer};
use crate::error::{Error, Result};
use crate::ffi::cuda::Mem;
use crate::unwind::contained;

enum FrameBacking {
    Mapped { ptr: u64, pitch: u32 },
    Owned(DeviceBuffer),
}

/// One decoded frame in display order.
pub struct Frame<'a> {
    core: &'a DecoderState,
    backing: FrameBacking,
    pts: i64,
    layout: FrameLayout,
    bit_depth: u8,
    colour: ColourDescription,
    stream_height: u32,
    sei: Vec<SeiMessage>,
}

impl<'a> Frame<'a> {
    pub(crate) fn mapped(
        core: &'a DecoderState,
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
            colour: ColourDescription::default(),
            stream_height: layout.height,
            sei: Vec::new(),
        }
    }

    pub(crate) fn owned(
        core: &'a DecoderState,
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
            colour: ColourDescription::default(),
            stream_height: layout.height,
            sei: Vec::new(),
        }
    }

    /// Sets the colour description of the sequence the frame belongs to and the height of
    /// its display area (which picks the default matrix, whatever size frames are output).
    pub(crate) fn with_colour(mut self, colour: ColourDescription, stream_height: u32) -> Self {
        self.colour = colour;
        self.stream_height = stream_height;
        self
    }

    /// Attaches the picture's SEI messages.
    pub(crate) fn with_sei(mut self, sei: Vec<SeiMessage>) -> Self {
        self.sei = sei;
        self
    }

    /// The SEI messages of this picture's access unit, in bitstream order (empty unless the
    /// decoder was configured [`with_sei`](super::DecoderConfig::with_sei)).
    pub fn sei(&self) -> &[SeiMessage] {
        &self.sei
    }

    /// The height of the stream's display area (the frame's height unless the decoder
    /// scales): what the default matrix of an unspecified stream is chosen by.
    pub fn stream_height(&self) -> u32 {
        self.stream_height
    }

    /// The colour description of the sequence this frame belongs to, as the stream states
    /// it (see [`StreamInfo::colour`](super::StreamInfo::colour)).
    pub fn colour(&self) -> ColourDescription {
        self.colour
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

    /// The frame under another timestamp (random access names frames of codecs without
    /// reordering by their place in the output, not by the decoder's timestamp).
    pub(crate) fn named(mut self, pts: i64) -> Self {
        self.pts = pts;
        self
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

    /// The stream this frame's pixels are ordered on, when the decoder was given a
    /// [`FrameStream`](super::FrameStream); `None` when they were waited for and are complete
    /// for any reader on any stream.
    pub fn stream(&self) -> Option<cudarc::driver::sys::CUstream> {
        (!self.core.stream.waits_at_map()).then(|| self.core.stream.raw())
    }

    /// The decoder's own work stream (a non-blocking stream of the frame's context, alive
    /// while the frame borrows the decoder), or the caller's frame stream: where work on
    /// this frame can be queued without waiting on any other decoder's or thread's work.
    pub(crate) fn work_stream(&self) -> cudarc::driver::sys::CUstream {
        self.core.stream.raw()
    }

    /// Waits for all work queued on [`work_stream`](Self::work_stream). Needs the frame's
    /// context current.
    pub(crate) fn synchronize_work_stream(&self) -> Result<()> {
        self.core.stream.synchronize()
    }

    /// Device address of the luma plane. By default the pixels are complete: NVDEC's work on
    /// this surface finished before the frame was handed out, so any stream may read them
    /// while the frame is alive. With a [`FrameStream`](super::FrameStream), they are
    /// complete for work queued on [`stream`](Self::stream).
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

    /// Bytes from [`device_ptr`](Self::device_ptr) to the UV plane (the U plane of 4:4:4
    /// frames).
    pub fn chroma_offset(&self) -> usize {
        match &self.backing {
            FrameBacking::Mapped { pitch, .. } => {
                (*pitch as usize).saturating_mul(self.layout.surface_height as usize)
            }
            FrameBacking::Owned(_) => self
                .layout
                .packed_pitch()
                .saturating_mul(self.layout.height as usize),
        }
    }

    /// Bytes from [`device_ptr`](Self::device_ptr) to the first Cr (V) sample: right after
    /// the first Cb in the interleaved UV plane of 4:2:0 frames, the start of the V plane of
    /// 4:4:4 frames (whose U plane is at [`chroma_offset`](Self::chroma_offset)).
    pub fn chroma_v_offset(&self) -> usize {
        if !self.layout.format.is_444() {
            return self
                .chroma_offset()
                .saturating_add(self.layout.format.bytes_per_sample());
        }
        match &self.backing {
            FrameBacking::Mapped { pitch, .. } => (*pitch as usize)
                .saturating_mul(self.layout.surface_height as usize)
                .saturating_mul(2),
            FrameBacking::Owned(_) => self.chroma_offset().saturating_add(
                self.layout
                    .chroma_row_bytes()
                    .saturating_mul(self.layout.chroma_rows()),
            ),
        }
    }

    /// Bytes between the starts of two chroma rows (UV, or U and V for 4:4:4).
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
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `dst` has another length; [`Error::Driver`] if the copy
    /// fails.
    pub fn copy_to_host(&self, dst: &mut [u8]) -> Result<()> {
        let size = self.layout.packed_size();
        if dst.len() != size {
            return Err(Error::InvalidConfig {
                parameter: "dst",
                reason: format!("host buffer is {} bytes, the frame needs {size}", dst.len()),
            });
        }
        self.copy_packed_to(Mem::Host(dst.as_mut_ptr().cast()))
    }

    /// Copies the frame into a new `Vec` in the packed layout.
    ///
    /// # Errors
    /// [`Error::Driver`] if the copy fails.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.layout.packed_size()];
        self.copy_to_host(&mut out)?;
        Ok(out)
    }

    /// Copies the frame into new device memory of its own, in the packed layout, which
    /// outlives the decoder's surface.
    ///
    /// # Errors
    /// [`Error::Driver`] if the allocation (out of device memory:
    /// [`Status::is_out_of_memory`](crate::error::Status::is_out_of_memory)) or the copy fails.
    pub fn copy_to_device(&self) -> Result<DeviceBuffer> {
        let buffer = DeviceBuffer::alloc(&self.core.context, self.layout.packed_size())?;
        self.copy_packed_to(Mem::Device(buffer.device_ptr()))?;
        Ok(buffer)
    }

    /// Copies the frame into `dst` (device memory of the frame's context) in the packed
    /// layout and waits for the copy. `dst` must be exactly [`FrameLayout::packed_size`] bytes.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a buffer of another size or context; [`Error::Driver`] if
    /// the copy fails.
    pub fn copy_to_buffer(&self, dst: &mut DeviceBuffer) -> Result<()> {
        let size = self.layout.packed_size();
        if dst.len() != size {
            return Err(Error::InvalidConfig {
                parameter: "dst",
                reason: format!(
                    "device buffer is {} bytes, the frame needs {size}",
                    dst.len()
                ),
            });
        }
        if dst.context().raw() != self.core.context.raw() {
            return Err(Error::InvalidConfig {
                parameter: "dst",
                reason: "the device buffer belongs to another CUDA context than the frame".into(),
            });
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
                contained(|| tracing::error!(%error, "unmapping a decoded frame failed"));
            }
        }
    }
}
