//! The process-wide CUDA init lock.
//!
//! NVIDIA's driver does not tolerate one thread creating or destroying a CUDA context or an
//! NVDEC/NVENC session while another does the same: its session table can be corrupted and
//! the process segfaults, even when each pipeline is single-threaded. The cure is one
//! process-wide lock held for the short *init window* — every session lifecycle call
//! (context, decoder, parser and encoder-session creation, reconfiguration and destruction)
//! — and never during per-frame work, which stays fully concurrent.
//!
//! [`CudaInitGuard`] is that lock's RAII guard. The typed builders in [`crate::phase`] can only
//! advance while holding one, so forgetting the lock does not compile; inside the crate every
//! lifecycle FFI call takes a token only a window can lend, so a lifecycle call outside a
//! window does not compile either, and the token is checked at run time against the window
//! the thread is in (below).
//!
//! # What the lock guarantees, and its limits
//! No session lifecycle call made through this crate reaches the driver unless its thread is
//! inside the very init window its token was made in: right before the FFI call, with no
//! code in between, the token's window number is checked against the thread's open window.
//! So no two such calls ever run at once, whatever user code does inside a window.
//!
//! No user callback runs inside a window the crate opens: frame callbacks (`decode_stream`,
//! `frames_at_with`) run between decode calls, and NVDEC's parser callbacks are the crate's
//! own (they open run-time windows of their own). But user code does run inside windows:
//! `tracing` subscribers (each window's span, the crate's own events), the `Drop` of values
//! dropped there, a panic unwinding through. It cannot end
//! a window whose guard the crate owns (a run-time window, a deferred or inline teardown of
//! the crate's own, [`Builder::build`](crate::phase::Builder::build)): that guard lives on the
//! crate's stack and lends tokens by reference. A guard the application holds, it can end —
//! kept in a thread-local and dropped by a subscriber, say. Hence:
//! - A window needed at run time (a stream change, a parser renewal, the first device frame
//!   of an encoder, loading the conversion kernels) is always the call's own. On a thread that
//!   holds a guard it is refused with [`Error::InitLockHeld`](crate::Error::InitLockHeld)
//!   rather than borrowed from that guard. Trade-off: a stream change while the thread holds a
//!   guard fails instead of running in the guard's window; release the guard before decoding.
//! - A teardown on a thread inside a window runs at once in that window (so a failed build
//!   destroys what it made before its window closes). If user code ends that window midway,
//!   the teardown's remaining lifecycle calls are refused with
//!   [`Error::InitWindowEnded`](crate::Error::InitWindowEnded), counted in
//!   [`InitLockStats::refused_lifecycle_calls`], and their objects are leaked (logged):
//!   leaking is recoverable, a lifecycle call outside the lock is not.
//! - A panic inside a window ends it (below). Nothing the crate runs from `Drop` (logging and
//!   ending spans included) can unwind out of it, so a subscriber that panics while a `Drop`
//!   runs during unwinding is never a double panic, i.e. never an abort; the teardown thread
//!   survives any subscriber.
//!
//! Outside the guarantee: driver calls made with raw handles (`unsafe` code of your own) or by
//! other libraries in the process.
//!
//! # Why poisoning is recoverable
//! The lock guards no data: it serializes calls into the driver, nothing in Rust memory. A
//! panic inside a window leaves no half-updated Rust state behind, so the guard's `Drop`
//! (which runs during unwinding) simply releases the lock and counts the event in
//! [`InitLockStats::windows_ended_by_panic`]. Later windows proceed normally.
//!
//! # Teardown
//! Destroying a context or a codec session mutates the driver's session table too, so it
//! always happens inside a window — there is no unlocked mode. A destructor never waits for
//! the lock: if it is free the objects are destroyed at once, otherwise they are handed to a
//! background thread that destroys them in its own window ([`pending_teardowns`],
//! [`wait_for_teardowns`]).
//!
//! That thread yields to creations: it waits for the lock behind every thread that wants to
//! create (or otherwise enter a window), and leaves its window between two destroys when one
//! queues, so a stream that ends never delays a stream that starts by more than the one
//! destroy call already running. The trade-off is memory held longer during bursts of
//! creations; it is bounded: beyond [`MAX_YIELDING_TEARDOWNS`] queued teardowns, or one older
//! than [`MAX_TEARDOWN_DELAY`], teardown takes its turn in arrival order again until the queue
//! is back within bounds, so device memory stays flat under any churn. The last measurement of the unlocked mode this replaces (8 decoder
//! drops at once: 0.306 s unlocked, 0.257 s locked) showed nothing worth a hole in the promise.

mod guard;
mod job_queue;
mod lock;
mod stats;
pub(crate) mod sync;
mod teardown;
mod window;

pub use guard::{CudaInitGuard, WindowTiming, held_by_current_thread};
pub use stats::InitLockStats;
pub use teardown::{
    MAX_TEARDOWN_DELAY, MAX_YIELDING_TEARDOWNS, pending_teardowns, wait_for_teardowns,
};

pub(crate) use teardown::destroy_in_window;
pub(crate) use window::{WindowToken, in_runtime_window};

/// A snapshot of the process-wide init-lock counters.
///
/// # Examples
/// ```
/// let stats = nvcodec_guard::init::init_lock_stats();
/// assert!(stats.max_concurrent_windows <= 1);
/// ```
pub fn init_lock_stats() -> InitLockStats {
    stats::COUNTERS.snapshot()
}
