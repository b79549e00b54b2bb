//! The scenario this crate exists for: N transcoding pipelines start at the same moment,
//! each building its decoder through the init lock and decoding.
//!
//! ```text
//! cargo run --release --example pipelines [--pool | --keep | --first-frame-only | --drop-when-done
//!     | --churn SECS]
//!     [N=8] [FILE]
//! ```
//! CUDA is initialized before the clock starts (as in the PyNvVideoCodec yardstick's process).
//! Prints, per pipeline, how long it waited for the lock, how long it held it, its time to
//! first frame and its decode rate; then the lock's stats, which must show at most one init
//! window open at a time; then one JSON line (`{"mode":"pipelines",...}`) for scripts.
//!
//! - `--drop-when-done` (the default): each pipeline decodes the whole clip and drops its
//!   decoder as soon as it is done, so with a short decode, streams end (and their decoders'
//!   destroys enter the lock's queue) while others still start. `last_first_frame_s` is the
//!   figure to compare (BENCHMARKS.md).
//! - `--keep`: every decoder is kept until all pipelines have their first frame: the start-up
//!   without any destroy in the way (the decoders-kept figure).
//! - `--first-frame-only`: each pipeline stops decoding at its first frame and keeps its decoder
//!   until all have theirs: the workload of the PyNvVideoCodec yardstick
//!   (`bench/pynv_coldstart_gpus.py`), for a like-for-like comparison.
//! - `PIPELINES_GIVEN_STREAM=1` (any mode): each decoder gets a stream created outside the init
//!   lock instead of creating its own in the window, to see what the window costs.
//! - `--pool`: a [`DecoderPool`] is pre-warmed with N decoders first (not timed) and each
//!   pipeline checks one out instead of building it: the start-up a server gets once its pool
//!   is warm.
//! - `--churn SECS`: each pipeline builds a decoder, decodes the first 60 frames, drops it, and
//!   starts over, for SECS seconds; free device memory and queued teardowns are sampled every
//!   250 ms. The JSON line reports the creations, the most teardowns queued, and the device
//!   memory used at most in the first and in the last 10 s (flat memory: about equal).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{
    Decoder, DecoderBuilder, DecoderConfig, DecoderPool, DecoderSpec, PoolConfig,
};
use nvcodec_guard::init::{CudaInitGuard, WindowTiming, init_lock_stats, pending_teardowns};
use nvcodec_guard::input::ElementaryStream;

#[path = "support/clip.rs"]
mod clip;

struct Report {
    window: WindowTiming,
    first_frame: Duration,
    frames: u64,
    decode_time: Duration,
}

fn spec(stream: &ElementaryStream) -> DecoderSpec {
    let (w, h) = stream.dimensions().unwrap_or((1920, 1080));
    DecoderSpec::new(stream.codec(), w, h)
}

/// When each pipeline drops its decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As soon as its clip is decoded.
    DropWhenDone,
    /// Once every pipeline has its first frame.
    Keep,
    /// Stop decoding at the first frame; drop once every pipeline has its first frame (the
    /// PyNvVideoCodec yardstick's workload, `bench/pynv_coldstart_gpus.py`).
    FirstFrameOnly,
    /// Checked out of a pre-warmed pool; returned when done.
    Pool,
    /// Build, decode 60 frames, drop, again, for this long.
    Churn(Duration),
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::DropWhenDone => "drop-when-done",
            Mode::Keep => "keep",
            Mode::FirstFrameOnly => "first-frame-only",
            Mode::Pool => "pool",
            Mode::Churn(_) => "churn",
        }
    }
}

/// Counts pipelines that have their first frame; `--keep` waits on it before dropping.
#[derive(Default)]
struct FirstFrames {
    count: Mutex<usize>,
    all: Condvar,
}

impl FirstFrames {
    fn arrived(&self) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *count += 1;
        self.all.notify_all();
    }

    fn wait_for(&self, n: usize) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count < n {
            count = self.all.wait(count).unwrap_or_else(|e| e.into_inner());
        }
    }
}

struct Shared {
    path: Arc<std::path::PathBuf>,
    start: Instant,
    pool: Option<DecoderPool>,
    mode: Mode,
    n: usize,
    first_frames: FirstFrames,
    creations: AtomicU64,
}

