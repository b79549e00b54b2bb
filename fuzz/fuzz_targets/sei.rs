//! Fuzz target `sei`: SEI collection within its bounds and the message accessors
//! (`nvcodec_guard::decode::fuzz_sei`, compiled with `--cfg fuzzing`). Replayed by `cargo
//! test` (`decode::sei_fuzz` unit tests) from `tests/data/fuzz-regressions/sei/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nvcodec_guard::decode::fuzz_sei(data));
