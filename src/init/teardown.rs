//! Teardown that never runs outside an init window, never blocks a destructor, and yields
//! to creations.
//!
//! Invariant: every job handed to [`destroy_in_window`] runs exactly once, inside an init
//! window, unless the process exits first. A destructor that finds the lock taken by another
//! thread does not wait for it: the job goes to a FIFO queue that one background thread (the
//! *reaper*, started on first use) drains inside its own init windows. The reaper survives
//! panics of the jobs and of its own `tracing` calls (a subscriber is user code): each unit of
//! its work runs under `catch_unwind`, and after a panic outside a job the next unit runs with
//! tracing silenced on the reaper's thread.
//!
//! Trade-off: a deferred teardown frees its device memory a little later, in exchange for
//! destructors that cost a few nanoseconds when the lock is busy instead of up to (waiters ×
//! hold time). [`wait_for_teardowns`] lets a caller that needs the memory back now (a test
//! measuring leaks, a server shrinking) wait for the queue to drain.
//!
//! # Streams that end do not slow streams that start
//! A destroy window is long (`cuvidDestroyDecoder` up to ≈ 230 ms) and creates nothing. So the
//! reaper waits for the lock as a *background* waiter, behind every creator that is waiting
//! or comes while it waits, and inside its window it runs one job at a time, leaving the window
//! as soon as a creator queues. Creations therefore never queue behind destroys, except behind
//! the one destroy already running (a driver call cannot be interrupted).
//!
//! Bound: yielding must not let the queue (and the device memory it holds) grow without end
//! under a constant stream of creations. When more than [`MAX_YIELDING_TEARDOWNS`] jobs are
//! queued, or the oldest has waited [`MAX_TEARDOWN_DELAY`], the reaper queues as a normal
//! waiter (arrival order) and runs jobs without yielding until the queue is back under both
//! bounds. So under any churn at most `MAX_YIELDING_TEARDOWNS` (plus the drops racing the
//! reaper) decoders wait to be destroyed, and none for much longer than `MAX_TEARDOWN_DELAY`
//! plus one turn of the lock's queue.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use super::guard::{CudaInitGuard, held_by_current_thread};
use super::job_queue::{JobQueue, Wait};
use super::lock::INIT_LOCK;
use super::stats::COUNTERS;
use super::window::WindowToken;
use crate::unwind::contained;

/// A teardown: destroys driver objects with the proof of being inside a window.
pub(crate) type Job = Box<dyn for<'w> FnOnce(WindowToken<'w>) + Send + 'static>;

/// Deferred teardowns the reaper lets wait behind creators; with more queued, teardown goes
/// ahead of creators (in arrival order) until the queue is back at this bound.
pub const MAX_YIELDING_TEARDOWNS: usize = 16;

/// The longest a deferred teardown waits behind creators; an older one makes the reaper queue
/// in arrival order.
pub const MAX_TEARDOWN_DELAY: Duration = Duration::from_secs(2);

/// How often a reaper waiting behind creators re-checks both bounds.
const RECHECK: Duration = Duration::from_millis(20);

struct Queued {
    what: &'static str,
    job: Job,
    since: Instant,
}

/// The deferred teardowns, drained by the reaper.
#[cfg(not(loom))]
static QUEUE: JobQueue<Queued> = JobQueue::new();
/// Under loom the queue is made on first use (loom's primitives have no `const fn new`); the
/// models make their own queues and never touch it.
#[cfg(loom)]
static QUEUE: std::sync::LazyLock<JobQueue<Queued>> = std::sync::LazyLock::new(JobQueue::new);

fn run(what: &'static str, job: Job, token: WindowToken<'_>) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(token))) else {
        return;
    };
    // Logging (a subscriber) and dropping the payload are user code too: neither may unwind
    // into the reaper, which would die and leave every later teardown queued forever, nor out
    // of a destructor. Two steps: the payload must not be dropped while logging unwinds.
    contained(|| {
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
    });
    contained(move || drop(payload));
}

