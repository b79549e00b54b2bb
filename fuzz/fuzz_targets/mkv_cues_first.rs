//! Fuzz target `mkv_cues_first`: the Matroska reader with `Cues` read first hands out the
//! frames of one in file order, and seeks by its cue points land on frames of the file
//! (`fuzz_mkv_cues_first`, compiled with `--cfg fuzzing`). Replayed by `cargo test`
//! (`mkv::fuzz_hooks` unit tests) from `tests/data/fuzz-regressions/mkv_cues_first/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    nvcodec_input::container::fuzz_mkv_cues_first(data);
});
