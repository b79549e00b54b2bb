//! Fuzz target `random_access`: `RandomAccessSource` on every format (IVF, Matroska/WebM,
//! MP4, raw H.264/HEVC): see `check_random_access` in `fuzz/checks.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_random_access(data, false));