fn build(stream: &ElementaryStream) -> nvcodec_guard::Result<Decoder> {
    let mut config = DecoderConfig::new(stream.codec());
    if let Some((w, h)) = stream.dimensions() {
        config = config.with_max_size(w, h);
    }
    if std::env::var("PIPELINES_GIVEN_STREAM").as_deref() == Ok("1") {
        config = config.with_frame_stream(given_stream());
    }
    DecoderBuilder::new(config).build()
}

/// `PIPELINES_GIVEN_STREAM=1`: each decoder is given a non-blocking stream created on its
/// pipeline's thread before the build (outside the init lock), instead of creating its own
/// inside the init window; an experiment on what an init window costs. Never destroyed.
fn given_stream() -> nvcodec_guard::decode::FrameStream {
    use cudarc::driver::sys;
    let mut ctx: sys::CUcontext = std::ptr::null_mut();
    let mut stream: sys::CUstream = std::ptr::null_mut();
    // SAFETY: plain driver calls with live out-pointers; CUDA was initialized and device 0's
    // primary context retained before the clock (`main`), and is retained here once more for
    // the process's life, so the stream stays valid in the context every decoder uses.
    let ok = unsafe {
        sys::cuDevicePrimaryCtxRetain(&mut ctx, 0) == sys::CUresult::CUDA_SUCCESS
            && sys::cuCtxSetCurrent(ctx) == sys::CUresult::CUDA_SUCCESS
            && sys::cuStreamCreate(
                &mut stream,
                sys::CUstream_flags::CU_STREAM_NON_BLOCKING as u32,
            ) == sys::CUresult::CUDA_SUCCESS
    };
    assert!(ok && !stream.is_null(), "creating a stream failed");
    // SAFETY: as above; the stream outlives every decoder of the process.
    unsafe { nvcodec_guard::decode::FrameStream::from_raw(stream) }
}

fn pipeline(shared: &Shared) -> nvcodec_guard::Result<Report> {
    // Each pipeline reads the file itself, incrementally, as a server would.
    let mut stream = ElementaryStream::open(shared.path.as_ref())?;
    let stream = &mut stream;
    match (&shared.pool, shared.mode) {
        (Some(pool), _) => {
            let mut decoder = pool.checkout(spec(stream))?;
            decode_all(&mut decoder, stream, shared, WindowTiming::default(), None)
        }
        (None, Mode::Churn(length)) => {
            let mut first = None;
            let mut frames = 0;
            let decode_start = Instant::now();
            while shared.start.elapsed() < length {
                let mut decoder = build(stream)?;
                shared.creations.fetch_add(1, Ordering::Relaxed);
                let window = decoder.init_window();
                stream.rewind()?;
                let report = decode_all(&mut decoder, stream, shared, window, Some(60))?;
                frames += report.frames;
                first.get_or_insert(report);
                // The decoder drops here, while the other pipelines keep creating.
            }
            let first = first.unwrap_or(Report {
                window: WindowTiming::default(),
                first_frame: Duration::ZERO,
                frames: 0,
                decode_time: Duration::ZERO,
            });
            Ok(Report {
                frames,
                decode_time: decode_start.elapsed(),
                ..first
            })
        }
        (None, mode) => {
            let mut decoder = build(stream)?;
            shared.creations.fetch_add(1, Ordering::Relaxed);
            let window = decoder.init_window();
            let limit = (mode == Mode::FirstFrameOnly).then_some(1);
            let report = decode_all(&mut decoder, stream, shared, window, limit);
            if matches!(mode, Mode::Keep | Mode::FirstFrameOnly) {
                shared.first_frames.wait_for(shared.n);
            }
            report // `--drop-when-done`: the decoder drops right here
        }
    }
}

