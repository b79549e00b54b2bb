//! Every input the fuzz targets ever crashed on (or seeded by hand), replayed through the
//! same checks the fuzzer runs (`fuzz/checks.rs`): no panic, the same packets whatever the
//! chunking and source, the whole-file splitters' packets for raw streams, and the heap held
//! within its bound. Files live in `tests/data/fuzz-regressions/<target>/`; `scripts/fuzz.sh`
//! adds new ones.

mod common;

#[path = "../../../fuzz/checks.rs"]
mod checks;

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
