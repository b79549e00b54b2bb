//! [`WindowToken`]: the proof a session lifecycle call asks for, and
//! [`in_runtime_window`]: a window a call opens for itself at run time.
//!
//! Invariant: a lifecycle call reaches the driver only while its thread is inside the very
//! window its token was made in. A token is lent by a live [`CudaInitGuard`]
//! ([`CudaInitGuard::token`]) or, for teardown inside a window opened further up the stack,
//! made for the thread's open window ([`WindowToken::for_open_window`]); it names that window
//! by its number, and [`WindowToken::lifecycle`] checks the number against the thread's open
//! window right before the FFI call, with no code in between. Tokens are neither `Send` nor
//! `Sync`, so they cannot move to another thread; a guard's token cannot outlive its guard,
//! and one made for the open window is passed only to the teardown it was made for (kept any
//! longer, it would be refused). Every FFI wrapper of a lifecycle call takes one.
//!
//! Why the check: a guard lent by reference cannot end while its token is in use, but a window
//! found open on the thread may belong to someone who can end it from inside the call — a
//! guard kept in a thread-local and dropped by a `tracing` subscriber reacting to one of the
//! crate's events, or by the `Drop` of a user value. Checking before each call costs a
//! thread-local read; a call refused this way returns [`Error::InitWindowEnded`] and never
//! runs beside another thread's window. Run-time windows avoid the question entirely: they
//! are always the call's own.

use std::marker::PhantomData;

use std::time::Duration;

use super::guard::{CudaInitGuard, current_window, held_by_current_thread};
use super::stats::COUNTERS;
use crate::error::{Error, Result};

/// Proof that the calling thread is inside init window number `window`, for as long as `'w`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowToken<'w> {
    /// The number of the window (see `guard::current_window`).
    window: u64,
    /// `&CudaInitGuard` is neither `Send` nor `Sync` (the guard is `!Sync`).
    _window: PhantomData<&'w CudaInitGuard>,
}

impl WindowToken<'_> {
    /// A token for the window this thread is inside now, opened further up the stack by
    /// someone else; `None` outside a window. The window may be ended while the token lives:
    /// [`lifecycle`](Self::lifecycle) then refuses every call made with it.
    pub(super) fn for_open_window() -> Option<Self> {
        let window = current_window();
        (window != 0).then_some(WindowToken {
            window,
            _window: PhantomData,
        })
    }

    /// Runs one session lifecycle call (`f`, the raw FFI call named `call`) if this thread is
    /// still inside the token's window, counting it in flight process-wide for
    /// [`InitLockStats::max_concurrent_lifecycle_calls`](super::InitLockStats).
    ///
    /// # Errors
    /// [`Error::InitWindowEnded`] naming `call` when the token's window has ended (`f` is not
    /// run).
    pub(crate) fn lifecycle<R>(self, call: &'static str, f: impl FnOnce() -> R) -> Result<R> {
        struct InFlight;
        impl Drop for InFlight {
            fn drop(&mut self) {
                COUNTERS.lifecycle_ended();
            }
        }
        // Nothing but counters runs between this check and the call: no user code can end
        // the window in between.
        if current_window() != self.window {
            COUNTERS.lifecycle_refused();
            return Err(Error::InitWindowEnded { call });
        }
        COUNTERS.lifecycle_started();
        let _in_flight = InFlight;
        Ok(f())
    }
}

impl CudaInitGuard {
    /// The token lifecycle calls inside this window need.
    pub(crate) fn token(&self) -> WindowToken<'_> {
        WindowToken {
            window: self.window,
            _window: PhantomData,
        }
    }
}

/// Runs `f` inside an init window of its own, taken at run time (a stream change, a parser
/// renewal, the first device frame of an encoder, a kernel module load) and waited for at most
/// `timeout`. `device` and `what` label the window's tracing span.
///
/// A thread that already holds a guard is refused rather than lent that guard's window: the
/// guard is not the call's, and code running inside the call (a `tracing` subscriber
/// reacting to the crate's own events) could end it halfway.
///
/// # Errors
/// [`Error::InitLockHeld`] when this thread already holds a [`CudaInitGuard`];
/// [`Error::InitLockTimeout`] when the lock is not free within `timeout`; whatever `f`
/// returns.
pub(crate) fn in_runtime_window<R>(
    timeout: Duration,
    device: u32,
    what: &'static str,
    f: impl for<'w> FnOnce(WindowToken<'w>) -> Result<R>,
) -> Result<R> {
    if held_by_current_thread() {
        COUNTERS.refused_reentrant();
        return Err(Error::InitLockHeld);
    }
    let guard = CudaInitGuard::acquire_timeout(timeout)?;
    guard.record_target(device, what);
    f(guard.token())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::teardown::tests::serial;
    use super::*;

    #[test]
    fn a_token_of_an_ended_window_is_refused_even_inside_a_later_window() {
        let _turn = serial();
        let first = CudaInitGuard::acquire().expect("the lock");
        let token = WindowToken::for_open_window().expect("inside a window");
        assert!(matches!(token.lifecycle("testCall", || 7), Ok(7)));
        drop(first);
        let refused = COUNTERS.snapshot().refused_lifecycle_calls;
        assert!(matches!(
            token.lifecycle("testCall", || ()),
            Err(Error::InitWindowEnded { call: "testCall" })
        ));
        let second = CudaInitGuard::acquire().expect("the lock again");
        assert!(
            matches!(
                token.lifecycle("testCall", || ()),
                Err(Error::InitWindowEnded { .. })
            ),
            "another window on the same thread is not the token's window"
        );
        assert!(second.token().lifecycle("testCall", || ()).is_ok());
        assert_eq!(COUNTERS.snapshot().refused_lifecycle_calls, refused + 2);
    }

    #[test]
    fn a_runtime_window_is_refused_on_a_thread_holding_a_guard() {
        let _turn = serial();
        let guard = CudaInitGuard::acquire().expect("the lock");
        let ran = in_runtime_window(Duration::from_secs(1), 0, "test", |_| Ok(()));
        assert!(matches!(ran, Err(Error::InitLockHeld)), "{ran:?}");
        drop(guard);
        let ran = in_runtime_window(Duration::from_secs(1), 0, "test", |window| {
            window.lifecycle("testCall", || ())
        });
        assert!(ran.is_ok(), "{ran:?}");
    }
}