/// Runs `job` inside an init window: at once if this thread is inside one, or if the lock is
/// free; otherwise later, on the reaper thread. `what` names the objects for logs.
///
/// In a window this thread was already in, the job's token names that window, so if code
/// running inside the job (a subscriber, a `Drop`) ends it, the job's later lifecycle calls
/// are refused ([`Error::InitWindowEnded`](crate::Error::InitWindowEnded), logged by the job)
/// and their objects leaked, rather than run outside the lock.
pub(crate) fn destroy_in_window(
    what: &'static str,
    job: impl for<'w> FnOnce(WindowToken<'w>) + Send + 'static,
) {
    if let Some(window) = WindowToken::for_open_window() {
        run(what, Box::new(job), window);
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
    let mut spawn_error = None;
    let start_reaper = || {
        let spawned = std::thread::Builder::new()
            .name("nvcodec-guard-reaper".into())
            .spawn(reaper);
        spawned.map_err(|error| spawn_error = Some(error)).is_ok()
    };
    let queued = Queued {
        what,
        job,
        since: Instant::now(),
    };
    let queued = match QUEUE.push(queued, start_reaper) {
        Ok(queued) => queued,
        Err(Queued { job, .. }) => {
            // No thread to defer to: wait for the lock here instead (never unlocked).
            contained(|| {
                if let Some(error) = spawn_error {
                    tracing::error!(%error, "no teardown thread; destroying on the caller's thread");
                }
            });
            match CudaInitGuard::acquire() {
                Ok(guard) => run(what, job, guard.token()),
                Err(error) => {
                    contained(|| tracing::error!(%error, what, "teardown impossible; leaked"));
                }
            }
            return;
        }
    };
    // Logged after the queue is unlocked and the reaper woken, and contained: `defer` runs
    // from destructors.
    contained(|| tracing::debug!(what, queued, "teardown deferred to the reaper"));
}

fn reaper() {
    // After a unit of work panicked outside a job (a tracing subscriber is user code, called
    // while entering and leaving the window), the next unit runs with tracing silenced on
    // this thread, so a subscriber that always panics cannot stop teardowns either.
    let mut silenced = false;
    loop {
        QUEUE.wait_for_jobs();
        let unit = || {
            if silenced {
                let none = tracing::Dispatch::none();
                tracing::dispatcher::with_default(&none, drain_once);
            } else {
                drain_once();
            }
        };
        match catch_unwind(AssertUnwindSafe(unit)) {
            Ok(()) => silenced = false,
            Err(payload) => {
                // Dropping the payload is user code too; it must not unwind here.
                std::mem::forget(payload);
                silenced = true;
            }
        }
    }
}

/// Whether the queue is past a bound, so teardown goes ahead of creators.
fn over_bounds(jobs: &VecDeque<Queued>) -> bool {
    jobs.len() > MAX_YIELDING_TEARDOWNS
        || jobs
            .front()
            .is_some_and(|oldest| oldest.since.elapsed() >= MAX_TEARDOWN_DELAY)
}

/// One unit of the reaper's work: one window, in which queued jobs run one by one.
///
/// Within bounds, the window is waited for behind every creator, and left as soon as a creator
/// queues (the rest of the queue waits for the next unit). Over a bound (see the module doc),
/// the window is waited for in arrival order and jobs run until the queue is within bounds.
/// Batching in one window, not one window per job, matters then: the reaper gets one window
/// in (threads + 1), so under a 32-thread churn a one-job-per-window reaper's queue grew until
/// the GPU ran out of memory.
fn drain_once() {
    let guard = loop {
        if QUEUE.inspect(over_bounds) {
            match CudaInitGuard::acquire() {
                Ok(guard) => break guard,
                Err(error) => {
                    // Unreachable: the reaper never holds the lock when it asks for it.
                    tracing::error!(%error, "the reaper could not enter an init window");
                    return;
                }
            }
        }
        if let Some(guard) = CudaInitGuard::acquire_in_background(RECHECK) {
            break guard;
        }
    };
    loop {
        // Counted as running until `running` drops, also if the reaper unwinds.
        let Some((Queued { what, job, .. }, urgent, running)) = QUEUE.take(over_bounds) else {
            break;
        };
        run(what, job, guard.token());
        drop(running);
        if !urgent && INIT_LOCK.waiting_now() > 0 {
            break; // a creator waits: let it in; the rest waits for the next unit
        }
    }
    drop(guard);
}

/// Teardowns handed to the reaper and not finished yet.
pub fn pending_teardowns() -> usize {
    QUEUE.pending()
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
#[must_use = "`false` means teardowns are still pending (device memory not yet back)"]
pub fn wait_for_teardowns(timeout: Duration) -> bool {
    let deadline = Instant::now().checked_add(timeout);
    QUEUE.wait_drained(|| {
        if held_by_current_thread() {
            // Waiting would only run out the timeout: the reaper cannot enter a window.
            return Wait::GiveUp;
        }
        match deadline {
            None => Wait::Forever,
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Wait::For(left),
                _ => Wait::GiveUp,
            },
        }
    })
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
    use std::thread::{self, ThreadId};

    use super::*;
    use crate::init::init_lock_stats;

    const LIMIT: Duration = Duration::from_secs(5);

    /// These tests share the process-wide lock and the reaper: one at a time, each starting
    /// with an empty teardown queue.
    static SERIAL: Mutex<()> = Mutex::new(());

    pub(in crate::init) fn serial() -> MutexGuard<'static, ()> {
        let turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(wait_for_teardowns(LIMIT), "an earlier test left teardowns");
        turn
    }

    /// What a job saw when it ran.
    #[derive(Debug)]
    struct Ran {
        thread: ThreadId,
        thread_name: Option<String>,
        /// `held_by_current_thread()` from inside the job's lifecycle call.
        in_window: bool,
        /// Whether the test had let go of the lock by then.
        after_release: bool,
    }

    fn reporting(
        report: mpsc::Sender<Ran>,
        released: Arc<AtomicBool>,
    ) -> impl for<'w> FnOnce(WindowToken<'w>) + Send + 'static {
        move |token: WindowToken<'_>| {
            let current = thread::current();
            let _ = report.send(Ran {
                thread: current.id(),
                thread_name: current.name().map(str::to_owned),
                in_window: token
                    .lifecycle("testCall", held_by_current_thread)
                    .unwrap_or(false),
                after_release: released.load(SeqCst),
            });
        }
    }

    /// Calls `destroy_in_window` on another thread and fails unless it returns within `LIMIT`.
    fn destroy_elsewhere(job: impl for<'w> FnOnce(WindowToken<'w>) + Send + 'static) {
        let (done, returned) = mpsc::channel();
        let caller = thread::spawn(move || {
            destroy_in_window("test objects", job);
            let _ = done.send(());
        });
        returned
            .recv_timeout(LIMIT)
            .expect("destroy_in_window must return while another thread holds the lock");
        caller.join().expect("the caller did not panic");
    }

    #[test]
    fn with_the_lock_free_the_job_runs_inline_with_a_token() {
        let _turn = serial();
        let deferred = init_lock_stats().deferred_teardowns;
        let (report, ran) = mpsc::channel();
        destroy_in_window("test objects", reporting(report, Arc::default()));
        let ran = ran
            .try_recv()
            .expect("ran before destroy_in_window returned");
        assert_eq!(ran.thread, thread::current().id(), "{ran:?}");
        assert!(ran.in_window, "{ran:?}");
        assert!(!held_by_current_thread(), "the window it opened is closed");
        assert_eq!(init_lock_stats().deferred_teardowns, deferred);
    }

    #[test]
    fn inside_a_window_on_the_same_thread_the_job_runs_inline() {
        let _turn = serial();
        let deferred = init_lock_stats().deferred_teardowns;
        let guard = CudaInitGuard::acquire_timeout(LIMIT).expect("acquired");
        let (report, ran) = mpsc::channel();
        destroy_in_window("test objects", reporting(report, Arc::default()));
        let ran = ran
            .try_recv()
            .expect("ran before destroy_in_window returned");
        assert_eq!(ran.thread, thread::current().id(), "{ran:?}");
        assert!(ran.in_window, "{ran:?}");
        assert!(
            held_by_current_thread(),
            "the caller's window is still open"
        );
        drop(guard);
        assert_eq!(init_lock_stats().deferred_teardowns, deferred);
    }

    #[test]
    fn with_the_lock_held_elsewhere_the_job_is_deferred_to_the_reaper_inside_a_window() {
        let _turn = serial();
        let deferred = init_lock_stats().deferred_teardowns;
        let released = Arc::new(AtomicBool::new(false));
        let (report, ran) = mpsc::channel();

        let guard = CudaInitGuard::acquire_timeout(LIMIT).expect("acquired");
        destroy_elsewhere(reporting(report, released.clone()));
        assert!(
            ran.try_recv().is_err(),
            "the job ran while the lock was held"
        );
        assert_eq!(pending_teardowns(), 1);
        let asked = Instant::now();
        assert!(
            !wait_for_teardowns(LIMIT),
            "it cannot drain inside a window"
        );
        assert!(asked.elapsed() < LIMIT / 2, "and says so at once");
        assert_eq!(init_lock_stats().deferred_teardowns, deferred + 1);

        released.store(true, SeqCst);
        drop(guard);
        assert!(wait_for_teardowns(LIMIT), "the reaper drained the queue");
        let ran = ran.try_recv().expect("the job ran");
        assert_eq!(ran.thread_name.as_deref(), Some("nvcodec-guard-reaper"));
        assert_ne!(ran.thread, thread::current().id());
        assert!(ran.in_window, "{ran:?}");
        assert!(ran.after_release, "ran before the holder released: {ran:?}");
        assert_eq!(pending_teardowns(), 0);
    }

    #[test]
    fn a_panicking_job_wedges_neither_the_lock_nor_the_reaper() {
        let _turn = serial();
        let panicky = |_: WindowToken<'_>| panic!("deliberate panic in a teardown (expected)");

        // Inline: the panic is contained and the window closed.
        destroy_in_window("test objects", panicky);
        assert!(!held_by_current_thread());

        // On the reaper.
        let guard = CudaInitGuard::acquire_timeout(LIMIT).expect("acquired");
        destroy_elsewhere(panicky);
        drop(guard);
        assert!(wait_for_teardowns(LIMIT), "the panicking job finished");

        // A later deferred job still runs, and the lock is free after it.
        let released = Arc::new(AtomicBool::new(false));
        let (report, ran) = mpsc::channel();
        let guard = CudaInitGuard::acquire_timeout(LIMIT).expect("not wedged by the panic");
        destroy_elsewhere(reporting(report, released.clone()));
        released.store(true, SeqCst);
        drop(guard);
        assert!(wait_for_teardowns(LIMIT), "the reaper survived the panic");
        let ran = ran.try_recv().expect("the later job ran");
        assert!(ran.in_window && ran.after_release, "{ran:?}");
        CudaInitGuard::acquire_timeout(LIMIT)
            .expect("the lock is free")
            .release();
    }

    /// Defers `jobs` trivial teardowns while the test holds the lock, lets the reaper queue
    /// for it, then starts a creator (a normal acquire) and releases: returns who got the
    /// lock first, the reaper ("teardown") or the creator.
    fn who_goes_first(jobs: usize) -> &'static str {
        let order = Arc::new(Mutex::new(Vec::new()));
        let guard = CudaInitGuard::acquire_timeout(LIMIT).expect("acquired");
        for _ in 0..jobs {
            let order = order.clone();
            destroy_elsewhere(move |_: WindowToken<'_>| {
                order
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push("teardown");
            });
        }
        thread::sleep(Duration::from_millis(100)); // the reaper is queued by now
        let creator = {
            let order = order.clone();
            thread::spawn(move || {
                let window = CudaInitGuard::acquire_timeout(LIMIT).expect("creator");
                order
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push("creator");
                drop(window);
            })
        };
        while crate::init::lock::INIT_LOCK.waiting_now() == 0 {
            thread::yield_now();
        }
        drop(guard);
        creator.join().expect("creator");
        assert!(wait_for_teardowns(LIMIT));
        let order = order.lock().unwrap_or_else(PoisonError::into_inner);
        order.first().copied().unwrap_or("nobody")
    }

    #[test]
    fn a_deferred_teardown_waits_behind_a_creator_that_came_later() {
        let _turn = serial();
        assert_eq!(who_goes_first(1), "creator");
    }

    #[test]
    fn past_the_bound_teardown_goes_ahead_of_creators() {
        let _turn = serial();
        assert_eq!(who_goes_first(MAX_YIELDING_TEARDOWNS + 1), "teardown");
    }
}
