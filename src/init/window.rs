//! [`WindowToken`]: the proof a session lifecycle call asks for, and
//! [`destroy_in_window`]: teardown that never runs outside an init window.
//!
//! Invariant: a `WindowToken` exists only while the calling thread is inside an init window.
//! It is lent by a live [`CudaInitGuard`] ([`CudaInitGuard::token`]) or, for code that runs
//! inside a window opened further up the stack (a destructor during a failed build), by
//! [`with_current_window`]; its lifetime is bounded by the guard or the closure, and it is
//! neither `Send` nor `Sync`, so it cannot be kept past the window or moved to another thread.
//! Every FFI wrapper of a session lifecycle call takes one, so a lifecycle call outside a
//! window does not compile.

use std::marker::PhantomData;

use std::time::Duration;

use super::guard::{CudaInitGuard, held_by_current_thread};
use super::stats::COUNTERS;
use crate::error::{Error, Result};

/// Proof that the calling thread is inside an init window, for as long as `'w`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowToken<'w> {
    /// `&CudaInitGuard` is neither `Send` nor `Sync` (the guard is `!Sync`).
    _window: PhantomData<&'w CudaInitGuard>,
}

impl<'w> WindowToken<'w> {
    /// Only this module and the guard mint tokens.
    pub(super) fn mint() -> Self {
        WindowToken {
            _window: PhantomData,
        }
    }
}

impl WindowToken<'_> {
    /// Runs one session lifecycle call (`f`, the raw FFI call), counting it in flight
    /// process-wide for [`InitLockStats::max_concurrent_lifecycle_calls`](super::InitLockStats).
    pub(crate) fn lifecycle<R>(self, f: impl FnOnce() -> R) -> R {
        struct InFlight;
        impl Drop for InFlight {
            fn drop(&mut self) {
                COUNTERS.lifecycle_ended();
            }
        }
        COUNTERS.lifecycle_started();
        let _in_flight = InFlight;
        f()
    }
}

impl CudaInitGuard {
    /// The token lifecycle calls inside this window need.
    pub(crate) fn token(&self) -> WindowToken<'_> {
        WindowToken::mint()
    }
}

/// Runs `f` with a token if this thread is inside an init window right now (opened further
/// up the stack), else returns `None` without running it.
fn with_current_window<R>(f: impl for<'w> FnOnce(WindowToken<'w>) -> R) -> Option<R> {
    held_by_current_thread().then(|| f(WindowToken::mint()))
}

/// Runs `f` inside an init window taken at run time (a stream change, a parser renewal, the
/// first device frame of an encoder): the window this thread is already in, or a new one
/// waited for at most `timeout`. `device` and `what` label the window's tracing span.
///
/// # Errors
/// [`Error::InitLockTimeout`] when the lock is not free within `timeout`; whatever `f`
/// returns.
pub(crate) fn in_runtime_window<R>(
    timeout: Duration,
    device: u32,
    what: &'static str,
    f: impl for<'w> FnOnce(WindowToken<'w>) -> Result<R>,
) -> Result<R> {
    if held_by_current_thread() {
        return with_current_window(f).unwrap_or(Err(Error::InitLockHeld));
    }
    let guard = CudaInitGuard::acquire_timeout(timeout)?;
    guard.record_target(device, what);
    f(guard.token())
}
