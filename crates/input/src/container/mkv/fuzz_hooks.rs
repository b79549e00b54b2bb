//! A streaming run of the Matroska reader for the fuzzer (`--cfg fuzzing`, as `cargo fuzz`
//! builds) and the unit tests: the bytes fed in chunks whose sizes come from the input, the step
//! contract of [`Demux`] checked at every step, then a seek through whatever index the run
//! produced.
//!
//! Invariant: every check here is an `assert!`, on purpose — this code exists to turn a
//! broken contract (a spin, a `NeedMore` past the window bound or after `eof`, a consumed
//! count past the input, an index outgrowing its bound) into a crash the fuzzer reports.
//! It is compiled only for tests and fuzzing builds, never into the library proper.

use super::MkvDemux;
use crate::demux::{Demux, Step};

/// Runs the reader over `data[1..]` as a streaming driver does; `data[0]` picks the chunk
/// size (1 to 256 bytes, or the whole input for 0) and whether `Cues` are read first.
///
/// # Panics
/// When the reader breaks the [`Demux`] contract or its memory bound (see the module docs).
pub fn fuzz_streaming(data: &[u8]) {
    let Some((&mode, file)) = data.split_first() else {
        return;
    };
    let chunk = if mode == 0 {
        usize::MAX
    } else {
        usize::from(mode)
    };
    let mut parser = if mode & 1 == 1 {
        MkvDemux::new().with_cues_first()
    } else {
        MkvDemux::new()
    };
    let packets = run(&mut parser, file, 0, chunk, usize::MAX);
    let Some(index) = parser.index() else {
        return;
    };
    let len = index.len();
    if len == 0 {
        return;
    }
    let full = parser.blocks_complete;
    let sample = usize::from(mode) % len;
    let Ok(at) = parser.seek_to_sample(sample) else {
        return;
    };
    let after = run(&mut parser, file, at, chunk, 4);
    if full {
        // A seek by the full index lands on exactly that frame: same index and pts as
        // the first run gave it (the bytes read are the same).
        let first = after.first().copied();
        assert_eq!(
            first,
            packets.get(sample).copied(),
            "seek to sample {sample}"
        );
    }
}

/// Runs the reader with `Cues` read first (as over a seekable source) over `data[1..]`, in
/// chunks `data[0]` picks (as [`fuzz_streaming`]): it hands out exactly the frames a reader in
/// file order does, and a seek by each of (up to 16 of) the cue points it read lands on a
/// frame of the file (where the file reads to its end without error).
///
/// # Panics
/// When the two readers disagree, or either breaks the [`Demux`] contract or its memory
/// bound.
pub fn fuzz_cues_first(data: &[u8]) {
    let Some((&mode, file)) = data.split_first() else {
        return;
    };
    let chunk = if mode == 0 {
        usize::MAX
    } else {
        usize::from(mode)
    };
    let mut in_order = MkvDemux::new();
    let plain = run(&mut in_order, file, 0, chunk, usize::MAX);
    let mut cues_first = MkvDemux::new().with_cues_first();
    let first = run(&mut cues_first, file, 0, chunk, usize::MAX);
    assert_eq!(
        first, plain,
        "reading Cues first changed the frames handed out"
    );
    // The frame index is the same; the Cues one may be there only when read first.
    assert_eq!(cues_first.blocks_complete, in_order.blocks_complete);
    if in_order.blocks_complete {
        assert_eq!(
            cues_first.index(),
            in_order.index(),
            "reading Cues first changed the index"
        );
    }
    // A reader stopped at its first frame: its index, if any, is the cue points.
    let mut parser = MkvDemux::new().with_cues_first();
    if run(&mut parser, file, 0, chunk, 1).is_empty() || parser.blocks_complete {
        return;
    }
    let Some(points) = parser.index().map(|i| i.len()) else {
        return;
    };
    for point in (0..points).step_by(points.div_ceil(16).max(1)) {
        let Ok(at) = parser.seek_to_sample(point) else {
            continue;
        };
        let first = run(&mut parser, file, at, chunk, 1).first().copied();
        // Checked where the file order run read the whole file.
        if let Some((_, pts)) = first.filter(|_| in_order.blocks_complete) {
            assert!(
                plain.iter().any(|&(_, p)| p == pts),
                "a seek by cue point {point} handed out a frame at pts {pts} the file has not"
            );
        }
    }
}