fn decode_all(
    decoder: &mut Decoder,
    stream: &mut ElementaryStream,
    shared: &Shared,
    window: WindowTiming,
    limit: Option<u64>,
) -> nvcodec_guard::Result<Report> {
    let mut first_frame = None;
    let mut frames = 0u64;
    let decode_start = Instant::now();
    let mut seen = |frames: &mut u64| {
        if first_frame.is_none() {
            first_frame = Some(shared.start.elapsed());
            shared.first_frames.arrived();
        }
        *frames += 1;
    };
    'packets: while let Some(packet) = stream.next_packet()? {
        for frame in decoder.decode(packet.data, packet.pts)? {
            drop(frame?);
            seen(&mut frames);
        }
        if limit.is_some_and(|limit| frames >= limit) {
            break 'packets;
        }
    }
    for frame in decoder.flush()? {
        drop(frame?);
        seen(&mut frames);
    }
    Ok(Report {
        window,
        first_frame: first_frame.unwrap_or_default(),
        frames,
        decode_time: decode_start.elapsed(),
    })
}

/// Device memory in use (total − free) and queued teardowns, sampled every 250 ms.
#[derive(Debug, Default)]
struct Samples {
    /// (seconds since start, bytes used, teardowns queued)
    points: Vec<(f64, u64, usize)>,
}

impl Samples {
    fn max_used_between(&self, from: f64, to: f64) -> u64 {
        self.points
            .iter()
            .filter(|(t, _, _)| *t >= from && *t < to)
            .map(|(_, used, _)| *used)
            .max()
            .unwrap_or(0)
    }

    fn max_pending(&self) -> usize {
        self.points.iter().map(|(_, _, p)| *p).max().unwrap_or(0)
    }
}

fn sample(
    context: &Context,
    start: Instant,
    stop: &AtomicBool,
    max_pending: &AtomicUsize,
) -> Samples {
    let mut samples = Samples::default();
    while !stop.load(Ordering::Relaxed) {
        let pending = pending_teardowns();
        max_pending.fetch_max(pending, Ordering::Relaxed);
        if let Ok((free, total)) = context.memory_info() {
            let used = (total as u64).saturating_sub(free as u64);
            samples
                .points
                .push((start.elapsed().as_secs_f64(), used, pending));
        }
        thread::sleep(Duration::from_millis(250));
    }
    samples
}

