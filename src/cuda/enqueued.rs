//! [`EnqueuedWork`]: asynchronous copies that are always waited for before their caller
//! returns, on success and on every error path.
//!
//! Invariant: once a copy was handed to the driver through an `EnqueuedWork`, its stream is
//! synchronized before the `EnqueuedWork` is gone — by [`EnqueuedWork::wait`], or by its
//! `Drop` when the caller returns early (a `?` on the second copy's enqueue, a failed offset
//! computation, a panic). So the memory a copy reads or writes (a caller's host slice, a
//! pooled device buffer, an encoder's staging surface) is never touched by the driver after
//! the call that borrowed it returned.
//!
//! Why a guard and not a `synchronize` before each `?`: every early return is covered by
//! construction, including ones added later. Trade-off: an error path pays one
//! `cuStreamSynchronize` (it already failed, so this is rare), and a wait that itself fails
//! is only logged from `Drop` — the driver reports a broken context that way, and no further
//! work of that stream runs then.

use crate::cuda::Context;
use crate::error::Result;
use crate::ffi::cuda::Copy2d;
use crate::unwind::contained;
use cudarc::driver::sys::CUstream;

/// Copies enqueued on one stream of one context, waited for before this value is gone.
pub(crate) struct EnqueuedWork<'a> {
    context: &'a Context,
    stream: CUstream,
    /// Whether anything may have been enqueued since the last wait.
    pending: bool,
}

impl<'a> EnqueuedWork<'a> {
    /// Nothing enqueued yet on `stream` (null: the legacy default stream) of `context`.
    ///
    /// # Safety
    /// `stream` must be null or a live stream of `context` until this value is dropped.
    pub(crate) unsafe fn on(context: &'a Context, stream: CUstream) -> Self {
        EnqueuedWork {
            context,
            stream,
            pending: false,
        }
    }

    /// Enqueues one 2-D copy. Needs the context current.
    ///
    /// # Safety
    /// `copy` must describe memory that is valid for the whole copy and stays valid until
    /// this value is waited for or dropped.
    pub(crate) unsafe fn copy_2d(&mut self, copy: &Copy2d) -> Result<()> {
        // Counted as pending before the call: a failing enqueue costs one needless wait on
        // the error path, never a missed one.
        self.pending = true;
        // SAFETY: the caller's guarantee; the stream is live (constructor's contract).
        unsafe { self.context.driver().memcpy_2d_async(copy, self.stream) }
    }

    /// Waits for everything enqueued so far.
    ///
    /// # Errors
    /// [`crate::Error::Driver`] naming `cuStreamSynchronize` if the wait fails (an earlier
    /// copy failed on the device, or the context is broken).
    pub(crate) fn wait(mut self) -> Result<()> {
        self.pending = false;
        self.synchronize()
    }

    fn synchronize(&self) -> Result<()> {
        let _current = self.context.make_current()?;
        // SAFETY: the stream is null or live (constructor's contract).
        unsafe { self.context.driver().stream_synchronize(self.stream) }
    }
}

impl Drop for EnqueuedWork<'_> {
    fn drop(&mut self) {
        if !self.pending {
            return;
        }
        if let Err(error) = self.synchronize() {
            contained(|| {
                tracing::error!(%error, "waiting for copies enqueued before an error failed");
            });
        }
    }
}
