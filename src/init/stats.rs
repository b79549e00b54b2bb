//! Counters of init windows, cheap enough to read from a metrics exporter.
//!
//! Invariant: `max_concurrent_windows` is *observed*, not assumed: every window increments a
//! live counter with an atomic read-modify-write on entry and decrements it on exit, so a
//! broken lock would show up here as a value above 1.
//!
//! The wait/hold totals are written only by the thread inside the window (the lock
//! serializes writers), so they use plain relaxed loads and stores rather than
//! read-modify-writes; a snapshot taken concurrently may mix two windows' updates, which is
//! harmless for metrics.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::lock::INIT_LOCK;

/// A snapshot of the process-wide init-lock counters, from [`init_lock_stats`](super::init_lock_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct InitLockStats {
    /// Init windows opened (successful acquires) since the process started.
    pub windows_opened: u64,
    /// The most windows ever observed open at the same moment. Must be 1 (or 0 before the
    /// first window); anything else means the lock is broken.
    pub max_concurrent_windows: u32,
    /// Windows open right now (0 or 1).
    pub open_windows: u32,
    /// Threads queued for the lock right now, waiting their turn (the lock is handed to them
    /// in arrival order). Read from the lock's queue, not accumulated like the other counters.
    /// The teardown thread, when it waits behind them, is not counted.
    pub waiting_now: u32,
    /// Acquires that had to wait for another window.
    pub contended_acquires: u64,
    /// `acquire_timeout` calls that gave up.
    pub timeouts: u64,
    /// Acquires refused because the thread already held the lock.
    pub reentrant_refusals: u64,
    /// Windows that ended because a panic unwound through them (the lock was released).
    pub windows_ended_by_panic: u64,
    /// Sum of the time acquirers waited.
    pub total_wait: Duration,
    /// Longest single wait.
    pub max_wait: Duration,
    /// Sum of the time windows were held.
    pub total_hold: Duration,
    /// Longest single window.
    pub max_hold: Duration,
    /// Session lifecycle calls made (context, decoder, parser, encoder session and buffer
    /// creation and destruction), counted at the FFI boundary.
    pub lifecycle_calls: u64,
    /// The most lifecycle calls ever observed in flight at the same moment, process-wide.
    /// Must be 1 (or 0 before the first call): every lifecycle call runs inside an init
    /// window.
    pub max_concurrent_lifecycle_calls: u32,
    /// Teardowns handed to the background reaper because the lock was busy when a session
    /// was dropped (they still run inside an init window).
    pub deferred_teardowns: u64,
    /// Lifecycle calls refused because the window they were to run in had ended under them
    /// (user code dropped the guard the thread held); 0 unless that happened.
    pub refused_lifecycle_calls: u64,
}

pub(super) struct Counters {
    windows_opened: AtomicU64,
    open_windows: AtomicU32,
    max_concurrent: AtomicU32,
    contended: AtomicU64,
    timeouts: AtomicU64,
    reentrant: AtomicU64,
    panicked: AtomicU64,
    total_wait_ns: AtomicU64,
    max_wait_ns: AtomicU64,
    total_hold_ns: AtomicU64,
    max_hold_ns: AtomicU64,
    lifecycle_calls: AtomicU64,
    lifecycle_in_flight: AtomicU32,
    max_lifecycle_in_flight: AtomicU32,
    deferred: AtomicU64,
    refused_lifecycle: AtomicU64,
}

