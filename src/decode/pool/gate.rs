//! The decoder pool's synchronisation, apart from its policy and its decoders: the pool's
//! state behind one mutex, and the one condition a waiting checkout waits for, "room was
//! released or a reset ended" (a decoder came back, a build failed, the pool closed, a
//! returned decoder's reset finished or failed).
//!
//! Invariant: limits are checked and room reserved under one [`lock`](Gate::lock), so two
//! checkouts never take the same room; a checkout that finds no room, or waits for a decoder
//! being reset, waits only through [`wait`](Gate::wait), which hands back the lock, so it
//! checks again before it waits again; every change that can give room or end a reset
//! (under the lock) is followed by [`opened`](Gate::opened) once the lock is released, which
//! wakes every waiting checkout. So no wake-up is lost: a checkout waits only while no room
//! was released and no reset ended since it last looked.
//!
//! Model check: the primitives come from `init::sync`, so under `--cfg loom` the model below
//! runs this code with loom's (in `.ci/run`), together with the pool's own bookkeeping
//! (`PoolState::admit`, `release`, `keep`, `begin_reset`, `end_reset`, `unclaim`) over
//! stand-in decoders: checkouts hitting, reserving and waiting, a build that fails,
//! check-ins, returns whose reset ends later on another thread (succeeding or failing) with
//! checkouts waiting for them, in every interleaving up to the preemption bound. It checks
//! that the room is never exceeded, that every checkout is served (a checkout left waiting
//! is a deadlock loom reports: its `wait_timeout` never times out), and that a checkout
//! waiting for resets that succeed is served by one of them, never by a build.

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

    /// Wakes every waiting checkout; call after every change that can give room or end a
    /// reset, with the lock released.
    pub(super) fn opened(&self) {
        self.released.notify_all();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The pool's check-out and check-in on the gate, with its own bookkeeping
    //! ([`PoolState::admit`], [`PoolState::release`], [`PoolState::keep`] and the reset
    //! tickets) over stand-in decoders (`u32`): checkouts hit an idle decoder, wait for one
    //! being reset (claimed), or reserve room and build outside the lock (a build may fail and
    //! give the room back), or wait; check-ins give the room back and keep the decoder idle,
    //! at once or after a reset that ends on another thread.
    //! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --lib --release loom`.
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Instant;

    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU32, AtomicUsize};
    use loom::thread;

    use super::super::PoolConfig;
    use super::super::state::{Admit, Ask, Busy, Idle, PoolState};
    use super::*;
    use crate::Codec;
    use crate::decode::PixelFormat;
    use crate::decode::geometry::Shape;

    const BYTES: u64 = 1 << 20;

    fn shape() -> Shape {
        Shape {
            codec: Codec::H264,
            bit_depth: 8,
            format: PixelFormat::Nv12,
            max_width: 64,
            max_height: 64,
            surfaces: 1,
        }
    }

    struct Pool {
        gate: Gate<PoolState<u32>>,
        config: PoolConfig,
        room: usize,
        /// Decoders out (checked out or being built), counted outside the lock.
        out: AtomicUsize,
        next: AtomicU32,
        /// Decoders built.
        built: AtomicUsize,
    }

    impl Pool {
        fn new(room: usize) -> Arc<Self> {
            Arc::new(Pool {
                gate: Gate::new(PoolState::default()),
                config: PoolConfig::default().with_max_total(room),
                room,
                out: AtomicUsize::new(0),
                next: AtomicU32::new(0),
                built: AtomicUsize::new(0),
            })
        }

        /// `DecoderPool::build`'s loop: the decoder (a hit or a new one) and its room.
        fn checkout(&self) -> (u32, Busy) {
            let mut doomed = Vec::new();
            let mut claim = None;
            let mut state = self.gate.lock();
            let (hit, busy) = loop {
                if let Some(ticket) = claim.take() {
                    state.unclaim(ticket);
                }
                let ask = Ask::CheckoutOrAwait;
                match state.admit(&self.config, &shape(), BYTES, ask, &mut doomed) {
                    Admit::Hit(decoder, busy) => break (Some(decoder), busy),
                    Admit::Build(busy) => break (None, busy),
                    Admit::Await(ticket) => {
                        claim = Some(ticket);
                        state = self.gate.wait(state, Duration::from_secs(30));
                        continue;
                    }
                    Admit::Full => {}
                }
                if !doomed.is_empty() {
                    drop(state);
                    doomed.clear();
                    state = self.gate.lock();
                    continue;
                }
                state = self.gate.wait(state, Duration::from_secs(30));
            };
            assert!(
                state.total() <= self.room,
                "the pool counts more decoders than room"
            );
            drop(state);
            assert!(
                self.out.fetch_add(1, SeqCst) < self.room,
                "more decoders out than room"
            );
            let decoder = hit.unwrap_or_else(|| {
                self.built.fetch_add(1, SeqCst);
                self.next.fetch_add(1, SeqCst)
            });
            (decoder, busy)
        }

        /// A check-in (`Some`: kept idle), or a build that failed (`None`).
        fn give_back(&self, busy: Busy, decoder: Option<u32>) {
            self.out.fetch_sub(1, SeqCst);
            self.finish(busy, decoder, None);
        }

        /// `finish_checkin`: the room back, the reset ended, the decoder kept (`Some`) or
        /// destroyed (`None`: its reset failed), the waiters woken.
        fn finish(&self, busy: Busy, decoder: Option<u32>, ticket: Option<u64>) {
            let mut state = self.gate.lock();
            state.release(busy);
            if let Some(ticket) = ticket {
                state.end_reset(ticket);
            }
            let doomed = match decoder {
                Some(decoder) => {
                    let idle = Idle {
                        decoder,
                        shape: shape(),
                        bytes: BYTES,
                        since: Instant::now(),
                    };
                    state.keep(&self.config, idle)
                }
                None => Vec::new(),
            };
            assert!(
                state.total() <= self.room,
                "the pool counts more decoders than room"
            );
            drop(state);
            self.gate.opened();
            drop(doomed);
        }

        /// `checkin` with the lock busy: counted as being reset now; the reset ends on
        /// another thread (the reaper), keeping the decoder if `reset_ok`.
        fn give_back_deferred(
            pool: &Arc<Self>,
            busy: Busy,
            decoder: u32,
            reset_ok: bool,
        ) -> thread::JoinHandle<()> {
            pool.out.fetch_sub(1, SeqCst);
            let ticket = pool.gate.lock().begin_reset(shape());
            let pool = pool.clone();
            thread::spawn(move || pool.finish(busy, reset_ok.then_some(decoder), Some(ticket)))
        }

        fn assert_settled(&self) {
            let state = self.gate.lock();
            assert_eq!(state.busy.values().sum::<usize>(), 0, "all room given back");
            assert!(state.resetting.is_empty(), "every reset ended");
            assert!(state.idle.len() <= self.room);
        }
    }

    #[test]
    fn loom_pool_checkouts_stay_within_room_and_every_waiter_is_served() {
        loom::model(|| {
            let pool = Pool::new(1);
            let users: Vec<_> = (0..2)
                .map(|i| {
                    let pool = pool.clone();
                    thread::spawn(move || {
                        let (decoder, busy) = pool.checkout();
                        // The first user's build fails (or it drops what it hit): the room
                        // comes back with nothing idle. The others check their decoder in.
                        pool.give_back(busy, (i != 0).then_some(decoder));
                    })
                })
                .collect();
            let (decoder, busy) = pool.checkout();
            pool.give_back(busy, Some(decoder));
            for user in users {
                user.join().unwrap();
            }
            pool.assert_settled();
        });
    }

    /// Two users each return their decoder while the lock is busy (the resets end later, on
    /// reaper threads) and check out again at once; there is room for a third decoder, but
    /// neither builds: each waits for a decoder being reset and is served by one.
    #[test]
    fn loom_checkouts_wait_for_decoders_being_reset_instead_of_building() {
        loom::model(|| {
            let pool = Pool::new(3);
            let first: Vec<(u32, Busy)> = (0..2).map(|_| pool.checkout()).collect();
            assert_eq!(pool.built.load(SeqCst), 2);
            let users: Vec<_> = first
                .into_iter()
                .map(|(decoder, busy)| {
                    let pool = pool.clone();
                    thread::spawn(move || {
                        let reaper = Pool::give_back_deferred(&pool, busy, decoder, true);
                        let (again, busy) = pool.checkout();
                        assert!(again < 2, "served by a decoder being reset");
                        pool.give_back(busy, Some(again));
                        reaper.join().unwrap();
                    })
                })
                .collect();
            for user in users {
                user.join().unwrap();
            }
            assert_eq!(
                pool.built.load(SeqCst),
                2,
                "no decoder built while one was on its way back"
            );
            pool.assert_settled();
        });
    }

    /// A reset that fails ends the wait of the checkout waiting for it: that checkout builds
    /// (and is served) instead of waiting on.
    #[test]
    fn loom_a_failed_reset_wakes_the_checkout_waiting_for_it() {
        loom::model(|| {
            let pool = Pool::new(2);
            let (decoder, busy) = pool.checkout();
            let reaper = Pool::give_back_deferred(&pool, busy, decoder, false);
            let other = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let (decoder, busy) = pool.checkout();
                    pool.give_back(busy, Some(decoder));
                })
            };
            let (again, busy) = pool.checkout();
            assert_ne!(again, decoder, "the failed decoder is never handed out");
            pool.give_back(busy, Some(again));
            reaper.join().unwrap();
            other.join().unwrap();
            pool.assert_settled();
        });
    }
}
