//! The decoder pool's synchronisation, apart from its policy and its decoders: the pool's
//! state behind one mutex, and the one condition a waiting checkout waits for, "room was
//! released" (a decoder came back, a build failed, the pool closed).
//!
//! Invariant: limits are checked and room reserved under one [`lock`](Gate::lock), so two
//! checkouts never take the same room; a checkout that finds no room waits only through
//! [`wait`](Gate::wait), which hands back the lock, so it checks again before it waits again;
//! every change that can give room (under the lock) is followed by [`opened`](Gate::opened)
//! once the lock is released, which wakes every waiting checkout. So no wake-up is lost: a
//! checkout waits only while no room was released since it last looked.
//!
//! Model check: the primitives come from `init::sync`, so under `--cfg loom` the model below
//! runs this code with loom's (in `.ci/run`): checkouts reserving and waiting, a build that
//! fails, check-ins, in every interleaving up to the preemption bound, checking that the
//! bound on decoders out is never exceeded and that every checkout is served (a checkout left
//! waiting is a deadlock loom reports: its `wait_timeout` never times out).

use std::sync::PoisonError;
use std::time::Duration;

use crate::init::sync::{Condvar, Mutex, MutexGuard};

/// The pool's state `S` and its "room released" condition.
pub(super) struct Gate<S> {
    state: Mutex<S>,
    released: Condvar,
}

impl<S> Gate<S> {
    pub(super) fn new(state: S) -> Self {
        Gate {
            state: Mutex::new(state),
            released: Condvar::new(),
        }
    }

    /// The state. A poisoned mutex is entered anyway: the pool's bookkeeping is updated in
    /// single steps that a panic cannot leave half done.
    pub(super) fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases the lock and waits until [`opened`](Self::opened) is called or `left` has
    /// passed (or spuriously), then takes the lock again.
    pub(super) fn wait<'g>(
        &'g self,
        state: MutexGuard<'g, S>,
        left: Duration,
    ) -> MutexGuard<'g, S> {
        self.released
            .wait_timeout(state, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Wakes every waiting checkout; call after every change that can give room, with the
    /// lock released.
    pub(super) fn opened(&self) {
        self.released.notify_all();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The pool's protocol on the gate, with one decoder of room: reserve room or wait, build
    //! outside the lock (a build may fail and give the room back), check in (give it back).
    //! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --lib --release loom`.
    use std::sync::atomic::Ordering::SeqCst;

    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    use super::*;

    const ROOM: usize = 1;

    /// Decoders out (reserved, built, in use) and idle, as the pool counts them.
    #[derive(Default)]
    struct Counts {
        out: usize,
        idle: usize,
    }

    struct Pool {
        gate: Gate<Counts>,
        /// Decoders really in use, counted outside the lock: never above `ROOM`.
        in_use: AtomicUsize,
    }

    impl Pool {
        /// A checkout: an idle decoder, or room to build one, waiting for a release.
        /// Returns whether it hit an idle decoder.
        fn checkout(&self) -> bool {
            let mut state = self.gate.lock();
            let hit = loop {
                if state.idle > 0 {
                    state.idle -= 1;
                    state.out += 1;
                    break true;
                }
                if state.out + state.idle < ROOM {
                    state.out += 1;
                    break false;
                }
                state = self.gate.wait(state, Duration::from_secs(30));
            };
            drop(state);
            assert!(
                self.in_use.fetch_add(1, SeqCst) < ROOM,
                "more decoders out than room"
            );
            hit
        }

        /// A build that failed, or a decoder coming back: the room is released.
        fn give_back(&self, keep: bool) {
            self.in_use.fetch_sub(1, SeqCst);
            let mut state = self.gate.lock();
            state.out -= 1;
            if keep {
                state.idle += 1;
            }
            drop(state);
            self.gate.opened();
        }
    }

    #[test]
    fn loom_pool_checkouts_stay_within_room_and_every_waiter_is_served() {
        loom::model(|| {
            let pool = Arc::new(Pool {
                gate: Gate::new(Counts::default()),
                in_use: AtomicUsize::new(0),
            });
            let users: Vec<_> = (0..2)
                .map(|i| {
                    let pool = pool.clone();
                    thread::spawn(move || {
                        let hit = pool.checkout();
                        // The first user's build fails (room back, nothing idle); every
                        // other decoder is checked back in.
                        let build_failed = i == 0 && !hit;
                        pool.give_back(!build_failed);
                    })
                })
                .collect();
            let hit = pool.checkout();
            pool.give_back(true);
            for user in users {
                user.join().unwrap();
            }
            let _ = hit;
            let state = pool.gate.lock();
            assert_eq!(state.out, 0);
            assert!(state.idle <= ROOM);
        });
    }
}
