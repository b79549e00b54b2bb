//! The raw process-wide lock behind [`CudaInitGuard`](super::CudaInitGuard).
//!
//! Invariant: at most one thread at a time is between a successful [`take`] and the matching
//! [`give_back`], and waiters get the lock in the order they queued for it. The lock protects
//! no data.
//!
//! Design: one atomic word holds `HELD` and `QUEUED`. Uncontended, taking is one
//! compare-exchange `0 → HELD` and giving back one `HELD → 0`, tens of nanoseconds. A caller
//! that finds it taken queues a ticket under the std mutex (setting `QUEUED` only while `HELD`
//! is set) and sleeps. While `QUEUED` is set the fast release fails, and the releaser pops the
//! head ticket and *hands the lock over*: `HELD` stays set and `handed_to` names the new owner,
//! so the lock is never free in between and no newcomer can barge ([`try_take`] and the fast
//! path both need the word to be exactly 0); only that thread is unparked, so a hand-off wakes
//! one thread, not the herd. Why: the flag-and-`notify_one` lock this replaces let newcomers
//! overtake sleepers and woke an arbitrary one; 32 threads holding 50–300 ms each saw waits of
//! up to 26.3 s.
//!
//! Background waiters: the teardown thread may queue behind every other waiter
//! ([`take_background`]); a hand-off goes to the oldest normal ticket, and to the oldest
//! background ticket only when no normal one is queued. Everything said of "the queue" below
//! holds for both queues together.
//!
//! Under the mutex, a non-empty queue implies `QUEUED`, which implies `HELD`: `QUEUED` is set
//! (by CAS, only with `HELD` set) before a push and cleared when the queue empties; `HELD` is
//! cleared only by the fast release (impossible while `QUEUED`) or by the slow one with an
//! empty queue. A waiter that times out removes its ticket — unless the hand-off reached it
//! first, in which case it owns the lock and returns it as taken.
//!
//! Poisoning cannot wedge this lock: nothing panics while the std mutex is held, and a poisoned
//! std mutex is entered anyway (`into_inner`), since it guards no invariant a panic could break.
//!
//! Model check: every primitive comes from [`super::sync`], so `lock/loom_tests.rs` runs this
//! code under loom (`RUSTFLAGS="--cfg loom" cargo test --lib --release loom`, in `.ci/run`):
//! every interleaving, up to a preemption bound, of hand-off, a timeout racing a hand-off,
//! and a releasing thread coming straight back, checking mutual exclusion, arrival order and
//! that no wake-up is lost (loom reports a thread parked forever as a deadlock). Re-entrant
//! acquire never reaches this lock: the guard refuses it first (a thread-local flag).
//!
//! [`take`]: RawInitLock::take
//! [`give_back`]: RawInitLock::give_back
//! [`try_take`]: RawInitLock::try_take
//! [`take_background`]: RawInitLock::take_background

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Instant;

use super::sync::{AtomicU32, Deadline, Mutex, MutexGuard, Thread, current, park};

#[cfg(all(test, loom))]
mod loom_tests;

/// Someone owns the lock.
const HELD: u32 = 1;
/// At least one ticket is queued: releasing must hand the lock over.
const QUEUED: u32 = 2;

/// The lock's state. One static instance exists per process.
pub(super) struct RawInitLock {
    state: AtomicU32,
    /// Tickets queued right now (a copy of the queue length, for the stats).
    waiting: AtomicU32,
    queue: Mutex<Queue>,
}

struct Queue {
    /// Waiters' tickets in arrival order, with the thread to wake when it is their turn.
    tickets: VecDeque<(u64, Thread)>,
    /// Background waiters' tickets, served only when `tickets` is empty.
    background: VecDeque<(u64, Thread)>,
    next_ticket: u64,
    /// The ticket the lock was handed to and that has not picked it up yet.
    handed_to: Option<u64>,
}

/// The single process-wide instance.
#[cfg(not(loom))]
pub(super) static INIT_LOCK: RawInitLock = RawInitLock::new();
/// Under loom the instance is made on first use (loom's primitives have no `const fn new`);
/// the models make their own locks and never touch it.
#[cfg(loom)]
pub(super) static INIT_LOCK: std::sync::LazyLock<RawInitLock> =
    std::sync::LazyLock::new(RawInitLock::new);

/// Why [`RawInitLock::take`] returned without the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TakeError {
    /// The deadline passed first.
    TimedOut,
}

