//! A short-clip server in miniature: a pool is pre-warmed once at start-up, then worker
//! threads take clips from a queue, each decoded by a decoder checked out of the pool and
//! returned (reset) for the next clip — no decoder is built or destroyed per clip.
//!
//! ```text
//! cargo run --release --example clip_server [WORKERS=4] [JOBS=40] [FILE...]
//! ```
//! Prints each job's latency (checkout to last frame) and the pool's counters at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use nvcodec_guard::decode::{DecoderPool, DecoderSpec, PoolConfig};
use nvcodec_guard::input::ElementaryStream;

#[path = "support/clip.rs"]
mod clip;

/// Decodes one clip through a pooled decoder; returns its frame count.
fn serve(pool: &DecoderPool, path: &PathBuf) -> nvcodec_guard::Result<u64> {
    let mut stream = ElementaryStream::open(path)?;
    let (w, h) = stream.dimensions().unwrap_or((1920, 1080));
    let mut decoder = pool.checkout(DecoderSpec::new(stream.codec(), w, h))?;
    let mut frames = 0;
    while let Some(packet) = stream.next_packet()? {
        for frame in decoder.decode(packet.data, packet.pts)? {
            drop(frame?); // a real server would hand the frame to inference or an encoder
            frames += 1;
        }
    }
    for frame in decoder.flush()? {
        drop(frame?);
        frames += 1;
    }
    Ok(frames) // the decoder goes back to the pool here
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let jobs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let mut clips: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if clips.is_empty() {
        match clip::clip_path(None) {
            Ok(path) => clips.push(path),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let pool = DecoderPool::new(PoolConfig::default().with_max_total(workers));
    let first = match ElementaryStream::open(&clips[0]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (w, h) = first.dimensions().unwrap_or((1920, 1080));
    let warm = Instant::now();
    if let Err(e) = pool.prewarm(DecoderSpec::new(first.codec(), w, h), workers) {
        eprintln!("error: {e}");
        if matches!(e, nvcodec_guard::Error::LibraryNotFound { .. }) {
            eprintln!("This example needs an NVIDIA GPU with its driver installed.");
        }
        return ExitCode::FAILURE;
    }
    println!(
        "pool pre-warmed with {workers} decoders in {:.3} s",
        warm.elapsed().as_secs_f64()
    );

    let (tx, rx) = mpsc::channel::<(usize, PathBuf)>();
    for job in 0..jobs {
        tx.send((job, clips[job % clips.len()].clone())).ok();
    }
    drop(tx);
    let rx = Arc::new(Mutex::new(rx));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (rx, pool) = (Arc::clone(&rx), pool.clone());
            thread::spawn(move || {
                let mut failed = false;
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok((job, path))) = next else { break };
                    let t = Instant::now();
                    match serve(&pool, &path) {
                        Ok(frames) => println!(
                            "job {job:>4}: {frames:>4} frames in {:>7.1} ms ({})",
                            t.elapsed().as_secs_f64() * 1e3,
                            path.display()
                        ),
                        Err(e) => {
                            println!("job {job:>4}: error: {e}");
                            failed = true;
                        }
                    }
                }
                failed
            })
        })
        .collect();
    let failed = handles.into_iter().any(|h| h.join().unwrap_or(true));
    println!(
        "{jobs} jobs in {:.3} s; pool: {:?}",
        start.elapsed().as_secs_f64(),
        pool.stats()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