/// Drives `parser` over `file` from `start`; returns the (index, pts) of the packets handed
/// out (up to `max_packets`) — the run ends at `End` or the first error.
fn run(
    parser: &mut MkvDemux,
    file: &[u8],
    start: u64,
    chunk: usize,
    max_packets: usize,
) -> Vec<(u64, i64)> {
    let mut indices = Vec::new();
    let mut pos = start;
    let mut window: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut idle = 0u32;
    let limit = file.len().saturating_mul(4).saturating_add(1000);
    for _ in 0..limit {
        let at = usize::try_from(pos).unwrap_or(usize::MAX).min(file.len());
        let eof = at.saturating_add(window.len()) >= file.len();
        let Ok(step) = parser.step(&window, pos, eof, &mut out) else {
            return indices;
        };
        assert!(
            parser.heap_bytes() <= 40 * file.len() + 4096,
            "parser holds {} bytes for a {}-byte input",
            parser.heap_bytes(),
            file.len()
        );
        let before = (pos, window.len());
        match step {
            Step::Consumed(n) => {
                assert!(n <= window.len(), "consumed {n} of {}", window.len());
                window.drain(..n);
                pos += n as u64;
            }
            Step::Packet { consumed, info } => {
                assert!(
                    consumed <= window.len(),
                    "consumed {consumed} of {}",
                    window.len()
                );
                window.drain(..consumed);
                pos += consumed as u64;
                indices.push((info.index, info.pts));
                idle = 0;
                if indices.len() >= max_packets {
                    return indices;
                }
                continue;
            }
            Step::NeedMore(min) => {
                assert!(!eof, "NeedMore({min}) after eof");
                assert!(
                    min > window.len(),
                    "NeedMore({min}) with {} bytes",
                    window.len()
                );
                assert!(
                    min <= parser.max_window(),
                    "NeedMore({min}) past the window bound"
                );
                while window.len() < min && at + window.len() < file.len() {
                    let from = at + window.len();
                    let n = chunk.min(file.len() - from);
                    window.extend_from_slice(&file[from..from + n]);
                }
            }
            Step::SeekTo(to) => {
                if to >= pos && to - pos <= window.len() as u64 {
                    window.drain(..(to - pos) as usize);
                } else {
                    window.clear();
                }
                pos = to;
            }
            Step::End => return indices,
        }
        if (pos, window.len()) == before {
            idle += 1;
            assert!(idle < 3, "no progress at byte {pos} after {step:?}");
        } else {
            idle = 0;
        }
    }
    panic!("more than 4 steps per input byte: the reader spins");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's input handling (`fuzz/fuzz_targets/mkv.rs`): the EBML magic put
    /// first if missing, the first input byte as the mode.
    fn replay(data: &[u8]) {
        let mut streamed = vec![data.first().copied().unwrap_or(0)];
        if !data.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
            streamed.extend_from_slice(&[0x1a, 0x45, 0xdf, 0xa3]);
        }
        streamed.extend_from_slice(data);
        fuzz_streaming(&streamed);
        fuzz_cues_first(&streamed);
        for mode in [0u8, 1, 2, 7, 64, 255] {
            streamed[0] = mode;
            fuzz_streaming(&streamed);
            fuzz_cues_first(&streamed);
        }
    }

    #[test]
    fn the_fuzz_run_passes_on_every_clip_in_every_mode() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/containers");
        for name in ["h264.mkv", "hevc.mkv", "vp8.webm", "vp9.webm", "av1.webm"] {
            replay(&std::fs::read(dir.join(name)).unwrap());
        }
    }

    /// The `mkv_cues_first` target's counterpart: its seeds and regressions, each cut at 16
    /// points and with bytes flipped at 64, in two chunkings.
    #[test]
    fn the_cues_first_run_passes_on_its_seeds_and_their_mutations() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/fuzz-regressions/mkv_cues_first");
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            fuzz_cues_first(&data);
            let len = data.len();
            for i in 1..16 {
                fuzz_cues_first(&data[..len * i / 16]);
            }
            for i in 0..64 {
                let mut mutated = data.clone();
                let at = 1 + (len.saturating_sub(1)) * i / 64;
                if let Some(b) = mutated.get_mut(at) {
                    *b ^= 0x5a;
                }
                mutated[0] = (i as u8).wrapping_mul(37);
                fuzz_cues_first(&mutated);
            }
            replayed += 1;
        }
        assert!(replayed >= 2);
    }

    #[test]
    fn every_fuzz_regression_file_passes_the_streaming_run() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/fuzz-regressions/mkv");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "md") {
                replay(&std::fs::read(&path).unwrap());
            }
        }
    }
}
