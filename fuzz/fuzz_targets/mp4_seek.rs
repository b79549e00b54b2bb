//! Fuzz target `mp4_seek`: MP4 `seek_to_sample` in any order, revisiting fragments, from
//! memory and from a reader with short reads: see `check_random_access` in `fuzz/checks.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_random_access(data, true));
