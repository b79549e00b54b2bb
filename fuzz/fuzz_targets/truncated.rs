//! Fuzz target `truncated`: an input cut at a point the input picks gives random access over
//! its complete samples, the loss reported: see `check_truncated` in `fuzz/checks.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_truncated(data));
