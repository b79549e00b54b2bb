//! Safe CUDA types built on the crate's FFI layer: contexts (created only under the init guard) and
//! owned device memory.

mod buffer_pool;
mod context;
mod enqueued;
mod memory;

pub use context::{Context, ContextMode, CurrentContext};
pub use memory::DeviceBuffer;

pub(crate) use buffer_pool::{BufferPool, Limits, PooledBuffer};
pub(crate) use enqueued::EnqueuedWork;

use crate::error::Result;
use crate::ffi::cuda::LibCuda;

/// Checks that the CUDA driver library can be loaded, without touching a device. Cheap
/// after the first call.
///
/// # Errors
/// [`crate::Error::LibraryNotFound`] on machines without the NVIDIA driver;
/// [`crate::Error::SymbolNotFound`] naming an entry point the driver lacks.
pub fn driver_available() -> Result<()> {
    LibCuda::load().map(|_| ())
}
