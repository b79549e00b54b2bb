//! Model check of the fair lock: every interleaving loom finds, up to its preemption bound
//! (`LOOM_MAX_PREEMPTIONS`, 2 in `.ci/run`), of the situations the lock was written for.
//!
//! Each model checks, in every interleaving:
//! - mutual exclusion: a counter of threads between `take` and `give_back` never exceeds 1;
//! - no lost wake-up: a parked waiter that nobody unparks is a deadlock, which loom reports;
//! - the lock ends free, with an empty queue and no pending hand-off.
//!
//! Some add arrival order (hand-off, a releasing thread coming back) or a timeout racing a
//! hand-off. A timeout is a [`FlagDeadline`] that a timer thread sets at any point loom
//! chooses: loom has no clock, so this is how "the deadline passed" meets every step of a
//! hand-off. A timed wait (`park_timeout`) always returns by itself, so a timed waiter's
//! park is modelled as a yield; waiters without a deadline really park (`loom::thread::park`),
//! and only a hand-off's `unpark` wakes them. (The timer does not `unpark`: loom 0.7 lets an
//! `unpark` wake a thread blocked on a mutex, which std's never does.)
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --lib --release loom`.

use std::sync::atomic::Ordering::SeqCst;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::thread;

use super::*;

/// A deadline that passes when a timer thread says so.
struct FlagDeadline(Arc<AtomicBool>);

impl Deadline for FlagDeadline {
    fn passed(&self) -> bool {
        self.0.load(SeqCst)
    }

    fn park_until(&self) {
        // `park_timeout` returns by itself, at the deadline at the latest.
        thread::yield_now();
    }
}

/// What every model shares: the lock, and the count of threads holding it.
struct Model {
    lock: RawInitLock,
    inside: AtomicUsize,
    /// Order in which holders got the lock, for the arrival-order checks.
    served: AtomicUsize,
}

impl Model {
    fn new() -> Arc<Model> {
        Arc::new(Model {
            lock: RawInitLock::new(),
            inside: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
        })
    }

    /// Enters the critical section after a successful take; returns the turn it was served.
    fn enter(&self) -> usize {
        assert_eq!(self.inside.fetch_add(1, SeqCst), 0, "two holders at once");
        self.served.fetch_add(1, SeqCst)
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, SeqCst);
        self.lock.give_back();
    }

    /// Takes (waiting without deadline), enters, leaves; returns the turn.
    fn hold_once(&self) -> usize {
        assert!(matches!(self.lock.take(None), Ok(_)));
        let turn = self.enter();
        self.leave();
        turn
    }

    /// Spins (yielding to loom) until `n` tickets are queued.
    fn wait_for_queued(&self, n: u32) {
        while self.lock.waiting_now() != n {
            thread::yield_now();
        }
    }

    fn assert_free_and_clean(&self) {
        assert_eq!(self.lock.state.load(SeqCst), 0, "the lock ends free");
        let q = self.lock.queue();
        assert!(q.tickets.is_empty(), "no ticket left behind");
        assert!(q.background.is_empty(), "no background ticket left behind");
        assert_eq!(q.handed_to, None, "no hand-off left pending");
        drop(q);
        assert_eq!(self.lock.waiting_now(), 0);
    }
}

#[test]
fn loom_two_threads_contend_and_no_wake_up_is_lost() {
    loom::model(|| {
        let m = Model::new();
        let other = {
            let m = m.clone();
            thread::spawn(move || m.hold_once())
        };
        let mine = m.hold_once();
        let theirs = other.join().unwrap();
        assert_ne!(mine, theirs);
        m.assert_free_and_clean();
    });
}

#[test]
fn loom_three_threads_keep_mutual_exclusion() {
    loom::model(|| {
        let m = Model::new();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || m.hold_once())
            })
            .collect();
        m.hold_once();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.served.load(SeqCst), 3);
        m.assert_free_and_clean();
    });
}

#[test]
fn loom_a_queued_waiter_is_handed_the_lock_and_nobody_barges() {
    loom::model(|| {
        let m = Model::new();
        assert!(m.lock.try_take());
        m.enter();
        let may_leave = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (m, may_leave) = (m.clone(), may_leave.clone());
            thread::spawn(move || {
                assert!(matches!(m.lock.take(None), Ok(true)), "it had to queue");
                let turn = m.enter();
                // Holds the lock until the newcomer below has tried its luck.
                while !may_leave.load(SeqCst) {
                    thread::yield_now();
                }
                m.leave();
                turn
            })
        };
        m.wait_for_queued(1);
        m.leave();
        // Handed over: the word never went back to 0, whether or not the waiter runs yet.
        assert!(
            !m.lock.try_take(),
            "a newcomer took a lock handed to a waiter"
        );
        may_leave.store(true, SeqCst);
        assert_eq!(waiter.join().unwrap(), 1);
        m.assert_free_and_clean();
    });
}

#[test]
fn loom_a_thread_coming_back_queues_behind_earlier_waiters() {
    loom::model(|| {
        let m = Model::new();
        assert!(m.lock.try_take());
        m.enter();
        let waiter = {
            let m = m.clone();
            thread::spawn(move || m.hold_once())
        };
        m.wait_for_queued(1);
        m.leave();
        // Straight back for the lock (as a pipeline opening its next window would): the
        // waiter that queued first is served first.
        let again = m.hold_once();
        let theirs = waiter.join().unwrap();
        assert!(
            theirs < again,
            "served {theirs} after the returning thread's {again}"
        );
        m.assert_free_and_clean();
    });
}

#[test]
fn loom_a_timeout_racing_the_hand_off_leaves_the_lock_consistent() {
    loom::model(|| {
        let m = Model::new();
        assert!(m.lock.try_take());
        m.enter();
        let expired = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (m, expired) = (m.clone(), expired.clone());
            thread::spawn(
                move || match m.lock.take_until(Some(&FlagDeadline(expired))) {
                    Ok(_) => {
                        m.enter();
                        m.leave();
                        true
                    }
                    Err(TakeError::TimedOut) => false,
                },
            )
        };
        let timer = {
            let expired = expired.clone();
            thread::spawn(move || expired.store(true, SeqCst))
        };
        m.leave();
        timer.join().unwrap();
        let _got_it = waiter.join().unwrap();
        // Either way the lock is free again and takeable.
        m.assert_free_and_clean();
        assert!(m.lock.try_take());
        m.lock.give_back();
    });
}

#[test]
fn loom_a_waiter_that_times_out_does_not_strand_the_one_behind_it() {
    loom::model(|| {
        let m = Model::new();
        assert!(m.lock.try_take());
        m.enter();
        let expired = Arc::new(AtomicBool::new(false));
        let leaver = {
            let (m, expired) = (m.clone(), expired.clone());
            thread::spawn(move || {
                if m.lock.take_until(Some(&FlagDeadline(expired))).is_ok() {
                    m.enter();
                    m.leave();
                }
            })
        };
        let stayer = {
            let m = m.clone();
            thread::spawn(move || m.hold_once())
        };
        // Expire the first waiter at any point, then release: the one that waits without a
        // deadline must get the lock (a hand-off to the departed waiter would park it forever).
        expired.store(true, SeqCst);
        m.leave();
        leaver.join().unwrap();
        stayer.join().unwrap();
        m.assert_free_and_clean();
    });
}

#[test]
fn loom_a_background_waiter_yields_to_a_normal_waiter_that_came_later() {
    loom::model(|| {
        let m = Model::new();
        assert!(m.lock.try_take());
        m.enter();
        let background = {
            let m = m.clone();
            thread::spawn(move || {
                assert!(matches!(m.lock.take_background(None), Ok(true)));
                let turn = m.enter();
                m.leave();
                turn
            })
        };
        // The background ticket is queued (not counted in `waiting_now`) before the normal one.
        loop {
            let queued = !m.lock.queue().background.is_empty();
            if queued {
                break;
            }
            thread::yield_now();
        }
        let normal = {
            let m = m.clone();
            thread::spawn(move || m.hold_once())
        };
        m.wait_for_queued(1);
        m.leave();
        assert_eq!(normal.join().unwrap(), 1, "the normal waiter goes first");
        assert_eq!(
            background.join().unwrap(),
            2,
            "the background waiter after it"
        );
        m.assert_free_and_clean();
    });
}
