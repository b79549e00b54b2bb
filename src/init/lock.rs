//! The raw process-wide lock behind [`CudaInitGuard`](super::CudaInitGuard).
//!
//! Invariant: at most one thread at a time is between a successful [`take`] and the matching
//! [`give_back`]. That is the whole contract; the lock protects no data.
//!
//! Design: an atomic flag is the lock itself, so the uncontended path is one compare-exchange
//! to take it and one store plus one load to give it back (tens of nanoseconds). Only
//! contended callers touch the mutex and condvar, which exist purely to sleep and wake.
//! Waking cannot be lost: a waiter registers in `waiters` (under the mutex) *before* its
//! last attempt to take the flag, and the releaser clears the flag *before* it reads
//! `waiters`, both sequentially consistent — so either the waiter's attempt sees the flag
//! clear, or the releaser sees the waiter and notifies it under the mutex.
//!
//! Poisoning cannot wedge this lock: the std mutex is held only for a few instructions in
//! which nothing panics, and a poisoned std mutex is entered anyway (`into_inner`), since it
//! guards no invariant either.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// The lock's state. One static instance exists per process.
pub(super) struct RawInitLock {
    held: AtomicBool,
    waiters: AtomicU32,
    sleep: Mutex<()>,
    wake: Condvar,
}

/// The single process-wide instance.
pub(super) static INIT_LOCK: RawInitLock = RawInitLock {
    held: AtomicBool::new(false),
    waiters: AtomicU32::new(0),
    sleep: Mutex::new(()),
    wake: Condvar::new(),
};

/// Why [`RawInitLock::take`] returned without the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TakeError {
    /// The deadline passed first.
    TimedOut,
}

impl RawInitLock {
    fn sleeper(&self) -> MutexGuard<'_, ()> {
        self.sleep.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the lock if it is free; never waits.
    #[inline]
    pub(super) fn try_take(&self) -> bool {
        self.held
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
    }

    /// Takes the lock, waiting until `deadline` (forever if `None`). Returns whether the
    /// caller had to wait (contended).
    pub(super) fn take(&self, deadline: Option<Instant>) -> Result<bool, TakeError> {
        if self.try_take() {
            return Ok(false);
        }
        let mut sleeper = self.sleeper();
        self.waiters.fetch_add(1, SeqCst);
        let outcome = loop {
            if self.try_take() {
                break Ok(true);
            }
            sleeper = match deadline {
                None => self
                    .wake
                    .wait(sleeper)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(TakeError::TimedOut);
                    }
                    self.wake
                        .wait_timeout(sleeper, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        };
        self.waiters.fetch_sub(1, SeqCst);
        drop(sleeper);
        outcome
    }

    /// Releases the lock. Only the thread that took it may call this.
    pub(super) fn give_back(&self) {
        self.held.store(false, SeqCst);
        if self.waiters.load(SeqCst) > 0 {
            // Taking the mutex orders this notify after the waiter's `wait` began.
            let _sleeper = self.sleeper();
            self.wake.notify_one();
        }
    }
}
