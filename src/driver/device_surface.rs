//! [`DeviceSurface`]: device memory an encoder may read, with the proof that it is valid.
//!
//! Invariant: a `DeviceSurface<'a>` is made either from a borrowed [`DeviceBuffer`] (its
//! address, length and context known, the borrow keeping it allocated for `'a`) or, behind
//! an `unsafe` constructor, from a raw address whose validity the caller promised. Safe code
//! can therefore hand one to the NVENC owner, which checks what is known (context, length,
//! pitch) and relies on the promise for the rest.

use std::marker::PhantomData;

use cudarc::driver::sys::CUdeviceptr;

use crate::cuda::DeviceBuffer;

/// A pitched surface in device memory that an encoder may read: the memory of a borrowed
/// [`DeviceBuffer`], or a raw address whose validity a caller promised.
///
/// Invariant: for `'a`, the memory from `ptr` is device memory that stays allocated, and
/// holds `len` bytes when `len` is known; with `len` unknown it holds the whole surface
/// (at `pitch`) of the encoder it is passed to. The NVENC owner's `stage_device_input`
/// checks the rest (context, pitch, extent) before it copies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeviceSurface<'a> {
    ptr: CUdeviceptr,
    pitch: usize,
    /// Bytes available from `ptr` (known for a [`DeviceBuffer`], not for a raw pointer).
    len: Option<usize>,
    /// The context's raw handle the memory belongs to, when known.
    context: Option<usize>,
    _borrow: PhantomData<&'a DeviceBuffer>,
}

impl<'a> DeviceSurface<'a> {
    /// The memory of `buffer`, rows `pitch` bytes apart.
    pub(crate) fn of_buffer(buffer: &'a DeviceBuffer, pitch: usize) -> Self {
        DeviceSurface {
            ptr: buffer.device_ptr(),
            pitch,
            len: Some(buffer.len()),
            context: Some(buffer.context().raw() as usize),
            _borrow: PhantomData,
        }
    }
}

impl DeviceSurface<'static> {
    /// A raw device address, rows `pitch` bytes apart.
    ///
    /// # Safety
    /// `ptr` must be device memory of the context of the encoder it is passed to, holding
    /// that encoder's whole surface at `pitch`, allocated until the call it is passed to
    /// returns.
    pub(crate) unsafe fn promised(ptr: CUdeviceptr, pitch: usize) -> Self {
        DeviceSurface {
            ptr,
            pitch,
            len: None,
            context: None,
            _borrow: PhantomData,
        }
    }
}

impl DeviceSurface<'_> {
    /// The surface's first byte.
    pub(crate) fn ptr(&self) -> CUdeviceptr {
        self.ptr
    }

    pub(crate) fn pitch(&self) -> usize {
        self.pitch
    }

    /// Bytes available from the surface's start, when known.
    pub(crate) fn len(&self) -> Option<usize> {
        self.len
    }

    /// The raw handle of the context the memory belongs to, when known.
    pub(crate) fn context(&self) -> Option<usize> {
        self.context
    }
}
