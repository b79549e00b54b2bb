//! Bad input on the GPU: truncated, bit-flipped, garbage and gapped streams give frames or
//! clear errors — never a crash or a hang — and once the decoders are dropped, device memory
//! returns to its baseline (`cuMemGetInfo`).
//!
//! One test function on purpose: memory readings must not be disturbed by other tests
//! running in parallel in the same process.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats};
use nvcodec_guard::input::ElementaryStream;

const MIB: usize = 1 << 20;

/// A deterministic xorshift generator: failures are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Truncated,
    BitFlipped,
    Garbage,
    EveryThirdPacketDropped,
}

fn damaged_packets(clip: &str, damage: Damage, rng: &mut Rng) -> Vec<(Vec<u8>, i64)> {
    let mut stream = ElementaryStream::open(data(clip)).unwrap();
    let packets: Vec<(Vec<u8>, i64)> = stream
        .packets()
        .map_while(Result::ok)
        .map(|p| (p.data.to_vec(), p.pts))
        .collect();
    match damage {
        Damage::Truncated => {
            // Half the packets, and the last one cut in the middle.
            let mut kept: Vec<_> = packets[..packets.len() / 2].to_vec();
            if let Some(last) = kept.last_mut() {
                last.0.truncate(last.0.len() / 2);
            }
            kept
        }
        Damage::BitFlipped => packets
            .into_iter()
            .map(|(mut data, pts)| {
                for _ in 0..(data.len() / 64).max(1) {
                    let i = (rng.next() as usize) % data.len().max(1);
                    if let Some(b) = data.get_mut(i) {
                        *b ^= 1 << (rng.next() % 8);
                    }
                }
                (data, pts)
            })
            .collect(),
        Damage::Garbage => (0..60)
            .map(|i| {
                let len = 1 + (rng.next() as usize) % 4096;
                ((0..len).map(|_| rng.next() as u8).collect(), i)
            })
            .collect(),
        Damage::EveryThirdPacketDropped => packets
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 1)
            .map(|(_, p)| p)
            .collect(),
    }
}

/// Feeds damaged packets; returns (frames, errors). Panics only on a library panic.
fn feed(clip: &str, damage: Damage, seed: u64) -> (usize, usize, Vec<String>) {
    let mut rng = Rng(seed);
    let packets = damaged_packets(clip, damage, &mut rng);
    let stream = ElementaryStream::open(data(clip)).unwrap();
    let config = config_for(stream.codec(), &stream);
    let mut decoder = match DecoderBuilder::new(config).build() {
        Ok(d) => d,
        Err(e) => return (0, 1, vec![format!("build: {e}")]),
    };
    let (mut frames, mut errors, mut messages) = (0, 0, Vec::new());
    for (data, pts) in &packets {
        match decoder.decode(data, *pts) {
            Ok(ready) => {
                for frame in ready {
                    match frame.and_then(|f| f.to_vec()) {
                        Ok(_) => frames += 1,
                        Err(e) => {
                            errors += 1;
                            messages.push(e.to_string());
                        }
                    }
                }
            }
            Err(e) => {
                errors += 1;
                messages.push(e.to_string());
            }
        }
    }
    match decoder.flush() {
        Ok(ready) => frames += ready.filter_map(Result::ok).count(),
        Err(e) => {
            errors += 1;
            messages.push(e.to_string());
        }
    }
    messages.dedup();
    (frames, errors, messages)
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn damaged_streams_give_frames_or_errors_and_leave_memory_at_baseline() {
    // Warm up: the shared primary context and one decoder's worth of driver state.
    drop(decode_clip("h264_640x360_b3.h264", None, false));
    let guard = CudaInitGuard::acquire().unwrap();
    let ctx = Context::acquire(&guard, 0, ContextMode::SharedPrimary).unwrap();
    drop(guard);
    let (baseline, _) = ctx.memory_info().unwrap();

    let clips = [
        "h264_640x360_b3.h264",
        "hevc_640x360_main10.hevc",
        "vp9_640x360_p0.ivf",
        "vp8_640x360.ivf",
        "mpeg2_320x176.m2v",
    ];
    let damages = [
        Damage::Truncated,
        Damage::BitFlipped,
        Damage::Garbage,
        Damage::EveryThirdPacketDropped,
    ];
    for clip in clips {
        for damage in damages {
            for seed in [1u64, 0x9E37_79B9_7F4A_7C15] {
                let (tx, rx) = mpsc::channel();
                let clip_owned = clip.to_owned();
                let worker = thread::spawn(move || {
                    let result = feed(&clip_owned, damage, seed);
                    let _ = tx.send(result);
                });
                let (frames, errors, messages) = match rx.recv_timeout(Duration::from_secs(30)) {
                    Ok(r) => r,
                    Err(_) => panic!("{clip} {damage:?}: no result within 30 s (hang or panic)"),
                };
                worker.join().expect("no panic");
                eprintln!(
                    "{clip} {damage:?} seed {seed:#x}: {frames} frames, {errors} errors {messages:?}"
                );
                assert!(
                    frames <= 200,
                    "{clip} {damage:?}: {frames} frames from a short clip"
                );
            }
        }
    }
    assert_eq!(init_lock_stats().open_windows, 0);
    assert_eq!(init_lock_stats().max_concurrent_windows, 1);

    // Build and drop decoders repeatedly: nothing accumulates.
    for _ in 0..20 {
        drop(
            DecoderBuilder::new(DecoderConfig::new(nvcodec_guard::Codec::H264))
                .build()
                .unwrap(),
        );
    }
    let (after, _) = ctx.memory_info().unwrap();
    let leaked = baseline.saturating_sub(after);
    eprintln!(
        "device memory: baseline free {} MiB, after {} MiB",
        baseline / MIB,
        after / MIB
    );
    assert!(
        leaked < 16 * MIB,
        "{} MiB not returned to the device",
        leaked / MIB
    );

    // And a clean stream still decodes bit-exact afterwards: no sticky error state.
    let (got, _decoder) = decode_clip("h264_640x360_b3.h264", None, false);
    assert_bit_exact("h264_640x360_b3.h264", &got);
}
