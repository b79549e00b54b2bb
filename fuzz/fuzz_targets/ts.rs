//! Fuzz target `ts`: MPEG-TS / M2TS input; see `fuzz/checks.rs` (`check_ts`) for what is checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(checks::Target::Ts, data));