pub(super) static COUNTERS: Counters = Counters {
    windows_opened: AtomicU64::new(0),
    open_windows: AtomicU32::new(0),
    max_concurrent: AtomicU32::new(0),
    contended: AtomicU64::new(0),
    timeouts: AtomicU64::new(0),
    reentrant: AtomicU64::new(0),
    panicked: AtomicU64::new(0),
    total_wait_ns: AtomicU64::new(0),
    max_wait_ns: AtomicU64::new(0),
    total_hold_ns: AtomicU64::new(0),
    max_hold_ns: AtomicU64::new(0),
    lifecycle_calls: AtomicU64::new(0),
    lifecycle_in_flight: AtomicU32::new(0),
    max_lifecycle_in_flight: AtomicU32::new(0),
    deferred: AtomicU64::new(0),
    refused_lifecycle: AtomicU64::new(0),
};

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Adds to a total and raises a maximum; only the window holder calls this.
fn accumulate(total: &AtomicU64, max: &AtomicU64, value: u64) {
    if value == 0 {
        return;
    }
    total.store(total.load(Relaxed).saturating_add(value), Relaxed);
    if value > max.load(Relaxed) {
        max.store(value, Relaxed);
    }
}

impl Counters {
    /// Called by the new holder right after it took the lock.
    pub(super) fn window_opened(&self, wait: Duration, contended: bool) {
        let open = self.open_windows.fetch_add(1, Relaxed) + 1;
        if open > self.max_concurrent.load(Relaxed) {
            self.max_concurrent.fetch_max(open, Relaxed);
        }
        self.windows_opened
            .store(self.windows_opened.load(Relaxed) + 1, Relaxed);
        if contended {
            self.contended
                .store(self.contended.load(Relaxed) + 1, Relaxed);
        }
        accumulate(&self.total_wait_ns, &self.max_wait_ns, nanos(wait));
    }

    /// Called by the holder right before it gives the lock back.
    pub(super) fn window_closed(&self, hold: Duration, panicking: bool) {
        accumulate(&self.total_hold_ns, &self.max_hold_ns, nanos(hold));
        if panicking {
            self.panicked
                .store(self.panicked.load(Relaxed) + 1, Relaxed);
        }
        self.open_windows.fetch_sub(1, Relaxed);
    }

    /// A lifecycle call starts; counted with read-modify-writes, so overlap shows.
    pub(super) fn lifecycle_started(&self) {
        self.lifecycle_calls.fetch_add(1, Relaxed);
        let now = self.lifecycle_in_flight.fetch_add(1, Relaxed) + 1;
        self.max_lifecycle_in_flight.fetch_max(now, Relaxed);
    }

    pub(super) fn lifecycle_ended(&self) {
        self.lifecycle_in_flight.fetch_sub(1, Relaxed);
    }

    pub(super) fn lifecycle_refused(&self) {
        self.refused_lifecycle.fetch_add(1, Relaxed);
    }

    pub(super) fn teardown_deferred(&self) {
        self.deferred.fetch_add(1, Relaxed);
    }

    pub(super) fn timed_out(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    pub(super) fn refused_reentrant(&self) {
        self.reentrant.fetch_add(1, Relaxed);
    }

    pub(super) fn snapshot(&self) -> InitLockStats {
        InitLockStats {
            windows_opened: self.windows_opened.load(Relaxed),
            max_concurrent_windows: self.max_concurrent.load(Relaxed),
            open_windows: self.open_windows.load(Relaxed),
            waiting_now: INIT_LOCK.waiting_now(),
            contended_acquires: self.contended.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            reentrant_refusals: self.reentrant.load(Relaxed),
            windows_ended_by_panic: self.panicked.load(Relaxed),
            total_wait: Duration::from_nanos(self.total_wait_ns.load(Relaxed)),
            max_wait: Duration::from_nanos(self.max_wait_ns.load(Relaxed)),
            total_hold: Duration::from_nanos(self.total_hold_ns.load(Relaxed)),
            max_hold: Duration::from_nanos(self.max_hold_ns.load(Relaxed)),
            lifecycle_calls: self.lifecycle_calls.load(Relaxed),
            max_concurrent_lifecycle_calls: self.max_lifecycle_in_flight.load(Relaxed),
            deferred_teardowns: self.deferred.load(Relaxed),
            refused_lifecycle_calls: self.refused_lifecycle.load(Relaxed),
        }
    }
}
