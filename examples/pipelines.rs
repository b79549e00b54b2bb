//! The scenario this crate exists for: N transcoding pipelines start at the same moment,
//! each building its decoder through the init lock and decoding.
//!
//! ```text
//! cargo run --release --example pipelines [--pool] [N=8] [FILE]
//! ```
//! Prints, per pipeline, how long it waited for the lock, how long it held it, its time to
//! first frame and its decode rate; then the lock's stats, which must show at most one init
//! window open at a time. With `--pool`, a [`DecoderPool`] is pre-warmed with N decoders
//! first (not timed) and each pipeline checks one out instead of building it: the start-up a
//! server gets once its pool is warm.

use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use nvcodec_guard::decode::{
    Decoder, DecoderBuilder, DecoderConfig, DecoderPool, DecoderSpec, PoolConfig,
};
use nvcodec_guard::init::{WindowTiming, init_lock_stats};
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

fn pipeline(
    stream: &mut ElementaryStream,
    start: Instant,
    pool: Option<&DecoderPool>,
) -> nvcodec_guard::Result<Report> {
    match pool {
        Some(pool) => {
            let mut decoder = pool.checkout(spec(&*stream))?;
            decode_all(&mut decoder, stream, start, WindowTiming::default())
        }
        None => {
            let mut config = DecoderConfig::new(stream.codec());
            if let Some((w, h)) = stream.dimensions() {
                config = config.with_max_size(w, h);
            }
            let mut decoder = DecoderBuilder::new(config).build()?;
            let window = decoder.init_window();
            decode_all(&mut decoder, stream, start, window)
        }
    }
}

fn decode_all(
    decoder: &mut Decoder,
    stream: &mut ElementaryStream,
    start: Instant,
    window: WindowTiming,
) -> nvcodec_guard::Result<Report> {
    let mut first_frame = None;
    let mut frames = 0u64;
    let decode_start = Instant::now();
    while let Some(packet) = stream.next_packet()? {
        for frame in decoder.decode(packet.data, packet.pts)? {
            drop(frame?);
            first_frame.get_or_insert_with(|| start.elapsed());
            frames += 1;
        }
    }
    for frame in decoder.flush()? {
        drop(frame?);
        first_frame.get_or_insert_with(|| start.elapsed());
        frames += 1;
    }
    Ok(Report {
        window,
        first_frame: first_frame.unwrap_or_default(),
        frames,
        decode_time: decode_start.elapsed(),
    })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let use_pool = args.next_if(|a| a == "--pool").is_some();
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 8,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: pipelines [--pool] [N] [FILE]");
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
    let pool = if use_pool {
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
    let barrier = Arc::new(Barrier::new(n));
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (path, barrier, pool) = (Arc::clone(&path), Arc::clone(&barrier), pool.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut stream = ElementaryStream::open(path.as_ref())?;
                pipeline(&mut stream, start, pool.as_ref())
            })
        })
        .collect();
    println!("pipeline  lock wait ms  lock hold ms  first frame ms  frames      fps");
    let mut failed = false;
    let mut waits = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.join() {
            Ok(Ok(r)) => {
                waits.push(r.window.wait.as_secs_f64() * 1e3);
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
    nvcodec_guard::init::wait_for_teardowns(std::time::Duration::from_secs(120));
    let stats = init_lock_stats();
    waits.sort_by(f64::total_cmp);
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
    if failed || stats.max_concurrent_windows > 1 || stats.max_concurrent_lifecycle_calls > 1 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
