//! A test driver for the MP4 [`Demux`] (the contract's checks built in), shared by the unit
//! tests and the fuzz target (`fuzz/fuzz_targets/mp4.rs`, built with `--cfg fuzzing`).
//!
//! Invariant: [`drive`] panics on any breach of the `Demux` contract (a `NeedMore` that asks
//! for no more than it was given, past `max_window`, or after `eof`) and otherwise returns
//! what the parser gave; [`fuzz_demux`] adds: whole-file and chunked feeding agree, and the
//! parser's heap stays within its documented bound.

use super::*;
use crate::container::{EXPANSION_SLACK, MAX_EXPANSION};
use crate::demux::Demux;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a driver saw: packets (bytes, info), the error that ended them, the largest window
/// it held and the parser's largest heap between steps.
#[derive(Debug, Default)]
pub(super) struct Run {
    pub(super) packets: Vec<(Vec<u8>, PacketInfo)>,
    pub(super) error: Option<String>,
    pub(super) largest_window: usize,
    pub(super) largest_heap: usize,
    pub(super) seeks: usize,
    /// The `InputError` variant of `error`.
    pub(super) error_kind: Option<&'static str>,
}

fn kind_of(e: &ReadError) -> &'static str {
    match e {
        ReadError::Input(InputError::Truncated { .. }) => "Truncated",
        ReadError::Input(InputError::Malformed { .. }) => "Malformed",
        ReadError::Input(InputError::Unsupported { .. }) => "Unsupported",
        ReadError::Input(InputError::LimitExceeded { .. }) => "LimitExceeded",
        ReadError::Input(InputError::Internal { .. }) => "Internal",
        _ => "other",
    }
}

/// How the test driver reads its source.
#[derive(Debug, Clone, Copy)]
pub(super) enum Feed {
    /// All remaining bytes at once (as a file in memory).
    Whole,
    /// Random chunks of 1..=max bytes, added only when the parser asks for more.
    Chunks { seed: u64, max: usize },
}

/// A tiny driver of the `Demux` contract: keeps a window of the source from `pos` on, adds
/// bytes on `NeedMore`, drops them on `Consumed`/`Packet`, repositions on `SeekTo` (a
/// backward one is an error when `seekable` is false, as for a pipe).
pub(super) fn drive(bytes: &[u8], feed: Feed, seekable: bool) -> Run {
    drive_from(&mut Mp4Demux::new(), bytes, 0, feed, seekable, usize::MAX)
}

