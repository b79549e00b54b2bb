//! The primitives the init lock is built on: std's, or loom's under `--cfg loom`.
//!
//! Invariant: [`super::lock`], the teardown queue ([`super::job_queue`]) and the decoder
//! pool's gate (`decode/pool/gate.rs`) take every atomic, mutex, condition variable, thread
//! handle and park from here, so the model checks (`RUSTFLAGS="--cfg loom" cargo test --lib
//! --release loom`) explore the very code that runs in production, with loom's versions
//! swapped in. The rest of the crate uses std's directly: it is not what the models check.
//!
//! Time is the one thing loom cannot model. A waiter's deadline is therefore a [`Deadline`]:
//! in production an `Instant` (parking with a timeout), in the model a flag a "timer" thread
//! may set at any point of any interleaving, which is how loom explores a timeout racing a
//! hand-off.

use std::time::Instant;

#[cfg(not(loom))]
pub(super) use std::sync::atomic::AtomicU32;
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(super) use std::thread::{Thread, current, park};

#[cfg(loom)]
pub(super) use loom::sync::atomic::AtomicU32;
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(loom)]
pub(super) use loom::thread::{Thread, current, park};

/// When a waiter gives up.
pub(super) trait Deadline {
    /// Whether the deadline has passed.
    fn passed(&self) -> bool;
    /// Sleeps until this thread is unparked, the deadline passes, or spuriously.
    fn park_until(&self);
}

impl Deadline for Instant {
    fn passed(&self) -> bool {
        Instant::now() >= *self
    }

    #[cfg(not(loom))]
    fn park_until(&self) {
        std::thread::park_timeout(self.saturating_duration_since(Instant::now()));
    }

    /// Loom has no clock: an `Instant` deadline in a model returns at once, as a spurious
    /// wake-up would (the models use their own [`Deadline`]).
    #[cfg(loom)]
    fn park_until(&self) {
        loom::thread::yield_now();
    }
}