/// A free lock with an empty queue (one body for the `const` and the loom constructor).
macro_rules! free_lock {
    () => {
        RawInitLock {
            state: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            queue: Mutex::new(Queue {
                tickets: VecDeque::new(),
                background: VecDeque::new(),
                next_ticket: 0,
                handed_to: None,
            }),
        }
    };
}

impl RawInitLock {
    #[cfg(not(loom))]
    pub(super) const fn new() -> Self {
        free_lock!()
    }

    #[cfg(loom)]
    pub(super) fn new() -> Self {
        free_lock!()
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Threads queued for the lock right now, background waiters not counted.
    pub(super) fn waiting_now(&self) -> u32 {
        self.waiting.load(Relaxed)
    }

    /// Copies the queue length for [`waiting_now`](Self::waiting_now); called under the mutex
    /// after every change to the queue.
    fn publish_waiting(&self, q: &Queue) {
        let n = u32::try_from(q.tickets.len()).unwrap_or(u32::MAX);
        self.waiting.store(n, Relaxed);
    }

    /// Takes the lock if it is free and nobody is queued for it; never waits.
    #[inline]
    pub(super) fn try_take(&self) -> bool {
        self.state
            .compare_exchange(0, HELD, Acquire, Relaxed)
            .is_ok()
    }

    /// Takes the lock, waiting in arrival order until `deadline` (forever if `None`).
    /// Returns whether the caller had to go the slow way (contended).
    #[inline]
    pub(super) fn take(&self, deadline: Option<Instant>) -> Result<bool, TakeError> {
        self.take_until(deadline.as_ref())
    }

    /// [`take`](Self::take) with any kind of [`Deadline`] (the loom models use their own).
    #[inline]
    fn take_until<D: Deadline>(&self, deadline: Option<&D>) -> Result<bool, TakeError> {
        if self.try_take() {
            return Ok(false);
        }
        self.take_slow(deadline, false).map(|()| true)
    }

    /// [`take`](Self::take) behind every waiter, present or future, that is not a background
    /// waiter itself: the lock is handed to this caller only when no normal ticket is queued.
    pub(super) fn take_background(&self, deadline: Option<Instant>) -> Result<bool, TakeError> {
        self.take_background_until(deadline.as_ref())
    }

    /// [`take_background`](Self::take_background) with any kind of [`Deadline`].
    fn take_background_until<D: Deadline>(&self, deadline: Option<&D>) -> Result<bool, TakeError> {
        if self.try_take() {
            return Ok(false);
        }
        self.take_slow(deadline, true).map(|()| true)
    }

    #[cold]
    fn take_slow<D: Deadline>(
        &self,
        deadline: Option<&D>,
        background: bool,
    ) -> Result<(), TakeError> {
        // Outside the mutex: nothing that could panic runs while it is held.
        let me = current();
        let mut q = self.queue();
        let ticket = loop {
            let state = self.state.load(Relaxed);
            if state & HELD == 0 {
                // Free, hence (see the module doc) nobody queued: take it.
                if self
                    .state
                    .compare_exchange(state, state | HELD, Acquire, Relaxed)
                    .is_ok()
                {
                    return Ok(());
                }
            } else if self
                .state
                .compare_exchange(state, state | QUEUED, Relaxed, Relaxed)
                .is_ok()
            {
                // `HELD` was still set, so the holder's release will see `QUEUED` and come
                // here (to the mutex) to hand the lock over.
                let ticket = q.next_ticket;
                q.next_ticket = ticket.wrapping_add(1);
                if background {
                    q.background.push_back((ticket, me));
                } else {
                    q.tickets.push_back((ticket, me));
                }
                self.publish_waiting(&q);
                break ticket;
            }
        };
        loop {
            if q.handed_to == Some(ticket) {
                q.handed_to = None;
                return Ok(());
            }
            // An unpark that comes between this check and `park` is not lost: it makes the
            // `park` return at once. Spurious returns just check again.
            match deadline {
                None => {
                    drop(q);
                    park();
                }
                Some(deadline) => {
                    if deadline.passed() {
                        self.leave_queue(&mut q, ticket);
                        return Err(TakeError::TimedOut);
                    }
                    drop(q);
                    deadline.park_until();
                }
            }
            q = self.queue();
        }
    }

    /// A timed-out waiter whose ticket was not handed the lock removes it.
    fn leave_queue(&self, q: &mut Queue, ticket: u64) {
        for queue in [&mut q.tickets, &mut q.background] {
            if let Some(at) = queue.iter().position(|(t, _)| *t == ticket) {
                queue.remove(at);
            }
        }
        if q.tickets.is_empty() && q.background.is_empty() {
            // `HELD` stays: someone else owns the lock; its release may now be the fast one.
            self.state.fetch_and(!QUEUED, Relaxed);
        }
        self.publish_waiting(q);
    }

    /// Releases the lock, handing it to the longest waiter if there is one. Only the thread
    /// that took it may call this.
    #[inline]
    pub(super) fn give_back(&self) {
        if self
            .state
            .compare_exchange(HELD, 0, Release, Relaxed)
            .is_err()
        {
            self.hand_over();
        }
    }

    #[cold]
    fn hand_over(&self) {
        let mut q = self.queue();
        let next = match q.tickets.pop_front() {
            Some(next) => Some(next),
            None => q.background.pop_front(),
        };
        match next {
            None => {
                // The last waiter timed out meanwhile and cleared `QUEUED`; the word is `HELD`
                // and, with the mutex held, nobody can queue: just free it.
                self.state.store(0, Release);
            }
            Some((next, thread)) => {
                // `HELD` stays set: ownership passes to `next` without the lock ever being free.
                q.handed_to = Some(next);
                if q.tickets.is_empty() && q.background.is_empty() {
                    self.state.fetch_and(!QUEUED, Relaxed);
                }
                self.publish_waiting(&q);
                drop(q);
                // Only the new owner is woken, not every waiter.
                thread.unpark();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn uncontended_take_and_give_back() {
        let lock = RawInitLock::new();
        assert_eq!(lock.take(None), Ok(false));
        assert!(!lock.try_take(), "held");
        lock.give_back();
        assert!(lock.try_take(), "free again");
        lock.give_back();
        assert_eq!(lock.state.load(Relaxed), 0);
    }

    #[test]
    fn nobody_barges_past_a_queued_waiter() {
        let lock = Arc::new(RawInitLock::new());
        assert!(lock.try_take());
        let (go_on, proceed) = std::sync::mpsc::channel::<()>();
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let contended = lock.take(None);
                proceed.recv().unwrap();
                lock.give_back();
                contended
            })
        };
        wait_until("the waiter queued", || lock.waiting_now() == 1);
        lock.give_back();
        // Handed over: the word never went back to 0, so a newcomer cannot take it, whether
        // or not the waiter has woken up yet.
        assert!(
            !lock.try_take(),
            "a newcomer took a lock handed to a waiter"
        );
        assert_eq!(lock.waiting_now(), 0);
        go_on.send(()).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(true));
        assert_eq!(lock.state.load(Relaxed), 0);
    }