pub(super) fn drive_from(
    parser: &mut Mp4Demux,
    bytes: &[u8],
    start: u64,
    feed: Feed,
    seekable: bool,
    max_packets: usize,
) -> Run {
    let mut run = Run::default();
    let mut rng = match feed {
        Feed::Chunks { seed, .. } => Rng(seed | 1),
        Feed::Whole => Rng(1),
    };
    let mut pos = start;
    let mut window: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let fill = |window: &mut Vec<u8>, pos: u64, rng: &mut Rng, at_least: usize| {
        let from = usize::try_from(pos).unwrap_or(usize::MAX);
        loop {
            let have = from.saturating_add(window.len());
            if have >= bytes.len() || window.len() >= at_least {
                break;
            }
            let n = match feed {
                Feed::Whole => bytes.len() - have,
                Feed::Chunks { max, .. } => 1 + rng.below(max),
            };
            let end = have.saturating_add(n).min(bytes.len());
            window.extend_from_slice(&bytes[have..end]);
        }
    };
    fill(&mut window, pos, &mut rng, 0);
    let mut steps = 0usize;
    loop {
        steps += 1;
        assert!(steps < 10_000_000, "driver: no end");
        let from = usize::try_from(pos).unwrap_or(usize::MAX);
        let eof = from.saturating_add(window.len()) >= bytes.len();
        let step = parser.step(&window, pos, eof, &mut out);
        run.largest_window = run.largest_window.max(window.len());
        run.largest_heap = run.largest_heap.max(parser.heap_bytes());
        match step {
            Err(e) => {
                run.error = Some(e.to_string());
                run.error_kind = Some(kind_of(&e));
                return run;
            }
            Ok(Step::NeedMore(n)) => {
                assert!(!eof, "NeedMore after eof");
                assert!(
                    n > window.len(),
                    "NeedMore({n}) with {} bytes",
                    window.len()
                );
                assert!(n <= parser.max_window(), "NeedMore({n}) over max_window");
                fill(&mut window, pos, &mut rng, n);
            }
            Ok(Step::Consumed(n)) => {
                window.drain(..n);
                pos += n as u64;
            }
            Ok(Step::SeekTo(to)) => {
                run.seeks += 1;
                if to < pos && !seekable {
                    run.error = Some(format!("cannot seek back to {to} from {pos}"));
                    return run;
                }
                window.clear();
                // A source in memory stops at its end (as the crate's own driver does); a
                // file or socket reports the offset asked for, then the end.
                pos = match feed {
                    Feed::Whole => to.min(bytes.len() as u64),
                    Feed::Chunks { .. } => to,
                };
            }
            Ok(Step::Packet { consumed, info }) => {
                window.drain(..consumed);
                pos += consumed as u64;
                run.packets.push((out.clone(), info));
                if run.packets.len() >= max_packets {
                    return run;
                }
            }
            Ok(Step::End) => return run,
        }
        if window.is_empty() || matches!(feed, Feed::Whole) {
            fill(&mut window, pos, &mut rng, 0);
        }
    }
}

/// The fuzz target's body: demuxes `data` whole, in chunks (sizes drawn from a seed in the
/// data's last byte) and through a source that cannot seek back, and panics if the results
/// disagree or a bound is broken. Never panics on input alone: a panic is a bug.
#[cfg_attr(not(fuzzing), allow(dead_code))]
pub fn fuzz_demux(data: &[u8]) {
    let seed = u64::from(data.last().copied().unwrap_or(0)) + 1;
    let whole = drive(data, Feed::Whole, true);
    let chunked = drive(
        data,
        Feed::Chunks {
            seed,
            max: 1 + (seed as usize * 37) % 4096,
        },
        true,
    );
    assert!(
        chunked.packets == whole.packets,
        "chunked feeding gave other packets"
    );
    assert_eq!(
        chunked.error.is_some(),
        whole.error.is_some(),
        "chunked: {:?}, whole: {:?}",
        chunked.error,
        whole.error
    );
    // A source that cannot seek back gives a prefix of the same packets.
    let forward = drive(
        data,
        Feed::Chunks {
            seed: seed + 1,
            max: 512,
        },
        false,
    );
    assert!(
        whole.packets.starts_with(&forward.packets),
        "forward-only feeding gave other packets"
    );
    assert_ne!(whole.error_kind, Some("Internal"), "{:?}", whole.error);
    // Heap: the index (20 B a sample, samples bounded by the bytes read plus the allowance),
    // tables (at most 4x their bytes with growth), fragment runs (under 8x their bytes).
    let bound = 32usize
        .saturating_mul(data.len())
        .saturating_add(SampleIndex::BYTES_PER_SAMPLE * 2 * SAMPLE_ALLOWANCE as usize)
        .saturating_add(1 << 20);
    assert!(
        whole.largest_heap <= bound && chunked.largest_heap <= bound,
        "heap {} / {} over {bound} for {} bytes",
        whole.largest_heap,
        chunked.largest_heap,
        data.len()
    );
    for (packet, _) in &whole.packets {
        assert!(
            packet.len()
                <= MAX_EXPANSION * data.len()
                    + 2 * super::boxes::MAX_CONFIG_RECORD
                    + EXPANSION_SLACK,
            "a {}-byte packet from {} bytes",
            packet.len(),
            data.len()
        );
    }
}
