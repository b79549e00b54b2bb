//! [`InputFrame`]: one picture for [`Encoder::encode`](super::Encoder::encode), in host or
//! device memory.

use std::marker::PhantomData;

use cudarc::driver::sys::CUdeviceptr;

use super::layout::HostPlane;
use crate::cuda::DeviceBuffer;
use crate::driver::nvenc_session::DeviceSurface;

/// Where a frame's pixels are.
#[derive(Debug, Clone)]
pub(crate) enum PixelSource<'a> {
    /// Host planes with their own pitches (checked against the format at encode time).
    Planes(Vec<HostPlane<'a>>),
    /// A tightly packed host frame, split at encode time.
    Packed(&'a [u8]),
    /// A pitched surface in device memory of the encoder's CUDA context.
    Device(DeviceSurface<'a>),
}

/// One picture to encode, with per-frame options.
///
/// Host frames are copied into one of the encoder's NVENC input buffers. Device frames are
/// copied on the GPU (one 2-D copy per plane, waited for) into a surface the encoder owns
/// and registered with NVENC once; the frame's memory is therefore free again as soon as
/// `encode` returns, even when NVENC holds the picture back for B-frames. Device frames
/// must be in the encoder's CUDA context and laid out as the format's pitched surface (see
/// [`PlaneLayout`](super::PlaneLayout)): for NV12, `height` luma rows then `height / 2` UV
/// rows, all at `pitch`.
#[derive(Debug, Clone)]
pub struct InputFrame<'a> {
    pub(crate) source: PixelSource<'a>,
    pub(crate) force_idr: bool,
    _borrow: PhantomData<&'a DeviceBuffer>,
}

impl<'a> InputFrame<'a> {
    fn new(source: PixelSource<'a>) -> Self {
        InputFrame {
            source,
            force_idr: false,
            _borrow: PhantomData,
        }
    }

    /// A tightly packed host frame of the encoder's format (every pitch = row bytes, planes
    /// back to back): what [`Frame::to_vec`](crate::decode::Frame::to_vec) returns.
    pub fn packed(data: &'a [u8]) -> Self {
        Self::new(PixelSource::Packed(data))
    }

    /// Host planes, each with its own pitch, in the format's plane order (NV12/P010: Y, UV;
    /// YUV444: Y, U, V; ARGB: one plane).
    pub fn planes(planes: impl IntoIterator<Item = HostPlane<'a>>) -> Self {
        Self::new(PixelSource::Planes(planes.into_iter().collect()))
    }

    /// A pitched surface in `buffer` (which must belong to the encoder's CUDA context),
    /// rows `pitch` bytes apart. Checked against the buffer's length at encode time.
    pub fn device(buffer: &'a DeviceBuffer, pitch: usize) -> Self {
        Self::new(PixelSource::Device(DeviceSurface::of_buffer(buffer, pitch)))
    }

    /// A pitched surface at a raw device address, rows `pitch` bytes apart.
    ///
    /// # Safety
    /// `ptr` must be device memory of the encoder's CUDA context holding the whole surface
    /// of the encoder's format and size at `pitch` (see [`PlaneLayout::surface_size`](
    /// super::PlaneLayout::surface_size)), allocated until the
    /// [`Encoder::encode`](super::Encoder::encode) call it is passed to returns.
    // The caller's promise enters here and is handed, unchanged, to the one type that
    // carries it down to the copy.
    #[allow(unsafe_code)]
    pub unsafe fn device_ptr(ptr: CUdeviceptr, pitch: usize) -> InputFrame<'static> {
        // SAFETY: `DeviceSurface::promised` asks exactly what this function's caller
        // promised.
        InputFrame::new(PixelSource::Device(unsafe {
            DeviceSurface::promised(ptr, pitch)
        }))
    }

    /// Makes this frame an IDR frame (a random-access point with the stream headers before
    /// it), whatever the GOP says.
    pub fn force_idr(self) -> Self {
        self.with_force_idr(true)
    }

    /// Sets whether this frame is forced to be an IDR frame.
    pub fn with_force_idr(mut self, force: bool) -> Self {
        self.force_idr = force;
        self
    }

    /// Whether this frame is forced to be an IDR frame.
    pub fn is_force_idr(&self) -> bool {
        self.force_idr
    }

    /// Whether the pixels are in device memory.
    pub fn is_device(&self) -> bool {
        matches!(self.source, PixelSource::Device(_))
    }
}