    #[test]
    fn an_expired_deadline_leaves_the_queue_clean() {
        let lock = RawInitLock::new();
        assert!(lock.try_take());
        let past = Instant::now();
        assert_eq!(lock.take(Some(past)), Err(TakeError::TimedOut));
        assert_eq!(lock.waiting_now(), 0);
        // `QUEUED` was cleared, so the holder's release takes the fast path.
        assert_eq!(lock.state.load(Relaxed), HELD);
        lock.give_back();
        assert_eq!(lock.state.load(Relaxed), 0);
    }

    #[test]
    fn a_background_waiter_is_served_after_normal_waiters_that_came_later() {
        let lock = Arc::new(RawInitLock::new());
        assert!(lock.try_take());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let waiter = |background: bool| {
            let (lock, order) = (lock.clone(), order.clone());
            std::thread::spawn(move || {
                let taken = if background {
                    lock.take_background(None)
                } else {
                    lock.take(None)
                };
                order.lock().unwrap().push(background);
                lock.give_back();
                taken
            })
        };
        let background = waiter(true);
        wait_until("the background waiter queued", || {
            lock.queue().background.len() == 1
        });
        assert_eq!(lock.waiting_now(), 0, "background waiters are not counted");
        let normal = waiter(false);
        wait_until("the normal waiter queued", || lock.waiting_now() == 1);
        lock.give_back();
        assert_eq!(normal.join().unwrap(), Ok(true));
        assert_eq!(background.join().unwrap(), Ok(true));
        assert_eq!(*order.lock().unwrap(), [false, true], "normal first");
        assert_eq!(lock.state.load(Relaxed), 0);
    }
}
