//! Every input the fuzz targets ever crashed on (or seeded by hand), replayed through the
//! same checks the fuzzer runs (`fuzz/checks.rs`): no panic, the same packets whatever the
//! chunking and source, the whole-file splitters' packets for raw streams, and the heap held
//! within its bound. Files live in `tests/data/fuzz-regressions/<target>/`; `scripts/fuzz.sh`
//! adds new ones.

mod common;

#[path = "../../../fuzz/checks.rs"]
mod checks;
#[path = "../../../fuzz/url_checks.rs"]
mod url_checks;

use checks::Target;

#[test]
fn every_kept_fuzz_input_passes_the_fuzz_checks() {
    let root = common::data("fuzz-regressions");
    let mut replayed = 0;
    for (dir, target) in [
        ("annexb", Target::AnnexB),
        ("mpeg2", Target::Mpeg2),
        ("ivf", Target::Ivf),
        ("elementary_stream", Target::Any),
        ("ts", Target::Ts),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&path).unwrap();
            let run = std::panic::catch_unwind(|| checks::check(target, &data));
            assert!(run.is_ok(), "{} fails the {dir} checks", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs under {}", root.display());
}

/// The container targets' share of the checks (`checks::check_output`): the packet bytes of
/// a whole read within the output bound, for every kept MP4 and Matroska input.
#[test]
fn every_kept_container_input_stays_within_the_output_bound() {
    let root = common::data("fuzz-regressions");
    let mut replayed = 0;
    for dir in ["mp4", "mkv"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let mut data = std::fs::read(&path).unwrap();
            if dir == "mkv" && !data.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
                data.splice(0..0, [0x1a, 0x45, 0xdf, 0xa3]);
            }
            let run = std::panic::catch_unwind(|| checks::check_output(&data));
            assert!(run.is_ok(), "{} passes the output bound", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs under {}", root.display());
}

/// The inputs kept for `target` (seeds and crashes), sorted.
fn kept(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = common::data("fuzz-regressions").join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect()
}

/// Deterministic mutations of `data` past its first `keep` bytes (the target's selector
/// bytes, varied separately): cuts at 6 points, bytes flipped at 12, a run of bytes
/// duplicated and one removed.
fn mutations(data: &[u8], keep: usize) -> Vec<Vec<u8>> {
    let len = data.len();
    let body = len.saturating_sub(keep).max(1);
    let mut out = Vec::new();
    for i in 1..6 {
        out.push(data[..keep + body * i / 6].to_vec());
    }
    for i in 0..12 {
        let mut m = data.to_vec();
        if let Some(b) = m.get_mut(keep + body * i / 12 + i) {
            *b ^= [0x01, 0x80, 0xff][i % 3];
        }
        out.push(m);
    }
    if len > keep + 64 {
        let at = keep + body / 3;
        let mut dup = data[..at + 32].to_vec();
        dup.extend_from_slice(&data[at..]);
        out.push(dup);
        let mut cut = data[..at].to_vec();
        cut.extend_from_slice(&data[at + 17..]);
        out.push(cut);
    }
    out
}

/// Runs `check` over every kept input of `target` and its mutations, with the selector
/// bytes (`keep` of them) also varied; names the input that fails.
fn replay_with_mutations(target: &str, keep: usize, check: fn(&[u8])) {
    let inputs = kept(target);
    assert!(!inputs.is_empty(), "no inputs kept for {target}");
    for (path, data) in inputs {
        let mut cases = vec![data.clone()];
        cases.extend(mutations(&data, keep));
        for k in 0..keep.min(data.len()) {
            for v in [1u8, 2, 0xff] {
                let mut m = data.clone();
                m[k] = v;
                cases.push(m);
            }
        }
        for (i, case) in cases.iter().enumerate() {
            let run = std::panic::catch_unwind(|| check(case));
            assert!(
                run.is_ok(),
                "{} (case {i}) fails the {target} checks",
                path.display()
            );
        }
    }
}

#[test]
fn random_access_checks_pass_on_the_kept_inputs_and_mutations() {
    replay_with_mutations("random_access", 2, |d| {
        checks::check_random_access(d, false)
    });
}

#[test]
fn mp4_seek_checks_pass_on_the_kept_inputs_and_mutations() {
    replay_with_mutations("mp4_seek", 2, |d| checks::check_random_access(d, true));
}

#[test]
fn short_reads_checks_pass_on_the_kept_inputs_and_mutations() {
    replay_with_mutations("short_reads", 2, checks::check_short_reads);
}

#[test]
fn truncated_checks_pass_on_the_kept_inputs_and_mutations() {
    replay_with_mutations("truncated", 2, checks::check_truncated);
}

/// Found by `mkv_cues_first`: a Matroska file whose `Cues` element, read in file order, holds
/// a child claiming more bytes than the `Cues` has. Its frames all read; the `Cues` are
/// optional, so they are dropped and random access works (before: the whole pass, and so
/// `sample_index`, ended in "a CuePoint runs past the Cues' end").
#[test]
fn a_broken_cues_element_met_in_file_order_is_dropped_not_an_error() {
    let data = std::fs::read(common::data(
        "fuzz-regressions/mkv_cues_first/crash-96e92a1cd9e626151c7a6da74d8cb569896ecc77",
    ))
    .unwrap();
    let file = &data[1..];
    let (packets, error) = checks::whole_pass(nvcodec_input::ElementaryStream::from_bytes(
        file.to_vec(),
        nvcodec_input::FormatHint::Unknown,
    ));
    assert!(error.is_none(), "{error:?}");
    let mut stream = nvcodec_input::ElementaryStream::from_bytes(
        file.to_vec(),
        nvcodec_input::FormatHint::Unknown,
    )
    .unwrap();
    let index = nvcodec_input::RandomAccessSource::sample_index(&mut stream).unwrap();
    assert_eq!(index.len(), packets.len());
}

/// The `source_url` target's inputs (seeds and crashes) through its checks
/// (`fuzz/url_checks.rs`), plus every one-byte deletion of each, so the replay also reaches
/// the parser's error paths.
#[test]
fn every_kept_source_url_input_passes_the_url_checks() {
    let dir = common::data("fuzz-regressions").join("source_url");
    let mut replayed = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        let data = std::fs::read(&path).unwrap();
        for cut in 0..=data.len() {
            let mut variant = data.clone();
            if cut < data.len() {
                variant.remove(cut);
            }
            url_checks::check_source_url(&variant);
        }
        replayed += 1;
    }
    assert!(replayed >= 5, "{replayed} inputs under {}", dir.display());
}
