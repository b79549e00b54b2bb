//! [`CudaInitGuard`]: holding one means being inside the process-wide init window.

use std::cell::Cell;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use tracing::field::Empty;

use super::lock::{INIT_LOCK, TakeError};
use super::stats::COUNTERS;
use crate::error::{Error, Result};
use crate::unwind::contained;

thread_local! {
    /// The window this thread is inside now, by its number; 0 when none. Lets a second acquire
    /// on the same thread fail fast instead of deadlocking, and a lifecycle call check that
    /// the window its token names is still the one open (see `window.rs`).
    static OPEN_HERE: Cell<u64> = const { Cell::new(0) };
    /// The number of the last window opened on this thread.
    static LAST_HERE: Cell<u64> = const { Cell::new(0) };
}

/// Whether the calling thread is inside an init window right now.
pub fn held_by_current_thread() -> bool {
    current_window() != 0
}

/// The number of the window this thread is inside now; 0 when none. Numbers are unique per
/// thread (a `u64` that would take centuries to wrap, and skips 0 if it did).
pub(super) fn current_window() -> u64 {
    OPEN_HERE.with(Cell::get)
}

/// Numbers a window just opened on this thread and makes it the thread's open window.
fn enter_window() -> u64 {
    let number = LAST_HERE.with(|last| {
        let next = last.get().wrapping_add(1).max(1);
        last.set(next);
        next
    });
    OPEN_HERE.with(|open| open.set(number));
    number
}

/// Proof that the calling thread is inside the process-wide CUDA init window.
///
/// Invariant: while a `CudaInitGuard` exists, no other thread in the process holds one.
/// Dropping it (or [`release`](Self::release)) ends the window. It is `!Send` and `!Sync`:
/// the window belongs to one thread, as CUDA's current context does, and it cannot be
/// cloned.
///
/// ```
/// use nvcodec_guard::init::{CudaInitGuard, init_lock_stats};
/// let guard = CudaInitGuard::acquire()?;
/// // ... cuCtxCreate / cuvidCreateDecoder / NvEncOpenEncodeSessionEx happen here ...
/// let timing = guard.release();
/// assert!(init_lock_stats().max_concurrent_windows <= 1);
/// # let _ = timing;
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
#[must_use = "the init window closes as soon as the guard is dropped"]
pub struct CudaInitGuard {
    acquired_at: Instant,
    waited: Duration,
    /// Set by `release`, so the hold it returns is the one recorded (one clock read).
    released_hold: Option<Duration>,
    span: tracing::Span,
    /// This window's number on its thread (see [`current_window`]).
    pub(super) window: u64,
    /// `*const ()` makes the guard `!Send + !Sync`.
    _one_thread: PhantomData<*const ()>,
}

/// How long an init window waited for the lock and how long it was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WindowTiming {
    /// Time spent waiting for other windows to close.
    pub wait: Duration,
    /// Time the window was held.
    pub hold: Duration,
}

impl CudaInitGuard {
    /// Enters the init window, blocking until every window opened or asked for before this
    /// call has closed (waiters are served in arrival order).
    ///
    /// # Errors
    /// [`Error::InitLockHeld`] if this thread already holds the lock (a second acquire would
    /// deadlock); nothing else.
    ///
    /// # Examples
    /// ```
    /// use nvcodec_guard::init::CudaInitGuard;
    /// let guard = CudaInitGuard::acquire()?;
    /// assert!(CudaInitGuard::acquire().is_err(), "re-entrant acquire is refused");
    /// drop(guard);
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn acquire() -> Result<Self> {
        Self::enter(None)
    }

    /// Enters the init window, giving up with [`Error::InitLockTimeout`] after `timeout`.
    ///
    /// Use this in servers: a driver call that hangs in one pipeline's window then surfaces
    /// as an error in the others instead of freezing them silently.
    ///
    /// # Errors
    /// [`Error::InitLockTimeout`] (with how long it waited) when the window did not come
    /// within `timeout`; [`Error::InitLockHeld`] if this thread already holds the lock.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use nvcodec_guard::init::CudaInitGuard;
    /// let guard = CudaInitGuard::acquire_timeout(Duration::from_secs(5))?;
    /// # drop(guard);
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn acquire_timeout(timeout: Duration) -> Result<Self> {
        Self::enter(Some(timeout))
    }

    /// Enters the init window behind every waiter that is not a background waiter itself,
    /// waiting at most `timeout`; `None` when it did not come (not counted as a timeout: this
    /// is how the teardown thread yields to creators and re-checks its queue).
    pub(crate) fn acquire_in_background(timeout: Duration) -> Option<Self> {
        if held_by_current_thread() {
            return None;
        }
        let span = new_span(|| {
            tracing::info_span!(
                "cuda_init_window",
                device = Empty,
                backend = "teardown",
                phase = "waiting",
            )
        });
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let Ok(contended) = INIT_LOCK.take_background(deadline) else {
            end_span(span);
            return None;
        };
        let acquired_at = if contended { Instant::now() } else { start };
        Some(opened(start, acquired_at, contended, span))
    }

