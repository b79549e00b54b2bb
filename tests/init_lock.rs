//! The process-wide init lock, specified by its behaviour on the CPU alone (no GPU needed).
//!
//! Every test in this binary runs in parallel with the others and shares the one global lock
//! and its counters. So counters are compared as deltas with `>=` (other tests add to them
//! too), the only absolute check is `max_concurrent_windows == 1`, and a test that needs the
//! lock waits for it generously (another test may be holding it for a few hundred ms).
//! The tests of queue order need to know exactly who is queued, so they run alone: they take
//! [`EXCLUSIVE`] for writing, every other test takes it for reading.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex, PoisonError, RwLock, RwLockReadGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
use nvcodec_guard::init::{CudaInitGuard, held_by_current_thread, init_lock_stats};
use nvcodec_guard::{Codec, Error};

/// How long a test waits for the lock when it expects to get it: far longer than any other
/// test in this binary holds it.
const GENEROUS: Duration = Duration::from_secs(5);

/// Taken for writing by the tests that count queued waiters, for reading by all others.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// Lets this test run beside the others (but not beside the queue-order tests).
fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `body` on its own thread and fails the test if it has not finished within `limit`,
/// so a deadlock shows up as a failure instead of a hung test run.
fn finishes_within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = done.send(body());
    });
    match finished.recv_timeout(limit) {
        Ok(value) => {
            worker
                .join()
                .expect("the worker already reported its result");
            value
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not finish within {limit:?}"),
        // The body panicked: re-raise its panic with its own message.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker ended without sending"),
        },
    }
}

/// Whether `libcuda.so.1` can be opened here, asked of the dynamic loader directly (not
/// through the crate under test).
fn libcuda_loadable() -> bool {
    // SAFETY: opening the NVIDIA driver library runs only its own initializers.
    unsafe { libloading::Library::new("libcuda.so.1") }.is_ok()
}

#[test]
fn at_most_one_window_is_open_at_any_moment_under_heavy_contention() {
    let _shared = shared();
    finishes_within(Duration::from_secs(60), "32 threads x 200 windows", || {
        one_window_at_a_time(32, 200)
    });
}

