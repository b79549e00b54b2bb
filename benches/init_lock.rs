//! Micro-benchmark of the uncontended init lock: what every session construction pays even
//! when no other thread competes for the window.
//!
//! Run: `cargo bench --bench init_lock`. No tracing subscriber is installed, as in a process
//! that does not collect traces. Besides the two public operations it times the building
//! blocks of the fast path in isolation (clock reads, the tracing span, the atomics, the
//! thread-local flag), so a regression can be attributed without a profiler.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use nvcodec_guard::init::{CudaInitGuard, init_lock_stats};

const WARMUP_ITERS: u32 = 200_000;
const RUNS: usize = 10;
const ITERS: u32 = 1_000_000;
/// The budget for one uncontended acquire + release.
const TARGET_NS: f64 = 100.0;

/// Nanoseconds per call of `op`: median and minimum over `RUNS` runs of `ITERS` calls each.
fn measure(mut op: impl FnMut()) -> (f64, f64) {
    for _ in 0..WARMUP_ITERS {
        op();
    }
    let mut per_op: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ITERS {
                op();
            }
            start.elapsed().as_nanos() as f64 / f64::from(ITERS)
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    let median = (per_op[(RUNS - 1) / 2] + per_op[RUNS / 2]) / 2.0;
    (median, per_op[0])
}

fn row(name: &str, (median, min): (f64, f64)) {
    println!("{name:<52} {median:>9.1} {min:>9.1}");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that quick.
    if std::env::args().any(|a| a == "--test") || cfg!(debug_assertions) {
        let timing = CudaInitGuard::acquire().expect("acquire").release();
        println!("init_lock bench: smoke run only ({timing:?})");
        return;
    }

    println!("CPU: {}", cpu_model());
    println!(
        "{RUNS} runs x {ITERS} iterations after {WARMUP_ITERS} warm-up; no tracing subscriber\n"
    );
    println!("{:<52} {:>9} {:>9}", "operation", "median", "min");
    println!("{:<52} {:>9} {:>9}", "", "ns/op", "ns/op");
    println!("{}", "-".repeat(72));

    let acquire_drop = measure(|| {
        let guard = CudaInitGuard::acquire().expect("uncontended acquire");
        drop(black_box(guard));
    });
    row("CudaInitGuard::acquire() + drop", acquire_drop);

    let acquire_release = measure(|| {
        let guard = CudaInitGuard::acquire().expect("uncontended acquire");
        black_box(black_box(guard).release());
    });
    row("CudaInitGuard::acquire() + release()", acquire_release);

    let timeout_drop = measure(|| {
        let guard =
            CudaInitGuard::acquire_timeout(Duration::from_secs(1)).expect("uncontended acquire");
        drop(black_box(guard));
    });
    row("CudaInitGuard::acquire_timeout(1 s) + drop", timeout_drop);

    println!("{}", "-".repeat(72));
    println!("building blocks of the fast path (reimplemented here, not the crate's code):");

    row(
        "Instant::now()",
        measure(|| {
            black_box(Instant::now());
        }),
    );

    let earlier = Instant::now();
    row(
        "Instant::elapsed()",
        measure(|| {
            black_box(black_box(earlier).elapsed());
        }),
    );

    row(
        "info_span! (3 fields) + drop, no subscriber",
        measure(|| {
            let span = tracing::info_span!(
                "cuda_init_window",
                device = tracing::field::Empty,
                backend = tracing::field::Empty,
                phase = "acquired",
            );
            drop(black_box(span));
        }),
    );

    let span = tracing::info_span!("cuda_init_window", phase = tracing::field::Empty);
    row(
        "Span::record + debug!(parent: span), no subscriber",
        measure(|| {
            let span = black_box(&span);
            span.record("phase", "finished");
            tracing::debug!(parent: span, "init window closed");
        }),
    );

    let state = AtomicU32::new(0);
    row(
        "CAS 0->HELD + CAS HELD->0 (the lock's fast path)",
        measure(|| {
            let taken = black_box(&state)
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
            black_box(taken);
            let given = state
                .compare_exchange(1, 0, Ordering::Release, Ordering::Relaxed)
                .is_ok();
            black_box(given);
        }),
    );

    let open = AtomicU32::new(0);
    let max = AtomicU32::new(1);
    let count = AtomicU64::new(0);
    row(
        "stats: fetch_add + fetch_sub + relaxed loads/stores",
        measure(|| {
            let now_open = black_box(&open).fetch_add(1, Ordering::Relaxed) + 1;
            if now_open > max.load(Ordering::Relaxed) {
                max.fetch_max(now_open, Ordering::Relaxed);
            }
            count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            open.fetch_sub(1, Ordering::Relaxed);
        }),
    );

    thread_local! {
        static FLAG: Cell<bool> = const { Cell::new(false) };
    }
    row(
        "thread-local flag: get + set + set",
        measure(|| {
            black_box(FLAG.with(Cell::get));
            FLAG.with(|f| f.set(black_box(true)));
            FLAG.with(|f| f.set(false));
        }),
    );

    println!("{}", "-".repeat(72));
    let (median, min) = acquire_release;
    let verdict = if median <= TARGET_NS {
        "within"
    } else {
        "OVER"
    };
    println!(
        "acquire + release: median {median:.1} ns, min {min:.1} ns: {verdict} the {TARGET_NS} ns target"
    );

    println!("{}", "-".repeat(72));
    contended(CONTENDERS, WINDOWS_EACH, HOLD);

    let stats = init_lock_stats();
    println!(
        "windows opened: {}, contended: {}, max concurrent: {}",
        stats.windows_opened, stats.contended_acquires, stats.max_concurrent_windows
    );
}

/// Threads competing in the contended run.
const CONTENDERS: usize = 16;
/// Windows each contender opens, back to back.
const WINDOWS_EACH: usize = 100;
/// How long each contended window is held (a sleep, like a driver call).
const HOLD: Duration = Duration::from_micros(200);

/// `threads` threads each open `windows` windows back to back, holding each for `hold`;
/// prints the distribution of the waits. With a FIFO lock a wait is about `threads - 1`
/// windows (each a hold plus one hand-off); an unfair one lets the longest grow without bound.
fn contended(threads: usize, windows: usize, hold: Duration) {
    let start = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                (0..windows)
                    .map(|_| {
                        let guard = CudaInitGuard::acquire().expect("acquire");
                        std::thread::sleep(hold);
                        guard.release()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let timings: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("no contender panicked"))
        .collect();
    let mut waits: Vec<Duration> = timings.iter().map(|t| t.wait).collect();
    waits.sort();
    let pick = |q: f64| waits[((waits.len() - 1) as f64 * q).round() as usize];
    let mean_hold = timings.iter().map(|t| t.hold).sum::<Duration>() / timings.len() as u32;
    println!(
        "contended: {threads} threads x {windows} windows, hold {hold:?} (measured mean {mean_hold:.1?})"
    );
    println!(
        "wait p50 {:.2?}  p99 {:.2?}  max {:.2?}  (max = {:.1} mean holds; {} other threads)",
        pick(0.5),
        pick(0.99),
        pick(1.0),
        pick(1.0).as_secs_f64() / mean_hold.as_secs_f64(),
        threads - 1,
    );
}