const USAGE: &str =
    "usage: pipelines [--pool | --keep | --drop-when-done | --churn SECS] [N] [FILE]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let mode = match args.peek().map(String::as_str) {
        Some("--pool") => Mode::Pool,
        Some("--keep") => Mode::Keep,
        Some("--first-frame-only") => Mode::FirstFrameOnly,
        Some("--drop-when-done") => Mode::DropWhenDone,
        Some("--churn") => {
            args.next();
            match args.peek().map(|a| a.parse::<u64>()) {
                Some(Ok(secs)) if secs > 0 => Mode::Churn(Duration::from_secs(secs)),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
        Some(flag) if flag.starts_with("--") => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        _ => Mode::DropWhenDone,
    };
    if args
        .peek()
        .is_some_and(|a| a.starts_with("--") || matches!(mode, Mode::Churn(_)))
    {
        args.next(); // the mode's flag, or `--churn`'s SECS
    }
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 8,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let path = match clip::clip_path(args.next()) {
        Ok(path) => Arc::new(path),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Opened once here for the codec and size; each pipeline reads the file itself.
    let stream = match ElementaryStream::open(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pool = if mode == Mode::Pool {
        let pool = DecoderPool::new(PoolConfig::default());
        let warm = Instant::now();
        if let Err(e) = pool.prewarm(spec(&stream), n) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        println!(
            "pool pre-warmed with {n} decoders in {:.3} s",
            warm.elapsed().as_secs_f64()
        );
        Some(pool)
    } else {
        None
    };
    // CUDA is initialized and the primary context retained before the clock starts (a few
    // tenths of a second), as in the PyNvVideoCodec process it is compared with: what is timed
    // is the pipelines' start, not the driver's. Churn also samples device memory through it.
    let context = CudaInitGuard::acquire()
        .and_then(|guard| Context::acquire(&guard, 0, ContextMode::SharedPrimary));
    let context = match context {
        Ok(context) => context,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let memory_context = matches!(mode, Mode::Churn(_)).then_some(context);
    let barrier = Arc::new(Barrier::new(n + 1));
    let shared = Arc::new(Shared {
        path: Arc::clone(&path),
        start: Instant::now(),
        pool,
        mode,
        n,
        first_frames: FirstFrames::default(),
        creations: AtomicU64::new(0),
    });
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                pipeline(&shared)
            })
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let max_pending = Arc::new(AtomicUsize::new(0));
    barrier.wait();
    let start = shared.start;
    let sampler = memory_context.map(|context| {
        let (stop, max_pending) = (Arc::clone(&stop), Arc::clone(&max_pending));
        thread::spawn(move || sample(&context, start, &stop, &max_pending))
    });
    println!("pipeline  lock wait ms  lock hold ms  first frame ms  frames      fps");
    let mut failed = false;
    let mut waits = Vec::new();
    let mut first_frames = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.join() {
            Ok(Ok(r)) => {
                waits.push(r.window.wait.as_secs_f64() * 1e3);
                first_frames.push(r.first_frame.as_secs_f64());
                println!(
                    "{i:>8}  {:>12.1}  {:>12.1}  {:>14.1}  {:>6}  {:>7.0}",
                    r.window.wait.as_secs_f64() * 1e3,
                    r.window.hold.as_secs_f64() * 1e3,
                    r.first_frame.as_secs_f64() * 1e3,
                    r.frames,
                    r.frames as f64 / r.decode_time.as_secs_f64().max(1e-9),
                )
            }
            Ok(Err(e)) => {
                failed = true;
                println!("{i:>8}  error: {e}");
                if matches!(e, nvcodec_guard::Error::LibraryNotFound { .. }) {
                    eprintln!("This example needs an NVIDIA GPU with its driver installed.");
                }
            }
            Err(_) => {
                failed = true;
                println!("{i:>8}  panicked");
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // Every teardown (some deferred to the teardown thread) finishes inside the run.
    let drained = nvcodec_guard::init::wait_for_teardowns(Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.and_then(|s| s.join().ok()).unwrap_or_default();
    let stats = init_lock_stats();
    waits.sort_by(f64::total_cmp);
    first_frames.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        waits
            .get(((waits.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "pipeline lock wait ms: p50 {:.1}, p99 {:.1}, max {:.1}",
        pct(0.50),
        pct(0.99),
        waits.last().copied().unwrap_or(0.0)
    );
    println!(
        "wall {wall:.3} s; init lock: {} windows, max concurrent {}, contended {}, max wait {:.1} ms, max hold {:.1} ms; lifecycle calls {}, max in flight {}, deferred teardowns {}",
        stats.windows_opened,
        stats.max_concurrent_windows,
        stats.contended_acquires,
        stats.max_wait.as_secs_f64() * 1e3,
        stats.max_hold.as_secs_f64() * 1e3,
        stats.lifecycle_calls,
        stats.max_concurrent_lifecycle_calls,
        stats.deferred_teardowns,
    );
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let churn = match mode {
        Mode::Churn(length) => {
            let secs = length.as_secs_f64();
            format!(
                ",\"churn_s\":{secs},\"max_pending_teardowns\":{},\"used_mib_max_first_10s\":{:.0},\"used_mib_max_last_10s\":{:.0},\"samples\":{}",
                samples
                    .max_pending()
                    .max(max_pending.load(Ordering::Relaxed)),
                mib(samples.max_used_between(0.0, 10.0)),
                mib(samples.max_used_between(secs - 10.0, secs)),
                samples.points.len(),
            )
        }
        _ => String::new(),
    };
    println!(
        "{{\"mode\":\"pipelines\",\"drop\":\"{}\",\"n\":{n},\"clip\":\"{}\",\"ok\":{},\"last_first_frame_s\":{:.4},\"first_frame_p50_s\":{:.4},\"wall_s\":{wall:.3},\"creations\":{},\"deferred_teardowns\":{},\"teardowns_drained\":{drained},\"max_wait_ms\":{:.1},\"max_hold_ms\":{:.1}{churn}}}",
        mode.name(),
        path.display(),
        !failed,
        first_frames.last().copied().unwrap_or(0.0),
        first_frames
            .get(first_frames.len() / 2)
            .copied()
            .unwrap_or(0.0),
        shared.creations.load(Ordering::Relaxed),
        stats.deferred_teardowns,
        stats.max_wait.as_secs_f64() * 1e3,
        stats.max_hold.as_secs_f64() * 1e3,
    );
    if failed || stats.max_concurrent_windows > 1 || stats.max_concurrent_lifecycle_calls > 1 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
