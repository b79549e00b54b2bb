//! Owned device memory.

use cudarc::driver::sys::CUdeviceptr;

use super::Context;
use crate::error::{Error, Result};
use crate::ffi::cuda::{Copy2d, Mem};
use crate::unwind::contained;

/// A device allocation that frees itself, in the context it was allocated in.
///
/// Invariant: `ptr` points to `len` bytes of device memory owned by this value alone.
pub struct DeviceBuffer {
    ptr: CUdeviceptr,
    len: usize,
    context: Context,
}

impl DeviceBuffer {
    /// Allocates `len` bytes (uninitialized) in `context`.
    ///
    /// # Errors
    /// [`Error::Driver`] if the context cannot be made current or `cuMemAlloc` fails (out
    /// of device memory: [`Status::is_out_of_memory`](crate::error::Status::is_out_of_memory)).
    pub fn alloc(context: &Context, len: usize) -> Result<DeviceBuffer> {
        let _current = context.make_current()?;
        let ptr = context.driver().mem_alloc(len.max(1))?;
        Ok(DeviceBuffer {
            ptr,
            len,
            context: context.clone(),
        })
    }

    /// The device address.
    pub fn device_ptr(&self) -> CUdeviceptr {
        self.ptr
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The context the memory belongs to.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Copies the whole buffer into `dst`, which must be exactly [`len`](Self::len) bytes.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `dst` has another length; [`Error::Driver`] if the copy
    /// fails.
    pub fn copy_to_host(&self, dst: &mut [u8]) -> Result<()> {
        if dst.len() != self.len {
            return Err(Error::InvalidConfig {
                parameter: "dst",
                reason: format!(
                    "host buffer is {} bytes, device buffer {}",
                    dst.len(),
                    self.len
                ),
            });
        }
        if self.len == 0 {
            return Ok(());
        }
        let driver = self.context.driver();
        let _current = self.context.make_current()?;
        let copy = Copy2d {
            src: Mem::Device(self.ptr),
            src_pitch: self.len,
            dst: Mem::Host(dst.as_mut_ptr().cast()),
            dst_pitch: self.len,
            width_bytes: self.len,
            height: 1,
        };
        // SAFETY: both sides are `len` bytes and live until the synchronize below returns.
        unsafe {
            driver.memcpy_2d_async(&copy, std::ptr::null_mut())?;
            driver.stream_synchronize(std::ptr::null_mut())
        }
    }

    /// Copies the whole buffer into a new `Vec`.
    ///
    /// # Errors
    /// [`Error::Driver`] if the copy fails.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.len];
        self.copy_to_host(&mut out)?;
        Ok(out)
    }
}

impl std::fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceBuffer")
            .field("ptr", &format_args!("{:#x}", self.ptr))
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        let freed = self.context.make_current().and_then(|_current| {
            // SAFETY: `ptr` came from mem_alloc and this is its only owner.
            unsafe { self.context.driver().mem_free(self.ptr) }
        });
        if let Err(error) = freed {
            contained(|| tracing::error!(%error, "freeing device memory failed"));
        }
    }
}

// SAFETY: device memory can be used and freed from any thread; the context handle is Send.
unsafe impl Send for DeviceBuffer {}
// SAFETY: all methods take `&self` and only read the handle.
unsafe impl Sync for DeviceBuffer {}