    /// Enters the init window only if no other window is open or waiting; never blocks.
    /// `None` also when this thread already holds the lock.
    pub(crate) fn try_acquire() -> Option<Self> {
        if held_by_current_thread() {
            return None;
        }
        // As in `enter`: the span (user code, through a subscriber) is made before the lock is
        // taken, so nothing that could panic runs between taking it and owning the guard.
        let span = new_span(|| {
            tracing::info_span!(
                "cuda_init_window",
                device = Empty,
                backend = Empty,
                phase = "acquired",
            )
        });
        if !INIT_LOCK.try_take() {
            end_span(span);
            return None;
        }
        let now = Instant::now();
        Some(opened(now, now, false, span))
    }

    fn enter(timeout: Option<Duration>) -> Result<Self> {
        if held_by_current_thread() {
            COUNTERS.refused_reentrant();
            return Err(Error::InitLockHeld);
        }
        // The span is created before the lock is taken: a subscriber is user code, and
        // nothing but the guard's constructor may run between taking the lock and owning
        // a guard whose `Drop` gives it back.
        let span = new_span(|| {
            tracing::info_span!(
                "cuda_init_window",
                device = Empty,
                backend = Empty,
                phase = "waiting",
            )
        });
        let start = Instant::now();
        // A timeout too large to represent is no timeout at all.
        let deadline = timeout.and_then(|t| start.checked_add(t));
        let contended = match INIT_LOCK.take(deadline) {
            Ok(contended) => contended,
            Err(TakeError::TimedOut) => {
                COUNTERS.timed_out();
                let waited = start.elapsed();
                contained(|| {
                    tracing::warn!(parent: &span, ?waited, "timed out waiting for the CUDA init lock");
                });
                end_span(span);
                return Err(Error::InitLockTimeout { waited });
            }
        };
        let acquired_at = if contended { Instant::now() } else { start };
        Ok(opened(start, acquired_at, contended, span))
    }

    /// How long this window waited for the lock.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// How long this window has been held so far.
    pub fn held_for(&self) -> Duration {
        self.acquired_at.elapsed()
    }

    /// The `cuda_init_window` tracing span of this window; enter it to attribute your own
    /// init work to the window.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Ends the window now and reports its timing.
    pub fn release(mut self) -> WindowTiming {
        let hold = self.acquired_at.elapsed();
        self.released_hold = Some(hold);
        WindowTiming {
            wait: self.waited,
            hold,
        }
        // `self` drops here, which closes the window.
    }

    /// Records which device and backend this window initializes (tracing only).
    pub(crate) fn record_target(&self, device: u32, backend: &'static str) {
        contained(|| {
            self.span.record("device", device);
            self.span.record("backend", backend);
        });
    }

    /// Records the furthest phase this window reached (tracing only).
    pub(crate) fn record_phase(&self, phase: &'static str) {
        contained(|| {
            self.span.record("phase", phase);
        });
    }
}

/// Makes a window's span; a subscriber that panics meanwhile leaves the window without one.
/// Nothing that makes or records a window's span may unwind: guards are made and dropped
/// inside destructors (teardown) and on the teardown thread.
fn new_span(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    let mut span = tracing::Span::none();
    contained(|| span = make());
    span
}

/// Ends a span (a subscriber's `try_close`: user code) without unwinding. Call it apart from
/// other contained work: a span owned by a closure that unwinds is ended during that unwinding,
/// where a panic of `try_close` would abort.
fn end_span(span: tracing::Span) {
    contained(move || drop(span));
}

/// Builds the guard of a window just opened (the lock is taken). A free function, not an
/// associated one: nothing outside this module should see a way to make a guard.
fn opened(
    start: Instant,
    acquired_at: Instant,
    contended: bool,
    span: tracing::Span,
) -> CudaInitGuard {
    let guard = CudaInitGuard {
        acquired_at,
        waited: acquired_at - start,
        released_hold: None,
        span,
        window: enter_window(),
        _one_thread: PhantomData,
    };
    COUNTERS.window_opened(guard.waited, contended);
    guard.record_phase("acquired");
    guard
}

impl Drop for CudaInitGuard {
    fn drop(&mut self) {
        let hold = self
            .released_hold
            .unwrap_or_else(|| self.acquired_at.elapsed());
        let panicking = std::thread::panicking();
        COUNTERS.window_closed(hold, panicking);
        OPEN_HERE.with(|open| open.set(0));
        INIT_LOCK.give_back();
        // The lock is back: from here on only logging, and the span's end (a subscriber's
        // `try_close`), both user code, contained so that a drop during unwinding cannot panic.
        let span = std::mem::replace(&mut self.span, tracing::Span::none());
        let wait = self.waited;
        // Two steps: a panic while logging must not end the span during its unwinding.
        contained(|| {
            if panicking {
                tracing::warn!(parent: &span, ?hold, "init window ended by a panic; lock released");
            } else {
                tracing::debug!(parent: &span, ?wait, ?hold, "init window closed");
            }
        });
        end_span(span);
    }
}

impl std::fmt::Debug for CudaInitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaInitGuard")
            .field("waited", &self.waited)
            .field("held_for", &self.held_for())
            .finish()
    }
}