fn one_window_at_a_time(threads: usize, windows_per_thread: usize) {
    let before = init_lock_stats();
    let inside = Arc::new(AtomicU32::new(0));
    let most_inside = Arc::new(AtomicU32::new(0));
    let start = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (inside, most_inside, start) = (inside.clone(), most_inside.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..windows_per_thread {
                    let guard = CudaInitGuard::acquire().expect("a blocking acquire succeeds");
                    let now_inside = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most_inside.fetch_max(now_inside, Ordering::SeqCst);
                    assert!(held_by_current_thread());
                    // Stay inside a little, so that an overlapping window would be seen.
                    if i % 4 == 0 {
                        thread::yield_now();
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    assert!(!held_by_current_thread());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("no worker panicked");
    }

    assert_eq!(
        most_inside.load(Ordering::SeqCst),
        1,
        "two threads were inside init windows at the same time"
    );
    assert_eq!(inside.load(Ordering::SeqCst), 0);
    let after = init_lock_stats();
    assert_eq!(after.max_concurrent_windows, 1, "{after:?}");
    assert!(
        after.windows_opened - before.windows_opened >= (threads * windows_per_thread) as u64,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.contended_acquires > before.contended_acquires,
        "{threads} threads racing for one lock must have collided at least once"
    );
}

#[test]
fn a_panic_inside_a_window_releases_the_lock_and_is_counted() {
    let _shared = shared();
    let before = init_lock_stats();
    let panicked = thread::spawn(|| {
        let _guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("lock acquired");
        panic!("deliberate panic inside an init window (expected by this test)");
    })
    .join();
    assert!(panicked.is_err(), "the thread must have panicked");

    // Another thread gets the lock: the panicking window did not wedge it.
    let timing = thread::spawn(|| {
        CudaInitGuard::acquire_timeout(GENEROUS)
            .expect("the lock is usable after a panic inside a window")
            .release()
    })
    .join()
    .expect("the second thread did not panic");
    assert!(timing.wait < GENEROUS);

    let after = init_lock_stats();
    assert!(
        after.windows_ended_by_panic > before.windows_ended_by_panic,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.max_concurrent_windows, 1);
}

#[test]
fn acquire_timeout_gives_up_with_the_time_waited_while_another_thread_holds_the_lock() {
    let _shared = shared();
    finishes_within(
        GENEROUS * 4,
        "the timeout test",
        timeout_while_another_thread_holds,
    );
}

fn timeout_while_another_thread_holds() {
    const HOLD: Duration = Duration::from_millis(300);
    const TIMEOUT: Duration = Duration::from_millis(50);

    let before = init_lock_stats();
    let (held_tx, held) = mpsc::channel();
    let holder = thread::spawn(move || {
        let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("the holder gets the lock");
        held_tx.send(()).expect("the test thread is listening");
        thread::sleep(HOLD);
        guard.release()
    });
    held.recv().expect("the holder took the lock");

    let attempt_started = Instant::now();
    let outcome = CudaInitGuard::acquire_timeout(TIMEOUT);
    let gave_up_after = attempt_started.elapsed();
    match outcome {
        Err(Error::InitLockTimeout { waited }) => {
            assert!(waited >= TIMEOUT, "gave up early, after {waited:?}");
            assert!(
                waited < Duration::from_millis(250),
                "waited {waited:?}: nearly the holder's whole {HOLD:?} window"
            );
            assert!(waited <= gave_up_after);
        }
        Err(other) => panic!("expected InitLockTimeout, got {other:?}"),
        Ok(_) => panic!("acquired a lock that another thread holds"),
    }
    assert!(
        !held_by_current_thread(),
        "a timed-out acquire holds nothing"
    );

    let holder_timing = holder.join().expect("the holder did not panic");
    assert!(holder_timing.hold >= HOLD, "{holder_timing:?}");

    // Once the holder is gone, a blocking acquire goes through.
    let guard = CudaInitGuard::acquire().expect("a blocking acquire succeeds after release");
    assert!(held_by_current_thread());
    drop(guard);

    let after = init_lock_stats();
    assert!(after.timeouts > before.timeouts, "{before:?} -> {after:?}");
}

#[test]
fn acquire_timeout_with_an_unrepresentable_timeout_waits_like_acquire() {
    let _shared = shared();
    // `Instant + Duration::MAX` overflows; the lock treats it as "no timeout", not a panic.
    finishes_within(GENEROUS, "acquire_timeout(Duration::MAX)", || {
        let guard = CudaInitGuard::acquire_timeout(Duration::MAX).expect("acquired");
        assert!(held_by_current_thread());
        drop(guard);
    });
}

#[test]
fn a_second_acquire_on_the_same_thread_is_refused_at_once_instead_of_deadlocking() {
    let _shared = shared();
    let before = init_lock_stats();
    finishes_within(GENEROUS * 2, "a re-entrant acquire", || {
        assert!(!held_by_current_thread());
        let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("first acquire");
        assert!(held_by_current_thread());

        let refused_at = Instant::now();
        assert!(matches!(CudaInitGuard::acquire(), Err(Error::InitLockHeld)));
        assert!(matches!(
            CudaInitGuard::acquire_timeout(GENEROUS),
            Err(Error::InitLockHeld)
        ));
        assert!(
            refused_at.elapsed() < Duration::from_secs(1),
            "the refusal waited {:?} instead of failing fast",
            refused_at.elapsed()
        );
        // The refusals did not close the window that is open.
        assert!(held_by_current_thread());

        // Holding is per thread: another thread does not hold it.
        let elsewhere = thread::spawn(held_by_current_thread).join().unwrap();
        assert!(!elsewhere, "another thread sees the lock as its own");

        let _ = guard.release();
        assert!(!held_by_current_thread());
    });
    let after = init_lock_stats();
    assert!(
        after.reentrant_refusals - before.reentrant_refusals >= 2,
        "{before:?} -> {after:?}"
    );
}

#[test]
fn wait_and_hold_times_are_measured_and_recorded() {
    let _shared = shared();
    const INSIDE: Duration = Duration::from_millis(20);

    let before = init_lock_stats();
    let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("acquired");
    let waited = guard.waited();
    thread::sleep(INSIDE);
    assert!(guard.held_for() >= INSIDE);
    let timing = guard.release();
    assert!(timing.hold >= INSIDE, "{timing:?}");
    assert_eq!(
        timing.wait, waited,
        "release reports the same wait as the guard"
    );

    let after = init_lock_stats();
    assert!(
        after.total_hold - before.total_hold >= INSIDE,
        "{before:?} -> {after:?}"
    );
    assert!(after.max_hold >= timing.hold, "{after:?} vs {timing:?}");
    assert!(after.max_hold >= before.max_hold);
    assert!(after.windows_opened > before.windows_opened);
}

#[test]
fn a_thread_that_has_to_wait_is_counted_as_contended_and_its_wait_recorded() {
    let _shared = shared();
    finishes_within(
        GENEROUS * 4,
        "the contention test",
        wait_behind_another_thread,
    );
}

fn wait_behind_another_thread() {
    const HOLD: Duration = Duration::from_millis(200);

    let before = init_lock_stats();
    let (held_tx, held) = mpsc::channel();
    let holder = thread::spawn(move || {
        let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("the holder gets the lock");
        held_tx.send(()).expect("the waiter is listening");
        thread::sleep(HOLD);
        guard.release()
    });
    held.recv().expect("the holder took the lock");

    // The holder keeps the lock for another ~200 ms: this acquire has to wait.
    let called_at = Instant::now();
    let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("acquired after the holder");
    let returned_after = called_at.elapsed();
    let waited = guard.waited();
    let timing = guard.release();

    let holder_timing = holder.join().expect("the holder did not panic");
    assert!(holder_timing.hold >= HOLD, "{holder_timing:?}");
    assert!(
        waited > Duration::ZERO,
        "a contended acquire reports its wait"
    );
    assert!(waited <= returned_after, "{waited:?} > {returned_after:?}");
    assert_eq!(timing.wait, waited);

    let after = init_lock_stats();
    assert!(
        after.contended_acquires > before.contended_acquires,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.total_wait - before.total_wait >= waited,
        "{before:?} -> {after:?}"
    );
    assert!(after.max_wait >= waited, "{after:?}");
}

#[test]
fn building_a_decoder_without_the_cuda_driver_is_a_library_not_found_error() {
    let _shared = shared();
    if libcuda_loadable() {
        // A machine with the driver: the crate must agree that it is there.
        nvcodec_guard::cuda::driver_available()
            .expect("libcuda.so.1 opens, so driver_available() must be Ok");
        return;
    }
    match nvcodec_guard::cuda::driver_available() {
        Err(Error::LibraryNotFound { name, .. }) => assert_eq!(name, "libcuda.so.1"),
        other => panic!("driver_available() without libcuda.so.1: {other:?}"),
    }

    let built = finishes_within(GENEROUS, "build()", || {
        catch_unwind(AssertUnwindSafe(|| {
            DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()
        }))
        .map_err(|_| "build() panicked instead of returning an error")
    })
    .expect("build() must return an error, not panic, without the driver");
    match built {
        Err(Error::LibraryNotFound { name, reason }) => {
            assert_eq!(name, "libcuda.so.1");
            assert!(!reason.is_empty(), "the loader's message is kept");
        }
        Err(other) => panic!("expected LibraryNotFound for libcuda.so.1, got {other:?}"),
        Ok(decoder) => panic!("built a decoder without a driver: {decoder:?}"),
    }

    // The failed build closed its window.
    assert!(!held_by_current_thread());
    let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("the lock is free again");
    drop(guard);
}

#[test]
fn a_builder_error_inside_the_window_releases_the_lock() {
    let _shared = shared();
    // Device 999 fails either way: without a driver at `libcuda.so.1`, with one at the
    // device-count check. Either way `context` fails while holding the guard.
    let config = DecoderConfig::new(Codec::H264).with_device(999);
    let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("acquired");
    let error = DecoderBuilder::new(config)
        .create_context(guard)
        .expect_err("there is no CUDA device 999");
    if !libcuda_loadable() {
        assert!(
            matches!(
                error,
                Error::LibraryNotFound {
                    name: "libcuda.so.1",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    // The guard went down with the builder: this thread holds nothing ...
    assert!(!held_by_current_thread());
    // ... the lock can be taken again, here and on another thread ...
    let elsewhere = thread::spawn(|| CudaInitGuard::acquire_timeout(GENEROUS).map(drop))
        .join()
        .expect("no panic");
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
    let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("the lock is free again");
    // ... and no window was left counted as open: while we hold the lock, ours is the only one.
    let stats = init_lock_stats();
    assert_eq!(stats.open_windows, 1, "{stats:?}");
    drop(guard);
}

// ---- Fairness: the lock is handed to waiters in the order they queued. ----

/// Takes [`EXCLUSIVE`] for writing: no other test of this binary queues for the lock meanwhile,
/// so `waiting_now` counts exactly this test's waiters.
fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(PoisonError::into_inner)
}

/// Waits until exactly `n` threads are queued for the lock.
fn until_queued(n: u32) {
    let deadline = Instant::now() + GENEROUS;
    loop {
        let now = init_lock_stats().waiting_now;
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} queued waiters, still {now} after {GENEROUS:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Spawns `body` and returns once it is queued for the lock, i.e. once `waiting_now` reached
/// `queued_after`: the caller holds the lock, so `body` must be waiting for it.
fn spawn_queued<T: Send + 'static>(
    queued_after: u32,
    body: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let waiter = thread::spawn(body);
    until_queued(queued_after);
    waiter
}

fn lock_order(order: &Mutex<Vec<usize>>) -> std::sync::MutexGuard<'_, Vec<usize>> {
    order.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn waiters_get_the_lock_in_the_order_they_queued() {
    const WAITERS: usize = 12;
    let _alone = alone();
    finishes_within(GENEROUS * 2, "the FIFO test", || {
        let order = Arc::new(Mutex::new(Vec::new()));
        let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("acquired");
        assert_eq!(init_lock_stats().waiting_now, 0, "this test runs alone");
        let waiters: Vec<_> = (0..WAITERS)
            .map(|i| {
                let order = order.clone();
                spawn_queued(i as u32 + 1, move || {
                    let guard = CudaInitGuard::acquire().expect("acquired in turn");
                    lock_order(&order).push(i);
                    drop(guard);
                })
            })
            .collect();
        assert!(lock_order(&order).is_empty(), "a waiter got in while held");
        drop(guard);
        for waiter in waiters {
            waiter.join().expect("no waiter panicked");
        }
        assert_eq!(*lock_order(&order), (0..WAITERS).collect::<Vec<_>>());
        assert_eq!(init_lock_stats().waiting_now, 0);
        assert_eq!(init_lock_stats().max_concurrent_windows, 1);
    });
}

#[test]
fn a_waiter_timing_out_mid_queue_keeps_the_others_in_order_and_the_lock_usable() {
    const TIMEOUT: Duration = Duration::from_millis(100);
    let _alone = alone();
    finishes_within(GENEROUS * 2, "the mid-queue timeout test", || {
        let before = init_lock_stats();
        let order = Arc::new(Mutex::new(Vec::new()));
        let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("acquired");
        let in_turn = |i: usize| {
            let order = order.clone();
            move || {
                let guard = CudaInitGuard::acquire().expect("acquired in turn");
                lock_order(&order).push(i);
                drop(guard);
            }
        };
        let first = spawn_queued(1, in_turn(0));
        let quitter = spawn_queued(2, || CudaInitGuard::acquire_timeout(TIMEOUT).map(drop));
        let last = spawn_queued(3, in_turn(2));

        match quitter.join().expect("the quitter did not panic") {
            Err(Error::InitLockTimeout { waited }) => assert!(waited >= TIMEOUT, "{waited:?}"),
            other => panic!("expected InitLockTimeout while the lock is held, got {other:?}"),
        }
        assert_eq!(
            init_lock_stats().waiting_now,
            2,
            "the quitter left the queue"
        );
        assert!(lock_order(&order).is_empty());

        drop(guard);
        first.join().expect("no panic");
        last.join().expect("no panic");
        assert_eq!(*lock_order(&order), [0, 2]);

        // Not wedged: free, nobody queued, and it can be taken again at once.
        assert_eq!(init_lock_stats().waiting_now, 0);
        let again = CudaInitGuard::acquire_timeout(GENEROUS).expect("the lock is free");
        assert_eq!(
            again.waited(),
            Duration::ZERO,
            "uncontended once the queue drained"
        );
        drop(again);
        let after = init_lock_stats();
        assert!(after.timeouts > before.timeouts, "{before:?} -> {after:?}");
    });
}

#[test]
fn a_panic_in_a_handed_over_window_passes_the_lock_on_in_order() {
    let _alone = alone();
    finishes_within(GENEROUS * 2, "the hand-over panic test", || {
        let before = init_lock_stats();
        let order = Arc::new(Mutex::new(Vec::new()));
        let guard = CudaInitGuard::acquire_timeout(GENEROUS).expect("acquired");
        let panicker = {
            let order = order.clone();
            spawn_queued(1, move || {
                let _guard = CudaInitGuard::acquire().expect("acquired in turn");
                lock_order(&order).push(0);
                panic!("deliberate panic in a handed-over window (expected by this test)");
            })
        };
        let next = {
            let order = order.clone();
            spawn_queued(2, move || {
                let guard = CudaInitGuard::acquire().expect("acquired after the panic");
                lock_order(&order).push(1);
                drop(guard);
            })
        };
        drop(guard);
        assert!(panicker.join().is_err(), "the first waiter panicked");
        next.join().expect("the second waiter got the lock");
        assert_eq!(*lock_order(&order), [0, 1]);
        let after = init_lock_stats();
        assert!(after.windows_ended_by_panic > before.windows_ended_by_panic);
        assert_eq!(after.waiting_now, 0);
        assert_eq!(after.max_concurrent_windows, 1);
    });
}
