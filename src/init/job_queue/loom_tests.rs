//! Model check of the teardown queue: every interleaving loom finds, up to its preemption
//! bound (`LOOM_MAX_PREEMPTIONS`, 2 in `.ci/run`), of producers pushing, the worker taking
//! and finishing jobs, and a drain waiter.
//!
//! Each model checks, in every interleaving:
//! - every job runs exactly once (a bit per job, set once);
//! - `wait_drained` returns only when every job pushed before it was called has finished;
//! - no lost wake-up: a worker or a drain waiter blocked forever is a deadlock, which loom
//!   reports (loom's `wait_timeout` never times out, so a timed wait counts as well).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --lib --release loom`.

use std::sync::atomic::Ordering::SeqCst;

use loom::sync::Arc;
use loom::sync::atomic::AtomicUsize;
use loom::thread;

use super::*;

/// The worker's loop, as the reaper runs it, for `jobs` jobs: wait for work, take and run
/// jobs until the queue is empty, again.
fn work(queue: &JobQueue<usize>, ran: &AtomicUsize, jobs: usize) {
    let mut done = 0;
    while done < jobs {
        queue.wait_for_jobs();
        while let Some((job, (), taken)) = queue.take(|_| ()) {
            let bit = 1 << job;
            assert_eq!(ran.fetch_or(bit, SeqCst) & bit, 0, "job {job} ran twice");
            drop(taken);
            done += 1;
        }
    }
}

#[test]
fn loom_every_job_runs_once_and_a_drain_waits_for_all() {
    loom::model(|| {
        let queue = Arc::new(JobQueue::<usize>::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (queue, ran) = (queue.clone(), ran.clone());
            thread::spawn(move || work(&queue, &ran, 2))
        };
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || {
                assert!(queue.push(1, || true).is_ok());
            })
        };
        assert!(queue.push(0, || true).is_ok());
        producer.join().unwrap();
        assert!(queue.wait_drained(|| Wait::Forever), "drained");
        assert_eq!(
            ran.load(SeqCst),
            0b11,
            "a drain returned before a job finished"
        );
        assert_eq!(queue.pending(), 0);
        worker.join().unwrap();
    });
}

#[test]
fn loom_a_drain_racing_a_running_job_waits_for_it() {
    loom::model(|| {
        let queue = Arc::new(JobQueue::<usize>::new());
        let ran = Arc::new(AtomicUsize::new(0));
        assert!(queue.push(0, || true).is_ok());
        let worker = {
            let (queue, ran) = (queue.clone(), ran.clone());
            thread::spawn(move || work(&queue, &ran, 1))
        };
        let drainer = {
            let (queue, ran) = (queue.clone(), ran.clone());
            thread::spawn(move || {
                assert!(queue.wait_drained(|| Wait::Forever));
                assert_eq!(
                    ran.load(SeqCst),
                    1,
                    "returned with the job queued or running"
                );
            })
        };
        drainer.join().unwrap();
        worker.join().unwrap();
    });
}

#[test]
fn loom_the_worker_is_started_once_and_a_failed_start_hands_the_job_back() {
    loom::model(|| {
        let queue = Arc::new(JobQueue::<usize>::new());
        let starts = Arc::new(AtomicUsize::new(0));
        let pusher = |job: usize, succeed: bool| {
            let (queue, starts) = (queue.clone(), starts.clone());
            thread::spawn(move || {
                let pushed = queue.push(job, || {
                    starts.fetch_add(1, SeqCst);
                    succeed
                });
                (pushed.is_ok(), pushed.err())
            })
        };
        let failing = pusher(0, false);
        let working = pusher(1, true);
        let (failed_ok, handed_back) = failing.join().unwrap();
        let (worked_ok, _) = working.join().unwrap();
        assert!(worked_ok, "a push whose start succeeds is queued");
        let starts = starts.load(SeqCst);
        if failed_ok {
            // The working push started the worker first; the other did not start one.
            assert_eq!(starts, 1);
        } else {
            assert_eq!(handed_back, Some(0), "the job is handed back");
            assert_eq!(starts, 2, "the failed start did not count as started");
        }
        assert_eq!(queue.pending(), if failed_ok { 2 } else { 1 });
    });
}
