//! The teardown queue's synchronisation, apart from what the jobs do: a FIFO of jobs, the
//! count of jobs taken and not finished, and the one condition variable that the worker (the
//! reaper) and the drain waiters ([`wait_for_teardowns`](super::wait_for_teardowns)) wait on.
//!
//! Invariant: every job pushed is taken exactly once, in push order; it counts as pending from
//! [`push`](JobQueue::push) until the [`Taken`] handle of its [`take`](JobQueue::take) drops
//! (also when the worker unwinds); [`wait_drained`](JobQueue::wait_drained) returns `true`
//! only at a moment when nothing is queued or running. Every change a waiter waits for (a push
//! for the worker, a finished job for a drain waiter) is followed by `notify_all` after the
//! mutex is released, and every waiter re-checks its condition under the mutex before it
//! waits, so no wake-up is lost.
//!
//! Model check: the primitives come from [`super::sync`], so `job_queue/loom_tests.rs` runs
//! this code under loom (in `.ci/run`): every interleaving, up to the preemption bound, of
//! pushes racing the worker and a drain waiter.

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::time::Duration;

use super::sync::{Condvar, Mutex, MutexGuard};

#[cfg(all(test, loom))]
mod loom_tests;

/// A FIFO of jobs `J` drained by one worker.
pub(super) struct JobQueue<J> {
    state: Mutex<State<J>>,
    /// Signals the worker (a push) and drain waiters (a job finished).
    changed: Condvar,
}

struct State<J> {
    jobs: VecDeque<J>,
    /// Jobs taken off the queue and not finished yet.
    running: usize,
    worker_started: bool,
}

/// How long [`JobQueue::wait_drained`] may wait now.
pub(super) enum Wait {
    /// Until drained.
    Forever,
    /// At most this long before asking again.
    For(Duration),
    /// Not at all: return `false`.
    GiveUp,
}

/// A job taken by the worker: counted as running until this drops.
#[must_use = "the job counts as running until this drops"]
pub(super) struct Taken<'q, J> {
    queue: &'q JobQueue<J>,
}

impl<J> Drop for Taken<'_, J> {
    fn drop(&mut self) {
        let mut state = self.queue.state();
        state.running = state.running.saturating_sub(1);
        drop(state);
        self.queue.changed.notify_all();
    }
}

/// An empty queue (one body for the `const` and the loom constructor).
macro_rules! empty_queue {
    () => {
        JobQueue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                running: 0,
                worker_started: false,
            }),
            changed: Condvar::new(),
        }
    };
}

impl<J> JobQueue<J> {
    #[cfg(not(loom))]
    pub(super) const fn new() -> Self {
        empty_queue!()
    }

    #[cfg(loom)]
    pub(super) fn new() -> Self {
        empty_queue!()
    }

    /// The state; a poisoned mutex is entered anyway (nothing panics while it is held: no
    /// user code runs under it).
    fn state(&self) -> MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` and wakes the worker; returns how many jobs are queued now. Before the
    /// first job, `start` starts the worker (under the queue's mutex, so exactly once); if it
    /// returns `false` the job is handed back and the next push tries again.
    pub(super) fn push(&self, job: J, start: impl FnOnce() -> bool) -> Result<usize, J> {
        let mut state = self.state();
        if !state.worker_started {
            if !start() {
                return Err(job);
            }
            state.worker_started = true;
        }
        state.jobs.push_back(job);
        let queued = state.jobs.len();
        drop(state);
        self.changed.notify_all();
        Ok(queued)
    }

    /// Blocks until at least one job is queued.
    pub(super) fn wait_for_jobs(&self) {
        let mut state = self.state();
        while state.jobs.is_empty() {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Looks at the queue (oldest first).
    pub(super) fn inspect<R>(&self, look: impl FnOnce(&VecDeque<J>) -> R) -> R {
        look(&self.state().jobs)
    }

    /// Takes the oldest job, with what `look` said of the queue just before, and the handle
    /// that counts it as running; `None` if the queue is empty.
    pub(super) fn take<R>(
        &self,
        look: impl FnOnce(&VecDeque<J>) -> R,
    ) -> Option<(J, R, Taken<'_, J>)> {
        let mut state = self.state();
        let seen = look(&state.jobs);
        let job = state.jobs.pop_front()?;
        state.running = state.running.saturating_add(1);
        Some((job, seen, Taken { queue: self }))
    }

    /// Jobs queued or running.
    pub(super) fn pending(&self) -> usize {
        let state = self.state();
        state.jobs.len().saturating_add(state.running)
    }

    /// Waits until nothing is queued or running; returns whether that happened. Before each
    /// wait, `budget` (called under the queue's mutex: it must not block) says how long it may
    /// wait.
    pub(super) fn wait_drained(&self, mut budget: impl FnMut() -> Wait) -> bool {
        let mut state = self.state();
        loop {
            if state.jobs.is_empty() && state.running == 0 {
                return true;
            }
            state = match budget() {
                Wait::GiveUp => return false,
                Wait::Forever => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Wait::For(left) => {
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}
