//! Teardown that never runs outside an init window and never blocks a destructor for long.
//!
//! Invariant: every job handed to [`destroy_in_window`] runs exactly once, inside an init
//! window, unless the process exits first. A destructor that finds the lock taken by another
//! thread does not wait for it: the job goes to a FIFO queue that one background thread (the
//! *reaper*, started on first use) drains inside its own init windows.
//!
//! Trade-off: a deferred teardown frees its device memory a little later (after the windows
//! queued ahead of the reaper's), in exchange for destructors that cost a few nanoseconds when
//! the lock is busy instead of up to (waiters × hold time). [`wait_for_teardowns`] lets a caller
//! that needs the memory back now (a test measuring leaks, a server shrinking) wait for the
//! queue to drain.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::guard::{CudaInitGuard, held_by_current_thread};
use super::stats::COUNTERS;
use super::window::WindowToken;

/// A teardown: destroys driver objects with the proof of being inside a window.
pub(crate) type Job = Box<dyn for<'w> FnOnce(WindowToken<'w>) + Send + 'static>;

struct Queue {
    jobs: VecDeque<(&'static str, Job)>,
    /// Jobs taken off the queue and not finished yet.
    running: usize,
    reaper_started: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    jobs: VecDeque::new(),
    running: 0,
    reaper_started: false,
});
/// Signals the reaper (new jobs) and waiters of [`wait_for_teardowns`] (queue drained).
static CHANGED: Condvar = Condvar::new();

fn queue() -> std::sync::MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(what: &'static str, job: Job, token: WindowToken<'_>) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(token))) else {
        return;
    };
    // Logging (a subscriber) and dropping the payload are user code too: neither may unwind
    // into the reaper, which would die and leave every later teardown queued forever.
    let reported = catch_unwind(AssertUnwindSafe(move || {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(
            what,
            message,
            "a teardown panicked; its objects may be leaked"
        );
    }));
    if let Err(second) = reported {
        std::mem::forget(second);
    }
}

/// Runs `job` inside an init window: at once if this thread is inside one, or if the lock is
/// free; otherwise later, on the reaper thread. `what` names the objects for logs.
pub(crate) fn destroy_in_window(
    what: &'static str,
    job: impl for<'w> FnOnce(WindowToken<'w>) + Send + 'static,
) {
    if held_by_current_thread() {
        run(what, Box::new(job), WindowToken::mint());
        return;
    }
    if let Some(guard) = CudaInitGuard::try_acquire() {
        run(what, Box::new(job), guard.token());
        return;
    }
    defer(what, Box::new(job));
}

fn defer(what: &'static str, job: Job) {
    COUNTERS.teardown_deferred();
    let mut q = queue();
    if !q.reaper_started {
        let spawned = std::thread::Builder::new()
            .name("nvcodec-guard-reaper".into())
            .spawn(reaper);
        if let Err(error) = spawned {
            // No thread to defer to: wait for the lock here instead (never unlocked).
            drop(q);
            tracing::error!(%error, "no teardown thread; destroying on the caller's thread");
            match CudaInitGuard::acquire() {
                Ok(guard) => run(what, job, guard.token()),
                Err(error) => tracing::error!(%error, what, "teardown impossible; leaked"),
            }
            return;
        }
        q.reaper_started = true;
    }
    q.jobs.push_back((what, job));
    let queued = q.jobs.len();
    drop(q);
    CHANGED.notify_all();
    // Logged after the queue is unlocked and the reaper woken: a panicking subscriber then
    // cannot strand the job.
    tracing::debug!(what, queued, "teardown deferred to the reaper");
}

fn reaper() {
    loop {
        let mut q = queue();
        while q.jobs.is_empty() {
            q = CHANGED.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        q.running += q.jobs.len();
        let batch: Vec<_> = q.jobs.drain(..).collect();
        drop(q);
        let count = batch.len();
        match CudaInitGuard::acquire() {
            Ok(guard) => {
                for (what, job) in batch {
                    run(what, job, guard.token());
                }
            }
            // Unreachable: the reaper never holds the lock when it asks for it.
            Err(error) => tracing::error!(%error, "the reaper could not enter an init window"),
        }
        let mut q = queue();
        q.running -= count;
        drop(q);
        CHANGED.notify_all();
    }
}

/// Teardowns handed to the reaper and not finished yet.
pub fn pending_teardowns() -> usize {
    let q = queue();
    q.jobs.len() + q.running
}

/// Waits until every deferred teardown has run, at most `timeout`. Returns whether the queue
/// drained. Call it where device memory must be back now (leak checks, shrinking a server).
///
/// Called inside an init window it cannot wait (the reaper needs the window): it returns at
/// once, `true` only if nothing is pending.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// assert!(nvcodec_guard::init::wait_for_teardowns(Duration::from_secs(1)));
/// ```
pub fn wait_for_teardowns(timeout: Duration) -> bool {
    let deadline = Instant::now().checked_add(timeout);
    let mut q = queue();
    loop {
        if q.jobs.is_empty() && q.running == 0 {
            return true;
        }
        if held_by_current_thread() {
            // Waiting would only run out the timeout: the reaper cannot enter a window.
            return false;
        }
        let wait = match deadline {
            None => Duration::from_secs(3600),
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => return false,
            },
        };
        q = CHANGED
            .wait_timeout(q, wait)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

